//! Structured generators: mostly valid inputs built from the pieces of Amelie's dialect
//! (statements, expressions, JSON values, import bodies, HTTP requests). Every generator takes
//! `max_depth`, the deepest nesting it may produce.

use crate::rng::Rng;

/// Tokens inserted by the mutator (and used by the generators).
pub const SQL_DICT: &[&str] = &[
    "select",
    "from",
    "where",
    "insert",
    "into",
    "values",
    "update",
    "set",
    "delete",
    "create",
    "table",
    "shared",
    "drop",
    "if",
    "exists",
    "not",
    "primary",
    "key",
    "index",
    "on",
    "with",
    "as",
    "group",
    "by",
    "order",
    "limit",
    "offset",
    "having",
    "distinct",
    "union",
    "and",
    "or",
    "in",
    "between",
    "like",
    "is",
    "null",
    "true",
    "false",
    "case",
    "when",
    "then",
    "else",
    "end",
    "join",
    "left",
    "inner",
    "using",
    "returning",
    "generate",
    "conflict",
    "do",
    "nothing",
    "explain",
    "begin",
    "commit",
    "schema",
    "serial",
    "default",
    "random",
    "stored",
    "resolved",
    "unique",
    "at",
    "time",
    "zone",
    "interval",
    "timestamp",
    "vector",
    "int",
    "text",
    "json",
    "double",
    "bool",
    "*",
    ",",
    ";",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ".",
    "::",
    ":",
    "=",
    "<>",
    "!=",
    ">=",
    "<=",
    "||",
    "->",
    "#",
    "@",
    "$1",
    "'",
    "\"",
    "'a'",
    "\"a\"",
    "1",
    "-1",
    "1.5",
    "t",
    "s",
    "id",
    "a",
    "b",
    "j",
    "j.a",
    "j.a.b",
    "t.*",
    "'{\"a\": 1}'",
    "'1 day'",
    "'2024-01-01 00:00:00'",
];

const TABLES: &[&str] = &["t", "s", "u", "public.t", "nope"];
const COLUMNS: &[&str] = &[
    "id", "a", "b", "j", "ts", "t.id", "t.a", "s.g", "name", "x", "*",
];
const FUNCS: &[&str] = &[
    "count",
    "sum",
    "min",
    "max",
    "avg",
    "abs",
    "floor",
    "ceil",
    "sqrt",
    "pow",
    "mod",
    "length",
    "substr",
    "replace",
    "concat",
    "trim",
    "ltrim",
    "rtrim",
    "upper",
    "lower",
    "strpos",
    "coalesce",
    "nullif",
    "greatest",
    "least",
    "json",
    "string",
    "int",
    "double",
    "bool",
    "timestamp",
    "interval",
    "vector",
    "set",
    "unset",
    "has",
    "append",
    "push",
    "pop",
    "put",
    "remove",
    "date_trunc",
    "date_bin",
    "interval_trunc",
    "extract",
    "now",
    "random",
    "random_uuid",
    "regexp_like",
    "regexp_substr",
    "regexp_replace",
    "regexp_match",
    "encode",
    "decode",
    "cos_distance",
    "jwt",
    "error",
    "like",
    "serial",
    "generate_series",
    "fmod",
    "exp",
    "ln",
    "log",
    "trunc",
    "type",
    "md5",
    "sha1",
    "json_import",
];
const BINOPS: &[&str] = &[
    "+", "-", "*", "/", "%", "||", "=", "<>", "!=", "<", ">", "<=", ">=", "and", "or", "like",
    "<<", ">>", "&", "|", "^", "->", "::", "is",
];
const TYPES: &[&str] = &[
    "int",
    "integer",
    "bigint",
    "i8",
    "i16",
    "i32",
    "i64",
    "text",
    "string",
    "json",
    "double",
    "float",
    "real",
    "bool",
    "boolean",
    "timestamp",
    "interval",
    "vector",
    "serial",
    "date",
];

pub fn ident(rng: &mut Rng) -> String {
    match rng.below(8) {
        0 => format!(
            "\"{}\"",
            (0..rng.size(6))
                .map(|_| (b'a' + rng.below(26) as u8) as char)
                .collect::<String>()
        ),
        1 => format!("c{}", rng.below(100)),
        _ => rng.pick(COLUMNS).to_string(),
    }
}

pub fn literal(rng: &mut Rng, depth: usize) -> String {
    match rng.below(14) {
        0 => "null".into(),
        1 => rng.pick(&["true", "false"]).to_string(),
        2 => (rng.next_u64() as i64 >> rng.below(64)).to_string(),
        3 => format!(
            "{}",
            (rng.next_u64() as i64 as f64) / (1 + rng.below(1000)) as f64
        ),
        4 => format!("'{}'", string_text(rng).replace('\'', "''")),
        5 => format!(
            "'{}'",
            rng.pick(&["1 day", "2 hours 3 minutes", "1 year 2 months", "-5 us"])
        ),
        6 => format!(
            "'{}-{:02}-{:02} {:02}:{:02}:{:02}'",
            1900 + rng.below(300),
            rng.below(14),
            rng.below(33),
            rng.below(25),
            rng.below(61),
            rng.below(61)
        ),
        7 | 8 => {
            let d = depth.min(rng.size(8));
            json_text(rng, d)
        }
        9 => format!(
            "[{}]",
            (0..rng.size(5))
                .map(|_| format!("{}.{}", rng.below(10), rng.below(10)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        10 => rng.pick(EDGE).to_string(),
        _ => rng.below(100).to_string(),
    }
}

const EDGE: &[&str] = &[
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "1e308",
    "1e400",
    "0.0",
    "-0.0",
    "2147483648",
    "''",
    "'\\'",
    "'\\u0000'",
];

fn string_text(rng: &mut Rng) -> String {
    let pieces = [
        "a", "é", "💥", "\\n", "\\\"", "%", "_", " ", "x", "{", "'", "\\u00e9", "日本",
    ];
    (0..rng.size(10)).map(|_| *rng.pick(&pieces)).collect()
}

/// A JSON value as text (both quote styles), at most `depth` levels deep.
pub fn json_text(rng: &mut Rng, depth: usize) -> String {
    let mut out = String::new();
    json_into(rng, depth, &mut out);
    out
}

fn json_into(rng: &mut Rng, depth: usize, out: &mut String) {
    let nest = depth > 0 && rng.below(3) == 0;
    if nest {
        let n = rng.size(6);
        if rng.one_in(2) {
            out.push('[');
            for i in 0..n {
                if i > 0 {
                    out.push_str(", ");
                }
                json_into(rng, depth - 1, out);
            }
            out.push(']');
        } else {
            out.push('{');
            for i in 0..n {
                if i > 0 {
                    out.push(',');
                }
                let q = if rng.one_in(4) { '\'' } else { '"' };
                out.push(q);
                out.push_str(rng.pick::<&str>(&["a", "b", "", "key", "a.b", "é", "\\u0041"]));
                out.push(q);
                out.push_str(": ");
                json_into(rng, depth - 1, out);
            }
            out.push('}');
        }
        return;
    }
    match rng.below(9) {
        0 => out.push_str("null"),
        1 => out.push_str(rng.pick::<&str>(&["true", "false"])),
        2 => out.push_str(&(rng.next_u64() as i64 >> rng.below(64)).to_string()),
        3 => out.push_str(&format!("{:e}", f64::from_bits(rng.next_u64() >> 2))),
        4 => out.push_str(rng.pick::<&str>(&[
            "1.5",
            "-0.0",
            "1e308",
            "1E-300",
            "123456789012345678901234567890",
            "0.1",
            "-1",
        ])),
        5 => out.push_str(&format!("\"{}\"", string_text(rng).replace('"', "\\\""))),
        6 => out.push_str(&format!("'{}'", string_text(rng).replace('\'', ""))),
        7 => out.push_str("[]"),
        _ => out.push_str("{}"),
    }
}

/// An expression at most `depth` levels deep.
pub fn expr(rng: &mut Rng, depth: usize) -> String {
    if depth == 0 {
        return leaf(rng, 0);
    }
    let d = depth - 1;
    match rng.below(16) {
        0..=3 => leaf(rng, d),
        4 | 5 => format!("{} {} {}", expr(rng, d), rng.pick(BINOPS), expr(rng, d)),
        6 => format!("{}({})", rng.pick(&["-", "not ", "~", ""]), expr(rng, d)),
        7 | 8 => {
            let f = rng.pick(FUNCS);
            let args: Vec<String> = (0..rng.size(4)).map(|_| expr(rng, d)).collect();
            format!("{f}({})", args.join(", "))
        }
        9 => format!(
            "case {} when {} then {} else {} end",
            expr(rng, d),
            expr(rng, d),
            expr(rng, d),
            expr(rng, d)
        ),
        10 => format!(
            "{} in ({})",
            expr(rng, d),
            (0..1 + rng.size(5))
                .map(|_| expr(rng, d))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        11 => format!(
            "{} between {} and {}",
            expr(rng, d),
            expr(rng, d),
            expr(rng, d)
        ),
        12 => format!("{}::{}", expr(rng, d), rng.pick(TYPES)),
        13 => format!("({})", select(rng, d)),
        14 => {
            // paths into json values
            let parts: Vec<&str> = (0..1 + rng.size(depth))
                .map(|_| *rng.pick(&["a", "b", "0", "x"]))
                .collect();
            format!(
                "{}.{}",
                rng.pick(&["j", "t.j", "{\"a\": 1}", "[1,2]"]),
                parts.join(".")
            )
        }
        _ => format!("{}[{}]", expr(rng, d), expr(rng, d)),
    }
}

fn leaf(rng: &mut Rng, depth: usize) -> String {
    match rng.below(4) {
        0 => ident(rng),
        1 => format!("${}", rng.below(4)),
        _ => literal(rng, depth),
    }
}

pub fn select(rng: &mut Rng, depth: usize) -> String {
    let mut s = String::from("select ");
    if rng.one_in(6) {
        s.push_str("distinct ");
    }
    let n = 1 + rng.size(4);
    let cols: Vec<String> = (0..n)
        .map(|_| {
            let e = expr(rng, depth);
            if rng.one_in(4) {
                format!("{e} as {}", ident(rng))
            } else {
                e
            }
        })
        .collect();
    s.push_str(&cols.join(", "));
    if rng.below(4) > 0 {
        s.push_str(" from ");
        s.push_str(&from_item(rng, depth));
        if rng.one_in(3) {
            s.push_str(&format!(
                " {}join {} on {}",
                rng.pick(&["", "left ", "inner "]),
                from_item(rng, depth.saturating_sub(1)),
                expr(rng, depth)
            ));
        }
    }
    if rng.one_in(2) {
        s.push_str(&format!(" where {}", expr(rng, depth)));
    }
    if rng.one_in(4) {
        s.push_str(&format!(" group by {}", expr(rng, depth.min(2))));
        if rng.one_in(2) {
            s.push_str(&format!(" having {}", expr(rng, depth)));
        }
    }
    if rng.one_in(4) {
        s.push_str(&format!(
            " order by {} {}",
            expr(rng, depth.min(2)),
            rng.pick(&["", "asc", "desc"])
        ));
    }
    if rng.one_in(4) {
        s.push_str(&format!(
            " limit {}",
            rng.pick(&["1", "0", "-1", "100", "9223372036854775807"])
        ));
        if rng.one_in(2) {
            s.push_str(&format!(" offset {}", rng.below(10)));
        }
    }
    if depth > 0 && rng.one_in(10) {
        s.push_str(" union ");
        s.push_str(&select(rng, depth - 1));
    }
    s
}

fn from_item(rng: &mut Rng, depth: usize) -> String {
    match rng.below(6) {
        0 if depth > 0 => format!("({}) {}", select(rng, depth - 1), ident(rng)),
        1 => format!("{} {}", rng.pick(TABLES), rng.pick(&["x", "as y", ""])),
        2 => format!("generate_series({}, {})", rng.below(10), rng.below(100)),
        _ => rng.pick(TABLES).to_string(),
    }
}

fn column_def(rng: &mut Rng, depth: usize) -> String {
    let mut s = format!("{} {}", ident(rng), rng.pick(TYPES));
    for _ in 0..rng.size(3) {
        match rng.below(7) {
            0 => s.push_str(" primary key"),
            1 => s.push_str(" not null"),
            2 => s.push_str(&format!(" default {}", literal(rng, depth))),
            3 => s.push_str(" serial"),
            4 => s.push_str(" random (100)"),
            5 => s.push_str(&format!(" as ({}) stored", expr(rng, depth))),
            _ => s.push_str(&format!(" as ({}) resolved", expr(rng, depth))),
        }
    }
    s
}

/// One statement.
pub fn statement(rng: &mut Rng, depth: usize) -> String {
    let d = depth;
    match rng.below(14) {
        0..=4 => select(rng, d),
        5 | 6 => {
            let rows: Vec<String> = (0..1 + rng.size(4))
                .map(|_| {
                    format!(
                        "({})",
                        (0..1 + rng.size(5))
                            .map(|_| expr(rng, d.min(3)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })
                .collect();
            let mut s = format!("insert into {} ", rng.pick(TABLES));
            if rng.one_in(3) {
                s.push_str(&format!(
                    "({}) ",
                    (0..1 + rng.size(4))
                        .map(|_| ident(rng))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            match rng.below(4) {
                0 => s.push_str(&format!(
                    "generate {}",
                    rng.pick(&["1", "10", "0", "-1", "1000"])
                )),
                1 => s.push_str(&select(rng, d.saturating_sub(1))),
                _ => s.push_str(&format!("values {}", rows.join(", "))),
            }
            if rng.one_in(3) {
                s.push_str(&format!(
                    " on conflict do {}",
                    if rng.one_in(2) {
                        "nothing".to_string()
                    } else {
                        format!("update set {} = {}", ident(rng), expr(rng, d))
                    }
                ));
            }
            if rng.one_in(4) {
                s.push_str(&format!(" returning {}", expr(rng, d)));
            }
            s
        }
        7 => {
            let target = if rng.one_in(3) {
                format!(
                    "j.{}",
                    (0..1 + rng.size(d))
                        .map(|_| "a")
                        .collect::<Vec<_>>()
                        .join(".")
                )
            } else {
                ident(rng)
            };
            format!(
                "update {} set {} = {} where {}",
                rng.pick(TABLES),
                target,
                expr(rng, d),
                expr(rng, d)
            )
        }
        8 => format!("delete from {} where {}", rng.pick(TABLES), expr(rng, d)),
        9 => {
            let cols: Vec<String> = (0..1 + rng.size(5))
                .map(|_| column_def(rng, d.min(3)))
                .collect();
            format!(
                "create {}table {}{} ({}{})",
                rng.pick(&["", "shared ", "unlogged "]),
                rng.pick(&["", "if not exists "]),
                rng.pick(TABLES),
                cols.join(", "),
                if rng.one_in(2) {
                    format!(", primary key ({})", ident(rng))
                } else {
                    String::new()
                }
            )
        }
        10 => format!(
            "{} {}",
            rng.pick(&[
                "drop table",
                "drop table if exists",
                "truncate",
                "drop index",
                "create index i on t",
                "alter table t rename to",
                "alter table t add column",
                "drop schema",
                "create schema"
            ]),
            ident(rng)
        ),
        11 => format!(
            "with {} as ({}) {}",
            ident(rng),
            select(rng, d.saturating_sub(1)),
            select(rng, d.saturating_sub(1))
        ),
        12 => format!("explain {}", select(rng, d)),
        _ => format!(
            "show {}",
            rng.pick(&["all", "tables", "schemas", "status", "wal", "config", "nodes", "x"])
        ),
    }
}

/// A statement nesting one construct `n` levels deep: brackets, unary operators, JSON
/// values, dotted names and JSON path strings.
pub fn deep_statement(rng: &mut Rng, n: usize) -> String {
    let rep = |s: &str| s.repeat(n);
    match rng.below(8) {
        0 => format!("select {}1{}", rep("("), rep(")")),
        1 => format!("select {}1", rep("- ")),
        2 => format!("select {}1{}", rep("["), rep("]")),
        3 => format!("select {}1{}", rep("{\"a\": "), rep("}")),
        4 => format!("select {{\"a\": 1}}{}", rep(".a")),
        5 => format!("update t set j{} = 1", rep(".a")),
        6 => format!("select set({{}}, '{}', 1)", vec!["a"; n.max(1)].join(".")),
        _ => format!("select {}1{}", rep("not ("), rep(")")),
    }
}

/// A request: one or more statements, sometimes in BEGIN/COMMIT; one in 20 is a statement
/// nested up to `max_depth` levels.
pub fn sql_request(rng: &mut Rng, max_depth: usize) -> String {
    if rng.one_in(20) {
        let n = rng.below(max_depth + 1);
        return deep_statement(rng, n);
    }
    let depth = rng.size(max_depth.min(12)).min(max_depth);
    let n = 1 + rng.size(3);
    let stmts: Vec<String> = (0..n).map(|_| statement(rng, depth)).collect();
    let mut s = stmts.join("; ");
    if rng.one_in(6) {
        s = format!("begin; {s}; commit");
    }
    if rng.one_in(8) {
        s.push(';');
    }
    s
}

/// An import body for `format` (`csv`, `json` or `jsonl`) of rows of up to `cols` values.
pub fn import_body(rng: &mut Rng, format: &str, cols: usize, max_depth: usize) -> String {
    let rows = rng.size(8);
    let value = |rng: &mut Rng| -> String {
        match rng.below(6) {
            0 => {
                let d = rng.size(max_depth.min(6)).min(max_depth);
                json_text(rng, d)
            }
            _ => literal(rng, max_depth.min(3)),
        }
    };
    let mut out = String::new();
    for r in 0..rows {
        let n = if rng.one_in(5) {
            rng.size(cols + 2)
        } else {
            cols
        };
        match format {
            "csv" => {
                if r > 0 {
                    out.push('\n');
                }
                out.push_str(&(0..n).map(|_| value(rng)).collect::<Vec<_>>().join(", "));
            }
            _ => {
                if format == "json" {
                    out.push_str(if r == 0 { "[" } else { ", " });
                } else if r > 0 {
                    out.push('\n');
                }
                if rng.one_in(2) {
                    out.push_str(&format!(
                        "[{}]",
                        (0..n).map(|_| value(rng)).collect::<Vec<_>>().join(", ")
                    ));
                } else {
                    let names = ["id", "a", "b", "j", "ts", "x"];
                    let m: Vec<String> = (0..n)
                        .map(|_| format!("\"{}\": {}", rng.pick(&names), value(rng)))
                        .collect();
                    out.push_str(&format!("{{{}}}", m.join(", ")));
                }
            }
        }
    }
    if format == "json" && rows > 0 {
        out.push(']');
    }
    out
}

/// A request line, headers and body; `length` false leaves `Content-Length` out.
pub fn http_wrap(
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
    length: bool,
) -> Vec<u8> {
    let mut out = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n").into_bytes();
    if !content_type.is_empty() {
        out.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
    }
    if length {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// An HTTP/1.1 request for the server: SQL or import bodies under assorted request lines,
/// headers, framings (length, chunked, none, wrong) and pipelining.
pub fn http_request(rng: &mut Rng, max_depth: usize) -> Vec<u8> {
    let import = rng.one_in(3);
    let (ct, body) = if import {
        let f = *rng.pick(&["csv", "json", "jsonl"]);
        let ct = match f {
            "csv" => "text/csv",
            "json" => "application/json",
            _ => "application/jsonl",
        };
        let cols = 1 + rng.below(5);
        (ct, import_body(rng, f, cols, max_depth))
    } else {
        let ct = *rng.pick(&[
            "text/plain",
            "application/sql",
            "text/plain; charset=utf-8",
            "text/csv",
            "",
            "application/x",
            "TEXT/PLAIN",
        ]);
        (ct, sql_request(rng, max_depth))
    };
    let path = if import {
        rng.pick(&[
            "/public/t",
            "/public/t?columns=id,j",
            "/public/t?columns=",
            "/public/t?columns=id,id",
            "/public/s?columns=g",
            "/public/u",
            "/x/y",
            "/public/t/extra",
            "/public/t?x=1",
            "http://h/public/t",
            "/public/%74",
            "/public/t?columns=id,a,b,j,ts",
        ])
    } else {
        rng.pick(&["/", "/", "/", "/x", "*", "/?a=b", "//"])
    };
    let method = *rng.pick(&[
        "POST", "POST", "POST", "GET", "PUT", "post", "HEAD", "OPTIONS", "BREW",
    ]);
    let mut out = format!(
        "{method} {path} {}\r\nHost: 127.0.0.1\r\n",
        rng.pick(&["HTTP/1.1", "HTTP/1.1", "HTTP/1.0", "HTTP/2", "HTTP/1.1 x"])
    )
    .into_bytes();
    if !ct.is_empty() {
        out.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
    }
    if rng.one_in(6) {
        out.extend_from_slice(rng.pick::<&[u8]>(&[
            &b"Authorization: Bearer x.y.z\r\n"[..],
            b"Authorization: Basic abc\r\n",
            b"Connection: close\r\n",
            b"Expect: 100-continue\r\n",
            b"X-Junk: \xff\xfe\r\n",
            b"Content-Length: 5\r\n",
            b"Transfer-Encoding: gzip\r\n",
        ]));
    }
    let chunked = rng.one_in(6);
    if chunked {
        out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
        let bytes = body.as_bytes();
        let mut at = 0;
        while at < bytes.len() {
            let n = (1 + rng.size(64)).min(bytes.len() - at);
            out.extend_from_slice(format!("{n:x}\r\n").as_bytes());
            out.extend_from_slice(&bytes[at..at + n]);
            out.extend_from_slice(b"\r\n");
            at += n;
        }
        out.extend_from_slice(b"0\r\n\r\n");
    } else {
        let len = match rng.below(10) {
            0 => None,
            1 => Some(body.len() + rng.below(10)),
            2 => Some(body.len().saturating_sub(rng.below(10))),
            _ => Some(body.len()),
        };
        if let Some(n) = len {
            out.extend_from_slice(format!("Content-Length: {n}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body.as_bytes());
    }
    if rng.one_in(5) {
        // pipelined second request on the same connection
        let sql = sql_request(rng, max_depth.min(4));
        out.extend(http_wrap("POST", "/", "text/plain", sql.as_bytes(), true));
    }
    out
}

/// The seed of the `wal` target: a real repository made by an in-process server (tables,
/// rows with nested JSON, a checkpoint, then more WAL records after it), as an archive of
/// its WAL and checkpoint files (see [`crate::targets::decode_files`]).
pub fn seed_repo(opts: &crate::Opts) -> Vec<u8> {
    use crate::server;
    use std::time::Duration;
    let dir = server::temp_dir("walseed");
    let s = server::start(&dir);
    let nested = |d: usize| format!("{}1{}", "[".repeat(d), "]".repeat(d));
    let deep = opts.max_depth.min(100);
    let mut stmts: Vec<String> = server::SETUP.iter().map(|s| s.to_string()).collect();
    stmts.extend([
        "insert into t values (1, 2, 'x', {\"a\": [1, {\"b\": 2.5}], \"c\": null}, '2024-01-01 00:00:00')".to_string(),
        format!("insert into t values (2, -1, 'é', {}, null)", nested(deep)),
        "insert into t (id) generate 20".to_string(),
        "insert into s values (1, 'a'), (2, 'b')".to_string(),
        "insert into u values (1, [1.0, 2.5])".to_string(),
        "checkpoint".to_string(),
        "insert into t values (3, 3, 'y', [true, false], '2000-02-29 12:00:00')".to_string(),
        "update t set j.a = 5, b = 'z' where id = 1".to_string(),
        "delete from t where id = 2".to_string(),
        "create table t2 (id int primary key, k text)".to_string(),
        "insert into t2 values (1, 'k')".to_string(),
        format!("insert into t values (4, 4, 'w', {}, null)", nested(deep / 2)),
        "drop table t2".to_string(),
    ]);
    for q in &stmts {
        let _ = server::sql(s.port, q, Duration::from_secs(30));
    }
    let mut files = Vec::new();
    let mut dirs = vec![String::new()];
    while let Some(rel) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(dir.join(&rel)) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            if e.path().is_dir() {
                if rel.is_empty() && (name == "wal" || name.bytes().all(|b| b.is_ascii_digit())) {
                    dirs.push(path);
                }
            } else if !rel.is_empty() {
                if let Ok(bytes) = std::fs::read(e.path()) {
                    files.push((path, bytes));
                }
            }
        }
    }
    files.sort();
    s.stop();
    crate::targets::encode_files(&files)
}

/// Mutates one file of a `wal` archive, then (usually) repairs checksums and lengths so the
/// damage reaches the decoders behind them.
pub fn mutate_repo(rng: &mut Rng, input: &[u8], other: &[u8], opts: &crate::Opts) -> Vec<u8> {
    use crate::targets::{decode_files, encode_files};
    let mut files = decode_files(input);
    if files.is_empty() {
        return crate::mutate::mutate(rng, input, other, &[], opts.max_depth, opts.max_len);
    }
    let others = decode_files(other);
    for _ in 0..1 + rng.size(2) {
        let i = rng.below(files.len());
        match rng.below(12) {
            0 if files.len() > 1 => {
                files.remove(i);
                continue;
            }
            1 => {
                // a truncated or empty file
                let n = rng.below(files[i].1.len() + 1);
                files[i].1.truncate(n);
            }
            _ => {
                let same = others
                    .iter()
                    .find(|(n, _)| *n == files[i].0)
                    .map(|(_, d)| d.as_slice())
                    .unwrap_or_default();
                let body_at = if files[i].0.ends_with(".wal") { 12 } else { 24 };
                let data = &files[i].1;
                if data.len() > body_at && !rng.one_in(6) {
                    let (head, body) = data.split_at(body_at);
                    let mut d = head.to_vec();
                    d.extend(crate::mutate::mutate(
                        rng,
                        body,
                        same.get(body_at..).unwrap_or_default(),
                        &[],
                        opts.max_depth,
                        opts.max_len,
                    ));
                    files[i].1 = d;
                } else {
                    files[i].1 =
                        crate::mutate::mutate(rng, data, same, &[], opts.max_depth, opts.max_len);
                }
            }
        }
        if !rng.one_in(4) {
            let (name, data) = &mut files[i];
            repair(name, data);
        }
    }
    let mut out = encode_files(&files);
    out.truncate(opts.max_len.max(input.len()));
    out
}

/// Recomputes the record checksums of a WAL file image, or the length and checksum in the
/// header of a snapshot file.
pub fn repair(name: &str, data: &mut [u8]) {
    if name.ends_with(".wal") {
        let mut at = 12;
        while at + 20 <= data.len() {
            let size =
                u32::from_le_bytes(data[at + 8..at + 12].try_into().unwrap_or([0; 4])) as usize;
            let end = at + 20 + size;
            if end > data.len() {
                break;
            }
            let mut h = crc32fast::Hasher::new();
            h.update(&data[at..at + 16]);
            h.update(&data[at + 20..end]);
            data[at + 16..at + 20].copy_from_slice(&h.finalize().to_le_bytes());
            at = end;
        }
    } else if data.len() >= 24 {
        let body_len = (data.len() - 24) as u64;
        data[12..20].copy_from_slice(&body_len.to_le_bytes());
        let crc = crc32fast::hash(&data[24..]);
        data[20..24].copy_from_slice(&crc.to_le_bytes());
    }
}
