//! A secondary index: a sorted set of `secondary key ++ primary key` entries.
//!
//! Both unique and non-unique indexes store the pair, so two rows with the same secondary
//! key (allowed in a non-unique index, and in a unique one when the key holds a NULL) keep
//! an entry each. The key encoding is self-delimiting, so the entries of one secondary key
//! are exactly those that start with its bytes, and they sort by secondary key first.

use crate::key::{key_prefix_len, KeyBuf, KeySink};
use crate::row::Row;
use std::collections::BTreeSet;
use std::ops::Bound;

pub(crate) struct Secondary {
    pub(crate) cols: Box<[usize]>,
    pub(crate) unique: bool,
    entries: BTreeSet<Box<[u8]>>,
}

impl Secondary {
    pub(crate) fn new(cols: &[usize], unique: bool) -> Secondary {
        Secondary {
            cols: cols.into(),
            unique,
            entries: BTreeSet::new(),
        }
    }

    fn sec_key(&self, row: &Row, out: &mut KeyBuf) {
        out.clear();
        row.key_into(&self.cols, out);
    }

    fn entry(&self, row: &Row, pk: &[u8], out: &mut KeyBuf) {
        self.sec_key(row, out);
        out.put(pk);
    }

    pub(crate) fn insert(&mut self, row: &Row, pk: &[u8]) {
        let mut b = KeyBuf::new();
        self.entry(row, pk, &mut b);
        self.entries.insert(b.as_slice().into());
    }

    fn remove(&mut self, row: &Row, pk: &[u8]) {
        let mut b = KeyBuf::new();
        self.entry(row, pk, &mut b);
        self.entries.remove(b.as_slice());
    }

    /// The row under primary key `pk` changes from `old` to `new`.
    pub(crate) fn replace(&mut self, pk: &[u8], old: Option<&Row>, new: Option<&Row>) {
        if let (Some(o), Some(n)) = (old, new) {
            let (mut a, mut b) = (KeyBuf::new(), KeyBuf::new());
            self.sec_key(o, &mut a);
            self.sec_key(n, &mut b);
            if a.as_slice() == b.as_slice() {
                return;
            }
        }
        if let Some(o) = old {
            self.remove(o, pk);
        }
        if let Some(n) = new {
            self.insert(n, pk);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }

    /// Primary keys in secondary-key order (ties in primary-key order).
    pub(crate) fn scan(&self, mut f: impl FnMut(&[u8]) -> bool) {
        let n = self.cols.len();
        for e in &self.entries {
            let at = key_prefix_len(e, n).unwrap_or(e.len());
            if !f(&e[at..]) {
                return;
            }
        }
    }

    /// Whether `new` would break uniqueness: another row (primary key other than
    /// `replacing_pk`) has the same secondary key. Keys holding a NULL never conflict, and
    /// a non-unique index never reports one.
    pub(crate) fn conflict(&self, new: &Row, replacing_pk: Option<&[u8]>) -> bool {
        if !self.unique || self.cols.iter().any(|&c| new.get_ref(c).is_null()) {
            return false;
        }
        let mut b = KeyBuf::new();
        self.sec_key(new, &mut b);
        let sk = b.as_slice();
        for e in self
            .entries
            .range::<[u8], _>((Bound::Included(sk), Bound::Unbounded))
        {
            let Some(pk) = e.strip_prefix(sk) else {
                break;
            };
            if Some(pk) != replacing_pk {
                return true;
            }
        }
        false
    }
}
