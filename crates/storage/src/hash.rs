//! The hash index: a `hashbrown::HashTable` of rows, hashed by their encoded key.
//!
//! The hash of a row is the hash of its key bytes (the key is produced into a stack buffer,
//! hashed, and dropped) under the index's own randomly seeded [`FastState`]: two indexes, or
//! one index in two runs of the server, hash the same key differently, so keys made to
//! collide in one do not collide in another (`docs/decisions.md` section 19). A scan returns
//! rows in table order, which therefore differs between indexes and between runs.

use crate::key::KeyBuf;
use crate::row::Row;
use crate::tree::Upserted;
use amelie_common::FastState;
use hashbrown::hash_table::{Entry, HashTable};
use std::cmp::Ordering;

/// The hash function of a hash index. [`FastState`] is the one the server uses; tests plug in
/// others to see what a fixed, known hash would let a client do.
pub(crate) trait KeyHash {
    fn hash_key(&self, key: &[u8]) -> u64;

    /// Takes new seeds, if the hash has any (called only while the index is empty).
    fn reseed(&mut self) {}
}

impl KeyHash for FastState {
    #[inline]
    fn hash_key(&self, key: &[u8]) -> u64 {
        self.hash_bytes(key)
    }

    fn reseed(&mut self) {
        *self = FastState::random();
    }
}

pub(crate) struct HashIndex<H: KeyHash = FastState> {
    table: HashTable<Row>,
    hasher: H,
}

#[inline]
fn row_hash(hasher: &impl KeyHash, kc: &[usize], row: &Row) -> u64 {
    let mut kb = KeyBuf::new();
    row.key_into(kc, &mut kb);
    hasher.hash_key(kb.as_slice())
}

/// Whether `row` has the key `key`: the equality of every probe.
#[inline]
fn has_key(kc: &[usize], row: &Row, key: &[u8]) -> bool {
    #[cfg(test)]
    COMPARISONS.with(|c| c.set(c.get() + 1));
    row.cmp_key(kc, key) == Ordering::Equal
}

#[cfg(test)]
thread_local! {
    /// Key comparisons made by hash index probes on this thread (tests measure the cost of
    /// a flood of colliding keys with it).
    pub(crate) static COMPARISONS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

impl HashIndex {
    pub(crate) fn new() -> HashIndex {
        HashIndex::with_hasher(FastState::random())
    }
}

impl<H: KeyHash> HashIndex<H> {
    pub(crate) fn with_hasher(hasher: H) -> HashIndex<H> {
        HashIndex {
            table: HashTable::new(),
            hasher,
        }
    }

    /// The hash the index gives `key`.
    #[cfg(test)]
    pub(crate) fn hash_of(&self, key: &[u8]) -> u64 {
        self.hasher.hash_key(key)
    }

    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    /// Empties the index, which then hashes with new seeds.
    pub(crate) fn clear(&mut self) {
        self.table.clear();
        self.hasher.reseed();
    }

    pub(crate) fn get(&self, kc: &[usize], key: &[u8]) -> Option<&Row> {
        self.table
            .find(self.hasher.hash_key(key), |r| has_key(kc, r, key))
    }

    /// Inserts or replaces the row under `key` (which must be `row`'s key); returns the
    /// replaced row.
    pub(crate) fn put(&mut self, kc: &[usize], key: &[u8], row: Row) -> Option<Row> {
        match self.table.entry(
            self.hasher.hash_key(key),
            |r| has_key(kc, r, key),
            |r| row_hash(&self.hasher, kc, r),
        ) {
            Entry::Occupied(mut e) => Some(std::mem::replace(e.get_mut(), row)),
            Entry::Vacant(e) => {
                e.insert(row);
                None
            }
        }
    }

    /// Inserts the row under `key` unless the key is present (then the row comes back,
    /// with the present one).
    /// Drives the table exactly like [`HashIndex::put`] of a new key.
    pub(crate) fn insert_new(
        &mut self,
        kc: &[usize],
        key: &[u8],
        row: Row,
    ) -> Result<(), (Row, &Row)> {
        match self.table.entry(
            self.hasher.hash_key(key),
            |r| has_key(kc, r, key),
            |r| row_hash(&self.hasher, kc, r),
        ) {
            Entry::Occupied(e) => Err((row, e.into_mut())),
            Entry::Vacant(e) => {
                e.insert(row);
                Ok(())
            }
        }
    }

    /// Insert or update with one probe (see `Tree::upsert`); drives the table like
    /// [`HashIndex::put`].
    pub(crate) fn upsert<E>(
        &mut self,
        kc: &[usize],
        key: &[u8],
        decide: impl FnOnce(Option<&Row>) -> Result<Option<Row>, E>,
    ) -> Result<Upserted, E> {
        Ok(
            match self.table.entry(
                self.hasher.hash_key(key),
                |r| has_key(kc, r, key),
                |r| row_hash(&self.hasher, kc, r),
            ) {
                Entry::Occupied(mut e) => match decide(Some(e.get()))? {
                    Some(row) => Upserted::Replaced(std::mem::replace(e.get_mut(), row)),
                    None => Upserted::Kept,
                },
                Entry::Vacant(e) => match decide(None)? {
                    Some(row) => {
                        e.insert(row);
                        Upserted::Inserted
                    }
                    None => Upserted::Kept,
                },
            },
        )
    }

    pub(crate) fn remove(&mut self, kc: &[usize], key: &[u8]) -> Option<Row> {
        self.table
            .find_entry(self.hasher.hash_key(key), |r| has_key(kc, r, key))
            .ok()
            .map(|e| e.remove().0)
    }

    /// Visits rows in table order with their keys until `f` returns false.
    pub(crate) fn scan(&self, kc: &[usize], mut f: impl FnMut(&[u8], &Row) -> bool) {
        let mut kb = KeyBuf::new();
        for r in self.table.iter() {
            kb.clear();
            r.key_into(kc, &mut kb);
            if !f(kb.as_slice(), r) {
                return;
            }
        }
    }

    pub(crate) fn rows_mut(&mut self) -> impl Iterator<Item = &mut Row> {
        self.table.iter_mut()
    }
}
