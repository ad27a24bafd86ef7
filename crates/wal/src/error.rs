//! Errors of the write-ahead log.

use std::io;
use std::path::{Path, PathBuf};

/// Everything that can go wrong while reading, writing or recovering the log.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    /// An I/O operation on `path` failed.
    #[error("wal: i/o error on '{}': {source}", amelie_common::path_tail(path))]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// A record (or file header) is damaged somewhere it cannot be explained by a torn write
    /// at the very end of the log: in the middle of a file, or in a file other than the last.
    #[error(
        "wal: file '{}' is corrupt at offset {offset}: {reason}",
        amelie_common::path_tail(file)
    )]
    Corrupt {
        file: PathBuf,
        offset: u64,
        reason: String,
    },

    /// The file does not start with the WAL magic bytes.
    #[error(
        "wal: file '{}' is not a wal file (bad magic)",
        amelie_common::path_tail(file)
    )]
    BadMagic { file: PathBuf },

    /// The file was written by an unsupported format version.
    #[error(
        "wal: file '{}' has unsupported format version {found} (expected {expected})",
        amelie_common::path_tail(file)
    )]
    Version {
        file: PathBuf,
        found: u32,
        expected: u32,
    },

    /// `write_batch` was given an LSN that is not strictly greater than the previous one.
    #[error("wal: lsn {lsn} is not greater than the last written lsn {last}")]
    NonMonotonicLsn { lsn: u64, last: u64 },

    /// A record body does not fit the 32-bit size field.
    #[error("wal: record with lsn {lsn} is too large ({size} bytes)")]
    RecordTooLarge { lsn: u64, size: usize },

    /// An earlier write or sync failed in a way that leaves the log state unknown; the log
    /// refuses further writes until it is reopened (and recovered).
    #[error("wal: log is unusable after an earlier failure: {reason}")]
    Failed { reason: String },

    /// The records from `lsn` on are no longer in the log: the files holding them were
    /// removed after a checkpoint (the oldest file left starts at `oldest`). A replica
    /// asking for them is outdated and must start again from a backup.
    #[error("wal: lsn {lsn} is no longer in the log (the oldest file starts at lsn {oldest})")]
    Outdated { lsn: u64, oldest: u64 },

    /// `encode` failed (the value cannot be represented by postcard).
    #[error("wal: failed to encode record: {0}")]
    Encode(String),

    /// `decode` failed: the body does not hold a value of the requested type.
    #[error("wal: failed to decode record: {0}")]
    Decode(String),
}

impl WalError {
    pub(crate) fn io(path: &Path, source: io::Error) -> WalError {
        WalError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn corrupt(file: &Path, offset: u64, reason: impl Into<String>) -> WalError {
        WalError::Corrupt {
            file: file.to_path_buf(),
            offset,
            reason: reason.into(),
        }
    }
}

impl From<WalError> for amelie_common::Error {
    fn from(e: WalError) -> Self {
        use amelie_common::ErrorKind;
        let kind = match e {
            WalError::Encode(_) | WalError::Decode(_) | WalError::NonMonotonicLsn { .. } => {
                ErrorKind::Internal
            }
            WalError::RecordTooLarge { .. } => ErrorKind::LimitReached,
            WalError::Outdated { .. } => ErrorKind::Replication,
            _ => ErrorKind::Io,
        };
        amelie_common::Error::with_kind(kind, e.to_string())
    }
}
