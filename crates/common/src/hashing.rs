//! The hash of hash indexes and of every hot-path map: foldhash's fast variant, seeded at
//! random from the operating system.
//!
//! Each [`FastState`] has a seed of its own (drawn from `rand`'s OS-seeded generator), on top
//! of a second seed shared by the whole process (drawn once, at first use). Keys that a client
//! has made to collide under one seed are spread again under any other, so a flood aimed at
//! one hash index, or learnt from one process, does not carry over. `docs/decisions.md`
//! section 19 gives the choice and its limits.

use foldhash::fast::{FoldHasher, SeedableRandomState};
use foldhash::SharedSeed;
use rand::RngExt;
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

static PROCESS_SEED: OnceLock<SharedSeed> = OnceLock::new();

fn process_seed() -> &'static SharedSeed {
    PROCESS_SEED.get_or_init(|| SharedSeed::from_u64(rand::rng().random()))
}

/// A randomly seeded builder of fast hashers (a `BuildHasher`): the state of a hash index and
/// of [`FastMap`] / [`FastSet`].
#[derive(Clone, Debug)]
pub struct FastState(SeedableRandomState);

impl FastState {
    /// A state with a fresh random seed.
    pub fn random() -> FastState {
        FastState(SeedableRandomState::with_seed(
            rand::rng().random(),
            process_seed(),
        ))
    }

    /// A state with a fixed, known seed: the same hashes in every process. Only for tests
    /// that need to know the hash function (for example to build keys that collide).
    pub fn with_known_seed(seed: u64) -> FastState {
        FastState(SeedableRandomState::with_seed(
            seed,
            SharedSeed::global_fixed(),
        ))
    }

    /// The hash of a byte string (an encoded key).
    #[inline]
    pub fn hash_bytes(&self, bytes: &[u8]) -> u64 {
        let mut h = self.0.build_hasher();
        h.write(bytes);
        h.finish()
    }
}

impl Default for FastState {
    /// A state with a fresh random seed (see [`FastState::random`]).
    fn default() -> FastState {
        FastState::random()
    }
}

impl BuildHasher for FastState {
    type Hasher = FoldHasher<'static>;

    #[inline]
    fn build_hasher(&self) -> FoldHasher<'static> {
        self.0.build_hasher()
    }
}

/// A `HashMap` with a randomly seeded fast hasher.
pub type FastMap<K, V> = std::collections::HashMap<K, V, FastState>;

/// A `HashSet` with a randomly seeded fast hasher.
pub type FastSet<K> = std::collections::HashSet<K, FastState>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_state_hashes_differently() {
        let key = b"\x02\x80\x00\x00\x00\x00\x00\x00\x07";
        let hashes: std::collections::HashSet<u64> = (0..64)
            .map(|_| FastState::random().hash_bytes(key))
            .collect();
        // 64 random 64-bit seeds: equal hashes would mean the seed is not used
        assert_eq!(hashes.len(), 64);
    }

    #[test]
    fn a_known_seed_is_reproducible_and_a_random_one_is_not_it() {
        let key = b"user-0042";
        let a = FastState::with_known_seed(7).hash_bytes(key);
        assert_eq!(a, FastState::with_known_seed(7).hash_bytes(key));
        assert_ne!(a, FastState::with_known_seed(8).hash_bytes(key));
        assert_ne!(a, FastState::random().hash_bytes(key));
    }

    #[test]
    fn states_from_other_threads_differ() {
        let key = b"k";
        let here = FastState::random().hash_bytes(key);
        let there = std::thread::spawn(move || FastState::random().hash_bytes(key))
            .join()
            .unwrap();
        assert_ne!(here, there);
    }

    #[test]
    fn maps_work_with_the_state() {
        let mut m: FastMap<String, i32> = FastMap::default();
        m.insert("a".into(), 1);
        m.insert("b".into(), 2);
        assert_eq!(m.get("a"), Some(&1));
        let s: FastSet<i64> = (0..1000).collect();
        assert!(s.contains(&999) && !s.contains(&1000));
    }
}
