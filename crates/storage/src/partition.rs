//! A partition: rows indexed by the primary key, in a tree or a hash index, plus its
//! secondary indexes.
//!
//! Keys are memcomparable bytes (`encode_key`); the indexes store only rows and produce a
//! row's key when they compare or hash it. Callbacks get the key bytes from a buffer reused
//! for every row.

use crate::hash::HashIndex;
use crate::row::Row;
use crate::secondary::Secondary;
use crate::tree::{Tree, Upserted};
use crate::undo::UndoLog;
use amelie_common::IndexKind;
use std::ops::Bound;

enum Index {
    Tree(Tree),
    Hash(HashIndex),
}

impl Index {
    fn get(&self, kc: &[usize], key: &[u8]) -> Option<&Row> {
        match self {
            Index::Tree(t) => t.get(kc, key),
            Index::Hash(h) => h.get(kc, key),
        }
    }

    fn put(&mut self, kc: &[usize], key: &[u8], row: Row) -> Option<Row> {
        match self {
            Index::Tree(t) => t.put(kc, key, row),
            Index::Hash(h) => h.put(kc, key, row),
        }
    }

    fn insert_new(&mut self, kc: &[usize], key: &[u8], row: Row) -> Result<(), (Row, &Row)> {
        match self {
            Index::Tree(t) => t.insert_new(kc, key, row),
            Index::Hash(h) => h.insert_new(kc, key, row),
        }
    }

    fn remove(&mut self, kc: &[usize], key: &[u8]) -> Option<Row> {
        match self {
            Index::Tree(t) => t.remove(kc, key),
            Index::Hash(h) => h.remove(kc, key),
        }
    }
}

pub struct Partition {
    pub id: u64,
    pub table_id: u64,
    key_cols: Box<[usize]>,
    index: Index,
    /// Secondary indexes, in catalog order (the primary index excluded).
    secondary: Vec<Secondary>,
}

impl Partition {
    pub fn new(id: u64, table_id: u64, kind: IndexKind, key_cols: &[usize]) -> Partition {
        let index = match kind {
            IndexKind::Tree => Index::Tree(Tree::new()),
            IndexKind::Hash => Index::Hash(HashIndex::new()),
        };
        Partition {
            id,
            table_id,
            key_cols: key_cols.into(),
            index,
            secondary: Vec::new(),
        }
    }

    pub fn key_cols(&self) -> &[usize] {
        &self.key_cols
    }

    /// Encodes the primary key of `row` into `out` (cleared first).
    pub fn row_key(&self, row: &Row, out: &mut Vec<u8>) {
        out.clear();
        row.encode_key(&self.key_cols, out);
    }

    pub fn len(&self) -> usize {
        match &self.index {
            Index::Tree(t) => t.len(),
            Index::Hash(h) => h.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, key: &[u8]) -> Option<&Row> {
        self.index.get(&self.key_cols, key)
    }

    /// Puts `row` under `key` (which must be the key of `row`).
    ///
    /// Without `undo`, returns the row it replaced. With `undo`, the replaced row (or None
    /// for a new key) moves into the log, nothing is copied, and the result is None; read it
    /// back with [`UndoLog::last_old`] if needed.
    pub fn put(&mut self, key: &[u8], row: Row, undo: Option<&mut UndoLog>) -> Option<Row> {
        debug_assert!(
            row.cmp_key(&self.key_cols, key).is_eq(),
            "key of another row"
        );
        if !self.secondary.is_empty() {
            let old = self.index.get(&self.key_cols, key);
            for s in self.secondary.iter_mut() {
                s.replace(key, old, Some(&row));
            }
        }
        let old = self.index.put(&self.key_cols, key, row);
        match undo {
            Some(undo) => {
                undo.push(self.id, key, old);
                None
            }
            None => old,
        }
    }

    /// Inserts `row` under `key` (which must be its key) when the key is not present, with
    /// one search of the index (INSERT of a new row); a present key leaves everything as it
    /// was and gives the row back with the present one (an upsert then computes the new
    /// image from it).
    pub fn insert_new(
        &mut self,
        key: &[u8],
        row: Row,
        undo: Option<&mut UndoLog>,
    ) -> Result<(), (Row, &Row)> {
        debug_assert!(
            row.cmp_key(&self.key_cols, key).is_eq(),
            "key of another row"
        );
        if !self.secondary.is_empty() {
            if self.index.get(&self.key_cols, key).is_none() {
                self.put(key, row, undo);
                return Ok(());
            }
            let present = self.index.get(&self.key_cols, key).ok_or(());
            return match present {
                Ok(p) => Err((row, p)),
                Err(()) => Ok(()),
            };
        }
        let id = self.id;
        match self.index.insert_new(&self.key_cols, key, row) {
            Ok(()) => {
                if let Some(undo) = undo {
                    undo.push(id, key, None);
                }
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Insert or update with one search of the index: `decide` sees the row under `key`
    /// (None: absent) and returns the row to store there (None: leave it as it is), which
    /// must have the key `key`. The change is logged in `undo`. Returns whether a row was
    /// stored.
    pub fn upsert<E>(
        &mut self,
        key: &[u8],
        undo: &mut UndoLog,
        decide: impl FnOnce(Option<&Row>) -> Result<Option<Row>, E>,
    ) -> Result<bool, E> {
        if !self.secondary.is_empty() {
            // secondary indexes follow every put: the plain path
            let row = decide(self.index.get(&self.key_cols, key))?;
            return Ok(match row {
                Some(row) => {
                    self.put(key, row, Some(undo));
                    true
                }
                None => false,
            });
        }
        let id = self.id;
        let kc = &self.key_cols;
        let done = match &mut self.index {
            Index::Tree(t) => t.upsert(kc, key, decide)?,
            Index::Hash(h) => h.upsert(kc, key, decide)?,
        };
        Ok(match done {
            Upserted::Inserted => {
                undo.push(id, key, None);
                true
            }
            Upserted::Replaced(old) => {
                undo.push(id, key, Some(old));
                true
            }
            Upserted::Kept => false,
        })
    }

    /// Removes the row under `key`.
    ///
    /// Without `undo`, returns it. With `undo`, a removed row moves into the log and the
    /// result is None (read it back with [`UndoLog::last_old`]); nothing is logged when the
    /// key is absent.
    pub fn remove(&mut self, key: &[u8], undo: Option<&mut UndoLog>) -> Option<Row> {
        let old = self.index.remove(&self.key_cols, key)?;
        for s in self.secondary.iter_mut() {
            s.replace(key, Some(&old), None);
        }
        match undo {
            Some(undo) => {
                undo.push(self.id, key, Some(old));
                None
            }
            None => Some(old),
        }
    }

    /// Restores `key` to `old` without logging (used by rollback).
    pub fn restore(&mut self, key: &[u8], old: Option<Row>) {
        match old {
            Some(row) => {
                self.put(key, row, None);
            }
            None => {
                self.remove(key, None);
            }
        }
    }

    /// Visits rows in index order (tree: key order; hash: hash order) until `f` returns false.
    pub fn scan(&self, f: impl FnMut(&[u8], &Row) -> bool) {
        match &self.index {
            Index::Tree(t) => t.scan(&self.key_cols, f),
            Index::Hash(h) => h.scan(&self.key_cols, f),
        }
    }

    /// Visits rows whose key lies within the bounds (tree: in key order), or all rows filtered
    /// by the bounds (hash: in hash order), until `f` returns false. An empty or inverted
    /// range visits nothing.
    pub fn scan_range(
        &self,
        from: Bound<&[u8]>,
        to: Bound<&[u8]>,
        mut f: impl FnMut(&[u8], &Row) -> bool,
    ) {
        match &self.index {
            Index::Tree(t) => t.scan_range(&self.key_cols, from, to, f),
            Index::Hash(h) => h.scan(&self.key_cols, |k, r| {
                let after = match from {
                    Bound::Included(b) => k >= b,
                    Bound::Excluded(b) => k > b,
                    Bound::Unbounded => true,
                };
                let before = match to {
                    Bound::Included(b) => k <= b,
                    Bound::Excluded(b) => k < b,
                    Bound::Unbounded => true,
                };
                if after && before {
                    f(k, r)
                } else {
                    true
                }
            }),
        }
    }

    /// The hash primary index, if the partition has one.
    #[cfg(test)]
    pub(crate) fn hash_index(&self) -> Option<&HashIndex> {
        match &self.index {
            Index::Hash(h) => Some(h),
            Index::Tree(_) => None,
        }
    }

    pub fn clear(&mut self) {
        match &mut self.index {
            Index::Tree(t) => t.clear(),
            Index::Hash(h) => h.clear(),
        }
        for sec in self.secondary.iter_mut() {
            sec.clear();
        }
    }

    /// Rewrites every row in place (ALTER TABLE ADD/DROP COLUMN) and sets the key column
    /// ordinals of the new row shape. The key values themselves must not change.
    pub fn rewrite_rows(&mut self, key_cols: &[usize], f: impl FnMut(&mut Row)) {
        match &mut self.index {
            Index::Tree(t) => t.rows_mut().for_each(f),
            Index::Hash(h) => h.rows_mut().for_each(f),
        }
        self.key_cols = key_cols.into();
    }

    /// Adds a secondary index on `cols` (appended after the existing ones) and builds it from
    /// the rows present.
    pub fn create_secondary(&mut self, cols: &[usize], unique: bool) {
        let mut sec = Secondary::new(cols, unique);
        self.scan(|k, r| {
            sec.insert(r, k);
            true
        });
        self.secondary.push(sec);
    }

    /// [`Partition::create_secondary`] that refuses to build a unique index over rows that
    /// break it: when two rows share a key (keys holding a NULL never do), nothing is added
    /// and the answer is false.
    pub fn try_create_secondary(&mut self, cols: &[usize], unique: bool) -> bool {
        let mut sec = Secondary::new(cols, unique);
        let mut ok = true;
        self.scan(|k, r| {
            if sec.conflict(r, Some(k)) {
                ok = false;
                return false;
            }
            sec.insert(r, k);
            true
        });
        if ok {
            self.secondary.push(sec);
        }
        ok
    }

    /// Drops the `i`-th secondary index.
    pub fn drop_secondary(&mut self, i: usize) {
        if i < self.secondary.len() {
            self.secondary.remove(i);
        }
    }

    /// After column `dropped` was removed from every row: shifts secondary key ordinals.
    pub fn shift_secondary(&mut self, dropped: usize) {
        for sec in self.secondary.iter_mut() {
            for c in sec.cols.iter_mut() {
                if *c > dropped {
                    *c -= 1;
                }
            }
        }
    }

    /// Number of entries of each secondary index (tests, consistency checks).
    pub fn secondary_lens(&self) -> Vec<usize> {
        self.secondary.iter().map(|s| s.len()).collect()
    }

    /// Primary keys in the order of secondary index `i` (ties in primary-key order).
    pub fn secondary_scan(&self, i: usize, f: impl FnMut(&[u8]) -> bool) {
        if let Some(s) = self.secondary.get(i) {
            s.scan(f);
        }
    }

    /// Whether putting `new` would break unique secondary index `index`: another row
    /// (primary key other than `replacing_pk`) has the same key there. Keys holding a NULL
    /// never conflict; a non-unique or missing index never reports a conflict. Pass the
    /// primary key of the row `new` replaces (upsert/update), None for a new row.
    pub fn unique_conflict(&self, index: usize, new: &Row, replacing_pk: Option<&[u8]>) -> bool {
        self.secondary
            .get(index)
            .is_some_and(|s| s.conflict(new, replacing_pk))
    }
}
