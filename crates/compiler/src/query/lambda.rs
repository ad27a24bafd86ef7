//! Lambda aggregates (`seed -> step`, `self` the running state) over a shared table: the rows
//! are fetched to the coordinator and folded in order, in one state per lambda ([`select`]) or
//! per group, the rows sorted by the group key ([`grouped`]).

use super::emit::{
    add_row, binary, close_loop, finish_set, new_stmt, not, open_loop, patch_here, patch_outer,
};
use super::plan::{
    check_no_aggs, expand_items, group_keys, lambdas, order_keys, pseudo_column, Cx, Query, OUTER,
};
use super::scan::fetch;
use super::subquery::prepare;
use crate::builder::{Builder, Sec};
use crate::expr::{expr, Scope};
use amelie_common::{Error, Result};
use amelie_parser::{Expr, Select};
use amelie_vm::{Op, Reg};

/// Lambda aggregates over a shared table: rows are fetched to the coordinator and folded in
/// order; `self` reads the running state.
pub(super) fn select(b: &mut Builder, cx: &Cx, q: &Query) -> Result<u16> {
    let (s, table, alias, corr) = (q.select, q.table, q.alias, q.corr);
    let scope = Scope {
        table: Some(table),
        alias,
        aggs: None,
    };
    let items = expand_items(s, Some(table), alias)?;
    check_no_aggs(&items)?;
    let item_exprs: Vec<&Expr> = items.iter().map(|(e, _)| e).collect();
    let lambdas = lambdas(&item_exprs);
    prepare(b, cx, &item_exprs, &Scope::default())?;
    let k = lambdas.len() as u16;
    let state = b.regs(Sec::Coordinator, k.max(1));
    // seeds see no columns, except the outer row of a correlated subquery (the current row
    // before the loop starts)
    let seed_scope = Scope {
        table: corr,
        alias,
        aggs: None,
    };
    for (i, l) in lambdas.iter().enumerate() {
        let Expr::Lambda { seed, .. } = l else {
            continue;
        };
        let from = b.pc(Sec::Coordinator);
        let v = expr(b, Sec::Coordinator, seed, &seed_scope)?;
        let n = table.columns.len() as u16;
        for op in &mut b.code(Sec::Coordinator)[from..] {
            match *op {
                Op::Column { dst, col } if col >= n => *op = Op::Column { dst, col: col - n },
                Op::Column { .. } => {
                    return Err(Error::unsupported("lambda seed cannot read columns"));
                }
                _ => {}
            }
        }
        b.emit(
            Sec::Coordinator,
            Op::Move {
                dst: state + i as Reg,
                src: v,
            },
        );
    }
    let all: Vec<Expr> = table
        .columns
        .iter()
        .map(|c| Expr::Name(vec![c.name.clone()]))
        .collect();
    let pushed = if corr.is_some() {
        None
    } else {
        s.filter.as_ref()
    };
    let src = fetch(b, table, &scope, pushed, &all)?;
    // `self` resolves as an extra column, then its reads are redirected to the state register
    let mut with_self = corr.unwrap_or(table).clone();
    with_self.columns.push(pseudo_column("self"));
    let self_col = with_self.columns.len() as u16 - 1;
    let lscope = Scope {
        table: Some(&with_self),
        alias,
        aggs: None,
    };
    let (at, body) = open_loop(b, src);
    let body_from = b.pc(Sec::Coordinator);
    if let (Some(f), Some(_)) = (&s.filter, corr) {
        let cond = expr(b, Sec::Coordinator, f, &lscope)?;
        b.emit(Sec::Coordinator, Op::JumpIfNot { cond, to: u32::MAX });
    }
    for (i, l) in lambdas.iter().enumerate() {
        let Expr::Lambda { expr: step, .. } = l else {
            continue;
        };
        let from = b.pc(Sec::Coordinator);
        let v = expr(b, Sec::Coordinator, step, &lscope)?;
        let st = state + i as Reg;
        for op in &mut b.code(Sec::Coordinator)[from..] {
            if let Op::Column { dst, col } = *op {
                if col == self_col {
                    *op = Op::Move { dst, src: st };
                }
            }
        }
        b.emit(Sec::Coordinator, Op::Move { dst: st, src: v });
    }
    if corr.is_some() {
        patch_outer(b, body_from, table.columns.len() as u16);
    }
    close_loop(b, at, body);
    let stmt = new_stmt(b, s, &items);
    let cscope = Scope {
        table: None,
        alias: None,
        aggs: Some((&lambdas, state)),
    };
    add_row(b, stmt, &item_exprs, &cscope)?;
    let n = items.len() as u16;
    finish_set(b, s, stmt, n, Vec::new(), n)?;
    Ok(stmt)
}

/// GROUP BY with lambda aggregates (shared tables): rows clustered by the group key (groups
/// in first-appearance order, the order of a single source) are folded in order, one state
/// per lambda, reset at every key change.
pub(super) fn grouped(b: &mut Builder, q: &Query) -> Result<u16> {
    let (s, table, alias) = (q.select, q.table, q.alias);
    use amelie_vm::BinOp;
    let scope = Scope {
        table: Some(table),
        alias,
        aggs: None,
    };
    let items = expand_items(s, Some(table), alias)?;
    check_no_aggs(&items)?;
    let keys = group_keys(s, &items, table)?;
    let (order_cols, extra) = order_keys(s, &items, Some(table))?;
    let mut all: Vec<&Expr> = items.iter().map(|(e, _)| e).chain(extra.iter()).collect();
    all.extend(s.having.iter());
    let lambdas = lambdas(&all);
    let nk = keys.len() as u16;
    let mut inputs = keys.clone();
    inputs.extend(
        table
            .columns
            .iter()
            .map(|c| Expr::Name(vec![c.name.clone()])),
    );
    let src = fetch(b, table, &scope, s.filter.as_ref(), &inputs)?;
    b.emit(
        Sec::Coordinator,
        Op::Cluster {
            stmt: src,
            keys: nk,
        },
    );
    let k = lambdas.len() as u16;
    let blk = b.regs(Sec::Coordinator, nk + k.max(1));
    let first = b.load_const(Sec::Coordinator, amelie_common::Value::Bool(true));
    let stmt = new_stmt(b, s, &items);
    let mut mapped = keys.clone();
    mapped.extend(lambdas.iter().cloned());
    let cscope = Scope {
        table: None,
        alias: None,
        aggs: Some((&mapped, blk)),
    };
    let exprs: Vec<&Expr> = items.iter().map(|(e, _)| e).chain(extra.iter()).collect();
    let (at, body) = open_loop(b, src);
    // key change?
    let mut same = b.load_const(Sec::Coordinator, amelie_common::Value::Bool(true));
    let kregs = b.regs(Sec::Coordinator, nk.max(1));
    for i in 0..nk {
        b.emit(
            Sec::Coordinator,
            Op::Column {
                dst: kregs + i,
                col: i,
            },
        );
        let eq = binary(b, BinOp::Eq, kregs + i, blk + i);
        let n1 = b.regs(Sec::Coordinator, 1);
        b.emit(
            Sec::Coordinator,
            Op::IsNull {
                dst: n1,
                a: kregs + i,
                negated: false,
            },
        );
        let n2 = b.regs(Sec::Coordinator, 1);
        b.emit(
            Sec::Coordinator,
            Op::IsNull {
                dst: n2,
                a: blk + i,
                negated: false,
            },
        );
        let both = binary(b, BinOp::And, n1, n2);
        let si = binary(b, BinOp::Or, eq, both);
        same = binary(b, BinOp::And, same, si);
    }
    let changed = not(b, same);
    let new_group = binary(b, BinOp::Or, first, changed);
    let to_step = b.emit(
        Sec::Coordinator,
        Op::JumpIfNot {
            cond: new_group,
            to: 0,
        },
    );
    let not_first = not(b, first);
    let no_flush = b.emit(
        Sec::Coordinator,
        Op::JumpIfNot {
            cond: not_first,
            to: 0,
        },
    );
    flush_group(b, s, stmt, &exprs, &cscope)?;
    patch_here(b, no_flush);
    for i in 0..nk {
        b.emit(
            Sec::Coordinator,
            Op::Move {
                dst: blk + i,
                src: kregs + i,
            },
        );
    }
    for (j, l) in lambdas.iter().enumerate() {
        let Expr::Lambda { seed, .. } = l else {
            continue;
        };
        let v = expr(b, Sec::Coordinator, seed, &Scope::default())?;
        b.emit(
            Sec::Coordinator,
            Op::Move {
                dst: blk + nk + j as Reg,
                src: v,
            },
        );
    }
    let f = b.load_const(Sec::Coordinator, amelie_common::Value::Bool(false));
    b.emit(Sec::Coordinator, Op::Move { dst: first, src: f });
    patch_here(b, to_step);
    // fold: rows are key values ++ table columns; `self` is an extra pseudo column
    let mut t = table.clone();
    let mut cols: Vec<amelie_catalog::Column> = (0..nk)
        .map(|i| pseudo_column(format!("{OUTER}key{i}")))
        .collect();
    cols.append(&mut t.columns);
    let self_col = cols.len() as u16;
    cols.push(pseudo_column("self"));
    t.columns = cols;
    let lscope = Scope {
        table: Some(&t),
        alias,
        aggs: None,
    };
    for (j, l) in lambdas.iter().enumerate() {
        let Expr::Lambda { expr: step, .. } = l else {
            continue;
        };
        let from = b.pc(Sec::Coordinator);
        let v = expr(b, Sec::Coordinator, step, &lscope)?;
        let st = blk + nk + j as Reg;
        for op in &mut b.code(Sec::Coordinator)[from..] {
            if let Op::Column { dst, col } = *op {
                if col == self_col {
                    *op = Op::Move { dst, src: st };
                }
            }
        }
        b.emit(Sec::Coordinator, Op::Move { dst: st, src: v });
    }
    close_loop(b, at, body);
    // the last group
    let not_first = not(b, first);
    let done = b.emit(
        Sec::Coordinator,
        Op::JumpIfNot {
            cond: not_first,
            to: 0,
        },
    );
    flush_group(b, s, stmt, &exprs, &cscope)?;
    patch_here(b, done);
    let n = items.len() as u16;
    finish_set(b, s, stmt, n, order_cols, exprs.len() as u16)?;
    Ok(stmt)
}

/// Adds the output row of the current group (HAVING checked) to `stmt`.
fn flush_group(
    b: &mut Builder,
    s: &Select,
    stmt: u16,
    exprs: &[&Expr],
    scope: &Scope,
) -> Result<()> {
    let skip = match &s.having {
        Some(h) => {
            let cond = expr(b, Sec::Coordinator, h, scope)?;
            Some(b.emit(Sec::Coordinator, Op::JumpIfNot { cond, to: 0 }))
        }
        None => None,
    };
    add_row(b, stmt, exprs, scope)?;
    if let Some(j) = skip {
        patch_here(b, j);
    }
    Ok(())
}
