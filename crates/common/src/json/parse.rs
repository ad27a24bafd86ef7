//! Json text in: both quote styles, int64 integers (wrapping or checked), `%g`-safe doubles,
//! nesting bounded by [`MAX_DEPTH`].

use super::value::{Json, MAX_DEPTH};

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

    /// Like [`Json::parse`] but an integer outside the int64 range is an error instead of
    /// wrapping (for values that must not silently change, such as a token's expiry time).
    pub fn parse_checked(text: &str) -> crate::Result<Json> {
        let mut p = Parser {
            s: text.as_bytes(),
            text,
            pos: 0,
            raw: false,
            checked: true,
        };
        p.document()
    }

    fn parse_with(text: &str, raw: bool) -> crate::Result<Json> {
        let mut p = Parser {
            s: text.as_bytes(),
            text,
            pos: 0,
            raw,
            checked: false,
        };
        p.document()
    }
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
    /// Keep string escapes verbatim.
    raw: bool,
    /// Integers outside int64 are an error (else they wrap).
    checked: bool,
}

fn perr(msg: impl std::fmt::Display) -> crate::Error {
    crate::Error::syntax(format!("json parse error: {}", msg))
}

impl Parser<'_> {
    /// One value with optional whitespace around it, and nothing else.
    fn document(&mut self) -> crate::Result<Json> {
        self.skip_ws();
        let v = self.value(0)?;
        self.skip_ws();
        if self.pos < self.s.len() {
            return Err(self.unexpected());
        }
        Ok(v)
    }

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
            if self.checked {
                return text
                    .parse::<i64>()
                    .map(Json::Int)
                    .map_err(|_| perr(format_args!("integer out of range at offset {}", begin)));
            }
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
