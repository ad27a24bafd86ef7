//! Row changes for the WAL, encoded as they are made.
//!
//! A node appends every change a transaction makes to the transaction's [`ChangeLog`]: one
//! byte buffer per node, no allocation per row. The executor writes the buffers of all the
//! transaction's nodes one after the other as the body of its WAL record, and recovery reads
//! them back with [`ChangeReader`]. The format of one change:
//!
//! * put: `1`, partition id (varint), the row's own encoding (`amelie_storage::Row`, which
//!   says its length);
//! * remove: `2`, partition id (varint), key length (varint), the memcomparable key.

use amelie_common::{Error, Result};
use amelie_storage::{varint, Row};

const PUT: u8 = 1;
const REMOVE: u8 = 2;

/// The changes of one transaction on one node (or of several, concatenated).
#[derive(Debug, Default, Clone)]
pub struct ChangeLog {
    buf: Vec<u8>,
    count: u32,
}

impl ChangeLog {
    /// The new image of a row.
    pub fn put(&mut self, partition: u64, row: &Row) {
        if self.buf.capacity() == 0 {
            // a transaction's first change: room for a few more without growing
            self.buf.reserve(512.max(4 * row.as_bytes().len()));
        }
        self.buf.push(PUT);
        varint::write(&mut self.buf, partition);
        self.buf.extend_from_slice(row.as_bytes());
        self.count += 1;
    }

    /// The removal of the row with primary key `key`.
    pub fn remove(&mut self, partition: u64, key: &[u8]) {
        self.buf.push(REMOVE);
        varint::write(&mut self.buf, partition);
        varint::write(&mut self.buf, key.len() as u64);
        self.buf.extend_from_slice(key);
        self.count += 1;
    }

    /// Appends a change read back from another log.
    pub fn push(&mut self, change: ChangeRef<'_>) {
        match change {
            ChangeRef::Put { partition, row } => {
                self.buf.push(PUT);
                varint::write(&mut self.buf, partition);
                self.buf.extend_from_slice(row);
                self.count += 1;
            }
            ChangeRef::Remove { partition, key } => self.remove(partition, key),
        }
    }

    /// Appends another log (the changes of the transaction on another node).
    pub fn append(&mut self, other: ChangeLog) {
        if self.buf.is_empty() {
            *self = other;
        } else {
            self.buf.extend_from_slice(&other.buf);
            self.count += other.count;
        }
    }

    /// The current end of the log, to [`ChangeLog::truncate`] back to.
    pub fn mark(&self) -> (usize, u32) {
        (self.buf.len(), self.count)
    }

    /// Forgets the changes after `mark` (a change logged before a step that then refused).
    pub fn truncate(&mut self, mark: (usize, u32)) {
        self.buf.truncate(mark.0);
        self.count = mark.1;
    }

    /// Number of changes.
    pub fn count(&self) -> u32 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

/// One change read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeRef<'a> {
    /// The row's encoding (validated).
    Put {
        partition: u64,
        row: &'a [u8],
    },
    Remove {
        partition: u64,
        key: &'a [u8],
    },
}

impl ChangeRef<'_> {
    pub fn partition(&self) -> u64 {
        match self {
            ChangeRef::Put { partition, .. } | ChangeRef::Remove { partition, .. } => *partition,
        }
    }
}

/// Reads changes from bytes written by [`ChangeLog`]; an error (corrupt bytes) ends it.
pub struct ChangeReader<'a> {
    buf: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> ChangeReader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        ChangeReader {
            buf,
            pos: 0,
            failed: false,
        }
    }

    fn next_change(&mut self) -> Option<ChangeRef<'a>> {
        let tag = *self.buf.get(self.pos)?;
        self.pos += 1;
        let partition = varint::read(self.buf, &mut self.pos)?;
        match tag {
            PUT => {
                let rest = self.buf.get(self.pos..)?;
                let n = amelie_storage::encoded_len(rest).ok()?;
                self.pos += n;
                Some(ChangeRef::Put {
                    partition,
                    row: &rest[..n],
                })
            }
            REMOVE => {
                let len = usize::try_from(varint::read(self.buf, &mut self.pos)?).ok()?;
                let key = self.buf.get(self.pos..self.pos.checked_add(len)?)?;
                self.pos += len;
                Some(ChangeRef::Remove { partition, key })
            }
            _ => None,
        }
    }
}

impl<'a> Iterator for ChangeReader<'a> {
    type Item = Result<ChangeRef<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        match self.next_change() {
            Some(c) => Some(Ok(c)),
            None => {
                self.failed = true;
                Some(Err(Error::internal("wal: corrupt row change")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use amelie_common::Value;

    #[test]
    fn changes_round_trip() {
        let mut log = ChangeLog::default();
        let row = Row::encode(&[Value::Int(7), Value::str("seven")]);
        log.put(3, &row);
        log.remove(300, b"\x01key");
        let mut other = ChangeLog::default();
        other.put(4, &Row::encode(&[]));
        log.append(other);
        assert_eq!(log.count(), 3);
        let got: Vec<ChangeRef> = ChangeReader::new(log.as_bytes())
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(
            got,
            vec![
                ChangeRef::Put {
                    partition: 3,
                    row: row.as_bytes()
                },
                ChangeRef::Remove {
                    partition: 300,
                    key: b"\x01key"
                },
                ChangeRef::Put {
                    partition: 4,
                    row: Row::encode(&[]).as_bytes()
                },
            ]
        );
    }

    #[test]
    fn corrupt_bytes_end_with_an_error() {
        let mut log = ChangeLog::default();
        log.put(1, &Row::encode(&[Value::str("abc")]));
        log.remove(2, b"k");
        let bytes = log.into_bytes();
        // (a cut between the two changes is a valid log of the first one)
        let first = 2 + Row::encode(&[Value::str("abc")]).as_bytes().len();
        for cut in (1..bytes.len()).filter(|c| *c != first) {
            let results: Vec<_> = ChangeReader::new(&bytes[..cut]).collect();
            assert!(results.last().is_some_and(|r| r.is_err()), "cut at {cut}");
        }
        for b in [0u8, 3, 0xff] {
            let mut bad = bytes.clone();
            bad[0] = b;
            assert!(ChangeReader::new(&bad).next().unwrap().is_err());
        }
    }
}
