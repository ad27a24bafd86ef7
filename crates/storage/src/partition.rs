//! A partition: rows indexed by the primary key, in a tree or a hash index.

use crate::key::{encode_key, FastHasher};
use crate::undo::{UndoLog, UndoOp};
use amelie_common::{IndexKind, Value};
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

/// A stored row: one value per column.
pub type Row = Box<[Value]>;

enum Index {
    Tree(BTreeMap<Box<[u8]>, Row>),
    Hash(HashMap<Box<[u8]>, Row, FastHasher>),
}

/// A secondary index: secondary key (of `cols`) → primary key.
struct Secondary {
    cols: Box<[usize]>,
    map: BTreeMap<Box<[u8]>, Box<[u8]>>,
}

impl Secondary {
    fn key(&self, row: &[Value]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_key(
            self.cols
                .iter()
                .map(|&c| row.get(c).unwrap_or(&Value::Null)),
            &mut out,
        );
        out
    }

    fn insert(&mut self, row: &[Value], pk: &[u8]) {
        let k = self.key(row);
        self.map.insert(k.into(), pk.into());
    }

    fn remove(&mut self, row: &[Value], pk: &[u8]) {
        let k = self.key(row);
        if self.map.get(k.as_slice()).is_some_and(|v| **v == *pk) {
            self.map.remove(k.as_slice());
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
            IndexKind::Tree => Index::Tree(BTreeMap::new()),
            IndexKind::Hash => Index::Hash(HashMap::default()),
        };
        Partition {
            id,
            table_id,
            key_cols: key_cols.into(),
            index,
            secondary: Vec::new(),
        }
    }

    /// Adds a secondary index on `cols` (appended after the existing ones) and builds it from
    /// the rows present.
    pub fn create_secondary(&mut self, cols: &[usize]) {
        let mut sec = Secondary {
            cols: cols.into(),
            map: BTreeMap::new(),
        };
        self.scan(|k, r| {
            sec.insert(r, k);
            true
        });
        self.secondary.push(sec);
    }

    /// Drops the `i`-th secondary index.
    pub fn drop_secondary(&mut self, i: usize) {
        if i < self.secondary.len() {
            self.secondary.remove(i);
        }
    }

    /// Number of entries of each secondary index (tests, consistency checks).
    pub fn secondary_lens(&self) -> Vec<usize> {
        self.secondary.iter().map(|s| s.map.len()).collect()
    }

    /// Primary keys in the order of secondary index `i`.
    pub fn secondary_scan(&self, i: usize, mut f: impl FnMut(&[u8]) -> bool) {
        if let Some(s) = self.secondary.get(i) {
            for pk in s.map.values() {
                if !f(pk) {
                    break;
                }
            }
        }
    }

    fn secondary_update(&mut self, key: &[u8], old: Option<&Row>, new: Option<&Row>) {
        for s in self.secondary.iter_mut() {
            if let Some(o) = old {
                s.remove(o, key);
            }
            if let Some(n) = new {
                s.insert(n, key);
            }
        }
    }

    pub fn key_cols(&self) -> &[usize] {
        &self.key_cols
    }

    /// Rewrites every row in place (ALTER TABLE ADD/DROP COLUMN) and sets the key column
    /// ordinals of the new row shape. The key values themselves must not change.
    pub fn rewrite_rows(&mut self, key_cols: &[usize], mut f: impl FnMut(&mut Row)) {
        match &mut self.index {
            Index::Tree(m) => m.values_mut().for_each(&mut f),
            Index::Hash(m) => m.values_mut().for_each(&mut f),
        }
        self.key_cols = key_cols.into();
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

    /// Encodes the primary key of `row` into `out` (cleared first).
    pub fn row_key(&self, row: &[Value], out: &mut Vec<u8>) {
        out.clear();
        encode_key(self.key_cols.iter().map(|&c| &row[c]), out);
    }

    pub fn len(&self) -> usize {
        match &self.index {
            Index::Tree(m) => m.len(),
            Index::Hash(m) => m.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, key: &[u8]) -> Option<&Row> {
        match &self.index {
            Index::Tree(m) => m.get(key),
            Index::Hash(m) => m.get(key),
        }
    }

    /// Puts `row` under `key`, returning the previous row. Records undo when `undo` is given.
    pub fn put(&mut self, key: &[u8], row: Row, undo: Option<&mut UndoLog>) -> Option<Row> {
        if !self.secondary.is_empty() {
            let prev = self.get(key).cloned();
            self.secondary_update(key, prev.as_ref(), Some(&row));
        }
        let old = match &mut self.index {
            Index::Tree(m) => m.insert(key.into(), row),
            Index::Hash(m) => m.insert(key.into(), row),
        };
        if let Some(undo) = undo {
            undo.push(UndoOp {
                partition: self.id,
                key: key.into(),
                old: old.clone(),
            });
        }
        old
    }

    /// Removes the row under `key`, returning it. Records undo when `undo` is given.
    pub fn remove(&mut self, key: &[u8], undo: Option<&mut UndoLog>) -> Option<Row> {
        let old = match &mut self.index {
            Index::Tree(m) => m.remove(key),
            Index::Hash(m) => m.remove(key),
        };
        if !self.secondary.is_empty() {
            self.secondary_update(key, old.as_ref(), None);
        }
        if let (Some(undo), Some(row)) = (undo, &old) {
            undo.push(UndoOp {
                partition: self.id,
                key: key.into(),
                old: Some(row.clone()),
            });
        }
        old
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
    pub fn scan(&self, mut f: impl FnMut(&[u8], &Row) -> bool) {
        match &self.index {
            Index::Tree(m) => {
                for (k, r) in m {
                    if !f(k, r) {
                        break;
                    }
                }
            }
            Index::Hash(m) => {
                for (k, r) in m {
                    if !f(k, r) {
                        break;
                    }
                }
            }
        }
    }

    /// Visits rows whose key lies within the bounds (tree), or all rows filtered by the bounds
    /// (hash), until `f` returns false.
    pub fn scan_range(
        &self,
        from: Bound<&[u8]>,
        to: Bound<&[u8]>,
        mut f: impl FnMut(&[u8], &Row) -> bool,
    ) {
        match &self.index {
            Index::Tree(m) => {
                for (k, r) in m.range::<[u8], _>((from, to)) {
                    if !f(k, r) {
                        break;
                    }
                }
            }
            Index::Hash(_) => self.scan(|k, r| {
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

    pub fn clear(&mut self) {
        match &mut self.index {
            Index::Tree(m) => m.clear(),
            Index::Hash(m) => m.clear(),
        }
        for sec in self.secondary.iter_mut() {
            sec.map.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, v: i64) -> Row {
        vec![Value::Int(id), Value::Int(v)].into_boxed_slice()
    }

    #[test]
    fn tree_put_get_scan_in_order() {
        let mut p = Partition::new(1, 1, IndexKind::Tree, &[0]);
        let mut key = Vec::new();
        for id in [5, -3, 10, 0] {
            let r = row(id, id * 2);
            p.row_key(&r, &mut key);
            assert!(p.put(&key, r, None).is_none());
        }
        let mut ids = Vec::new();
        p.scan(|_, r| {
            ids.push(r[0].clone());
            true
        });
        assert_eq!(
            ids,
            vec![Value::Int(-3), Value::Int(0), Value::Int(5), Value::Int(10)]
        );
    }

    #[test]
    fn undo_restores_previous_state() {
        for kind in [IndexKind::Tree, IndexKind::Hash] {
            let mut p = Partition::new(7, 1, kind, &[0]);
            let mut key = Vec::new();
            p.row_key(&row(1, 1), &mut key);
            p.put(&key, row(1, 1), None);
            let mut undo = UndoLog::default();
            p.put(&key, row(1, 2), Some(&mut undo));
            let mut k2 = Vec::new();
            p.row_key(&row(2, 0), &mut k2);
            p.put(&k2, row(2, 0), Some(&mut undo));
            p.remove(&key, Some(&mut undo));
            undo.rollback(|_, k, old| p.restore(k, old));
            assert_eq!(p.len(), 1);
            assert_eq!(p.get(&key).unwrap()[1], Value::Int(1));
        }
    }
}

#[cfg(test)]
mod rewrite_tests {
    use super::*;

    #[test]
    fn rewrite_rows_keeps_keys() {
        let mut p = Partition::new(1, 1, IndexKind::Tree, &[1]);
        let mut key = Vec::new();
        for i in 0..3 {
            let row: Row = vec![Value::Int(100 + i), Value::Int(i)].into_boxed_slice();
            key.clear();
            p.row_key(&row, &mut key);
            p.put(&key, row, None);
        }
        p.rewrite_rows(&[0], |row| {
            let mut v = std::mem::take(row).into_vec();
            v.remove(0);
            *row = v.into_boxed_slice();
        });
        assert_eq!(p.key_cols(), &[0]);
        let mut n = 0;
        p.scan(|_, row| {
            assert_eq!(row.len(), 1);
            n += 1;
            true
        });
        assert_eq!(n, 3);
    }
}

#[cfg(test)]
mod secondary_tests {
    use super::*;
    use crate::undo::UndoLog;

    fn row(id: i64, v: i64) -> Row {
        vec![Value::Int(id), Value::Int(v)].into_boxed_slice()
    }

    #[test]
    fn secondary_follows_put_remove_and_undo() {
        let mut p = Partition::new(1, 1, IndexKind::Hash, &[0]);
        let mut key = Vec::new();
        for id in 0..3 {
            let r = row(id, 10 - id);
            p.row_key(&r, &mut key);
            p.put(&key, r, None);
        }
        p.create_secondary(&[1, 0]);
        assert_eq!(p.secondary_lens(), vec![3]);
        // secondary order is by v: ids 2, 1, 0
        let mut pks = Vec::new();
        p.secondary_scan(0, |pk| {
            pks.push(pk.to_vec());
            true
        });
        let mut k2 = Vec::new();
        p.row_key(&row(2, 0), &mut k2);
        assert_eq!(pks[0], k2);
        let mut undo = UndoLog::default();
        let r = row(5, 1);
        p.row_key(&r, &mut key);
        p.put(&key, r, Some(&mut undo));
        p.row_key(&row(0, 0), &mut key);
        p.remove(&key, Some(&mut undo));
        assert_eq!(p.secondary_lens(), vec![3]);
        undo.rollback(|_, k, old| p.restore(k, old));
        assert_eq!(p.secondary_lens(), vec![3]);
        p.drop_secondary(0);
        assert!(p.secondary_lens().is_empty());
    }
}
