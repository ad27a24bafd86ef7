//! Partition snapshot files of a checkpoint.
//!
//! A file is a 24-byte header followed by a postcard body:
//! magic `AMLSNAP\0` (8 bytes), version u32 LE, body length u64 LE, crc32 of the body u32 LE.
//! The body of a partition file (`<%010id>.part`) is the postcard encoding of its rows; the
//! same framing is used for any other checkpoint blob (the catalog).

use amelie_common::{Error, Result};
use amelie_storage::{Partition, Row};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const MAGIC: &[u8; 8] = b"AMLSNAP\0";
/// 2: rows are the compact `Row` encoding (1: rows of `Value`s).
pub const VERSION: u32 = 2;
const HEADER: usize = 24;

/// The file name of partition `id` inside a checkpoint directory.
pub fn part_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:010}.part"))
}

/// Frames a postcard body with the header.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    let body = postcard::to_allocvec(value)
        .map_err(|e| Error::internal(format!("snapshot: cannot encode: {e}")))?;
    Ok(frame(&body))
}

/// Header + body.
fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
    out.extend_from_slice(body);
    out
}

/// Checks the header and the crc and decodes the body; the error says what is wrong.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> std::result::Result<T, String> {
    let (_, body) = checked_body(bytes)?;
    postcard::from_bytes(body).map_err(|e| format!("cannot decode: {e}"))
}

/// Checks the header and the crc; returns the format version and the body.
fn checked_body(bytes: &[u8]) -> std::result::Result<(u32, &[u8]), String> {
    if bytes.len() < HEADER {
        return Err("file is too short".into());
    }
    if &bytes[..8] != MAGIC {
        return Err("bad magic".into());
    }
    let u32_at = |at: usize| {
        let mut b = [0u8; 4];
        b.copy_from_slice(&bytes[at..at + 4]);
        u32::from_le_bytes(b)
    };
    let version = u32_at(8);
    // (version 1 differs only in how partition rows are encoded)
    if version != VERSION && version != 1 {
        return Err(format!("unsupported version {version}"));
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(&bytes[12..20]);
    let len = u64::from_le_bytes(len);
    let body = &bytes[HEADER..];
    if body.len() as u64 != len {
        return Err(format!(
            "body size mismatch (header {len}, file {})",
            body.len()
        ));
    }
    if crc32fast::hash(body) != u32_at(20) {
        return Err("checksum mismatch".into());
    }
    Ok((version, body))
}

/// Writes `bytes` to `path` and syncs it.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |e: std::io::Error| {
        Error::io(format!(
            "snapshot '{}': {e}",
            amelie_common::path_tail(path)
        ))
    };
    let mut f = std::fs::File::create(path).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)
}

/// Reads and decodes a snapshot file; every failure names the file.
pub fn read_file<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = std::fs::read(path).map_err(|e| {
        Error::io(format!(
            "snapshot '{}': {e}",
            amelie_common::path_tail(path)
        ))
    })?;
    decode(&bytes).map_err(|e| {
        Error::io(format!(
            "snapshot '{}' is corrupt: {e}",
            amelie_common::path_tail(path)
        ))
    })
}

/// Writes the rows of `p` to `path`. Returns the number of rows.
///
/// The body is built row by row in the postcard layout of a `Vec<Row>` (a varint count,
/// then each row), so the partition is never copied.
pub fn write_partition(p: &Partition, path: &Path) -> Result<u64> {
    let mut rows = Vec::new();
    let mut n: usize = 0;
    let mut err = None;
    p.scan(
        |_, row| match postcard::to_extend(row, std::mem::take(&mut rows)) {
            Ok(v) => {
                rows = v;
                n += 1;
                true
            }
            Err(e) => {
                err = Some(e);
                false
            }
        },
    );
    if let Some(e) = err {
        return Err(Error::internal(format!("snapshot: cannot encode: {e}")));
    }
    let mut body = postcard::to_allocvec(&n)
        .map_err(|e| Error::internal(format!("snapshot: cannot encode: {e}")))?;
    body.extend_from_slice(&rows);
    write_file(path, &frame(&body))?;
    Ok(n as u64)
}

/// Loads the rows of the snapshot at `path` into `p`. Returns the number of rows.
pub fn load_partition(p: &mut Partition, path: &Path) -> Result<u64> {
    let bytes = std::fs::read(path).map_err(|e| {
        Error::io(format!(
            "snapshot '{}': {e}",
            amelie_common::path_tail(path)
        ))
    })?;
    let corrupt = |e: String| {
        Error::io(format!(
            "snapshot '{}' is corrupt: {e}",
            amelie_common::path_tail(path)
        ))
    };
    let (version, body) = checked_body(&bytes).map_err(corrupt)?;
    let rows: Vec<Row> = if version == 1 {
        // rows of values, written before rows were compact
        let rows: Vec<Vec<amelie_common::Value>> =
            postcard::from_bytes(body).map_err(|e| corrupt(format!("cannot decode: {e}")))?;
        rows.iter().map(|r| Row::encode(r)).collect()
    } else {
        postcard::from_bytes(body).map_err(|e| corrupt(format!("cannot decode: {e}")))?
    };
    let n = rows.len() as u64;
    let mut key = Vec::new();
    for row in rows {
        key.clear();
        p.row_key(&row, &mut key);
        p.put(&key, row, None);
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use amelie_common::{IndexKind, Value};

    fn partition() -> Partition {
        let mut p = Partition::new(1, 1, IndexKind::Tree, &[0]);
        for i in 0..10 {
            let row = Row::encode(&[Value::Int(i), Value::Str(format!("v{i}").into())]);
            let mut key = Vec::new();
            p.row_key(&row, &mut key);
            p.put(&key, row, None);
        }
        p
    }

    #[test]
    fn roundtrip() {
        let rows: Vec<Vec<Value>> = vec![vec![Value::Int(1), Value::Null]];
        let bytes = encode(&rows).unwrap();
        assert_eq!(&bytes[..8], MAGIC);
        let back: Vec<Vec<Value>> = decode(&bytes).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].len(), 2);
    }

    #[test]
    fn corruption_is_detected() {
        let rows: Vec<Vec<Value>> = vec![vec![Value::Int(1234567)]];
        let good = encode(&rows).unwrap();
        let mut flipped = good.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0xff;
        assert!(decode::<Vec<Vec<Value>>>(&flipped)
            .unwrap_err()
            .contains("checksum"));
        let mut magic = good.clone();
        magic[0] = b'X';
        assert!(decode::<Vec<Vec<Value>>>(&magic)
            .unwrap_err()
            .contains("magic"));
        let mut version = good.clone();
        version[8] = 9;
        assert!(decode::<Vec<Vec<Value>>>(&version)
            .unwrap_err()
            .contains("version"));
        assert!(decode::<Vec<Vec<Value>>>(&good[..good.len() - 1])
            .unwrap_err()
            .contains("size"));
        assert!(decode::<Vec<Vec<Value>>>(&good[..5])
            .unwrap_err()
            .contains("short"));
    }

    #[test]
    fn partition_file_roundtrip() {
        let dir = std::env::temp_dir().join(format!("amelie-snap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = part_path(&dir, 7);
        assert!(path.ends_with("0000000007.part"));
        let p = partition();
        assert_eq!(write_partition(&p, &path).unwrap(), 10);
        let mut q = Partition::new(1, 1, IndexKind::Tree, &[0]);
        assert_eq!(load_partition(&mut q, &path).unwrap(), 10);
        assert_eq!(q.len(), 10);
        std::fs::write(&path, b"garbage").unwrap();
        let err = load_partition(&mut q, &path).unwrap_err().to_string();
        assert!(err.contains("0000000007.part"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn version_1_partition_files_still_load() {
        // written before rows were compact: the postcard of rows of values, version 1
        let rows: Vec<Vec<Value>> = (0..5)
            .map(|i| vec![Value::Int(i), Value::str("old")])
            .collect();
        let mut bytes = encode(&rows).unwrap();
        bytes[8..12].copy_from_slice(&1u32.to_le_bytes());
        let dir = std::env::temp_dir().join(format!("amelie-snap1-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = part_path(&dir, 3);
        std::fs::write(&path, &bytes).unwrap();
        let mut p = Partition::new(3, 1, IndexKind::Tree, &[0]);
        assert_eq!(load_partition(&mut p, &path).unwrap(), 5);
        let mut key = Vec::new();
        amelie_storage::encode_key(&[Value::Int(4)], &mut key);
        assert_eq!(
            p.get(&key).map(|r| r.to_values()),
            Some(vec![Value::Int(4), Value::str("old")])
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
