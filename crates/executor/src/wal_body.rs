//! What the executor writes in a WAL record body.
//!
//! A body starts with a tag byte:
//!
//! * `0`: a catalog change: the rest of the body is the postcard encoding of
//!   `WalBody::Ddl(DdlOp)` (so the tag is postcard's variant index);
//! * `2`: the row changes of one committed transaction, as written by the nodes
//!   ([`amelie_vm::ChangeLog`]: puts carry the compact row encoding);
//! * `1`: row changes in the format before rows were compact (postcard of
//!   `WalBody::Dml(Vec<Change>)` with rows of values), still read at recovery.

use amelie_catalog::DdlOp;
use amelie_common::{Error, Result, Value};
use amelie_storage::Row;
use amelie_vm::ChangeLog;
use serde::{Deserialize, Serialize};

const DDL: u8 = 0;
const LEGACY_DML: u8 = 1;
const CHANGES: u8 = 2;

/// A decoded record body.
#[derive(Debug)]
pub enum WalBody {
    /// A catalog change.
    Ddl(DdlOp),
    /// The row changes of one committed transaction (`ChangeLog` bytes, see
    /// [`amelie_vm::ChangeReader`]).
    Changes(Vec<u8>),
}

/// The postcard layout of DDL bodies (and of legacy DML bodies).
#[derive(Serialize, Deserialize)]
enum Postcard {
    Ddl(DdlOp),
    Dml(Vec<LegacyChange>),
}

#[derive(Serialize)]
enum Borrowed<'a> {
    Ddl(&'a DdlOp),
}

/// A row change as written before rows were compact.
#[derive(Serialize, Deserialize)]
enum LegacyChange {
    Put { partition: u64, row: Vec<Value> },
    Remove { partition: u64, key: Vec<u8> },
}

impl WalBody {
    /// The tag of a body of row changes (followed by `ChangeLog` bytes).
    pub const CHANGES_TAG: u8 = CHANGES;

    /// The body of a transaction's changes: the tag, then the nodes' change bytes.
    pub fn encode_changes(changes: &ChangeLog) -> Vec<u8> {
        let bytes = changes.as_bytes();
        let mut out = Vec::with_capacity(1 + bytes.len());
        out.push(CHANGES);
        out.extend_from_slice(bytes);
        out
    }

    /// Encodes a DDL body from a borrowed op.
    pub fn encode_ddl(op: &DdlOp) -> Vec<u8> {
        postcard::to_allocvec(&Borrowed::Ddl(op)).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<WalBody> {
        let bad = |e: String| Error::io(format!("wal: bad record body: {e}"));
        match bytes.first() {
            Some(&CHANGES) => Ok(WalBody::Changes(bytes[1..].to_vec())),
            Some(&DDL) | Some(&LEGACY_DML) => {
                match postcard::from_bytes(bytes).map_err(|e| bad(e.to_string()))? {
                    Postcard::Ddl(op) => Ok(WalBody::Ddl(op)),
                    Postcard::Dml(changes) => {
                        let mut log = ChangeLog::default();
                        for c in changes {
                            match c {
                                LegacyChange::Put { partition, row } => {
                                    log.put(partition, &Row::encode(&row))
                                }
                                LegacyChange::Remove { partition, key } => {
                                    log.remove(partition, &key)
                                }
                            }
                        }
                        Ok(WalBody::Changes(log.into_bytes()))
                    }
                }
            }
            Some(t) => Err(bad(format!("unknown record kind {t}"))),
            None => Err(bad("empty".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use amelie_vm::{ChangeReader, ChangeRef};

    #[test]
    fn bodies_round_trip() {
        let mut log = ChangeLog::default();
        let row = Row::encode(&[Value::Int(1), Value::str("x")]);
        log.put(3, &row);
        log.remove(4, b"k");
        let WalBody::Changes(bytes) = WalBody::decode(&WalBody::encode_changes(&log)).unwrap()
        else {
            panic!("changes expected");
        };
        assert_eq!(bytes, log.as_bytes());
        let op = DdlOp::DropTable {
            schema: "public".into(),
            name: "t".into(),
        };
        assert!(matches!(
            WalBody::decode(&WalBody::encode_ddl(&op)).unwrap(),
            WalBody::Ddl(DdlOp::DropTable { .. })
        ));
        assert!(WalBody::decode(&[]).is_err());
        assert!(WalBody::decode(&[9]).is_err());
    }

    #[test]
    fn legacy_dml_bodies_are_read() {
        let old = postcard::to_allocvec(&Postcard::Dml(vec![
            LegacyChange::Put {
                partition: 3,
                row: vec![Value::Int(7)],
            },
            LegacyChange::Remove {
                partition: 3,
                key: vec![1, 2],
            },
        ]))
        .unwrap();
        assert_eq!(old[0], LEGACY_DML);
        let WalBody::Changes(bytes) = WalBody::decode(&old).unwrap() else {
            panic!("changes expected");
        };
        let got: Vec<ChangeRef> = ChangeReader::new(&bytes).collect::<Result<_>>().unwrap();
        let row = Row::encode(&[Value::Int(7)]);
        assert_eq!(
            got,
            vec![
                ChangeRef::Put {
                    partition: 3,
                    row: row.as_bytes()
                },
                ChangeRef::Remove {
                    partition: 3,
                    key: &[1, 2]
                }
            ]
        );
    }
}
