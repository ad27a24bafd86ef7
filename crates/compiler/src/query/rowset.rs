//! Queries that run in the coordinator over rows already there: SELECT without FROM
//! ([`const_select`]), a loop over the rows of a statement set or of a fetched table
//! ([`loop_select`]: CTEs, FROM subqueries, correlated subqueries, queries whose subqueries
//! cannot run on the nodes), and `FROM f(args)` ([`function_select`]).

use super::emit::{add_row, close_loop, finish_set, new_stmt, open_loop, patch_outer};
use super::group::{self, Input};
use super::plan::{
    check_no_aggs, expand_items, lambdas, order_keys, row_exprs, set_table, Cx, Query, Shape, OUTER,
};
use super::scan::fetch_all;
use super::subquery::{hoist, prepare, prepare_except};
use crate::builder::{Builder, Sec};
use crate::expr::{collect_aggs, expr, Scope};
use amelie_common::{Error, Result};
use amelie_parser::{Expr, Select, SelectItem};
use amelie_vm::{Op, StmtInfo};

/// SELECT without FROM, evaluated in the coordinator (against the outer row when nested).
pub(super) fn const_select(
    b: &mut Builder,
    cx: &Cx,
    s: &Select,
    outer: Option<&Scope>,
) -> Result<u16> {
    let scope = outer.copied().unwrap_or_default();
    let items = expand_items(s, scope.table, scope.alias)?;
    let mut aggs = Vec::new();
    for e in items
        .iter()
        .map(|(e, _)| e)
        .chain(s.order_by.iter().map(|o| &o.expr))
    {
        collect_aggs(e, &mut aggs);
    }
    if !aggs.is_empty() || !s.group_by.is_empty() || !lambdas(&row_exprs(s)).is_empty() {
        return Err(Error::not_found(
            "no targets to use with GROUP BY or aggregates",
        ));
    }
    let stmt = new_stmt(b, s, &items);
    prepare(b, cx, &row_exprs(s), &scope)?;
    let jump = match &s.filter {
        Some(f) => {
            let cond = expr(b, Sec::Coordinator, f, &scope)?;
            Some(b.emit(Sec::Coordinator, Op::JumpIfNot { cond, to: 0 }))
        }
        None => None,
    };
    let exprs: Vec<&Expr> = items.iter().map(|(e, _)| e).collect();
    add_row(b, stmt, &exprs, &scope)?;
    if let Some(j) = jump {
        let end = b.pc(Sec::Coordinator) as u32;
        if let Op::JumpIfNot { to, .. } = &mut b.code(Sec::Coordinator)[j] {
            *to = end;
        }
    }
    let n = items.len() as u16;
    finish_set(b, s, stmt, n, Vec::new(), n)?;
    Ok(stmt)
}

/// A query over one table whose expressions need the coordinator (subqueries): rows are
/// fetched whole and filtered/projected in a coordinator loop.
pub(super) fn loop_select(b: &mut Builder, cx: &Cx, q: &Query, src: Option<u16>) -> Result<u16> {
    let (s, table, alias, corr) = (q.select, q.table, q.alias, q.corr);
    let scope = Scope {
        table: Some(table),
        alias,
        aggs: None,
    };
    let cscope = Scope {
        table: Some(corr.unwrap_or(table)),
        alias,
        aggs: None,
    };
    let items = expand_items(s, Some(table), alias)?;
    check_no_aggs(&items)?;
    let src = match src {
        Some(src) => src,
        None => fetch_all(b, table, &scope)?,
    };
    let stmt = new_stmt(b, s, &items);
    let (order_cols, extra) = order_keys(s, &items, Some(table))?;
    let hoisted = hoist(b, cx, &row_exprs(s), &scope)?;
    let (at, body) = open_loop(b, src);
    prepare_except(b, cx, &row_exprs(s), &scope, &hoisted)?;
    let from = b.pc(Sec::Coordinator);
    if let Some(f) = &s.filter {
        let cond = expr(b, Sec::Coordinator, f, &cscope)?;
        b.emit(Sec::Coordinator, Op::JumpIfNot { cond, to: u32::MAX });
    }
    let exprs: Vec<&Expr> = items.iter().map(|(e, _)| e).chain(extra.iter()).collect();
    add_row(b, stmt, &exprs, &cscope)?;
    if corr.is_some() {
        patch_outer(b, from, table.columns.len() as u16);
    }
    close_loop(b, at, body);
    let n = items.len() as u16;
    finish_set(b, s, stmt, n, order_cols, exprs.len() as u16)?;
    Ok(stmt)
}

/// `FROM f(args) [alias]`: the elements of the JSON array returned by `f` are the rows, of one
/// column named by the target; other names are paths into the element.
pub(super) fn function_select(
    b: &mut Builder,
    cx: &Cx,
    s: &Select,
    call: &Expr,
    target: &str,
    shape: Shape,
) -> Result<u16> {
    let v = expr(b, Sec::Coordinator, call, &Scope::default())?;
    let src = b.stmt(StmtInfo::default());
    b.emit(Sec::Coordinator, Op::SetReset { stmt: src });
    b.emit(Sec::Coordinator, Op::SetUnnest { stmt: src, src: v });
    let col = format!("{OUTER}{target}");
    let mut r = s.clone();
    let mut fix = |e: &mut Expr| {
        if let Expr::Name(parts) = e {
            let rest = if parts.first().map(String::as_str) == Some(target) {
                &parts[1..]
            } else {
                &parts[..]
            };
            let mut p = vec![col.clone()];
            p.extend(rest.iter().cloned());
            *parts = p;
        }
    };
    for item in &mut r.items {
        match item {
            SelectItem::Expr { expr, .. } => expr.for_each_mut(&mut fix),
            SelectItem::QualifiedWildcard(q) if q == target => *item = SelectItem::Wildcard,
            _ => {}
        }
    }
    if let Some(f) = &mut r.filter {
        f.for_each_mut(&mut fix);
    }
    for o in &mut r.order_by {
        o.expr.for_each_mut(&mut fix);
    }
    for g in &mut r.group_by {
        g.for_each_mut(&mut fix);
    }
    for e in &mut r.distinct_on {
        e.for_each_mut(&mut fix);
    }
    if let Some(h) = &mut r.having {
        h.for_each_mut(&mut fix);
    }
    let mut t = set_table(target, std::slice::from_ref(&col));
    t.name = target.to_string();
    let q = Query {
        select: &r,
        table: &t,
        alias: None,
        corr: None,
    };
    let mut out = if shape == Shape::Grouped {
        group::select(b, cx, &q, Input::Set(src))
    } else {
        loop_select(b, cx, &q, Some(src))
    };
    if let Ok(stmt) = out {
        // `*` names the column after the target
        if let Some(info) = b.p.stmts.get_mut(stmt as usize) {
            for c in &mut info.columns {
                if *c == col {
                    *c = target.to_string();
                }
            }
        }
        out = Ok(stmt);
    }
    out
}
