//! The tail reader: the records after an LSN, read from the files of a live log (what a
//! replication streamer sends). Reads never modify the log; the last file may be growing.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
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
    read_after_at(dir, after, max_bytes, u64::MAX, &mut None)
}

/// Where a read stopped: just after the record `lsn`, at byte `offset` of the file whose
/// first LSN is `file`. A reader that keeps it reads on from there instead of scanning the
/// file from its start again (a streamer following a 100 MB file would otherwise read it
/// from the start for every batch).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TailPos {
    pub file: u64,
    pub offset: u64,
    pub lsn: u64,
}

/// [`read_after`] that also stops before the first record above `upto` and uses and updates
/// `pos`: when `pos` stopped at `after` and its file still exists, reading starts at its
/// offset; after a read that returned records, `pos` is where the last one ends.
pub fn read_after_at(
    dir: &Path,
    after: u64,
    max_bytes: usize,
    upto: u64,
    pos: &mut Option<TailPos>,
) -> Result<Vec<WalRecord>, WalError> {
    let files = list_files(dir)?;
    let want = after.saturating_add(1);
    let Some(&(oldest, _)) = files.first() else {
        return Ok(Vec::new());
    };
    if want < oldest {
        return Err(WalError::Outdated { lsn: want, oldest });
    }
    // The newest file starting at or before `want`: it holds `want` if the log does.
    let mut start = files.partition_point(|(first, _)| *first <= want) - 1;
    let mut seek = None;
    let mut prev = 0u64;
    if let Some(p) = pos.filter(|p| p.lsn == after) {
        if let Some(i) = files.iter().position(|(first, _)| *first == p.file) {
            if i >= start.saturating_sub(1) {
                start = i;
                seek = Some(p.offset);
                prev = p.lsn;
            }
        }
    }
    let mut read = Batch {
        after,
        max_bytes,
        upto,
        prev,
        bytes: 0,
        out: Vec::new(),
        end: None,
    };
    let n = files.len();
    for (i, (name_lsn, path)) in files.iter().enumerate().skip(start) {
        let is_last = i + 1 == n;
        let done = read_file(path, *name_lsn, is_last, seek.take(), &mut read)?;
        if done {
            break;
        }
    }
    if read.end.is_some() {
        *pos = read.end;
    }
    Ok(read.out)
}

/// The state of one [`read_after_at`] across files.
struct Batch {
    after: u64,
    max_bytes: usize,
    upto: u64,
    /// LSN of the record read last (0: none yet).
    prev: u64,
    bytes: usize,
    out: Vec<WalRecord>,
    /// Where the last record of `out` ends.
    end: Option<TailPos>,
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

/// Scans one file (from byte `seek` when given, a record boundary), appending the records
/// above `after` to `out`. Returns true when the batch is complete (`max_bytes` reached, a
/// record above `upto`, or the end of the log for now).
fn read_file(
    path: &Path,
    name_lsn: u64,
    is_last: bool,
    seek: Option<u64>,
    st: &mut Batch,
) -> Result<bool, WalError> {
    let (after, max_bytes, upto) = (st.after, st.max_bytes, st.upto);
    let prev = &mut st.prev;
    let bytes = &mut st.bytes;
    let out = &mut st.out;
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
    if let Some(at) = seek.filter(|at| *at > off && *at <= len) {
        r.seek(SeekFrom::Start(at)).map_err(io_err)?;
        off = at;
    }
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
        if view.lsn > upto || (!out.is_empty() && *bytes + view.body.len() > max_bytes) {
            return Ok(true);
        }
        *bytes += view.body.len();
        out.push(view.to_record());
        st.end = Some(TailPos {
            file: name_lsn,
            offset: off,
            lsn: view.lsn,
        });
        if *bytes >= max_bytes {
            return Ok(true);
        }
    }
}
