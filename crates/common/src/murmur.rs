//! murmur3_32, used to route rows to partitions (`hash % 8096`).

/// The hash slot of a primary key (`0 .. PARTITION_SLOTS`): murmur3_32 chained over the key
/// values, ints and timestamps as 8-byte little-endian, text as its bytes (spec §5.2).
pub fn key_slot<'a>(key: impl IntoIterator<Item = &'a crate::Value>) -> u32 {
    use crate::Value;
    let mut h = 0u32;
    for v in key {
        h = match v {
            Value::Int(i) | Value::Timestamp(i) => murmur3_32(&i.to_le_bytes(), h),
            Value::Str(s) => murmur3_32(s.as_bytes(), h),
            _ => h,
        };
    }
    h % PARTITION_SLOTS
}

/// MurmurHash3 x86 32-bit over `data` with `seed`.
pub fn murmur3_32(data: &[u8], seed: u32) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mut h = seed;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h ^= k;
        h = h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        let mut k: u32 = 0;
        for (i, b) in tail.iter().enumerate() {
            k |= (*b as u32) << (8 * i);
        }
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h ^= k;
    }
    h ^= data.len() as u32;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^= h >> 16;
    h
}

/// Number of hash slots partitions split among themselves.
pub const PARTITION_SLOTS: u32 = 8096;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        assert_eq!(murmur3_32(b"", 0), 0);
        assert_eq!(murmur3_32(b"", 1), 0x514e_28b7);
        assert_eq!(murmur3_32(b"hello", 0), 0x248b_fa47);
        assert_eq!(murmur3_32(b"Hello, world!", 1234), 0xfaf6_cdb3);
        assert_eq!(murmur3_32(&[0x21, 0x43, 0x65, 0x87], 0), 0xf55b_516b);
    }
}
