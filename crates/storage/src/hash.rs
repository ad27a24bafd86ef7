//! The hash index: a `hashbrown::HashTable` of rows, hashed by their encoded key.
//!
//! The hash of a row is `hash_key` of its key bytes (the key is produced into a stack buffer,
//! hashed, and dropped), fed to the `FxHasher` exactly as `Hash for [u8]` would, and the table
//! is driven with the same calls `std::collections::HashMap::{insert, remove}` make on the
//! same hashbrown version, so a table built by a sequence of puts and removes iterates in the
//! same order as a `HashMap<Box<[u8]>, _, FastHasher>` built by the same sequence.

use crate::fxhash::hash_key;
use crate::key::KeyBuf;
use crate::row::Row;
use crate::tree::Upserted;
use hashbrown::hash_table::{Entry, HashTable};
use std::cmp::Ordering;

pub(crate) struct HashIndex {
    table: HashTable<Row>,
}

#[inline]
fn row_hash(kc: &[usize], row: &Row) -> u64 {
    let mut kb = KeyBuf::new();
    row.key_into(kc, &mut kb);
    hash_key(kb.as_slice())
}

impl HashIndex {
    pub(crate) fn new() -> HashIndex {
        HashIndex {
            table: HashTable::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    pub(crate) fn clear(&mut self) {
        self.table.clear();
    }

    pub(crate) fn get(&self, kc: &[usize], key: &[u8]) -> Option<&Row> {
        self.table
            .find(hash_key(key), |r| r.cmp_key(kc, key) == Ordering::Equal)
    }

    /// Inserts or replaces the row under `key` (which must be `row`'s key); returns the
    /// replaced row.
    pub(crate) fn put(&mut self, kc: &[usize], key: &[u8], row: Row) -> Option<Row> {
        match self.table.entry(
            hash_key(key),
            |r| r.cmp_key(kc, key) == Ordering::Equal,
            |r| row_hash(kc, r),
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
            hash_key(key),
            |r| r.cmp_key(kc, key) == Ordering::Equal,
            |r| row_hash(kc, r),
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
                hash_key(key),
                |r| r.cmp_key(kc, key) == Ordering::Equal,
                |r| row_hash(kc, r),
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
            .find_entry(hash_key(key), |r| r.cmp_key(kc, key) == Ordering::Equal)
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
