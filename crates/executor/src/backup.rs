//! The engine's side of a hot backup: pin the newest checkpoint and the WAL after it with a
//! WAL slot, and list what a copy needs (spec §1.8, §5.5).
//!
//! The pin is taken under the shared side of the control lock, so no checkpoint runs
//! meanwhile and the newest checkpoint cannot change between reading its LSN and pinning
//! it. The WAL files are listed, and the slot made, while the log's lock is held, so no
//! removal runs in between either. The size of each WAL file is taken at that moment: the
//! copy of the file being written ends at a record boundary, after the last record written
//! before the pin, which makes the copy a consistent prefix of the log.
//!
//! The slot holds the log from its first listed file on (the WAL removal after a
//! checkpoint never passes it) and names the checkpoint, whose directory a checkpoint then
//! keeps (`checkpoint.rs`). Dropping the [`BackupPin`] releases both.

use crate::Executor;
use amelie_common::{Error, Result};
use amelie_wal::Slot;
use std::path::Path;

/// What a running backup holds and copies.
#[derive(Debug)]
pub struct BackupPin {
    /// Keeps the checkpoint and the WAL files listed; dropping it releases them.
    pub slot: Slot,
    /// The LSN of the checkpoint copied.
    pub checkpoint: u64,
    /// The LSN of the last record in the listed WAL (at the pin).
    pub lsn: u64,
    /// The files to copy, as paths relative to the repository with their sizes: the
    /// checkpoint's files (`<lsn>/<name>`), then the WAL files (`wal/<name>`) in LSN order.
    pub files: Vec<(String, u64)>,
}

fn io_err(what: &str, e: std::io::Error) -> Error {
    Error::io(format!("backup: {what}: {e}"))
}

/// The regular files of a checkpoint directory, sorted by name, as `<lsn>/<name>`.
fn checkpoint_files(dir: &Path, lsn: u64) -> Result<Vec<(String, u64)>> {
    let name = lsn.to_string();
    let cdir = dir.join(&name);
    let mut out = Vec::new();
    let entries = std::fs::read_dir(&cdir).map_err(|e| io_err(&format!("checkpoint {name}"), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io_err(&format!("checkpoint {name}"), e))?;
        let meta = entry
            .metadata()
            .map_err(|e| io_err(&format!("checkpoint {name}"), e))?;
        let Some(file) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if meta.is_file() {
            out.push((format!("{name}/{file}"), meta.len()));
        }
    }
    out.sort();
    Ok(out)
}

impl Executor {
    /// Pins the newest checkpoint and the WAL from there on with a slot, and lists the
    /// files a copy needs (see the module documentation).
    pub async fn backup(&self) -> Result<BackupPin> {
        let Some(dir) = self.dir.clone() else {
            return Err(Error::unsupported("backup: no repository directory"));
        };
        // no checkpoint runs while the shared side is held
        let _shared = self.control.read().await;
        let checkpoint = self.checkpoint_lsn();
        if checkpoint == 0 {
            return Err(Error::not_found("backup: there is no checkpoint to copy"));
        }
        let (slot, wal_files, lsn) = {
            let wal = self.wal.lock();
            let files = wal.file_infos().to_vec();
            let first = files.first().map_or(checkpoint, |f| f.first_lsn);
            let slot = wal.slots().create(first.min(checkpoint), Some(checkpoint));
            (slot, files, wal.last_lsn())
        };
        let mut files = checkpoint_files(&dir, checkpoint)?;
        for f in &wal_files {
            let name = amelie_wal::format::file_name(f.first_lsn);
            files.push((format!("wal/{name}"), f.size));
        }
        tracing::info!(
            checkpoint,
            lsn,
            slot = slot.lsn(),
            files = files.len(),
            "backup: pinned"
        );
        Ok(BackupPin {
            slot,
            checkpoint,
            lsn: lsn.max(checkpoint),
            files,
        })
    }
}
