//! Grouped queries (GROUP BY, HAVING, aggregates): the group keys and aggregate inputs of each
//! row are computed where the rows are (on the nodes, which fold them into partial groups,
//! or in a coordinator loop), and the coordinator merges the groups and evaluates HAVING and
//! the select list per group.

use super::emit::{add_row, close_loop, finish_set, new_stmt, open_loop, patch_outer};
use super::join::NodeJoin;
use super::plan::{expand_items, group_keys, order_keys, Cx, Query};
use super::scan::{fetch_all, fetch_with};
use super::subquery::{hoist, prepare_except};
use crate::builder::{Builder, Sec};
use crate::expr::{agg_kind, collect_aggs, expr, Scope};
use amelie_common::Result;
use amelie_parser::Expr;
use amelie_vm::{Op, StmtInfo};

/// Where the rows of a grouped query come from.
#[derive(Clone, Copy)]
pub(super) enum Input<'a> {
    /// A scan of the table on its nodes, grouped partially there.
    Nodes,
    /// Rows already in the coordinator (a statement set).
    Set(u16),
    /// Every row of the table, fetched to the coordinator first.
    Fetch,
    /// A join run on the nodes of its distributed table, grouped partially there.
    Join(&'a NodeJoin<'a>),
}

/// GROUP BY [HAVING]: nodes emit group keys and aggregate inputs per row, the coordinator
/// groups them and evaluates the items per group.
pub(super) fn select(b: &mut Builder, cx: &Cx, q: &Query, input: Input) -> Result<u16> {
    let (s, table, alias, corr) = (q.select, q.table, q.alias, q.corr);
    let scope = Scope {
        table: Some(table),
        alias,
        aggs: None,
    };
    // a correlated subquery also sees the outer row's pseudo columns
    let rscope = Scope {
        table: Some(corr.unwrap_or(table)),
        alias,
        aggs: None,
    };
    let items = expand_items(s, Some(table), alias)?;
    let keys = group_keys(s, &items, table)?;
    let (order_cols, extra) = order_keys(s, &items, Some(table))?;
    let mut aggs = Vec::new();
    for e in items.iter().map(|(e, _)| e).chain(extra.iter()) {
        collect_aggs(e, &mut aggs);
    }
    if let Some(h) = &s.having {
        collect_aggs(h, &mut aggs);
    }
    let agg_exprs: Vec<Expr> = aggs.iter().map(|e| (*e).clone()).collect();
    let mut kinds = Vec::new();
    let mut inputs = keys.clone();
    for a in &agg_exprs {
        let Expr::Aggregate { func, arg, .. } = a else {
            continue;
        };
        kinds.push(agg_kind(*func, arg.is_none()));
        inputs.push(arg.as_deref().cloned().unwrap_or(Expr::Null));
    }
    let partial = matches!(input, Input::Nodes | Input::Join(_));
    let post = Op::GroupPartial {
        keys: keys.len() as u16,
        aggs: kinds.clone(),
    };
    let src = match input {
        // nodes group their rows into partial states, the coordinator merges them by key
        Input::Nodes => fetch_with(b, table, &scope, s.filter.as_ref(), &inputs, Some(post))?,
        Input::Join(join) => {
            let src = b.stmt(StmtInfo::default());
            b.emit(Sec::Coordinator, Op::SetReset { stmt: src });
            let refs: Vec<&Expr> = inputs.iter().collect();
            join.emit(b, src, &scope, s.filter.as_ref(), &refs, |b| {
                b.emit(Sec::Node, post);
                Ok(())
            })?;
            src
        }
        // rows already in the coordinator: compute the group inputs in a loop
        Input::Set(_) | Input::Fetch => {
            let set = match input {
                Input::Set(set) => set,
                _ => fetch_all(b, table, &scope)?,
            };
            let inp = b.stmt(StmtInfo::default());
            b.emit(Sec::Coordinator, Op::SetReset { stmt: inp });
            let mut used: Vec<&Expr> = inputs.iter().collect();
            used.extend(s.filter.iter());
            let hoisted = hoist(b, cx, &used, &scope)?;
            let (at, body) = open_loop(b, set);
            prepare_except(b, cx, &used, &scope, &hoisted)?;
            let from = b.pc(Sec::Coordinator);
            if let Some(f) = &s.filter {
                let cond = expr(b, Sec::Coordinator, f, &rscope)?;
                b.emit(Sec::Coordinator, Op::JumpIfNot { cond, to: u32::MAX });
            }
            let refs: Vec<&Expr> = inputs.iter().collect();
            add_row(b, inp, &refs, &rscope)?;
            if corr.is_some() {
                patch_outer(b, from, table.columns.len() as u16);
            }
            close_loop(b, at, body);
            inp
        }
    };
    let grp = b.stmt(StmtInfo::default());
    b.emit(
        Sec::Coordinator,
        Op::GroupAgg {
            src,
            dst: grp,
            keys: keys.len() as u16,
            aggs: kinds,
            partial,
        },
    );
    let stmt = new_stmt(b, s, &items);
    let (at, body) = open_loop(b, grp);
    let mut mapped = keys.clone();
    mapped.extend(agg_exprs.iter().cloned());
    let width = mapped.len() as u16;
    let start = b.regs(Sec::Coordinator, width.max(1));
    for i in 0..width {
        b.emit(
            Sec::Coordinator,
            Op::Column {
                dst: start + i,
                col: i,
            },
        );
    }
    // the alias only names the target in error messages (`<t.c> column must appear ...`)
    let cscope = Scope {
        table: None,
        alias: Some(alias.unwrap_or(&table.name)),
        aggs: Some((&mapped, start)),
    };
    if let Some(h) = &s.having {
        let cond = expr(b, Sec::Coordinator, h, &cscope)?;
        b.emit(Sec::Coordinator, Op::JumpIfNot { cond, to: u32::MAX });
    }
    let exprs: Vec<&Expr> = items.iter().map(|(e, _)| e).chain(extra.iter()).collect();
    add_row(b, stmt, &exprs, &cscope)?;
    close_loop(b, at, body);
    let n = items.len() as u16;
    finish_set(b, s, stmt, n, order_cols, exprs.len() as u16)?;
    Ok(stmt)
}
