//! Running a node section on one partition.

mod body;
mod insert;
#[cfg(test)]
mod tests;

pub use insert::InsertRows;

use body::{held_by_changes, run_body, set_op, BodyState};
use insert::{unique_violation, Input, Upserting};

use crate::changes::{ChangeLog, ChangeRef};
use crate::exec::{step, Flow, RowRef};
use crate::op::{Op, Reg};
use crate::program::{Env, Program};
use crate::Tuple;
use amelie_common::governor::Governor;
use amelie_common::{Error, Result, Value};
use amelie_storage::{Partition, Row, UndoLog};
use serde::{Deserialize, Serialize};
use std::ops::Bound;
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
    /// Whether this partition's output comes first in the coordinator's merge (the first
    /// partition of a dispatch to every partition, or the only one): its groups are handed
    /// over in first-appearance order, those of the others in Amelie's slot order
    /// (`Op::GroupPartial`).
    pub first: bool,
    /// Register file, reused from request to request. It must start out null for each
    /// batch of requests (the caller clears it); a statement's code writes a register before
    /// it reads it and statements use disjoint registers, so requests of one batch share it.
    pub regs: &'a mut Vec<Value>,
}

/// Rows produced by a node request (result rows or one partial aggregate row).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct NodeOutput {
    pub rows: Vec<Tuple>,
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
    let mut st = BodyState::new(ctx.env, ctx.sets, naggs, ctx.gov, ctx.held);
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
                                return Err(Error::constraint(
                                    "primary key columns cannot be updated",
                                ));
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
            Op::NodeDistinct { keys } => {
                crate::coord::distinct_rows(&mut st.rows, keys);
                pc += 1;
            }
            Op::GroupPartial { keys, aggs } => {
                let rows = std::mem::take(&mut st.rows);
                st.rows = crate::grouping::group_partial(rows, *keys as usize, aggs, ctx.first)?;
                pc += 1;
            }
            Op::Ret => break,
            other => {
                return Err(Error::internal(format!(
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
