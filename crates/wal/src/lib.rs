//! Write-ahead log: one shared log for the whole database with group commit.
//!
//! The log is a directory (`<repo>/wal/`) of files named by the first LSN they contain
//! (`00000000000000000001.wal`). Each file is a 12-byte header (magic `AMLWAL\0\0` + u32 LE
//! version) followed by framed records `{lsn u64, size u32, count u32, crc u32} body`, where
//! the crc covers the lsn/size/count bytes and the body. Bodies are opaque here; [`encode`]
//! and [`decode`] are postcard helpers for them.
//!
//! * [`Wal::open`] recovers the log: a torn tail of the last file is cut off, any other
//!   damage is a [`WalError::Corrupt`] naming the file.
//! * [`Wal::write_batch`] writes a group of records with one `write_all` (and one fsync when
//!   `sync_on_write`), rotating to a new file at `rotate_wm` bytes.
//! * [`Wal::read_dir`] streams records without modifying anything.
//! * [`read_after`] reads the records after an LSN from a live log, in bounded batches
//!   (for the replication streamer).
//! * [`Slot`]s (a running backup) keep the files from their LSN on: removal after a
//!   checkpoint never passes the lowest one.

mod error;
pub mod format;
mod reader;
mod slot;
mod tail;
mod wal;

#[cfg(test)]
mod tests;

pub use error::WalError;
pub use format::RecordView;
pub use reader::{read_dir, ReadSummary};
pub use slot::{Slot, Slots};
pub use tail::{read_after, read_after_at, TailPos};
pub use wal::{Recovery, Wal, WalConfig, WalFileInfo, WalRecord, WalStats};

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Encodes a record body with postcard.
///
/// Panics only if `value`'s `Serialize` implementation cannot be represented by postcard
/// (e.g. a sequence of unknown length), which is a programming error; use [`encode_into`]
/// to handle that as an error.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    postcard::to_allocvec(value).expect("wal: value cannot be encoded with postcard")
}

/// Appends the postcard encoding of `value` to `buf` (lets callers reuse a buffer).
pub fn encode_into<T: Serialize + ?Sized>(value: &T, buf: &mut Vec<u8>) -> Result<(), WalError> {
    let out = std::mem::take(buf);
    *buf = postcard::to_extend(value, out).map_err(|e| WalError::Encode(e.to_string()))?;
    Ok(())
}

/// Decodes a record body encoded with [`encode`].
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, WalError> {
    postcard::from_bytes(bytes).map_err(|e| WalError::Decode(e.to_string()))
}
