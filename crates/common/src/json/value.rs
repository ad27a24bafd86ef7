//! The [`Json`] type: its variants, serde form, nesting limits, items, and a `Drop` that
//! does not recurse.

use serde::{Deserialize, Serialize};

/// A JSON value. Object members keep their insertion order.
#[derive(Serialize)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Double(f64),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

/// The serde layout of [`Json`] (the same as a derived one), decoded by [`Json`]'s
/// depth-bounded `Deserialize`.
#[derive(Deserialize)]
#[serde(rename = "Json")]
enum JsonRepr {
    Null,
    Bool(bool),
    Int(i64),
    Double(f64),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

/// Deepest nesting serde decoding accepts (the WAL's and snapshots' older, serde-encoded
/// rows): serde decodes by recursion, so the depth is counted and bounded. Matches the row
/// loader's bound.
pub const SERDE_MAX_DEPTH: usize = 1024;

thread_local! {
    /// Arrays/objects being decoded by serde on this thread.
    static SERDE_DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Json, D::Error> {
        // (`depth` containers enclose this value: at most SERDE_MAX_DEPTH, as for the
        // innermost value of a value nested that deep)
        let depth = SERDE_DEPTH.with(|c| c.get());
        if depth > SERDE_MAX_DEPTH {
            return Err(serde::de::Error::custom("json nesting is too deep"));
        }
        SERDE_DEPTH.with(|c| c.set(depth + 1));
        let r = JsonRepr::deserialize(d);
        SERDE_DEPTH.with(|c| c.set(depth));
        Ok(match r? {
            JsonRepr::Null => Json::Null,
            JsonRepr::Bool(b) => Json::Bool(b),
            JsonRepr::Int(i) => Json::Int(i),
            JsonRepr::Double(x) => Json::Double(x),
            JsonRepr::String(s) => Json::String(s),
            JsonRepr::Array(items) => Json::Array(items),
            JsonRepr::Object(members) => Json::Object(members),
        })
    }
}

/// Maximum nesting of arrays/objects in a json value (`[]` is 1 deep, `[[1]]` 2). The text
/// parser, the json functions, the constructors and UPDATE's `SET col.a.b` all refuse to
/// build anything deeper.
pub const MAX_DEPTH: usize = 256;

/// The error for a value that would be nested deeper than [`MAX_DEPTH`].
pub fn too_deep() -> crate::Error {
    crate::Error::limit_reached("json nesting is too deep")
}

/// Levels the walks over a value (clone, compare, equality, hash, writing, depth) descend by
/// recursion before they go on iteratively ([`Walk`]): recursion is the fastest way over the
/// usual shallow values, the iterative walk bounds the stack on deep ones.
pub(super) const RECURSION: usize = 48;

impl Json {
    /// Number of items of an array or members of an object (0 for anything else).
    #[inline]
    pub fn len(&self) -> usize {
        match self {
            Json::Array(items) => items.len(),
            Json::Object(members) => members.len(),
            _ => 0,
        }
    }

    /// Whether this has no items (every scalar, `[]` and `{}`).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether this is an array or object with at least one item.
    #[inline]
    pub(super) fn is_open(&self) -> bool {
        !self.is_empty()
    }

    #[inline]
    pub(super) fn is_container(&self) -> bool {
        matches!(self, Json::Array(_) | Json::Object(_))
    }

    /// The items of an array (`Json` implements `Drop`, so they cannot be moved out by a
    /// pattern).
    pub fn into_items(mut self) -> Option<Vec<Json>> {
        match &mut self {
            Json::Array(items) => Some(std::mem::take(items)),
            _ => None,
        }
    }

    /// The members of an object (see [`Json::into_items`]).
    pub fn into_members(mut self) -> Option<Vec<(String, Json)>> {
        match &mut self {
            Json::Object(members) => Some(std::mem::take(members)),
            _ => None,
        }
    }

    /// Moves the items of this array or object out (leaving it empty).
    fn take_children(&mut self) -> ChildrenIter {
        match self {
            Json::Array(items) => ChildrenIter::Items(std::mem::take(items).into_iter()),
            Json::Object(members) => ChildrenIter::Members(std::mem::take(members).into_iter()),
            _ => ChildrenIter::None,
        }
    }
}

enum ChildrenIter {
    Items(std::vec::IntoIter<Json>),
    Members(std::vec::IntoIter<(String, Json)>),
    None,
}

impl Iterator for ChildrenIter {
    type Item = Json;

    fn next(&mut self) -> Option<Json> {
        match self {
            ChildrenIter::Items(it) => it.next(),
            ChildrenIter::Members(it) => it.next().map(|(_, v)| v),
            ChildrenIter::None => None,
        }
    }
}

/// Levels [`Drop`] descends by recursion before it moves deeper containers to a heap stack.
const DROP_RECURSION: usize = 16;

impl Drop for Json {
    fn drop(&mut self) {
        if !self.is_open() {
            return;
        }
        let mut deeper = Vec::new();
        empty_out(self, 0, &mut deeper);
        while let Some(mut j) = deeper.pop() {
            empty_out(&mut j, 0, &mut deeper);
        }
    }
}

/// Drops the items of `j`, descending at most [`DROP_RECURSION`] levels; containers below
/// that are moved to `deeper` (and dropped from there by the caller, without recursion).
/// Every value dropped here has no items left, so its own `drop` returns at once.
fn empty_out(j: &mut Json, level: usize, deeper: &mut Vec<Json>) {
    for mut child in j.take_children() {
        if child.is_open() {
            if level < DROP_RECURSION {
                empty_out(&mut child, level + 1, deeper);
            } else {
                deeper.push(child);
            }
        }
    }
}
