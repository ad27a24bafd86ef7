//! Emission helpers shared by the query shapes: statement sets (a new result statement,
//! adding a row, DISTINCT/ORDER BY/LIMIT over a finished set), coordinator loops over a set,
//! and jump patching.

use crate::builder::{Builder, Sec};
use crate::expr::{expr, Scope};
use amelie_common::Result;
use amelie_parser::{Expr, Select};
use amelie_vm::{Op, Reg, StmtInfo};

pub(super) fn limit_regs(b: &mut Builder, s: &Select) -> Result<(Option<Reg>, Option<Reg>)> {
    let scope = Scope::default();
    let limit = s
        .limit
        .as_ref()
        .map(|e| expr(b, Sec::Coordinator, e, &scope))
        .transpose()?;
    let offset = s
        .offset
        .as_ref()
        .map(|e| expr(b, Sec::Coordinator, e, &scope))
        .transpose()?;
    Ok((limit, offset))
}

pub(super) fn new_stmt(b: &mut Builder, s: &Select, items: &[(Expr, String)]) -> u16 {
    let stmt = b.stmt(StmtInfo {
        columns: items.iter().map(|(_, n)| n.clone()).collect(),
        format: s.format.clone(),
        aggs: Vec::new(),
    });
    b.emit(Sec::Coordinator, Op::SetReset { stmt });
    stmt
}

/// Evaluates `exprs` into consecutive registers and adds them as a row of `stmt`.
pub(super) fn add_row(b: &mut Builder, stmt: u16, exprs: &[&Expr], scope: &Scope) -> Result<()> {
    let regs: Vec<Reg> = exprs
        .iter()
        .map(|e| expr(b, Sec::Coordinator, e, scope))
        .collect::<Result<_>>()?;
    let n = regs.len() as u16;
    let start = b.consecutive(Sec::Coordinator, &regs);
    b.emit(Sec::Coordinator, Op::SetAdd { stmt, start, n });
    Ok(())
}

/// ORDER BY or DISTINCT (a sort, see [`order_keys`](super::plan::order_keys)), hidden
/// column removal, OFFSET/LIMIT over the finished set. `order_cols` are the sort keys (for
/// DISTINCT without them, e.g. over one row: every output column).
pub(super) fn finish_set(
    b: &mut Builder,
    s: &Select,
    stmt: u16,
    n: u16,
    order_cols: Vec<(u16, bool)>,
    width: u16,
) -> Result<()> {
    let order_cols = if s.distinct && order_cols.is_empty() {
        (0..n).map(|i| (i, true)).collect()
    } else {
        order_cols
    };
    let distinct: Vec<u16> = order_cols.iter().map(|(c, _)| *c).collect();
    if !order_cols.is_empty() {
        b.emit(
            Sec::Coordinator,
            Op::Sort {
                stmt,
                keys: order_cols,
            },
        );
    }
    if s.distinct {
        b.emit(
            Sec::Coordinator,
            Op::Distinct {
                stmt,
                keys: distinct,
            },
        );
    }
    if width > n {
        b.emit(Sec::Coordinator, Op::Trim { stmt, n });
    }
    let (limit, offset) = limit_regs(b, s)?;
    if limit.is_some() || offset.is_some() {
        b.emit(
            Sec::Coordinator,
            Op::Limit {
                stmt,
                limit,
                offset,
            },
        );
    }
    Ok(())
}

/// Emits `SetLoop src`; returns its index (patched by [`close_loop`]) and the body start.
pub(super) fn open_loop(b: &mut Builder, src: u16) -> (usize, u32) {
    let at = b.emit(
        Sec::Coordinator,
        Op::SetLoop {
            stmt: src,
            end: u32::MAX,
        },
    );
    (at, b.pc(Sec::Coordinator) as u32)
}

/// Emits `SetNext` and patches the loop end and the body's pending `JumpIfNot`s (to `next`).
pub(super) fn close_loop(b: &mut Builder, at: usize, body: u32) {
    let next = b.pc(Sec::Coordinator) as u32;
    b.emit(Sec::Coordinator, Op::SetNext { body });
    let end = b.pc(Sec::Coordinator) as u32;
    for op in &mut b.code(Sec::Coordinator)[at..] {
        match op {
            Op::SetLoop { end: e, .. } if *e == u32::MAX => *e = end,
            Op::JumpIfNot { to, .. } if *to == u32::MAX => *to = next,
            _ => {}
        }
    }
}

/// Redirects reads of the pseudo outer columns (ordinal >= `n`) emitted since `from` to the
/// row of the enclosing loop.
pub(super) fn patch_outer(b: &mut Builder, from: usize, n: u16) {
    for op in &mut b.code(Sec::Coordinator)[from..] {
        if let Op::Column { dst, col } = *op {
            if col >= n {
                *op = Op::OuterColumn {
                    dst,
                    depth: 1,
                    col: col - n,
                };
            }
        }
    }
}

/// Patches the `JumpIfNot` / `Jump` at `at` to jump to the current coordinator position.
pub(super) fn patch_here(b: &mut Builder, at: usize) {
    let here = b.pc(Sec::Coordinator) as u32;
    match &mut b.code(Sec::Coordinator)[at] {
        Op::JumpIfNot { to, .. } | Op::Jump { to } => *to = here,
        _ => {}
    }
}

pub(super) fn not(b: &mut Builder, a: Reg) -> Reg {
    let dst = b.regs(Sec::Coordinator, 1);
    b.emit(
        Sec::Coordinator,
        Op::Unary {
            op: amelie_vm::UnOp::Not,
            dst,
            a,
        },
    );
    dst
}

pub(super) fn binary(b: &mut Builder, op: amelie_vm::BinOp, a: Reg, c: Reg) -> Reg {
    let dst = b.regs(Sec::Coordinator, 1);
    b.emit(Sec::Coordinator, Op::Binary { op, dst, a, b: c });
    dst
}
