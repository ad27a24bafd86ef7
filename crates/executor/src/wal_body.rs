//! What the executor writes in a WAL record body (postcard-encoded).

use amelie_catalog::DdlOp;
use amelie_common::{Error, Result};
use amelie_vm::Change;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
pub enum WalBody {
    /// A catalog change.
    Ddl(DdlOp),
    /// The row changes of one committed transaction.
    Dml(Vec<Change>),
}

/// `WalBody` over borrowed contents: encodes identically without moving or cloning them.
#[derive(Serialize)]
enum Borrowed<'a> {
    Ddl(&'a DdlOp),
    Dml(&'a [Change]),
}

impl WalBody {
    /// Encodes a DML body from borrowed changes (same bytes as `WalBody::Dml(..).encode()`).
    pub fn encode_dml(changes: &[Change]) -> Vec<u8> {
        postcard::to_allocvec(&Borrowed::Dml(changes)).unwrap_or_default()
    }

    /// Encodes a DDL body from a borrowed op (same bytes as `WalBody::Ddl(..).encode()`).
    pub fn encode_ddl(op: &DdlOp) -> Vec<u8> {
        postcard::to_allocvec(&Borrowed::Ddl(op)).unwrap_or_default()
    }

    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<WalBody> {
        postcard::from_bytes(bytes).map_err(|e| Error::new(format!("wal: bad record body: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use amelie_common::Value;

    #[test]
    fn borrowed_dml_encoding_matches_owned() {
        let changes = vec![Change::Put {
            partition: 3,
            row: vec![Value::Int(1)].into_boxed_slice(),
        }];
        let a = WalBody::encode_dml(&changes);
        let b = WalBody::Dml(changes).encode();
        assert_eq!(a, b);
        assert!(matches!(WalBody::decode(&a).unwrap(), WalBody::Dml(c) if c.len() == 1));
        let op = DdlOp::DropTable {
            schema: "public".into(),
            name: "t".into(),
        };
        assert_eq!(WalBody::encode_ddl(&op), WalBody::Ddl(op).encode());
    }
}
