//! SELECT: projection, filters and partial aggregates pushed to the nodes, merge/sort/limit in the coordinator.

use crate::builder::{Builder, Sec};
use crate::expr::{agg_kind, collect_aggs, expr, Scope};
use crate::plan::point_lookup;
use amelie_catalog::{Catalog, Table};
use amelie_common::format::Format;
use amelie_common::{Error, Result};
use amelie_parser::{Expr, FromItem, ObjectName, Select, SelectItem};
use amelie_vm::op::Merge;
use amelie_vm::program::{Bind, Operand, Target};
use amelie_vm::{Op, Reg, StmtInfo};
use std::sync::Arc;

pub fn resolve_table<'c>(catalog: &'c Catalog, name: &ObjectName) -> Result<&'c Arc<Table>> {
    let schema = name.schema.as_deref().unwrap_or("public");
    catalog
        .table(schema, &name.name)
        .ok_or_else(|| Error::new(format!("<{}.{}> relation not found", schema, name.name)))
}

fn check_format(f: &Option<String>) -> Result<()> {
    if let Some(f) = f {
        Format::parse(f)?;
    }
    Ok(())
}

fn item_name(item: &SelectItem, i: usize) -> String {
    match item {
        SelectItem::Expr { alias: Some(a), .. } => a.clone(),
        SelectItem::Expr {
            expr: Expr::Name(parts),
            ..
        } if parts.len() == 1 => parts[0].clone(),
        _ => format!("col{}", i + 1),
    }
}

/// Expands `*` / `t.*` into column references; returns (expr, name) pairs.
fn expand_items(
    s: &Select,
    table: Option<&Table>,
    alias: Option<&str>,
) -> Result<Vec<(Expr, String)>> {
    let mut out = Vec::new();
    for (i, item) in s.items.iter().enumerate() {
        match item {
            SelectItem::Wildcard => {
                let t = table.ok_or_else(|| Error::new("'*': no targets defined"))?;
                for c in &t.columns {
                    out.push((Expr::Name(vec![c.name.clone()]), c.name.clone()));
                }
            }
            SelectItem::QualifiedWildcard(q) => {
                let t = table
                    .filter(|t| Some(q.as_str()) == alias || *q == t.name)
                    .ok_or_else(|| Error::new(format!("<{q}> target not found")))?;
                for c in &t.columns {
                    out.push((Expr::Name(vec![c.name.clone()]), c.name.clone()));
                }
            }
            SelectItem::Expr { expr, .. } => out.push((expr.clone(), item_name(item, i))),
        }
    }
    Ok(out)
}

/// Emits a Scan over `table` (a point lookup when the filter pins the primary key, a key range
/// scan when it bounds a key prefix) and returns the index of the Scan op
/// (its `end` is patched by [`close_scan`]) plus the send target.
pub(crate) fn open_scan(
    b: &mut Builder,
    t: &Table,
    scope: &Scope,
    filter: Option<&Expr>,
) -> Result<(usize, u16)> {
    if let Some(f) = filter {
        check_key_types(b, t, scope, f)?;
    }
    let table = b.table(t);
    let (key, key_len, target) = match point_lookup(b, t, scope, filter)? {
        Some(values) => {
            let start = b.regs(Sec::Node, values.len() as u16);
            let mut operands = Vec::with_capacity(values.len());
            for (i, v) in values.into_iter().enumerate() {
                let dst = start + i as Reg;
                match v {
                    crate::plan::KeyValue::Const(v) => {
                        let idx = b.constant(v.clone());
                        b.emit(Sec::Node, Op::Const { dst, idx });
                        operands.push(Operand::Const(v));
                    }
                    crate::plan::KeyValue::Lit { ord, int32 } => {
                        let bind = if int32 {
                            Bind::LitInt32(ord)
                        } else {
                            Bind::Lit(ord)
                        };
                        let idx = b.param(bind);
                        b.emit(Sec::Node, Op::Param { dst, idx });
                        operands.push(Operand::Param(idx));
                    }
                }
            }
            let n = operands.len() as u16;
            (Some(start), n, b.target(Target::Key(operands)))
        }
        None => {
            // a bounded primary-key prefix: scan only that key range (rows still in key order)
            if let Some((from, to)) = crate::plan::key_range(b, t, scope, filter)? {
                let target = b.target(Target::All);
                let scan = b.emit(
                    Sec::Node,
                    Op::ScanRange {
                        table,
                        from,
                        to,
                        end: 0,
                    },
                );
                emit_scan_filter(b, scope, filter)?;
                return Ok((scan, target));
            }
            (None, 0, b.target(Target::All))
        }
    };
    let scan = b.emit(
        Sec::Node,
        Op::Scan {
            table,
            key,
            key_len,
            end: 0,
        },
    );
    emit_scan_filter(b, scope, filter)?;
    Ok((scan, target))
}

/// Emits the WHERE filter at the top of a scan body: rows that fail it skip to the end of
/// the body (the jump target is patched by [`close_scan`]).
pub(crate) fn emit_scan_filter(
    b: &mut Builder,
    scope: &Scope,
    filter: Option<&Expr>,
) -> Result<()> {
    if let Some(f) = filter {
        let cond = expr(b, Sec::Node, f, scope)?;
        b.emit(Sec::Node, Op::JumpIfNot { cond, to: u32::MAX });
    }
    Ok(())
}

pub(crate) fn close_scan(b: &mut Builder, scan: usize) {
    let end = b.pc(Sec::Node) as u32;
    if let Some(Op::ScanRange { end: e, .. }) = b.p.node.get_mut(scan) {
        *e = end;
    }
    for op in &mut b.p.node[scan..] {
        match op {
            Op::Scan { end: e, .. } if *e == 0 => *e = end,
            Op::JumpIfNot { to, .. } if *to == u32::MAX => *to = end,
            _ => {}
        }
    }
}

fn from_table<'c>(
    catalog: &'c Catalog,
    from: &'c [FromItem],
) -> Result<Option<(&'c Arc<Table>, Option<&'c str>)>> {
    match from {
        [] => Ok(None),
        [f] => Ok(Some((
            resolve_table(catalog, &f.table)?,
            f.alias.as_deref(),
        ))),
        _ => Err(Error::new("joins are not supported yet")),
    }
}

fn limit_regs(b: &mut Builder, s: &Select) -> Result<(Option<Reg>, Option<Reg>)> {
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

/// The original pushdown path: projection or ungrouped aggregates on the nodes.
fn node_select(b: &mut Builder, catalog: &Catalog, s: &Select) -> Result<u16> {
    let from = from_table(catalog, &s.from)?;
    let items = expand_items(s, from.map(|(t, _)| &**t), from.and_then(|(_, a)| a))?;
    let columns: Vec<String> = items.iter().map(|(_, n)| n.clone()).collect();
    let mut aggs = Vec::new();
    for (e, _) in &items {
        collect_aggs(e, &mut aggs);
    }
    let agg_exprs: Vec<Expr> = aggs.iter().map(|e| (*e).clone()).collect();
    let kinds = agg_exprs
        .iter()
        .map(|e| match e {
            Expr::Aggregate { func, arg, .. } => agg_kind(*func, arg.is_none()),
            _ => unreachable!("collect_aggs returns aggregates"),
        })
        .collect();
    let stmt = b.stmt(StmtInfo {
        columns,
        format: s.format.clone(),
        aggs: kinds,
    });
    b.emit(Sec::Coordinator, Op::SetReset { stmt });
    let n = items.len() as u16;

    let Some((table, alias)) = from else {
        if !agg_exprs.is_empty() {
            return Err(Error::new("no targets to use with GROUP BY or aggregates"));
        }
        let regs: Vec<Reg> = items
            .iter()
            .map(|(e, _)| expr(b, Sec::Coordinator, e, &Scope::default()))
            .collect::<Result<_>>()?;
        let start = b.regs(Sec::Coordinator, n);
        for (i, r) in regs.iter().enumerate() {
            b.emit(
                Sec::Coordinator,
                Op::Move {
                    dst: start + i as Reg,
                    src: *r,
                },
            );
        }
        b.emit(Sec::Coordinator, Op::SetAdd { stmt, start, n });
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
        return Ok(stmt);
    };

    let scope = Scope {
        table: Some(table),
        alias,
        aggs: None,
    };
    let entry = b.pc(Sec::Node) as u32;
    let (scan, target) = open_scan(b, table, &scope, s.filter.as_ref())?;
    let tref = b.table(table);
    if !agg_exprs.is_empty() {
        for (i, a) in agg_exprs.iter().enumerate() {
            let Expr::Aggregate { arg, .. } = a else {
                continue;
            };
            let arg = arg
                .as_ref()
                .map(|e| expr(b, Sec::Node, e, &scope))
                .transpose()?;
            b.emit(Sec::Node, Op::AggStep { agg: i as u16, arg });
        }
        close_scan(b, scan);
        b.emit(Sec::Node, Op::AggEmit { stmt });
        b.emit(Sec::Node, Op::Ret);
        b.send(stmt, tref, entry, target);
        b.emit(
            Sec::Coordinator,
            Op::Recv {
                stmt,
                merge: Merge::Agg,
            },
        );
        let start = b.regs(Sec::Coordinator, agg_exprs.len() as u16);
        b.emit(Sec::Coordinator, Op::AggFinal { stmt, start });
        let cscope = Scope {
            table: None,
            alias: None,
            aggs: Some((&agg_exprs, start)),
        };
        let regs: Vec<Reg> = items
            .iter()
            .map(|(e, _)| expr(b, Sec::Coordinator, e, &cscope))
            .collect::<Result<_>>()?;
        let out = b.regs(Sec::Coordinator, n);
        for (i, r) in regs.iter().enumerate() {
            b.emit(
                Sec::Coordinator,
                Op::Move {
                    dst: out + i as Reg,
                    src: *r,
                },
            );
        }
        b.emit(
            Sec::Coordinator,
            Op::SetAdd {
                stmt,
                start: out,
                n,
            },
        );
    } else {
        // projection (+ hidden ORDER BY keys) computed on the nodes
        let mut order_cols = Vec::new();
        let mut extra = Vec::new();
        for o in &s.order_by {
            let oe = crate::expr::position_literal(&o.expr);
            let col = match &*oe {
                Expr::Int(i) if *i >= 1 && (*i as usize) <= items.len() => (*i - 1) as u16,
                Expr::Int(_) => {
                    return Err(Error::new("ORDER BY: column position is out of range"))
                }
                Expr::Name(p)
                    if p.len() == 1
                        && items.iter().any(|(_, name)| *name == p[0])
                        && table.column(&p[0]).is_none() =>
                {
                    items
                        .iter()
                        .position(|(_, name)| *name == p[0])
                        .unwrap_or(0) as u16
                }
                e => {
                    extra.push(e.clone());
                    n + extra.len() as u16 - 1
                }
            };
            order_cols.push((col, o.asc));
        }
        let regs: Vec<Reg> = items
            .iter()
            .map(|(e, _)| e)
            .chain(extra.iter())
            .map(|e| expr(b, Sec::Node, e, &scope))
            .collect::<Result<_>>()?;
        let width = regs.len() as u16;
        let start = b.regs(Sec::Node, width);
        for (i, r) in regs.iter().enumerate() {
            b.emit(
                Sec::Node,
                Op::Move {
                    dst: start + i as Reg,
                    src: *r,
                },
            );
        }
        b.emit(Sec::Node, Op::Emit { start, n: width });
        close_scan(b, scan);
        node_finish(b, s, n, &order_cols)?;
        b.emit(Sec::Node, Op::Ret);
        b.send(stmt, tref, entry, target);
        b.emit(
            Sec::Coordinator,
            Op::Recv {
                stmt,
                merge: Merge::Union,
            },
        );
        if !order_cols.is_empty() {
            b.emit(
                Sec::Coordinator,
                Op::Sort {
                    stmt,
                    keys: order_cols,
                },
            );
        }
        if width > n {
            b.emit(Sec::Coordinator, Op::Trim { stmt, n });
        }
    }
    if s.distinct {
        b.emit(Sec::Coordinator, Op::Distinct { stmt, n });
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
    Ok(stmt)
}

/// The per-partition part of DISTINCT, ORDER BY and LIMIT over the rows a scan emitted
/// (before `Ret`): each node removes its duplicates, sorts its rows and keeps only the first
/// `limit + offset` of them (when both are integer constants); the coordinator then merges
/// the partitions' runs and applies the whole operation again.
fn node_finish(b: &mut Builder, s: &Select, n: u16, order_cols: &[(u16, bool)]) -> Result<()> {
    if s.distinct {
        b.emit(Sec::Node, Op::NodeDistinct { n });
    }
    if !order_cols.is_empty() {
        b.emit(
            Sec::Node,
            Op::NodeSort {
                keys: order_cols.to_vec(),
            },
        );
    }
    let int = |e: Option<&Expr>, b: &Builder| -> Result<Option<i64>> {
        Ok(match e {
            Some(e) => match crate::expr::const_value(e, b)? {
                Some(amelie_common::Value::Int(i)) => Some(i),
                _ => None,
            },
            None => Some(0),
        })
    };
    if s.limit.is_some() {
        if let (Some(limit), Some(offset)) = (int(s.limit.as_ref(), b)?, int(s.offset.as_ref(), b)?)
        {
            let limit = b.load_const(
                Sec::Node,
                amelie_common::Value::Int(limit.max(0).saturating_add(offset.max(0))),
            );
            b.emit(
                Sec::Node,
                Op::NodeTop {
                    limit,
                    offset: None,
                },
            );
        }
    }
    Ok(())
}

/// Compiles a SELECT statement whose rows are the request's result.
pub fn select(b: &mut Builder, catalog: &Catalog, s: &Select) -> Result<()> {
    let stmt = select_stmt(b, catalog, s, None)?;
    b.emit(Sec::Coordinator, Op::Result { stmt });
    Ok(())
}

/// Whether a select item or HAVING uses `agg(DISTINCT x)`.
fn has_distinct_aggregate(s: &Select) -> bool {
    let mut found = false;
    let mut check = |e: &Expr| {
        if matches!(e, Expr::Aggregate { distinct: true, .. }) {
            found = true;
        }
    };
    for item in &s.items {
        if let SelectItem::Expr { expr, .. } = item {
            walk(expr, &mut check);
        }
    }
    if let Some(h) = &s.having {
        walk(h, &mut check);
    }
    found
}

/// Visits `e` and its sub-expressions (not descending into subqueries).
fn walk<'e>(e: &'e Expr, f: &mut dyn FnMut(&'e Expr)) {
    f(e);
    match e {
        Expr::Unary { expr, .. } | Expr::IsNull { expr, .. } | Expr::Field { expr, .. } => {
            walk(expr, f)
        }
        Expr::Lambda { seed, expr } => {
            walk(seed, f);
            walk(expr, f);
        }
        Expr::Binary { left, right, .. } | Expr::AnyAll { left, right, .. } => {
            walk(left, f);
            walk(right, f);
        }
        Expr::Index { expr, index } => {
            walk(expr, f);
            walk(index, f);
        }
        Expr::Between {
            expr, low, high, ..
        } => {
            walk(expr, f);
            walk(low, f);
            walk(high, f);
        }
        Expr::In { expr, list, .. } => {
            walk(expr, f);
            list.iter().for_each(|x| walk(x, f));
        }
        Expr::Function { args, .. } | Expr::Array(args) => args.iter().for_each(|x| walk(x, f)),
        Expr::Object(pairs) => pairs.iter().for_each(|(k, v)| {
            walk(k, f);
            walk(v, f);
        }),
        Expr::Aggregate { arg: Some(a), .. } => walk(a, f),
        Expr::Case {
            operand,
            whens,
            else_,
        } => {
            if let Some(o) = operand {
                walk(o, f);
            }
            for (w, t) in whens {
                walk(w, f);
                walk(t, f);
            }
            if let Some(e) = else_ {
                walk(e, f);
            }
        }
        _ => {}
    }
}

/// The expressions of a SELECT evaluated per row or per group.
fn row_exprs(s: &Select) -> Vec<&Expr> {
    let mut out: Vec<&Expr> = Vec::new();
    for item in &s.items {
        if let SelectItem::Expr { expr, .. } = item {
            out.push(expr);
        }
    }
    out.extend(s.filter.iter());
    out.extend(s.having.iter());
    out.extend(s.group_by.iter());
    out.extend(s.order_by.iter().map(|o| &o.expr));
    out
}

fn has_subquery(exprs: &[&Expr]) -> bool {
    let mut found = false;
    for e in exprs {
        walk(e, &mut |x| {
            if matches!(x, Expr::Subquery(_) | Expr::Exists(_)) {
                found = true
            }
        });
    }
    found
}

/// Compiles the subqueries found in `exprs` (at the current coordinator position) and records
/// their statements for [`crate::expr::expr`]. `outer` resolves correlated column names.
fn prepare(b: &mut Builder, catalog: &Catalog, exprs: &[&Expr], outer: &Scope) -> Result<()> {
    prepare_except(b, catalog, exprs, outer, &[])
}

/// [`prepare`], except for the subqueries in `done` (already compiled by [`hoist`]).
fn prepare_except(
    b: &mut Builder,
    catalog: &Catalog,
    exprs: &[&Expr],
    outer: &Scope,
    done: &[Select],
) -> Result<()> {
    let mut subs: Vec<&Select> = Vec::new();
    for e in exprs {
        walk(e, &mut |x| {
            if let Expr::Subquery(sel) | Expr::Exists(sel) = x {
                if !done.contains(sel) {
                    subs.push(sel)
                }
            }
        });
    }
    for sel in subs {
        b.subquery_depth += 1;
        let stmt = select_stmt(b, catalog, sel, Some(outer));
        b.subquery_depth -= 1;
        b.subq.push((sel.clone(), stmt?));
    }
    Ok(())
}

/// Compiles `s` into a new statement (without making it the result) and returns it.
fn select_stmt(
    b: &mut Builder,
    catalog: &Catalog,
    s: &Select,
    outer: Option<&Scope>,
) -> Result<u16> {
    check_format(&s.format)?;
    if s.distinct && !s.order_by.is_empty() {
        return Err(Error::new("ORDER BY and DISTINCT cannot be combined"));
    }
    if has_distinct_aggregate(s) {
        // refuse rather than silently aggregating duplicates
        return Err(Error::new("DISTINCT inside aggregates is not supported"));
    }
    let exprs = row_exprs(s);
    if let [f] = s.from.as_slice() {
        if let Some((src, columns)) = cte_source(b, f)? {
            let t = set_table(&f.table.name, &columns);
            let alias = f.alias.as_deref();
            if !s.group_by.is_empty() || s.having.is_some() || has_aggs(s) {
                return group_select(b, catalog, s, &t, alias, GroupInput::Set(src), None);
            }
            return loop_select(b, catalog, s, &t, alias, Some(src), None);
        }
    }
    if let [FromItem {
        subquery: Some(sub),
        alias,
        table,
        ..
    }] = s.from.as_slice()
    {
        if alias.is_none() {
            return Err(Error::new("FROM (SELECT) subquery must have an alias"));
        }
        let src = select_stmt(b, catalog, sub, None)?;
        let columns = b.p.stmts[src as usize].columns.clone();
        let t = set_table(&table.name, &columns);
        if !s.group_by.is_empty() || s.having.is_some() || has_aggs(s) {
            return group_select(
                b,
                catalog,
                s,
                &t,
                alias.as_deref(),
                GroupInput::Set(src),
                None,
            );
        }
        return loop_select(b, catalog, s, &t, alias.as_deref(), Some(src), None);
    }
    if s.from.len() > 1 {
        return join_select(b, catalog, s);
    }
    if let [FromItem {
        function: Some(call),
        alias,
        table,
        ..
    }] = s.from.as_slice()
    {
        return function_select(b, catalog, s, call, alias.as_deref().unwrap_or(&table.name));
    }
    let Some((table, alias)) = from_table(catalog, &s.from)? else {
        return const_select(b, catalog, s, outer);
    };
    if b.subquery_depth > 0 && !table.shared {
        return Err(Error::new(format!(
            "distributed table '{}.{}' cannot be used in subquery",
            table.schema, table.name
        )));
    }
    let indexed;
    let s = match s.from.first().and_then(|f| f.use_index.as_deref()) {
        Some(ix) => {
            indexed = index_order(s, table, ix)?;
            &indexed
        }
        None => s,
    };
    if let Some((rewritten, combined)) = outer.and_then(|o| correlate(s, table, alias, o)) {
        let exprs = row_exprs(&rewritten);
        if !lambdas(&exprs).is_empty() {
            return lambda_select(b, catalog, &rewritten, table, alias, Some(&combined));
        }
        if !s.group_by.is_empty() || s.having.is_some() || has_aggs(s) {
            let scope = Scope {
                table: Some(table),
                alias,
                aggs: None,
            };
            let all: Vec<Expr> = table
                .columns
                .iter()
                .map(|c| Expr::Name(vec![c.name.clone()]))
                .collect();
            let src = fetch(b, table, &scope, None, &all)?;
            return group_select(
                b,
                catalog,
                &rewritten,
                table,
                alias,
                GroupInput::Set(src),
                Some(&combined),
            );
        }
        return loop_select(b, catalog, &rewritten, table, alias, None, Some(&combined));
    }
    if !lambdas(&exprs).is_empty() {
        if !table.shared {
            return Err(Error::new(
                "distributed operation with lambda is not supported",
            ));
        }
        if !s.group_by.is_empty() || s.having.is_some() {
            return group_lambda_select(b, s, table, alias);
        }
        return lambda_select(b, catalog, s, table, alias, None);
    }
    let sub = has_subquery(&exprs);
    if sub {
        if let Some(stmt) = pushdown_subqueries(b, catalog, s, table, alias)? {
            return Ok(stmt);
        }
    }
    if !s.group_by.is_empty() || s.having.is_some() || (sub && has_aggs(s)) {
        let set = if sub {
            let scope = Scope {
                table: Some(table),
                alias,
                aggs: None,
            };
            let all: Vec<Expr> = table
                .columns
                .iter()
                .map(|c| Expr::Name(vec![c.name.clone()]))
                .collect();
            Some(fetch(b, table, &scope, None, &all)?)
        } else {
            None
        };
        return group_select(
            b,
            catalog,
            s,
            table,
            alias,
            set.map_or(GroupInput::Nodes, GroupInput::Set),
            None,
        );
    }
    if sub {
        return loop_select(b, catalog, s, table, alias, None, None);
    }
    node_select(b, catalog, s)
}

/// A query over one table whose subqueries are all uncorrelated: they run first, and their
/// rows travel with the scan (`Send` sets), so the filter, projection and partial
/// aggregation still run on the nodes. None (with nothing emitted) when some subquery is
/// correlated: the query then runs as a coordinator loop.
fn pushdown_subqueries(
    b: &mut Builder,
    catalog: &Catalog,
    s: &Select,
    table: &Table,
    alias: Option<&str>,
) -> Result<Option<u16>> {
    let grouped = !s.group_by.is_empty() || s.having.is_some() || has_aggs(s);
    // a grouped query evaluates only its WHERE on the nodes
    let inline_scope = if grouped { s.filter.as_ref() } else { None };
    let Some(saved) = node_subqueries(
        b,
        catalog,
        &row_exprs(s),
        table,
        alias,
        grouped,
        inline_scope,
    )?
    else {
        return Ok(None);
    };
    let r = if grouped {
        group_select(b, catalog, s, table, alias, GroupInput::Nodes, None)
    } else {
        node_select(b, catalog, s)
    };
    b.end_node_subqueries(saved);
    r.map(Some)
}

/// Makes the subqueries of `exprs` readable by node code over `table`: uncorrelated ones are
/// compiled first (their rows are shipped), correlated ones become [`InlineSub`]s. When
/// `only_in` is set (`restricted`), correlated ones must appear in it. Returns the previous
/// lengths of `node_sets` and `node_inline` (for [`Builder::end_node_subqueries`]), or None, with
/// nothing emitted, when some subquery cannot run on the nodes.
pub(crate) fn node_subqueries(
    b: &mut Builder,
    catalog: &Catalog,
    exprs: &[&Expr],
    table: &Table,
    alias: Option<&str>,
    restricted: bool,
    only_in: Option<&Expr>,
) -> Result<Option<(usize, usize)>> {
    let mut total = 0;
    for e in exprs {
        walk(e, &mut |x| {
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
    let hoisted = hoist(b, catalog, exprs, &scope)?;
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
            walk(e, &mut |x| {
                if let Expr::Subquery(sel) | Expr::Exists(sel) = x {
                    if !hoisted.contains(sel) {
                        subs.push(sel)
                    }
                }
            });
        }
        let mut allowed: Vec<&Select> = Vec::new();
        if let Some(f) = only_in {
            walk(f, &mut |x| {
                if let Expr::Subquery(sel) | Expr::Exists(sel) = x {
                    allowed.push(sel)
                }
            });
        }
        for sel in subs {
            let candidate = if (restricted && !allowed.contains(&sel)) || in_sets.contains(&sel) {
                None
            } else {
                inline_candidate(b, catalog, sel, table, alias)?
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
    b.node_inline.extend(inline);
    Ok(Some(before))
}

/// The subqueries of `exprs` whose rows are a set (`x IN (SELECT ...)`, `x op ANY|ALL
/// (SELECT ...)`), as opposed to a scalar or EXISTS.
fn set_context_subqueries<'e>(exprs: &[&'e Expr]) -> Vec<&'e Select> {
    let mut out = Vec::new();
    for e in exprs {
        walk(e, &mut |x| match x {
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

/// A correlated scalar or EXISTS subquery evaluated in place by node code: a loop over the
/// rows of its source (a shared table fetched first, or a CTE) shipped with the request.
#[derive(Clone, Debug)]
pub(crate) struct InlineSub {
    /// The subquery as written (what expressions refer to).
    pub sel: Select,
    /// The subquery with the outer references as pseudo columns (see [`correlate`]).
    rewritten: Select,
    /// The source's columns followed by the outer table's pseudo columns.
    combined: Table,
    alias: Option<String>,
    /// The statement holding the source's rows.
    set: u16,
    /// Columns of the source.
    inner: u16,
}

/// An [`InlineSub`] for `sel` inside a query over `outer`, when its shape allows one: one
/// shared table or CTE, one item, no GROUP BY/HAVING/ORDER BY/LIMIT/DISTINCT, no nested
/// subqueries or lambdas, and qualified references to the outer table.
fn inline_candidate(
    b: &mut Builder,
    catalog: &Catalog,
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
            let t = resolve_table(catalog, &f.table)?;
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
            let all: Vec<Expr> = table
                .columns
                .iter()
                .map(|c| Expr::Name(vec![c.name.clone()]))
                .collect();
            fetch(b, &table, &scope, None, &all)?
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
pub(crate) fn inline_subquery(b: &mut Builder, sel: &Select, exists: bool) -> Result<Reg> {
    let info = b
        .node_inline
        .iter()
        .find(|i| i.sel == *sel)
        .cloned()
        .ok_or_else(|| Error::new("subqueries are not supported here"))?;
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
        _ => return Err(Error::new("subquery must return only one column")),
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
        crate::plan::conjuncts(f, &mut cs);
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

/// ORDER BY keys: (column, asc) over the output row, plus hidden expressions appended to it.
type OrderKeys = (Vec<(u16, bool)>, Vec<Expr>);

/// Computes the [`OrderKeys`] of `s`.
fn order_keys(s: &Select, items: &[(Expr, String)], table: Option<&Table>) -> Result<OrderKeys> {
    let n = items.len() as u16;
    let mut order_cols = Vec::new();
    let mut extra = Vec::new();
    for o in &s.order_by {
        let oe = crate::expr::position_literal(&o.expr);
        let col = match &*oe {
            Expr::Int(i) if *i >= 1 && (*i as usize) <= items.len() => (*i - 1) as u16,
            Expr::Int(_) => return Err(Error::new("ORDER BY: column position is out of range")),
            Expr::Name(p)
                if p.len() == 1
                    && items.iter().any(|(_, name)| *name == p[0])
                    && table.and_then(|t| t.column(&p[0])).is_none() =>
            {
                items
                    .iter()
                    .position(|(_, name)| *name == p[0])
                    .unwrap_or(0) as u16
            }
            e => {
                extra.push(e.clone());
                n + extra.len() as u16 - 1
            }
        };
        order_cols.push((col, o.asc));
    }
    Ok((order_cols, extra))
}

/// Evaluates `exprs` into consecutive registers and adds them as a row of `stmt`.
fn add_row(b: &mut Builder, stmt: u16, exprs: &[&Expr], scope: &Scope) -> Result<()> {
    let regs: Vec<Reg> = exprs
        .iter()
        .map(|e| expr(b, Sec::Coordinator, e, scope))
        .collect::<Result<_>>()?;
    let n = regs.len() as u16;
    let start = b.regs(Sec::Coordinator, n.max(1));
    for (i, r) in regs.iter().enumerate() {
        b.emit(
            Sec::Coordinator,
            Op::Move {
                dst: start + i as Reg,
                src: *r,
            },
        );
    }
    b.emit(Sec::Coordinator, Op::SetAdd { stmt, start, n });
    Ok(())
}

/// DISTINCT, ORDER BY, hidden column removal, OFFSET/LIMIT over the finished set.
fn finish_set(
    b: &mut Builder,
    s: &Select,
    stmt: u16,
    n: u16,
    order_cols: Vec<(u16, bool)>,
    width: u16,
) -> Result<()> {
    if s.distinct {
        b.emit(Sec::Coordinator, Op::Distinct { stmt, n });
    }
    if !order_cols.is_empty() {
        b.emit(
            Sec::Coordinator,
            Op::Sort {
                stmt,
                keys: order_cols,
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

fn new_stmt(b: &mut Builder, s: &Select, items: &[(Expr, String)]) -> u16 {
    let stmt = b.stmt(StmtInfo {
        columns: items.iter().map(|(_, n)| n.clone()).collect(),
        format: s.format.clone(),
        aggs: Vec::new(),
    });
    b.emit(Sec::Coordinator, Op::SetReset { stmt });
    stmt
}

fn check_no_aggs(items: &[(Expr, String)]) -> Result<()> {
    let mut aggs = Vec::new();
    for (e, _) in items {
        collect_aggs(e, &mut aggs);
    }
    if aggs.is_empty() {
        Ok(())
    } else {
        Err(Error::new("aggregates are not supported here"))
    }
}

/// SELECT without FROM, evaluated in the coordinator (against the outer row when nested).
fn const_select(
    b: &mut Builder,
    catalog: &Catalog,
    s: &Select,
    outer: Option<&Scope>,
) -> Result<u16> {
    let scope = outer.copied().unwrap_or_default();
    let items = expand_items(s, scope.table, scope.alias)?;
    let mut aggs = Vec::new();
    for (e, _) in &items {
        collect_aggs(e, &mut aggs);
    }
    if !aggs.is_empty() || !s.group_by.is_empty() || !lambdas(&row_exprs(s)).is_empty() {
        return Err(Error::new("no targets to use with GROUP BY or aggregates"));
    }
    let stmt = new_stmt(b, s, &items);
    prepare(b, catalog, &row_exprs(s), &scope)?;
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

/// Fetches node rows into a new hidden statement: `exprs` per row of `table` passing `filter`.
fn fetch(
    b: &mut Builder,
    table: &Table,
    scope: &Scope,
    filter: Option<&Expr>,
    exprs: &[Expr],
) -> Result<u16> {
    fetch_with(b, table, scope, filter, exprs, None)
}

/// [`fetch`], with `post` run on the node after the scan (e.g. partial grouping).
fn fetch_with(
    b: &mut Builder,
    table: &Table,
    scope: &Scope,
    filter: Option<&Expr>,
    exprs: &[Expr],
    post: Option<Op>,
) -> Result<u16> {
    let src = b.stmt(StmtInfo::default());
    b.emit(Sec::Coordinator, Op::SetReset { stmt: src });
    let entry = b.pc(Sec::Node) as u32;
    let (scan, target) = open_scan(b, table, scope, filter)?;
    let regs: Vec<Reg> = exprs
        .iter()
        .map(|e| expr(b, Sec::Node, e, scope))
        .collect::<Result<_>>()?;
    let n = regs.len() as u16;
    let start = b.regs(Sec::Node, n.max(1));
    for (i, r) in regs.iter().enumerate() {
        b.emit(
            Sec::Node,
            Op::Move {
                dst: start + i as Reg,
                src: *r,
            },
        );
    }
    b.emit(Sec::Node, Op::Emit { start, n });
    close_scan(b, scan);
    if let Some(op) = post {
        b.emit(Sec::Node, op);
    }
    b.emit(Sec::Node, Op::Ret);
    let tref = b.table(table);
    b.send(src, tref, entry, target);
    b.emit(
        Sec::Coordinator,
        Op::Recv {
            stmt: src,
            merge: Merge::Union,
        },
    );
    Ok(src)
}

/// Emits `SetLoop src`; returns its index (patched by [`close_loop`]) and the body start.
fn open_loop(b: &mut Builder, src: u16) -> (usize, u32) {
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
fn close_loop(b: &mut Builder, at: usize, body: u32) {
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

/// A query over one table whose expressions need the coordinator (subqueries): rows are
/// fetched whole and filtered/projected in a coordinator loop.
fn loop_select(
    b: &mut Builder,
    catalog: &Catalog,
    s: &Select,
    table: &Table,
    alias: Option<&str>,
    src: Option<u16>,
    corr: Option<&Table>,
) -> Result<u16> {
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
        None => {
            let all: Vec<Expr> = table
                .columns
                .iter()
                .map(|c| Expr::Name(vec![c.name.clone()]))
                .collect();
            fetch(b, table, &scope, None, &all)?
        }
    };
    let stmt = new_stmt(b, s, &items);
    let (order_cols, extra) = order_keys(s, &items, Some(table))?;
    let hoisted = hoist(b, catalog, &row_exprs(s), &scope)?;
    let (at, body) = open_loop(b, src);
    prepare_except(b, catalog, &row_exprs(s), &scope, &hoisted)?;
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

/// Where the rows of a grouped query come from.
#[derive(Clone, Copy)]
enum GroupInput<'a> {
    /// A scan of the table on its nodes, grouped partially there.
    Nodes,
    /// Rows already in the coordinator (a statement set).
    Set(u16),
    /// A join run on the nodes of its distributed table, grouped partially there.
    Join(&'a NodeJoin<'a>),
}

/// GROUP BY [HAVING]: nodes emit group keys and aggregate inputs per row, the coordinator
/// groups them and evaluates the items per group.
fn group_select(
    b: &mut Builder,
    catalog: &Catalog,
    s: &Select,
    table: &Table,
    alias: Option<&str>,
    input: GroupInput,
    corr: Option<&Table>,
) -> Result<u16> {
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
    let partial = !matches!(input, GroupInput::Set(_));
    let post = Op::GroupPartial {
        keys: keys.len() as u16,
        aggs: kinds.clone(),
    };
    let src = match input {
        // nodes group their rows into partial states, the coordinator merges them by key
        GroupInput::Nodes => fetch_with(b, table, &scope, s.filter.as_ref(), &inputs, Some(post))?,
        GroupInput::Join(join) => {
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
        GroupInput::Set(set) => {
            let inp = b.stmt(StmtInfo::default());
            b.emit(Sec::Coordinator, Op::SetReset { stmt: inp });
            let mut used: Vec<&Expr> = inputs.iter().collect();
            used.extend(s.filter.iter());
            let hoisted = hoist(b, catalog, &used, &scope)?;
            let (at, body) = open_loop(b, set);
            prepare_except(b, catalog, &used, &scope, &hoisted)?;
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

/// The id of the pseudo tables describing statement sets (their column types are unknown).
pub(crate) const PSEUDO_TABLE_ID: u64 = u64::MAX;

/// A pseudo table describing the rows of a statement set (FROM subquery / CTE).
fn set_table(name: &str, columns: &[String]) -> Table {
    Table {
        id: PSEUDO_TABLE_ID,
        schema: String::new(),
        name: name.to_string(),
        columns: columns.iter().map(|c| pseudo_column(c.clone())).collect(),
        indexes: Vec::new(),
        shared: true,
        unlogged: true,
        partitions: Vec::new(),
        serial: Default::default(),
    }
}

/// Lambda aggregates in `exprs` (outermost only, in order, without duplicates).
fn lambdas(exprs: &[&Expr]) -> Vec<Expr> {
    let mut out: Vec<Expr> = Vec::new();
    for e in exprs {
        walk(e, &mut |x| {
            if let Expr::Lambda { .. } = x {
                if !out.contains(x) {
                    out.push(x.clone())
                }
            }
        });
    }
    out
}

/// Lambda aggregates over a shared table: rows are fetched to the coordinator and folded in
/// order; `self` reads the running state.
fn lambda_select(
    b: &mut Builder,
    catalog: &Catalog,
    s: &Select,
    table: &Table,
    alias: Option<&str>,
    corr: Option<&Table>,
) -> Result<u16> {
    let scope = Scope {
        table: Some(table),
        alias,
        aggs: None,
    };
    let items = expand_items(s, Some(table), alias)?;
    check_no_aggs(&items)?;
    let item_exprs: Vec<&Expr> = items.iter().map(|(e, _)| e).collect();
    let lambdas = lambdas(&item_exprs);
    prepare(b, catalog, &item_exprs, &Scope::default())?;
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
                    return Err(Error::new("lambda seed cannot read columns"));
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

/// Mutable counterpart of [`walk`] (not descending into subqueries).
fn walk_mut(e: &mut Expr, f: &mut dyn FnMut(&mut Expr)) {
    f(e);
    match e {
        Expr::Unary { expr, .. } | Expr::IsNull { expr, .. } | Expr::Field { expr, .. } => {
            walk_mut(expr, f)
        }
        Expr::Lambda { seed, expr } => {
            walk_mut(seed, f);
            walk_mut(expr, f);
        }
        Expr::Binary { left, right, .. } | Expr::AnyAll { left, right, .. } => {
            walk_mut(left, f);
            walk_mut(right, f);
        }
        Expr::Index { expr, index } => {
            walk_mut(expr, f);
            walk_mut(index, f);
        }
        Expr::Between {
            expr, low, high, ..
        } => {
            walk_mut(expr, f);
            walk_mut(low, f);
            walk_mut(high, f);
        }
        Expr::In { expr, list, .. } => {
            walk_mut(expr, f);
            list.iter_mut().for_each(|x| walk_mut(x, f));
        }
        Expr::Function { args, .. } | Expr::Array(args) => {
            args.iter_mut().for_each(|x| walk_mut(x, f))
        }
        Expr::Object(pairs) => pairs.iter_mut().for_each(|(k, v)| {
            walk_mut(k, f);
            walk_mut(v, f);
        }),
        Expr::Aggregate { arg: Some(a), .. } => walk_mut(a, f),
        Expr::Case {
            operand,
            whens,
            else_,
        } => {
            if let Some(o) = operand {
                walk_mut(o, f);
            }
            for (w, t) in whens {
                walk_mut(w, f);
                walk_mut(t, f);
            }
            if let Some(e) = else_ {
                walk_mut(e, f);
            }
        }
        _ => {}
    }
}

/// Prefix of the pseudo columns that stand for outer-row columns in a correlated subquery.
const OUTER: &str = "\u{1}";

/// For a subquery over `table` inside a loop over `outer`: rewrites references qualified by
/// the outer target (`o.col` where `o` is not this query's target) into pseudo columns and
/// returns the rewritten query and the table extended with those columns. None when the
/// query does not refer to the outer row.
fn correlate(
    s: &Select,
    table: &Table,
    alias: Option<&str>,
    outer: &Scope,
) -> Option<(Select, Table)> {
    let ot = outer.table?;
    let own = alias.unwrap_or(&table.name);
    let outer_name = outer.alias.unwrap_or(&ot.name);
    let mut found = false;
    let mut r = s.clone();
    let mut fix = |e: &mut Expr| {
        if let Expr::Name(parts) = e {
            if parts.len() >= 2
                && parts[0] != own
                && (parts[0] == outer_name || parts[0] == ot.name)
                && ot.column(&parts[1]).is_some()
            {
                let mut p = vec![format!("{OUTER}{}", parts[1])];
                p.extend(parts[2..].iter().cloned());
                *parts = p;
                found = true;
            }
        }
    };
    for item in &mut r.items {
        if let SelectItem::Expr { expr, .. } = item {
            walk_mut(expr, &mut fix);
        }
    }
    if let Some(f) = &mut r.filter {
        walk_mut(f, &mut fix);
    }
    for o in &mut r.order_by {
        walk_mut(&mut o.expr, &mut fix);
    }
    if !found {
        return None;
    }
    let mut combined = table.clone();
    for c in &ot.columns {
        let mut c = c.clone();
        c.name = format!("{OUTER}{}", c.name);
        combined.columns.push(c);
    }
    Some((r, combined))
}

/// Redirects reads of the pseudo outer columns (ordinal >= `n`) emitted since `from` to the
/// row of the enclosing loop.
fn patch_outer(b: &mut Builder, from: usize, n: u16) {
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

/// `FROM a, b, ...` (inner/cross join): every source is materialized in the coordinator and
/// joined with nested loops; names are resolved against the sources in order.
fn join_select(b: &mut Builder, catalog: &Catalog, s: &Select) -> Result<u16> {
    // With one distributed table (and no subqueries) the join runs on its nodes: the other
    // sources are computed first and travel with the request. Without one, the first shared
    // table is scanned the same way on its node.
    let mut on_nodes = b.subquery_depth == 0 && !has_subquery(&row_exprs(s));
    let mut dist: Option<usize> = None;
    let mut first_shared: Option<usize> = None;
    for (i, f) in s.from.iter().enumerate() {
        if f.subquery.is_some() || f.function.is_some() || cte_source(b, f)?.is_some() {
            continue;
        }
        if !resolve_table(catalog, &f.table)?.shared {
            if dist.is_some() {
                on_nodes = false;
            }
            dist.get_or_insert(i);
        } else {
            first_shared.get_or_insert(i);
        }
    }
    let dist = dist.or(first_shared).filter(|_| on_nodes);
    // sources: (pseudo table, qualifier, row set)
    let mut sources: Vec<(Table, String, u16)> = Vec::new();
    let mut distributed = false;
    for (i, f) in s.from.iter().enumerate() {
        match &f.subquery {
            Some(sub) => {
                let Some(alias) = &f.alias else {
                    return Err(Error::new("FROM (SELECT) subquery must have an alias"));
                };
                let src = select_stmt(b, catalog, sub, None)?;
                let columns = b.p.stmts[src as usize].columns.clone();
                sources.push((set_table(alias, &columns), alias.clone(), src));
            }
            None if f.function.is_none() && cte_source(b, f)?.is_some() => {
                let (src, columns) = cte_source(b, f)?.unwrap_or_default();
                let q = f.alias.clone().unwrap_or_else(|| f.table.name.clone());
                sources.push((set_table(&q, &columns), q, src));
            }
            None => {
                let t = resolve_table(catalog, &f.table)?;
                if !t.shared && distributed {
                    return Err(Error::new(
                        "FROM: only one distributed table can be part of JOIN",
                    ));
                }
                distributed |= !t.shared;
                let q = f.alias.clone().unwrap_or_else(|| t.name.clone());
                let scope = Scope {
                    table: Some(t),
                    alias: f.alias.as_deref(),
                    aggs: None,
                };
                if dist == Some(i) {
                    sources.push(((**t).clone(), q, u16::MAX));
                    continue;
                }
                let all: Vec<Expr> = t
                    .columns
                    .iter()
                    .map(|c| Expr::Name(vec![c.name.clone()]))
                    .collect();
                let src = fetch(b, t, &scope, None, &all)?;
                sources.push(((**t).clone(), q, src));
            }
        }
    }
    let pseudo = |i: usize, c: &str| format!("{OUTER}{i}{OUTER}{c}");
    // the combined pseudo table and the (source, column) of each of its columns
    let mut combined = set_table("", &[]);
    let mut origin: Vec<(usize, u16)> = Vec::new();
    for (i, (t, _, _)) in sources.iter().enumerate() {
        for (j, c) in t.columns.iter().enumerate() {
            let mut c = c.clone();
            c.name = pseudo(i, &c.name);
            combined.columns.push(c);
            origin.push((i, j as u16));
        }
    }
    let resolve = |parts: &[String]| -> Option<Vec<String>> {
        if parts.len() >= 2 {
            if let Some(i) = sources.iter().position(|(_, q, _)| *q == parts[0]) {
                let mut p = vec![pseudo(i, &parts[1])];
                p.extend(parts[2..].iter().cloned());
                return Some(p);
            }
        }
        None
    };
    // column references in joins must name their target
    let unqualified = |parts: &[String]| -> Option<String> {
        let first = parts.first()?;
        if first.starts_with(OUTER) || sources.iter().any(|(_, q, _)| q == first) {
            return None;
        }
        sources
            .iter()
            .any(|(t, _, _)| t.column(first).is_some())
            .then(|| first.clone())
    };
    let mut bad: Option<String> = None;
    let mut fix = |e: &mut Expr| {
        if let Expr::Name(parts) = e {
            if let Some(p) = resolve(parts) {
                *parts = p;
            } else if let Some(c) = unqualified(parts) {
                bad.get_or_insert(c);
            }
        }
    };
    let mut items: Vec<(Expr, String)> = Vec::new();
    for (k, item) in s.items.iter().enumerate() {
        match item {
            SelectItem::Wildcard | SelectItem::QualifiedWildcard(_) => {
                let only = match item {
                    SelectItem::QualifiedWildcard(q) => Some(
                        sources
                            .iter()
                            .position(|(_, n, _)| n == q)
                            .ok_or_else(|| Error::new(format!("<{q}> target not found")))?,
                    ),
                    _ => None,
                };
                for (i, (t, _, _)) in sources.iter().enumerate() {
                    if only.is_some_and(|o| o != i) {
                        continue;
                    }
                    for c in &t.columns {
                        items.push((Expr::Name(vec![pseudo(i, &c.name)]), c.name.clone()));
                    }
                }
            }
            SelectItem::Expr { expr: e, .. } => {
                let mut e = e.clone();
                walk_mut(&mut e, &mut fix);
                items.push((e, item_name(item, k)));
            }
        }
    }
    let mut filter = s.filter.clone();
    if let Some(f) = &mut filter {
        walk_mut(f, &mut fix);
    }
    let mut order = s.clone();
    order
        .order_by
        .iter_mut()
        .for_each(|o| walk_mut(&mut o.expr, &mut fix));
    order
        .group_by
        .iter_mut()
        .for_each(|e| walk_mut(e, &mut fix));
    if let Some(h) = &mut order.having {
        walk_mut(h, &mut fix);
    }
    if let Some(c) = bad {
        return Err(Error::new(format!(
            "<{c}> column requires explicit target name"
        )));
    }
    let grouped = !s.group_by.is_empty() || s.having.is_some() || has_aggs(s);
    if let (true, Some(d)) = (grouped, dist) {
        // aggregates and GROUP BY over the join: partial groups per node, merged here
        let join = NodeJoin {
            sources: &sources,
            dist: d,
            origin: &origin,
        };
        let mut r = order;
        r.items = items
            .iter()
            .map(|(e, name)| SelectItem::Expr {
                expr: e.clone(),
                alias: Some(name.clone()),
            })
            .collect();
        r.filter = filter;
        r.from.clear();
        return group_select(
            b,
            catalog,
            &r,
            &combined,
            None,
            GroupInput::Join(&join),
            None,
        );
    }
    check_no_aggs(&items)?;
    if grouped {
        return Err(Error::new("GROUP BY with joins is not supported yet"));
    }
    let (order_cols, extra) = order_keys(&order, &items, None)?;
    let stmt = new_stmt(b, s, &items);
    if let Some(d) = dist {
        let scope = Scope {
            table: Some(&combined),
            alias: None,
            aggs: None,
        };
        let exprs: Vec<&Expr> = items.iter().map(|(e, _)| e).chain(extra.iter()).collect();
        let join = NodeJoin {
            sources: &sources,
            dist: d,
            origin: &origin,
        };
        let n = items.len() as u16;
        join.emit(b, stmt, &scope, filter.as_ref(), &exprs, |b| {
            node_finish(b, s, n, &order_cols)
        })?;
        let width = exprs.len() as u16;
        finish_set(b, s, stmt, items.len() as u16, order_cols, width)?;
        return Ok(stmt);
    }
    let mut loops = Vec::new();
    for (_, _, src) in &sources {
        loops.push(open_loop(b, *src));
    }
    let scope = Scope {
        table: Some(&combined),
        alias: None,
        aggs: None,
    };
    let from = b.pc(Sec::Coordinator);
    if let Some(f) = &filter {
        let cond = expr(b, Sec::Coordinator, f, &scope)?;
        b.emit(Sec::Coordinator, Op::JumpIfNot { cond, to: u32::MAX });
    }
    let exprs: Vec<&Expr> = items.iter().map(|(e, _)| e).chain(extra.iter()).collect();
    add_row(b, stmt, &exprs, &scope)?;
    let n = sources.len();
    for op in &mut b.code(Sec::Coordinator)[from..] {
        if let Op::Column { dst, col } = *op {
            if let Some((i, local)) = origin.get(col as usize) {
                let depth = (n - 1 - i) as u16;
                *op = if depth == 0 {
                    Op::Column { dst, col: *local }
                } else {
                    Op::OuterColumn {
                        dst,
                        depth,
                        col: *local,
                    }
                };
            }
        }
    }
    for (at, body) in loops.into_iter().rev() {
        close_loop(b, at, body);
    }
    let width = exprs.len() as u16;
    finish_set(b, s, stmt, items.len() as u16, order_cols, width)?;
    Ok(stmt)
}

/// A join with one distributed table, run on every node of that table: nested loops in FROM
/// order, where the distributed source is a scan of the node's own partition and every other
/// source is a loop over rows shipped with the request. Partition results are concatenated
/// in partition order.
struct NodeJoin<'j> {
    /// (table, qualifier, row set) per FROM item; the set of `dist` is unused.
    sources: &'j [(Table, String, u16)],
    dist: usize,
    /// (source, column) of each column of the combined pseudo table.
    origin: &'j [(usize, u16)],
}

impl NodeJoin<'_> {
    /// The position of set source `i` among the set loops (the scan is not one).
    fn loop_pos(&self, i: usize) -> u16 {
        (i - usize::from(i > self.dist)) as u16
    }

    /// An AND-ed `a = b` of the filter where `a` is a column of set source `i` and `b` a
    /// column of a source before it: (column of `i`, source of `b`, column of `b`).
    fn probe(&self, scope: &Scope, filter: Option<&Expr>, i: usize) -> Option<(u16, usize, u16)> {
        let table = scope.table?;
        let mut cs = Vec::new();
        crate::plan::conjuncts(filter?, &mut cs);
        let col = |e: &Expr| match e {
            Expr::Name(p) if p.len() == 1 => table
                .column(&p[0])
                .and_then(|c| self.origin.get(c).copied()),
            _ => None,
        };
        for c in cs {
            let Expr::Binary {
                op: amelie_parser::BinaryOp::Eq,
                left,
                right,
            } = c
            else {
                continue;
            };
            for (a, b) in [(left, right), (right, left)] {
                if let (Some((sa, ca)), Some((sb, cb))) = (col(a), col(b)) {
                    if sa == i && sb < i {
                        return Some((ca, sb, cb));
                    }
                }
            }
        }
        None
    }

    /// Emits the node code (rows `exprs` per joined tuple passing `filter`, then `post`
    /// over the partition's rows) and its `Send`/`Recv` into `stmt`.
    fn emit(
        &self,
        b: &mut Builder,
        stmt: u16,
        scope: &Scope,
        filter: Option<&Expr>,
        exprs: &[&Expr],
        post: impl FnOnce(&mut Builder) -> Result<()>,
    ) -> Result<()> {
        let entry = b.pc(Sec::Node) as u32;
        let table = b.table(&self.sources[self.dist].0);
        // (op index, loop body; None for the scan)
        let mut levels: Vec<(usize, Option<u32>)> = Vec::new();
        let mut open = 0u16;
        for (i, (_, _, src)) in self.sources.iter().enumerate() {
            if let Some((col, j, jcol)) = (i != self.dist)
                .then(|| self.probe(scope, filter, i))
                .flatten()
            {
                // `set.col = <column of an enclosing source>`: visit only the matching rows
                b.use_set(*src);
                let key = b.regs(Sec::Node, 1);
                let read = if j == self.dist {
                    Op::Column {
                        dst: key,
                        col: jcol,
                    }
                } else {
                    Op::OuterColumn {
                        dst: key,
                        depth: open - 1 - self.loop_pos(j),
                        col: jcol,
                    }
                };
                b.emit(Sec::Node, read);
                let at = b.emit(
                    Sec::Node,
                    Op::SetProbe {
                        stmt: *src,
                        col,
                        key,
                        end: u32::MAX,
                    },
                );
                levels.push((at, Some(b.pc(Sec::Node) as u32)));
                open += 1;
                continue;
            }
            if i == self.dist {
                let at = b.emit(
                    Sec::Node,
                    Op::Scan {
                        table,
                        key: None,
                        key_len: 0,
                        end: 0,
                    },
                );
                levels.push((at, None));
            } else {
                b.use_set(*src);
                let at = b.emit(
                    Sec::Node,
                    Op::SetLoop {
                        stmt: *src,
                        end: u32::MAX,
                    },
                );
                levels.push((at, Some(b.pc(Sec::Node) as u32)));
                open += 1;
            }
        }
        let from = b.pc(Sec::Node);
        if let Some(f) = filter {
            let cond = expr(b, Sec::Node, f, scope)?;
            b.emit(Sec::Node, Op::JumpIfNot { cond, to: u32::MAX });
        }
        let regs: Vec<Reg> = exprs
            .iter()
            .map(|e| expr(b, Sec::Node, e, scope))
            .collect::<Result<_>>()?;
        let width = regs.len() as u16;
        let start = b.regs(Sec::Node, width.max(1));
        for (i, r) in regs.iter().enumerate() {
            b.emit(
                Sec::Node,
                Op::Move {
                    dst: start + i as Reg,
                    src: *r,
                },
            );
        }
        b.emit(Sec::Node, Op::Emit { start, n: width });
        // columns of the combined table: the scanned row, or a row of an enclosing set loop
        let nloops = (self.sources.len() - 1) as u16;
        for op in &mut b.p.node[from..] {
            if let Op::Column { dst, col } = *op {
                if let Some(&(i, local)) = self.origin.get(col as usize) {
                    *op = if i == self.dist {
                        Op::Column { dst, col: local }
                    } else {
                        Op::OuterColumn {
                            dst,
                            depth: nloops - 1 - self.loop_pos(i),
                            col: local,
                        }
                    };
                }
            }
        }
        for (at, body) in levels.into_iter().rev() {
            let next = b.pc(Sec::Node) as u32;
            if let Some(body) = body {
                b.emit(Sec::Node, Op::SetNext { body });
            }
            let end = b.pc(Sec::Node) as u32;
            let skip = if body.is_some() { next } else { end };
            for (k, op) in b.p.node[at..].iter_mut().enumerate() {
                match op {
                    Op::Scan { end: e, .. } if k == 0 => *e = end,
                    Op::SetLoop { end: e, .. } | Op::SetProbe { end: e, .. } if k == 0 => *e = end,
                    Op::JumpIfNot { to, .. } if *to == u32::MAX => *to = skip,
                    _ => {}
                }
            }
        }
        post(b)?;
        b.emit(Sec::Node, Op::Ret);
        let target = b.target(Target::All);
        b.send(stmt, table, entry, target);
        b.emit(
            Sec::Coordinator,
            Op::Recv {
                stmt,
                merge: Merge::Union,
            },
        );
        Ok(())
    }
}

/// `USE INDEX (name)`: the query with the index order appended to its ORDER BY (tree indexes
/// are ordered by their keys, then the primary key; hash indexes have no order).
fn index_order(s: &Select, table: &Table, name: &str) -> Result<Select> {
    let ix = table
        .indexes
        .iter()
        .find(|i| i.name == name)
        .ok_or_else(|| Error::new(format!("index '{name}': not exists")))?;
    let mut r = s.clone();
    if ix.kind == amelie_common::IndexKind::Tree {
        for k in ix.keys.iter().chain(table.primary().keys.iter()) {
            if let Some(c) = table.columns.get(*k) {
                r.order_by.push(amelie_parser::OrderBy {
                    expr: Expr::Name(vec![c.name.clone()]),
                    asc: true,
                });
            }
        }
    }
    Ok(r)
}

/// Comparisons of a primary-key column with a constant of an incomparable type are rejected
/// when planning (as Amelie does), even if the table is empty.
fn check_key_types(b: &Builder, t: &Table, scope: &Scope, filter: &Expr) -> Result<()> {
    use amelie_common::Type;
    use amelie_parser::BinaryOp as B;
    let group = |ty: Type| match ty {
        Type::Int | Type::Double | Type::Bool | Type::Timestamp => Some(0),
        Type::String => Some(1),
        _ => None,
    };
    let mut stack = vec![filter];
    while let Some(e) = stack.pop() {
        let Expr::Binary { op, left, right } = e else {
            continue;
        };
        let symbol = match op {
            B::And => {
                stack.push(left);
                stack.push(right);
                continue;
            }
            B::Eq | B::NotEq => "=",
            B::Lt => "<",
            B::LtEq => "<=",
            B::Gt => ">",
            B::GtEq => ">=",
            _ => continue,
        };
        let side = |x: &Expr| -> Result<Option<Type>> {
            if let Expr::Name(parts) = x {
                if let Ok(col) = scope.column(parts) {
                    if t.is_key(col) {
                        return Ok(Some(t.columns[col].ty.runtime()));
                    }
                }
                return Ok(None);
            }
            crate::expr::const_type(x, b)
        };
        let key_left = matches!(&**left, Expr::Name(_));
        let key_right = matches!(&**right, Expr::Name(_));
        if key_left == key_right {
            continue;
        }
        let (Some(l), Some(r)) = (side(left)?, side(right)?) else {
            continue;
        };
        if let (Some(x), Some(y)) = (group(l), group(r)) {
            if x != y {
                return Err(Error::new(format!(
                    "unsupported operation: <{}> {symbol} <{}>",
                    l.name(),
                    r.name()
                )));
            }
        }
    }
    Ok(())
}

/// `FROM f(args) [alias]`: the elements of the JSON array returned by `f` are the rows, of one
/// column named by the target; other names are paths into the element.
fn function_select(
    b: &mut Builder,
    catalog: &Catalog,
    s: &Select,
    call: &Expr,
    target: &str,
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
            SelectItem::Expr { expr, .. } => walk_mut(expr, &mut fix),
            SelectItem::QualifiedWildcard(q) if q == target => *item = SelectItem::Wildcard,
            _ => {}
        }
    }
    if let Some(f) = &mut r.filter {
        walk_mut(f, &mut fix);
    }
    for o in &mut r.order_by {
        walk_mut(&mut o.expr, &mut fix);
    }
    for g in &mut r.group_by {
        walk_mut(g, &mut fix);
    }
    if let Some(h) = &mut r.having {
        walk_mut(h, &mut fix);
    }
    let mut t = set_table(target, std::slice::from_ref(&col));
    t.name = target.to_string();
    let mut out = if !r.group_by.is_empty() || r.having.is_some() || has_aggs(&r) {
        group_select(b, catalog, &r, &t, None, GroupInput::Set(src), None)
    } else {
        loop_select(b, catalog, &r, &t, None, Some(src), None)
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

#[cfg(test)]
mod tests {
    use crate::{compile, CompileCtx, Compiled};
    use amelie_catalog::{Catalog, DdlOp, Node};
    use amelie_common::Result;
    use amelie_vm::{Op, Program};

    fn catalog(sql: &str) -> Catalog {
        let mut c = Catalog::default();
        c.apply(&DdlOp::CreateNode(Node {
            uuid: "node-0".into(),
        }))
        .unwrap();
        let req = amelie_parser::parse(sql).unwrap();
        let Compiled::Ddl(op) = compile(&req, &c, &CompileCtx::default()).unwrap() else {
            panic!("ddl expected");
        };
        c.apply(&op).unwrap();
        c
    }

    fn program(c: &Catalog, sql: &str) -> Result<Program> {
        let req = amelie_parser::parse(sql)?;
        match compile(&req, c, &CompileCtx::default())? {
            Compiled::Program(p) => Ok(p.program),
            _ => Err(amelie_common::Error::new("program expected")),
        }
    }

    fn err(c: &Catalog, sql: &str) -> String {
        program(c, sql).unwrap_err().to_string()
    }

    /// A catalog with a distributed table `t` and shared tables `s` and `u`.
    fn catalog2() -> Catalog {
        let mut c = catalog("create table t (id int primary key, g int)");
        for sql in [
            "create shared table s (g int primary key, name text)",
            "create shared table u (g int primary key)",
        ] {
            let req = amelie_parser::parse(sql).unwrap();
            let Compiled::Ddl(op) = compile(&req, &c, &CompileCtx::default()).unwrap() else {
                panic!("ddl expected");
            };
            c.apply(&op).unwrap();
        }
        c
    }

    fn sends(p: &Program) -> Vec<(u16, Vec<u16>)> {
        p.coordinator
            .iter()
            .filter_map(|op| match op {
                Op::Send { stmt, sets, .. } => Some((*stmt, sets.clone())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn joins_with_one_distributed_table_run_on_its_nodes() {
        let c = catalog2();
        for sql in [
            "select t.id, s.name from t join s on t.g = s.g",
            "select s.name, t.id from s, u, t where t.g = s.g and u.g = s.g",
            "with c as (select g from s) select t.id from t join c on t.g = c.g",
            "select t.id from t join (select g from s) x on t.g = x.g",
        ] {
            let p = program(&c, sql).unwrap();
            // the shared/CTE sources are fetched or computed in the coordinator; the last
            // send runs the join over the distributed table and ships them
            let sends = sends(&p);
            let (_, sets) = sends.last().unwrap();
            assert!(!sets.is_empty(), "{sql}: {sends:?}");
            let loops = p
                .node
                .iter()
                .filter(|op| matches!(op, Op::SetLoop { .. } | Op::SetProbe { .. }))
                .count();
            assert_eq!(loops, sets.len(), "{sql}");
            // each of these has an equality with an enclosing source: a hash probe
            assert!(
                p.node.iter().any(|op| matches!(op, Op::SetProbe { .. })),
                "{sql}"
            );
            assert!(
                !p.coordinator
                    .iter()
                    .any(|op| matches!(op, Op::SetLoop { .. })),
                "{sql}: no coordinator loop"
            );
        }
        // shared tables only: the first one is scanned on its node
        let p = program(&c, "select s.name from s join u on s.g = u.g").unwrap();
        assert!(p.node.iter().any(|op| matches!(op, Op::SetProbe { .. })));
        assert!(!p
            .coordinator
            .iter()
            .any(|op| matches!(op, Op::SetLoop { .. })));
        // no table at all: the coordinator joins
        let p = program(
            &c,
            "with a as (select 1 as x), b as (select 1 as x) select a.x from a join b on a.x = b.x",
        )
        .unwrap();
        assert!(p
            .coordinator
            .iter()
            .any(|op| matches!(op, Op::SetLoop { .. })));
    }

    #[test]
    fn uncorrelated_subqueries_travel_with_the_scan() {
        let c = catalog2();
        let p = program(&c, "select id from t where g in (select g from s)").unwrap();
        assert_eq!(sends(&p), vec![(0, vec![]), (1, vec![0])]);
        assert!(p.node.iter().any(|op| matches!(op, Op::SetAnyAll { .. })));
        let p = program(
            &c,
            "select g, count(*) from t where exists (select 1 from s) group by g",
        )
        .unwrap();
        assert!(p.node.iter().any(|op| matches!(op, Op::SetExists { .. })));
        assert!(p
            .node
            .iter()
            .any(|op| matches!(op, Op::GroupPartial { .. })));
        // correlated scalar and EXISTS subqueries are evaluated in place on the nodes, over
        // the shared table's rows shipped with the scan (a probe on the equality)
        for sql in [
            "select (select name from s where s.g = t.g) from t",
            "select id from t where exists (select 1 from s where s.g = t.g and s.name > 'a')",
            "select id, (select count(*) from s where t.g = s.g) from t",
        ] {
            let p = program(&c, sql).unwrap();
            assert!(
                p.node.iter().any(|op| matches!(op, Op::SetProbe { .. })),
                "{sql}"
            );
            assert_eq!(sends(&p).last().map(|(_, s)| s.len()), Some(1), "{sql}");
        }
        // correlated IN, or a correlated subquery in a grouped query: the distributed rows
        // are fetched and looped over in the coordinator
        let p = program(
            &c,
            "select g, count(*) from t where exists (select 1 from s where s.g = t.g) group by g",
        )
        .unwrap();
        assert!(p.node.iter().any(|op| matches!(op, Op::SetProbe { .. })));
        for sql in [
            "select id from t where g in (select g from s where s.name = t.id::string)",
            "select id, (select name from s where s.g > t.g limit 1) from t",
        ] {
            let p = program(&c, sql).unwrap();
            assert!(
                p.coordinator
                    .iter()
                    .any(|op| matches!(op, Op::SetLoop { .. })),
                "{sql}"
            );
        }
    }

    #[test]
    fn order_limit_and_distinct_start_on_the_nodes() {
        let c = catalog2();
        let p = program(&c, "select id from t order by g desc limit 3 offset 2").unwrap();
        assert!(p
            .node
            .iter()
            .any(|op| matches!(op, Op::NodeSort { keys } if keys == &[(1, false)])));
        let top = p.node.iter().find_map(|op| match op {
            Op::NodeTop { limit, .. } => Some(*limit),
            _ => None,
        });
        assert!(top.is_some());
        assert!(p
            .coordinator
            .iter()
            .any(|op| matches!(op, Op::Limit { .. })));
        let p = program(&c, "select distinct g from t").unwrap();
        assert!(p
            .node
            .iter()
            .any(|op| matches!(op, Op::NodeDistinct { .. })));
        // a LIMIT that is not a constant stays in the coordinator
        let p = program(&c, "select id from t limit 1 + 1").unwrap();
        assert!(!p.node.iter().any(|op| matches!(op, Op::NodeTop { .. })));
    }

    #[test]
    fn select_scans_only_a_bounded_key_range() {
        let c = catalog2();
        let p = program(&c, "select id from t where id > 5 and g = 1").unwrap();
        assert!(p.node.iter().any(|op| matches!(op, Op::ScanRange { .. })));
        let p = program(&c, "select count(*) from t where id between 1 and 9").unwrap();
        assert!(p.node.iter().any(|op| matches!(op, Op::ScanRange { .. })));
        // no bound on the key: a full scan; the whole key: a point lookup
        let p = program(&c, "select id from t where g > 5").unwrap();
        assert!(!p.node.iter().any(|op| matches!(op, Op::ScanRange { .. })));
        let p = program(&c, "select id from t where id = 5").unwrap();
        assert!(p
            .node
            .iter()
            .any(|op| matches!(op, Op::Scan { key: Some(_), .. })));
    }

    #[test]
    fn independent_ctes_are_sent_together() {
        let c = catalog2();
        let p = program(
            &c,
            "with a as (select count(*) from t), b as (select id from t order by id limit 2) \
             select * from b",
        )
        .unwrap();
        let kinds: Vec<&str> = p
            .coordinator
            .iter()
            .filter_map(|op| match op {
                Op::Send { .. } => Some("send"),
                Op::Recv { .. } => Some("recv"),
                _ => None,
            })
            .collect();
        assert_eq!(kinds, ["send", "send", "recv", "recv"]);
        // a CTE that reads an earlier one waits for it
        let p = program(
            &c,
            "with a as (select g from s), b as (select t.id from t join a on t.g = a.g) \
             select * from b",
        )
        .unwrap();
        let kinds: Vec<&str> = p
            .coordinator
            .iter()
            .filter_map(|op| match op {
                Op::Send { .. } => Some("send"),
                Op::Recv { .. } => Some("recv"),
                _ => None,
            })
            .collect();
        assert_eq!(kinds, ["send", "recv", "send", "recv"]);
    }

    #[test]
    fn subqueries_and_any_all_compile_to_set_ops() {
        let c = catalog("create shared table t (id int primary key, data int)");
        let p = program(&c, "select 1 = any(select id from t)").unwrap();
        assert!(p
            .coordinator
            .iter()
            .any(|op| matches!(op, Op::SetAnyAll { .. })));
        let p = program(&c, "select 1 >= all([1, 2])").unwrap();
        assert!(p
            .coordinator
            .iter()
            .any(|op| matches!(op, Op::AnyAll { .. })));
        // correlated over a shared table: evaluated in place on the node
        let p = program(&c, "select (select id from t where t.id = o.id) from t o").unwrap();
        assert!(p.node.iter().any(|op| matches!(op, Op::SetProbe { .. })));
        // with ORDER BY it runs once per outer row from the coordinator
        let p = program(
            &c,
            "select (select id from t where t.id > o.id order by id desc) from t o",
        )
        .unwrap();
        assert!(p
            .coordinator
            .iter()
            .any(|op| matches!(op, Op::OuterColumn { .. })));
        assert!(program(&c, "select * from (select id from t) x, t").is_ok());
        assert!(program(
            &c,
            "select id, count(*) from t group by 1 having count(*) > 1"
        )
        .is_ok());
    }

    #[test]
    fn query_errors() {
        let c = catalog("create table t (id int primary key, data int)");
        assert_eq!(
            err(&c, "select self"),
            "unexpected <SELF> usage without lambda context"
        );
        assert_eq!(
            err(&c, "select * from (select 1)"),
            "FROM (SELECT) subquery must have an alias"
        );
        assert_eq!(
            err(&c, "select 1 in (select 1, 2)"),
            "IN: subquery must return one column"
        );
        assert_eq!(
            err(&c, "select 0 -> self + 1 from t"),
            "distributed operation with lambda is not supported"
        );
        assert_eq!(
            err(&c, "select * from t where id > 'x'"),
            "unsupported operation: <int> > <string>"
        );
        assert_eq!(
            err(&c, "select 1 -> 1"),
            "no targets to use with GROUP BY or aggregates"
        );
        assert_eq!(
            err(&c, "select (select id from t)"),
            "distributed table 'public.t' cannot be used in subquery"
        );
        assert_eq!(
            err(&c, "select * from t a join t b on a.id = b.id"),
            "FROM: only one distributed table can be part of JOIN"
        );
        assert_eq!(
            err(&c, "select * from t a left join t b on a.id = b.id"),
            "outer joins currently are not supported"
        );
    }
}

/// GROUP BY expressions, with output ordinals and aliases resolved to their items.
fn group_keys(s: &Select, items: &[(Expr, String)], table: &Table) -> Result<Vec<Expr>> {
    let mut keys = Vec::new();
    for g in &s.group_by {
        let g = crate::expr::position_literal(g);
        let e = match &*g {
            Expr::Int(i) if *i >= 1 && (*i as usize) <= items.len() => {
                items[(*i - 1) as usize].0.clone()
            }
            Expr::Int(_) => return Err(Error::new("GROUP BY: column position is out of range")),
            Expr::Name(p)
                if p.len() == 1
                    && table.column(&p[0]).is_none()
                    && items.iter().any(|(_, n)| *n == p[0]) =>
            {
                items
                    .iter()
                    .find(|(_, n)| *n == p[0])
                    .map(|(e, _)| e.clone())
                    .unwrap_or(Expr::Null)
            }
            e => e.clone(),
        };
        keys.push(e);
    }
    Ok(keys)
}

/// Patches the `JumpIfNot` / `Jump` at `at` to jump to the current coordinator position.
fn patch_here(b: &mut Builder, at: usize) {
    let here = b.pc(Sec::Coordinator) as u32;
    match &mut b.code(Sec::Coordinator)[at] {
        Op::JumpIfNot { to, .. } | Op::Jump { to } => *to = here,
        _ => {}
    }
}

fn not(b: &mut Builder, a: Reg) -> Reg {
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

fn binary(b: &mut Builder, op: amelie_vm::BinOp, a: Reg, c: Reg) -> Reg {
    let dst = b.regs(Sec::Coordinator, 1);
    b.emit(Sec::Coordinator, Op::Binary { op, dst, a, b: c });
    dst
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

/// GROUP BY with lambda aggregates (shared tables): rows sorted by the group key are folded
/// in order, one state per lambda, reset at every key change.
fn group_lambda_select(
    b: &mut Builder,
    s: &Select,
    table: &Table,
    alias: Option<&str>,
) -> Result<u16> {
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
        Op::Sort {
            stmt: src,
            keys: (0..nk).map(|i| (i, true)).collect(),
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

/// Whether the select list or ORDER BY of `s` has aggregate functions.
fn has_aggs(s: &Select) -> bool {
    let mut aggs = Vec::new();
    for item in &s.items {
        if let SelectItem::Expr { expr, .. } = item {
            collect_aggs(expr, &mut aggs);
        }
    }
    for o in &s.order_by {
        collect_aggs(&o.expr, &mut aggs);
    }
    !aggs.is_empty()
}

/// A FROM target naming a CTE of the request: its statement and column names.
fn cte_source(b: &Builder, f: &FromItem) -> Result<Option<(u16, Vec<String>)>> {
    if f.subquery.is_some() || f.function.is_some() || f.table.schema.is_some() {
        return Ok(None);
    }
    match b.ctes.iter().find(|(n, _, _)| *n == f.table.name) {
        Some((n, None, _)) => Err(Error::new(format!("<{n}> recursive CTE are not supported"))),
        Some((_, Some(stmt), cols)) => Ok(Some((*stmt, cols.clone()))),
        None => Ok(None),
    }
}

/// `WITH name [(cols)] AS (stmt), ... [main]`: every CTE runs as an earlier statement of the
/// program whose rows later statements read by name.
pub fn with(
    b: &mut Builder,
    catalog: &Catalog,
    ctes: &[amelie_parser::Cte],
    main: Option<&amelie_parser::Stmt>,
) -> Result<()> {
    use amelie_parser::Stmt;
    let mut last = None;
    let mut chunks = Vec::new();
    for cte in ctes {
        if b.ctes.iter().any(|(n, _, _)| *n == cte.name) {
            return Err(Error::new(format!("CTE <{}> redefined", cte.name)));
        }
        b.ctes.push((cte.name.clone(), None, Vec::new()));
        let before = b.p.stmts.len();
        let start = b.pc(Sec::Coordinator);
        let stmt = match &*cte.stmt {
            Stmt::Select(s) => Some(select_stmt(b, catalog, s, None)?),
            Stmt::Insert(i) => {
                crate::dml::insert(b, catalog, i)?;
                None
            }
            Stmt::Update(u) => {
                crate::dml::update(b, catalog, u)?;
                None
            }
            Stmt::Delete(d) => {
                crate::dml::delete(b, catalog, d)?;
                None
            }
            _ => return Err(Error::new("CTE: SELECT, INSERT, UPDATE or DELETE expected")),
        };
        // DML: its RETURNING rows are in the statement it created
        let stmt = stmt
            .or_else(|| (b.p.stmts.len() > before).then(|| (b.p.stmts.len() - 1) as u16))
            .ok_or_else(|| Error::new(format!("CTE <{}> returns no rows", cte.name)))?;
        let mut columns = b.p.stmts[stmt as usize].columns.clone();
        if !cte.columns.is_empty() {
            if cte.columns.len() != columns.len() {
                return Err(Error::new(format!(
                    "CTE <{}> arguments number mismatch",
                    cte.name
                )));
            }
            columns = cte.columns.clone();
            b.p.stmts[stmt as usize].columns = columns.clone();
        }
        if let Some(entry) = b.ctes.iter_mut().find(|(n, _, _)| *n == cte.name) {
            *entry = (cte.name.clone(), Some(stmt), columns);
        }
        last = Some(stmt);
        chunks.push(crate::pipeline::Chunk {
            start,
            end: b.pc(Sec::Coordinator),
            first_stmt: before as u16,
        });
    }
    crate::pipeline::pipeline(&mut b.p, &chunks);
    match main {
        Some(Stmt::Select(s)) => select(b, catalog, s),
        Some(Stmt::Insert(i)) => crate::dml::insert(b, catalog, i),
        Some(Stmt::Update(u)) => crate::dml::update(b, catalog, u),
        Some(Stmt::Delete(d)) => crate::dml::delete(b, catalog, d),
        Some(_) => Err(Error::new("CTE: unsupported main statement")),
        None => {
            if let Some(stmt) = last {
                b.emit(Sec::Coordinator, Op::Result { stmt });
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod cte_tests {
    use crate::{compile, CompileCtx, Compiled};
    use amelie_catalog::Catalog;

    fn err(sql: &str) -> String {
        let req = amelie_parser::parse(sql).unwrap();
        match compile(&req, &Catalog::default(), &CompileCtx::default()) {
            Err(e) => e.to_string(),
            Ok(_) => String::new(),
        }
    }

    #[test]
    fn cte_rules() {
        let req = amelie_parser::parse("with a (x) as (select 1) select x from a").unwrap();
        let Ok(Compiled::Program(_)) = compile(&req, &Catalog::default(), &CompileCtx::default())
        else {
            panic!("program expected");
        };
        assert_eq!(
            err("with a as (select 1), a as (select 2) select 1"),
            "CTE <a> redefined"
        );
        assert_eq!(
            err("with a as (select * from a) select 1"),
            "<a> recursive CTE are not supported"
        );
        assert_eq!(
            err("with a (x) as (select 1, 2) select 1"),
            "CTE <a> arguments number mismatch"
        );
        assert_eq!(err("with a as (select 1)"), "");
    }
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
        walk(e, &mut |x| {
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

/// Compiles the uncorrelated subqueries of `exprs` once, before a loop over the rows of
/// `outer` starts (instead of once per row); returns them. A subquery that names the outer
/// target or does not compile on its own is left for [`prepare_except`] inside the loop.
fn hoist(
    b: &mut Builder,
    catalog: &Catalog,
    exprs: &[&Expr],
    outer: &Scope,
) -> Result<Vec<Select>> {
    let mut subs: Vec<&Select> = Vec::new();
    for e in exprs {
        walk(e, &mut |x| {
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
        let compiled = select_stmt(b, catalog, sel, None);
        b.subquery_depth -= 1;
        match compiled {
            Err(e) if e.msg().contains("cannot be used in subquery") => return Err(e),
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

/// A column of a pseudo table (statement set rows): untyped, no constraints.
fn pseudo_column(name: impl Into<String>) -> amelie_catalog::Column {
    amelie_catalog::Column {
        name: name.into(),
        ty: amelie_common::ColumnType::Json,
        not_null: false,
        default: None,
        serial: false,
        random: None,
        gen: Default::default(),
    }
}
