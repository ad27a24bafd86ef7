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

pub struct Partition {
    pub id: u64,
    pub table_id: u64,
    key_cols: Box<[usize]>,
    index: Index,
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
