//! Json text out: compact and pretty forms and `Debug`, by bounded recursion that goes on
//! with an explicit stack ([`Walk`]) on deep values.

use super::value::{Json, RECURSION};
use super::walk::{Event, Walk};
use crate::text::{fmt_double, write_escaped_str, write_int};

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

    /// [`Json::write_compact`] without recursion.
    pub(super) fn write_compact_iter(&self, out: &mut String) {
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
    pub(super) fn write_pretty_iter(&self, out: &mut String, depth: usize) {
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
    pub(super) fn write_leaf(&self, out: &mut String) {
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

pub(super) fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}
