//! The instruction set. One enum for both sections; `Display` is the EXPLAIN text.

use crate::func::FuncId;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A register index.
pub type Reg = u16;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    And,
    Or,
    Concat,
    BitAnd,
    BitOr,
    BitXor,
    Shl,
    Shr,
    Like,
    NotLike,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Eq => "=",
            BinOp::NotEq => "=",
            BinOp::Lt => "<",
            BinOp::LtEq => "<=",
            BinOp::Gt => ">",
            BinOp::GtEq => ">=",
            BinOp::And => "AND",
            BinOp::Or => "OR",
            BinOp::Concat => "||",
            BinOp::BitAnd => "&",
            BinOp::BitOr => "|",
            BinOp::BitXor => "^",
            BinOp::Shl => "<<",
            BinOp::Shr => ">>",
            BinOp::Like => "LIKE",
            BinOp::NotLike => "LIKE",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnOp {
    Neg,
    Not,
    BitNot,
}

/// How node outputs of one dispatch are merged by the coordinator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Merge {
    /// Concatenate rows in partition order.
    Union,
    /// Combine partial aggregate rows of statement `stmt`.
    Agg,
    /// Discard rows (DML without RETURNING).
    Discard,
}

/// What INSERT does when a row's primary key already exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Conflict {
    /// No ON CONFLICT clause: `index 'primary': unique key constraint violation`.
    Primary,
    /// ON CONFLICT DO ERROR / DO RESOLVE: `unique key constraint violation`.
    Error,
    /// ON CONFLICT DO NOTHING: keep the existing row.
    Nothing,
    /// ON CONFLICT DO UPDATE: run the update body.
    Update,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Op {
    // ---- expressions (both sections)
    Const {
        dst: Reg,
        idx: u32,
    },
    /// `dst` = parameter slot `idx` of this execution (see `program::Bind`).
    Param {
        dst: Reg,
        idx: u16,
    },
    Column {
        dst: Reg,
        col: u16,
    },
    Move {
        dst: Reg,
        src: Reg,
    },
    Binary {
        op: BinOp,
        dst: Reg,
        a: Reg,
        b: Reg,
    },
    Unary {
        op: UnOp,
        dst: Reg,
        a: Reg,
    },
    IsNull {
        dst: Reg,
        a: Reg,
        negated: bool,
    },
    Call {
        func: FuncId,
        dst: Reg,
        args: Reg,
        n: u16,
    },
    Jump {
        to: u32,
    },
    JumpIfNot {
        cond: Reg,
        to: u32,
    },
    /// Coerces the value in `reg` to the type of column `col` of table `table` (UPDATE SET).
    CastColumn {
        reg: Reg,
        table: u16,
        col: u16,
    },
    /// Fails unless the value in `reg`, computed by the generated (STORED or RESOLVED)
    /// expression of column `col` of table `table`, is NULL or of the column's type
    /// ([`crate::exec::check_generated`]).
    CheckGenerated {
        reg: Reg,
        table: u16,
        col: u16,
    },

    // ---- node section
    /// Iterates the partition: for each row run the body `pc+1 .. end`. With `key`, only the
    /// row whose primary key equals registers `key .. key+key_len` (point lookup).
    Scan {
        table: u16,
        key: Option<Reg>,
        key_len: u16,
        end: u32,
    },
    /// Like `Scan` without a key, but only over the primary-key range `from .. to` (encoded
    /// key bounds; `bool`: inclusive). Planned for `<, <=, >, >=, BETWEEN` and `=` on a
    /// primary-key prefix; the body still evaluates the whole filter.
    ScanRange {
        table: u16,
        from: Option<(Box<[u8]>, bool)>,
        to: Option<(Box<[u8]>, bool)>,
        end: u32,
    },
    /// Body: emit registers `start .. start+n` as a result row.
    Emit {
        start: Reg,
        n: u16,
    },
    /// Body: feed `arg` (None: count(*)) into aggregate `agg` of the statement.
    AggStep {
        agg: u16,
        arg: Option<Reg>,
    },
    /// After a scan: emit the partial aggregate states as one row.
    AggEmit {
        stmt: u16,
    },
    /// Body: stage the current row for deletion.
    StageDelete,
    /// Body: stage registers `start ..` (one per column) as the new image of the current row.
    StageUpdate {
        start: Reg,
    },
    /// Apply staged deletes/updates to the partition (with undo and WAL changes).
    ApplyStaged {
        table: u16,
    },
    /// Insert the rows sent with the request.
    InsertRows {
        table: u16,
    },
    /// Insert the rows sent with the request, resolving primary-key conflicts by `mode`.
    /// For `Conflict::Update` the body `pc+1 .. end` runs with the current row being the
    /// existing row followed by the excluded (new) row; it stages the new image with
    /// `StageUpdate` (or nothing, when its WHERE is false). Inserted/updated rows are kept for
    /// a following `ReturnRows`.
    Upsert {
        table: u16,
        mode: Conflict,
        end: u32,
        /// Unique secondary indexes (only on shared tables, so one partition): name and
        /// position among the table's secondary indexes. A duplicate is
        /// `index '<name>': unique key constraint violation`.
        unique: Vec<(String, u16)>,
    },
    /// STORED generated columns of rows produced at run time (INSERT ... SELECT): for each
    /// input row run the body `pc+1 .. end` with the row as the current row; the image it
    /// stages with `StageUpdate` replaces the input row.
    GenerateRows {
        end: u32,
    },
    /// For each row affected by the previous `ApplyStaged`/`Upsert` (new image; the old one
    /// for deletes) run the body `pc+1 .. end` (RETURNING projection + `Emit`).
    ReturnRows {
        end: u32,
    },
    /// End of a node entry point.
    Ret,

    // ---- coordinator section
    /// Run node code at `entry` for statement `stmt` on the partitions chosen by `target`.
    Send {
        stmt: u16,
        table: u16,
        entry: u32,
        target: u16,
        /// Statements whose row sets travel with the request (the node code reads them:
        /// uncorrelated subqueries, CTEs and shared-table rows of a join).
        sets: Vec<u16>,
    },
    /// Merge the outputs of the last `Send` into the statement's row set.
    Recv {
        stmt: u16,
        merge: Merge,
    },
    /// Load final aggregate values of `stmt` into registers `start ..`.
    AggFinal {
        stmt: u16,
        start: Reg,
    },
    /// Add registers `start .. start+n` as a row to the statement's set.
    SetAdd {
        stmt: u16,
        start: Reg,
        n: u16,
    },
    /// Sort the statement's set by its columns `keys` (column, ascending).
    Sort {
        stmt: u16,
        keys: Vec<(u16, bool)>,
    },
    /// Reorder the set so that rows with equal first `keys` columns (group keys, see
    /// `Value::same_key`) are adjacent: groups in the order they first appear, rows of a
    /// group in set order.
    Cluster {
        stmt: u16,
        keys: u16,
    },
    /// Apply OFFSET/LIMIT registers (None: absent) to the set; each must hold a non-negative
    /// integer (`LIMIT: integer type expected`, `LIMIT: positive integer value expected`).
    Limit {
        stmt: u16,
        limit: Option<Reg>,
        offset: Option<Reg>,
    },
    /// Keep only the first `n` columns of each row (drops hidden sort keys).
    Trim {
        stmt: u16,
        n: u16,
    },
    /// The statement's set is the request's current result.
    Result {
        stmt: u16,
    },
    /// The request's current result is "no content".
    NoResult,
    /// End of the coordinator program.
    End,

    // ---- query-side ops (subqueries, IN / ANY / ALL, coordinator loops)
    /// `dst = a IN (regs start .. start+n)` with SQL null semantics (both sections).
    InList {
        dst: Reg,
        a: Reg,
        start: Reg,
        n: u16,
    },
    /// `dst = a op ANY|ALL (b)`, `b` a JSON array (both sections).
    AnyAll {
        op: BinOp,
        all: bool,
        dst: Reg,
        a: Reg,
        b: Reg,
    },
    /// Coordinator: `dst = a op ANY|ALL (first column of the rows of stmt)`.
    SetAnyAll {
        stmt: u16,
        op: BinOp,
        all: bool,
        dst: Reg,
        a: Reg,
    },
    /// Coordinator: the scalar value of a subquery (first column of its only row, or null).
    SetScalar {
        stmt: u16,
        dst: Reg,
    },
    /// Coordinator: whether the subquery `stmt` returned any row.
    SetExists {
        stmt: u16,
        dst: Reg,
    },
    /// Coordinator: start iterating the rows of `stmt` (`Column` reads the current row); jumps
    /// to `end` when there are none.
    SetLoop {
        stmt: u16,
        end: u32,
    },
    /// Coordinator: advance the innermost loop; jumps back to `body` while rows remain.
    SetNext {
        body: u32,
    },
    /// Node: like `SetLoop`, over only the rows of `stmt` whose column `col` can equal the
    /// value in register `key` (the join condition `set.col = key` is AND-ed into the
    /// filter, which still runs): a hash lookup when the key and every non-null value of the
    /// column have one int/string/timestamp type, no row for a NULL key, every row otherwise.
    SetProbe {
        stmt: u16,
        col: u16,
        key: Reg,
        end: u32,
    },
    /// Coordinator: groups the rows of `src` (first `keys` columns = group key, then one
    /// aggregate input per kind) into `dst` rows `key ++ final aggregates`, in the order the
    /// groups first appear in `src`.
    GroupAgg {
        src: u16,
        dst: u16,
        keys: u16,
        aggs: Vec<crate::agg::AggKind>,
        /// Inputs are per-node partial states (`count, acc` per aggregate) to merge.
        partial: bool,
    },
    /// Node, after a scan: groups the emitted rows (`keys` key columns, then one input per
    /// aggregate) into one row per key with partial states (`count, acc` per aggregate). The
    /// first partition hands its groups over in first-appearance order, every other one in
    /// the slot order of Amelie's grouping table (see `crate::grouping`), so that merging
    /// them in partition order gives Amelie's group order.
    GroupPartial {
        keys: u16,
        aggs: Vec<crate::agg::AggKind>,
    },
    /// Coordinator: `dst` = column `col` of the current row of the loop `depth` levels out
    /// from the innermost one (correlated subqueries).
    OuterColumn {
        dst: Reg,
        depth: u16,
        col: u16,
    },
    /// Coordinator: adds one single-column row to `stmt` per element of the JSON array in
    /// `src` (table functions in FROM).
    SetUnnest {
        stmt: u16,
        src: Reg,
    },
    /// Coordinator: empties the row set and aggregate states of `stmt` (subquery re-run).
    SetReset {
        stmt: u16,
    },
    /// Coordinator: DISTINCT over the set, sorted by the columns `keys`: drops each row
    /// whose `keys` equal those of the row kept before it (the first row of each run of
    /// equal keys stays).
    Distinct {
        stmt: u16,
        keys: Vec<u16>,
    },

    /// Node: leave the innermost set loop and jump to `to` (a correlated subquery found its
    /// answer).
    SetBreak {
        to: u32,
    },
    /// Node: reset the aggregate states `slot .. slot+n` of an inline correlated subquery.
    SubAggReset {
        slot: u16,
        n: u16,
    },
    /// Node: feed `arg` (None: count(*)) into the aggregate state `slot`.
    SubAggStep {
        slot: u16,
        kind: crate::agg::AggKind,
        arg: Option<Reg>,
    },
    /// Node: `dst` = the final value of the aggregate state `slot`.
    SubAggFinal {
        slot: u16,
        kind: crate::agg::AggKind,
        dst: Reg,
    },

    // ---- node post-processing of the rows a scan emitted (before `Ret`)
    /// Node: stable sort of the emitted rows by `keys` (column, ascending); the coordinator
    /// merges the sorted runs of all partitions.
    NodeSort {
        keys: Vec<(u16, bool)>,
    },
    /// Node: keep only the first `limit + offset` emitted rows (registers; a non-integer or
    /// null keeps everything and a negative one nothing: the coordinator's `Limit` reports
    /// the error).
    NodeTop {
        limit: Reg,
        offset: Option<Reg>,
    },
    /// Node: DISTINCT over the emitted rows, sorted by the columns `keys` (`NodeSort`): the
    /// first row of each run of equal keys stays, as in `Distinct`.
    NodeDistinct {
        keys: Vec<u16>,
    },
}

fn r(x: impl fmt::Display) -> String {
    x.to_string()
}

fn cols(keys: &[u16]) -> String {
    keys.iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, a, b, c, comment): (&str, String, String, String, String) = match self {
            Op::Const { dst, idx } => ("const", r(dst), r(idx), "-".into(), String::new()),
            Op::Param { dst, idx } => ("param", r(dst), r(idx), "-".into(), String::new()),
            Op::Column { dst, col } => ("column", r(dst), r(col), "-".into(), String::new()),
            Op::Move { dst, src } => ("move", r(dst), r(src), "-".into(), String::new()),
            Op::Binary { op, dst, a, b } => (
                "binary",
                r(dst),
                r(a),
                r(b),
                format!("{op:?}").to_lowercase(),
            ),
            Op::Unary { op, dst, a } => (
                "unary",
                r(dst),
                r(a),
                "-".into(),
                format!("{op:?}").to_lowercase(),
            ),
            Op::IsNull { dst, a, negated } => {
                ("is_null", r(dst), r(a), r(*negated as u8), String::new())
            }
            Op::Call { func, dst, args, n } => ("call", r(dst), r(args), r(n), func.name().into()),
            Op::Jump { to } => ("jmp", r(to), "-".into(), "-".into(), String::new()),
            Op::JumpIfNot { cond, to } => ("jntr", r(to), r(cond), "-".into(), String::new()),
            Op::CastColumn { reg, table, col } => {
                ("cast_column", r(reg), r(table), r(col), String::new())
            }
            Op::CheckGenerated { reg, table, col } => {
                ("check_generated", r(reg), r(table), r(col), String::new())
            }
            Op::ScanRange {
                table,
                from,
                to,
                end,
            } => (
                "scan",
                r(table),
                "-".into(),
                r(end),
                format!(
                    "range scan {}{}",
                    match from {
                        Some((_, true)) => ">= ",
                        Some((_, false)) => "> ",
                        None => "",
                    },
                    match to {
                        Some((_, true)) => "<=",
                        Some((_, false)) => "<",
                        None => "",
                    }
                ),
            ),
            Op::Scan {
                table,
                key,
                key_len,
                end,
            } => (
                "scan",
                r(table),
                key.map(r).unwrap_or_else(|| "-".into()),
                r(end),
                if key.is_some() {
                    format!("point lookup, {key_len} keys")
                } else {
                    "full".into()
                },
            ),
            Op::Emit { start, n } => ("emit", r(start), r(n), "-".into(), String::new()),
            Op::AggStep { agg, arg } => (
                "agg_step",
                r(agg),
                arg.map(r).unwrap_or_else(|| "-".into()),
                "-".into(),
                String::new(),
            ),
            Op::AggEmit { stmt } => ("agg_emit", r(stmt), "-".into(), "-".into(), String::new()),
            Op::StageDelete => (
                "stage_delete",
                "-".into(),
                "-".into(),
                "-".into(),
                String::new(),
            ),
            Op::StageUpdate { start } => (
                "stage_update",
                r(start),
                "-".into(),
                "-".into(),
                String::new(),
            ),
            Op::ApplyStaged { table } => (
                "apply_staged",
                r(table),
                "-".into(),
                "-".into(),
                String::new(),
            ),
            Op::InsertRows { table } => ("insert", r(table), "-".into(), "-".into(), String::new()),
            Op::Upsert {
                table, mode, end, ..
            } => (
                "upsert",
                r(table),
                r(end),
                "-".into(),
                format!("# {mode:?}"),
            ),
            Op::GenerateRows { end } => (
                "generate_rows",
                r(end),
                "-".into(),
                "-".into(),
                String::new(),
            ),
            Op::ReturnRows { end } => {
                ("return_rows", r(end), "-".into(), "-".into(), String::new())
            }
            Op::Ret => ("ret", "-".into(), "-".into(), "-".into(), String::new()),
            Op::Send {
                stmt,
                table,
                entry,
                target,
                sets,
            } => (
                "send",
                r(stmt),
                r(table),
                r(entry),
                if sets.is_empty() {
                    format!("target {target}")
                } else {
                    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
                    format!("target {target} sets {}", sets.join(","))
                },
            ),
            Op::Recv { stmt, merge } => (
                "recv",
                r(stmt),
                "-".into(),
                "-".into(),
                format!("{merge:?}").to_lowercase(),
            ),
            Op::AggFinal { stmt, start } => {
                ("agg_final", r(stmt), r(start), "-".into(), String::new())
            }
            Op::SetAdd { stmt, start, n } => ("set_add", r(stmt), r(start), r(n), String::new()),
            Op::Sort { stmt, keys } => (
                "set_sort",
                r(stmt),
                r(keys.len()),
                "-".into(),
                String::new(),
            ),
            Op::Cluster { stmt, keys } => {
                ("set_cluster", r(stmt), r(keys), "-".into(), String::new())
            }
            Op::Limit {
                stmt,
                limit,
                offset,
            } => (
                "set_limit",
                r(stmt),
                limit.map(r).unwrap_or_else(|| "-".into()),
                offset.map(r).unwrap_or_else(|| "-".into()),
                String::new(),
            ),
            Op::Trim { stmt, n } => ("set_trim", r(stmt), r(n), "-".into(), String::new()),
            Op::Result { stmt } => ("result", r(stmt), "-".into(), "-".into(), String::new()),
            Op::NoResult => (
                "no_result",
                "-".into(),
                "-".into(),
                "-".into(),
                String::new(),
            ),
            Op::End => ("end", "-".into(), "-".into(), "-".into(), String::new()),
            Op::InList { dst, a, start, n } => {
                ("in", r(dst), r(a), r(start), format!("{n} values"))
            }
            Op::AnyAll { op, all, dst, a, b } => (
                if *all { "all" } else { "any" },
                r(dst),
                r(a),
                r(b),
                op.symbol().into(),
            ),
            Op::SetAnyAll {
                stmt,
                op,
                all,
                dst,
                a,
            } => (
                if *all { "all_set" } else { "any_set" },
                r(dst),
                r(a),
                r(stmt),
                op.symbol().into(),
            ),
            Op::SetScalar { stmt, dst } => {
                ("set_value", r(dst), r(stmt), "-".into(), String::new())
            }
            Op::SetExists { stmt, dst } => {
                ("set_exists", r(dst), r(stmt), "-".into(), String::new())
            }
            Op::SetLoop { stmt, end } => ("set_loop", r(stmt), r(end), "-".into(), String::new()),
            Op::SetNext { body } => ("set_next", r(body), "-".into(), "-".into(), String::new()),
            Op::GroupPartial { keys, aggs } => (
                "group_partial",
                r(keys),
                r(aggs.len()),
                "-".into(),
                String::new(),
            ),
            Op::GroupAgg {
                src,
                dst,
                keys,
                aggs,
                ..
            } => (
                "group_agg",
                r(src),
                r(dst),
                r(keys),
                format!("{} aggregates", aggs.len()),
            ),
            Op::OuterColumn { dst, depth, col } => {
                ("outer_column", r(dst), r(depth), r(col), String::new())
            }
            Op::SetUnnest { stmt, src } => {
                ("set_unnest", r(stmt), r(src), "-".into(), String::new())
            }
            Op::SetReset { stmt } => ("set_reset", r(stmt), "-".into(), "-".into(), String::new()),
            Op::Distinct { stmt, keys } => (
                "set_distinct",
                r(stmt),
                r(keys.len()),
                "-".into(),
                cols(keys),
            ),
            Op::NodeSort { keys } => (
                "sort",
                "-".into(),
                "-".into(),
                "-".into(),
                keys.iter()
                    .map(|(c, asc)| format!("{c} {}", if *asc { "asc" } else { "desc" }))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            Op::NodeTop { limit, offset } => (
                "top",
                r(limit),
                offset.map(r).unwrap_or_else(|| "-".into()),
                "-".into(),
                String::new(),
            ),
            Op::NodeDistinct { keys } => (
                "distinct",
                r(keys.len()),
                "-".into(),
                "-".into(),
                cols(keys),
            ),
            Op::SetBreak { to } => ("set_break", r(to), "-".into(), "-".into(), String::new()),
            Op::SubAggReset { slot, n } => ("agg_reset", r(slot), r(n), "-".into(), String::new()),
            Op::SubAggStep { slot, kind, arg } => (
                "agg_step_sub",
                r(slot),
                arg.map(r).unwrap_or_else(|| "-".into()),
                "-".into(),
                format!("{kind:?}").to_lowercase(),
            ),
            Op::SubAggFinal { slot, kind, dst } => (
                "agg_final_sub",
                r(dst),
                r(slot),
                "-".into(),
                format!("{kind:?}").to_lowercase(),
            ),
            Op::SetProbe {
                stmt,
                col,
                key,
                end,
            } => (
                "set_probe",
                r(stmt),
                r(key),
                r(end),
                format!("column {col}"),
            ),
        };
        write!(f, "{name:<20}{a:<7}{b:<7}{c:<7}")?;
        if !comment.is_empty() {
            write!(f, "# {comment}")?;
        }
        Ok(())
    }
}
