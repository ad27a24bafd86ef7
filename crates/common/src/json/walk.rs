//! [`Walk`]: an iterative pre-order walk over a json value, the explicit stack every deep
//! walk (writing, comparing, cloning, hashing, measuring) goes on with.

use super::value::Json;
use crate::stack::InlineStack;
use std::cmp::Ordering;

/// Walk frames kept inline before [`Walk`] allocates (see [`InlineStack`]).
pub(super) const INLINE_FRAMES: usize = 24;

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

/// The rules that make one order of json values out of [`cmp_walk`]: the comparison
/// operators' ([`Json::total_cmp`]) and the sort order of ORDER BY ([`Json::sort_cmp`]).
pub(super) trait OrderRules {
    /// How a container compares with a longer one of its class of which it is a prefix
    /// (`[1]` against `[1, 2]`, `{}` against `{"a": 1}`).
    const PREFIX: Ordering;
    /// The rank of a value's class: values of two classes compare by it alone.
    fn class(j: &Json) -> u8;
    /// Two values of which neither is a non-empty container.
    fn leaf(a: &Json, b: &Json) -> Ordering;
}

/// Compares `a` and `b` by the rules `R`, walking both in step without recursion:
/// containers by class, then item by item (object members key first, keys bytewise), a
/// prefix as [`OrderRules::PREFIX`] says.
pub(super) fn cmp_walk<R: OrderRules>(a: &Json, b: &Json) -> Ordering {
    if !a.is_open() && !b.is_open() {
        return R::leaf(a, b);
    }
    let (mut wa, mut wb) = (Walk::new(a), Walk::new(b));
    loop {
        let (x, y) = match (wa.next(), wb.next()) {
            (Some((x, _)), Some((y, _))) => (x, y),
            // the walks go in step, so they end together
            _ => return Ordering::Equal,
        };
        let o = match (x, y) {
            (Event::Close(_), Event::Close(_)) => Ordering::Equal,
            // the container that ends first is a prefix of the other
            (Event::Close(_), _) => R::PREFIX,
            (_, Event::Close(_)) => R::PREFIX.reverse(),
            (Event::Key(p), Event::Key(q)) => p.as_bytes().cmp(q.as_bytes()),
            // (not reached: a key meets a key or a close, both containers being objects as
            // their classes compared equal)
            (Event::Key(_), _) => R::PREFIX.reverse(),
            (_, Event::Key(_)) => R::PREFIX,
            (Event::Open(p), Event::Open(q)) => R::class(p).cmp(&R::class(q)),
            // an empty container against a non-empty one of its class: its prefix
            (Event::Leaf(p), Event::Open(q)) => R::class(p).cmp(&R::class(q)).then(R::PREFIX),
            (Event::Open(p), Event::Leaf(q)) => {
                R::class(p).cmp(&R::class(q)).then(R::PREFIX.reverse())
            }
            (Event::Leaf(p), Event::Leaf(q)) => R::leaf(p, q),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
}
