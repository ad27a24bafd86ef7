//! The ordered (tree) index: rows kept sorted by key in leaves of up to `LEAF_CAP` rows, the
//! leaves under a `BTreeMap` from a separator key to the leaf.
//!
//! Invariants (checked by `check` in tests):
//! - leaf `i` holds the keys in `[sep_i, sep_{i+1})`; the first leaf's separator is the empty
//!   key, so every key routes to the last leaf whose separator is `<=` it;
//! - leaves are never empty, sorted, and allocated once with capacity `cap`;
//! - rows are the only per-row storage: keys are produced from them when compared.
//!
//! Splits are append-friendly: an insert past the last key of a full leaf starts a new leaf
//! and leaves the full one behind, so ascending inserts fill leaves to 100%; an insert right
//! after the row inserted last into that leaf (an ascending run with rows after it, e.g. one
//! of several interleaved ascending streams) cuts the leaf at that point, for the same
//! reason. Other splits cut the leaf in half. A leaf that falls below a quarter is merged
//! into a neighbour when the result stays within three quarters; an empty leaf is removed.

use crate::key::{cmp_bytes, KeyBuf, KeySink};
use crate::row::Row;
use crate::sep::{KeyStr, Sep};
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::ops::Bound;

/// Rows per leaf (a leaf is one `cap * 8`-byte allocation).
pub(crate) const LEAF_CAP: usize = 128;

/// What an upsert did.
#[derive(Debug)]
pub enum Upserted {
    Inserted,
    /// The row that was replaced.
    Replaced(Row),
    Kept,
}

/// What an insert did.
enum Inserted<'t> {
    New,
    Replaced(Row),
    /// Not replaced: the row back, and the present one.
    Present(Row, &'t Row),
}

pub(crate) struct Tree {
    leaves: BTreeMap<Sep, Leaf>,
    len: usize,
    cap: usize,
}

struct Leaf {
    rows: Vec<Row>,
    /// Address of the row inserted last into this leaf (detects ascending runs).
    last: usize,
}

impl Leaf {
    fn new(cap: usize, row: Row) -> Leaf {
        let mut rows = Vec::with_capacity(cap);
        let last = addr(&row);
        rows.push(row);
        Leaf { rows, last }
    }
}

#[inline]
fn addr(row: &Row) -> usize {
    row.as_bytes().as_ptr() as usize
}

impl Tree {
    pub(crate) fn new() -> Tree {
        Tree::with_leaf_cap(LEAF_CAP)
    }

    pub(crate) fn with_leaf_cap(cap: usize) -> Tree {
        Tree {
            leaves: BTreeMap::new(),
            len: 0,
            cap: cap.max(4),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn clear(&mut self) {
        self.leaves.clear();
        self.len = 0;
    }

    /// The leaf that holds (or would hold) `key`, with its separator. The last leaf is
    /// tried first: reaching it follows the map's right edge without a comparison, and
    /// ascending keys (SERIAL ids, time) always land there.
    #[inline]
    fn route(&self, key: &[u8]) -> Option<(&[u8], &[Row])> {
        let (sep, leaf) = self.leaves.last_key_value()?;
        if cmp_bytes(key, sep.as_bytes()).is_ge() {
            return Some((sep.as_bytes(), &leaf.rows[..]));
        }
        self.leaves
            .range::<KeyStr, _>((Bound::Unbounded, Bound::Included(KeyStr::new(key))))
            .next_back()
            .map(|(sep, leaf)| (sep.as_bytes(), &leaf.rows[..]))
    }

    /// The leaf that holds (or would hold) `key`, to change it (see [`Tree::route`]).
    #[inline]
    fn route_mut<'t>(leaves: &'t mut BTreeMap<Sep, Leaf>, key: &[u8]) -> Option<&'t mut Leaf> {
        let last = leaves
            .last_key_value()
            .is_some_and(|(sep, _)| cmp_bytes(key, sep.as_bytes()).is_ge());
        if last {
            return leaves.last_entry().map(|e| e.into_mut());
        }
        leaves
            .range_mut::<KeyStr, _>((Bound::Unbounded, Bound::Included(KeyStr::new(key))))
            .next_back()
            .map(|(_, leaf)| leaf)
    }

    pub(crate) fn get(&self, kc: &[usize], key: &[u8]) -> Option<&Row> {
        let (_, leaf) = self.route(key)?;
        let i = leaf.binary_search_by(|r| r.cmp_key(kc, key)).ok()?;
        leaf.get(i)
    }

    /// Inserts or replaces the row under `key` (which must be `row`'s key); returns the
    /// replaced row.
    pub(crate) fn put(&mut self, kc: &[usize], key: &[u8], row: Row) -> Option<Row> {
        match self.insert(kc, key, row, true) {
            Inserted::New => None,
            Inserted::Replaced(old) => Some(old),
            Inserted::Present(..) => None,
        }
    }

    /// Inserts the row under `key` (which must be `row`'s key) unless the key is present:
    /// then nothing changes, and the row comes back with the present one. One search
    /// either way.
    pub(crate) fn insert_new(
        &mut self,
        kc: &[usize],
        key: &[u8],
        row: Row,
    ) -> Result<(), (Row, &Row)> {
        match self.insert(kc, key, row, false) {
            Inserted::Present(row, present) => Err((row, present)),
            _ => Ok(()),
        }
    }

    /// Inserts `row` under `key`; a present key is replaced with `replace`, else left alone.
    fn insert(&mut self, kc: &[usize], key: &[u8], row: Row, replace: bool) -> Inserted<'_> {
        let cap = self.cap;
        let Some(leaf) = Self::route_mut(&mut self.leaves, key) else {
            self.leaves.insert(Sep::new(&[]), Leaf::new(cap, row));
            self.len = 1;
            return Inserted::New;
        };
        // an ascending run appending to this leaf: one comparison with its last row
        let append = leaf
            .rows
            .last()
            .is_some_and(|r| addr(r) == leaf.last && r.cmp_key(kc, key).is_lt());
        let i = if append {
            leaf.rows.len()
        } else {
            match leaf.rows.binary_search_by(|r| r.cmp_key(kc, key)) {
                Ok(i) if replace => {
                    return Inserted::Replaced(std::mem::replace(&mut leaf.rows[i], row))
                }
                Ok(i) => {
                    let present: *const Row = &leaf.rows[i];
                    // SAFETY: `present` points into `self.leaves`, which is borrowed mutably
                    // for the lifetime of the result (`Inserted<'_>` borrows `&mut self`), and
                    // nothing is changed on this path, so the row stays where it is while the
                    // reference lives. (Returning `&leaf.rows[i]` directly is rejected only
                    // because the borrow checker extends a conditionally returned borrow over
                    // the whole function; the `insert_new` tests exercise this path.)
                    return Inserted::Present(row, unsafe { &*present });
                }
                Err(i) => i,
            }
        };
        self.len += 1;
        if let Some(right) = Self::place(leaf, cap, i, row) {
            self.add_leaf(kc, right);
        }
        Inserted::New
    }

    /// Puts `row` at position `i` of `leaf`; a full leaf splits and the right part comes
    /// back (the caller adds it to the map).
    fn place(leaf: &mut Leaf, cap: usize, i: usize, row: Row) -> Option<Leaf> {
        let last = std::mem::replace(&mut leaf.last, addr(&row));
        let rows = &mut leaf.rows;
        if rows.len() < cap {
            rows.insert(i, row);
            return None;
        }
        Some(if i == rows.len() {
            // past the last key: keep this leaf full, start the next one
            Leaf::new(cap, row)
        } else if i > 0 && addr(&rows[i - 1]) == last {
            // right after this leaf's previous insert (an ascending run): cut there, so the
            // run goes on filling this leaf instead of leaving half-full ones behind
            let mut right = Vec::with_capacity(cap);
            right.extend(rows.drain(i..));
            rows.push(row);
            Leaf {
                rows: right,
                last: 0,
            }
        } else {
            let mid = cap / 2;
            let mut right = Vec::with_capacity(cap);
            right.extend(rows.drain(mid..));
            let last = addr(&row);
            if i < mid {
                rows.insert(i, row);
            } else {
                right.insert(i - mid, row);
            }
            Leaf { rows: right, last }
        })
    }

    /// Adds a leaf split off by [`Tree::place`] under the key of its first row.
    fn add_leaf(&mut self, kc: &[usize], right: Leaf) {
        let mut sep = Vec::new();
        right.rows[0].encode_key(kc, &mut sep);
        self.leaves.insert(Sep::new(&sep), right);
    }

    /// Insert or update with one search: `decide` sees the row under `key` (None: absent)
    /// and returns the row to store there (None: leave it as it is).
    pub(crate) fn upsert<E>(
        &mut self,
        kc: &[usize],
        key: &[u8],
        decide: impl FnOnce(Option<&Row>) -> Result<Option<Row>, E>,
    ) -> Result<Upserted, E> {
        let cap = self.cap;
        let Some(leaf) = Self::route_mut(&mut self.leaves, key) else {
            let Some(row) = decide(None)? else {
                return Ok(Upserted::Kept);
            };
            self.leaves.insert(Sep::new(&[]), Leaf::new(cap, row));
            self.len = 1;
            return Ok(Upserted::Inserted);
        };
        let append = leaf
            .rows
            .last()
            .is_some_and(|r| addr(r) == leaf.last && r.cmp_key(kc, key).is_lt());
        let i = if append {
            leaf.rows.len()
        } else {
            match leaf.rows.binary_search_by(|r| r.cmp_key(kc, key)) {
                Ok(i) => {
                    return Ok(match decide(Some(&leaf.rows[i]))? {
                        Some(row) => Upserted::Replaced(std::mem::replace(&mut leaf.rows[i], row)),
                        None => Upserted::Kept,
                    })
                }
                Err(i) => i,
            }
        };
        let Some(row) = decide(None)? else {
            return Ok(Upserted::Kept);
        };
        self.len += 1;
        if let Some(right) = Self::place(leaf, cap, i, row) {
            self.add_leaf(kc, right);
        }
        Ok(Upserted::Inserted)
    }

    /// Removes the row under `key`, returning it.
    pub(crate) fn remove(&mut self, kc: &[usize], key: &[u8]) -> Option<Row> {
        let (sep, leaf) = self
            .leaves
            .range_mut::<KeyStr, _>((Bound::Unbounded, Bound::Included(KeyStr::new(key))))
            .next_back()?;
        let i = leaf.rows.binary_search_by(|r| r.cmp_key(kc, key)).ok()?;
        let row = leaf.rows.remove(i);
        self.len -= 1;
        if leaf.rows.len() < self.cap / 4 {
            let mut s = KeyBuf::new();
            s.put(sep.as_bytes());
            self.rebalance(s.as_slice());
        }
        Some(row)
    }

    /// Removes the leaf under `sep` if empty, or merges it with a neighbour when small.
    fn rebalance(&mut self, sep: &[u8]) {
        let Some(n) = self.leaves.get(KeyStr::new(sep)).map(|l| l.rows.len()) else {
            return;
        };
        if n == 0 {
            self.remove_leaf(sep);
            return;
        }
        let limit = self.cap * 3 / 4;
        let mut other = KeyBuf::new();
        // the next leaf into this one
        if let Some((k, next)) = self
            .leaves
            .range::<KeyStr, _>((Bound::Excluded(KeyStr::new(sep)), Bound::Unbounded))
            .next()
        {
            if n + next.rows.len() <= limit {
                other.put(k.as_bytes());
                if let Some(next) = self.leaves.remove(KeyStr::new(other.as_slice())) {
                    if let Some(leaf) = self.leaves.get_mut(KeyStr::new(sep)) {
                        leaf.rows.extend(next.rows);
                    }
                }
                return;
            }
        }
        // this leaf into the previous one
        if let Some((k, prev)) = self
            .leaves
            .range::<KeyStr, _>((Bound::Unbounded, Bound::Excluded(KeyStr::new(sep))))
            .next_back()
        {
            if n + prev.rows.len() <= limit {
                other.put(k.as_bytes());
                if let Some(this) = self.leaves.remove(KeyStr::new(sep)) {
                    if let Some(leaf) = self.leaves.get_mut(KeyStr::new(other.as_slice())) {
                        leaf.rows.extend(this.rows);
                    }
                }
            }
        }
    }

    /// Removes the (empty) leaf under `sep`; if it was the first, the next becomes first
    /// and takes the empty separator.
    fn remove_leaf(&mut self, sep: &[u8]) {
        self.leaves.remove(KeyStr::new(sep));
        if sep.is_empty() {
            if let Some((_, leaf)) = self.leaves.pop_first() {
                self.leaves.insert(Sep::new(&[]), leaf);
            }
        }
    }

    /// Visits rows in key order with their keys until `f` returns false.
    pub(crate) fn scan(&self, kc: &[usize], mut f: impl FnMut(&[u8], &Row) -> bool) {
        let mut kb = KeyBuf::new();
        for leaf in self.leaves.values() {
            for r in &leaf.rows {
                kb.clear();
                r.key_into(kc, &mut kb);
                if !f(kb.as_slice(), r) {
                    return;
                }
            }
        }
    }

    /// Visits rows with keys within the bounds in key order until `f` returns false.
    pub(crate) fn scan_range(
        &self,
        kc: &[usize],
        from: Bound<&[u8]>,
        to: Bound<&[u8]>,
        mut f: impl FnMut(&[u8], &Row) -> bool,
    ) {
        let (start, skip): (&[u8], usize) = match from {
            Bound::Unbounded => (&[], 0),
            Bound::Included(k) | Bound::Excluded(k) => {
                let Some((sep, leaf)) = self.route(k) else {
                    return;
                };
                let excluded = matches!(from, Bound::Excluded(_));
                let skip = leaf.partition_point(|r| match r.cmp_key(kc, k) {
                    Ordering::Less => true,
                    Ordering::Equal => excluded,
                    Ordering::Greater => false,
                });
                (sep, skip)
            }
        };
        let mut kb = KeyBuf::new();
        let leaves = self
            .leaves
            .range::<KeyStr, _>((Bound::Included(KeyStr::new(start)), Bound::Unbounded));
        for (i, (_, leaf)) in leaves.enumerate() {
            let rows = if i == 0 {
                &leaf.rows[skip..]
            } else {
                &leaf.rows[..]
            };
            for r in rows {
                kb.clear();
                r.key_into(kc, &mut kb);
                let k = kb.as_slice();
                let inside = match to {
                    Bound::Unbounded => true,
                    Bound::Included(t) => cmp_bytes(k, t).is_le(),
                    Bound::Excluded(t) => cmp_bytes(k, t).is_lt(),
                };
                if !inside || !f(k, r) {
                    return;
                }
            }
        }
    }

    pub(crate) fn rows_mut(&mut self) -> impl Iterator<Item = &mut Row> {
        self.leaves.values_mut().flat_map(|l| l.rows.iter_mut())
    }

    /// (leaves, allocated row slots) — for fill checks.
    #[cfg(test)]
    pub(crate) fn leaf_stats(&self) -> (usize, usize) {
        (
            self.leaves.len(),
            self.leaves.values().map(|l| l.rows.capacity()).sum(),
        )
    }

    /// Checks the invariants (tests).
    #[cfg(test)]
    pub(crate) fn check(&self, kc: &[usize]) {
        let mut n = 0;
        let mut prev: Option<Vec<u8>> = None;
        for (i, (sep, leaf)) in self.leaves.iter().enumerate() {
            let leaf = &leaf.rows;
            assert!(!leaf.is_empty(), "empty leaf");
            assert_eq!(leaf.capacity(), self.cap, "leaf capacity");
            if i == 0 {
                assert!(sep.as_bytes().is_empty(), "first separator not empty");
            }
            for r in leaf {
                let mut k = Vec::new();
                r.encode_key(kc, &mut k);
                assert!(k.as_slice() >= sep.as_bytes(), "key below its separator");
                if let Some(p) = &prev {
                    assert!(p < &k, "keys out of order");
                }
                prev = Some(k);
                n += 1;
            }
            if let Some((next, _)) = self
                .leaves
                .range::<KeyStr, _>((
                    Bound::Excluded(KeyStr::new(sep.as_bytes())),
                    Bound::Unbounded,
                ))
                .next()
            {
                assert!(prev.as_deref().is_some_and(|p| p < next.as_bytes()));
            }
        }
        assert_eq!(n, self.len);
    }
}
