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

const SEED: u64 = 0x9e37_79b9_7f4a_7c15;

impl FxHasher {
    /// Folds one word in. For a fixed state the map from `w` to the new state is a bijection
    /// (xor, multiply by an odd constant, xorshift), so distinct keys of one length never
    /// collide before `finish`.
    #[inline]
    fn mix(&mut self, w: u64) {
        let h = (self.hash ^ w).wrapping_mul(SEED);
        self.hash = h ^ (h >> 29);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
            self.mix(w);
        }
        for &b in chunks.remainder() {
            self.mix(b as u64);
        }
    }

    fn write_u64(&mut self, i: u64) {
        self.mix(i);
    }

    fn finish(&self) -> u64 {
        // final avalanche (murmur3 fmix64) so that keys differing only in their high bytes
        // still spread over the low bits a hash table uses to pick buckets
        let mut h = self.hash;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
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
    fn hash_spreads_sequential_int_keys_over_low_bits() {
        use std::collections::HashSet;
        use std::hash::BuildHasher;
        let b = FastHasher::default();
        let buckets: HashSet<u64> = (0..4096i64)
            .map(|i| b.hash_one(key(&[Value::Int(i)])) & 0xfff)
            .collect();
        assert!(
            buckets.len() > 2000,
            "only {} distinct low-bit buckets",
            buckets.len()
        );
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
