//! Storage: partitions with a tree (ordered) or hash primary index, rows, keys and the undo log.
//!
//! A partition is owned by exactly one compute node thread; nothing here locks.

pub mod key;
pub mod partition;
pub mod undo;

pub use key::{encode_key, FastHasher};
pub use partition::{Partition, Row};
pub use undo::{UndoLog, UndoOp};
