//! Text output: C `%g` doubles, escaped strings, value → JSON text and result-set encoding
//! (spec §1.4). Everything writes into a caller-supplied `String` without temporary allocations.

use crate::time::{format_interval, format_timestamp};
use crate::value::Value;
use crate::Result;
use std::fmt::Write as _;

/// A small fixed-size buffer implementing `fmt::Write`, used to run Rust's exact float
/// formatting without touching the heap.
struct StackBuf {
    buf: [u8; 48],
    len: usize,
}

impl StackBuf {
    fn new() -> Self {
        StackBuf {
            buf: [0; 48],
            len: 0,
        }
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl std::fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Number of significant digits printed by `%g` (C default precision).
const G_PRECISION: usize = 6;

/// Appends `f` formatted exactly like C `printf("%g", f)` (glibc): 6 significant digits,
/// trailing zeros removed, exponent form `1e+08` when the exponent is < -4 or >= 6,
/// `inf`/`-inf`/`nan`/`-nan` for non-finite values.
pub fn fmt_double(f: f64, out: &mut String) {
    if f.is_nan() {
        out.push_str(if f.is_sign_negative() { "-nan" } else { "nan" });
        return;
    }
    if f.is_infinite() {
        out.push_str(if f < 0.0 { "-inf" } else { "inf" });
        return;
    }
    // Correctly rounded scientific form with P-1 fraction digits, e.g. "-1.23450e-5".
    let mut buf = StackBuf::new();
    if write!(buf, "{:.*e}", G_PRECISION - 1, f).is_err() {
        // Cannot happen (the longest form is ~14 bytes); stay panic-free regardless.
        out.push('0');
        return;
    }
    let s = buf.bytes();
    let mut i = 0;
    let negative = s.first() == Some(&b'-');
    if negative {
        i = 1;
    }
    let mut digits = [b'0'; G_PRECISION];
    let mut n = 0;
    let mut exp: i32 = 0;
    let mut exp_neg = false;
    let mut in_exp = false;
    while i < s.len() {
        let c = s[i];
        if in_exp {
            if c == b'-' {
                exp_neg = true;
            } else if c.is_ascii_digit() {
                exp = exp * 10 + (c - b'0') as i32;
            }
        } else if c == b'e' {
            in_exp = true;
        } else if c.is_ascii_digit() && n < G_PRECISION {
            digits[n] = c;
            n += 1;
        }
        i += 1;
    }
    if exp_neg {
        exp = -exp;
    }
    // Strip trailing zeros (the `#` flag is not used), keep at least one digit.
    while n > 1 && digits[n - 1] == b'0' {
        n -= 1;
    }
    let digits = &digits[..n];
    if negative {
        out.push('-');
    }
    if (-4..G_PRECISION as i32).contains(&exp) {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            for k in 0..int_len {
                out.push(*digits.get(k).unwrap_or(&b'0') as char);
            }
            if n > int_len {
                out.push('.');
                for &d in &digits[int_len..] {
                    out.push(d as char);
                }
            }
        } else {
            out.push_str("0.");
            for _ in 0..(-exp - 1) {
                out.push('0');
            }
            for &d in digits {
                out.push(d as char);
            }
        }
    } else {
        out.push(digits[0] as char);
        if n > 1 {
            out.push('.');
            for &d in &digits[1..] {
                out.push(d as char);
            }
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let e = exp.unsigned_abs();
        if e < 10 {
            out.push('0');
        }
        let _ = write!(out, "{}", e);
    }
}

/// Appends `s` as a JSON string literal: `"..."`, escaping only `"` `\` `\b` `\f` `\n` `\r`
/// `\t`; everything else (other control bytes, UTF-8) is passed through as is.
pub fn write_escaped_str(s: &str, out: &mut String) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x0c => "\\f",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            _ => continue,
        };
        // All escaped bytes are ASCII, so `start..i` is on char boundaries.
        out.push_str(&s[start..i]);
        out.push_str(esc);
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Appends an integer in decimal (`%lld`).
pub fn write_int(i: i64, out: &mut String) {
    let _ = write!(out, "{}", i);
}

/// Appends a value as JSON text (spec §1.4 value serialization). `pretty`/`depth` only
/// affect json values (objects are broken over lines in pretty mode); timestamps are printed
/// in the zone with offset `tz_offset_secs`.
pub fn write_value(v: &Value, out: &mut String, pretty: bool, depth: usize, tz_offset_secs: i32) {
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
            format_timestamp(*ts, tz_offset_secs, out);
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
            crate::bail!("unrecognized format type '{}'", ty);
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
                crate::bail!("unrecognized format flag '{}'", flag);
            }
        }
        Ok(fmt)
    }
}

/// Appends one row as an object `{"col": v, ...}` (pretty: one member per line, 2-space
/// indent, json values starting at depth 1).
fn write_row_obj<'a, I>(members: I, pretty: bool, tz: i32, out: &mut String)
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
    tz_offset_secs: i32,
    out: &mut String,
) {
    encode_rows_capped(columns, rows, fmt, tz_offset_secs, usize::MAX, out);
}

/// [`encode_rows`] that stops once `out` holds `cap` bytes or more, returning false (`out`
/// is then not a whole result): a reply past `limit_send` is not built in full first.
pub fn encode_rows_capped<R: AsRef<[Value]>>(
    columns: &[String],
    rows: &[R],
    fmt: Format,
    tz_offset_secs: i32,
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
            write_row_obj(members, fmt.pretty, tz_offset_secs, out);
        } else if row.len() == 1 {
            write_value(&row[0], out, fmt.pretty, 0, tz_offset_secs);
        } else {
            out.push('[');
            for (k, v) in row.iter().enumerate() {
                if k > 0 {
                    out.push_str(", ");
                }
                write_value(v, out, fmt.pretty, 0, tz_offset_secs);
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
pub fn encode_single(
    name: &str,
    value: &Value,
    fmt: Format,
    tz_offset_secs: i32,
    out: &mut String,
) {
    let is_array = matches!(value, Value::Json(j) if matches!(**j, crate::Json::Array(_)));
    if fmt.obj {
        let member = std::iter::once((name, value));
        if is_array {
            write_row_obj(member, fmt.pretty, tz_offset_secs, out);
        } else {
            out.push('[');
            write_row_obj(member, fmt.pretty, tz_offset_secs, out);
            out.push(']');
        }
    } else if is_array {
        write_value(value, out, fmt.pretty, 0, tz_offset_secs);
    } else {
        out.push('[');
        write_value(value, out, fmt.pretty, 0, tz_offset_secs);
        out.push(']');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Interval, Json};

    fn g(f: f64) -> String {
        let mut s = String::new();
        fmt_double(f, &mut s);
        s
    }

    #[test]
    fn percent_g() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (3.0, "3"),
            (-3.0, "-3"),
            (3.25, "3.25"),
            (2.5e-3, "0.0025"),
            (7.0 / 6.0, "1.16667"),
            (0.1 + 0.2, "0.3"),
            (1.56, "1.56"),
            (123.321, "123.321"),
            (-123.321, "-123.321"),
            (100000.0, "100000"),
            (999999.0, "999999"),
            (999999.5, "1e+06"),
            (1000000.0, "1e+06"),
            (1234567.0, "1.23457e+06"),
            (1e8, "1e+08"),
            (1e40, "1e+40"),
            (1.72252e15, "1.72252e+15"),
            (0.0001, "0.0001"),
            (0.00012345678, "0.000123457"),
            (0.00001, "1e-05"),
            (-0.00001, "-1e-05"),
            (2.2250738585072014e-308, "2.22507e-308"),
            (1.79769e308, "1.79769e+308"),
            (f64::MAX, "1.79769e+308"),
            (5e-324, "4.94066e-324"),
            (1.17549e-38, "1.17549e-38"),
            (3.40282e38, "3.40282e+38"),
            (0.5, "0.5"),
            (123456.5, "123456"),
            (123457.5, "123458"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
            (-f64::NAN, "-nan"),
            (1.1f32 as f64, "1.1"),
            (1e100, "1e+100"),
            (9.9999949, "9.99999"),
            (9.9999951, "10"),
        ];
        for (f, want) in cases {
            assert_eq!(g(*f), *want, "value {:e}", f);
        }
    }

    #[test]
    fn escaping() {
        let mut s = String::new();
        write_escaped_str("a\"b\\c\u{8}\u{c}\n\r\t\u{1}é/", &mut s);
        assert_eq!(s, "\"a\\\"b\\\\c\\b\\f\\n\\r\\t\u{1}é/\"");
    }

    fn val(v: &Value, pretty: bool, tz: i32) -> String {
        let mut s = String::new();
        write_value(v, &mut s, pretty, 0, tz);
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
        encode_rows(&cols(c), &r, Format::parse(spec).unwrap(), 0, &mut s);
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
            0,
            100,
            &mut s
        ));
        assert!((100..120).contains(&s.len()), "{}", s.len());
        // under the cap: the whole result, as encode_rows gives it
        let few = &many[..3];
        let mut s = String::new();
        assert!(encode_rows_capped(&cols(&["a"]), few, fmt, 0, 100, &mut s));
        assert_eq!(s, rows(&["a"], few.to_vec(), "json"));
        // a result of exactly the cap is too large, as `limit_send` counts
        let mut s = String::new();
        assert!(!encode_rows_capped(&cols(&["a"]), few, fmt, 0, 9, &mut s));
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
            encode_single(name, v, Format::parse(spec).unwrap(), 0, &mut s);
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
