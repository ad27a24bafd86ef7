//! The coordinator section: a resumable state machine run by the frontend. It yields a
//! [`Dispatch`] whenever node work is needed and is resumed with the node outputs (in
//! partition order).

use crate::agg::{AggKind, AggState};
use crate::exec::binary;
use crate::exec::{step, Flow};
use crate::node_exec::NodeOutput;
use crate::op::{BinOp, Merge, Op};
use crate::program::{Env, Program};
use crate::sets::{set_expr, InCaches};
use crate::Tuple;
use amelie_common::governor::{row_bytes, Governor, CHECK_EVERY};
use amelie_common::Json;
use amelie_common::{Error, FastMap, Result, Value};
use std::sync::Arc;

/// Node work requested by the coordinator: run node code at `entry` for statement `stmt`
/// over table `table` (index into `Program::tables`) on the partitions of `target`
/// (index into `Program::targets`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dispatch {
    pub stmt: usize,
    pub table: usize,
    pub entry: usize,
    pub target: usize,
    /// Whether the coordinator will read the outputs (false: DML without RETURNING, or a
    /// row set no later op reads). Unwanted outputs are only checked for errors.
    pub wanted: bool,
}

#[derive(Debug)]
pub enum Step {
    /// Send node work; resume at once (the reply is awaited only when asked for).
    Dispatch(Dispatch),
    /// Resume with the outputs of the earliest outstanding dispatch of this statement.
    Await(usize),
    /// The coordinator ran a while (see [`Coordinator::govern`]): let the frontend's other
    /// requests run, then resume.
    Yield,
    Done,
}

/// Ops a governed coordinator runs between two yields.
const YIELD_EVERY: usize = 16 * CHECK_EVERY;

/// Coordinator row sets travelling with a node request, by statement.
pub type Shipped = Vec<(u16, Arc<Vec<Tuple>>)>;

pub struct Coordinator<'p> {
    program: &'p Program,
    env: Env<'p>,
    pc: usize,
    regs: Vec<Value>,
    sets: Vec<Vec<Tuple>>,
    aggs: Vec<Vec<AggState>>,
    pending: Option<Vec<NodeOutput>>,
    result: Option<usize>,
    /// Active loops: (statement set, row index).
    loops: Vec<(usize, usize)>,
    /// Hash sets of subquery rows for `x IN (SELECT ...)`, by statement (dropped whenever
    /// the set changes).
    in_cache: InCaches,
    /// Shared copies of sets already shipped to nodes (dropped whenever the set changes).
    ship_cache: FastMap<usize, Arc<Vec<Tuple>>>,
    /// The sets of the last `Send`.
    last_sets: &'p [u16],
    /// The request's limits (None: ungoverned, never yields).
    gov: Option<&'p Governor>,
    /// Approximate bytes kept by each row set, and by all of them.
    set_bytes: Vec<usize>,
    kept: usize,
    /// High-water mark of `kept` reserved from the server-wide memory pool.
    held: usize,
    /// Ops run since the last yield.
    fuel: usize,
}

/// Statements whose row set `op` changes.
fn modified_sets(op: &Op) -> [Option<usize>; 2] {
    match op {
        Op::Recv { stmt, .. }
        | Op::SetAdd { stmt, .. }
        | Op::Sort { stmt, .. }
        | Op::Cluster { stmt, .. }
        | Op::Limit { stmt, .. }
        | Op::Trim { stmt, .. }
        | Op::Distinct { stmt, .. }
        | Op::SetUnnest { stmt, .. }
        | Op::SetReset { stmt } => [Some(*stmt as usize), None],
        Op::GroupAgg { src, dst, .. } => [Some(*src as usize), Some(*dst as usize)],
        _ => [None, None],
    }
}

impl<'p> Coordinator<'p> {
    pub fn new(program: &'p Program, env: Env<'p>) -> Self {
        let n = program.stmts.len();
        Coordinator {
            program,
            env,
            pc: 0,
            regs: vec![Value::Null; program.coordinator_regs as usize],
            sets: vec![Vec::new(); n],
            aggs: program
                .stmts
                .iter()
                .map(|s| vec![AggState::default(); s.aggs.len()])
                .collect(),
            pending: None,
            result: None,
            loops: Vec::new(),
            in_cache: InCaches::default(),
            ship_cache: FastMap::default(),
            last_sets: &[],
            gov: None,
            set_bytes: vec![0; n],
            kept: 0,
            held: 0,
            fuel: 0,
        }
    }

    /// Puts the coordinator under the request's limits: it yields every so many ops
    /// ([`Step::Yield`]), fails when the request is cancelled or out of time, and fails when
    /// its row sets outgrow the memory budget.
    pub fn govern(&mut self, gov: &'p Governor) {
        self.gov = Some(gov);
    }

    /// Counts `bytes` more kept by set `s`; fails past the memory budget.
    fn grow(&mut self, s: usize, bytes: usize) -> Result<()> {
        self.set_bytes[s] += bytes;
        self.kept += bytes;
        match self.gov {
            Some(g) => g.fit(self.kept, &mut self.held),
            None => Ok(()),
        }
    }

    /// Set `s` was emptied or replaced.
    fn forget(&mut self, s: usize) {
        self.kept -= std::mem::take(&mut self.set_bytes[s]);
    }

    /// Whether row sizes are worth measuring (a governed request with a budget).
    fn measuring(&self) -> bool {
        self.gov.is_some_and(|g| g.measures())
    }

    /// The row sets the last dispatch's node code reads (shared, copied once per change).
    pub fn shipped(&mut self) -> Shipped {
        self.last_sets
            .iter()
            .map(|&s| {
                let rows = self
                    .ship_cache
                    .entry(s as usize)
                    .or_insert_with(|| Arc::new(self.sets[s as usize].clone()))
                    .clone();
                (s, rows)
            })
            .collect()
    }

    /// Whether the outputs of the first `Recv` of `stmt` at or after `from` are read.
    fn wanted(&self, stmt: u16, from: usize) -> bool {
        let code = &self.program.coordinator;
        let Some(at) = code[from.min(code.len())..]
            .iter()
            .position(|op| matches!(op, Op::Recv { stmt: s, .. } if *s == stmt))
            .map(|i| i + from)
        else {
            return false;
        };
        match code[at] {
            Op::Recv {
                merge: Merge::Discard,
                ..
            } => false,
            Op::Recv {
                merge: Merge::Union,
                ..
            } => self.set_is_used(stmt, at + 1),
            _ => true,
        }
    }

    /// Whether the coordinator may still dispatch node work from where it stopped: a `Send`
    /// lies ahead, or an op ahead can jump back (a loop). When not, the executor tells the
    /// nodes that the transaction ends together with the work it sends now.
    pub fn may_dispatch(&self) -> bool {
        let code = &self.program.coordinator;
        let pc = self.pc.min(code.len());
        code[pc..].iter().any(|op| match op {
            Op::Send { .. } => true,
            Op::Jump { to } | Op::JumpIfNot { to, .. } => (*to as usize) < pc,
            Op::SetNext { body } => (*body as usize) < pc,
            _ => false,
        })
    }

    /// Runs until the next dispatch or the end. `outputs` answers the previous dispatch.
    pub fn resume(&mut self, outputs: Option<Vec<NodeOutput>>) -> Result<Step> {
        if outputs.is_some() {
            self.pending = outputs;
        }
        let program = self.program;
        let code = &program.coordinator;
        loop {
            if let Some(g) = self.gov {
                self.fuel += 1;
                if self.fuel >= YIELD_EVERY {
                    self.fuel = 0;
                    g.check()?;
                    return Ok(Step::Yield);
                }
            }
            let op = &code[self.pc];
            // the current row of the innermost loop, read in place
            let row = self
                .loops
                .last()
                .and_then(|&(s, i)| self.sets.get(s).and_then(|set| set.get(i)))
                .map(|r| crate::exec::RowRef::Values(r));
            match step(program, self.env, op, &mut self.regs, row)? {
                Flow::Next => {
                    self.pc += 1;
                    continue;
                }
                Flow::Jump(to) => {
                    self.pc = to;
                    continue;
                }
                Flow::NotExpr => {}
            }
            if query_expr(op, &mut self.regs)? {
                self.pc += 1;
                continue;
            }
            self.pc += 1;
            for m in modified_sets(op).into_iter().flatten() {
                self.in_cache.invalidate(m);
                self.ship_cache.remove(&m);
            }
            if set_expr(op, &mut self.regs, &self.sets, &mut self.in_cache)? {
                continue;
            }
            match op {
                Op::SetLoop { stmt, end } => {
                    let s = *stmt as usize;
                    if self.sets[s].is_empty() {
                        self.pc = *end as usize;
                    } else {
                        self.loops.push((s, 0));
                    }
                }
                Op::SetNext { body } => {
                    if let Some((s, i)) = self.loops.last_mut() {
                        *i += 1;
                        if *i < self.sets[*s].len() {
                            self.pc = *body as usize;
                        } else {
                            self.loops.pop();
                        }
                    }
                }
                Op::GroupAgg {
                    src,
                    dst,
                    keys,
                    aggs,
                    partial,
                } => {
                    let rows = std::mem::take(&mut self.sets[*src as usize]);
                    self.forget(*src as usize);
                    let grouped = group_rows(rows, *keys as usize, aggs, *partial)?;
                    self.forget(*dst as usize);
                    if self.measuring() {
                        let bytes = grouped.iter().map(|r| row_bytes(r)).sum();
                        self.grow(*dst as usize, bytes)?;
                    }
                    self.sets[*dst as usize] = grouped;
                }
                Op::OuterColumn { dst, depth, col } => {
                    let n = self.loops.len();
                    let v = (n > *depth as usize)
                        .then(|| self.loops[n - 1 - *depth as usize])
                        .and_then(|(s, i)| self.sets[s].get(i))
                        .and_then(|row| row.get(*col as usize))
                        .cloned()
                        .unwrap_or(Value::Null);
                    self.regs[*dst as usize] = v;
                }
                Op::SetUnnest { stmt, src } => {
                    let rows: Vec<Tuple> = match &self.regs[*src as usize] {
                        Value::Json(j) => match &**j {
                            Json::Array(items) => items
                                .iter()
                                .map(|e| vec![json_value(e)].into_boxed_slice())
                                .collect(),
                            _ => return Err(Error::type_error("FROM: json array expected")),
                        },
                        _ => {
                            return Err(Error::type_error(
                                "function must return result set or JSON",
                            ))
                        }
                    };
                    if self.measuring() {
                        let bytes = rows.iter().map(|r| row_bytes(r)).sum();
                        self.grow(*stmt as usize, bytes)?;
                    }
                    self.sets[*stmt as usize].extend(rows);
                }
                Op::SetReset { stmt } => {
                    let s = *stmt as usize;
                    self.forget(s);
                    self.sets[s].clear();
                    for a in &mut self.aggs[s] {
                        *a = AggState::default();
                    }
                }
                Op::Distinct { stmt, keys } => distinct_rows(&mut self.sets[*stmt as usize], keys),
                Op::Send {
                    stmt,
                    table,
                    entry,
                    target,
                    sets,
                } => {
                    self.last_sets = sets;
                    return Ok(Step::Dispatch(Dispatch {
                        stmt: *stmt as usize,
                        table: *table as usize,
                        entry: *entry as usize,
                        target: *target as usize,
                        wanted: self.wanted(*stmt, self.pc),
                    }));
                }
                Op::Recv { stmt, merge } => {
                    if !self.wanted(*stmt, self.pc - 1) {
                        continue;
                    }
                    let Some(outputs) = self.pending.take() else {
                        // the reply is still outstanding: ask for it and run this op again
                        self.pc -= 1;
                        return Ok(Step::Await(*stmt as usize));
                    };
                    let s = *stmt as usize;
                    match merge {
                        Merge::Union => {
                            if self.measuring() {
                                let bytes = outputs
                                    .iter()
                                    .flat_map(|o| o.rows.iter())
                                    .map(|r| row_bytes(r))
                                    .sum();
                                self.grow(s, bytes)?;
                            }
                            let set = &mut self.sets[s];
                            for o in outputs {
                                if set.is_empty() {
                                    *set = o.rows;
                                } else {
                                    set.extend(o.rows);
                                }
                            }
                        }
                        Merge::Agg => {
                            let kinds = &program.stmts[s].aggs;
                            for o in outputs {
                                for row in o.rows {
                                    for (i, kind) in kinds.iter().enumerate() {
                                        let part =
                                            AggState::from_values(&row[2 * i], &row[2 * i + 1]);
                                        self.aggs[s][i].merge(*kind, &part)?;
                                    }
                                }
                            }
                        }
                        Merge::Discard => {}
                    }
                }
                Op::AggFinal { stmt, start } => {
                    let s = *stmt as usize;
                    for (i, kind) in program.stmts[s].aggs.iter().enumerate() {
                        self.regs[*start as usize + i] = self.aggs[s][i].finish(*kind)?;
                    }
                }
                Op::SetAdd { stmt, start, n } => {
                    let st = *start as usize;
                    let row = self.regs[st..st + *n as usize].to_vec().into_boxed_slice();
                    if self.measuring() {
                        self.grow(*stmt as usize, row_bytes(&row))?;
                    }
                    self.sets[*stmt as usize].push(row);
                }
                Op::Sort { stmt, keys } => sort_rows(&mut self.sets[*stmt as usize], keys),
                Op::Cluster { stmt, keys } => {
                    let set = &mut self.sets[*stmt as usize];
                    *set = crate::grouping::cluster(std::mem::take(set), *keys as usize);
                }
                Op::Limit {
                    stmt,
                    limit,
                    offset,
                } => {
                    // (LIMIT is checked before OFFSET, as Amelie does)
                    let limit = limit_value(limit.map(|r| &self.regs[r as usize]), "LIMIT")?;
                    let offset = limit_value(offset.map(|r| &self.regs[r as usize]), "OFFSET")?;
                    let set = &mut self.sets[*stmt as usize];
                    if let Some(off) = offset {
                        set.drain(..off.min(set.len()));
                    }
                    if let Some(lim) = limit {
                        set.truncate(lim);
                    }
                }
                Op::Trim { stmt, n } => {
                    for row in &mut self.sets[*stmt as usize] {
                        if row.len() > *n as usize {
                            *row = row[..*n as usize].to_vec().into_boxed_slice();
                        }
                    }
                }
                Op::Result { stmt } => self.result = Some(*stmt as usize),
                Op::NoResult => self.result = None,
                Op::End => return Ok(Step::Done),
                other => {
                    return Err(Error::internal(format!(
                        "unexpected op in coordinator section: {other}"
                    )))
                }
            }
        }
    }

    /// Whether the row set of `stmt` can matter after `from`: it is the final result, or an
    /// op other than the plain set operations (sort/limit/trim/result) may read it.
    /// Conservative: any op this function does not know counts as a use.
    fn set_is_used(&self, stmt: u16, from: usize) -> bool {
        let code = &self.program.coordinator;
        let final_result = code.iter().rev().find_map(|op| match op {
            Op::Result { stmt } => Some(Some(*stmt)),
            Op::NoResult => Some(None),
            _ => None,
        });
        if final_result == Some(Some(stmt)) {
            return true;
        }
        code[from.min(code.len())..].iter().any(|op| match op {
            Op::Sort { .. }
            | Op::Limit { .. }
            | Op::Trim { .. }
            | Op::Result { .. }
            | Op::NoResult
            | Op::Recv { .. }
            | Op::End => false,
            Op::Send { sets, .. } => sets.contains(&stmt),
            Op::SetAdd { stmt: s, .. } | Op::AggFinal { stmt: s, .. } => *s == stmt,
            Op::Const { .. }
            | Op::Column { .. }
            | Op::Move { .. }
            | Op::Binary { .. }
            | Op::Unary { .. }
            | Op::IsNull { .. }
            | Op::Call { .. }
            | Op::Jump { .. }
            | Op::JumpIfNot { .. }
            | Op::CastColumn { .. }
            | Op::CheckGenerated { .. } => false,
            _ => true,
        })
    }

    /// The last statement's result: its index and rows (None: no content).
    pub fn take_result(&mut self) -> Option<(usize, Vec<Tuple>)> {
        let s = self.result?;
        Some((s, std::mem::take(&mut self.sets[s])))
    }
}

/// Stable sort of `rows` by `keys` (column, ascending) in the sort order of
/// [`Value::sort_cmp`]; descending keys reverse the comparison, not the order of ties. The
/// set of one dispatch is the concatenation of per-partition runs, each already sorted by
/// the node when the plan sorts there (`NodeSort`); the stable merge sort finds those runs
/// and merges them, ties going to the lower partition.
pub fn sort_rows(rows: &mut [Tuple], keys: &[(u16, bool)]) {
    rows.sort_by(|a, b| {
        for (col, asc) in keys {
            let o = a[*col as usize].sort_cmp(&b[*col as usize]);
            let o = if *asc { o } else { o.reverse() };
            if o.is_ne() {
                return o;
            }
        }
        std::cmp::Ordering::Equal
    });
}

/// DISTINCT over rows sorted by `keys`: drops every row whose `keys` columns equal (by
/// [`Value::sort_cmp`]) those of the row kept before it, so the first row of each run of
/// equal keys stays.
pub fn distinct_rows(rows: &mut Vec<Tuple>, keys: &[u16]) {
    rows.dedup_by(|row, kept| {
        keys.iter()
            .all(|&k| row[k as usize].sort_cmp(&kept[k as usize]).is_eq())
    });
}

/// Groups rows `key ++ inputs` (or partial states, see [`crate::grouping::group_partial`])
/// by key and returns `key ++ finals` rows in the order the groups first appear. Without
/// keys there is always one row.
pub fn group_rows(
    rows: Vec<Tuple>,
    nkeys: usize,
    kinds: &[AggKind],
    partial: bool,
) -> Result<Vec<Tuple>> {
    let mut groups = crate::grouping::find_groups(rows, nkeys, kinds, partial)?.groups;
    if nkeys == 0 && groups.is_empty() {
        groups.push((Vec::new(), vec![AggState::default(); kinds.len()]));
    }
    groups
        .into_iter()
        .map(|(mut key, states)| {
            for (st, kind) in states.iter().zip(kinds) {
                key.push(st.finish(*kind)?);
            }
            Ok(key.into_boxed_slice())
        })
        .collect()
}

/// The value of a LIMIT or OFFSET register (`what` names the clause): None when the clause is
/// absent. It must be a non-negative integer: anything else, NULL included, is an error.
pub(crate) fn limit_value(v: Option<&Value>, what: &str) -> Result<Option<usize>> {
    match v {
        None => Ok(None),
        Some(Value::Int(i)) if *i < 0 => Err(Error::type_error(format!(
            "{what}: positive integer value expected"
        ))),
        Some(Value::Int(i)) => Ok(Some(usize::try_from(*i).unwrap_or(usize::MAX))),
        Some(_) => Err(Error::type_error(format!("{what}: integer type expected"))),
    }
}

/// A JSON array element as a value (scalars map to their SQL type, containers stay json).
pub fn json_value(j: &Json) -> Value {
    match j {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Int(i) => Value::Int(*i),
        Json::Double(d) => Value::Double(*d),
        Json::String(s) => Value::Str(s.as_str().into()),
        other => Value::Json(Box::new(other.clone())),
    }
}

/// `a op ANY|ALL (items)` with SQL null semantics.
pub fn any_all(
    op: BinOp,
    all: bool,
    a: &Value,
    items: impl IntoIterator<Item = Value>,
) -> Result<Value> {
    let mut saw_null = false;
    for item in items {
        let r = binary(op, a, &item)?;
        if r.is_null() {
            saw_null = true;
        } else if r.is_true() != all {
            return Ok(Value::Bool(!all));
        }
    }
    Ok(if saw_null {
        Value::Null
    } else {
        Value::Bool(all)
    })
}

/// `a op ANY|ALL (b)` where `b` is a JSON array.
pub fn any_all_array(op: BinOp, all: bool, a: &Value, b: &Value) -> Result<Value> {
    match b {
        Value::Json(j) => match &**j {
            Json::Array(items) => any_all(op, all, a, items.iter().map(json_value)),
            _ => Err(Error::type_error(format!(
                "{}: json array expected",
                if all { "ALL" } else { "ANY" }
            ))),
        },
        Value::Null => Ok(Value::Null),
        other => Err(Error::type_error(format!(
            "{}: json array expected, but got {}",
            if all { "ALL" } else { "ANY" },
            other.type_of().name()
        ))),
    }
}

/// Evaluates the query-side expression ops that need no coordinator state (both sections).
/// Returns false when `op` is not one of them.
pub fn query_expr(op: &Op, regs: &mut [Value]) -> Result<bool> {
    match op {
        Op::InList { dst, a, start, n } => {
            let s = *start as usize;
            let items = regs[s..s + *n as usize].to_vec();
            regs[*dst as usize] = any_all(BinOp::Eq, false, &regs[*a as usize], items)?;
        }
        Op::AnyAll { op, all, dst, a, b } => {
            regs[*dst as usize] = any_all_array(*op, *all, &regs[*a as usize], &regs[*b as usize])?;
        }
        _ => return Ok(false),
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arr(items: Vec<Json>) -> Value {
        Value::Json(Box::new(Json::Array(items)))
    }

    #[test]
    fn any_all_null_semantics() {
        let one = Value::Int(1);
        let a = arr(vec![Json::Int(1), Json::Int(2), Json::Null]);
        assert_eq!(
            any_all_array(BinOp::Eq, false, &one, &a).unwrap(),
            Value::Bool(true)
        );
        assert_eq!(
            any_all_array(BinOp::Eq, false, &Value::Int(0), &a).unwrap(),
            Value::Null
        );
        assert_eq!(
            any_all_array(BinOp::Eq, false, &one, &arr(vec![])).unwrap(),
            Value::Bool(false)
        );
        assert_eq!(
            any_all_array(BinOp::Eq, true, &one, &arr(vec![])).unwrap(),
            Value::Bool(true)
        );
        assert_eq!(
            any_all_array(BinOp::Gt, true, &Value::Int(3), &a).unwrap(),
            Value::Null
        );
        assert_eq!(
            any_all_array(BinOp::Gt, true, &one, &a).unwrap(),
            Value::Bool(false)
        );
        assert!(any_all_array(BinOp::Eq, false, &one, &Value::Int(1)).is_err());
    }

    #[test]
    fn limit_values_are_non_negative_integers() {
        let msg = |v: Value, what| limit_value(Some(&v), what).unwrap_err().msg().to_string();
        assert_eq!(limit_value(None, "LIMIT").unwrap(), None);
        assert_eq!(limit_value(Some(&Value::Int(0)), "LIMIT").unwrap(), Some(0));
        assert_eq!(
            limit_value(Some(&Value::Int(7)), "OFFSET").unwrap(),
            Some(7)
        );
        assert_eq!(
            msg(Value::Int(-1), "LIMIT"),
            "LIMIT: positive integer value expected"
        );
        assert_eq!(
            msg(Value::Int(i64::MIN), "OFFSET"),
            "OFFSET: positive integer value expected"
        );
        assert_eq!(msg(Value::Null, "LIMIT"), "LIMIT: integer type expected");
        assert_eq!(
            msg(Value::Double(1.0), "OFFSET"),
            "OFFSET: integer type expected"
        );
        assert_eq!(
            msg(Value::Str("1".into()), "LIMIT"),
            "LIMIT: integer type expected"
        );
    }

    #[test]
    fn grouping_keeps_first_appearance() {
        let rows: Vec<Tuple> = vec![
            vec![Value::Int(2), Value::Null, Value::Int(10)].into_boxed_slice(),
            vec![Value::Int(1), Value::Null, Value::Int(5)].into_boxed_slice(),
            vec![Value::Int(2), Value::Null, Value::Null].into_boxed_slice(),
        ];
        let out = group_rows(rows, 1, &[AggKind::CountStar, AggKind::Sum], false).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(&*out[0], &[Value::Int(2), Value::Int(2), Value::Int(10)]);
        assert_eq!(&*out[1], &[Value::Int(1), Value::Int(1), Value::Int(5)]);
    }
}
