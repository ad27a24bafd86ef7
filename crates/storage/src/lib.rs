//! Storage: partitions with a tree (ordered) or hash primary index, compact rows, keys and
//! the undo log.
//!
//! A partition is owned by exactly one compute node thread; nothing here locks.

mod codec;
mod hash;
mod json_codec;
pub mod key;
pub mod partition;
pub mod row;
mod secondary;
mod sep;
mod tree;
pub mod undo;
mod value_ref;
pub mod varint;

#[cfg(test)]
mod tests;

pub use json_codec::JSON_MAX_DEPTH;
pub use key::encode_key;
pub use partition::Partition;
pub use row::{check_values, encode_row_into, encoded_len, Row, RowIter, RowReader};
pub use undo::{UndoLog, UndoOp};
pub use value_ref::{JsonRef, ValueRef, VectorRef};
