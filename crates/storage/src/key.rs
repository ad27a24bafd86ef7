//! Key encoding: the primary-key columns of a row as bytes that compare (memcmp) in key order,
//! so indexes compare keys without decoding values.

use amelie_common::Value;
use std::hash::{BuildHasherDefault, Hasher};

/// Appends the order-preserving encoding of `values` to `out`.
/// Ints and timestamps: 8 bytes big-endian with the sign bit flipped. Text: bytes with 0x00
/// escaped as 0x00 0xFF, terminated by 0x00 0x01. Null sorts first (single 0x00 tag).
pub fn encode_key<'a>(values: impl IntoIterator<Item = &'a Value>, out: &mut Vec<u8>) {
    for v in values {
        match v {
            Value::Null => out.push(0),
            Value::Int(i) | Value::Timestamp(i) => {
                out.push(1);
                out.extend_from_slice(&((*i as u64) ^ (1 << 63)).to_be_bytes());
            }
            Value::Str(s) => {
                out.push(2);
                for &b in s.as_bytes() {
                    if b == 0 {
                        out.extend_from_slice(&[0, 0xff]);
                    } else {
                        out.push(b);
                    }
                }
                out.extend_from_slice(&[0, 1]);
            }
            other => {
                // Other types are not allowed as keys; encode their debug text for totality.
                out.push(3);
                out.extend_from_slice(format!("{other:?}").as_bytes());
                out.extend_from_slice(&[0, 1]);
            }
        }
    }
}

/// A small fast hasher (FxHash-style) for hash indexes and grouping.
#[derive(Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
            self.hash = (self.hash.rotate_left(5) ^ w).wrapping_mul(SEED);
        }
        for &b in chunks.remainder() {
            self.hash = (self.hash.rotate_left(5) ^ b as u64).wrapping_mul(SEED);
        }
    }

    fn write_u64(&mut self, i: u64) {
        self.hash = (self.hash.rotate_left(5) ^ i).wrapping_mul(SEED);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

pub type FastHasher = BuildHasherDefault<FxHasher>;

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
    }
}
