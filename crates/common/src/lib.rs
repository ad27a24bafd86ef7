//! Values, data types, JSON and the one user-facing error type shared by every crate.

pub mod error;
pub mod json;
pub mod murmur;
pub mod time;
pub mod types;
pub mod value;

pub use error::{Error, Result};
pub use json::Json;
pub use types::{ColumnType, Type};
pub use value::{Interval, Value};
