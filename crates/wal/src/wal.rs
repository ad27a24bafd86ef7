//! The log writer: group writes into the current file, rotation, recovery on open.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::WalError;
use crate::format::{self, RecordView, FILE_HEADER_SIZE, RECORD_HEADER_SIZE};
use crate::reader::{self, ReadSummary};
use crate::slot::Slots;
use std::sync::Arc;

/// Configuration of the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalConfig {
    /// Directory holding the WAL files (`<repo>/wal`).
    pub dir: PathBuf,
    /// Rotate to a new file once the current one reaches this many bytes.
    pub rotate_wm: u64,
    /// fsync the old file before switching to a new one.
    pub sync_on_rotate: bool,
    /// fsync (`sync_data`) after every `write_batch`.
    pub sync_on_write: bool,
}

impl WalConfig {
    /// Defaults: 64 MiB files, sync on rotate, no sync on every write.
    pub fn new(dir: impl Into<PathBuf>) -> WalConfig {
        WalConfig {
            dir: dir.into(),
            rotate_wm: 64 * 1024 * 1024,
            sync_on_rotate: true,
            sync_on_write: false,
        }
    }
}

/// One recovered record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalRecord {
    pub lsn: u64,
    /// Number of operations in the body (informational).
    pub count: u32,
    /// Opaque body (the executor's postcard-encoded operations).
    pub body: Vec<u8>,
}

/// What `Wal::open` found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Every valid record, in LSN order.
    pub records: Vec<WalRecord>,
    /// A warning describing a torn tail that was cut from the last file, if any.
    pub truncated: Option<String>,
    /// Highest LSN of the log (0 for an empty log); the next write must use a greater LSN.
    pub last_lsn: u64,
}

/// Counters since open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WalStats {
    /// `write_batch` calls that wrote something (one `write_all` each).
    pub writes: u64,
    /// Records written.
    pub records: u64,
    /// Record bytes written (framing included, file headers excluded).
    pub bytes: u64,
    /// fsyncs of log files.
    pub syncs: u64,
    /// Files created by rotation.
    pub rotations: u64,
    /// Rotation attempts that failed (the log keeps writing to the current file and retries).
    pub rotate_failures: u64,
}

/// Description of one WAL file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalFileInfo {
    /// LSN in the file name: no record in the file is below it (with contiguous LSNs it is
    /// the first record's LSN).
    pub first_lsn: u64,
    /// LSN of the last record in the file, `None` if the file holds no records yet.
    pub last_lsn: Option<u64>,
    /// File size in bytes (header included).
    pub size: u64,
}

/// The write-ahead log: a directory of files named by their first LSN; only the last file is
/// written to.
pub struct Wal {
    config: WalConfig,
    /// All files in LSN order; the last one is the current file.
    files: Vec<WalFileInfo>,
    /// The current file, opened for append.
    file: File,
    /// Reused encode buffer for `write_batch`.
    buf: Vec<u8>,
    last_lsn: u64,
    stats: WalStats,
    /// The current file has data that was written but not fsynced.
    dirty: bool,
    /// Set after a failure that leaves the file state unknown.
    failed: Option<String>,
    rotate_error: Option<String>,
    /// Readers that need part of the log kept (backups): `remove_below` never passes them.
    slots: Arc<Slots>,
}

fn open_append(path: &Path) -> Result<File, WalError> {
    OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(|e| WalError::io(path, e))
}

/// Creates (or resets) `path` as an empty log file holding only the header.
fn create_log_file(path: &Path, sync: bool) -> Result<File, WalError> {
    let io = |e| WalError::io(path, e);
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io)?;
    file.set_len(0).map_err(io)?;
    file.write_all(&format::file_header()).map_err(io)?;
    if sync {
        file.sync_all().map_err(io)?;
    }
    Ok(file)
}

/// Makes file creation/removal in `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), WalError> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| WalError::io(dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

impl Wal {
    /// Opens (creating if needed) the log in `config.dir` and recovers it: every file is
    /// validated in LSN order, a torn tail of the last file is cut off (reported in
    /// `Recovery::truncated`), any other damage is an error. Writing continues in the last file.
    pub fn open(config: WalConfig) -> Result<(Wal, Recovery), WalError> {
        let dir = config.dir.clone();
        fs::create_dir_all(&dir).map_err(|e| WalError::io(&dir, e))?;
        let durable = config.sync_on_write || config.sync_on_rotate;

        let listed = reader::list_files(&dir)?;
        let mut recovery = Recovery::default();
        let mut files = Vec::with_capacity(listed.len().max(1));
        let mut prev = 0u64;
        let n = listed.len();
        for (i, (name_lsn, path)) in listed.iter().enumerate() {
            let data = fs::read(path).map_err(|e| WalError::io(path, e))?;
            let records = &mut recovery.records;
            let scan = reader::scan_file::<WalError, _>(
                path,
                &data,
                *name_lsn,
                prev,
                i + 1 == n,
                &mut |v: RecordView<'_>| {
                    records.push(v.to_record());
                    Ok(())
                },
            )?;
            drop(data);
            let mut size = scan.valid_len;
            if let Some(damage) = &scan.damage {
                if damage.header {
                    drop(create_log_file(path, true)?);
                    size = FILE_HEADER_SIZE as u64;
                } else {
                    let io = |e| WalError::io(path, e);
                    let f = OpenOptions::new().write(true).open(path).map_err(io)?;
                    f.set_len(scan.valid_len).map_err(io)?;
                    f.sync_all().map_err(io)?;
                }
                tracing::warn!(
                    file = %amelie_common::path_tail(path),
                    offset = damage.offset,
                    bytes = damage.cut,
                    reason = damage.reason,
                    "wal: cut a torn tail"
                );
                recovery.truncated = Some(damage.describe(path));
            }
            files.push(WalFileInfo {
                first_lsn: *name_lsn,
                last_lsn: scan.last_lsn,
                size,
            });
            prev = scan.last_lsn.unwrap_or(prev);
        }
        let tail = files.last().map_or(0, |f| f.first_lsn.saturating_sub(1));
        let last_lsn = prev.max(tail);
        recovery.last_lsn = last_lsn;

        let file = match files.last() {
            Some(cur) => open_append(&format::file_path(&dir, cur.first_lsn))?,
            None => {
                let first = last_lsn + 1;
                let path = format::file_path(&dir, first);
                let file = create_log_file(&path, durable)?;
                if durable {
                    sync_dir(&dir)?;
                }
                tracing::info!(file = %amelie_common::path_tail(&path), "wal: created");
                files.push(WalFileInfo {
                    first_lsn: first,
                    last_lsn: None,
                    size: FILE_HEADER_SIZE as u64,
                });
                file
            }
        };

        let wal = Wal {
            config,
            files,
            file,
            buf: Vec::new(),
            last_lsn,
            stats: WalStats::default(),
            dirty: false,
            failed: None,
            rotate_error: None,
            slots: Arc::new(Slots::default()),
        };
        Ok((wal, recovery))
    }

    /// Streams every valid record of the log in `dir` to `f` without modifying anything
    /// (see [`reader::read_dir`]).
    pub fn read_dir<E, F>(dir: &Path, f: F) -> Result<ReadSummary, E>
    where
        E: From<WalError>,
        F: FnMut(RecordView<'_>) -> Result<(), E>,
    {
        reader::read_dir(dir, f)
    }

    /// Group commit: frames all `(lsn, count, body)` records into one buffer and writes it
    /// with a single `write_all` to the current file, then fsyncs if `sync_on_write`. LSNs must
    /// be strictly increasing (also relative to the last written LSN); on such an error
    /// nothing is written. Once the file reaches `rotate_wm` the log switches to a new file
    /// named by the next LSN. An `Err` means the batch must be treated as not committed;
    /// a failed rotation does not fail the batch (it is counted and retried on the next write).
    pub fn write_batch(&mut self, records: &[(u64, u32, &[u8])]) -> Result<(), WalError> {
        let parts: Vec<(u64, u32, [&[u8]; 1])> =
            records.iter().map(|&(l, c, b)| (l, c, [b])).collect();
        let views: Vec<(u64, u32, &[&[u8]])> =
            parts.iter().map(|(l, c, b)| (*l, *c, &b[..])).collect();
        self.write_batch_parts(&views)
    }

    /// [`Wal::write_batch`] with each record's body given as parts to concatenate (a tag and
    /// the changes the nodes encoded, without copying them into one buffer first).
    pub fn write_batch_parts(&mut self, records: &[(u64, u32, &[&[u8]])]) -> Result<(), WalError> {
        if let Some(reason) = &self.failed {
            return Err(WalError::Failed {
                reason: reason.clone(),
            });
        }
        if records.is_empty() {
            return Ok(());
        }
        let mut last = self.last_lsn;
        let mut total = 0usize;
        for &(lsn, _, parts) in records {
            if lsn <= last {
                return Err(WalError::NonMonotonicLsn { lsn, last });
            }
            let size: usize = parts.iter().map(|p| p.len()).sum();
            if size > u32::MAX as usize {
                return Err(WalError::RecordTooLarge { lsn, size });
            }
            last = lsn;
            total += RECORD_HEADER_SIZE + size;
        }

        self.buf.clear();
        self.buf.reserve(total);
        for &(lsn, count, parts) in records {
            format::append_record_parts(&mut self.buf, lsn, count, parts);
        }

        let cur = self
            .files
            .last_mut()
            .expect("wal always has a current file");
        if let Err(e) = self.file.write_all(&self.buf) {
            let path = format::file_path(&self.config.dir, cur.first_lsn);
            let file = amelie_common::path_tail(&path);
            // Undo a partial write so later batches do not land behind garbage.
            if let Err(undo) = self.file.set_len(cur.size) {
                tracing::error!(
                    file = %file,
                    error = e.to_string(),
                    undo = undo.to_string(),
                    "wal: write failed and could not be undone, no more writes"
                );
                self.failed = Some(format!(
                    "write to '{file}' failed ({e}) and could not be undone ({undo})"
                ));
            } else {
                tracing::error!(
                    file = %file,
                    error = e.to_string(),
                    records = records.len(),
                    "wal: write failed"
                );
            }
            return Err(WalError::io(&path, e));
        }
        cur.size += self.buf.len() as u64;
        cur.last_lsn = Some(last);
        let cur_size = cur.size;
        self.last_lsn = last;
        self.stats.writes += 1;
        self.stats.records += records.len() as u64;
        self.stats.bytes += self.buf.len() as u64;
        self.dirty = true;

        if self.config.sync_on_write {
            self.sync()?;
        }
        if cur_size >= self.config.rotate_wm {
            if let Err(e) = self.rotate() {
                self.stats.rotate_failures += 1;
                if self.rotate_error.is_none() {
                    // retried on every write: logged once until a rotation succeeds
                    tracing::warn!(
                        error = e.to_string(),
                        "wal: rotation failed, writing on in the current file"
                    );
                }
                self.rotate_error = Some(e.to_string());
            }
        }
        Ok(())
    }

    /// Switches to a new file named `last_lsn + 1` (fsyncing the old one first if
    /// `sync_on_rotate`). Does nothing while the current file holds no records.
    pub fn rotate(&mut self) -> Result<(), WalError> {
        if let Some(reason) = &self.failed {
            return Err(WalError::Failed {
                reason: reason.clone(),
            });
        }
        let cur = self.files.last().expect("wal always has a current file");
        if cur.last_lsn.is_none() {
            return Ok(());
        }
        if self.config.sync_on_rotate {
            self.sync()?;
        }
        let first = self.last_lsn + 1;
        let durable = self.config.sync_on_write || self.config.sync_on_rotate;
        let path = format::file_path(&self.config.dir, first);
        let file = match create_log_file(&path, durable) {
            Ok(f) => f,
            Err(e) => {
                let _ = fs::remove_file(&path);
                return Err(e);
            }
        };
        if durable {
            sync_dir(&self.config.dir)?;
        }
        // The old file is closed here; unsynced data in it (sync_on_rotate off) stays with
        // the OS page cache.
        self.file = file;
        self.dirty = !durable;
        self.files.push(WalFileInfo {
            first_lsn: first,
            last_lsn: None,
            size: FILE_HEADER_SIZE as u64,
        });
        self.stats.rotations += 1;
        self.rotate_error = None;
        tracing::info!(file = %amelie_common::path_tail(&path), "wal: rotated");
        Ok(())
    }

    /// fsyncs (`sync_data`) the current file if anything was written since the last sync.
    /// A failed fsync makes the log refuse further writes (the page cache state is unknown).
    pub fn sync(&mut self) -> Result<(), WalError> {
        if let Some(reason) = &self.failed {
            return Err(WalError::Failed {
                reason: reason.clone(),
            });
        }
        if !self.dirty {
            return Ok(());
        }
        if let Err(e) = self.file.sync_data() {
            let path = self.current_path();
            let file = amelie_common::path_tail(&path);
            tracing::error!(
                file = %file,
                error = e.to_string(),
                "wal: fsync failed, no more writes"
            );
            self.failed = Some(format!("fsync of '{file}' failed: {e}"));
            return Err(WalError::io(&path, e));
        }
        self.dirty = false;
        self.stats.syncs += 1;
        Ok(())
    }

    /// Removes whole files whose records are all below `lsn` (never the current file), and
    /// never below the lowest [`Slot`](crate::Slot): a file holding a record at or above a
    /// slot's LSN stays. Only a prefix of the file list is removed, so the remaining log
    /// stays contiguous. Returns the number of files removed.
    pub fn remove_below(&mut self, lsn: u64) -> Result<usize, WalError> {
        let lsn = match self.slots.min() {
            Some(pinned) => lsn.min(pinned),
            None => lsn,
        };
        let mut removable = 0;
        while removable + 1 < self.files.len() {
            let f = &self.files[removable];
            if f.last_lsn.is_some_and(|last| last >= lsn) {
                break;
            }
            removable += 1;
        }
        for i in 0..removable {
            let path = format::file_path(&self.config.dir, self.files[i].first_lsn);
            if let Err(e) = fs::remove_file(&path) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    self.files.drain(..i);
                    return Err(WalError::io(&path, e));
                }
            }
        }
        self.files.drain(..removable);
        if removable > 0 && (self.config.sync_on_write || self.config.sync_on_rotate) {
            sync_dir(&self.config.dir)?;
        }
        if removable > 0 {
            tracing::debug!(files = removable, below = lsn, "wal: removed files");
        }
        Ok(removable)
    }

    /// Syncs and closes the log.
    pub fn close(mut self) -> Result<(), WalError> {
        self.sync()
    }

    /// Highest LSN written (or recovered); 0 for an empty log.
    pub fn last_lsn(&self) -> u64 {
        self.last_lsn
    }

    /// `(first_lsn, size)` of every file, in LSN order; the last is the current file.
    pub fn files(&self) -> Vec<(u64, u64)> {
        self.files.iter().map(|f| (f.first_lsn, f.size)).collect()
    }

    /// Detailed description of every file, in LSN order.
    pub fn file_infos(&self) -> &[WalFileInfo] {
        &self.files
    }

    /// The slots of this log: a [`Slot`](crate::Slot) made from them keeps the files from
    /// its LSN on (see [`Wal::remove_below`]).
    pub fn slots(&self) -> &Arc<Slots> {
        &self.slots
    }

    /// Counters since open.
    pub fn stats(&self) -> WalStats {
        self.stats
    }

    /// The error of the last failed rotation, cleared by a successful one.
    pub fn rotate_error(&self) -> Option<&str> {
        self.rotate_error.as_deref()
    }

    pub fn config(&self) -> &WalConfig {
        &self.config
    }

    pub fn dir(&self) -> &Path {
        &self.config.dir
    }

    #[cfg(test)]
    pub(crate) fn buf_capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Path of the file currently written to.
    pub fn current_path(&self) -> PathBuf {
        let cur = self.files.last().expect("wal always has a current file");
        format::file_path(&self.config.dir, cur.first_lsn)
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        if self.dirty && self.failed.is_none() {
            let _ = self.file.sync_data();
        }
    }
}

impl std::fmt::Debug for Wal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal")
            .field("dir", &self.config.dir)
            .field("last_lsn", &self.last_lsn)
            .field("files", &self.files.len())
            .field("stats", &self.stats)
            .finish()
    }
}
