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

/// How one execution fills a parameter slot of a program (`Op::Param`, [`Operand::Param`]).
/// A compiled program is reused for every request whose text differs only in the values of
/// its literals (the program cache), so values that change from one execution to the next
/// are parameters bound when the program runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Bind {
    /// The request's literal at this position.
    Lit(u32),
    /// The literal at this position as an int32 key column compares it (wrapped to 32 bits).
    LitInt32(u32),
    /// The request's start time (`CURRENT_TIMESTAMP`, `now()`).
    Now,
}

/// A value known when the program runs: a constant, or a parameter slot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Operand {
    Const(Value),
    Param(u16),
}

impl Operand {
    /// The value for one execution with bound parameters `params`.
    pub fn value<'a>(&'a self, params: &'a [Value]) -> &'a Value {
        match self {
            Operand::Const(v) => v,
            Operand::Param(i) => params.get(*i as usize).unwrap_or(&Value::Null),
        }
    }
}

/// Where a `Send` goes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Target {
    /// Every partition of the table, in partition order.
    All,
    /// The one partition owning this primary key (values in key column order).
    Key(Vec<Operand>),
    /// Rows to insert, built for each execution (INSERT VALUES / GENERATE: the compiler's
    /// insert template of this index) and routed by their primary key.
    Insert(u16),
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
    /// Parameter slots, bound for each execution (see [`Bind`]).
    pub binds: Vec<Bind>,
    /// The table (index into `tables`) each target is sent to, by target (`u16::MAX`: no
    /// `Send` uses it); see [`Program::target_tables`].
    pub target_table: Vec<u16>,
    /// Session time zone, for text conversions.
    pub tz: amelie_common::Tz,
}

/// What one execution of a program binds: its parameter values and the request time.
#[derive(Clone, Copy, Debug)]
pub struct Env<'a> {
    pub params: &'a [Value],
    /// Request start time (µs since epoch): `now()` / `CURRENT_TIMESTAMP`.
    pub now: i64,
}

impl Env<'_> {
    /// An execution without parameters at time 0 (tests, compile-time evaluation).
    pub const EMPTY: Env<'static> = Env {
        params: &[],
        now: 0,
    };
}

impl Program {
    /// Fills [`Program::target_table`] from the `Send` ops (the compiler calls it once).
    pub fn index_targets(&mut self) {
        let mut t = vec![u16::MAX; self.targets.len()];
        for op in &self.coordinator {
            if let crate::op::Op::Send { table, target, .. } = op {
                if let Some(slot) = t.get_mut(*target as usize) {
                    *slot = *table;
                }
            }
        }
        self.target_table = t;
    }

    /// The table index each target is sent to (None: unused), by target.
    pub fn target_tables(&self) -> Vec<Option<usize>> {
        if self.target_table.len() == self.targets.len() {
            return self
                .target_table
                .iter()
                .map(|&t| (t != u16::MAX).then_some(t as usize))
                .collect();
        }
        let mut copy = self.clone();
        copy.index_targets();
        copy.target_tables()
    }

    /// The parameter values of one execution: `lits` are the request's literals, `now` its
    /// start time (collected straight into an `Arc<[Value]>` when the nodes share them).
    pub fn bind<C: FromIterator<Value>>(&self, lits: &[Value], now: i64) -> C {
        self.binds
            .iter()
            .map(|b| match b {
                Bind::Lit(i) => lits.get(*i as usize).cloned().unwrap_or_default(),
                Bind::LitInt32(i) => match lits.get(*i as usize) {
                    Some(Value::Int(v)) => Value::Int(*v as i32 as i64),
                    Some(v) => v.clone(),
                    None => Value::Null,
                },
                Bind::Now => Value::Timestamp(now),
            })
            .collect()
    }
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
