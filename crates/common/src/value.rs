//! `Value`: one runtime value of any type.

use crate::json::Json;
use crate::types::Type;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// An interval: months and days are kept apart from microseconds (no normalisation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Interval {
    pub months: i32,
    pub days: i32,
    pub us: i64,
}

impl Interval {
    pub fn is_zero(&self) -> bool {
        self.months == 0 && self.days == 0 && self.us == 0
    }

    /// Ordering used by comparisons: months, then days, then microseconds.
    pub fn cmp_parts(&self, other: &Interval) -> Ordering {
        (self.months, self.days, self.us).cmp(&(other.months, other.days, other.us))
    }
}

/// One runtime value. Timestamps are microseconds since the Unix epoch (UTC).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    Double(f64),
    Str(Box<str>),
    Json(Box<Json>),
    Timestamp(i64),
    Interval(Interval),
    Vector(Box<[f32]>),
}

impl Value {
    pub fn str(s: &str) -> Value {
        Value::Str(s.into())
    }

    pub fn type_of(&self) -> Type {
        match self {
            Value::Null => Type::Null,
            Value::Bool(_) => Type::Bool,
            Value::Int(_) => Type::Int,
            Value::Double(_) => Type::Double,
            Value::Str(_) => Type::String,
            Value::Json(_) => Type::Json,
            Value::Timestamp(_) => Type::Timestamp,
            Value::Interval(_) => Type::Interval,
            Value::Vector(_) => Type::Vector,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Truthiness used by WHERE, AND/OR/NOT, CASE WHEN: null is false, numbers are true
    /// when `> 0`, strings/vectors/intervals when non-empty, json always.
    pub fn is_true(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Int(i) | Value::Timestamp(i) => *i > 0,
            Value::Double(d) => *d > 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::Json(_) => true,
            Value::Interval(iv) => !iv.is_zero(),
            Value::Vector(v) => !v.is_empty(),
        }
    }

    /// Total order used by ORDER BY, DISTINCT and grouping: by type first
    /// (null < bool < int < double < string < json < timestamp < interval < vector),
    /// except that int and double compare numerically with each other.
    pub fn total_cmp(&self, other: &Value) -> Ordering {
        use Value::*;
        match (self, other) {
            (Null, Null) => Ordering::Equal,
            (Bool(a), Bool(b)) => a.cmp(b),
            (Int(a), Int(b)) => a.cmp(b),
            (Double(a), Double(b)) => a.total_cmp(b),
            (Int(a), Double(b)) => (*a as f64).total_cmp(b),
            (Double(a), Int(b)) => a.total_cmp(&(*b as f64)),
            (Str(a), Str(b)) => a.as_bytes().cmp(b.as_bytes()),
            (Json(a), Json(b)) => a.total_cmp(b),
            (Timestamp(a), Timestamp(b)) => a.cmp(b),
            (Interval(a), Interval(b)) => a.cmp_parts(b),
            (Vector(a), Vector(b)) => cmp_vectors(a, b),
            (a, b) => type_rank(a.type_of()).cmp(&type_rank(b.type_of())),
        }
    }
}

impl Value {
    /// The sort order of ORDER BY and DISTINCT (Amelie's): values of different types by
    /// type, `null < bool < int < double < string < json < timestamp < interval < vector`
    /// (so, unlike [`Value::total_cmp`], an int sorts before every double whatever their
    /// values and NULL comes first); within a type by value (doubles numerically with
    /// `-0.0 == 0.0`, strings bytewise, json by [`Json::sort_cmp`](crate::Json::sort_cmp)).
    pub fn sort_cmp(&self, other: &Value) -> Ordering {
        use Value::*;
        match (self, other) {
            (Int(a), Int(b)) => a.cmp(b),
            (Str(a), Str(b)) => a.as_bytes().cmp(b.as_bytes()),
            (Double(a), Double(b)) => crate::json::cmp_f64(*a, *b),
            (Null, Null) => Ordering::Equal,
            (Bool(a), Bool(b)) => a.cmp(b),
            (Json(a), Json(b)) => a.sort_cmp(b),
            (Timestamp(a), Timestamp(b)) => a.cmp(b),
            (Interval(a), Interval(b)) => a.cmp_parts(b),
            (Vector(a), Vector(b)) => cmp_vectors(a, b),
            (a, b) => sort_rank(a).cmp(&sort_rank(b)),
        }
    }

    /// Whether two values are the same group key: the same type and equal by
    /// [`Value::total_cmp`] (so int 1 and double 1.0 are two keys). Consistent with
    /// [`std::hash::Hash`]: equal keys hash alike.
    #[inline]
    pub fn same_key(&self, other: &Value) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
            && self.total_cmp(other).is_eq()
    }
}

fn sort_rank(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Int(_) => 2,
        Value::Double(_) => 3,
        Value::Str(_) => 4,
        Value::Json(_) => 5,
        Value::Timestamp(_) => 6,
        Value::Interval(_) => 7,
        Value::Vector(_) => 8,
    }
}

fn type_rank(t: Type) -> u8 {
    match t {
        Type::Null => 0,
        Type::Bool => 1,
        Type::Int | Type::Double => 2,
        Type::String => 4,
        Type::Json => 5,
        Type::Timestamp => 6,
        Type::Interval => 7,
        Type::Vector => 8,
    }
}

/// Vectors compare by size first, then element by element.
pub fn cmp_vectors(a: &[f32], b: &[f32]) -> Ordering {
    match a.len().cmp(&b.len()) {
        Ordering::Equal => {}
        o => return o,
    }
    for (x, y) in a.iter().zip(b.iter()) {
        match x.total_cmp(y) {
            Ordering::Equal => {}
            o => return o,
        }
    }
    Ordering::Equal
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        self.total_cmp(other) == Ordering::Equal
    }
}

impl Eq for Value {}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Value) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Value {
    fn cmp(&self, other: &Value) -> Ordering {
        self.total_cmp(other)
    }
}

impl std::hash::Hash for Value {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        match self {
            Value::Null => 0u8.hash(state),
            Value::Bool(b) => b.hash(state),
            Value::Int(i) => (*i as f64).to_bits().hash(state),
            Value::Double(d) => d.to_bits().hash(state),
            Value::Str(s) => s.hash(state),
            Value::Json(j) => j.hash(state),
            Value::Timestamp(t) => t.hash(state),
            Value::Interval(iv) => iv.hash(state),
            Value::Vector(v) => {
                for x in v.iter() {
                    x.to_bits().hash(state)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truthiness() {
        assert!(!Value::Int(-1).is_true());
        assert!(Value::Int(1).is_true());
        assert!(!Value::Null.is_true());
        assert!(!Value::str("").is_true());
        assert!(Value::str("x").is_true());
    }

    #[test]
    fn sort_order_is_by_type_first() {
        let mut v = [
            Value::Interval(Interval::default()),
            Value::Timestamp(0),
            Value::str("a"),
            Value::Double(-5.0),
            Value::Int(100),
            Value::Bool(false),
            Value::Null,
            Value::Json(Box::new(crate::Json::Int(0))),
        ];
        v.sort_by(|a, b| a.sort_cmp(b));
        let types: Vec<Type> = v.iter().map(Value::type_of).collect();
        assert_eq!(
            types,
            [
                Type::Null,
                Type::Bool,
                Type::Int,
                Type::Double,
                Type::String,
                Type::Json,
                Type::Timestamp,
                Type::Interval
            ]
        );
        assert!(Value::Double(-0.0).sort_cmp(&Value::Double(0.0)).is_eq());
        assert!(Value::str("ab").sort_cmp(&Value::str("b")).is_lt());
        assert!(Value::str("a").sort_cmp(&Value::str("ab")).is_lt());
        assert!(!Value::Int(1).same_key(&Value::Double(1.0)));
        assert!(Value::Int(1).same_key(&Value::Int(1)));
    }

    #[test]
    fn order_by_type_then_value() {
        let mut v = vec![
            Value::str("a"),
            Value::Int(2),
            Value::Null,
            Value::Double(1.5),
        ];
        v.sort();
        assert_eq!(
            v,
            vec![
                Value::Null,
                Value::Double(1.5),
                Value::Int(2),
                Value::str("a")
            ]
        );
    }
}
