//! Text output: value → JSON text and result-set encoding (spec §1.4), on the scalar
//! writers of [`crate::text`] (C `%g` doubles, escaped strings). Everything writes into a
//! caller-supplied `String` without temporary allocations.

pub use crate::text::{fmt_double, write_escaped_str, write_int};
use crate::time::{format_interval, format_timestamp, Tz};
use crate::value::Value;
use crate::Result;

/// Appends a value as JSON text (spec §1.4 value serialization). `pretty`/`depth` only
/// affect json values (objects are broken over lines in pretty mode); timestamps are printed
/// in the zone `tz`.
pub fn write_value(v: &Value, out: &mut String, pretty: bool, depth: usize, tz: Tz) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => write_int(*i, out),
        Value::Double(d) => fmt_double(*d, out),
        Value::Str(s) => write_escaped_str(s, out),
        Value::Json(j) => {
            if pretty {
                j.write_pretty(out, depth)
            } else {
                j.write_compact(out)
            }
        }
        Value::Timestamp(ts) => {
            out.push('"');
            format_timestamp(*ts, tz, out);
            out.push('"');
        }
        Value::Interval(iv) => {
            out.push('"');
            format_interval(iv, out);
            out.push('"');
        }
        Value::Vector(v) => write_vector(v, out),
    }
}

/// Appends a vector as `[1, 1.1, 1.2]` (each float32 element printed with `%g`).
pub fn write_vector(v: &[f32], out: &mut String) {
    out.push('[');
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        fmt_double(*x as f64, out);
    }
    out.push(']');
}

/// A result format (`json[-array|-obj|-pretty...]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Format {
    /// Rows are `{"col": value}` objects instead of bare values / arrays.
    pub obj: bool,
    /// JSON objects are broken over lines.
    pub pretty: bool,
}

impl Default for Format {
    /// The default format is `json-pretty`.
    fn default() -> Self {
        Format {
            obj: false,
            pretty: true,
        }
    }
}

impl Format {
    /// Parses `json[-modifier...]`; modifiers `array`, `obj`, `pretty` in any order,
    /// case-insensitive.
    pub fn parse(spec: &str) -> Result<Format> {
        let mut parts = spec.split('-');
        let ty = parts.next().unwrap_or("");
        if !ty.eq_ignore_ascii_case("json") {
            crate::bail!(Syntax, "unrecognized format type '{}'", ty);
        }
        let mut fmt = Format {
            obj: false,
            pretty: false,
        };
        for flag in parts {
            if flag.eq_ignore_ascii_case("array") {
                // the default row shape: accepted, changes nothing
            } else if flag.eq_ignore_ascii_case("obj") {
                fmt.obj = true;
            } else if flag.eq_ignore_ascii_case("pretty") {
                fmt.pretty = true;
            } else {
                crate::bail!(Syntax, "unrecognized format flag '{}'", flag);
            }
        }
        Ok(fmt)
    }
}

/// Appends one row as an object `{"col": v, ...}` (pretty: one member per line, 2-space
/// indent, json values starting at depth 1).
fn write_row_obj<'a, I>(members: I, pretty: bool, tz: Tz, out: &mut String)
where
    I: IntoIterator<Item = (&'a str, &'a Value)>,
{
    let mut members = members.into_iter().peekable();
    if members.peek().is_none() {
        out.push_str("{}");
        return;
    }
    out.push('{');
    if pretty {
        out.push('\n');
    }
    for (i, (name, v)) in members.enumerate() {
        if i > 0 {
            out.push_str(if pretty { ",\n" } else { ", " });
        }
        if pretty {
            out.push_str("  ");
        }
        write_escaped_str(name, out);
        out.push_str(": ");
        write_value(v, out, pretty, 1, tz);
    }
    if pretty {
        out.push('\n');
    }
    out.push('}');
}

/// Encodes a row set (spec §1.4): a top-level array; 1-column rows are bare values,
/// wider rows arrays, and with `fmt.obj` every row is a `{"col": value}` object.
pub fn encode_rows<R: AsRef<[Value]>>(
    columns: &[String],
    rows: &[R],
    fmt: Format,
    tz: Tz,
    out: &mut String,
) {
    encode_rows_capped(columns, rows, fmt, tz, usize::MAX, out);
}

/// [`encode_rows`] that stops once `out` holds `cap` bytes or more, returning false (`out`
/// is then not a whole result): a reply past `limit_send` is not built in full first.
pub fn encode_rows_capped<R: AsRef<[Value]>>(
    columns: &[String],
    rows: &[R],
    fmt: Format,
    tz: Tz,
    cap: usize,
    out: &mut String,
) -> bool {
    out.push('[');
    for (i, row) in rows.iter().enumerate() {
        if out.len() >= cap {
            return false;
        }
        let row = row.as_ref();
        if i > 0 {
            out.push_str(", ");
        }
        if fmt.obj {
            let members = columns.iter().map(String::as_str).zip(row.iter());
            write_row_obj(members, fmt.pretty, tz, out);
        } else if row.len() == 1 {
            write_value(&row[0], out, fmt.pretty, 0, tz);
        } else {
            out.push('[');
            for (k, v) in row.iter().enumerate() {
                if k > 0 {
                    out.push_str(", ");
                }
                write_value(v, out, fmt.pretty, 0, tz);
            }
            out.push(']');
        }
    }
    out.push(']');
    out.len() < cap
}

/// Encodes a single-value result (SHOW, EXPLAIN, CREATE TOKEN, system utilities) named
/// `name`: without `obj` a json array is emitted as is and anything else is wrapped in
/// `[...]`; with `obj` the result is `[{"name": v}]`, except that an array-valued result
/// is `{"name": [...]}` without the outer array.
pub fn encode_single(name: &str, value: &Value, fmt: Format, tz: Tz, out: &mut String) {
    let is_array = matches!(value, Value::Json(j) if matches!(**j, crate::Json::Array(_)));
    if fmt.obj {
        let member = std::iter::once((name, value));
        if is_array {
            write_row_obj(member, fmt.pretty, tz, out);
        } else {
            out.push('[');
            write_row_obj(member, fmt.pretty, tz, out);
            out.push(']');
        }
    } else if is_array {
        write_value(value, out, fmt.pretty, 0, tz);
    } else {
        out.push('[');
        write_value(value, out, fmt.pretty, 0, tz);
        out.push(']');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Interval, Json};

    fn val(v: &Value, pretty: bool, tz: i32) -> String {
        let mut s = String::new();
        write_value(v, &mut s, pretty, 0, Tz::Fixed(tz));
        s
    }

    #[test]
    fn values() {
        assert_eq!(val(&Value::Null, false, 0), "null");
        assert_eq!(val(&Value::Bool(true), false, 0), "true");
        assert_eq!(val(&Value::Int(-5), false, 0), "-5");
        assert_eq!(val(&Value::Double(1e8), false, 0), "1e+08");
        assert_eq!(val(&Value::str("x\"y"), false, 0), "\"x\\\"y\"");
        assert_eq!(
            val(&Value::Timestamp(0), false, 0),
            "\"1970-01-01 00:00:00+00\""
        );
        assert_eq!(
            val(&Value::Timestamp(1_722_278_419_000_000), false, 3 * 3600),
            "\"2024-07-29 21:40:19+03\""
        );
        let iv = Interval {
            months: 0,
            days: 1,
            us: 3_600_000_000,
        };
        assert_eq!(val(&Value::Interval(iv), false, 0), "\"1 day 1 hour\"");
        let v = Value::Vector(vec![1.0f32, 1.1, 1.2].into_boxed_slice());
        assert_eq!(val(&v, false, 0), "[1, 1.1, 1.2]");
        assert_eq!(val(&Value::Vector(Box::new([])), false, 0), "[]");
        let j = Value::Json(Box::new(Json::parse(r#"{"id": 48}"#).unwrap()));
        assert_eq!(val(&j, false, 0), r#"{"id": 48}"#);
        assert_eq!(val(&j, true, 0), "{\n  \"id\": 48\n}");
    }

    #[test]
    fn format_parse() {
        assert_eq!(Format::default(), Format::parse("json-pretty").unwrap());
        let f = Format::parse("json").unwrap();
        assert!(!f.obj && !f.pretty);
        let f = Format::parse("JSON-Obj-PRETTY").unwrap();
        assert!(f.obj && f.pretty);
        assert_eq!(Format::parse("json-pretty-obj").unwrap(), f);
        assert_eq!(
            Format::parse("json-array").unwrap(),
            Format::parse("json").unwrap()
        );
        assert_eq!(
            Format::parse("csv").unwrap_err().msg(),
            "unrecognized format type 'csv'"
        );
        assert_eq!(
            Format::parse("").unwrap_err().msg(),
            "unrecognized format type ''"
        );
        assert_eq!(
            Format::parse("json-pretty-x").unwrap_err().msg(),
            "unrecognized format flag 'x'"
        );
        assert_eq!(
            Format::parse("json-").unwrap_err().msg(),
            "unrecognized format flag ''"
        );
    }

    fn cols(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn rows(c: &[&str], r: Vec<Vec<Value>>, spec: &str) -> String {
        let mut s = String::new();
        encode_rows(&cols(c), &r, Format::parse(spec).unwrap(), Tz::UTC, &mut s);
        s
    }

    fn json(text: &str) -> Value {
        Value::Json(Box::new(Json::parse(text).unwrap()))
    }

    #[test]
    fn capped_encoding_stops_at_the_cap() {
        let many: Vec<Vec<Value>> = (0..100_000).map(|i| vec![Value::Int(i)]).collect();
        let fmt = Format::parse("json").unwrap();
        let mut s = String::new();
        assert!(!encode_rows_capped(
            &cols(&["a"]),
            &many,
            fmt,
            Tz::UTC,
            100,
            &mut s
        ));
        assert!((100..120).contains(&s.len()), "{}", s.len());
        // under the cap: the whole result, as encode_rows gives it
        let few = &many[..3];
        let mut s = String::new();
        assert!(encode_rows_capped(
            &cols(&["a"]),
            few,
            fmt,
            Tz::UTC,
            100,
            &mut s
        ));
        assert_eq!(s, rows(&["a"], few.to_vec(), "json"));
        // a result of exactly the cap is too large, as `limit_send` counts
        let mut s = String::new();
        assert!(!encode_rows_capped(
            &cols(&["a"]),
            few,
            fmt,
            Tz::UTC,
            9,
            &mut s
        ));
    }

    #[test]
    fn encode_row_sets() {
        assert_eq!(
            rows(&["col1"], vec![vec![Value::Int(123)]], "json"),
            "[123]"
        );
        assert_eq!(rows(&["id"], vec![], "json-obj-pretty"), "[]");
        assert_eq!(
            rows(
                &["id"],
                vec![
                    vec![Value::Int(1)],
                    vec![Value::Int(2)],
                    vec![Value::Int(3)]
                ],
                "json"
            ),
            "[1, 2, 3]"
        );
        assert_eq!(
            rows(&["col1"], vec![vec![json("[1,2,3]")]], "json-pretty"),
            "[[1, 2, 3]]"
        );
        assert_eq!(
            rows(
                &["a", "b"],
                vec![vec![Value::Int(1), Value::Int(2)]],
                "json"
            ),
            "[[1, 2]]"
        );
        assert_eq!(
            rows(
                &["id", "id"],
                vec![vec![Value::Int(1), Value::Int(2)]],
                "json-obj"
            ),
            r#"[{"id": 1, "id": 2}]"#
        );
        assert_eq!(
            rows(
                &["id", "id"],
                vec![vec![Value::Int(1), Value::Int(2)]],
                "json-pretty-obj"
            ),
            "[{\n  \"id\": 1,\n  \"id\": 2\n}]"
        );
        assert_eq!(
            rows(&["col1"], vec![vec![Value::Int(123)]], "json-obj"),
            r#"[{"col1": 123}]"#
        );
        assert_eq!(
            rows(
                &["json"],
                vec![vec![json(r#"{"id": 48}"#)]],
                "json-obj-pretty"
            ),
            "[{\n  \"json\": {\n    \"id\": 48\n  }\n}]"
        );
        assert_eq!(
            rows(&["json"], vec![vec![json(r#"{"id": 48}"#)]], "json-pretty"),
            "[{\n  \"id\": 48\n}]"
        );
        let mixed = r#"[{"id": 48}, {"id": 49}, [1,2,3]]"#;
        assert_eq!(
            rows(&["col1"], vec![vec![json(mixed)]], "json-array-pretty"),
            "[[{\n  \"id\": 48\n}, {\n  \"id\": 49\n}, [1, 2, 3]]]"
        );
        assert_eq!(
            rows(&["col1"], vec![vec![json(mixed)]], "json-pretty-obj"),
            "[{\n  \"col1\": [{\n    \"id\": 48\n  }, {\n    \"id\": 49\n  }, [1, 2, 3]]\n}]"
        );
        assert_eq!(
            rows(&["col1"], vec![vec![json(mixed)]], "json"),
            r#"[[{"id": 48}, {"id": 49}, [1, 2, 3]]]"#
        );
        // default format, (id int, data json)
        assert_eq!(
            rows(
                &["id", "data"],
                vec![
                    vec![Value::Int(0), json(r#"{"data": 123}"#)],
                    vec![Value::Int(1), json(r#"{"data": 123}"#)]
                ],
                "json-pretty"
            ),
            "[[0, {\n  \"data\": 123\n}], [1, {\n  \"data\": 123\n}]]"
        );
    }

    #[test]
    fn encode_single_values() {
        let enc = |name: &str, v: &Value, spec: &str| {
            let mut s = String::new();
            encode_single(name, v, Format::parse(spec).unwrap(), Tz::UTC, &mut s);
            s
        };
        assert_eq!(
            enc("format", &Value::str("json-pretty"), "json-pretty"),
            "[\"json-pretty\"]"
        );
        assert_eq!(enc("lsn", &Value::Int(3), "json"), "[3]");
        let users = json(r#"[{"name": "test"}]"#);
        assert_eq!(enc("users", &users, "json"), r#"[{"name": "test"}]"#);
        assert_eq!(
            enc("users", &users, "json-obj"),
            r#"{"users": [{"name": "test"}]}"#
        );
        assert_eq!(
            enc("uuid", &Value::str("u"), "json-obj-pretty"),
            "[{\n  \"uuid\": \"u\"\n}]"
        );
        let all = json(r#"{"a": 1, "listen": [{"host": "h", "port": 1}]}"#);
        assert_eq!(
            enc("all", &all, "json-obj-pretty"),
            "[{\n  \"all\": {\n    \"a\": 1,\n    \"listen\": [{\n      \"host\": \"h\",\n      \"port\": 1\n    }]\n  }\n}]"
        );
        assert_eq!(
            enc("all", &all, "json-pretty"),
            "[{\n  \"a\": 1,\n  \"listen\": [{\n    \"host\": \"h\",\n    \"port\": 1\n  }]\n}]"
        );
    }
}
