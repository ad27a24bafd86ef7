//! Key encoding: the primary-key columns of a row as bytes that compare (memcmp) in key order,
//! so indexes compare keys without decoding values.
//!
//! The encoder writes into a [`KeySink`]: a `Vec<u8>`, a [`KeyBuf`] (stack buffer that spills
//! to a reused `Vec`), or a [`KeyCmp`] that compares the bytes against a search key as they
//! are produced and stops at the first difference, so a stored row's key is compared with a
//! search key without being materialised anywhere.

use amelie_common::Value;
use std::cmp::Ordering;

/// Tags of the key encoding (one byte before each column).
const K_NULL: u8 = 0;
const K_INT: u8 = 1;
const K_STR: u8 = 2;
const K_OTHER: u8 = 3;
/// Terminator of a text column; 0x00 inside the text is escaped as `0x00 0xFF`.
const STR_END: [u8; 2] = [0, 1];
const STR_NUL: [u8; 2] = [0, 0xff];

/// Where key bytes go. `put` returns false when the sink wants no more bytes.
pub(crate) trait KeySink {
    fn put(&mut self, bytes: &[u8]) -> bool;

    /// An int/timestamp column (tag and 8 bytes); sinks may take it without the bytes.
    #[inline]
    fn int(&mut self, i: i64) -> bool {
        let mut b = [0u8; 9];
        b[0] = K_INT;
        b[1..].copy_from_slice(&int_bits(i).to_be_bytes());
        self.put(&b)
    }
}

/// The 8 key bytes of an int, as a big-endian number (sign bit flipped).
#[inline]
fn int_bits(i: i64) -> u64 {
    (i as u64) ^ (1 << 63)
}

impl KeySink for Vec<u8> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) -> bool {
        self.extend_from_slice(bytes);
        true
    }
}

/// Appends the order-preserving encoding of `values` to `out`.
/// Ints and timestamps: 8 bytes big-endian with the sign bit flipped. Text: bytes with 0x00
/// escaped as 0x00 0xFF, terminated by 0x00 0x01. Null sorts first (single 0x00 tag).
pub fn encode_key<'a>(values: impl IntoIterator<Item = &'a Value>, out: &mut Vec<u8>) {
    for v in values {
        match v {
            Value::Null => key_null(out),
            Value::Int(i) | Value::Timestamp(i) => key_int(*i, out),
            Value::Str(s) => key_str(s, out),
            other => key_other(other, out),
        };
    }
}

#[inline]
pub(crate) fn key_null<S: KeySink>(out: &mut S) -> bool {
    out.put(&[K_NULL])
}

#[inline]
pub(crate) fn key_int<S: KeySink>(i: i64, out: &mut S) -> bool {
    out.int(i)
}

#[inline]
pub(crate) fn key_str<S: KeySink>(s: &str, out: &mut S) -> bool {
    if !out.put(&[K_STR]) {
        return false;
    }
    let mut parts = s.as_bytes().split(|&b| b == 0);
    if let Some(first) = parts.next() {
        if !out.put(first) {
            return false;
        }
    }
    for part in parts {
        if !out.put(&STR_NUL) || !out.put(part) {
            return false;
        }
    }
    out.put(&STR_END)
}

/// Types that are not allowed as keys: their debug text, for totality.
#[cold]
pub(crate) fn key_other<S: KeySink>(v: &Value, out: &mut S) -> bool {
    out.put(&[K_OTHER]) && out.put(format!("{v:?}").as_bytes()) && out.put(&STR_END)
}

/// Byte-string order (as `<[u8]>::cmp`), comparing 8 bytes at a time without a call.
#[inline]
pub(crate) fn cmp_bytes(mut a: &[u8], mut b: &[u8]) -> Ordering {
    while let (Some((x, ra)), Some((y, rb))) =
        (a.split_first_chunk::<8>(), b.split_first_chunk::<8>())
    {
        let (x, y) = (u64::from_be_bytes(*x), u64::from_be_bytes(*y));
        if x != y {
            return x.cmp(&y);
        }
        a = ra;
        b = rb;
    }
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return x.cmp(y);
        }
    }
    a.len().cmp(&b.len())
}

/// Length of the first `n` encoded columns of `key` (None: `key` is shorter or malformed).
pub(crate) fn key_prefix_len(key: &[u8], n: usize) -> Option<usize> {
    let mut pos = 0;
    for _ in 0..n {
        match *key.get(pos)? {
            K_NULL => pos += 1,
            K_INT => pos += 9,
            K_STR | K_OTHER => {
                pos += 1;
                loop {
                    let at = pos + key.get(pos..)?.iter().position(|&b| b == 0)?;
                    match *key.get(at + 1)? {
                        1 => {
                            pos = at + 2;
                            break;
                        }
                        _ => pos = at + 2,
                    }
                }
            }
            _ => return None,
        }
    }
    (pos <= key.len()).then_some(pos)
}

/// Compares produced key bytes with `key` as they arrive: the result is the ordering of the
/// produced key against `key`.
pub(crate) struct KeyCmp<'a> {
    key: &'a [u8],
    pos: usize,
    ord: Ordering,
}

impl<'a> KeyCmp<'a> {
    #[inline]
    pub(crate) fn new(key: &'a [u8]) -> Self {
        KeyCmp {
            key,
            pos: 0,
            ord: Ordering::Equal,
        }
    }

    #[inline]
    pub(crate) fn finish(self) -> Ordering {
        match self.ord {
            Ordering::Equal if self.pos < self.key.len() => Ordering::Less,
            o => o,
        }
    }
}

/// The ordering of the one-column key of int `i` against `key`.
#[inline(always)]
pub(crate) fn cmp_int_key(i: i64, key: &[u8]) -> Ordering {
    match key {
        [K_INT, b1, b2, b3, b4, b5, b6, b7, b8] => int_bits(i).cmp(&u64::from_be_bytes([
            *b1, *b2, *b3, *b4, *b5, *b6, *b7, *b8,
        ])),
        _ => {
            let mut c = KeyCmp::new(key);
            c.int(i);
            c.finish()
        }
    }
}

impl KeySink for KeyCmp<'_> {
    #[inline]
    fn int(&mut self, i: i64) -> bool {
        // compare as numbers when the search key has a whole int column here
        if let Some(&[K_INT, b1, b2, b3, b4, b5, b6, b7, b8]) = self.key.get(self.pos..self.pos + 9)
        {
            let theirs = u64::from_be_bytes([b1, b2, b3, b4, b5, b6, b7, b8]);
            match int_bits(i).cmp(&theirs) {
                Ordering::Equal => {
                    self.pos += 9;
                    true
                }
                o => {
                    self.ord = o;
                    false
                }
            }
        } else {
            let mut b = [0u8; 9];
            b[0] = K_INT;
            b[1..].copy_from_slice(&int_bits(i).to_be_bytes());
            self.put(&b)
        }
    }

    #[inline]
    fn put(&mut self, bytes: &[u8]) -> bool {
        let rest = &self.key[self.pos..];
        let n = bytes.len().min(rest.len());
        match bytes[..n].cmp(&rest[..n]) {
            Ordering::Equal if n < bytes.len() => {
                // the search key ended first: the produced key is longer
                self.ord = Ordering::Greater;
                false
            }
            Ordering::Equal => {
                self.pos += n;
                true
            }
            o => {
                self.ord = o;
                false
            }
        }
    }
}

const INLINE: usize = 64;

/// A key buffer on the stack that spills to a heap `Vec` for long keys; the `Vec` is kept
/// across `clear`, so a buffer reused for many keys allocates at most once.
pub(crate) struct KeyBuf {
    len: usize,
    spilled: bool,
    inline: [u8; INLINE],
    heap: Vec<u8>,
}

impl KeyBuf {
    #[inline]
    pub(crate) fn new() -> Self {
        KeyBuf {
            len: 0,
            spilled: false,
            inline: [0; INLINE],
            heap: Vec::new(),
        }
    }

    #[inline]
    pub(crate) fn clear(&mut self) {
        self.len = 0;
        self.spilled = false;
        self.heap.clear();
    }

    #[inline]
    pub(crate) fn as_slice(&self) -> &[u8] {
        if self.spilled {
            &self.heap
        } else {
            &self.inline[..self.len]
        }
    }
}

impl KeySink for KeyBuf {
    #[inline]
    fn put(&mut self, bytes: &[u8]) -> bool {
        if !self.spilled {
            let end = self.len + bytes.len();
            if end <= INLINE {
                self.inline[self.len..end].copy_from_slice(bytes);
                self.len = end;
                return true;
            }
            self.heap.extend_from_slice(&self.inline[..self.len]);
            self.spilled = true;
        }
        self.heap.extend_from_slice(bytes);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(v: &[Value]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_key(v, &mut out);
        out
    }

    #[test]
    fn int_keys_keep_order() {
        let vals = [-5i64, -1, 0, 1, 2, 1000, i64::MIN, i64::MAX];
        let mut sorted = vals.to_vec();
        sorted.sort();
        let mut by_key = vals.to_vec();
        by_key.sort_by_key(|v| key(&[Value::Int(*v)]));
        assert_eq!(sorted, by_key);
    }

    #[test]
    fn text_and_compound_keys_keep_order() {
        let a = key(&[Value::Int(1), Value::str("a")]);
        let b = key(&[Value::Int(1), Value::str("ab")]);
        let c = key(&[Value::Int(2), Value::str("")]);
        assert!(a < b && b < c);
        assert!(key(&[Value::str("a\0b")]) > key(&[Value::str("a")]));
        assert_eq!(key(&[Value::str("a\0b")]), b"\x02a\x00\xffb\x00\x01");
    }

    #[test]
    fn key_cmp_agrees_with_slice_order() {
        let keys: Vec<Vec<u8>> = [
            vec![],
            vec![Value::Null],
            vec![Value::Int(1)],
            vec![Value::Int(1), Value::str("")],
            vec![Value::Int(1), Value::str("a")],
            vec![Value::Int(1), Value::str("a\0")],
            vec![Value::Int(2)],
            vec![Value::str("zz")],
        ]
        .iter()
        .map(|v| key(v))
        .collect();
        for a in &keys {
            for b in &keys {
                let mut c = KeyCmp::new(b);
                // feed `a` in uneven pieces
                for piece in a.chunks(3) {
                    if !c.put(piece) {
                        break;
                    }
                }
                assert_eq!(c.finish(), a.as_slice().cmp(b.as_slice()), "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn key_prefix_len_splits_compound_keys() {
        let k = key(&[Value::str("a\0b"), Value::Null, Value::Int(3)]);
        assert_eq!(key_prefix_len(&k, 0), Some(0));
        assert_eq!(key_prefix_len(&k, 1), Some(7));
        assert_eq!(key_prefix_len(&k, 2), Some(8));
        assert_eq!(key_prefix_len(&k, 3), Some(k.len()));
        assert_eq!(key_prefix_len(&k, 4), None);
        assert_eq!(key_prefix_len(&k[..3], 1), None);
        let other = key(&[Value::Double(1.5), Value::Int(1)]);
        assert_eq!(key_prefix_len(&other, 2), Some(other.len()));
    }

    #[test]
    fn key_buf_spills_and_is_reused() {
        let mut b = KeyBuf::new();
        b.put(b"abc");
        assert_eq!(b.as_slice(), b"abc");
        let long = vec![7u8; 100];
        b.put(&long);
        assert_eq!(b.as_slice().len(), 103);
        assert_eq!(&b.as_slice()[..3], b"abc");
        b.clear();
        assert!(b.as_slice().is_empty());
        b.put(b"x");
        assert_eq!(b.as_slice(), b"x");
    }
}
