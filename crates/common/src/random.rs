//! Randomness: `random()`, RANDOM columns and every generated UUID (server id, node ids,
//! `random_uuid()`).
//!
//! All of it comes from `rand`'s thread-local generator ([`rand::rng`]): a cryptographically
//! secure generator per thread, seeded from the operating system and reseeded by `rand`. There
//! is no shared state, so two threads (two frontends, two nodes) never race on a seed and never
//! draw the same values.

use rand::RngExt;

/// A random non-negative 64-bit integer (`random()`, RANDOM columns): 63 random bits.
pub fn random_i64() -> i64 {
    (rand::rng().random::<u64>() >> 1) as i64
}

/// A random version 4 UUID in its canonical lower-case `xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`
/// form (36 characters).
pub fn uuid_v4() -> String {
    let bytes: [u8; 16] = rand::rng().random();
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn uuid_form() {
        let a = uuid_v4();
        assert_eq!(a.len(), 36, "{a}");
        for (i, c) in a.bytes().enumerate() {
            match i {
                8 | 13 | 18 | 23 => assert_eq!(c, b'-', "{a}"),
                _ => assert!(matches!(c, b'0'..=b'9' | b'a'..=b'f'), "{a}"),
            }
        }
        assert_eq!(&a[14..15], "4", "{a}");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "{a}");
        assert_ne!(uuid_v4(), a);
    }

    /// 8 threads drawing 10,000 UUIDs each at the same time: all 80,000 are distinct (the old
    /// generator shared one racing xorshift state, so two threads could draw the same value).
    #[test]
    fn concurrent_uuids_are_distinct() {
        const THREADS: usize = 8;
        const EACH: usize = 10_000;
        let barrier = std::sync::Barrier::new(THREADS);
        let all: Vec<Vec<String>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..THREADS)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        (0..EACH).map(|_| uuid_v4()).collect::<Vec<_>>()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let set: HashSet<&String> = all.iter().flatten().collect();
        assert_eq!(set.len(), THREADS * EACH);
    }

    #[test]
    fn random_is_non_negative_and_varies() {
        let values: HashSet<i64> = (0..1000).map(|_| random_i64()).collect();
        assert!(values.iter().all(|v| *v >= 0));
        assert!(values.len() > 990);
        // the top bit of the 63 is used: some value above 2^62 in 1000 draws
        assert!(values.iter().any(|v| *v >= 1 << 62));
    }
}
