//! [`Walk`]: an iterative pre-order walk over a json value, the explicit stack every deep
//! walk (writing, comparing, cloning, hashing, measuring) goes on with.

use super::value::Json;
use crate::stack::InlineStack;

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
