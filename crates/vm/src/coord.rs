//! The coordinator section: a resumable state machine run by the frontend. It yields a
//! [`Dispatch`] whenever node work is needed and is resumed with the node outputs (in
//! partition order).

use crate::agg::AggState;
use crate::exec::{step, Flow};
use crate::node_exec::NodeOutput;
use crate::op::{Merge, Op};
use crate::program::Program;
use amelie_common::{Error, Result, Value};
use amelie_storage::Row;

/// Node work requested by the coordinator: run node code at `entry` for statement `stmt`
/// over table `table` (index into `Program::tables`) on the partitions of `target`
/// (index into `Program::targets`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dispatch {
    pub stmt: usize,
    pub table: usize,
    pub entry: usize,
    pub target: usize,
}

#[derive(Debug)]
pub enum Step {
    Dispatch(Dispatch),
    Done,
}

pub struct Coordinator<'p> {
    program: &'p Program,
    pc: usize,
    regs: Vec<Value>,
    sets: Vec<Vec<Row>>,
    aggs: Vec<Vec<AggState>>,
    pending: Option<Vec<NodeOutput>>,
    result: Option<usize>,
}

impl<'p> Coordinator<'p> {
    pub fn new(program: &'p Program) -> Self {
        let n = program.stmts.len();
        Coordinator {
            program,
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
        }
    }

    /// Runs until the next dispatch or the end. `outputs` answers the previous dispatch.
    pub fn resume(&mut self, outputs: Option<Vec<NodeOutput>>) -> Result<Step> {
        if outputs.is_some() {
            self.pending = outputs;
        }
        let program = self.program;
        let code = &program.coordinator;
        loop {
            let op = &code[self.pc];
            match step(program, op, &mut self.regs, None)? {
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
            self.pc += 1;
            match op {
                Op::Send {
                    stmt,
                    table,
                    entry,
                    target,
                } => {
                    return Ok(Step::Dispatch(Dispatch {
                        stmt: *stmt as usize,
                        table: *table as usize,
                        entry: *entry as usize,
                        target: *target as usize,
                    }))
                }
                Op::Recv { stmt, merge } => {
                    let outputs = self.pending.take().unwrap_or_default();
                    let s = *stmt as usize;
                    match merge {
                        Merge::Union => {
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
                    self.sets[*stmt as usize].push(row);
                }
                Op::Sort { stmt, keys } => {
                    self.sets[*stmt as usize].sort_by(|a, b| {
                        for (col, asc) in keys {
                            let o = a[*col as usize].total_cmp(&b[*col as usize]);
                            let o = if *asc { o } else { o.reverse() };
                            if o.is_ne() {
                                return o;
                            }
                        }
                        std::cmp::Ordering::Equal
                    });
                }
                Op::Limit {
                    stmt,
                    limit,
                    offset,
                } => {
                    let set = &mut self.sets[*stmt as usize];
                    let int = |r: Option<u16>, what: &str| -> Result<Option<usize>> {
                        match r.map(|r| &self.regs[r as usize]) {
                            None | Some(Value::Null) => Ok(None),
                            Some(Value::Int(i)) => Ok(Some((*i).max(0) as usize)),
                            Some(_) => Err(Error::new(format!("{what}: integer type expected"))),
                        }
                    };
                    let offset = int(*offset, "OFFSET")?;
                    let limit = int(*limit, "LIMIT")?;
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
                    return Err(Error::new(format!(
                        "unexpected op in coordinator section: {other}"
                    )))
                }
            }
        }
    }

    /// Whether the outputs of the dispatch just yielded are discarded by the coordinator
    /// (DML without RETURNING): then the caller need not wait for them before resuming, only
    /// for their errors before the transaction completes.
    pub fn discards_next(&self) -> bool {
        match self.program.coordinator.get(self.pc) {
            Some(Op::Recv { merge: Merge::Discard, .. }) => true,
            Some(Op::Recv { stmt, merge: Merge::Union }) => !self.set_is_used(*stmt, self.pc + 1),
            _ => false,
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
            | Op::Send { .. }
            | Op::Recv { .. }
            | Op::End => false,
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
            | Op::CastColumn { .. } => false,
            _ => true,
        })
    }

    /// The last statement's result: its index and rows (None: no content).
    pub fn take_result(&mut self) -> Option<(usize, Vec<Row>)> {
        let s = self.result?;
        Some((s, std::mem::take(&mut self.sets[s])))
    }
}
