//! Per-row work of node code: the body of a scan or loop (emit, aggregate, stage a change),
//! loops over and probes into the row sets the coordinator shipped, and the request's limits
//! checked as rows go by.

use crate::agg::AggState;
use crate::exec::{step, Flow, RowRef};
use crate::op::Op;
use crate::program::{Env, Program};
use crate::sets::{set_expr, InCaches, SetSource};
use crate::Tuple;
use amelie_common::governor::{row_bytes, Governor, CHECK_EVERY};
use amelie_common::{Error, FastMap, Result, Value};
use amelie_storage::Row;
use std::rc::Rc;
use std::sync::Arc;

impl SetSource for [(u16, Arc<Vec<Tuple>>)] {
    fn rows(&self, stmt: usize) -> &[Tuple] {
        self.iter()
            .find(|(s, _)| *s as usize == stmt)
            .map(|(_, rows)| rows.as_slice())
            .unwrap_or(&[])
    }
}

/// An active loop over a shipped set: all its rows, or the candidates of a probe.
pub(super) struct SetLoopState {
    stmt: usize,
    pos: usize,
    rows: Option<Rc<[u32]>>,
}

impl SetLoopState {
    fn row(&self) -> usize {
        match &self.rows {
            Some(r) => r[self.pos] as usize,
            None => self.pos,
        }
    }

    fn len(&self, sets: &[(u16, Arc<Vec<Tuple>>)]) -> usize {
        match &self.rows {
            Some(r) => r.len(),
            None => sets.rows(self.stmt).len(),
        }
    }
}

/// Row positions of a shipped set by the value of one column (for `SetProbe`), when every
/// non-null value of the column has one hashable type.
struct ProbeIndex {
    ty: Option<amelie_common::Type>,
    by_value: FastMap<Value, Rc<[u32]>>,
}

impl ProbeIndex {
    fn build(rows: &[Tuple], col: usize) -> Option<ProbeIndex> {
        use amelie_common::Type;
        let mut ty = None;
        let mut lists: FastMap<Value, Vec<u32>> = FastMap::default();
        for (i, row) in rows.iter().enumerate() {
            let v = row.get(col).unwrap_or(&Value::Null);
            if v.is_null() {
                continue;
            }
            let t = v.type_of();
            if !matches!(t, Type::Int | Type::String | Type::Timestamp)
                || ty.is_some_and(|x| x != t)
            {
                return None;
            }
            ty = Some(t);
            lists.entry(v.clone()).or_default().push(i as u32);
        }
        Some(ProbeIndex {
            ty,
            by_value: lists.into_iter().map(|(k, v)| (k, v.into())).collect(),
        })
    }
}

pub(super) struct BodyState<'s> {
    env: Env<'s>,
    /// Shipped sets, active set loops and hash sets for `IN` and `SetProbe`.
    sets: &'s [(u16, Arc<Vec<Tuple>>)],
    loops: Vec<SetLoopState>,
    in_cache: InCaches,
    probes: FastMap<(usize, u16), Option<ProbeIndex>>,
    /// Aggregate states of inline correlated subqueries.
    sub_aggs: Vec<AggState>,
    pub(super) rows: Vec<Tuple>,
    pub(super) aggs: Vec<AggState>,
    /// Staged deletes (None) and new row images, with the end of their key in `staged_keys`.
    pub(super) staged: Vec<(usize, Option<Row>)>,
    pub(super) staged_keys: Vec<u8>,
    /// Rows affected by the last apply/upsert, for `ReturnRows`.
    pub(super) applied: Vec<Row>,
    /// Width of a `StageUpdate` image when it differs from the current row's width (the
    /// upsert body sees the existing row followed by the excluded row).
    pub(super) width: Option<usize>,
    /// The request's limits, rows and loop steps since the last check, bytes of `rows`.
    gov: Option<&'s Governor>,
    ticks: usize,
    out_bytes: usize,
    /// High-water mark reserved from the server-wide memory pool ([`NodeCtx::held`]).
    held: &'s mut usize,
}

/// Estimated bytes a transaction keeps for its changes on a node: the change log (about the
/// new rows' data), the same data in the partition's index, the previous images the undo log
/// holds, and per changed row its undo entry and index slot.
#[inline]
pub(super) fn held_by_changes(log_bytes: usize, undo: &amelie_storage::undo::UndoLog) -> usize {
    const PER_ROW: usize = 64;
    log_bytes * 2 + undo.old_bytes() + undo.len() * PER_ROW
}

impl<'s> BodyState<'s> {
    /// The state of one request, with `naggs` aggregates.
    pub(super) fn new(
        env: Env<'s>,
        sets: &'s [(u16, Arc<Vec<Tuple>>)],
        naggs: usize,
        gov: Option<&'s Governor>,
        held: &'s mut usize,
    ) -> BodyState<'s> {
        BodyState {
            env,
            sets,
            loops: Vec::new(),
            in_cache: InCaches::default(),
            probes: FastMap::default(),
            sub_aggs: Vec::new(),
            rows: Vec::new(),
            aggs: vec![AggState::default(); naggs],
            staged: Vec::new(),
            staged_keys: Vec::new(),
            applied: Vec::new(),
            width: None,
            gov,
            ticks: 0,
            out_bytes: 0,
            held,
        }
    }

    /// One more row or loop step: every [`CHECK_EVERY`] of them, fails if the request was
    /// cancelled, ran out of time, or its outputs outgrew the memory budget (with `extra`
    /// bytes kept elsewhere, such as the changes made so far).
    #[inline]
    pub(super) fn tick(&mut self, extra: usize) -> Result<()> {
        self.ticks += 1;
        if self.ticks < CHECK_EVERY {
            return Ok(());
        }
        self.ticks = 0;
        match self.gov {
            Some(g) => {
                g.check()?;
                g.fit(self.out_bytes + extra, self.held)
            }
            None => Ok(()),
        }
    }
}

/// The ops over shipped sets: set expressions, and set loops for the inner sources of a join
/// (on a node `SetLoop` does not change the current row, which stays the scanned one; loop
/// rows are read with `OuterColumn`). Returns the next pc when `op` is one of them.
pub(super) fn set_op(
    op: &Op,
    pc: usize,
    regs: &mut [Value],
    st: &mut BodyState,
) -> Result<Option<usize>> {
    if set_expr(op, regs, st.sets, &mut st.in_cache)? {
        return Ok(Some(pc + 1));
    }
    Ok(Some(match op {
        Op::SetLoop { stmt, end } => {
            if st.sets.rows(*stmt as usize).is_empty() {
                *end as usize
            } else {
                st.loops.push(SetLoopState {
                    stmt: *stmt as usize,
                    pos: 0,
                    rows: None,
                });
                pc + 1
            }
        }
        Op::SetProbe {
            stmt,
            col,
            key,
            end,
        } => {
            let s = *stmt as usize;
            let sets = st.sets;
            let index = st
                .probes
                .entry((s, *col))
                .or_insert_with(|| ProbeIndex::build(sets.rows(s), *col as usize));
            let k = &regs[*key as usize];
            let rows: Option<Rc<[u32]>> = match index {
                _ if k.is_null() => Some(Rc::from(Vec::new())),
                Some(ix) if ix.ty.is_none() => Some(Rc::from(Vec::new())),
                Some(ix) if ix.ty == Some(k.type_of()) => Some(
                    ix.by_value
                        .get(k)
                        .cloned()
                        .unwrap_or_else(|| Rc::from(Vec::new())),
                ),
                _ => None,
            };
            let l = SetLoopState {
                stmt: s,
                pos: 0,
                rows,
            };
            if l.len(sets) == 0 {
                *end as usize
            } else {
                st.loops.push(l);
                pc + 1
            }
        }
        Op::SetBreak { to } => {
            st.loops.pop();
            *to as usize
        }
        Op::SubAggReset { slot, n } => {
            let (s, n) = (*slot as usize, *n as usize);
            if st.sub_aggs.len() < s + n {
                st.sub_aggs.resize(s + n, AggState::default());
            }
            st.sub_aggs[s..s + n].fill(AggState::default());
            pc + 1
        }
        Op::SubAggStep { slot, kind, arg } => {
            let a = st
                .sub_aggs
                .get_mut(*slot as usize)
                .ok_or_else(|| Error::internal("aggregate state out of range"))?;
            a.step(*kind, arg.map(|r| &regs[r as usize]))?;
            pc + 1
        }
        Op::SubAggFinal { slot, kind, dst } => {
            let a = st
                .sub_aggs
                .get(*slot as usize)
                .ok_or_else(|| Error::internal("aggregate state out of range"))?;
            regs[*dst as usize] = a.finish(*kind)?;
            pc + 1
        }
        Op::SetNext { body } => match st.tick(0).map(|_| st.loops.last_mut())? {
            Some(l) => {
                l.pos += 1;
                if l.pos < l.len(st.sets) {
                    *body as usize
                } else {
                    st.loops.pop();
                    pc + 1
                }
            }
            None => pc + 1,
        },
        Op::OuterColumn { dst, depth, col } => {
            let n = st.loops.len();
            regs[*dst as usize] = (n > *depth as usize)
                .then(|| &st.loops[n - 1 - *depth as usize])
                .and_then(|l| st.sets.rows(l.stmt).get(l.row()))
                .and_then(|row| row.get(*col as usize))
                .cloned()
                .unwrap_or(Value::Null);
            pc + 1
        }
        _ => return Ok(None),
    }))
}

fn body_op(
    program: &Program,
    stmt: usize,
    op: &Op,
    regs: &[Value],
    row: RowRef<'_>,
    key: &[u8],
    st: &mut BodyState,
) -> Result<()> {
    match op {
        Op::Emit { start, n } => {
            let s = *start as usize;
            let row = regs[s..s + *n as usize].to_vec().into_boxed_slice();
            if st.gov.is_some_and(|g| g.measures()) {
                st.out_bytes += row_bytes(&row);
            }
            st.rows.push(row);
        }
        Op::AggStep { agg, arg } => {
            let kind = program.stmts[stmt].aggs[*agg as usize];
            st.aggs[*agg as usize].step(kind, arg.map(|r| &regs[r as usize]))?;
        }
        Op::StageDelete => {
            st.staged_keys.extend_from_slice(key);
            st.staged.push((st.staged_keys.len(), None));
        }
        Op::StageUpdate { start } => {
            let s = *start as usize;
            let n = st.width.unwrap_or(row.len());
            let image = regs
                .get(s..s + n)
                .ok_or_else(|| Error::internal("stage_update: register range out of bounds"))?;
            amelie_storage::check_values(image)?;
            st.staged_keys.extend_from_slice(key);
            st.staged
                .push((st.staged_keys.len(), Some(Row::encode(image))));
        }
        other => {
            return Err(Error::internal(format!(
                "unexpected op in scan body: {other}"
            )))
        }
    }
    Ok(())
}

pub(super) fn run_body(
    program: &Program,
    stmt: usize,
    range: (usize, usize),
    regs: &mut [Value],
    row: RowRef<'_>,
    key: &[u8],
    st: &mut BodyState,
) -> Result<()> {
    let code = &program.node;
    let (mut pc, end) = range;
    while pc < end {
        let op = &code[pc];
        match step(program, st.env, op, regs, Some(row))? {
            Flow::Next => pc += 1,
            Flow::Jump(to) => pc = to,
            Flow::NotExpr if crate::coord::query_expr(op, regs)? => pc += 1,
            Flow::NotExpr => match set_op(op, pc, regs, st)? {
                Some(next) => pc = next,
                None => {
                    body_op(program, stmt, op, regs, row, key, st)?;
                    pc += 1;
                }
            },
        }
    }
    Ok(())
}
