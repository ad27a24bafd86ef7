//! `ValueRef`: a value borrowed from an encoded row (no allocation to read it).

use crate::json_codec;
use amelie_common::{Interval, Json, Value};

/// One column of a stored row, borrowed from the row's bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ValueRef<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Double(f64),
    Str(&'a str),
    Json(JsonRef<'a>),
    Timestamp(i64),
    Interval(Interval),
    Vector(VectorRef<'a>),
}

impl ValueRef<'_> {
    /// An owned copy.
    pub fn to_value(&self) -> Value {
        match *self {
            ValueRef::Null => Value::Null,
            ValueRef::Bool(b) => Value::Bool(b),
            ValueRef::Int(i) => Value::Int(i),
            ValueRef::Double(d) => Value::Double(d),
            ValueRef::Str(s) => Value::Str(s.into()),
            ValueRef::Json(j) => Value::Json(Box::new(j.to_json())),
            ValueRef::Timestamp(t) => Value::Timestamp(t),
            ValueRef::Interval(iv) => Value::Interval(iv),
            ValueRef::Vector(v) => Value::Vector(v.iter().collect()),
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, ValueRef::Null)
    }
}

impl From<ValueRef<'_>> for Value {
    fn from(v: ValueRef<'_>) -> Value {
        v.to_value()
    }
}

/// A json value in its row encoding (see `json_codec`); decode it with [`JsonRef::to_json`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JsonRef<'a>(pub(crate) &'a [u8]);

impl<'a> JsonRef<'a> {
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    /// Decodes the value (the bytes were validated when the row was built).
    pub fn to_json(&self) -> Json {
        json_codec::decode(self.0, usize::MAX).unwrap_or(Json::Null)
    }
}

/// A vector's `f32` elements as stored (little-endian, unaligned).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VectorRef<'a>(pub(crate) &'a [u8]);

impl<'a> VectorRef<'a> {
    pub fn len(&self) -> usize {
        self.0.len() / 4
    }

    pub fn is_empty(&self) -> bool {
        self.0.len() < 4
    }

    pub fn get(&self, i: usize) -> Option<f32> {
        let b = self.0.get(i * 4..i * 4 + 4)?;
        Some(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = f32> + 'a {
        self.0
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn to_vec(&self) -> Vec<f32> {
        self.iter().collect()
    }
}
