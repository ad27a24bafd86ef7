//! The encoding of a `Json` value inside a row: a pre-order stream of tagged items.
//!
//! | tag | item | payload |
//! | --- | --- | --- |
//! | 0 | null | — |
//! | 1, 2 | false, true | — |
//! | 3 | int | zigzag varint |
//! | 4 | double | 8 bytes, little-endian IEEE-754 bits |
//! | 5 | string | varint byte length, UTF-8 bytes |
//! | 6 | array | varint item count, then the items |
//! | 7 | object | varint member count, then per member: varint key length, key bytes, value |
//!
//! Encoding recurses a few dozen levels, then walks iteratively. Decoding never recurses:
//! it keeps an explicit stack of open containers, refuses nesting deeper than its
//! `max_depth`, and refuses counts larger than the bytes left, so hostile bytes can neither
//! overflow the stack nor make it allocate more than the input's size.

use crate::varint::{put_varint, unzigzag, varint_len, zigzag, Check, Corrupt, Reader};
use amelie_common::json::{Event, Walk};
use amelie_common::Json;

const J_NULL: u8 = 0;
const J_FALSE: u8 = 1;
const J_TRUE: u8 = 2;
const J_INT: u8 = 3;
const J_DOUBLE: u8 = 4;
const J_STR: u8 = 5;
const J_ARRAY: u8 = 6;
const J_OBJECT: u8 = 7;

/// Deepest json nesting accepted from bytes that come from outside (`Row::from_encoded`:
/// checkpoint files, WAL records, rows sent to nodes). The server never stores a value
/// nested deeper than `amelie_common::json::MAX_DEPTH` (see [`crate::check_values`]), which
/// is well below this, so every row it wrote loads again.
pub const JSON_MAX_DEPTH: usize = 1024;

/// Levels `size` and `write` recurse before they walk the rest iteratively (recursion is
/// faster on the usual shallow values; the walk bounds the stack on deep ones).
const RECURSION: usize = 48;

/// Bytes `write` appends for `j`.
pub(crate) fn size(j: &Json) -> usize {
    size_rec(j, 0)
}

fn size_rec(j: &Json, level: usize) -> usize {
    match j {
        Json::Array(items) if level < RECURSION => {
            1 + varint_len(items.len() as u64)
                + items.iter().map(|v| size_rec(v, level + 1)).sum::<usize>()
        }
        Json::Object(members) if level < RECURSION => {
            1 + varint_len(members.len() as u64)
                + members
                    .iter()
                    .map(|(k, v)| varint_len(k.len() as u64) + k.len() + size_rec(v, level + 1))
                    .sum::<usize>()
        }
        Json::Array(_) | Json::Object(_) => size_iter(j),
        leaf => leaf_size(leaf),
    }
}

/// [`size`] without recursion.
fn size_iter(j: &Json) -> usize {
    let mut n = 0;
    let mut w = Walk::new(j);
    while let Some((ev, _)) = w.next() {
        n += match ev {
            Event::Leaf(j) => leaf_size(j),
            Event::Open(j) => 1 + varint_len(j.len() as u64),
            Event::Key(k) => varint_len(k.len() as u64) + k.len(),
            Event::Close(_) => 0,
        };
    }
    n
}

/// Bytes of a value that is not a non-empty container.
#[inline]
fn leaf_size(j: &Json) -> usize {
    match j {
        Json::Null | Json::Bool(_) => 1,
        Json::Int(i) => 1 + varint_len(zigzag(*i)),
        Json::Double(_) => 9,
        Json::String(s) => 1 + varint_len(s.len() as u64) + s.len(),
        // (empty)
        Json::Array(_) | Json::Object(_) => 2,
    }
}

/// Appends the encoding of `j`.
pub(crate) fn write(j: &Json, out: &mut Vec<u8>) {
    write_rec(j, out, 0)
}

fn write_rec(j: &Json, out: &mut Vec<u8>, level: usize) {
    match j {
        Json::Array(items) if level < RECURSION => {
            write_head(j, out);
            for v in items {
                write_rec(v, out, level + 1);
            }
        }
        Json::Object(members) if level < RECURSION => {
            write_head(j, out);
            for (k, v) in members {
                put_str(k, out);
                write_rec(v, out, level + 1);
            }
        }
        Json::Array(_) | Json::Object(_) => write_iter(j, out),
        leaf => write_head(leaf, out),
    }
}

/// [`write`] without recursion.
fn write_iter(j: &Json, out: &mut Vec<u8>) {
    let mut w = Walk::new(j);
    while let Some((ev, _)) = w.next() {
        match ev {
            Event::Leaf(j) | Event::Open(j) => write_head(j, out),
            Event::Key(k) => put_str(k, out),
            Event::Close(_) => {}
        }
    }
}

/// A scalar, or the tag and count of an array/object (its items follow).
#[inline]
fn write_head(j: &Json, out: &mut Vec<u8>) {
    match j {
        Json::Null => out.push(J_NULL),
        Json::Bool(false) => out.push(J_FALSE),
        Json::Bool(true) => out.push(J_TRUE),
        Json::Int(i) => {
            out.push(J_INT);
            put_varint(out, zigzag(*i));
        }
        Json::Double(d) => {
            out.push(J_DOUBLE);
            out.extend_from_slice(&d.to_bits().to_le_bytes());
        }
        Json::String(s) => {
            out.push(J_STR);
            put_str(s, out);
        }
        Json::Array(items) => {
            out.push(J_ARRAY);
            put_varint(out, items.len() as u64);
        }
        Json::Object(members) => {
            out.push(J_OBJECT);
            put_varint(out, members.len() as u64);
        }
    }
}

fn put_str(s: &str, out: &mut Vec<u8>) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// An open container while decoding.
enum Open {
    Array {
        items: Vec<Json>,
        left: usize,
        /// This container's key in its parent object.
        key: Option<String>,
    },
    Object {
        members: Vec<(String, Json)>,
        left: usize,
        key: Option<String>,
    },
}

/// Decodes exactly one json value filling all of `buf`.
pub(crate) fn decode(buf: &[u8], max_depth: usize) -> Check<Json> {
    let mut r = Reader::new(buf);
    let mut stack: Vec<Open> = Vec::new();
    loop {
        let mut key = match stack.last() {
            Some(Open::Object { .. }) => Some(r.str()?.to_owned()),
            _ => None,
        };
        let mut value = match r.byte()? {
            J_NULL => Json::Null,
            J_FALSE => Json::Bool(false),
            J_TRUE => Json::Bool(true),
            J_INT => Json::Int(unzigzag(r.varint()?)),
            J_DOUBLE => {
                let b = r.take(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                Json::Double(f64::from_bits(u64::from_le_bytes(a)))
            }
            J_STR => Json::String(r.str()?.to_owned()),
            tag @ (J_ARRAY | J_OBJECT) => {
                // every item takes at least one byte (objects: two)
                let n = r.len(if tag == J_ARRAY { 1 } else { 2 })?;
                if n == 0 {
                    if tag == J_ARRAY {
                        Json::Array(Vec::new())
                    } else {
                        Json::Object(Vec::new())
                    }
                } else {
                    if stack.len() >= max_depth {
                        return Err(Corrupt("json nesting is too deep"));
                    }
                    stack.push(if tag == J_ARRAY {
                        Open::Array {
                            items: Vec::with_capacity(n),
                            left: n,
                            key,
                        }
                    } else {
                        Open::Object {
                            members: Vec::with_capacity(n),
                            left: n,
                            key,
                        }
                    });
                    continue;
                }
            }
            _ => return Err(Corrupt("unknown json tag")),
        };
        // attach the finished value to its container, closing containers that are full
        loop {
            let full = match stack.last_mut() {
                None => {
                    return if r.at_end() {
                        Ok(value)
                    } else {
                        Err(Corrupt("bytes after the json value"))
                    };
                }
                Some(Open::Array { items, left, .. }) => {
                    items.push(value);
                    *left -= 1;
                    *left == 0
                }
                Some(Open::Object { members, left, .. }) => {
                    members.push((key.take().unwrap_or_default(), value));
                    *left -= 1;
                    *left == 0
                }
            };
            if !full {
                break;
            }
            (value, key) = match stack.pop() {
                Some(Open::Array { items, key, .. }) => (Json::Array(items), key),
                Some(Open::Object { members, key, .. }) => (Json::Object(members), key),
                None => return Err(Corrupt("json stack underflow")),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(j: &Json) {
        let mut out = Vec::new();
        write(j, &mut out);
        assert_eq!(out.len(), size(j));
        let back = decode(&out, JSON_MAX_DEPTH).unwrap();
        assert_eq!(back.total_cmp(j), std::cmp::Ordering::Equal);
        let mut again = Vec::new();
        write(&back, &mut again);
        assert_eq!(again, out);
    }

    #[test]
    fn json_round_trips() {
        for text in [
            "null",
            "true",
            "false",
            "0",
            "-9223372036854775808",
            "9223372036854775807",
            "1.5",
            "\"\"",
            "\"a\\u0000b 日本語\"",
            "[]",
            "{}",
            "[1, [2, [3, []]], {\"a\": {\"b\": [null, true]}}, \"x\"]",
            "{\"\": 1, \"k\": {}, \"dup\": 1, \"dup\": 2}",
        ] {
            round_trip(&Json::parse(text).unwrap());
        }
        round_trip(&Json::Double(f64::NAN));
        round_trip(&Json::Double(-0.0));
    }

    fn nested(depth: usize) -> Json {
        let mut j = Json::Int(1);
        for i in 0..depth {
            j = if i % 2 == 0 {
                Json::Array(vec![j])
            } else {
                Json::Object(vec![("k".into(), j)])
            };
        }
        j
    }

    #[test]
    fn depth_is_limited_without_recursion() {
        round_trip(&nested(JSON_MAX_DEPTH));
        let mut out = Vec::new();
        write(&nested(JSON_MAX_DEPTH + 1), &mut out);
        assert!(decode(&out, JSON_MAX_DEPTH).is_err());
        assert!(decode(&out, usize::MAX).is_ok());
        // a million open arrays: refused, no stack overflow, no huge allocation
        let mut hostile = Vec::new();
        for _ in 0..1_000_000 {
            hostile.extend_from_slice(&[J_ARRAY, 1]);
        }
        hostile.push(J_NULL);
        assert!(decode(&hostile, JSON_MAX_DEPTH).is_err());
        // a count far larger than the buffer
        let mut huge = vec![J_ARRAY];
        put_varint(&mut huge, u64::MAX >> 1);
        assert!(decode(&huge, JSON_MAX_DEPTH).is_err());
    }

    #[test]
    fn deep_values_encode_without_recursion() {
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let j = nested(200_000);
                let mut out = Vec::new();
                write(&j, &mut out);
                assert_eq!(out.len(), size(&j));
                let back = decode(&out, usize::MAX).unwrap();
                assert!(back == j);
                assert!(decode(&out, JSON_MAX_DEPTH).is_err());
            })
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn recursive_and_iterative_encodings_agree() {
        for d in [0, 1, 5, RECURSION - 1, RECURSION, RECURSION + 1, 200] {
            let j = nested(d);
            let (mut a, mut b) = (Vec::new(), Vec::new());
            write(&j, &mut a);
            write_iter(&j, &mut b);
            assert_eq!(a, b);
            assert_eq!(size(&j), size_iter(&j));
            assert_eq!(size(&j), a.len());
        }
    }

    #[test]
    fn stored_values_are_at_most_max_depth() {
        use amelie_common::json::MAX_DEPTH;
        use amelie_common::Value;
        let row = |d: usize| vec![Value::Int(1), Value::Json(Box::new(nested(d)))];
        assert!(crate::check_values(&row(MAX_DEPTH)).is_ok());
        let e = crate::check_values(&row(MAX_DEPTH + 1)).unwrap_err();
        assert_eq!(e.msg(), "json nesting is too deep");
        // what may be stored always loads again
        const { assert!(MAX_DEPTH < JSON_MAX_DEPTH) };
    }

    #[test]
    fn garbage_is_refused_not_panicking() {
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut ok = 0;
        for _ in 0..50_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 16) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|i| (seed.rotate_left(i as u32 * 5) % 10) as u8)
                .collect();
            if let Ok(j) = decode(&bytes, 8) {
                let mut out = Vec::new();
                write(&j, &mut out);
                assert_eq!(out, bytes);
                ok += 1;
            }
        }
        assert!(ok > 0);
    }
}
