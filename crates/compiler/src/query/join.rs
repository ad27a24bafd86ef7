//! Joins (`FROM a, b, ...`, `JOIN ... ON`). Every source but the one whose nodes run the join
//! is computed first (shared tables fetched, CTEs, FROM subqueries), and names are resolved
//! against the sources in FROM order ([`sources`]). With a table to run on ([`NodeJoin`]) the
//! join is nested loops in node code over that table's partitions and the shipped rows of
//! the others; otherwise it runs as nested loops in the coordinator ([`rows`]). Grouped joins
//! go through `group` with [`NodeJoin`] as their input.

use super::access::conjuncts;
use super::cte::cte_source;
use super::emit::{add_row, close_loop, finish_set, new_stmt, open_loop};
use super::plan::{item_name, order_keys, resolve_table, set_table, Cx, OUTER};
use super::scan::{fetch_all, node_finish};
use crate::builder::{Builder, Sec};
use crate::expr::{expr, unique_column, Scope};
use amelie_catalog::Table;
use amelie_common::{Error, Result};
use amelie_parser::{Expr, Select, SelectItem};
use amelie_vm::op::Merge;
use amelie_vm::program::Target;
use amelie_vm::{Op, Reg};

/// The sources of a join and its query with names resolved against them.
pub(super) struct Join {
    /// (table, qualifier, row set) per FROM item; the set of the table that runs the join is
    /// unused (`u16::MAX`).
    pub sources: Vec<(Table, String, u16)>,
    /// The pseudo table of every source's columns, in FROM order.
    pub combined: Table,
    /// (source, column) of each column of `combined`.
    pub origin: Vec<(usize, u16)>,
    /// The select list over `combined`: (expression, name).
    pub items: Vec<(Expr, String)>,
    /// WHERE over `combined`.
    pub filter: Option<Expr>,
    /// The query with ORDER BY, GROUP BY and HAVING over `combined`.
    pub order: Select,
}

impl Join {
    /// The join run on the nodes of source `dist`.
    pub fn on_nodes(&self, dist: usize) -> NodeJoin<'_> {
        NodeJoin {
            sources: &self.sources,
            dist,
            origin: &self.origin,
        }
    }

    /// The query over `combined` (for a grouped join: its items named, its filter resolved).
    pub fn select(&self) -> Select {
        let mut r = self.order.clone();
        r.items = self
            .items
            .iter()
            .map(|(e, name)| SelectItem::Expr {
                expr: e.clone(),
                alias: Some(name.clone()),
            })
            .collect();
        r.filter = self.filter.clone();
        r.from.clear();
        r
    }
}

/// Computes the sources of the join `s` (all but `dist`, the one whose nodes run it) and
/// resolves the query's names against them: every column reference must name its source.
pub(super) fn sources(b: &mut Builder, cx: &Cx, s: &Select, dist: Option<usize>) -> Result<Join> {
    // sources: (pseudo table, qualifier, row set)
    let mut sources: Vec<(Table, String, u16)> = Vec::new();
    let mut distributed = false;
    for (i, f) in s.from.iter().enumerate() {
        match &f.subquery {
            Some(sub) => {
                let Some(alias) = &f.alias else {
                    return Err(Error::syntax("FROM (SELECT) subquery must have an alias"));
                };
                let src = (cx.select)(b, cx, sub, None)?;
                let columns = b.p.stmts[src as usize].columns.clone();
                sources.push((set_table(alias, &columns), alias.clone(), src));
            }
            None if f.function.is_none() && cte_source(b, f)?.is_some() => {
                let (src, columns) = cte_source(b, f)?.unwrap_or_default();
                let q = f.alias.clone().unwrap_or_else(|| f.table.name.clone());
                sources.push((set_table(&q, &columns), q, src));
            }
            None => {
                let t = resolve_table(cx.catalog, &f.table)?;
                if !t.shared && distributed {
                    return Err(Error::unsupported(
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
                let src = fetch_all(b, t, &scope)?;
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
    // `q.col[.path]` naming a source: its pseudo column; the column must be one of that
    // source's, and only one
    let resolve = |parts: &[String]| -> Result<Option<Vec<String>>> {
        if parts.len() >= 2 {
            if let Some(i) = sources.iter().position(|(_, q, _)| *q == parts[0]) {
                let (t, q, _) = &sources[i];
                if unique_column(t, q, &parts[1])?.is_none() {
                    return Err(Error::not_found(format!(
                        "<{q}.{}> column not found",
                        parts[1]
                    )));
                }
                let mut p = vec![pseudo(i, &parts[1])];
                p.extend(parts[2..].iter().cloned());
                return Ok(Some(p));
            }
        }
        Ok(None)
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
    // the first naming error, reported once every expression has been looked at
    let mut bad: Option<Error> = None;
    let mut fix = |e: &mut Expr| {
        if let Expr::Name(parts) = e {
            match resolve(parts) {
                Ok(Some(p)) => *parts = p,
                Ok(None) => {
                    if let Some(c) = unqualified(parts) {
                        bad.get_or_insert_with(|| {
                            Error::unsupported(format!(
                                "<{c}> column requires explicit target name"
                            ))
                        });
                    }
                }
                Err(e) => {
                    bad.get_or_insert(e);
                }
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
                            .ok_or_else(|| Error::not_found(format!("<{q}> target not found")))?,
                    ),
                    _ => None,
                };
                for (i, (t, q, _)) in sources.iter().enumerate() {
                    if only.is_some_and(|o| o != i) {
                        continue;
                    }
                    for c in &t.columns {
                        unique_column(t, q, &c.name)?;
                        items.push((Expr::Name(vec![pseudo(i, &c.name)]), c.name.clone()));
                    }
                }
            }
            SelectItem::Expr { expr: e, .. } => {
                let mut e = e.clone();
                e.for_each_mut(&mut fix);
                items.push((e, item_name(item, k)));
            }
        }
    }
    let mut filter = s.filter.clone();
    if let Some(f) = &mut filter {
        f.for_each_mut(&mut fix);
    }
    let mut order = s.clone();
    order
        .order_by
        .iter_mut()
        .for_each(|o| o.expr.for_each_mut(&mut fix));
    order
        .group_by
        .iter_mut()
        .for_each(|e| e.for_each_mut(&mut fix));
    order
        .distinct_on
        .iter_mut()
        .for_each(|e| e.for_each_mut(&mut fix));
    if let Some(h) = &mut order.having {
        h.for_each_mut(&mut fix);
    }
    if let Some(e) = bad {
        return Err(e);
    }
    Ok(Join {
        sources,
        combined,
        origin,
        items,
        filter,
        order,
    })
}

/// The rows of a join (not grouped): on the nodes of source `dist` through [`NodeJoin`], or
/// as nested loops in the coordinator.
pub(super) fn rows(b: &mut Builder, s: &Select, j: &Join, dist: Option<usize>) -> Result<u16> {
    let Join {
        sources,
        combined,
        origin,
        items,
        filter,
        order,
    } = j;
    let (order_cols, extra) = order_keys(order, items, None)?;
    let stmt = new_stmt(b, s, items);
    if let Some(d) = dist {
        let scope = Scope {
            table: Some(combined),
            alias: None,
            aggs: None,
        };
        let exprs: Vec<&Expr> = items.iter().map(|(e, _)| e).chain(extra.iter()).collect();
        let join = j.on_nodes(d);
        join.emit(b, stmt, &scope, filter.as_ref(), &exprs, |b| {
            node_finish(b, s, &order_cols)
        })?;
        let width = exprs.len() as u16;
        finish_set(b, s, stmt, items.len() as u16, order_cols, width)?;
        return Ok(stmt);
    }
    let mut loops = Vec::new();
    for (_, _, src) in sources {
        loops.push(open_loop(b, *src));
    }
    let scope = Scope {
        table: Some(combined),
        alias: None,
        aggs: None,
    };
    let from = b.pc(Sec::Coordinator);
    if let Some(f) = filter {
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
pub(super) struct NodeJoin<'j> {
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
        conjuncts(filter?, &mut cs);
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
    pub(super) fn emit(
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
        let start = b.consecutive(Sec::Node, &regs);
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
