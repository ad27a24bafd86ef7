//! Running a node section on one partition.

use crate::agg::AggState;
use crate::changes::{ChangeLog, ChangeRef};
use crate::exec::{step, Flow, RowRef};
use crate::generate::{GenRows, Generate};
use crate::op::{Conflict, Op, Reg};
use crate::program::{Env, Program};
use crate::sets::{set_expr, InCaches, SetSource};
use crate::Tuple;
use amelie_common::governor::{row_bytes, Governor, CHECK_EVERY};
use amelie_common::{Error, FastMap, Result, Value};
use amelie_storage::{Partition, Row, RowReader, UndoLog};
use serde::{Deserialize, Serialize};
use std::ops::Bound;
use std::rc::Rc;
use std::sync::Arc;

/// What a node needs to run one request: its partition of the statement's table, the
/// transaction's undo log and WAL change log.
pub struct NodeCtx<'a> {
    pub partition: &'a mut Partition,
    pub undo: &'a mut UndoLog,
    pub changes: &'a mut ChangeLog,
    /// False for unlogged tables: changes are not collected for the WAL.
    pub logged: bool,
    /// Coordinator row sets shipped with the request (see `Op::Send::sets`).
    pub sets: &'a [(u16, Arc<Vec<Tuple>>)],
    /// Parameters and request time of this execution.
    pub env: Env<'a>,
    /// The request's limits (None: ungoverned).
    pub gov: Option<&'a Governor>,
    /// High-water mark of the transaction's bytes on this node, reserved from the server-wide
    /// memory pool (kept by the node from statement to statement; starts at 0).
    pub held: &'a mut usize,
    /// Register file, reused from request to request. It must start out null for each
    /// batch of requests (the caller clears it); a statement's code writes a register before
    /// it reads it and statements use disjoint registers, so requests of one batch share it.
    pub regs: &'a mut Vec<Value>,
}

impl SetSource for [(u16, Arc<Vec<Tuple>>)] {
    fn rows(&self, stmt: usize) -> &[Tuple] {
        self.iter()
            .find(|(s, _)| *s as usize == stmt)
            .map(|(_, rows)| rows.as_slice())
            .unwrap_or(&[])
    }
}

/// Rows produced by a node request (result rows or one partial aggregate row).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct NodeOutput {
    pub rows: Vec<Tuple>,
}

/// An active loop over a shipped set: all its rows, or the candidates of a probe.
struct SetLoopState {
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

struct BodyState<'s> {
    env: Env<'s>,
    /// Shipped sets, active set loops and hash sets for `IN` and `SetProbe`.
    sets: &'s [(u16, Arc<Vec<Tuple>>)],
    loops: Vec<SetLoopState>,
    in_cache: InCaches,
    probes: FastMap<(usize, u16), Option<ProbeIndex>>,
    /// Aggregate states of inline correlated subqueries.
    sub_aggs: Vec<AggState>,
    rows: Vec<Tuple>,
    aggs: Vec<AggState>,
    /// Staged deletes (None) and new row images, with the end of their key in `staged_keys`.
    staged: Vec<(usize, Option<Row>)>,
    staged_keys: Vec<u8>,
    /// Rows affected by the last apply/upsert, for `ReturnRows`.
    applied: Vec<Row>,
    /// Width of a `StageUpdate` image when it differs from the current row's width (the
    /// upsert body sees the existing row followed by the excluded row).
    width: Option<usize>,
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
fn held_by_changes(log_bytes: usize, undo: &amelie_storage::undo::UndoLog) -> usize {
    const PER_ROW: usize = 64;
    log_bytes * 2 + undo.old_bytes() + undo.len() * PER_ROW
}

impl BodyState<'_> {
    /// One more row or loop step: every [`CHECK_EVERY`] of them, fails if the request was
    /// cancelled, ran out of time, or its outputs outgrew the memory budget (with `extra`
    /// bytes kept elsewhere, such as the changes made so far).
    #[inline]
    fn tick(&mut self, extra: usize) -> Result<()> {
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
fn set_op(op: &Op, pc: usize, regs: &mut [Value], st: &mut BodyState) -> Result<Option<usize>> {
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
                .ok_or_else(|| Error::new("aggregate state out of range"))?;
            a.step(*kind, arg.map(|r| &regs[r as usize]))?;
            pc + 1
        }
        Op::SubAggFinal { slot, kind, dst } => {
            let a = st
                .sub_aggs
                .get(*slot as usize)
                .ok_or_else(|| Error::new("aggregate state out of range"))?;
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
                .ok_or_else(|| Error::new("stage_update: register range out of bounds"))?;
            amelie_storage::check_values(image)?;
            st.staged_keys.extend_from_slice(key);
            st.staged
                .push((st.staged_keys.len(), Some(Row::encode(image))));
        }
        other => return Err(Error::new(format!("unexpected op in scan body: {other}"))),
    }
    Ok(())
}

fn run_body(
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

/// The memcomparable primary-key encoding of `values` (for planned key ranges).
pub fn encode_key(values: &[Value], out: &mut Vec<u8>) {
    amelie_storage::encode_key(values, out);
}

fn bound(b: &Option<(Box<[u8]>, bool)>) -> Bound<&[u8]> {
    match b {
        Some((k, true)) => Bound::Included(&k[..]),
        Some((k, false)) => Bound::Excluded(&k[..]),
        None => Bound::Unbounded,
    }
}

/// The rows of an INSERT sent with a request.
#[derive(Clone, Copy, Debug)]
pub enum InsertRows<'a> {
    /// Back-to-back row encodings (`amelie_storage::encode_row_into`).
    Encoded(&'a [u8]),
    /// `INSERT ... GENERATE` made here: the rows whose key routes to the partition of these
    /// hash slots (`min .. max`).
    Generate(&'a Generate, (u32, u32)),
}

/// The rows of an INSERT, read one at a time: as sent with the request, generated here, or
/// as `GENERATE_ROWS` replaced them.
enum Input<'a> {
    Sent(RowReader<'a>),
    Made(GenRows<'a>),
    Replaced(std::vec::IntoIter<Row>),
}

impl Input<'_> {
    fn new<'a>(sent: InsertRows<'a>, replaced: &mut Option<Vec<Row>>) -> Input<'a> {
        match (replaced.take(), sent) {
            (Some(rows), _) => Input::Replaced(rows.into_iter()),
            (None, InsertRows::Encoded(bytes)) => Input::Sent(RowReader::new(bytes)),
            (None, InsertRows::Generate(g, slots)) => Input::Made(g.rows(slots)),
        }
    }
}

impl Iterator for Input<'_> {
    type Item = Result<Row>;

    fn next(&mut self) -> Option<Result<Row>> {
        match self {
            Input::Sent(r) => r.next(),
            Input::Made(r) => r.next(),
            Input::Replaced(r) => r.next().map(Ok),
        }
    }
}

/// The error of a duplicate in a unique index.
fn unique_violation(name: &str) -> Error {
    Error::new(format!("index '{name}': unique key constraint violation"))
}

/// An upsert's handling of a row whose primary key is present.
struct Upserting<'p> {
    program: &'p Program,
    stmt: usize,
    /// The DO UPDATE body.
    body: (usize, usize),
    mode: Conflict,
    /// Affected rows are kept for RETURNING.
    keep: bool,
    /// The partition's key columns.
    key_cols: &'p [usize],
}

impl Upserting<'_> {
    /// The new image of `existing` for the incoming `row` (None: keep it as it is), or the
    /// conflict error. `key` is the key of both.
    fn resolve(
        &self,
        existing: &Row,
        row: &Row,
        key: &[u8],
        regs: &mut [Value],
        st: &mut BodyState,
    ) -> Result<Option<Row>> {
        match self.mode {
            Conflict::Primary => Err(unique_violation("primary")),
            Conflict::Error => Err(Error::new("unique key constraint violation")),
            Conflict::Nothing => {
                if self.keep {
                    st.applied.push(existing.clone());
                }
                Ok(None)
            }
            Conflict::Update => {
                // the body sees the existing row followed by the new one
                st.width = Some(existing.columns());
                let pair = RowRef::Pair(existing, row);
                let res = run_body(self.program, self.stmt, self.body, regs, pair, key, st);
                st.width = None;
                st.staged_keys.clear();
                res?;
                let image = match st.staged.pop() {
                    Some((_, Some(new))) => new,
                    _ => {
                        st.staged.clear();
                        return Ok(None);
                    }
                };
                st.staged.clear();
                if !image.cmp_key(self.key_cols, key).is_eq() {
                    return Err(Error::new("primary key columns cannot be updated"));
                }
                Ok(Some(image))
            }
        }
    }
}

/// Runs node code of statement `stmt` from `entry` until `Ret`. `input` holds the rows of an
/// INSERT routed to this partition (back-to-back row encodings).
pub fn run_node(
    program: &Program,
    stmt: usize,
    entry: usize,
    input: InsertRows<'_>,
    ctx: NodeCtx<'_>,
) -> Result<NodeOutput> {
    let code = &program.node;
    let regs = ctx.regs;
    if regs.len() < program.node_regs as usize {
        regs.resize(program.node_regs as usize, Value::Null);
    }
    let naggs = program.stmts.get(stmt).map(|s| s.aggs.len()).unwrap_or(0);
    // every statement starts with a check: a transaction of many small statements is
    // bounded like one of a few large ones
    if let Some(g) = ctx.gov {
        g.check()?;
        if g.measures() {
            g.fit(
                held_by_changes(ctx.changes.as_bytes().len(), ctx.undo),
                ctx.held,
            )?;
        }
    }
    let mut st = BodyState {
        env: ctx.env,
        sets: ctx.sets,
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
        gov: ctx.gov,
        ticks: 0,
        out_bytes: 0,
        held: ctx.held,
    };
    // INSERT rows, decoded when an op first needs them (GENERATE_ROWS replaces them)
    let mut rows: Option<Vec<Row>> = None;
    let mut key = Vec::with_capacity(32);
    let mut pc = entry;
    loop {
        let op = &code[pc];
        match step(program, ctx.env, op, &mut regs[..], None)? {
            Flow::Next => {
                pc += 1;
                continue;
            }
            Flow::Jump(to) => {
                pc = to;
                continue;
            }
            Flow::NotExpr => {}
        }
        if crate::coord::query_expr(op, &mut regs[..])? {
            pc += 1;
            continue;
        }
        if let Some(next) = set_op(op, pc, &mut regs[..], &mut st)? {
            pc = next;
            continue;
        }
        match op {
            Op::Scan {
                key: point,
                key_len,
                end,
                ..
            } => {
                let body = (pc + 1, *end as usize);
                let part = &*ctx.partition;
                let mut err = None;
                match point {
                    Some(start) => {
                        let s = *start as usize;
                        key.clear();
                        amelie_storage::encode_key(&regs[s..s + *key_len as usize], &mut key);
                        if let Some(row) = part.get(&key) {
                            let row = RowRef::Stored(row);
                            run_body(program, stmt, body, &mut regs[..], row, &key, &mut st)?;
                        }
                    }
                    None => part.scan_range(Bound::Unbounded, Bound::Unbounded, |k, row| {
                        let row = RowRef::Stored(row);
                        let res = st.tick(0).and_then(|_| {
                            run_body(program, stmt, body, &mut regs[..], row, k, &mut st)
                        });
                        match res {
                            Ok(()) => true,
                            Err(e) => {
                                err = Some(e);
                                false
                            }
                        }
                    }),
                }
                if let Some(e) = err {
                    return Err(e);
                }
                pc = *end as usize;
            }
            Op::ScanRange { from, to, end, .. } => {
                let body = (pc + 1, *end as usize);
                let mut err = None;
                ctx.partition.scan_range(bound(from), bound(to), |k, row| {
                    let row = RowRef::Stored(row);
                    let res = st.tick(0).and_then(|_| {
                        run_body(program, stmt, body, &mut regs[..], row, k, &mut st)
                    });
                    match res {
                        Ok(()) => true,
                        Err(e) => {
                            err = Some(e);
                            false
                        }
                    }
                });
                if let Some(e) = err {
                    return Err(e);
                }
                pc = *end as usize;
            }
            Op::AggEmit { .. } => {
                let mut row = Vec::with_capacity(st.aggs.len() * 2);
                for a in &st.aggs {
                    a.to_values(&mut row);
                }
                st.rows.push(row.into_boxed_slice());
                pc += 1;
            }
            Op::ApplyStaged { .. } => {
                // (UPDATE cannot change indexed columns, so unique indexes need no check here)
                let part = &mut *ctx.partition;
                st.applied.clear();
                // affected rows are kept only for a RETURNING that follows
                let keep = matches!(code.get(pc + 1), Some(Op::ReturnRows { .. }));
                let keys = std::mem::take(&mut st.staged_keys);
                let mut from = 0;
                for (end, image) in std::mem::take(&mut st.staged) {
                    let k = &keys[from..end];
                    from = end;
                    match image {
                        Some(row) => {
                            part.row_key(&row, &mut key);
                            if key.as_slice() != k {
                                return Err(Error::new("primary key columns cannot be updated"));
                            }
                            if ctx.logged {
                                ctx.changes.put(part.id, &row);
                            }
                            if keep {
                                st.applied.push(row.clone());
                            }
                            part.put(k, row, Some(ctx.undo));
                        }
                        None => {
                            if keep {
                                if let Some(old) = part.get(k) {
                                    st.applied.push(old.clone());
                                }
                            }
                            part.remove(k, Some(ctx.undo));
                            if ctx.logged {
                                ctx.changes.remove(part.id, k);
                            }
                        }
                    }
                }
                st.staged_keys = keys;
                st.staged_keys.clear();
                pc += 1;
            }
            Op::InsertRows { .. } => {
                let part = &mut *ctx.partition;
                for row in Input::new(input, &mut rows) {
                    let row = row?;
                    st.tick(held_by_changes(ctx.changes.as_bytes().len(), ctx.undo))?;
                    part.row_key(&row, &mut key);
                    let mark = ctx.changes.mark();
                    if ctx.logged {
                        ctx.changes.put(part.id, &row);
                    }
                    if part.insert_new(&key, row, Some(ctx.undo)).is_err() {
                        ctx.changes.truncate(mark);
                        return Err(unique_violation("primary"));
                    }
                }
                pc += 1;
            }
            Op::Upsert {
                mode, end, unique, ..
            } => {
                let body = (pc + 1, *end as usize);
                st.applied.clear();
                let keep = matches!(code.get(*end as usize), Some(Op::ReturnRows { .. }));
                let key_cols = ctx.partition.key_cols().to_vec();
                let conflict = Upserting {
                    program,
                    stmt,
                    body,
                    mode: *mode,
                    keep,
                    key_cols: &key_cols,
                };
                for row in Input::new(input, &mut rows) {
                    let row = row?;
                    st.tick(held_by_changes(ctx.changes.as_bytes().len(), ctx.undo))?;
                    let part = &mut *ctx.partition;
                    part.row_key(&row, &mut key);
                    let (image, replacing) = if unique.is_empty() {
                        // one search of the index inserts a new key or updates a present one
                        let (pid, logged) = (part.id, ctx.logged);
                        let changes = &mut *ctx.changes;
                        let st = &mut st;
                        let regs = &mut regs[..];
                        part.upsert(&key, ctx.undo, |present| {
                            let image = match present {
                                None => Some(row),
                                Some(existing) => {
                                    conflict.resolve(existing, &row, &key, regs, st)?
                                }
                            };
                            if let Some(image) = &image {
                                if logged {
                                    changes.put(pid, image);
                                }
                                if keep {
                                    st.applied.push(image.clone());
                                }
                            }
                            Ok::<_, Error>(image)
                        })?;
                        continue;
                    } else {
                        match part.get(&key) {
                            None => (row, false),
                            Some(existing) => {
                                match conflict.resolve(
                                    existing,
                                    &row,
                                    &key,
                                    &mut regs[..],
                                    &mut st,
                                )? {
                                    Some(image) => (image, true),
                                    None => continue,
                                }
                            }
                        }
                    };
                    for (name, index) in unique {
                        let replacing_pk = replacing.then_some(key.as_slice());
                        if part.unique_conflict(*index as usize, &image, replacing_pk) {
                            return Err(unique_violation(name));
                        }
                    }
                    if ctx.logged {
                        ctx.changes.put(part.id, &image);
                    }
                    if keep {
                        st.applied.push(image.clone());
                    }
                    part.put(&key, image, Some(ctx.undo));
                }
                pc = *end as usize;
            }
            Op::GenerateRows { end } => {
                let body = (pc + 1, *end as usize);
                let mut out = Vec::new();
                for row in Input::new(input, &mut rows) {
                    let row = row?;
                    st.tick(held_by_changes(ctx.changes.as_bytes().len(), ctx.undo))?;
                    st.staged.clear();
                    st.staged_keys.clear();
                    let r = RowRef::Stored(&row);
                    run_body(program, stmt, body, &mut regs[..], r, &[], &mut st)?;
                    match st.staged.pop() {
                        Some((_, Some(image))) => out.push(image),
                        _ => out.push(row),
                    }
                }
                st.staged.clear();
                st.staged_keys.clear();
                rows = Some(out);
                pc = *end as usize;
            }
            Op::ReturnRows { end } => {
                let body = (pc + 1, *end as usize);
                for row in std::mem::take(&mut st.applied) {
                    let r = RowRef::Stored(&row);
                    run_body(program, stmt, body, &mut regs[..], r, &[], &mut st)?;
                }
                pc = *end as usize;
            }
            Op::NodeSort { keys } => {
                crate::coord::sort_rows(&mut st.rows, keys);
                pc += 1;
            }
            Op::NodeTop { limit, offset } => {
                let int = |r: Reg| match regs[r as usize] {
                    Value::Int(i) => Some(i.max(0) as usize),
                    _ => None,
                };
                let off = match offset {
                    Some(o) => int(*o),
                    None => Some(0),
                };
                if let (Some(lim), Some(off)) = (int(*limit), off) {
                    st.rows.truncate(lim.saturating_add(off));
                }
                pc += 1;
            }
            Op::NodeDistinct { n } => {
                crate::coord::distinct_rows(&mut st.rows, *n as usize);
                pc += 1;
            }
            Op::GroupPartial { keys, aggs } => {
                let rows = std::mem::take(&mut st.rows);
                st.rows = crate::agg::group_partial(rows, *keys as usize, aggs)?;
                pc += 1;
            }
            Op::Ret => break,
            other => {
                return Err(Error::new(format!(
                    "unexpected op in node section: {other}"
                )))
            }
        }
    }
    Ok(NodeOutput { rows: st.rows })
}

/// Replays one WAL change on its partition (recovery).
pub fn replay_change(part: &mut Partition, change: ChangeRef<'_>) -> Result<()> {
    match change {
        ChangeRef::Put { row, .. } => {
            let (row, _) = Row::from_encoded(row)?;
            let mut key = Vec::new();
            part.row_key(&row, &mut key);
            part.put(&key, row, None);
        }
        ChangeRef::Remove { key, .. } => {
            part.remove(key, None);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::BinOp;
    use amelie_common::IndexKind;

    fn row(a: i64, b: i64) -> Row {
        Row::encode(&[Value::Int(a), Value::Int(b)])
    }

    fn batch(rows: Vec<Row>) -> Vec<u8> {
        let mut out = Vec::new();
        for r in rows {
            out.extend_from_slice(r.as_bytes());
        }
        out
    }

    fn run(p: &Program, part: &mut Partition, input: Vec<Row>) -> Result<Vec<Tuple>> {
        let mut undo = UndoLog::default();
        let mut changes = ChangeLog::default();
        let ctx = NodeCtx {
            partition: part,
            undo: &mut undo,
            changes: &mut changes,
            logged: true,
            sets: &[],
            env: Env::EMPTY,
            gov: None,
            held: &mut 0,
            regs: &mut Vec::new(),
        };
        Ok(run_node(p, 0, 0, InsertRows::Encoded(&batch(input)), ctx)?.rows)
    }

    /// `insert .. on conflict do update set v = v + excluded.v returning *`
    fn upsert(mode: Conflict, unique: Vec<(String, u16)>) -> Program {
        Program {
            node: vec![
                Op::Upsert {
                    table: 0,
                    mode,
                    end: 7,
                    unique,
                },
                Op::Column { dst: 0, col: 1 },
                Op::Column { dst: 1, col: 3 },
                Op::Binary {
                    op: BinOp::Add,
                    dst: 4,
                    a: 0,
                    b: 1,
                },
                Op::Column { dst: 3, col: 0 },
                Op::Move { dst: 4, src: 4 },
                Op::StageUpdate { start: 3 },
                Op::ReturnRows { end: 9 },
                Op::Emit { start: 3, n: 0 },
                Op::Ret,
            ],
            node_regs: 8,
            ..Program::default()
        }
    }

    #[test]
    fn upsert_modes_and_returning() {
        let mut part = Partition::new(1, 1, IndexKind::Tree, &[0]);
        let p = upsert(Conflict::Update, Vec::new());
        run(&p, &mut part, vec![row(1, 10), row(2, 5), row(1, 1)]).unwrap();
        assert_eq!(
            part.get(&{
                let mut k = Vec::new();
                encode_key(&[Value::Int(1)], &mut k);
                k
            }),
            Some(&row(1, 11))
        );
        let out = run(&p, &mut part, vec![row(2, 1)]).unwrap();
        assert_eq!(out.len(), 1);
        let e = run(
            &upsert(Conflict::Primary, Vec::new()),
            &mut part,
            vec![row(2, 0)],
        );
        assert_eq!(
            e.unwrap_err().to_string(),
            "index 'primary': unique key constraint violation"
        );
        let e = run(
            &upsert(Conflict::Error, Vec::new()),
            &mut part,
            vec![row(2, 0)],
        );
        assert_eq!(
            e.unwrap_err().to_string(),
            "unique key constraint violation"
        );
        let out = run(
            &upsert(Conflict::Nothing, Vec::new()),
            &mut part,
            vec![row(2, 0)],
        );
        assert_eq!(out.unwrap().len(), 1);
        part.create_secondary(&[1], true);
        let uniq = vec![("i".to_string(), 0u16)];
        let e = run(
            &upsert(Conflict::Primary, uniq.clone()),
            &mut part,
            vec![row(3, 6)],
        );
        assert_eq!(
            e.unwrap_err().to_string(),
            "index 'i': unique key constraint violation"
        );
        assert!(run(&upsert(Conflict::Primary, uniq), &mut part, vec![row(3, 7)]).is_ok());
    }

    #[test]
    fn generate_rows_replaces_each_input_row() {
        // b = a + a, then insert
        let p = Program {
            node: vec![
                Op::GenerateRows { end: 5 },
                Op::Column { dst: 0, col: 0 },
                Op::Binary {
                    op: BinOp::Add,
                    dst: 3,
                    a: 0,
                    b: 0,
                },
                Op::Column { dst: 2, col: 0 },
                Op::StageUpdate { start: 2 },
                Op::Upsert {
                    table: 0,
                    mode: Conflict::Primary,
                    end: 6,
                    unique: Vec::new(),
                },
                Op::Ret,
            ],
            node_regs: 4,
            ..Program::default()
        };
        let mut part = Partition::new(1, 1, IndexKind::Tree, &[0]);
        run(&p, &mut part, vec![row(1, 0), row(2, 0)]).unwrap();
        let mut k = Vec::new();
        encode_key(&[Value::Int(2)], &mut k);
        assert_eq!(part.get(&k), Some(&row(2, 4)));
    }

    /// For each partition row `a`: the rows of shipped set 0 whose column 0 equals `a`
    /// (`set_probe`), emitted as `[set.col1, a]`.
    fn probe_program() -> Program {
        Program {
            node: vec![
                Op::Scan {
                    table: 0,
                    key: None,
                    key_len: 0,
                    end: 7,
                },
                Op::Column { dst: 0, col: 0 },
                Op::SetProbe {
                    stmt: 0,
                    col: 0,
                    key: 0,
                    end: 7,
                },
                Op::OuterColumn {
                    dst: 1,
                    depth: 0,
                    col: 1,
                },
                Op::Column { dst: 2, col: 0 },
                Op::Emit { start: 1, n: 2 },
                Op::SetNext { body: 3 },
                Op::Ret,
            ],
            node_regs: 3,
            ..Program::default()
        }
    }

    fn run_with_set(p: &Program, part: &mut Partition, set: Vec<Tuple>) -> Vec<Tuple> {
        let mut undo = UndoLog::default();
        let mut changes = ChangeLog::default();
        let sets = vec![(0u16, Arc::new(set))];
        let ctx = NodeCtx {
            partition: part,
            undo: &mut undo,
            changes: &mut changes,
            logged: true,
            sets: &sets,
            env: Env::EMPTY,
            gov: None,
            held: &mut 0,
            regs: &mut Vec::new(),
        };
        run_node(p, 0, 0, InsertRows::Encoded(&[]), ctx)
            .unwrap()
            .rows
    }

    #[test]
    fn set_probe_visits_matching_rows_in_set_order() {
        let mut part = Partition::new(1, 1, IndexKind::Tree, &[0]);
        for i in 1..=3 {
            let mut k = Vec::new();
            encode_key(&[Value::Int(i)], &mut k);
            part.put(&k, Row::encode(&[Value::Int(i)]), None);
        }
        let r = |a: Value, b: &str| vec![a, Value::str(b)].into_boxed_slice();
        let set = vec![
            r(Value::Int(1), "x"),
            r(Value::Null, "n"),
            r(Value::Int(2), "z"),
            r(Value::Int(1), "y"),
        ];
        let out = run_with_set(&probe_program(), &mut part, set);
        let got: Vec<(Value, Value)> = out.iter().map(|r| (r[0].clone(), r[1].clone())).collect();
        assert_eq!(
            got,
            vec![
                (Value::str("x"), Value::Int(1)),
                (Value::str("y"), Value::Int(1)),
                (Value::str("z"), Value::Int(2)),
            ]
        );
        // a column of mixed types cannot be hashed: every row is visited (the filter, absent
        // here, would decide)
        let mixed = vec![r(Value::Int(1), "x"), r(Value::str("1"), "s")];
        assert_eq!(run_with_set(&probe_program(), &mut part, mixed).len(), 6);
        // an empty set or an all-NULL column: nothing
        assert!(run_with_set(&probe_program(), &mut part, Vec::new()).is_empty());
        let nulls = vec![r(Value::Null, "n")];
        assert!(run_with_set(&probe_program(), &mut part, nulls).is_empty());
    }

    #[test]
    fn range_scan_visits_only_the_range() {
        let mut part = Partition::new(1, 1, IndexKind::Tree, &[0]);
        for i in 0..10 {
            let mut k = Vec::new();
            encode_key(&[Value::Int(i)], &mut k);
            part.put(&k, row(i, i), None);
        }
        let key = |i: i64| {
            let mut k = Vec::new();
            encode_key(&[Value::Int(i)], &mut k);
            k.into_boxed_slice()
        };
        let p = Program {
            node: vec![
                Op::ScanRange {
                    table: 0,
                    from: Some((key(3), false)),
                    to: Some((key(6), true)),
                    end: 3,
                },
                Op::Column { dst: 0, col: 0 },
                Op::Emit { start: 0, n: 1 },
                Op::Ret,
            ],
            node_regs: 2,
            ..Program::default()
        };
        let out = run(&p, &mut part, Vec::new()).unwrap();
        let ids: Vec<Value> = out.iter().map(|r| r[0].clone()).collect();
        assert_eq!(ids, vec![Value::Int(4), Value::Int(5), Value::Int(6)]);
        // inverted and empty ranges visit nothing (and must not panic)
        for (from, to) in [
            ((6, true), (3, true)),
            ((3, false), (3, true)),
            ((3, false), (3, false)),
        ] {
            let mut p = p.clone();
            p.node[0] = Op::ScanRange {
                table: 0,
                from: Some((key(from.0), from.1)),
                to: Some((key(to.0), to.1)),
                end: 3,
            };
            assert!(run(&p, &mut part, Vec::new()).unwrap().is_empty());
        }
    }
}
