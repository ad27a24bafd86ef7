//! Runtime types (what a value is) and column types (how a column stores it).

use serde::{Deserialize, Serialize};
use std::fmt;

/// The runtime type of a value (`::type` name, SHOW type code).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Type {
    Null,
    Bool,
    Int,
    Double,
    String,
    Json,
    Timestamp,
    Interval,
    Vector,
}

impl Type {
    /// Name as printed by `type()` and in error messages (`<int>`).
    pub fn name(self) -> &'static str {
        match self {
            Type::Null => "null",
            Type::Bool => "bool",
            Type::Int => "int",
            Type::Double => "double",
            Type::String => "string",
            Type::Json => "json",
            Type::Timestamp => "timestamp",
            Type::Interval => "interval",
            Type::Vector => "vector",
        }
    }

    /// Code used by `SHOW TABLES EXTENDED` (bool 1 ... vector 8).
    pub fn code(self) -> i64 {
        self as i64
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The declared type of a column, with its storage width.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ColumnType {
    Bool,
    Int8,
    Int16,
    Int32,
    Int64,
    Float,
    Double,
    Text,
    Json,
    Timestamp,
    Interval,
    Vector,
}

impl ColumnType {
    /// Parses a column type name (case-insensitive), as accepted by CREATE TABLE.
    pub fn parse(name: &str) -> Option<ColumnType> {
        let t = match name.to_ascii_lowercase().as_str() {
            "bool" | "boolean" => ColumnType::Bool,
            "int8" | "i8" | "tinyint" => ColumnType::Int8,
            "int16" | "i16" | "smallint" => ColumnType::Int16,
            "int" | "integer" | "int32" | "i32" => ColumnType::Int32,
            "int64" | "i64" | "bigint" => ColumnType::Int64,
            "float" => ColumnType::Float,
            "double" => ColumnType::Double,
            "text" | "string" => ColumnType::Text,
            "json" => ColumnType::Json,
            "timestamp" => ColumnType::Timestamp,
            "interval" => ColumnType::Interval,
            "vector" => ColumnType::Vector,
            _ => return None,
        };
        Some(t)
    }

    /// The runtime type values of this column have.
    pub fn runtime(self) -> Type {
        match self {
            ColumnType::Bool => Type::Bool,
            ColumnType::Int8 | ColumnType::Int16 | ColumnType::Int32 | ColumnType::Int64 => {
                Type::Int
            }
            ColumnType::Float | ColumnType::Double => Type::Double,
            ColumnType::Text => Type::String,
            ColumnType::Json => Type::Json,
            ColumnType::Timestamp => Type::Timestamp,
            ColumnType::Interval => Type::Interval,
            ColumnType::Vector => Type::Vector,
        }
    }

    /// Storage size in bytes (0 for variable length), as shown by `type_size`.
    pub fn size(self) -> i64 {
        match self {
            ColumnType::Bool | ColumnType::Int8 => 1,
            ColumnType::Int16 => 2,
            ColumnType::Int32 | ColumnType::Float => 4,
            ColumnType::Int64 | ColumnType::Double | ColumnType::Timestamp => 8,
            ColumnType::Interval => 16,
            ColumnType::Text | ColumnType::Json | ColumnType::Vector => 0,
        }
    }

    /// Whether a column of this type may be part of an index key.
    pub fn can_be_key(self) -> bool {
        matches!(
            self,
            ColumnType::Int32 | ColumnType::Int64 | ColumnType::Text | ColumnType::Timestamp
        )
    }
}

/// The kind of an index: ordered tree or hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IndexKind {
    Hash,
    Tree,
}

impl IndexKind {
    /// Code used by `SHOW TABLES EXTENDED` (hash 1, tree 2).
    pub fn code(self) -> i64 {
        match self {
            IndexKind::Hash => 1,
            IndexKind::Tree => 2,
        }
    }
}
