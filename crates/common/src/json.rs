//! JSON values: parsing (both quote styles), compact and pretty writing with `%g` doubles.

use crate::format::{fmt_double, write_escaped_str, write_int};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// A JSON value. Object members keep their insertion order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Double(f64),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

/// Maximum nesting of arrays/objects accepted by the parser (keeps recursion bounded).
pub const MAX_DEPTH: usize = 256;

impl Json {
    /// Parses JSON text. Strings may use `"` or `'`. Numbers without `.`/`e`/`E` are
    /// integers (wrapping into int64 like the SQL lexer), others doubles. Leading and
    /// trailing whitespace is allowed, anything else after the value is an error.
    pub fn parse(text: &str) -> crate::Result<Json> {
        Json::parse_with(text, false)
    }

    /// Like [`Json::parse`] but string escapes are kept verbatim (`"a\\nb"` holds a
    /// backslash and an `n`), as Amelie's runtime `json_import()` does.
    pub fn parse_raw(text: &str) -> crate::Result<Json> {
        Json::parse_with(text, true)
    }

    fn parse_with(text: &str, raw: bool) -> crate::Result<Json> {
        let mut p = Parser {
            s: text.as_bytes(),
            text,
            pos: 0,
            raw,
        };
        p.skip_ws();
        let v = p.value(0)?;
        p.skip_ws();
        if p.pos < p.s.len() {
            return Err(p.unexpected());
        }
        Ok(v)
    }

    /// Compact form: `[1, 2]`, `{"a": 1, "b": 2}` (", " and ": " separators).
    pub fn write_compact(&self, out: &mut String) {
        match self {
            Json::Array(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    v.write_compact(out);
                }
                out.push(']');
            }
            Json::Object(members) => {
                out.push('{');
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_escaped_str(k, out);
                    out.push_str(": ");
                    v.write_compact(out);
                }
                out.push('}');
            }
            scalar => scalar.write_scalar(out),
        }
    }

    /// Pretty form at nesting depth `depth` (spec §1.4): arrays stay inline at the same
    /// depth; a non-empty object puts each member on its own line indented `2*(depth+1)`
    /// spaces, with member values at `depth+1`, and closes on a line indented `2*depth`.
    pub fn write_pretty(&self, out: &mut String, depth: usize) {
        match self {
            Json::Array(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    v.write_pretty(out, depth);
                }
                out.push(']');
            }
            Json::Object(members) if members.is_empty() => out.push_str("{}"),
            Json::Object(members) => {
                out.push_str("{\n");
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push_str(",\n");
                    }
                    indent(out, depth + 1);
                    write_escaped_str(k, out);
                    out.push_str(": ");
                    v.write_pretty(out, depth + 1);
                }
                out.push('\n');
                indent(out, depth);
                out.push('}');
            }
            scalar => scalar.write_scalar(out),
        }
    }

    fn write_scalar(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Int(i) => write_int(*i, out),
            Json::Double(d) => fmt_double(*d, out),
            Json::String(s) => write_escaped_str(s, out),
            Json::Array(_) | Json::Object(_) => self.write_compact(out),
        }
    }

    /// Compact text as a new string (convenience; prefer `write_compact` on hot paths).
    pub fn to_compact_string(&self) -> String {
        let mut s = String::new();
        self.write_compact(&mut s);
        s
    }

    /// Deep ordering used for sorting and equality of json values: by kind first
    /// (null < bool < number < string < array < object; int and double compare
    /// numerically), then by value; arrays and objects element by element (object
    /// members by key then value), a shorter prefix sorts first.
    pub fn total_cmp(&self, other: &Json) -> Ordering {
        use Json::*;
        match (self, other) {
            (Null, Null) => Ordering::Equal,
            (Bool(a), Bool(b)) => a.cmp(b),
            (Int(a), Int(b)) => a.cmp(b),
            (Double(a), Double(b)) => a.total_cmp(b),
            (Int(a), Double(b)) => cmp_int_double(*a, *b),
            (Double(a), Int(b)) => cmp_int_double(*b, *a).reverse(),
            (String(a), String(b)) => a.as_bytes().cmp(b.as_bytes()),
            (Array(a), Array(b)) => {
                for (x, y) in a.iter().zip(b.iter()) {
                    match x.total_cmp(y) {
                        Ordering::Equal => {}
                        o => return o,
                    }
                }
                a.len().cmp(&b.len())
            }
            (Object(a), Object(b)) => {
                for ((ka, va), (kb, vb)) in a.iter().zip(b.iter()) {
                    match ka.as_bytes().cmp(kb.as_bytes()) {
                        Ordering::Equal => {}
                        o => return o,
                    }
                    match va.total_cmp(vb) {
                        Ordering::Equal => {}
                        o => return o,
                    }
                }
                a.len().cmp(&b.len())
            }
            (a, b) => a.rank().cmp(&b.rank()),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Json::Null => 0,
            Json::Bool(_) => 1,
            Json::Int(_) | Json::Double(_) => 2,
            Json::String(_) => 3,
            Json::Array(_) => 4,
            Json::Object(_) => 5,
        }
    }
}

/// Hashing consistent with [`Json::total_cmp`] equality: numbers hash as `f64` bits so
/// that `1` and `1.0` collide.
impl std::hash::Hash for Json {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.rank().hash(state);
        match self {
            Json::Null => {}
            Json::Bool(b) => b.hash(state),
            Json::Int(i) => (*i as f64).to_bits().hash(state),
            Json::Double(d) => d.to_bits().hash(state),
            Json::String(s) => s.hash(state),
            Json::Array(items) => {
                items.len().hash(state);
                for v in items {
                    v.hash(state);
                }
            }
            Json::Object(members) => {
                members.len().hash(state);
                for (k, v) in members {
                    k.hash(state);
                    v.hash(state);
                }
            }
        }
    }
}

fn cmp_int_double(a: i64, b: f64) -> Ordering {
    (a as f64).total_cmp(&b)
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
    /// Keep string escapes verbatim.
    raw: bool,
}

fn perr(msg: impl std::fmt::Display) -> crate::Error {
    crate::Error::new(format!("json parse error: {}", msg))
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while let Some(&c) = self.s.get(self.pos) {
            if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    /// Error for the character at the current position (or end of input).
    fn unexpected(&self) -> crate::Error {
        match self.text.get(self.pos..).and_then(|t| t.chars().next()) {
            None => perr("unexpected end of input"),
            Some(c) => perr(format_args!(
                "unexpected character '{}' at offset {}",
                c, self.pos
            )),
        }
    }

    fn value(&mut self, depth: usize) -> crate::Result<Json> {
        match self.peek() {
            None => Err(perr("unexpected end of input")),
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(q @ (b'"' | b'\'')) => Ok(Json::String(self.string(q)?)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'n') => self.literal("null", Json::Null),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(_) => Err(self.unexpected()),
        }
    }

    fn literal(&mut self, word: &str, v: Json) -> crate::Result<Json> {
        let end = self.pos + word.len();
        if self.s.get(self.pos..end) == Some(word.as_bytes())
            && !self
                .s
                .get(end)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            self.pos = end;
            Ok(v)
        } else {
            Err(self.unexpected())
        }
    }

    fn enter(depth: usize) -> crate::Result<usize> {
        if depth >= MAX_DEPTH {
            return Err(perr("nesting is too deep"));
        }
        Ok(depth + 1)
    }

    fn array(&mut self, depth: usize) -> crate::Result<Json> {
        let depth = Self::enter(depth)?;
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Json::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value(depth)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Json::Array(items));
                }
                None => return Err(perr("unterminated array, ']' expected")),
                Some(_) => return Err(self.unexpected()),
            }
        }
    }

    fn object(&mut self, depth: usize) -> crate::Result<Json> {
        let depth = Self::enter(depth)?;
        self.pos += 1; // '{'
        let mut members = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Json::Object(members));
        }
        loop {
            self.skip_ws();
            let key = match self.peek() {
                Some(q @ (b'"' | b'\'')) => self.string(q)?,
                None => return Err(perr("unterminated object, '}' expected")),
                Some(_) => {
                    return Err(perr(format_args!(
                        "object key string expected at offset {}",
                        self.pos
                    )))
                }
            };
            self.skip_ws();
            match self.peek() {
                Some(b':') => self.pos += 1,
                None => return Err(perr("unexpected end of input, ':' expected")),
                Some(_) => return Err(perr(format_args!("':' expected at offset {}", self.pos))),
            }
            self.skip_ws();
            let v = self.value(depth)?;
            members.push((key, v));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Json::Object(members));
                }
                None => return Err(perr("unterminated object, '}' expected")),
                Some(_) => return Err(self.unexpected()),
            }
        }
    }

    fn hex4(&mut self) -> crate::Result<u32> {
        let h = self
            .s
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| perr("truncated \\u escape"))?;
        let mut v = 0u32;
        for &c in h {
            let d = (c as char)
                .to_digit(16)
                .ok_or_else(|| perr("invalid \\u escape"))?;
            v = v * 16 + d;
        }
        self.pos += 4;
        Ok(v)
    }

    fn string(&mut self, quote: u8) -> crate::Result<String> {
        self.pos += 1; // opening quote
        let mut out = String::new();
        let mut start = self.pos;
        loop {
            let Some(c) = self.peek() else {
                return Err(perr("unterminated string"));
            };
            if c == quote {
                out.push_str(&self.text[start..self.pos]);
                self.pos += 1;
                return Ok(out);
            }
            if c != b'\\' {
                self.pos += 1;
                continue;
            }
            if self.raw {
                // keep `\x` as is; the escaped byte is never a closing quote
                self.pos += 2;
                if self.pos > self.s.len() {
                    return Err(perr("unterminated string"));
                }
                continue;
            }
            // escapes are ASCII, so these slice positions are char boundaries
            out.push_str(&self.text[start..self.pos]);
            self.pos += 1;
            let Some(e) = self.peek() else {
                return Err(perr("unterminated string"));
            };
            self.pos += 1;
            match e {
                b'"' => out.push('"'),
                b'\'' => out.push('\''),
                b'\\' => out.push('\\'),
                b'/' => out.push('/'),
                b'b' => out.push('\u{8}'),
                b'f' => out.push('\u{c}'),
                b'n' => out.push('\n'),
                b'r' => out.push('\r'),
                b't' => out.push('\t'),
                b'u' => {
                    let hi = self.hex4()?;
                    let cp = if (0xD800..0xDC00).contains(&hi) {
                        if self.s.get(self.pos..self.pos + 2) != Some(b"\\u") {
                            return Err(perr("invalid unicode surrogate pair"));
                        }
                        self.pos += 2;
                        let lo = self.hex4()?;
                        if !(0xDC00..0xE000).contains(&lo) {
                            return Err(perr("invalid unicode surrogate pair"));
                        }
                        0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                    } else {
                        hi
                    };
                    let ch = char::from_u32(cp).ok_or_else(|| perr("invalid unicode escape"))?;
                    out.push(ch);
                }
                _ => {
                    // report the (possibly multi-byte) escaped character
                    let c = self.text[self.pos - 1..].chars().next().unwrap_or('?');
                    return Err(perr(format_args!("invalid escape '\\{}'", c)));
                }
            }
            // `pos` now sits on an ASCII byte boundary again
            start = self.pos;
            if !self.text.is_char_boundary(start) {
                return Err(perr("invalid escape"));
            }
        }
    }

    fn number(&mut self) -> crate::Result<Json> {
        let begin = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let int_start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        if self.pos == int_start {
            return Err(self.unexpected());
        }
        let mut is_double = false;
        if self.peek() == Some(b'.') {
            is_double = true;
            self.pos += 1;
            let frac_start = self.pos;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1;
            }
            if self.pos == frac_start {
                return Err(perr(format_args!("malformed number at offset {}", begin)));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            is_double = true;
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            let exp_start = self.pos;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1;
            }
            if self.pos == exp_start {
                return Err(perr(format_args!("malformed number at offset {}", begin)));
            }
        }
        let text = &self.text[begin..self.pos];
        if is_double {
            // out of range (1e400): JSON text has no infinity, it could not be written back
            text.parse::<f64>()
                .ok()
                .filter(|d| d.is_finite())
                .map(Json::Double)
                .ok_or_else(|| perr(format_args!("malformed number at offset {}", begin)))
        } else {
            // int64 with wrap-around, like the SQL lexer
            let mut v: i64 = 0;
            for &c in &self.s[int_start..self.pos] {
                v = v.wrapping_mul(10).wrapping_add((c - b'0') as i64);
            }
            if begin != int_start {
                v = v.wrapping_neg();
            }
            Ok(Json::Int(v))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_doubles_are_malformed() {
        // found by the json fuzz target: 1e400 became infinity and was written as `inf`
        for text in ["1e3333276708", "[1e400]", "-1.5e309"] {
            let e = Json::parse(text).unwrap_err().to_string();
            assert!(e.contains("malformed number"), "{text}: {e}");
        }
        assert_eq!(Json::parse("1e308").unwrap(), Json::Double(1e308));
        assert_eq!(Json::parse("1e-400").unwrap(), Json::Double(0.0));
    }

    #[test]
    fn raw_strings_keep_escapes() {
        let j = Json::parse_raw(r#"{"a": "x\\ny\"z"}"#).unwrap();
        assert_eq!(
            j,
            Json::Object(vec![("a".into(), Json::String(r#"x\\ny\"z"#.into()))])
        );
        assert!(Json::parse_raw(r#""abc\"#).is_err());
    }

    fn compact(text: &str) -> String {
        Json::parse(text).unwrap().to_compact_string()
    }

    fn pretty(text: &str) -> String {
        let mut s = String::new();
        Json::parse(text).unwrap().write_pretty(&mut s, 0);
        s
    }

    #[test]
    fn parse_scalars() {
        assert_eq!(Json::parse("null").unwrap(), Json::Null);
        assert_eq!(Json::parse(" true ").unwrap(), Json::Bool(true));
        assert_eq!(Json::parse("false").unwrap(), Json::Bool(false));
        assert_eq!(Json::parse("42").unwrap(), Json::Int(42));
        assert_eq!(Json::parse("-42").unwrap(), Json::Int(-42));
        assert_eq!(Json::parse("1.5").unwrap(), Json::Double(1.5));
        assert_eq!(Json::parse("1e3").unwrap(), Json::Double(1000.0));
        assert_eq!(Json::parse("-2.5E-1").unwrap(), Json::Double(-0.25));
        assert_eq!(Json::parse("18446744073709551615").unwrap(), Json::Int(-1));
        assert_eq!(
            Json::parse("-9223372036854775808").unwrap(),
            Json::Int(i64::MIN)
        );
        assert_eq!(Json::parse("'hi'").unwrap(), Json::String("hi".into()));
        assert_eq!(Json::parse("\"hi\"").unwrap(), Json::String("hi".into()));
        assert_eq!(
            Json::parse(r#""a\"b\\c\/\b\f\n\r\t\u0041\u00e9\ud83d\ude00'""#).unwrap(),
            Json::String("a\"b\\c/\u{8}\u{c}\n\r\tAé😀'".into())
        );
        assert_eq!(
            Json::parse(r#"'it\'s "x"'"#).unwrap(),
            Json::String("it's \"x\"".into())
        );
        assert_eq!(
            Json::parse("\"日本語\"").unwrap(),
            Json::String("日本語".into())
        );
    }

    #[test]
    fn parse_and_write_compact() {
        assert_eq!(compact("[1,2,3]"), "[1, 2, 3]");
        assert_eq!(compact("[]"), "[]");
        assert_eq!(compact("{}"), "{}");
        assert_eq!(compact(" [ ] "), "[]");
        assert_eq!(
            compact("{'a':1,\"b\":[true,null,1.5]}"),
            r#"{"a": 1, "b": [true, null, 1.5]}"#
        );
        assert_eq!(
            compact(r#"{"id": 42, "data": [1,2,3]}"#),
            r#"{"id": 42, "data": [1, 2, 3]}"#
        );
        // member order and duplicates are kept
        assert_eq!(
            compact(r#"{"b": 1, "a": 2, "b": 3}"#),
            r#"{"b": 1, "a": 2, "b": 3}"#
        );
        assert_eq!(
            compact("[1.0, 3.14, 1e8, 0.00001, 7e-1]"),
            "[1, 3.14, 1e+08, 1e-05, 0.7]"
        );
        assert_eq!(compact(r#"["a\"b\\c\nd"]"#), r#"["a\"b\\c\nd"]"#);
        assert_eq!(compact("'\u{1}é'"), "\"\u{1}é\"");
    }

    #[test]
    fn write_pretty_layout() {
        assert_eq!(pretty("{}"), "{}");
        assert_eq!(pretty("[]"), "[]");
        assert_eq!(pretty("1"), "1");
        assert_eq!(pretty("[1, [2, 3]]"), "[1, [2, 3]]");
        assert_eq!(pretty(r#"{"id": 48}"#), "{\n  \"id\": 48\n}");
        assert_eq!(
            pretty(r#"{"a": {"b": {}, "c": [{"d": 1}, 2]}, "e": "x"}"#),
            "{\n  \"a\": {\n    \"b\": {},\n    \"c\": [{\n      \"d\": 1\n    }, 2]\n  },\n  \"e\": \"x\"\n}"
        );
        let mut s = String::new();
        Json::parse(r#"{"id": 48}"#)
            .unwrap()
            .write_pretty(&mut s, 1);
        assert_eq!(s, "{\n    \"id\": 48\n  }");
    }

    #[test]
    fn parse_errors() {
        for bad in [
            "",
            " ",
            "nul",
            "nulls",
            "tru",
            "[",
            "]",
            "[1,",
            "[1 2]",
            "[1,]",
            "{",
            "{\"a\"",
            "{\"a\":",
            "{\"a\":1,",
            "{1:2}",
            "{\"a\" 1}",
            "\"abc",
            "'abc\"",
            "-",
            "--1",
            "1.",
            ".5",
            "1e",
            "1e+",
            "+1",
            "01x",
            "1 2",
            "\"\\x\"",
            "\"\\u12\"",
            "\"\\uzzzz\"",
            "\"\\ud800\"",
            "\"\\ud800\\u0041\"",
            "\"\\udc00\"",
            "[1]]",
            "{}}",
            "\u{0}",
            "undefined",
            "NaN",
            "\"\\",
            "'\\é'",
        ] {
            assert!(Json::parse(bad).is_err(), "{:?} should fail", bad);
        }
        assert_eq!(
            Json::parse("[1 2]").unwrap_err().msg(),
            "json parse error: unexpected character '2' at offset 3"
        );
        assert_eq!(
            Json::parse("[1,").unwrap_err().msg(),
            "json parse error: unexpected end of input"
        );
        assert_eq!(
            Json::parse("'abc").unwrap_err().msg(),
            "json parse error: unterminated string"
        );
    }

    #[test]
    fn garbage_never_panics() {
        let deep_open = "[".repeat(100_000);
        let deep_obj = "{\"a\":".repeat(100_000);
        assert!(Json::parse(&deep_open).is_err());
        assert!(Json::parse(&deep_obj).is_err());
        let ok_deep = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(Json::parse(&ok_deep).is_ok());
        // pseudo-random byte soup built from json-ish characters
        let alphabet: Vec<char> = "{}[]\"',:.-+eE0123456789 \\untrfalsé😀\u{0}\n"
            .chars()
            .collect();
        let mut seed: u64 = 0x9e3779b97f4a7c15;
        for _ in 0..20_000 {
            let mut s = String::new();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 24) as usize;
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                s.push(alphabet[(seed % alphabet.len() as u64) as usize]);
            }
            if let Ok(j) = Json::parse(&s) {
                // whatever parses must round-trip through compact text
                let text = j.to_compact_string();
                let again = Json::parse(&text).unwrap();
                assert_eq!(again.total_cmp(&j), Ordering::Equal, "{:?}", s);
            }
        }
    }

    #[test]
    fn ordering() {
        let mut v: Vec<Json> = [
            "{\"a\": 1}",
            "[1, 2]",
            "\"b\"",
            "2.5",
            "1",
            "true",
            "null",
            "[1]",
            "\"a\"",
            "{}",
            "false",
            "3",
        ]
        .iter()
        .map(|t| Json::parse(t).unwrap())
        .collect();
        v.sort_by(|a, b| a.total_cmp(b));
        let texts: Vec<String> = v.iter().map(|j| j.to_compact_string()).collect();
        assert_eq!(
            texts,
            [
                "null",
                "false",
                "true",
                "1",
                "2.5",
                "3",
                "\"a\"",
                "\"b\"",
                "[1]",
                "[1, 2]",
                "{}",
                "{\"a\": 1}"
            ]
        );
        let a = Json::parse(r#"{"a": [1, {"b": 2}]}"#).unwrap();
        let b = Json::parse(r#"{"a": [1, {"b": 3}]}"#).unwrap();
        assert_eq!(a.total_cmp(&b), Ordering::Less);
        assert_eq!(a.total_cmp(&a.clone()), Ordering::Equal);
        assert_eq!(Json::Int(1).total_cmp(&Json::Double(1.0)), Ordering::Equal);
        let h = |j: &Json| {
            use std::hash::{Hash, Hasher};
            let mut s = std::collections::hash_map::DefaultHasher::new();
            j.hash(&mut s);
            s.finish()
        };
        let a = Json::parse("[1234567, {\"a\": 2}]").unwrap();
        let b = Json::parse("[1234567.0, {\"a\": 2.0}]").unwrap();
        assert_eq!(a.total_cmp(&b), Ordering::Equal);
        assert_eq!(h(&a), h(&b));
    }
}
