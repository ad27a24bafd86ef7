//! Reading the log: directory listing, per-file validation and the streaming reader.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::error::WalError;
use crate::format::{self, RecordView, FILE_HEADER_SIZE, MAGIC, VERSION};

/// Lists the WAL files of `dir` in LSN order (files with other names are ignored).
/// A missing directory yields an empty list.
pub(crate) fn list_files(dir: &Path) -> Result<Vec<(u64, PathBuf)>, WalError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(WalError::io(dir, e)),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| WalError::io(dir, e))?;
        let name = entry.file_name();
        let Some(lsn) = name.to_str().and_then(format::parse_file_name) else {
            continue;
        };
        let path = entry.path();
        let is_file = entry
            .file_type()
            .map_err(|e| WalError::io(&path, e))?
            .is_file();
        if is_file {
            files.push((lsn, path));
        }
    }
    files.sort_by_key(|(lsn, _)| *lsn);
    Ok(files)
}

/// Damage found at the end of the last file: a torn write that recovery may cut off.
#[derive(Clone, Debug)]
pub(crate) struct TailDamage {
    /// Offset of the first byte that is not part of a valid record (or header).
    pub offset: u64,
    /// Bytes after `offset`.
    pub cut: u64,
    /// The file header itself is incomplete (the file must be rewritten with a header).
    pub header: bool,
    pub reason: &'static str,
}

impl TailDamage {
    pub fn describe(&self, file: &Path) -> String {
        if self.header {
            format!(
                "wal file '{}': incomplete file header ({} bytes), file reset to an empty log file",
                file.display(),
                self.cut
            )
        } else {
            format!(
                "wal file '{}': cut {} bytes at offset {} ({})",
                file.display(),
                self.cut,
                self.offset,
                self.reason
            )
        }
    }
}

/// Result of validating one file.
#[derive(Clone, Debug)]
pub(crate) struct FileScan {
    /// Length of the valid prefix (header + complete records).
    pub valid_len: u64,
    /// LSN of the last valid record, if the file holds any.
    pub last_lsn: Option<u64>,
    pub records: u64,
    pub damage: Option<TailDamage>,
}

/// Validates the contents `data` of the file `path` (named `name_lsn`) and calls `on_record`
/// for each valid record in order. `prev_lsn` is the last LSN seen in earlier files (0 if
/// none). Damage at the end of the last file is reported in `FileScan::damage`; any other
/// damage is an error.
pub(crate) fn scan_file<E, F>(
    path: &Path,
    data: &[u8],
    name_lsn: u64,
    prev_lsn: u64,
    is_last: bool,
    on_record: &mut F,
) -> Result<FileScan, E>
where
    E: From<WalError>,
    F: FnMut(RecordView<'_>) -> Result<(), E>,
{
    if name_lsn <= prev_lsn && prev_lsn != 0 {
        return Err(WalError::corrupt(
            path,
            0,
            format!(
                "file starts at lsn {name_lsn} but an earlier file already holds lsn {prev_lsn}"
            ),
        )
        .into());
    }
    // File header.
    let header = format::file_header();
    if data.len() < FILE_HEADER_SIZE {
        if header.starts_with(data) && is_last {
            return Ok(FileScan {
                valid_len: 0,
                last_lsn: None,
                records: 0,
                damage: Some(TailDamage {
                    offset: 0,
                    cut: data.len() as u64,
                    header: true,
                    reason: "incomplete file header",
                }),
            });
        }
        let magic_len = data.len().min(MAGIC.len());
        if data[..magic_len] != MAGIC[..magic_len] {
            return Err(WalError::BadMagic {
                file: path.to_path_buf(),
            }
            .into());
        }
        return Err(WalError::corrupt(path, 0, "incomplete file header").into());
    }
    if data[..8] != MAGIC {
        return Err(WalError::BadMagic {
            file: path.to_path_buf(),
        }
        .into());
    }
    let version = u32::from_le_bytes(data[8..12].try_into().unwrap());
    if version != VERSION {
        return Err(WalError::Version {
            file: path.to_path_buf(),
            found: version,
            expected: VERSION,
        }
        .into());
    }

    // Records.
    let mut off = FILE_HEADER_SIZE;
    let mut prev = prev_lsn;
    let mut last_lsn = None;
    let mut records = 0u64;
    let mut damage = None;
    while off < data.len() {
        match format::parse_record(&data[off..]) {
            Ok((view, len)) => {
                if view.lsn <= prev {
                    return Err(WalError::corrupt(
                        path,
                        off as u64,
                        format!(
                            "record lsn {} is not greater than the previous lsn {prev}",
                            view.lsn
                        ),
                    )
                    .into());
                }
                if view.lsn < name_lsn {
                    return Err(WalError::corrupt(
                        path,
                        off as u64,
                        format!(
                            "record lsn {} is below the file's first lsn {name_lsn}",
                            view.lsn
                        ),
                    )
                    .into());
                }
                on_record(view)?;
                prev = view.lsn;
                last_lsn = Some(view.lsn);
                records += 1;
                off += len;
            }
            Err(bad) => {
                if !is_last {
                    return Err(WalError::corrupt(
                        path,
                        off as u64,
                        format!("{} (not the last wal file)", bad.describe()),
                    )
                    .into());
                }
                if let Some(next) = format::find_valid_record(data, off + 1, prev) {
                    return Err(WalError::corrupt(
                        path,
                        off as u64,
                        format!(
                            "{}, followed by a valid record at offset {next}",
                            bad.describe()
                        ),
                    )
                    .into());
                }
                damage = Some(TailDamage {
                    offset: off as u64,
                    cut: (data.len() - off) as u64,
                    header: false,
                    reason: bad.describe(),
                });
                break;
            }
        }
    }
    Ok(FileScan {
        valid_len: off as u64,
        last_lsn,
        records,
        damage,
    })
}

/// What `Wal::read_dir` saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadSummary {
    /// Highest LSN in the log: the last record, or one below the last file's first LSN if
    /// that is higher (the log may end with an empty file after older files were removed).
    pub last_lsn: u64,
    /// Number of records delivered.
    pub records: u64,
    /// `(first_lsn, valid size)` of every file, in order.
    pub files: Vec<(u64, u64)>,
    /// Description of a torn tail in the last file that was skipped (not repaired).
    pub damage: Option<String>,
}

/// Streams every valid record of the log in `dir` to `f`, in LSN order, without modifying
/// anything. A torn tail at the end of the last file is skipped and described in the summary;
/// any other damage is an error. A missing directory reads as an empty log.
pub fn read_dir<E, F>(dir: &Path, mut f: F) -> Result<ReadSummary, E>
where
    E: From<WalError>,
    F: FnMut(RecordView<'_>) -> Result<(), E>,
{
    let files = list_files(dir)?;
    let mut summary = ReadSummary::default();
    let mut prev = 0u64;
    let n = files.len();
    for (i, (name_lsn, path)) in files.iter().enumerate() {
        let data = fs::read(path).map_err(|e| WalError::io(path, e))?;
        let scan = scan_file(path, &data, *name_lsn, prev, i + 1 == n, &mut f)?;
        if let Some(d) = &scan.damage {
            summary.damage = Some(d.describe(path));
        }
        summary.records += scan.records;
        summary.files.push((*name_lsn, scan.valid_len));
        prev = scan.last_lsn.unwrap_or(prev);
    }
    let tail = files.last().map_or(0, |(lsn, _)| lsn.saturating_sub(1));
    summary.last_lsn = prev.max(tail);
    Ok(summary)
}
