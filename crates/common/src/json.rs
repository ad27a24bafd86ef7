//! JSON values: parsing (both quote styles), compact and pretty writing with `%g` doubles.
//!
//! # Nesting
//!
//! A value built by the server (parsed from text, made by a function or a constructor, or
//! assigned through a path) is nested at most [`MAX_DEPTH`] arrays/objects deep; building a
//! deeper one fails with [`too_deep`]. Values read back from storage may be deeper (rows
//! written before the limit existed must still load), so no walk over a value here (drop,
//! clone, compare, equality, hash, writing, `Debug`, depth) uses stack in proportion to its
//! depth: each recurses at most a few dozen levels (the fastest way over the usual shallow
//! values) and goes on with an explicit stack ([`Walk`]) below that.

use crate::stack::InlineStack;
use crate::text::{fmt_double, write_escaped_str, write_int};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

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
    crate::Error::new("json nesting is too deep")
}

/// Levels the walks over a value (clone, compare, equality, hash, writing, depth) descend by
/// recursion before they go on iteratively ([`Walk`]): recursion is the fastest way over the
/// usual shallow values, the iterative walk bounds the stack on deep ones.
const RECURSION: usize = 48;

impl Json {
    /// Compact form: `[1, 2]`, `{"a": 1, "b": 2}` (", " and ": " separators).
    pub fn write_compact(&self, out: &mut String) {
        self.compact_rec(out, 0)
    }

    fn compact_rec(&self, out: &mut String, level: usize) {
        match self {
            Json::Array(_) | Json::Object(_) if level >= RECURSION => self.write_compact_iter(out),
            Json::Array(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    v.compact_rec(out, level + 1);
                }
                out.push(']');
            }
            Json::Object(members) => {
                out.push('{');
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_escaped_str(k, out);
                    out.push_str(": ");
                    v.compact_rec(out, level + 1);
                }
                out.push('}');
            }
            leaf => leaf.write_leaf(out),
        }
    }

    /// Pretty form at nesting depth `depth` (spec §1.4): arrays stay inline at the same
    /// depth; a non-empty object puts each member on its own line indented `2*(depth+1)`
    /// spaces, with member values at `depth+1`, and closes on a line indented `2*depth`.
    pub fn write_pretty(&self, out: &mut String, depth: usize) {
        self.pretty_rec(out, depth, 0)
    }

    fn pretty_rec(&self, out: &mut String, depth: usize, level: usize) {
        match self {
            Json::Array(_) | Json::Object(_) if level >= RECURSION => {
                self.write_pretty_iter(out, depth)
            }
            Json::Array(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    v.pretty_rec(out, depth, level + 1);
                }
                out.push(']');
            }
            Json::Object(members) if members.is_empty() => out.push_str("{}"),
            Json::Object(members) => {
                out.push_str("{\n");
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push_str(",\n");
                    }
                    indent(out, depth + 1);
                    write_escaped_str(k, out);
                    out.push_str(": ");
                    v.pretty_rec(out, depth + 1, level + 1);
                }
                out.push('\n');
                indent(out, depth);
                out.push('}');
            }
            leaf => leaf.write_leaf(out),
        }
    }

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

/// Walk frames kept inline before [`Walk`] allocates (see [`InlineStack`]).
const INLINE_FRAMES: usize = 24;

/// One step of a pre-order walk over a value, see [`Walk`].
#[derive(Clone, Copy, Debug)]
pub enum Event<'a> {
    /// A scalar, or an empty array or object.
    Leaf(&'a Json),
    /// A non-empty array or object: its items (arrays) or `Key` + value pairs (objects)
    /// follow, then `Close` of the same value.
    Open(&'a Json),
    /// The key of the object member whose value comes next.
    Key(&'a str),
    /// The end of the array or object opened last.
    Close(&'a Json),
}

enum Frame<'a> {
    Items(&'a Json, std::slice::Iter<'a, Json>),
    Members(&'a Json, std::slice::Iter<'a, (String, Json)>),
}

/// An iterative pre-order walk over a json value: a stream of [`Event`]s, each with a flag
/// telling whether it follows a sibling in its container (an item after the first, or the
/// key of a member after the first; a member's value never does). It uses no recursion and
/// allocates only for values nested more than a couple of dozen levels.
pub struct Walk<'a> {
    stack: InlineStack<Frame<'a>, INLINE_FRAMES>,
    /// A value to visit before resuming the top frame: the root, or a member's value.
    next: Option<&'a Json>,
}

impl<'a> Walk<'a> {
    pub fn new(root: &'a Json) -> Walk<'a> {
        Walk {
            stack: InlineStack::new(),
            next: Some(root),
        }
    }

    /// How many arrays/objects are open.
    #[inline]
    pub fn depth(&self) -> usize {
        self.stack.len()
    }

    /// Whether the innermost open container is an object.
    #[inline]
    pub fn in_object(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Members(..)))
    }

    #[inline]
    fn visit(&mut self, j: &'a Json) -> Event<'a> {
        match j {
            Json::Array(items) if !items.is_empty() => {
                self.stack.push(Frame::Items(j, items.iter()));
                Event::Open(j)
            }
            Json::Object(members) if !members.is_empty() => {
                self.stack.push(Frame::Members(j, members.iter()));
                Event::Open(j)
            }
            _ => Event::Leaf(j),
        }
    }

    /// The next event and whether it follows a sibling; `None` once the root is done.
    #[inline]
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<(Event<'a>, bool)> {
        if let Some(j) = self.next.take() {
            return Some((self.visit(j), false));
        }
        let (container, sep, item) = match self.stack.last_mut()? {
            Frame::Items(c, it) => {
                let sep = it.len() != c.len();
                match it.next() {
                    Some(j) => (*c, sep, Some(Ok(j))),
                    None => (*c, false, None),
                }
            }
            Frame::Members(c, it) => {
                let sep = it.len() != c.len();
                match it.next() {
                    Some((k, v)) => (*c, sep, Some(Err((k.as_str(), v)))),
                    None => (*c, false, None),
                }
            }
        };
        Some(match item {
            Some(Ok(j)) => (self.visit(j), sep),
            Some(Err((k, v))) => {
                self.next = Some(v);
                (Event::Key(k), sep)
            }
            None => {
                self.stack.pop();
                (Event::Close(container), false)
            }
        })
    }
}

impl Json {
    /// Parses JSON text. Strings may use `"` or `'`. Numbers without `.`/`e`/`E` are
    /// integers (wrapping into int64 like the SQL lexer), others doubles. Leading and
    /// trailing whitespace is allowed, anything else after the value is an error.
    pub fn parse(text: &str) -> crate::Result<Json> {
        Json::parse_with(text, false)
    }

    /// Like [`Json::parse`] but string escapes are kept verbatim (`"a\\nb"` holds a
    /// backslash and an `n`), as Amelie's runtime `json_import()` does.
    pub fn parse_raw(text: &str) -> crate::Result<Json> {
        Json::parse_with(text, true)
    }

    /// Like [`Json::parse`] but an integer outside the int64 range is an error instead of
    /// wrapping (for values that must not silently change, such as a token's expiry time).
    pub fn parse_checked(text: &str) -> crate::Result<Json> {
        let mut p = Parser {
            s: text.as_bytes(),
            text,
            pos: 0,
            raw: false,
            checked: true,
        };
        p.document()
    }

    fn parse_with(text: &str, raw: bool) -> crate::Result<Json> {
        let mut p = Parser {
            s: text.as_bytes(),
            text,
            pos: 0,
            raw,
            checked: false,
        };
        p.document()
    }

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
    fn is_open(&self) -> bool {
        !self.is_empty()
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
    fn depth_iter(&self, max: usize) -> usize {
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

    #[inline]
    fn is_container(&self) -> bool {
        matches!(self, Json::Array(_) | Json::Object(_))
    }

    /// `Ok` when the value is nested at most [`MAX_DEPTH`] deep, else [`too_deep`]. Values
    /// the server builds from other values go through this.
    pub fn check_depth(&self) -> crate::Result<()> {
        if self.deeper_than(MAX_DEPTH) {
            return Err(too_deep());
        }
        Ok(())
    }

    /// [`Json::write_compact`] without recursion.
    fn write_compact_iter(&self, out: &mut String) {
        if !self.is_open() {
            return self.write_leaf(out);
        }
        let mut w = Walk::new(self);
        while let Some((ev, sep)) = w.next() {
            if sep {
                out.push_str(", ");
            }
            match ev {
                Event::Leaf(j) => j.write_leaf(out),
                Event::Open(Json::Array(_)) => out.push('['),
                Event::Open(_) => out.push('{'),
                Event::Key(k) => {
                    write_escaped_str(k, out);
                    out.push_str(": ");
                }
                Event::Close(Json::Array(_)) => out.push(']'),
                Event::Close(_) => out.push('}'),
            }
        }
    }

    /// [`Json::write_pretty`] without recursion.
    fn write_pretty_iter(&self, out: &mut String, depth: usize) {
        if !self.is_open() {
            return self.write_leaf(out);
        }
        let mut d = depth;
        let mut w = Walk::new(self);
        while let Some((ev, sep)) = w.next() {
            match ev {
                Event::Key(k) => {
                    if sep {
                        out.push_str(",\n");
                    }
                    indent(out, d);
                    write_escaped_str(k, out);
                    out.push_str(": ");
                    continue;
                }
                _ if sep => out.push_str(", "),
                _ => {}
            }
            match ev {
                Event::Leaf(j) => j.write_leaf(out),
                Event::Open(Json::Array(_)) => out.push('['),
                Event::Open(_) => {
                    out.push_str("{\n");
                    d += 1;
                }
                Event::Close(Json::Array(_)) => out.push(']'),
                Event::Close(_) => {
                    out.push('\n');
                    d -= 1;
                    indent(out, d);
                    out.push('}');
                }
                Event::Key(_) => {}
            }
        }
    }

    /// A scalar or an empty array/object.
    fn write_leaf(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Int(i) => write_int(*i, out),
            Json::Double(d) => fmt_double(*d, out),
            Json::String(s) => write_escaped_str(s, out),
            Json::Array(items) if items.is_empty() => out.push_str("[]"),
            Json::Object(members) if members.is_empty() => out.push_str("{}"),
            Json::Array(_) | Json::Object(_) => self.write_compact(out),
        }
    }

    /// Compact text as a new string (convenience; prefer `write_compact` on hot paths).
    pub fn to_compact_string(&self) -> String {
        let mut s = String::new();
        self.write_compact(&mut s);
        s
    }

    /// [`Json::total_cmp`] without recursion.
    fn total_cmp_iter(&self, other: &Json) -> Ordering {
        if !self.is_open() && !other.is_open() {
            return self.cmp_leaf(other);
        }
        let (mut a, mut b) = (Walk::new(self), Walk::new(other));
        loop {
            let (x, y) = match (a.next(), b.next()) {
                (Some((x, _)), Some((y, _))) => (x, y),
                // the walks go in step, so they end together
                _ => return Ordering::Equal,
            };
            let o = match (x, y) {
                (Event::Close(_), Event::Close(_)) => Ordering::Equal,
                // a container that ends first is a prefix of the other
                (Event::Close(_), _) => Ordering::Less,
                (_, Event::Close(_)) => Ordering::Greater,
                (Event::Key(p), Event::Key(q)) => p.as_bytes().cmp(q.as_bytes()),
                (Event::Key(_), _) => Ordering::Greater,
                (_, Event::Key(_)) => Ordering::Less,
                (Event::Open(p), Event::Open(q)) => p.rank().cmp(&q.rank()),
                // an empty container against a non-empty one (or another kind)
                (Event::Leaf(p), Event::Open(q)) => p.rank().cmp(&q.rank()).then(Ordering::Less),
                (Event::Open(p), Event::Leaf(q)) => p.rank().cmp(&q.rank()).then(Ordering::Greater),
                (Event::Leaf(p), Event::Leaf(q)) => p.cmp_leaf(q),
            };
            if o != Ordering::Equal {
                return o;
            }
        }
    }

    /// [`Json::total_cmp`] of two values of which neither is a non-empty container.
    fn cmp_leaf(&self, other: &Json) -> Ordering {
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

/// A container being rebuilt by [`Clone`].
enum Building {
    Items(Vec<Json>),
    Members(Vec<(String, Json)>, String),
}

impl Json {
    /// [`Clone::clone`] without recursion.
    fn clone_iter(&self) -> Json {
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
    fn eq_iter(&self, other: &Json) -> bool {
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

/// The `#[derive(Debug)]` layout (`Object([("a", Array([Int(1)]))])`), written without
/// recursion.
impl std::fmt::Debug for Json {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut w = Walk::new(self);
        while let Some((ev, sep)) = w.next() {
            if sep {
                f.write_str(", ")?;
            }
            match ev {
                Event::Key(k) => {
                    write!(f, "({k:?}, ")?;
                    continue;
                }
                Event::Leaf(j) => match j {
                    Json::Null => f.write_str("Null")?,
                    Json::Bool(b) => write!(f, "Bool({b:?})")?,
                    Json::Int(i) => write!(f, "Int({i:?})")?,
                    Json::Double(d) => write!(f, "Double({d:?})")?,
                    Json::String(s) => write!(f, "String({s:?})")?,
                    Json::Array(_) => f.write_str("Array([])")?,
                    Json::Object(_) => f.write_str("Object([])")?,
                },
                Event::Open(Json::Array(_)) => {
                    f.write_str("Array([")?;
                    continue;
                }
                Event::Open(_) => {
                    f.write_str("Object([")?;
                    continue;
                }
                Event::Close(_) => f.write_str("])")?,
            }
            // a finished member value closes its `(key, value)` pair
            if w.in_object() {
                f.write_str(")")?;
            }
        }
        Ok(())
    }
}

impl Json {
    /// [`std::hash::Hash::hash`] without recursion.
    fn hash_iter<H: std::hash::Hasher>(&self, state: &mut H) {
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

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
    /// Keep string escapes verbatim.
    raw: bool,
    /// Integers outside int64 are an error (else they wrap).
    checked: bool,
}

fn perr(msg: impl std::fmt::Display) -> crate::Error {
    crate::Error::new(format!("json parse error: {}", msg))
}

impl Parser<'_> {
    /// One value with optional whitespace around it, and nothing else.
    fn document(&mut self) -> crate::Result<Json> {
        self.skip_ws();
        let v = self.value(0)?;
        self.skip_ws();
        if self.pos < self.s.len() {
            return Err(self.unexpected());
        }
        Ok(v)
    }

    fn skip_ws(&mut self) {
        while let Some(&c) = self.s.get(self.pos) {
            if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    /// Error for the character at the current position (or end of input).
    fn unexpected(&self) -> crate::Error {
        match self.text.get(self.pos..).and_then(|t| t.chars().next()) {
            None => perr("unexpected end of input"),
            Some(c) => perr(format_args!(
                "unexpected character '{}' at offset {}",
                c, self.pos
            )),
        }
    }

    fn value(&mut self, depth: usize) -> crate::Result<Json> {
        match self.peek() {
            None => Err(perr("unexpected end of input")),
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(q @ (b'"' | b'\'')) => Ok(Json::String(self.string(q)?)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'n') => self.literal("null", Json::Null),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(_) => Err(self.unexpected()),
        }
    }

    fn literal(&mut self, word: &str, v: Json) -> crate::Result<Json> {
        let end = self.pos + word.len();
        if self.s.get(self.pos..end) == Some(word.as_bytes())
            && !self
                .s
                .get(end)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            self.pos = end;
            Ok(v)
        } else {
            Err(self.unexpected())
        }
    }

    fn enter(depth: usize) -> crate::Result<usize> {
        if depth >= MAX_DEPTH {
            return Err(perr("nesting is too deep"));
        }
        Ok(depth + 1)
    }

    fn array(&mut self, depth: usize) -> crate::Result<Json> {
        let depth = Self::enter(depth)?;
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Json::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value(depth)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Json::Array(items));
                }
                None => return Err(perr("unterminated array, ']' expected")),
                Some(_) => return Err(self.unexpected()),
            }
        }
    }

    fn object(&mut self, depth: usize) -> crate::Result<Json> {
        let depth = Self::enter(depth)?;
        self.pos += 1; // '{'
        let mut members = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Json::Object(members));
        }
        loop {
            self.skip_ws();
            let key = match self.peek() {
                Some(q @ (b'"' | b'\'')) => self.string(q)?,
                None => return Err(perr("unterminated object, '}' expected")),
                Some(_) => {
                    return Err(perr(format_args!(
                        "object key string expected at offset {}",
                        self.pos
                    )))
                }
            };
            self.skip_ws();
            match self.peek() {
                Some(b':') => self.pos += 1,
                None => return Err(perr("unexpected end of input, ':' expected")),
                Some(_) => return Err(perr(format_args!("':' expected at offset {}", self.pos))),
            }
            self.skip_ws();
            let v = self.value(depth)?;
            members.push((key, v));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Json::Object(members));
                }
                None => return Err(perr("unterminated object, '}' expected")),
                Some(_) => return Err(self.unexpected()),
            }
        }
    }

    fn hex4(&mut self) -> crate::Result<u32> {
        let h = self
            .s
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| perr("truncated \\u escape"))?;
        let mut v = 0u32;
        for &c in h {
            let d = (c as char)
                .to_digit(16)
                .ok_or_else(|| perr("invalid \\u escape"))?;
            v = v * 16 + d;
        }
        self.pos += 4;
        Ok(v)
    }

    fn string(&mut self, quote: u8) -> crate::Result<String> {
        self.pos += 1; // opening quote
        let mut out = String::new();
        let mut start = self.pos;
        loop {
            let Some(c) = self.peek() else {
                return Err(perr("unterminated string"));
            };
            if c == quote {
                out.push_str(&self.text[start..self.pos]);
                self.pos += 1;
                return Ok(out);
            }
            if c != b'\\' {
                self.pos += 1;
                continue;
            }
            if self.raw {
                // keep `\x` as is; the escaped byte is never a closing quote
                self.pos += 2;
                if self.pos > self.s.len() {
                    return Err(perr("unterminated string"));
                }
                continue;
            }
            // escapes are ASCII, so these slice positions are char boundaries
            out.push_str(&self.text[start..self.pos]);
            self.pos += 1;
            let Some(e) = self.peek() else {
                return Err(perr("unterminated string"));
            };
            self.pos += 1;
            match e {
                b'"' => out.push('"'),
                b'\'' => out.push('\''),
                b'\\' => out.push('\\'),
                b'/' => out.push('/'),
                b'b' => out.push('\u{8}'),
                b'f' => out.push('\u{c}'),
                b'n' => out.push('\n'),
                b'r' => out.push('\r'),
                b't' => out.push('\t'),
                b'u' => {
                    let hi = self.hex4()?;
                    let cp = if (0xD800..0xDC00).contains(&hi) {
                        if self.s.get(self.pos..self.pos + 2) != Some(b"\\u") {
                            return Err(perr("invalid unicode surrogate pair"));
                        }
                        self.pos += 2;
                        let lo = self.hex4()?;
                        if !(0xDC00..0xE000).contains(&lo) {
                            return Err(perr("invalid unicode surrogate pair"));
                        }
                        0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                    } else {
                        hi
                    };
                    let ch = char::from_u32(cp).ok_or_else(|| perr("invalid unicode escape"))?;
                    out.push(ch);
                }
                _ => {
                    // report the (possibly multi-byte) escaped character
                    let c = self.text[self.pos - 1..].chars().next().unwrap_or('?');
                    return Err(perr(format_args!("invalid escape '\\{}'", c)));
                }
            }
            // `pos` now sits on an ASCII byte boundary again
            start = self.pos;
            if !self.text.is_char_boundary(start) {
                return Err(perr("invalid escape"));
            }
        }
    }

    fn number(&mut self) -> crate::Result<Json> {
        let begin = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let int_start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        if self.pos == int_start {
            return Err(self.unexpected());
        }
        let mut is_double = false;
        if self.peek() == Some(b'.') {
            is_double = true;
            self.pos += 1;
            let frac_start = self.pos;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1;
            }
            if self.pos == frac_start {
                return Err(perr(format_args!("malformed number at offset {}", begin)));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            is_double = true;
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            let exp_start = self.pos;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1;
            }
            if self.pos == exp_start {
                return Err(perr(format_args!("malformed number at offset {}", begin)));
            }
        }
        let text = &self.text[begin..self.pos];
        if is_double {
            // out of range (1e400): JSON text has no infinity, it could not be written back
            text.parse::<f64>()
                .ok()
                .filter(|d| d.is_finite())
                .map(Json::Double)
                .ok_or_else(|| perr(format_args!("malformed number at offset {}", begin)))
        } else {
            if self.checked {
                return text
                    .parse::<i64>()
                    .map(Json::Int)
                    .map_err(|_| perr(format_args!("integer out of range at offset {}", begin)));
            }
            // int64 with wrap-around, like the SQL lexer
            let mut v: i64 = 0;
            for &c in &self.s[int_start..self.pos] {
                v = v.wrapping_mul(10).wrapping_add((c - b'0') as i64);
            }
            if begin != int_start {
                v = v.wrapping_neg();
            }
            Ok(Json::Int(v))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_integers() {
        assert_eq!(
            Json::parse_checked("9223372036854775807").unwrap(),
            Json::Int(i64::MAX)
        );
        assert_eq!(
            Json::parse_checked("-9223372036854775808").unwrap(),
            Json::Int(i64::MIN)
        );
        for big in [
            "9223372036854775808",
            "18446744073709551616",
            "1000000000000000000000000000000",
        ] {
            assert!(Json::parse_checked(big).is_err(), "{big}");
            assert!(Json::parse(big).is_ok(), "{big}");
        }
        let doc = Json::parse_checked(r#"{"exp": 1e30, "iat": 5}"#).unwrap();
        assert_eq!(doc.to_compact_string(), r#"{"exp": 1e+30, "iat": 5}"#);
        assert!(Json::parse_checked(r#"{"exp": 100000000000000000000}"#).is_err());
    }

    #[test]
    fn out_of_range_doubles_are_malformed() {
        // found by the json fuzz target: 1e400 became infinity and was written as `inf`
        for text in ["1e3333276708", "[1e400]", "-1.5e309"] {
            let e = Json::parse(text).unwrap_err().to_string();
            assert!(e.contains("malformed number"), "{text}: {e}");
        }
        assert_eq!(Json::parse("1e308").unwrap(), Json::Double(1e308));
        assert_eq!(Json::parse("1e-400").unwrap(), Json::Double(0.0));
    }

    #[test]
    fn raw_strings_keep_escapes() {
        let j = Json::parse_raw(r#"{"a": "x\\ny\"z"}"#).unwrap();
        assert_eq!(
            j,
            Json::Object(vec![("a".into(), Json::String(r#"x\\ny\"z"#.into()))])
        );
        assert!(Json::parse_raw(r#""abc\"#).is_err());
    }

    fn compact(text: &str) -> String {
        Json::parse(text).unwrap().to_compact_string()
    }

    fn pretty(text: &str) -> String {
        let mut s = String::new();
        Json::parse(text).unwrap().write_pretty(&mut s, 0);
        s
    }

    #[test]
    fn parse_scalars() {
        assert_eq!(Json::parse("null").unwrap(), Json::Null);
        assert_eq!(Json::parse(" true ").unwrap(), Json::Bool(true));
        assert_eq!(Json::parse("false").unwrap(), Json::Bool(false));
        assert_eq!(Json::parse("42").unwrap(), Json::Int(42));
        assert_eq!(Json::parse("-42").unwrap(), Json::Int(-42));
        assert_eq!(Json::parse("1.5").unwrap(), Json::Double(1.5));
        assert_eq!(Json::parse("1e3").unwrap(), Json::Double(1000.0));
        assert_eq!(Json::parse("-2.5E-1").unwrap(), Json::Double(-0.25));
        assert_eq!(Json::parse("18446744073709551615").unwrap(), Json::Int(-1));
        assert_eq!(
            Json::parse("-9223372036854775808").unwrap(),
            Json::Int(i64::MIN)
        );
        assert_eq!(Json::parse("'hi'").unwrap(), Json::String("hi".into()));
        assert_eq!(Json::parse("\"hi\"").unwrap(), Json::String("hi".into()));
        assert_eq!(
            Json::parse(r#""a\"b\\c\/\b\f\n\r\t\u0041\u00e9\ud83d\ude00'""#).unwrap(),
            Json::String("a\"b\\c/\u{8}\u{c}\n\r\tAé😀'".into())
        );
        assert_eq!(
            Json::parse(r#"'it\'s "x"'"#).unwrap(),
            Json::String("it's \"x\"".into())
        );
        assert_eq!(
            Json::parse("\"日本語\"").unwrap(),
            Json::String("日本語".into())
        );
    }

    #[test]
    fn parse_and_write_compact() {
        assert_eq!(compact("[1,2,3]"), "[1, 2, 3]");
        assert_eq!(compact("[]"), "[]");
        assert_eq!(compact("{}"), "{}");
        assert_eq!(compact(" [ ] "), "[]");
        assert_eq!(
            compact("{'a':1,\"b\":[true,null,1.5]}"),
            r#"{"a": 1, "b": [true, null, 1.5]}"#
        );
        assert_eq!(
            compact(r#"{"id": 42, "data": [1,2,3]}"#),
            r#"{"id": 42, "data": [1, 2, 3]}"#
        );
        // member order and duplicates are kept
        assert_eq!(
            compact(r#"{"b": 1, "a": 2, "b": 3}"#),
            r#"{"b": 1, "a": 2, "b": 3}"#
        );
        assert_eq!(
            compact("[1.0, 3.14, 1e8, 0.00001, 7e-1]"),
            "[1, 3.14, 1e+08, 1e-05, 0.7]"
        );
        assert_eq!(compact(r#"["a\"b\\c\nd"]"#), r#"["a\"b\\c\nd"]"#);
        assert_eq!(compact("'\u{1}é'"), "\"\u{1}é\"");
    }

    #[test]
    fn write_pretty_layout() {
        assert_eq!(pretty("{}"), "{}");
        assert_eq!(pretty("[]"), "[]");
        assert_eq!(pretty("1"), "1");
        assert_eq!(pretty("[1, [2, 3]]"), "[1, [2, 3]]");
        assert_eq!(pretty(r#"{"id": 48}"#), "{\n  \"id\": 48\n}");
        assert_eq!(
            pretty(r#"{"a": {"b": {}, "c": [{"d": 1}, 2]}, "e": "x"}"#),
            "{\n  \"a\": {\n    \"b\": {},\n    \"c\": [{\n      \"d\": 1\n    }, 2]\n  },\n  \"e\": \"x\"\n}"
        );
        let mut s = String::new();
        Json::parse(r#"{"id": 48}"#)
            .unwrap()
            .write_pretty(&mut s, 1);
        assert_eq!(s, "{\n    \"id\": 48\n  }");
    }

    #[test]
    fn parse_errors() {
        for bad in [
            "",
            " ",
            "nul",
            "nulls",
            "tru",
            "[",
            "]",
            "[1,",
            "[1 2]",
            "[1,]",
            "{",
            "{\"a\"",
            "{\"a\":",
            "{\"a\":1,",
            "{1:2}",
            "{\"a\" 1}",
            "\"abc",
            "'abc\"",
            "-",
            "--1",
            "1.",
            ".5",
            "1e",
            "1e+",
            "+1",
            "01x",
            "1 2",
            "\"\\x\"",
            "\"\\u12\"",
            "\"\\uzzzz\"",
            "\"\\ud800\"",
            "\"\\ud800\\u0041\"",
            "\"\\udc00\"",
            "[1]]",
            "{}}",
            "\u{0}",
            "undefined",
            "NaN",
            "\"\\",
            "'\\é'",
        ] {
            assert!(Json::parse(bad).is_err(), "{:?} should fail", bad);
        }
        assert_eq!(
            Json::parse("[1 2]").unwrap_err().msg(),
            "json parse error: unexpected character '2' at offset 3"
        );
        assert_eq!(
            Json::parse("[1,").unwrap_err().msg(),
            "json parse error: unexpected end of input"
        );
        assert_eq!(
            Json::parse("'abc").unwrap_err().msg(),
            "json parse error: unterminated string"
        );
    }

    #[test]
    fn garbage_never_panics() {
        let deep_open = "[".repeat(100_000);
        let deep_obj = "{\"a\":".repeat(100_000);
        assert!(Json::parse(&deep_open).is_err());
        assert!(Json::parse(&deep_obj).is_err());
        let ok_deep = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(Json::parse(&ok_deep).is_ok());
        // pseudo-random byte soup built from json-ish characters
        let alphabet: Vec<char> = "{}[]\"',:.-+eE0123456789 \\untrfalsé😀\u{0}\n"
            .chars()
            .collect();
        let mut seed: u64 = 0x9e3779b97f4a7c15;
        for _ in 0..20_000 {
            let mut s = String::new();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 24) as usize;
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                s.push(alphabet[(seed % alphabet.len() as u64) as usize]);
            }
            if let Ok(j) = Json::parse(&s) {
                // whatever parses must round-trip through compact text
                let text = j.to_compact_string();
                let again = Json::parse(&text).unwrap();
                assert_eq!(again.total_cmp(&j), Ordering::Equal, "{:?}", s);
            }
        }
    }

    #[test]
    fn ordering() {
        let mut v: Vec<Json> = [
            "{\"a\": 1}",
            "[1, 2]",
            "\"b\"",
            "2.5",
            "1",
            "true",
            "null",
            "[1]",
            "\"a\"",
            "{}",
            "false",
            "3",
        ]
        .iter()
        .map(|t| Json::parse(t).unwrap())
        .collect();
        v.sort_by(|a, b| a.total_cmp(b));
        let texts: Vec<String> = v.iter().map(|j| j.to_compact_string()).collect();
        assert_eq!(
            texts,
            [
                "null",
                "false",
                "true",
                "1",
                "2.5",
                "3",
                "\"a\"",
                "\"b\"",
                "[1]",
                "[1, 2]",
                "{}",
                "{\"a\": 1}"
            ]
        );
        let a = Json::parse(r#"{"a": [1, {"b": 2}]}"#).unwrap();
        let b = Json::parse(r#"{"a": [1, {"b": 3}]}"#).unwrap();
        assert_eq!(a.total_cmp(&b), Ordering::Less);
        assert_eq!(a.total_cmp(&a.clone()), Ordering::Equal);
        assert_eq!(Json::Int(1).total_cmp(&Json::Double(1.0)), Ordering::Equal);
        let h = |j: &Json| {
            use std::hash::{Hash, Hasher};
            let mut s = std::collections::hash_map::DefaultHasher::new();
            j.hash(&mut s);
            s.finish()
        };
        let a = Json::parse("[1234567, {\"a\": 2}]").unwrap();
        let b = Json::parse("[1234567.0, {\"a\": 2.0}]").unwrap();
        assert_eq!(a.total_cmp(&b), Ordering::Equal);
        assert_eq!(h(&a), h(&b));
    }

    /// A value `depth` levels deep, alternating arrays and objects around `1`.
    fn nested(depth: usize) -> Json {
        let mut j = Json::Int(1);
        for i in 0..depth {
            j = if i % 2 == 0 {
                Json::Array(vec![Json::Null, j])
            } else {
                Json::Object(vec![("k".into(), j), ("z".into(), Json::Bool(true))])
            };
        }
        j
    }

    /// Runs `f` on a thread with a small stack: a walk that recursed once per level over the
    /// deep values below would overflow it.
    fn on_small_stack(f: impl FnOnce() + Send + 'static) {
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(f)
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn deep_values_are_walked_without_recursion() {
        on_small_stack(|| {
            let depth = 200_000;
            let a = nested(depth);
            assert_eq!(a.depth(), depth);
            assert!(a.deeper_than(MAX_DEPTH));
            assert!(a.check_depth().is_err());
            let b = a.clone();
            assert!(a == b);
            assert_eq!(a.total_cmp(&b), Ordering::Equal);
            let h = |j: &Json| {
                use std::hash::{Hash, Hasher};
                let mut s = std::collections::hash_map::DefaultHasher::new();
                j.hash(&mut s);
                s.finish()
            };
            assert_eq!(h(&a), h(&b));
            let c = nested(depth + 1);
            assert!(a != c);
            assert_ne!(a.total_cmp(&c), Ordering::Equal);
            let text = a.to_compact_string();
            assert!(
                text.starts_with("{\"k\": [null, {\"k\": ["),
                "{}",
                &text[..40]
            );
            // (pretty output indents by depth, so its size grows with depth squared)
            let shallow = nested(2_000);
            let mut pretty = String::new();
            shallow.write_pretty(&mut pretty, 0);
            assert!(pretty.len() > shallow.to_compact_string().len());
            assert!(format!("{a:?}").starts_with("Object([(\"k\", Array([Null, Object("));
            drop(a);
            drop(b);
            drop(c);
            // a long chain of one-member objects, and a wide array of deep values
            let mut j = Json::Null;
            for _ in 0..300_000 {
                j = Json::Object(vec![(String::new(), j)]);
            }
            drop(j);
            let wide = Json::Array((0..50).map(|_| nested(5_000)).collect());
            assert_eq!(wide.depth(), 5_001);
            drop(wide.clone());
        });
    }

    #[test]
    fn serde_decoding_is_depth_bounded() {
        let enc = |j: &Json| postcard::to_allocvec(j).unwrap();
        let j = Json::parse(r#"{"a": [1, 2.5, "x", null, true, {}]}"#).unwrap();
        let back: Json = postcard::from_bytes(&enc(&j)).unwrap();
        assert!(back == j);
        // (built by hand: serialising is recursive, decoding is what must be bounded)
        let nested = |n: usize| {
            let mut b = Vec::new();
            for _ in 0..n {
                b.extend_from_slice(&[5, 1]); // Array, one item
            }
            b.push(0); // Null
            b
        };
        // the deepest accepted value decodes within a main thread's 8 MiB (a debug build)
        std::thread::Builder::new()
            .stack_size(8 << 20)
            .spawn(move || {
                let j = postcard::from_bytes::<Json>(&nested(SERDE_MAX_DEPTH)).unwrap();
                assert_eq!(j.depth(), SERDE_MAX_DEPTH);
                assert!(postcard::from_bytes::<Json>(&nested(SERDE_MAX_DEPTH + 1)).is_err());
                assert!(postcard::from_bytes::<Json>(&nested(100_000)).is_err());
            })
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn depth_counts_containers() {
        let d = |t: &str| Json::parse(t).unwrap().depth();
        assert_eq!(d("1"), 0);
        assert_eq!(d("\"x\""), 0);
        assert_eq!(d("[]"), 1);
        assert_eq!(d("{}"), 1);
        assert_eq!(d("[1, 2]"), 1);
        assert_eq!(d("[[], 2]"), 2);
        assert_eq!(d("[1, {}]"), 2);
        assert_eq!(d("{\"a\": [1, [2]], \"b\": 1}"), 3);
        assert_eq!(d("[[[{\"a\": {}}]]]"), 5);
        let limit = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        let j = Json::parse(&limit).unwrap();
        assert_eq!(j.depth(), MAX_DEPTH);
        assert!(j.check_depth().is_ok());
        let over = Json::Array(vec![j]);
        assert_eq!(
            over.check_depth().unwrap_err().msg(),
            "json nesting is too deep"
        );
        assert_eq!(
            Json::parse(&format!("[{limit}]")).unwrap_err().msg(),
            "json parse error: nesting is too deep"
        );
    }

    // Reference implementations: the recursive walks the iterative ones replaced.
    fn ref_compact(j: &Json, out: &mut String) {
        match j {
            Json::Array(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    ref_compact(v, out);
                }
                out.push(']');
            }
            Json::Object(members) => {
                out.push('{');
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_escaped_str(k, out);
                    out.push_str(": ");
                    ref_compact(v, out);
                }
                out.push('}');
            }
            leaf => leaf.write_leaf(out),
        }
    }

    fn ref_pretty(j: &Json, out: &mut String, depth: usize) {
        match j {
            Json::Array(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    ref_pretty(v, out, depth);
                }
                out.push(']');
            }
            Json::Object(members) if members.is_empty() => out.push_str("{}"),
            Json::Object(members) => {
                out.push_str("{\n");
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push_str(",\n");
                    }
                    indent(out, depth + 1);
                    write_escaped_str(k, out);
                    out.push_str(": ");
                    ref_pretty(v, out, depth + 1);
                }
                out.push('\n');
                indent(out, depth);
                out.push('}');
            }
            leaf => leaf.write_leaf(out),
        }
    }

    fn ref_cmp(a: &Json, b: &Json) -> Ordering {
        match (a, b) {
            (Json::Array(x), Json::Array(y)) => {
                for (p, q) in x.iter().zip(y.iter()) {
                    match ref_cmp(p, q) {
                        Ordering::Equal => {}
                        o => return o,
                    }
                }
                x.len().cmp(&y.len())
            }
            (Json::Object(x), Json::Object(y)) => {
                for ((kp, p), (kq, q)) in x.iter().zip(y.iter()) {
                    match kp.as_bytes().cmp(kq.as_bytes()).then_with(|| ref_cmp(p, q)) {
                        Ordering::Equal => {}
                        o => return o,
                    }
                }
                x.len().cmp(&y.len())
            }
            (a, b) => a.cmp_leaf(b),
        }
    }

    fn ref_debug(j: &Json, out: &mut String) {
        use std::fmt::Write;
        match j {
            Json::Array(items) => {
                out.push_str("Array([");
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    ref_debug(v, out);
                }
                out.push_str("])");
            }
            Json::Object(members) => {
                out.push_str("Object([");
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    let _ = write!(out, "({k:?}, ");
                    ref_debug(v, out);
                    out.push(')');
                }
                out.push_str("])");
            }
            Json::Null => out.push_str("Null"),
            Json::Bool(b) => {
                let _ = write!(out, "Bool({b:?})");
            }
            Json::Int(i) => {
                let _ = write!(out, "Int({i:?})");
            }
            Json::Double(d) => {
                let _ = write!(out, "Double({d:?})");
            }
            Json::String(s) => {
                let _ = write!(out, "String({s:?})");
            }
        }
    }

    fn next_rand(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    fn random_json(seed: &mut u64, depth: usize) -> Json {
        let mut next = || next_rand(seed);
        let pick = next() % if depth == 0 { 6 } else { 9 };
        match pick {
            0 => Json::Null,
            1 => Json::Bool(next() % 2 == 0),
            2 => Json::Int((next() % 5) as i64 - 2),
            3 => Json::Double(((next() % 5) as f64 - 2.0) / 2.0),
            4 => Json::String(["", "a", "b", "ab"][(next() % 4) as usize].into()),
            5 => Json::Array(vec![]),
            6 | 7 => {
                let n = (next() % 4) as usize;
                Json::Array((0..n).map(|_| random_json(seed, depth - 1)).collect())
            }
            _ => {
                let n = (next() % 4) as usize;
                let mut members = Vec::new();
                for _ in 0..n {
                    let k = ["a", "b", ""][(next_rand(seed) % 3) as usize].to_string();
                    members.push((k, random_json(seed, depth - 1)));
                }
                Json::Object(members)
            }
        }
    }

    #[test]
    fn iterative_walks_match_the_recursive_ones() {
        let mut seed = 0x5deece66d_u64;
        let values: Vec<Json> = (0..400).map(|_| random_json(&mut seed, 4)).collect();
        for a in &values {
            let mut x = String::new();
            ref_compact(a, &mut x);
            assert_eq!(a.to_compact_string(), x);
            let mut y = String::new();
            a.write_compact_iter(&mut y);
            assert_eq!(y, x);
            for d in [0, 3] {
                let (mut x, mut y) = (String::new(), String::new());
                ref_pretty(a, &mut x, d);
                a.write_pretty_iter(&mut y, d);
                assert_eq!(x, y);
            }
            assert!(a.clone_iter().eq_iter(a));
            assert_eq!(a.depth_iter(usize::MAX), a.depth());
            for d in [0, 2] {
                let (mut x, mut y) = (String::new(), String::new());
                ref_pretty(a, &mut x, d);
                a.write_pretty(&mut y, d);
                assert_eq!(x, y);
            }
            let mut x = String::new();
            ref_debug(a, &mut x);
            assert_eq!(format!("{a:?}"), x);
            let c = a.clone();
            assert_eq!(format!("{c:?}"), x);
            assert!(c == *a);
        }
        let h = |j: &Json| {
            use std::hash::{Hash, Hasher};
            let mut s = std::collections::hash_map::DefaultHasher::new();
            j.hash(&mut s);
            s.finish()
        };
        for a in &values {
            for b in values.iter().take(120) {
                let o = a.total_cmp(b);
                assert_eq!(o, ref_cmp(a, b), "{a:?} {b:?}");
                assert_eq!(a.total_cmp_iter(b), o, "{a:?} {b:?}");
                assert_eq!(a.eq_iter(b), *a == *b, "{a:?} {b:?}");
                let hi = |j: &Json| {
                    use std::hash::Hasher;
                    let mut s = std::collections::hash_map::DefaultHasher::new();
                    j.hash_iter(&mut s);
                    s.finish()
                };
                assert_eq!(hi(a), h(a));
                assert_eq!(b.total_cmp(a), o.reverse());
                if o == Ordering::Equal {
                    assert_eq!(h(a), h(b), "{a:?} {b:?}");
                }
                let same = format!("{a:?}") == format!("{b:?}");
                assert_eq!(*a == *b, same, "{a:?} {b:?}");
            }
        }
        // values crossing the depth where the walks switch from recursion to iteration
        let wrap = |j: &Json, n: usize| {
            let mut w = j.clone();
            for i in 0..n {
                w = if i % 2 == 0 {
                    Json::Array(vec![Json::Int(i as i64), w])
                } else {
                    Json::Object(vec![("k".into(), w), ("z".into(), Json::Null)])
                };
            }
            w
        };
        for (i, a) in values.iter().enumerate().take(60) {
            let n = RECURSION - 3 + i % 6;
            let (wa, wb) = (wrap(a, n), wrap(&values[(i + 1) % 60], n));
            let (mut x, mut y) = (String::new(), String::new());
            ref_compact(&wa, &mut x);
            wa.write_compact_iter(&mut y);
            assert_eq!(wa.to_compact_string(), x);
            assert_eq!(y, x);
            let (mut x, mut y) = (String::new(), String::new());
            ref_pretty(&wa, &mut x, 1);
            wa.write_pretty(&mut y, 1);
            assert_eq!(x, y);
            assert_eq!(wa.total_cmp(&wb), ref_cmp(&wa, &wb));
            assert_eq!(wa.total_cmp_iter(&wb), ref_cmp(&wa, &wb));
            assert_eq!(wa == wb, wa.eq_iter(&wb));
            let c = wa.clone();
            assert!(c == wa && c.eq_iter(&wa));
            assert_eq!(h(&c), h(&wa));
            assert_eq!(wa.depth(), wa.depth_iter(usize::MAX));
            assert_eq!(wa.deeper_than(n), wa.depth() > n);
        }
        assert!(Json::Int(1) != Json::Double(1.0));
        assert!(Json::Double(f64::NAN) != Json::Double(f64::NAN));
        assert!(Json::Array(vec![]) != Json::Object(vec![]));
        assert!(Json::Array(vec![Json::Int(1)]) != Json::Array(vec![]));
        let taken = Json::parse("{\"a\": [1]}").unwrap().into_members().unwrap();
        assert_eq!(taken.len(), 1);
        assert!(Json::Int(1).into_items().is_none());
    }
}
