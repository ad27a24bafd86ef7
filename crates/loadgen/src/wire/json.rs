//! The message of an Amelie error reply, `{"msg": "..."}`, without a JSON library.

/// The `msg` string of a body that is exactly a JSON object `{"msg": "..."}`.
pub fn json_msg(body: &[u8]) -> Option<String> {
    let mut p = Cursor { s: body, i: 0 };
    p.ws();
    p.eat(b'{')?;
    p.ws();
    if p.string()? != "msg" {
        return None;
    }
    p.ws();
    p.eat(b':')?;
    p.ws();
    let msg = p.string()?;
    p.ws();
    p.eat(b'}')?;
    p.ws();
    (p.i == p.s.len()).then_some(msg)
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn ws(&mut self) {
        while matches!(self.s.get(self.i), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.s.get(self.i) == Some(&c)).then(|| self.i += 1)
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.s.get(self.i..self.i + 4)?;
        self.i += 4;
        u32::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
    }

    fn string(&mut self) -> Option<String> {
        self.eat(b'"')?;
        let mut out = Vec::new();
        loop {
            let c = *self.s.get(self.i)?;
            self.i += 1;
            match c {
                b'"' => return String::from_utf8(out).ok(),
                b'\\' => {
                    let e = *self.s.get(self.i)?;
                    self.i += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                self.eat(b'\\')?;
                                self.eat(b'u')?;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return None;
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            char::from_u32(code)?
                        }
                        _ => return None,
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                _ => out.push(c),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msg_extraction() {
        assert_eq!(json_msg(br#"{"msg": "a"}"#).as_deref(), Some("a"));
        assert_eq!(
            json_msg(b" {\"msg\":\"x\\ny\"} \n").as_deref(),
            Some("x\ny")
        );
        assert_eq!(
            json_msg(br#"{"msg": "\ud83d\ude00 \/ \\ \u00e9"}"#).as_deref(),
            Some("😀 / \\ é")
        );
        assert_eq!(json_msg(br#"{"msg": "a", "x": 1}"#), None);
        assert_eq!(json_msg(br#"{"other": "a"}"#), None);
        assert_eq!(json_msg(br#"{"msg": "unterminated}"#), None);
        assert_eq!(json_msg(br#"{"msg": "\ud83d"}"#), None);
        assert_eq!(json_msg(br#"{"msg": "\q"}"#), None);
        assert_eq!(json_msg(br#"[1]"#), None);
        assert_eq!(json_msg(b"{\"msg\": \"\xff\"}"), None);
        assert_eq!(json_msg(b""), None);
    }
}
