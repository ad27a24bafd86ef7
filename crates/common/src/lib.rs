//! Values, data types, JSON and the one user-facing error type shared by every crate.

pub mod cli;
pub mod error;
pub mod format;
pub mod fs;
pub mod governor;
pub mod hashing;
pub mod idle;
pub mod import_rows;
pub mod json;
pub mod metrics;
pub mod murmur;
pub mod random;
pub mod stack;
pub mod text;
pub mod time;
pub mod token;
pub mod types;
pub mod value;

pub use error::{path_tail, Error, ErrorKind, Result};
pub use format::{encode_rows, encode_single, fmt_double, write_escaped_str, write_value, Format};
pub use governor::Governor;
pub use hashing::{FastMap, FastSet, FastState};
pub use json::Json;
pub use time::{format_interval, format_timestamp, parse_interval, parse_timestamp, Tz};
pub use types::{ColumnType, IndexKind, Type};
pub use value::{Interval, Value};

/// Stack of every long-lived server thread (node threads, frontend threads; the main thread
/// gets the platform's). Every recursion in the server is bounded far below this: the parser
/// limits nesting (and checks the stack it uses), names and lists have a most length, and
/// walks over json values are iterative.
pub const THREAD_STACK: usize = 16 * 1024 * 1024;
