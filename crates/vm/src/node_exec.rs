//! Running a node section on one partition.

use crate::agg::AggState;
use crate::exec::{step, Flow};
use crate::op::{Conflict, Op, Reg};
use crate::program::Program;
use amelie_common::{Error, Result, Value};
use amelie_storage::{Partition, Row, UndoLog};
use serde::{Deserialize, Serialize};
use std::ops::Bound;

/// A row change, as written to the WAL and replayed at recovery.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Change {
    Put { partition: u64, row: Row },
    Remove { partition: u64, key: Box<[u8]> },
}

/// What a node needs to run one request: its partition of the statement's table, the
/// transaction's undo log and the WAL change list.
pub struct NodeCtx<'a> {
    pub partition: &'a mut Partition,
    pub undo: &'a mut UndoLog,
    pub changes: &'a mut Vec<Change>,
    /// False for unlogged tables: changes are not collected for the WAL.
    pub logged: bool,
}

/// Rows produced by a node request (result rows or one partial aggregate row).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct NodeOutput {
    pub rows: Vec<Row>,
}

struct BodyState {
    rows: Vec<Row>,
    aggs: Vec<AggState>,
    staged: Vec<(Box<[u8]>, Option<Row>)>,
    /// Rows affected by the last apply/upsert, for `ReturnRows`.
    applied: Vec<Row>,
    /// Width of a `StageUpdate` image when it differs from the current row's width (the
    /// upsert body sees the existing row followed by the excluded row).
    width: Option<usize>,
}

fn body_op(
    program: &Program,
    stmt: usize,
    op: &Op,
    regs: &[Value],
    row: &[Value],
    key: &[u8],
    st: &mut BodyState,
) -> Result<()> {
    match op {
        Op::Emit { start, n } => {
            let s = *start as usize;
            st.rows
                .push(regs[s..s + *n as usize].to_vec().into_boxed_slice());
        }
        Op::AggStep { agg, arg } => {
            let kind = program.stmts[stmt].aggs[*agg as usize];
            st.aggs[*agg as usize].step(kind, arg.map(|r| &regs[r as usize]))?;
        }
        Op::StageDelete => st.staged.push((key.into(), None)),
        Op::StageUpdate { start } => {
            let s = *start as usize;
            let n = st.width.unwrap_or(row.len());
            let image = regs
                .get(s..s + n)
                .ok_or_else(|| Error::new("stage_update: register range out of bounds"))?;
            st.staged
                .push((key.into(), Some(image.to_vec().into_boxed_slice())));
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
    row: &[Value],
    key: &[u8],
    st: &mut BodyState,
) -> Result<()> {
    let code = &program.node;
    let (mut pc, end) = range;
    while pc < end {
        let op = &code[pc];
        match step(program, op, regs, Some(row))? {
            Flow::Next => pc += 1,
            Flow::Jump(to) => pc = to,
            Flow::NotExpr if crate::coord::query_expr(op, regs)? => pc += 1,
            Flow::NotExpr => {
                body_op(program, stmt, op, regs, row, key, st)?;
                pc += 1;
            }
        }
    }
    Ok(())
}

fn key_of(regs: &[Value], start: Reg, n: u16) -> Vec<u8> {
    let mut key = Vec::with_capacity(16);
    let s = start as usize;
    amelie_storage::encode_key(&regs[s..s + n as usize], &mut key);
    key
}

/// Runs node code of statement `stmt` from `entry` until `Ret`. `input` holds the rows of an
/// INSERT routed to this partition.
pub fn run_node(
    program: &Program,
    stmt: usize,
    entry: usize,
    input: Vec<Row>,
    ctx: NodeCtx<'_>,
) -> Result<NodeOutput> {
    let code = &program.node;
    let mut regs = vec![Value::Null; program.node_regs as usize];
    let naggs = program.stmts.get(stmt).map(|s| s.aggs.len()).unwrap_or(0);
    let mut st = BodyState {
        rows: Vec::new(),
        aggs: vec![AggState::default(); naggs],
        staged: Vec::new(),
        applied: Vec::new(),
        width: None,
    };
    let mut input = Some(input);
    let mut pc = entry;
    loop {
        let op = &code[pc];
        match step(program, op, &mut regs, None)? {
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
        match op {
            Op::Scan {
                key, key_len, end, ..
            } => {
                let body = (pc + 1, *end as usize);
                let part = &*ctx.partition;
                let mut err = None;
                match key {
                    Some(start) => {
                        let k = key_of(&regs, *start, *key_len);
                        if let Some(row) = part.get(&k) {
                            run_body(program, stmt, body, &mut regs, row, &k, &mut st)?;
                        }
                    }
                    None => {
                        part.scan_range(
                            Bound::Unbounded,
                            Bound::Unbounded,
                            |k, row| match run_body(program, stmt, body, &mut regs, row, k, &mut st)
                            {
                                Ok(()) => true,
                                Err(e) => {
                                    err = Some(e);
                                    false
                                }
                            },
                        )
                    }
                }
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
                let part = &mut *ctx.partition;
                st.applied.clear();
                for (key, image) in std::mem::take(&mut st.staged) {
                    match image {
                        Some(row) => {
                            let mut new_key = Vec::new();
                            part.row_key(&row, &mut new_key);
                            if new_key.as_slice() != &*key {
                                return Err(Error::new("primary key columns cannot be updated"));
                            }
                            if ctx.logged {
                                ctx.changes.push(Change::Put {
                                    partition: part.id,
                                    row: row.clone(),
                                });
                            }
                            st.applied.push(row.clone());
                            part.put(&key, row, Some(ctx.undo));
                        }
                        None => {
                            if let Some(old) = part.get(&key) {
                                st.applied.push(old.clone());
                            }
                            part.remove(&key, Some(ctx.undo));
                            if ctx.logged {
                                ctx.changes.push(Change::Remove {
                                    partition: part.id,
                                    key,
                                });
                            }
                        }
                    }
                }
                pc += 1;
            }
            Op::InsertRows { .. } => {
                let part = &mut *ctx.partition;
                let mut key = Vec::with_capacity(16);
                for row in input.take().unwrap_or_default() {
                    part.row_key(&row, &mut key);
                    if part.get(&key).is_some() {
                        return Err(Error::new(
                            "index 'primary': unique key constraint violation",
                        ));
                    }
                    if ctx.logged {
                        ctx.changes.push(Change::Put {
                            partition: part.id,
                            row: row.clone(),
                        });
                    }
                    part.put(&key, row, Some(ctx.undo));
                }
                pc += 1;
            }
            Op::Upsert { mode, end, .. } => {
                let body = (pc + 1, *end as usize);
                st.applied.clear();
                let mut key = Vec::with_capacity(16);
                for row in input.take().unwrap_or_default() {
                    ctx.partition.row_key(&row, &mut key);
                    let image = match ctx.partition.get(&key) {
                        None => row,
                        Some(existing) => match mode {
                            Conflict::Primary => {
                                return Err(Error::new(
                                    "index 'primary': unique key constraint violation",
                                ))
                            }
                            Conflict::Error => {
                                return Err(Error::new("unique key constraint violation"))
                            }
                            Conflict::Nothing => {
                                st.applied.push(existing.clone());
                                continue;
                            }
                            Conflict::Update => {
                                let width = existing.len();
                                let mut both = Vec::with_capacity(width * 2);
                                both.extend_from_slice(existing);
                                both.extend_from_slice(&row);
                                st.width = Some(width);
                                let res =
                                    run_body(program, stmt, body, &mut regs, &both, &key, &mut st);
                                st.width = None;
                                res?;
                                match st.staged.pop() {
                                    Some((_, Some(new))) => {
                                        let mut new_key = Vec::new();
                                        ctx.partition.row_key(&new, &mut new_key);
                                        if new_key != key {
                                            return Err(Error::new(
                                                "primary key columns cannot be updated",
                                            ));
                                        }
                                        new
                                    }
                                    _ => {
                                        st.staged.clear();
                                        continue;
                                    }
                                }
                            }
                        },
                    };
                    if ctx.logged {
                        ctx.changes.push(Change::Put {
                            partition: ctx.partition.id,
                            row: image.clone(),
                        });
                    }
                    st.applied.push(image.clone());
                    ctx.partition.put(&key, image, Some(ctx.undo));
                }
                pc = *end as usize;
            }
            Op::ReturnRows { end } => {
                let body = (pc + 1, *end as usize);
                for row in std::mem::take(&mut st.applied) {
                    run_body(program, stmt, body, &mut regs, &row, &[], &mut st)?;
                }
                pc = *end as usize;
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
pub fn replay_change(part: &mut Partition, change: Change) {
    match change {
        Change::Put { row, .. } => {
            let mut key = Vec::new();
            part.row_key(&row, &mut key);
            part.put(&key, row, None);
        }
        Change::Remove { key, .. } => {
            part.remove(&key, None);
        }
    }
}
