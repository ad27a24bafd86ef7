//! On-disk format: file names, the file header and record framing.
//!
//! ```text
//! file   := header record*
//! header := magic "AMLWAL\0\0" (8 bytes) | version u32 LE (= 1)
//! record := lsn u64 LE | size u32 LE | count u32 LE | crc u32 LE | body (size bytes)
//! crc    := crc32 over the lsn/size/count bytes followed by the body
//! ```

use std::path::{Path, PathBuf};

/// Magic bytes at the start of every WAL file.
pub const MAGIC: [u8; 8] = *b"AMLWAL\0\0";
/// Current format version.
pub const VERSION: u32 = 1;
/// Size of the file header (magic + version).
pub const FILE_HEADER_SIZE: usize = 12;
/// Size of the fixed record header (lsn + size + count + crc).
pub const RECORD_HEADER_SIZE: usize = 20;
/// Bytes of the record header covered by the crc (lsn + size + count).
const CRC_COVERED: usize = 16;

/// The 12-byte file header.
pub fn file_header() -> [u8; FILE_HEADER_SIZE] {
    let mut h = [0u8; FILE_HEADER_SIZE];
    h[..8].copy_from_slice(&MAGIC);
    h[8..].copy_from_slice(&VERSION.to_le_bytes());
    h
}

/// `00000000000000000001.wal` for lsn 1.
pub fn file_name(lsn: u64) -> String {
    format!("{lsn:020}.wal")
}

/// Path of the file starting at `lsn` inside `dir`.
pub fn file_path(dir: &Path, lsn: u64) -> PathBuf {
    dir.join(file_name(lsn))
}

/// Parses a WAL file name (exactly 20 decimal digits + `.wal`); anything else is not ours.
pub fn parse_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".wal")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn crc(head: &[u8], body: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(head);
    h.update(body);
    h.finalize()
}

/// Appends one framed record to `buf`. The caller guarantees `body.len() <= u32::MAX`.
pub fn append_record(buf: &mut Vec<u8>, lsn: u64, count: u32, body: &[u8]) {
    append_record_parts(buf, lsn, count, &[body]);
}

/// Appends one framed record whose body is the concatenation of `parts` (written without
/// first copying them into one buffer). The caller guarantees the body fits `u32`.
pub fn append_record_parts(buf: &mut Vec<u8>, lsn: u64, count: u32, parts: &[&[u8]]) {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut head = [0u8; RECORD_HEADER_SIZE];
    head[0..8].copy_from_slice(&lsn.to_le_bytes());
    head[8..12].copy_from_slice(&(len as u32).to_le_bytes());
    head[12..16].copy_from_slice(&count.to_le_bytes());
    let mut h = crc32fast::Hasher::new();
    h.update(&head[..CRC_COVERED]);
    for p in parts {
        h.update(p);
    }
    head[16..20].copy_from_slice(&h.finalize().to_le_bytes());
    buf.extend_from_slice(&head);
    for p in parts {
        buf.extend_from_slice(p);
    }
}

/// A record borrowed from a buffer (what the streaming reader hands out).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordView<'a> {
    pub lsn: u64,
    pub count: u32,
    pub body: &'a [u8],
}

impl RecordView<'_> {
    pub fn to_record(&self) -> crate::WalRecord {
        crate::WalRecord {
            lsn: self.lsn,
            count: self.count,
            body: self.body.to_vec(),
        }
    }
}

/// Why a record could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadRecord {
    IncompleteHeader,
    IncompleteBody,
    Checksum,
}

impl BadRecord {
    pub fn describe(self) -> &'static str {
        match self {
            BadRecord::IncompleteHeader => "incomplete record header",
            BadRecord::IncompleteBody => "incomplete record body",
            BadRecord::Checksum => "record checksum mismatch",
        }
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// Parses the record at the start of `data`; on success returns it and its framed length.
pub fn parse_record(data: &[u8]) -> Result<(RecordView<'_>, usize), BadRecord> {
    if data.len() < RECORD_HEADER_SIZE {
        return Err(BadRecord::IncompleteHeader);
    }
    let lsn = u64_at(data, 0);
    let size = u32_at(data, 8) as usize;
    let count = u32_at(data, 12);
    let stored = u32_at(data, 16);
    let total = RECORD_HEADER_SIZE + size;
    if data.len() < total {
        return Err(BadRecord::IncompleteBody);
    }
    let body = &data[RECORD_HEADER_SIZE..total];
    if crc(&data[..CRC_COVERED], body) != stored {
        return Err(BadRecord::Checksum);
    }
    Ok((RecordView { lsn, count, body }, total))
}

/// Looks for any offset in `data[from..]` where a complete, checksum-valid record with an LSN
/// greater than `after_lsn` starts. Used to tell a torn tail (nothing valid follows the damage)
/// from corruption in the middle of the log (valid records follow the damage).
pub fn find_valid_record(data: &[u8], from: usize, after_lsn: u64) -> Option<usize> {
    let mut at = from;
    while at + RECORD_HEADER_SIZE <= data.len() {
        let rest = &data[at..];
        // Cheap plausibility checks before paying for the checksum.
        let lsn = u64_at(rest, 0);
        let size = u32_at(rest, 8) as usize;
        if lsn > after_lsn && size <= rest.len() - RECORD_HEADER_SIZE && parse_record(rest).is_ok()
        {
            return Some(at);
        }
        at += 1;
    }
    None
}
