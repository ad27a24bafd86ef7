//! Structural operations on json values: ordering, equality, hashing, cloning and depth,
//! each by bounded recursion that goes on with an explicit stack ([`Walk`]) on deep values.

use super::value::{too_deep, Json, MAX_DEPTH, RECURSION};
use super::walk::{cmp_walk, Event, OrderRules, Walk, INLINE_FRAMES};
use crate::stack::InlineStack;
use std::cmp::Ordering;

impl Json {
    /// Deep ordering used for sorting and equality of json values: by kind first
    /// (null < bool < number < string < array < object; int and double compare
    /// numerically), then by value; arrays and objects element by element (object
    /// members by key then value), a shorter prefix sorts first.
    pub fn total_cmp(&self, other: &Json) -> Ordering {
        self.cmp_rec(other, 0)
    }

    fn cmp_rec(&self, other: &Json, level: usize) -> Ordering {
        match (self, other) {
            (Json::Array(_), Json::Array(_)) | (Json::Object(_), Json::Object(_))
                if level >= RECURSION =>
            {
                self.total_cmp_iter(other)
            }
            (Json::Array(x), Json::Array(y)) => {
                for (p, q) in x.iter().zip(y.iter()) {
                    match p.cmp_rec(q, level + 1) {
                        Ordering::Equal => {}
                        o => return o,
                    }
                }
                x.len().cmp(&y.len())
            }
            (Json::Object(x), Json::Object(y)) => {
                for ((kp, p), (kq, q)) in x.iter().zip(y.iter()) {
                    match kp
                        .as_bytes()
                        .cmp(kq.as_bytes())
                        .then_with(|| p.cmp_rec(q, level + 1))
                    {
                        Ordering::Equal => {}
                        o => return o,
                    }
                }
                x.len().cmp(&y.len())
            }
            (a, b) => a.cmp_leaf(b),
        }
    }

    fn eq_rec(&self, other: &Json, level: usize) -> bool {
        match (self, other) {
            (Json::Array(_), Json::Array(_)) | (Json::Object(_), Json::Object(_))
                if level >= RECURSION =>
            {
                self.eq_iter(other)
            }
            (Json::Array(x), Json::Array(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(p, q)| p.eq_rec(q, level + 1))
            }
            (Json::Object(x), Json::Object(y)) => {
                x.len() == y.len()
                    && x.iter()
                        .zip(y)
                        .all(|((kp, p), (kq, q))| kp == kq && p.eq_rec(q, level + 1))
            }
            (a, b) => a.eq_leaf(b),
        }
    }

    fn clone_rec(&self, level: usize) -> Json {
        match self {
            Json::Array(_) | Json::Object(_) if level >= RECURSION => self.clone_iter(),
            Json::Array(items) => {
                Json::Array(items.iter().map(|v| v.clone_rec(level + 1)).collect())
            }
            Json::Object(members) => Json::Object(
                members
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone_rec(level + 1)))
                    .collect(),
            ),
            leaf => leaf.clone_leaf(),
        }
    }

    /// Hashes the same stream as [`Json::hash_iter`].
    fn hash_rec<H: std::hash::Hasher>(&self, state: &mut H, level: usize) {
        use std::hash::Hash;
        match self {
            Json::Array(_) | Json::Object(_) if level >= RECURSION => self.hash_iter(state),
            Json::Array(items) if !items.is_empty() => {
                self.rank().hash(state);
                items.len().hash(state);
                for v in items {
                    v.hash_rec(state, level + 1);
                }
            }
            Json::Object(members) if !members.is_empty() => {
                self.rank().hash(state);
                members.len().hash(state);
                for (k, v) in members {
                    k.hash(state);
                    v.hash_rec(state, level + 1);
                }
            }
            leaf => leaf.hash_leaf(state),
        }
    }

    /// Nesting depth: 0 for a scalar, 1 for `[]` or `{"a": 1}`, one more per level.
    pub fn depth(&self) -> usize {
        self.depth_rec(0, usize::MAX)
    }

    /// Whether the value is nested deeper than `max` (stops looking once it is).
    pub fn deeper_than(&self, max: usize) -> bool {
        self.depth_rec(0, max) > max
    }

    /// The depth, or some value above `max` once it is known to exceed `max`. Recurses
    /// [`RECURSION`] levels, then walks the rest iteratively.
    fn depth_rec(&self, level: usize, max: usize) -> usize {
        let (items, members) = match self {
            Json::Array(_) | Json::Object(_) if level >= RECURSION => return self.depth_iter(max),
            Json::Array(items) => (&items[..], &[][..]),
            Json::Object(members) => (&[][..], &members[..]),
            _ => return 0,
        };
        if max == 0 {
            return 1;
        }
        let mut d = 0;
        for v in items.iter().chain(members.iter().map(|(_, v)| v)) {
            if v.is_container() {
                d = d.max(v.depth_rec(level + 1, max - 1));
                if d > max - 1 {
                    break;
                }
            }
        }
        d + 1
    }

    /// [`Json::depth_rec`] without recursion.
    pub(super) fn depth_iter(&self, max: usize) -> usize {
        match self {
            Json::Array(items) if items.iter().all(|j| !j.is_open()) => {
                // (items that are containers are empty here)
                return usize::from(items.iter().any(Json::is_container)) + 1;
            }
            Json::Array(_) | Json::Object(_) => {}
            _ => return 0,
        }
        let mut w = Walk::new(self);
        let mut deepest = 0;
        while let Some((ev, _)) = w.next() {
            let d = match ev {
                Event::Open(_) => w.depth(),
                Event::Leaf(j) if j.is_container() => w.depth() + 1,
                _ => continue,
            };
            if d > deepest {
                deepest = d;
                if deepest > max {
                    break;
                }
            }
        }
        deepest
    }

    /// `Ok` when the value is nested at most [`MAX_DEPTH`] deep, else [`too_deep`]. Values
    /// the server builds from other values go through this.
    pub fn check_depth(&self) -> crate::Result<()> {
        if self.deeper_than(MAX_DEPTH) {
            return Err(too_deep());
        }
        Ok(())
    }

    /// [`Json::total_cmp`] without recursion.
    pub(super) fn total_cmp_iter(&self, other: &Json) -> Ordering {
        cmp_walk::<TotalOrder>(self, other)
    }

    /// [`Json::total_cmp`] of two values of which neither is a non-empty container.
    pub(super) fn cmp_leaf(&self, other: &Json) -> Ordering {
        use Json::*;
        match (self, other) {
            (Null, Null) => Ordering::Equal,
            (Bool(a), Bool(b)) => a.cmp(b),
            (Int(a), Int(b)) => a.cmp(b),
            (Double(a), Double(b)) => a.total_cmp(b),
            (Int(a), Double(b)) => cmp_int_double(*a, *b),
            (Double(a), Int(b)) => cmp_int_double(*b, *a).reverse(),
            (String(a), String(b)) => a.as_bytes().cmp(b.as_bytes()),
            (a, b) => a.rank().cmp(&b.rank()).then(a.len().cmp(&b.len())),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Json::Null => 0,
            Json::Bool(_) => 1,
            Json::Int(_) | Json::Double(_) => 2,
            Json::String(_) => 3,
            Json::Array(_) => 4,
            Json::Object(_) => 5,
        }
    }

    /// Structural equality of two values of which neither is a non-empty container: the
    /// same variant and the same contents (`1` is not `1.0`, NaN is not NaN).
    fn eq_leaf(&self, other: &Json) -> bool {
        use Json::*;
        match (self, other) {
            (Null, Null) => true,
            (Bool(a), Bool(b)) => a == b,
            (Int(a), Int(b)) => a == b,
            (Double(a), Double(b)) => a == b,
            (String(a), String(b)) => a == b,
            (Array(a), Array(b)) => a.len() == b.len(),
            (Object(a), Object(b)) => a.len() == b.len(),
            _ => false,
        }
    }
}

/// The rules of [`Json::total_cmp`] for [`cmp_walk`]: a prefix sorts first.
struct TotalOrder;

impl OrderRules for TotalOrder {
    const PREFIX: Ordering = Ordering::Less;

    #[inline]
    fn class(j: &Json) -> u8 {
        j.rank()
    }

    #[inline]
    fn leaf(a: &Json, b: &Json) -> Ordering {
        a.cmp_leaf(b)
    }
}

impl Clone for Json {
    fn clone(&self) -> Json {
        self.clone_rec(0)
    }
}

/// Structural equality (what `#[derive(PartialEq)]` would give, with bounded recursion).
impl PartialEq for Json {
    fn eq(&self, other: &Json) -> bool {
        self.eq_rec(other, 0)
    }
}

/// Hashing consistent with [`Json::total_cmp`] equality: numbers hash as `f64` bits so
/// that `1` and `1.0` collide.
impl std::hash::Hash for Json {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.hash_rec(state, 0)
    }
}

/// A container being rebuilt by [`Clone`].
enum Building {
    Items(Vec<Json>),
    Members(Vec<(String, Json)>, String),
}

impl Json {
    /// [`Clone::clone`] without recursion.
    pub(super) fn clone_iter(&self) -> Json {
        match self {
            Json::Null => return Json::Null,
            Json::Bool(b) => return Json::Bool(*b),
            Json::Int(i) => return Json::Int(*i),
            Json::Double(d) => return Json::Double(*d),
            Json::String(s) => return Json::String(s.clone()),
            Json::Array(items) if items.iter().all(|j| !j.is_open()) => {
                return Json::Array(items.iter().map(Json::clone_leaf).collect());
            }
            _ => {}
        }
        let mut stack: InlineStack<Building, INLINE_FRAMES> = InlineStack::new();
        let mut w = Walk::new(self);
        while let Some((ev, _)) = w.next() {
            let done = match ev {
                Event::Leaf(j) => j.clone_leaf(),
                Event::Open(Json::Array(items)) => {
                    stack.push(Building::Items(Vec::with_capacity(items.len())));
                    continue;
                }
                Event::Open(j) => {
                    stack.push(Building::Members(
                        Vec::with_capacity(j.len()),
                        String::new(),
                    ));
                    continue;
                }
                Event::Key(k) => {
                    if let Some(Building::Members(_, key)) = stack.last_mut() {
                        *key = k.to_owned();
                    }
                    continue;
                }
                Event::Close(_) => match stack.pop() {
                    Some(Building::Items(items)) => Json::Array(items),
                    Some(Building::Members(members, _)) => Json::Object(members),
                    None => Json::Null,
                },
            };
            match stack.last_mut() {
                None => return done,
                Some(Building::Items(items)) => items.push(done),
                Some(Building::Members(members, key)) => members.push((std::mem::take(key), done)),
            }
        }
        Json::Null
    }
}

impl Json {
    /// A copy of a value that is not a non-empty container.
    #[inline]
    fn clone_leaf(&self) -> Json {
        match self {
            Json::Null => Json::Null,
            Json::Bool(b) => Json::Bool(*b),
            Json::Int(i) => Json::Int(*i),
            Json::Double(d) => Json::Double(*d),
            Json::String(s) => Json::String(s.clone()),
            Json::Array(_) => Json::Array(Vec::new()),
            Json::Object(_) => Json::Object(Vec::new()),
        }
    }
}

impl Json {
    /// `==` without recursion.
    pub(super) fn eq_iter(&self, other: &Json) -> bool {
        if !self.is_open() || !other.is_open() {
            return self.eq_leaf(other) && !self.is_open() && !other.is_open();
        }
        let (mut a, mut b) = (Walk::new(self), Walk::new(other));
        loop {
            let same = match (a.next(), b.next()) {
                (None, None) => return true,
                (Some((x, _)), Some((y, _))) => match (x, y) {
                    (Event::Leaf(p), Event::Leaf(q)) => p.eq_leaf(q),
                    (Event::Open(p), Event::Open(q)) => p.rank() == q.rank() && p.len() == q.len(),
                    (Event::Key(p), Event::Key(q)) => p == q,
                    (Event::Close(_), Event::Close(_)) => true,
                    _ => false,
                },
                _ => false,
            };
            if !same {
                return false;
            }
        }
    }
}

impl Json {
    /// [`std::hash::Hash::hash`] without recursion.
    pub(super) fn hash_iter<H: std::hash::Hasher>(&self, state: &mut H) {
        use std::hash::Hash;
        let mut w = Walk::new(self);
        while let Some((ev, _)) = w.next() {
            match ev {
                Event::Leaf(j) => j.hash_leaf(state),
                Event::Open(j) => {
                    j.rank().hash(state);
                    j.len().hash(state);
                }
                Event::Key(k) => k.hash(state),
                Event::Close(_) => {}
            }
        }
    }

    /// Hashes a value that is not a non-empty container.
    fn hash_leaf<H: std::hash::Hasher>(&self, state: &mut H) {
        use std::hash::Hash;
        self.rank().hash(state);
        match self {
            Json::Null => {}
            Json::Bool(b) => b.hash(state),
            Json::Int(i) => (*i as f64).to_bits().hash(state),
            Json::Double(d) => d.to_bits().hash(state),
            Json::String(s) => s.hash(state),
            Json::Array(_) | Json::Object(_) => 0usize.hash(state),
        }
    }
}

fn cmp_int_double(a: i64, b: f64) -> Ordering {
    (a as f64).total_cmp(&b)
}
