//! JSON values: parsing (both quote styles), compact and pretty writing with `%g` doubles.

use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// A JSON value. Object members keep their insertion order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Double(f64),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    /// Parses JSON text. Strings may use `"` or `'`. Error texts follow Amelie.
    pub fn parse(_text: &str) -> crate::Result<Json> {
        todo!("json parse")
    }

    /// Compact form: `[1, 2]`, `{"a": 1, "b": 2}` (", " and ": " separators).
    pub fn write_compact(&self, _out: &mut String) {
        todo!("json write compact")
    }

    /// Pretty form at nesting depth `depth` (see spec §1.4).
    pub fn write_pretty(&self, _out: &mut String, _depth: usize) {
        todo!("json write pretty")
    }

    /// Deep ordering used for sorting and equality of json values.
    pub fn total_cmp(&self, _other: &Json) -> Ordering {
        todo!("json cmp")
    }
}
