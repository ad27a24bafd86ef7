//! The fast hasher of hash indexes and grouping (FxHash-style, no SipHash), and the hash of
//! an encoded key.

use std::hash::{BuildHasherDefault, Hasher};

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
    #[inline]
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

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.mix(i);
    }

    #[inline]
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

/// The hash of an encoded key, fed exactly as `Hash for [u8]` feeds a hasher (the length as
/// a `usize`, then the bytes), so it equals `FastHasher::default().hash_one(key)`.
#[inline]
pub fn hash_key(key: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write_usize(key.len());
    h.write(key);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::encode_key;
    use amelie_common::Value;

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
    fn hash_key_matches_hash_of_boxed_slice() {
        use std::hash::BuildHasher;
        let b = FastHasher::default();
        for v in [
            vec![Value::Int(7)],
            vec![Value::str("abc\0def"), Value::Int(-1)],
            vec![],
        ] {
            let k = key(&v);
            let boxed: Box<[u8]> = k.clone().into();
            assert_eq!(hash_key(&k), b.hash_one(&boxed));
        }
    }
}
