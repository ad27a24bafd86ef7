//! The sort order of json values (ORDER BY, DISTINCT): [`Json::sort_cmp`].
//!
//! It is not the order of the comparison operators ([`Json::total_cmp`]): values compare by
//! class first, `null < bool < real < int < string < object < array` (so every double sorts
//! before every integer), then within the class; arrays and objects element by element, and
//! a container sorts *before* its own prefix (`[1, 2] < [1]`, `[0, 5] < [1]`).

use super::value::Json;
use super::walk::{cmp_walk, OrderRules};
use std::cmp::Ordering;

/// Numeric order of two doubles, `-0.0 == 0.0`; NaNs (which no numeric order places) go
/// after every positive number or before every negative one by their sign, as
/// [`f64::total_cmp`] puts them, so the order stays total.
#[inline]
pub fn cmp_f64(a: f64, b: f64) -> Ordering {
    a.partial_cmp(&b).unwrap_or_else(|| a.total_cmp(&b))
}

impl Json {
    /// The sort order of json values: see the module head.
    pub fn sort_cmp(&self, other: &Json) -> Ordering {
        cmp_walk::<SortOrder>(self, other)
    }

    /// The class rank of the sort order.
    #[inline]
    fn sort_class(&self) -> u8 {
        match self {
            Json::Null => 0,
            Json::Bool(_) => 1,
            Json::Double(_) => 2,
            Json::Int(_) => 3,
            Json::String(_) => 4,
            Json::Object(_) => 5,
            Json::Array(_) => 6,
        }
    }

    /// [`Json::sort_cmp`] of two values of which neither is a non-empty container.
    #[inline]
    pub(super) fn sort_leaf(&self, other: &Json) -> Ordering {
        use Json::*;
        match (self, other) {
            (Bool(a), Bool(b)) => a.cmp(b),
            (Int(a), Int(b)) => a.cmp(b),
            (Double(a), Double(b)) => cmp_f64(*a, *b),
            (String(a), String(b)) => a.as_bytes().cmp(b.as_bytes()),
            // null against null, or two empty containers of one class: equal
            (a, b) => a.sort_class().cmp(&b.sort_class()),
        }
    }
}

/// The rules of [`Json::sort_cmp`] for [`cmp_walk`]: a container sorts after a longer one
/// of which it is a prefix.
struct SortOrder;

impl OrderRules for SortOrder {
    const PREFIX: Ordering = Ordering::Greater;

    #[inline]
    fn class(j: &Json) -> u8 {
        j.sort_class()
    }

    #[inline]
    fn leaf(a: &Json, b: &Json) -> Ordering {
        a.sort_leaf(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn j(text: &str) -> Json {
        Json::parse(text).unwrap()
    }

    #[test]
    fn classes_then_values() {
        let mut v: Vec<Json> = [
            "[1]",
            "\"a\"",
            "100000",
            "[1,2]",
            "{\"a\":1}",
            "1",
            "true",
            "[0,5]",
            "-2",
            "1.5",
            "false",
            "null",
        ]
        .iter()
        .map(|t| j(t))
        .collect();
        v.sort_by(|a, b| a.sort_cmp(b));
        let text: Vec<String> = v.iter().map(|x| x.to_compact_string()).collect();
        assert_eq!(
            text,
            [
                "null",
                "false",
                "true",
                "1.5",
                "-2",
                "1",
                "100000",
                "\"a\"",
                "{\"a\": 1}",
                "[0, 5]",
                "[1, 2]",
                "[1]"
            ]
        );
    }

    #[test]
    fn longer_container_sorts_before_its_prefix() {
        assert_eq!(j("[1,2]").sort_cmp(&j("[1]")), Ordering::Less);
        assert_eq!(j("[1]").sort_cmp(&j("[]")), Ordering::Less);
        assert_eq!(j("[]").sort_cmp(&j("[]")), Ordering::Equal);
        assert_eq!(j("[[1,2]]").sort_cmp(&j("[[1]]")), Ordering::Less);
        assert_eq!(j("[[1],2]").sort_cmp(&j("[[1,2]]")), Ordering::Greater);
        assert_eq!(
            j("{\"a\":1,\"b\":2}").sort_cmp(&j("{\"a\":1}")),
            Ordering::Less
        );
        assert_eq!(j("{\"a\":2}").sort_cmp(&j("{\"b\":1}")), Ordering::Less);
        assert_eq!(j("{}").sort_cmp(&j("[]")), Ordering::Less);
        assert_eq!(j("{\"a\":1}").sort_cmp(&j("[]")), Ordering::Less);
        assert_eq!(j("[1.0]").sort_cmp(&j("[1]")), Ordering::Less);
        assert_eq!(j("0.0").sort_cmp(&j("-0.0")), Ordering::Equal);
    }

    #[test]
    fn deep_values_compare_without_recursion() {
        let deep = |n: usize, leaf: &str| {
            let mut s = "[".repeat(n);
            s.push_str(leaf);
            s.push_str(&"]".repeat(n));
            Json::parse(&s).unwrap()
        };
        assert_eq!(deep(200, "1").sort_cmp(&deep(200, "2")), Ordering::Less);
        assert_eq!(deep(200, "1").sort_cmp(&deep(200, "1")), Ordering::Equal);
    }
}
