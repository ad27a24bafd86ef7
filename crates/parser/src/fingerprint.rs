//! The program-cache key of a request: one pass over its bytes.
//!
//! The key is the request text with every number and string literal replaced by a marker of
//! its kind (`\0i`, `\0d`, `\0s`); the literal values are collected in source order. Two
//! requests with the same key differ only in the values of their literals, so they parse to
//! the same statements up to the values of [`crate::Expr::Param`]s (the executor checks on a
//! miss that [`crate::parse_params`] found exactly these literals, and caches nothing when it
//! did not).
//!
//! The scan follows the lexer's rules for what a literal is (`-` glued to a digit belongs to
//! the number, `'...'` and `"..."` are strings with backslash escapes, numbers wrap like
//! int64) and gives up (`false`: not cacheable) on anything it does not model: comments, NUL
//! bytes, `.5`, numbers glued to letters, unterminated strings, very long requests.

use crate::lexer::{decode_string, number, Tok};
use amelie_common::Value;

/// Requests longer than this are not cached (their key would cost as much as their parse).
pub const MAX_KEY: usize = 64 * 1024;

/// Byte classes of the scan.
const PLAIN: u8 = 0;
const WORD: u8 = 1;
const DIGIT: u8 = 2;
const QUOTE: u8 = 3;
const MINUS: u8 = 4;
const SLASH: u8 = 5;
const DOT: u8 = 6;
const STOP: u8 = 7;

const CLASS: [u8; 256] = {
    let mut t = [PLAIN; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = if b.is_ascii_alphabetic() || b == b'_' || b == b'$' {
            WORD
        } else if b.is_ascii_digit() {
            DIGIT
        } else if b == b'\'' || b == b'"' {
            QUOTE
        } else if b == b'-' {
            MINUS
        } else if b == b'/' {
            SLASH
        } else if b == b'.' {
            DOT
        } else if b == 0 {
            STOP
        } else {
            PLAIN
        };
        c += 1;
    }
    t
};

/// Computes the key of `sql` into `key` and its literals into `lits` (both cleared first).
/// Returns false when the request cannot be cached; `key` and `lits` are then meaningless.
pub fn fingerprint(sql: &str, key: &mut Vec<u8>, lits: &mut Vec<Value>) -> bool {
    key.clear();
    lits.clear();
    let b = sql.as_bytes();
    if b.len() > MAX_KEY {
        return false;
    }
    key.reserve(b.len());
    // bytes from `run` to `i` are copied to the key as they are, in one go
    let mut run = 0;
    let mut i = 0;
    while i < b.len() {
        match CLASS[b[i] as usize] {
            PLAIN => i += 1,
            WORD => {
                // a name (its digits included)
                i += 1;
                while i < b.len() && matches!(CLASS[b[i] as usize], WORD | DIGIT) {
                    i += 1;
                }
            }
            QUOTE => {
                let Some((v, end)) = string(sql, i) else {
                    return false;
                };
                key.extend_from_slice(&b[run..i]);
                key.extend_from_slice(&[0, b's']);
                lits.push(v);
                i = end;
                run = i;
            }
            DIGIT | MINUS => {
                let negative = b[i] == b'-';
                if negative {
                    match b.get(i + 1) {
                        // `--` starts a comment
                        Some(b'-') => return false,
                        Some(d) if d.is_ascii_digit() => {}
                        _ => {
                            i += 1;
                            continue;
                        }
                    }
                }
                let digits = if negative { i + 1 } else { i };
                let Some((v, end)) = num(sql, digits, negative) else {
                    return false;
                };
                key.extend_from_slice(&b[run..i]);
                key.extend_from_slice(&[0, kind(&v)]);
                lits.push(v);
                i = end;
                run = i;
            }
            // `/* */` comments
            SLASH if b.get(i + 1) == Some(&b'*') => return false,
            // `.5` numbers
            DOT if b.get(i + 1).is_some_and(u8::is_ascii_digit) => return false,
            SLASH | DOT => i += 1,
            _ => return false,
        }
    }
    key.extend_from_slice(&b[run..]);
    true
}

fn kind(v: &Value) -> u8 {
    match v {
        Value::Int(_) => b'i',
        Value::Double(_) => b'd',
        _ => b's',
    }
}

/// The string literal starting at the quote at `at`: its value and the position after it.
fn string(sql: &str, at: usize) -> Option<(Value, usize)> {
    let b = sql.as_bytes();
    let quote = b[at];
    let start = at + 1;
    let mut j = start;
    let mut escapes = false;
    loop {
        match b.get(j)? {
            b'\\' => {
                escapes = true;
                j += 2;
            }
            x if *x == quote => break,
            _ => j += 1,
        }
    }
    // (the closing quote is ASCII, so `j` is a char boundary)
    let raw = &sql[start..j];
    let value = if escapes {
        let mut toks = Vec::with_capacity(1);
        decode_string(raw.to_string(), quote as char, &mut toks);
        match toks.pop() {
            Some(Tok::Str(s)) if toks.is_empty() => Value::Str(s.into_boxed_str()),
            _ => return None,
        }
    } else {
        Value::Str(raw.into())
    };
    Some((value, j + 1))
}

/// The number whose digits start at `digits` (after a glued `-`): value and the position
/// after it.
fn num(sql: &str, digits: usize, negative: bool) -> Option<(Value, usize)> {
    let b = sql.as_bytes();
    let mut j = digits;
    while b.get(j).is_some_and(u8::is_ascii_digit) {
        j += 1;
    }
    if b.get(j) == Some(&b'.') {
        // only `digits.digits`; `1.` and `1.x` are left to the parser
        if !b.get(j + 1).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        j += 1;
        while b.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
    }
    if matches!(b.get(j), Some(b'e' | b'E')) {
        let mut k = j + 1;
        if matches!(b.get(k), Some(b'+' | b'-')) {
            k += 1;
        }
        if !b.get(k).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        while b.get(k).is_some_and(u8::is_ascii_digit) {
            k += 1;
        }
        j = k;
    }
    // a number glued to a name or another dot is not modelled
    if b.get(j)
        .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'$' | b'.'))
    {
        return None;
    }
    let v = match number(&sql[digits..j], negative) {
        Tok::Int(v) => Value::Int(v),
        Tok::Double(v) => Value::Double(v),
        _ => return None,
    };
    Some((v, j))
}

/// Whether `a` and `b` are the same literals: same kinds, equal values (doubles bit for bit).
pub fn same_literals(a: &[Value], b: &[Value]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| match (x, y) {
            (Value::Int(x), Value::Int(y)) => x == y,
            (Value::Double(x), Value::Double(y)) => x.to_bits() == y.to_bits(),
            (Value::Str(x), Value::Str(y)) => x == y,
            _ => false,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(sql: &str) -> Option<(String, Vec<Value>)> {
        let (mut key, mut lits) = (Vec::new(), Vec::new());
        fingerprint(sql, &mut key, &mut lits).then(|| {
            let key = String::from_utf8(key).unwrap().replace('\0', "$");
            (key, lits)
        })
    }

    #[test]
    fn literals_are_lifted() {
        let (key, lits) = fp("UPDATE t SET v = v + -5 WHERE id = 42;").unwrap();
        assert_eq!(key, "UPDATE t SET v = v + $i WHERE id = $i;");
        assert_eq!(lits, vec![Value::Int(-5), Value::Int(42)]);
        let (key, lits) = fp(r#"insert into t values (1.5, 'a\'b', "c", 2e3, x-1)"#).unwrap();
        assert_eq!(key, "insert into t values ($d, $s, $s, $d, x$i)");
        assert_eq!(
            lits,
            vec![
                Value::Double(1.5),
                Value::str("a'b"),
                Value::str("c"),
                Value::Double(2000.0),
                Value::Int(-1)
            ]
        );
        // names with digits stay names; a minus before a space is an operator
        let (key, lits) = fp("select t1.c2 - 3 from t1").unwrap();
        assert_eq!(key, "select t1.c2 - $i from t1");
        assert_eq!(lits, vec![Value::Int(3)]);
        // numbers wrap like the lexer's
        let (_, lits) = fp("select 18446744073709551615").unwrap();
        assert_eq!(lits, vec![Value::Int(-1)]);
    }

    #[test]
    fn same_shape_same_key() {
        let a = fp("select * from t where id = 1 and name = 'x'").unwrap();
        let b = fp("select * from t where id = 99 and name = 'long name'").unwrap();
        assert_eq!(a.0, b.0);
        let c = fp("select * from t where id = 1.0 and name = 'x'").unwrap();
        assert_ne!(a.0, c.0, "the literal kind is part of the key");
        let d = fp("select * from t where id = 1 and name = x").unwrap();
        assert_ne!(a.0, d.0);
    }

    #[test]
    fn unmodelled_forms_are_not_cached() {
        for sql in [
            "select 1 -- comment",
            "select /* c */ 1",
            "select .5",
            "select 1.",
            "select 1.x",
            "select 123L",
            "select 'open",
            "select 'a\\",
            "select 1e",
            "select \0",
        ] {
            assert!(fp(sql).is_none(), "{sql}");
        }
        assert!(fp(&"x".repeat(MAX_KEY + 1)).is_none());
    }

    #[test]
    fn scanner_agrees_with_the_parser() {
        for sql in [
            "update __bench.accounts set abalance = abalance + -4999 where aid = 7;select abalance from __bench.accounts where aid = 7;",
            "insert into __bench.history (tid, bid, aid, delta, time, filler) values (1, 0, 7, 3, current_timestamp, '     ')",
            "select [1, 'a', {\"k\": 2.5}], 'x'::json from t where a between -1 and 2",
            "select 'it''s', \"q\\\"\" from t",
            "select x.'f', 1 format 'json-obj'",
            "insert into t generate 500 on conflict do update set data = data + 1",
            "select 'é', 'a\\nb'",
        ] {
            let (_, lits) = fp(sql).unwrap_or_else(|| panic!("{sql}"));
            let lexed: Vec<Value> = crate::lexer::lex(sql)
                .toks
                .into_iter()
                .filter_map(|t| match t {
                    Tok::Int(v) => Some(Value::Int(v)),
                    Tok::Double(v) => Some(Value::Double(v)),
                    Tok::Str(s) => Some(Value::Str(s.into())),
                    _ => None,
                })
                .collect();
            assert!(same_literals(&lits, &lexed), "{sql}: {lits:?} vs {lexed:?}");
            if let Ok(req) = crate::parse_params(sql) {
                assert!(same_literals(&lits, &req.params), "{sql}");
            }
        }
    }
}
