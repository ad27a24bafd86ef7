//! The tail reader: the records after an LSN, read from the files of a live log (what a
//! replication streamer sends). Reads never modify the log; the last file may be growing.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use crate::error::WalError;
use crate::format::{self, BadRecord, FILE_HEADER_SIZE, MAGIC, RECORD_HEADER_SIZE, VERSION};
use crate::reader::list_files;
use crate::WalRecord;

/// Reads the records with an LSN greater than `after` from the log in `dir`, in LSN order,
/// stopping once the bodies read reach `max_bytes` (at least one record is returned when
/// one is available, however large).
///
/// Only the file whose first LSN covers `after + 1` and the files after it are opened, one
/// record at a time. An incomplete record at the end of the last file (a write in progress,
/// or a torn tail) ends the batch: it is "no more for now". A checksum mismatch at the very
/// end of the last file is taken the same way; anywhere else it is `WalError::Corrupt`.
/// If the files holding `after + 1` were removed, the error is `WalError::Outdated`. An
/// empty result means the reader is at the end of the log.
pub fn read_after(dir: &Path, after: u64, max_bytes: usize) -> Result<Vec<WalRecord>, WalError> {
    let files = list_files(dir)?;
    let want = after.saturating_add(1);
    let Some(&(oldest, _)) = files.first() else {
        return Ok(Vec::new());
    };
    if want < oldest {
        return Err(WalError::Outdated { lsn: want, oldest });
    }
    // The newest file starting at or before `want`: it holds `want` if the log does.
    let start = files.partition_point(|(first, _)| *first <= want) - 1;
    let mut out = Vec::new();
    let mut bytes = 0usize;
    let mut prev = 0u64;
    let n = files.len();
    for (i, (name_lsn, path)) in files.iter().enumerate().skip(start) {
        let is_last = i + 1 == n;
        let done = read_file(
            path, *name_lsn, is_last, after, max_bytes, &mut prev, &mut bytes, &mut out,
        )?;
        if done {
            break;
        }
    }
    Ok(out)
}

/// Reads up to `buf.len()` bytes, fewer only at the end of the file.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Scans one file, appending the records above `after` to `out`. Returns true when the
/// batch is complete (`max_bytes` reached, or the end of the log for now).
#[allow(clippy::too_many_arguments)]
fn read_file(
    path: &Path,
    name_lsn: u64,
    is_last: bool,
    after: u64,
    max_bytes: usize,
    prev: &mut u64,
    bytes: &mut usize,
    out: &mut Vec<WalRecord>,
) -> Result<bool, WalError> {
    let io_err = |e| WalError::io(path, e);
    let file = match File::open(path) {
        Ok(f) => f,
        // Removed between the listing and the open: the reader fell behind a checkpoint.
        Err(e) if e.kind() == io::ErrorKind::NotFound && out.is_empty() => {
            return Err(WalError::Outdated {
                lsn: after.saturating_add(1),
                oldest: name_lsn.saturating_add(1),
            })
        }
        Err(e) => return Err(io_err(e)),
    };
    // the size when opened: a record said to be longer than what is left is incomplete (and
    // a damaged size field allocates nothing)
    let len = file.metadata().map_err(io_err)?.len();
    let mut r = BufReader::with_capacity(64 * 1024, file);
    let mut header = [0u8; FILE_HEADER_SIZE];
    let got = read_full(&mut r, &mut header).map_err(io_err)?;
    if got < FILE_HEADER_SIZE {
        if is_last && format::file_header().starts_with(&header[..got]) {
            return Ok(true); // a file being created
        }
        return Err(WalError::corrupt(path, 0, "incomplete file header"));
    }
    if header[..8] != MAGIC {
        return Err(WalError::BadMagic {
            file: path.to_path_buf(),
        });
    }
    let version = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
    if version != VERSION {
        return Err(WalError::Version {
            file: path.to_path_buf(),
            found: version,
            expected: VERSION,
        });
    }

    let mut off = FILE_HEADER_SIZE as u64;
    let mut rec = vec![0u8; RECORD_HEADER_SIZE];
    loop {
        rec.truncate(RECORD_HEADER_SIZE);
        let got = read_full(&mut r, &mut rec).map_err(io_err)?;
        if got == 0 {
            return Ok(false); // end of this file
        }
        let torn = |bad: BadRecord| {
            if is_last {
                Ok(true)
            } else {
                Err(WalError::corrupt(
                    path,
                    off,
                    format!("{} (not the last wal file)", bad.describe()),
                ))
            }
        };
        if got < RECORD_HEADER_SIZE {
            return torn(BadRecord::IncompleteHeader);
        }
        let size = u32::from_le_bytes([rec[8], rec[9], rec[10], rec[11]]) as usize;
        if off + (RECORD_HEADER_SIZE + size) as u64 > len {
            return torn(BadRecord::IncompleteBody);
        }
        rec.resize(RECORD_HEADER_SIZE + size, 0);
        let got = read_full(&mut r, &mut rec[RECORD_HEADER_SIZE..]).map_err(io_err)?;
        if got < size {
            return torn(BadRecord::IncompleteBody);
        }
        let view = match format::parse_record(&rec) {
            Ok((view, _)) => view,
            Err(bad) => {
                // At the very end of the last file this is a write not finished yet.
                let mut probe = [0u8; 1];
                let more = read_full(&mut r, &mut probe).map_err(io_err)? > 0;
                if is_last && !more {
                    return Ok(true);
                }
                return Err(WalError::corrupt(path, off, bad.describe()));
            }
        };
        if view.lsn < name_lsn || (*prev != 0 && view.lsn <= *prev) {
            return Err(WalError::corrupt(
                path,
                off,
                format!(
                    "record lsn {} out of order (previous {}, file starts at {name_lsn})",
                    view.lsn, *prev
                ),
            ));
        }
        *prev = view.lsn;
        off += rec.len() as u64;
        if view.lsn <= after {
            continue;
        }
        if !out.is_empty() && *bytes + view.body.len() > max_bytes {
            return Ok(true);
        }
        *bytes += view.body.len();
        out.push(view.to_record());
        if *bytes >= max_bytes {
            return Ok(true);
        }
    }
}
