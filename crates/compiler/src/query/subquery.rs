//! Subquery expressions. Uncorrelated ones are compiled once, before the query that uses
//! them ([`hoist`]); node code may read their rows, which travel with the `Send`
//! ([`node_subqueries`]). A correlated scalar or EXISTS subquery of a simple shape is
//! evaluated in place by node code ([`inline_subquery`]); any other one is compiled inside
//! the coordinator loop over the outer rows ([`prepare_except`]), run once per row.
//! Nested queries are compiled through [`Cx::select`].

use super::access::conjuncts;
use super::cte::cte_source;
use super::plan::{
    correlate, has_distinct_aggregate, has_subquery, lambdas, resolve_table, row_exprs, set_table,
    Cx,
};
use super::scan::fetch_all;
use crate::builder::{Builder, InlineSub, Sec};
use crate::expr::{agg_kind, collect_aggs, expr, Scope};
use amelie_catalog::Table;
use amelie_common::{Error, ErrorKind, Result};
use amelie_parser::{Expr, Select, SelectItem};
use amelie_vm::{Op, Reg};

/// Compiles the subqueries found in `exprs` (at the current coordinator position) and records
/// their statements for [`crate::expr::expr`]. `outer` resolves correlated column names.
pub(super) fn prepare(b: &mut Builder, cx: &Cx, exprs: &[&Expr], outer: &Scope) -> Result<()> {
    prepare_except(b, cx, exprs, outer, &[])
}

/// [`prepare`], except for the subqueries in `done` (already compiled by [`hoist`]).
pub(super) fn prepare_except(
    b: &mut Builder,
    cx: &Cx,
    exprs: &[&Expr],
    outer: &Scope,
    done: &[Select],
) -> Result<()> {
    let mut subs: Vec<&Select> = Vec::new();
    for e in exprs {
        e.for_each(&mut |x| {
            if let Expr::Subquery(sel) | Expr::Exists(sel) = x {
                if !done.contains(sel) {
                    subs.push(sel)
                }
            }
        });
    }
    for sel in subs {
        b.subquery_depth += 1;
        let stmt = (cx.select)(b, cx, sel, Some(outer));
        b.subquery_depth -= 1;
        b.subq.push((sel.clone(), stmt?));
    }
    Ok(())
}

/// Compiles the uncorrelated subqueries of `exprs` once, before a loop over the rows of
/// `outer` starts (instead of once per row); returns them. A subquery that names the outer
/// target or does not compile on its own is left for [`prepare_except`] inside the loop.
pub(super) fn hoist(
    b: &mut Builder,
    cx: &Cx,
    exprs: &[&Expr],
    outer: &Scope,
) -> Result<Vec<Select>> {
    let mut subs: Vec<&Select> = Vec::new();
    for e in exprs {
        e.for_each(&mut |x| {
            if let Expr::Subquery(sel) | Expr::Exists(sel) = x {
                subs.push(sel)
            }
        });
    }
    let mut done = Vec::new();
    for sel in subs {
        if mentions_outer(sel, outer) {
            continue;
        }
        let saved = b.mark();
        b.subquery_depth += 1;
        let compiled = (cx.select)(b, cx, sel, None);
        b.subquery_depth -= 1;
        match compiled {
            Err(e) if e.kind() == ErrorKind::DistributedTableInSubquery => return Err(e),
            Ok(stmt) => {
                b.subq.push((sel.clone(), stmt));
                done.push(sel.clone());
            }
            Err(_) => {
                // correlated after all (e.g. an unqualified outer column): undo
                b.rollback(saved);
            }
        }
    }
    Ok(done)
}

/// Whether `sel` names the target of `outer` (a correlated subquery).
fn mentions_outer(sel: &Select, outer: &Scope) -> bool {
    let Some(ot) = outer.table else {
        return false;
    };
    let outer_name = outer.alias.unwrap_or(&ot.name);
    let own: Vec<&str> = sel
        .from
        .iter()
        .map(|f| f.alias.as_deref().unwrap_or(&f.table.name))
        .collect();
    let mut found = false;
    for e in row_exprs(sel) {
        e.for_each(&mut |x| {
            if let Expr::Name(parts) = x {
                if parts.len() >= 2
                    && !own.contains(&parts[0].as_str())
                    && (parts[0] == outer_name || parts[0] == ot.name)
                {
                    found = true;
                }
            }
        });
    }
    found
}

/// Makes the subqueries of `exprs` readable by node code over `table`: uncorrelated ones are
/// compiled first (their rows are shipped), correlated ones become [`InlineSub`]s. When
/// `only_in` is set (`restricted`), correlated ones must appear in it. Returns the previous
/// lengths of `node_sets` and `node_inline` (for [`Builder::end_node_subqueries`]), or None, with
/// nothing emitted, when some subquery cannot run on the nodes.
pub(super) fn node_subqueries(
    b: &mut Builder,
    cx: &Cx,
    exprs: &[&Expr],
    table: &Table,
    alias: Option<&str>,
    restricted: bool,
    only_in: Option<&Expr>,
) -> Result<Option<(usize, usize)>> {
    let mut total = 0;
    for e in exprs {
        e.for_each(&mut |x| {
            if matches!(x, Expr::Subquery(_) | Expr::Exists(_)) {
                total += 1;
            }
        });
    }
    let scope = Scope {
        table: Some(table),
        alias,
        aggs: None,
    };
    let saved = b.mark();
    let hoisted = hoist(b, cx, exprs, &scope)?;
    let stmts: Vec<u16> = b.subq[b.subq.len() - hoisted.len()..]
        .iter()
        .map(|(_, stmt)| *stmt)
        .collect();
    // the correlated rest is evaluated in place on the nodes, when every one of them can be
    let mut inline = Vec::new();
    if hoisted.len() != total {
        let in_sets = set_context_subqueries(exprs);
        let mut subs: Vec<&Select> = Vec::new();
        for e in exprs {
            e.for_each(&mut |x| {
                if let Expr::Subquery(sel) | Expr::Exists(sel) = x {
                    if !hoisted.contains(sel) {
                        subs.push(sel)
                    }
                }
            });
        }
        let mut allowed: Vec<&Select> = Vec::new();
        if let Some(f) = only_in {
            f.for_each(&mut |x| {
                if let Expr::Subquery(sel) | Expr::Exists(sel) = x {
                    allowed.push(sel)
                }
            });
        }
        for sel in subs {
            let candidate = if (restricted && !allowed.contains(&sel)) || in_sets.contains(&sel) {
                None
            } else {
                inline_candidate(b, cx, sel, table, alias)?
            };
            match candidate {
                Some(i) => inline.push(i),
                None => {
                    b.rollback(saved);
                    return Ok(None);
                }
            }
        }
    }
    let before = (b.node_sets.len(), b.node_inline.len());
    b.node_sets.extend(stmts);
    if !inline.is_empty() {
        b.inline_emit = inline_subquery;
    }
    b.node_inline.extend(inline);
    Ok(Some(before))
}

/// The subqueries of `exprs` whose rows are a set (`x IN (SELECT ...)`, `x op ANY|ALL
/// (SELECT ...)`), as opposed to a scalar or EXISTS.
fn set_context_subqueries<'e>(exprs: &[&'e Expr]) -> Vec<&'e Select> {
    let mut out = Vec::new();
    for e in exprs {
        e.for_each(&mut |x| match x {
            Expr::In { list, .. } => out.extend(list.iter().filter_map(|i| match i {
                Expr::Subquery(sel) => Some(&**sel),
                _ => None,
            })),
            Expr::AnyAll { right, .. } => {
                if let Expr::Subquery(sel) = &**right {
                    out.push(&**sel)
                }
            }
            _ => {}
        });
    }
    out
}

/// An [`InlineSub`] for `sel` inside a query over `outer`, when its shape allows one: one
/// shared table or CTE, one item, no GROUP BY/HAVING/ORDER BY/LIMIT/DISTINCT, no nested
/// subqueries or lambdas, and qualified references to the outer table.
fn inline_candidate(
    b: &mut Builder,
    cx: &Cx,
    sel: &Select,
    outer: &Table,
    outer_alias: Option<&str>,
) -> Result<Option<InlineSub>> {
    let [f] = sel.from.as_slice() else {
        return Ok(None);
    };
    if f.subquery.is_some()
        || f.function.is_some()
        || f.use_index.is_some()
        || !sel.group_by.is_empty()
        || sel.having.is_some()
        || !sel.order_by.is_empty()
        || sel.limit.is_some()
        || sel.offset.is_some()
        || sel.distinct
        || sel.items.len() != 1
        || matches!(sel.items[0], SelectItem::QualifiedWildcard(_))
        || has_distinct_aggregate(sel)
    {
        return Ok(None);
    }
    let exprs = row_exprs(sel);
    if has_subquery(&exprs) || !lambdas(&exprs).is_empty() {
        return Ok(None);
    }
    let (table, set) = match cte_source(b, f)? {
        Some((stmt, columns)) => (set_table(&f.table.name, &columns), Some(stmt)),
        None => {
            let t = resolve_table(cx.catalog, &f.table)?;
            if !t.shared {
                return Ok(None);
            }
            ((**t).clone(), None)
        }
    };
    let alias = f.alias.clone();
    let oscope = Scope {
        table: Some(outer),
        alias: outer_alias,
        aggs: None,
    };
    let Some((rewritten, combined)) = correlate(sel, &table, alias.as_deref(), &oscope) else {
        return Ok(None);
    };
    let set = match set {
        Some(set) => set,
        None => {
            let scope = Scope {
                table: Some(&table),
                alias: alias.as_deref(),
                aggs: None,
            };
            fetch_all(b, &table, &scope)?
        }
    };
    Ok(Some(InlineSub {
        sel: sel.clone(),
        rewritten,
        combined,
        alias,
        set,
        inner: table.columns.len() as u16,
    }))
}

/// Emits node code evaluating the inline subquery `sel` for the current row (see
/// [`InlineSub`]) and returns the register with its value: EXISTS is true at the first row
/// passing the filter; a scalar subquery is its item for the first such row (NULL when there
/// is none) or, with aggregates, the item over all of them. An AND-ed `source.col =
/// outer.col` makes the loop a hash probe.
pub(super) fn inline_subquery(b: &mut Builder, sel: &Select, exists: bool) -> Result<Reg> {
    let info = b
        .node_inline
        .iter()
        .find(|i| i.sel == *sel)
        .cloned()
        .ok_or_else(|| Error::unsupported("subqueries are not supported here"))?;
    b.use_set(info.set);
    let r = &info.rewritten;
    let scope = Scope {
        table: Some(&info.combined),
        alias: info.alias.as_deref(),
        aggs: None,
    };
    let item = match &r.items[0] {
        SelectItem::Expr { expr, .. } => Some(expr.clone()),
        _ if exists => None,
        _ if info.inner == 1 => Some(Expr::Name(vec![info.combined.columns[0].name.clone()])),
        _ => return Err(Error::type_error("subquery must return only one column")),
    };
    let mut aggs = Vec::new();
    if let (false, Some(e)) = (exists, &item) {
        collect_aggs(e, &mut aggs);
    }
    let agg_exprs: Vec<Expr> = aggs.iter().map(|e| (*e).clone()).collect();
    let kinds: Vec<amelie_vm::AggKind> = agg_exprs
        .iter()
        .filter_map(|e| match e {
            Expr::Aggregate { func, arg, .. } => Some(agg_kind(*func, arg.is_none())),
            _ => None,
        })
        .collect();
    let dst = b.regs(Sec::Node, 1);
    let from = b.pc(Sec::Node);
    let slot = b.sub_agg_slots;
    if kinds.is_empty() {
        let initial = if exists {
            amelie_common::Value::Bool(false)
        } else {
            amelie_common::Value::Null
        };
        let idx = b.constant(initial);
        b.emit(Sec::Node, Op::Const { dst, idx });
    } else {
        match b.sub_agg_slots.checked_add(kinds.len() as u16) {
            Some(n) => b.sub_agg_slots = n,
            None => b.overflow = true,
        }
        b.emit(
            Sec::Node,
            Op::SubAggReset {
                slot,
                n: kinds.len() as u16,
            },
        );
    }
    // a join-style probe on `source.col = outer.col`
    let mut probe = None;
    if let Some(f) = &r.filter {
        let mut cs = Vec::new();
        conjuncts(f, &mut cs);
        let col = |e: &Expr| match e {
            Expr::Name(p) if p.len() <= 2 => scope
                .column_path(p)
                .ok()
                .filter(|(_, path)| path.is_empty())
                .map(|(c, _)| c as u16),
            _ => None,
        };
        for c in cs {
            if let Expr::Binary {
                op: amelie_parser::BinaryOp::Eq,
                left,
                right,
            } = c
            {
                for (a, o) in [(left, right), (right, left)] {
                    if let (Some(a), Some(o)) = (col(a), col(o)) {
                        if a < info.inner && o >= info.inner && probe.is_none() {
                            probe = Some((a, o));
                        }
                    }
                }
            }
        }
    }
    let at = match probe {
        Some((col, o)) => {
            let key = b.regs(Sec::Node, 1);
            b.emit(Sec::Node, Op::Column { dst: key, col: o });
            b.emit(
                Sec::Node,
                Op::SetProbe {
                    stmt: info.set,
                    col,
                    key,
                    end: u32::MAX,
                },
            )
        }
        None => b.emit(
            Sec::Node,
            Op::SetLoop {
                stmt: info.set,
                end: u32::MAX,
            },
        ),
    };
    let body = b.pc(Sec::Node) as u32;
    if let Some(f) = &r.filter {
        let cond = expr(b, Sec::Node, f, &scope)?;
        b.emit(Sec::Node, Op::JumpIfNot { cond, to: u32::MAX });
    }
    if exists || kinds.is_empty() {
        let v = match (&item, exists) {
            (Some(e), false) => expr(b, Sec::Node, e, &scope)?,
            _ => b.load_const(Sec::Node, amelie_common::Value::Bool(true)),
        };
        b.emit(Sec::Node, Op::Move { dst, src: v });
        b.emit(Sec::Node, Op::SetBreak { to: u32::MAX });
    } else {
        for (i, (a, kind)) in agg_exprs.iter().zip(&kinds).enumerate() {
            let Expr::Aggregate { arg, .. } = a else {
                continue;
            };
            let arg = arg
                .as_ref()
                .map(|e| expr(b, Sec::Node, e, &scope))
                .transpose()?;
            b.emit(
                Sec::Node,
                Op::SubAggStep {
                    slot: slot + i as u16,
                    kind: *kind,
                    arg,
                },
            );
        }
    }
    let next = b.pc(Sec::Node) as u32;
    b.emit(Sec::Node, Op::SetNext { body });
    let end = b.pc(Sec::Node) as u32;
    for (k, op) in b.p.node[at..].iter_mut().enumerate() {
        match op {
            Op::SetLoop { end: e, .. } | Op::SetProbe { end: e, .. } if k == 0 => *e = end,
            Op::JumpIfNot { to, .. } if *to == u32::MAX => *to = next,
            Op::SetBreak { to } if *to == u32::MAX => *to = end,
            _ => {}
        }
    }
    if !kinds.is_empty() {
        let start = b.regs(Sec::Node, kinds.len() as u16);
        for (i, kind) in kinds.iter().enumerate() {
            b.emit(
                Sec::Node,
                Op::SubAggFinal {
                    slot: slot + i as u16,
                    kind: *kind,
                    dst: start + i as u16,
                },
            );
        }
        let ascope = Scope {
            aggs: Some((&agg_exprs, start)),
            ..scope
        };
        let e = item.as_ref().unwrap_or(&Expr::Null);
        let v = expr(b, Sec::Node, e, &ascope)?;
        b.emit(Sec::Node, Op::Move { dst, src: v });
    }
    // source columns come from the loop's row, outer columns from the scanned row
    for op in &mut b.p.node[from..] {
        if let Op::Column { dst, col } = *op {
            *op = if col < info.inner {
                Op::OuterColumn { dst, depth: 0, col }
            } else {
                Op::Column {
                    dst,
                    col: col - info.inner,
                }
            };
        }
    }
    Ok(dst)
}
