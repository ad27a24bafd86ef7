//! A compiled request: both code sections plus constants and per-statement metadata.

use crate::agg::AggKind;
use crate::op::Op;
use amelie_common::Value;
use serde::{Deserialize, Serialize};

/// A table referenced by the program (by id; the executor maps it to partitions).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TableRef {
    pub id: u64,
    pub schema: String,
    pub name: String,
    /// Column names and types (for casts and error messages).
    pub columns: Vec<(String, amelie_common::ColumnType, bool)>,
    /// Changes of unlogged tables are not written to the WAL.
    pub unlogged: bool,
}

/// Where a `Send` goes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Target {
    /// Every partition of the table, in partition order.
    All,
    /// The one partition owning this primary key (values in key column order).
    Key(Vec<Value>),
    /// Rows to insert, routed by their primary key.
    Rows(Vec<Box<[Value]>>),
    /// INSERT ... SELECT: the rows are the coordinator's current result set (taken when the
    /// `Send` is dispatched), cast to the table's columns and routed by their primary key.
    /// Every partition participates.
    Set,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StmtInfo {
    /// Result column names (for `json-obj`).
    pub columns: Vec<String>,
    /// `FORMAT '...'` of the statement (validated at compile time).
    pub format: Option<String>,
    pub aggs: Vec<AggKind>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Program {
    pub coordinator: Vec<Op>,
    pub node: Vec<Op>,
    pub consts: Vec<Value>,
    pub tables: Vec<TableRef>,
    pub targets: Vec<Target>,
    pub stmts: Vec<StmtInfo>,
    pub coordinator_regs: u16,
    pub node_regs: u16,
    /// Whether any statement writes (needs a WAL record when it changed something).
    pub writes: bool,
    /// Request start time (µs since epoch): `now()` / `CURRENT_TIMESTAMP`.
    pub now: i64,
    /// Session timezone offset in seconds, for text conversions.
    pub tz_offset: i32,
}

impl Program {
    /// The EXPLAIN object: `{"bytecode": {"coordinator": {"00": "..."}, "node": {...}}}`.
    pub fn explain(&self) -> amelie_common::Json {
        use amelie_common::Json;
        let section = |ops: &[Op]| {
            Json::Object(
                ops.iter()
                    .enumerate()
                    .map(|(i, op)| (format!("{i:02}"), Json::String(op.to_string())))
                    .collect(),
            )
        };
        let mut bytecode = vec![("coordinator".to_string(), section(&self.coordinator))];
        if !self.node.is_empty() {
            bytecode.push(("node".to_string(), section(&self.node)));
        }
        Json::Object(vec![("bytecode".to_string(), Json::Object(bytecode))])
    }
}
