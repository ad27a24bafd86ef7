//! Deciding a query's shape: [`plan`] turns a SELECT into a [`QueryPlan`] (where its rows
//! come from, whether it is grouped, uses lambdas or is correlated with an outer query, and so
//! what runs on the nodes and what in the coordinator) before any code is emitted. The
//! emission modules (`scan`, `group`, `join`, `rowset`, `lambda`, `subquery`) consume the plan;
//! the dispatcher in `query/mod.rs` picks one of them for each plan. Also here: the AST
//! helpers every part shares (the select list, ORDER BY / GROUP BY keys, pseudo tables for
//! statement sets, the rewriting of outer references in correlated subqueries).

use super::cte::cte_source;
use crate::builder::Builder;
use crate::expr::{collect_aggs, Scope, PSEUDO_TABLE_ID};
use amelie_catalog::{Catalog, Table};
use amelie_common::format::Format;
use amelie_common::{Error, ErrorKind, Result};
use amelie_parser::{Expr, FromItem, ObjectName, OrderBy, Select, SelectItem};
use std::borrow::Cow;
use std::sync::Arc;

/// What query emission needs besides the builder: the catalog, and the compiler of nested
/// queries (FROM subqueries, subquery expressions), a function pointer so that the emission
/// modules need not depend on the dispatcher that depends on them.
pub(crate) struct Cx<'c> {
    pub catalog: &'c Catalog,
    /// Compiles a query into a new statement (the dispatcher, `query::select_stmt`);
    /// `outer` resolves correlated names.
    pub select: SelectFn,
}

/// See [`Cx::select`].
pub(crate) type SelectFn = fn(&mut Builder, &Cx, &Select, Option<&Scope>) -> Result<u16>;

/// A query's plan: see the module head.
pub(crate) struct QueryPlan<'a> {
    /// The query as compiled: with the `USE INDEX` order appended to its ORDER BY and, when
    /// correlated, its outer references rewritten into pseudo columns (see [`correlate`]).
    pub select: Cow<'a, Select>,
    pub source: Source<'a>,
    pub shape: Shape,
}

/// A query over one source, as the emission modules see it.
#[derive(Clone, Copy)]
pub(crate) struct Query<'a> {
    pub select: &'a Select,
    /// The source: a catalog table or the pseudo table of a statement set.
    pub table: &'a Table,
    pub alias: Option<&'a str>,
    /// A correlated subquery: `table` followed by the outer row's pseudo columns (see
    /// [`correlate`]).
    pub corr: Option<&'a Table>,
}

/// Where a query's rows come from.
pub(crate) enum Source<'a> {
    /// No FROM: one row evaluated in the coordinator (against the outer row when nested).
    None,
    /// A CTE of the request: the rows of an earlier statement.
    Cte {
        stmt: u16,
        /// The pseudo table of its columns.
        table: Table,
        alias: Option<&'a str>,
    },
    /// `FROM (SELECT ...) alias`: compiled first into a statement of its own.
    Subquery {
        sub: &'a Select,
        /// Names the pseudo table of its columns.
        name: &'a str,
        alias: &'a str,
    },
    /// `FROM f(args) [alias]`: the elements of the JSON array `f` returns.
    Function { call: &'a Expr, target: &'a str },
    /// `FROM a, b, ...`: `dist` is the FROM position of the table whose nodes run the join
    /// (its one distributed table, else its first shared table), None when the join runs in
    /// the coordinator.
    Join { dist: Option<usize> },
    /// One catalog table.
    Table {
        table: &'a Arc<Table>,
        alias: Option<&'a str>,
        /// A correlated subquery: the table's columns followed by the outer row's pseudo
        /// columns. The rows are fetched and the query runs in the coordinator, once per
        /// outer row.
        correlated: Option<Table>,
        /// The query has subquery expressions: they are compiled first and node code reads
        /// their rows when every one of them allows it (else the query runs in the
        /// coordinator over the fetched rows).
        subqueries: bool,
    },
}

/// How a query's rows become its result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// One output row per source row (per joined tuple).
    Rows,
    /// Aggregates without GROUP BY or ORDER BY over a table (no subqueries): partial states
    /// per node, merged in the coordinator.
    Aggregate,
    /// GROUP BY / HAVING, or aggregates over any other source: one output row per group.
    Grouped,
    /// Lambda aggregates folded in the coordinator over a shared table's rows.
    Lambda,
    /// Lambda aggregates per group (GROUP BY over a shared table).
    GroupedLambda,
}

/// Decides the plan of `s` (`outer`: the scope of the enclosing query of a subquery
/// expression). Refuses what no plan can run, with the user-facing error texts.
pub(crate) fn plan<'a>(
    b: &Builder,
    catalog: &'a Catalog,
    s: &'a Select,
    outer: Option<&Scope>,
) -> Result<QueryPlan<'a>> {
    check_format(&s.format)?;
    if s.distinct && !s.order_by.is_empty() {
        return Err(Error::unsupported(
            "ORDER BY and DISTINCT cannot be combined",
        ));
    }
    if has_distinct_aggregate(s) {
        // refuse rather than silently aggregating duplicates
        return Err(Error::unsupported(
            "DISTINCT inside aggregates is not supported",
        ));
    }
    // (each condition is evaluated only where it decides, as comparing aggregates may
    // bake literals into the program)
    let grouped = |s: &Select| !s.group_by.is_empty() || s.having.is_some() || has_aggs(s);
    let rows_or_groups = |s: &Select| {
        if grouped(s) {
            Shape::Grouped
        } else {
            Shape::Rows
        }
    };
    let plain = |source| QueryPlan {
        select: Cow::Borrowed(s),
        source,
        shape: rows_or_groups(s),
    };
    let exprs = row_exprs(s);
    if let [f] = s.from.as_slice() {
        if let Some((stmt, columns)) = cte_source(b, f)? {
            let table = set_table(&f.table.name, &columns);
            return Ok(plain(Source::Cte {
                stmt,
                table,
                alias: f.alias.as_deref(),
            }));
        }
    }
    if let [FromItem {
        subquery: Some(sub),
        alias,
        table,
        ..
    }] = s.from.as_slice()
    {
        let Some(alias) = alias else {
            return Err(Error::syntax("FROM (SELECT) subquery must have an alias"));
        };
        return Ok(plain(Source::Subquery {
            sub,
            name: &table.name,
            alias,
        }));
    }
    if s.from.len() > 1 {
        let dist = join_dist(b, catalog, s)?;
        return Ok(plain(Source::Join { dist }));
    }
    if let [FromItem {
        function: Some(call),
        alias,
        table,
        ..
    }] = s.from.as_slice()
    {
        let target = alias.as_deref().unwrap_or(&table.name);
        return Ok(plain(Source::Function { call, target }));
    }
    let Some((table, alias)) = from_table(catalog, &s.from)? else {
        return Ok(QueryPlan {
            select: Cow::Borrowed(s),
            source: Source::None,
            shape: Shape::Rows,
        });
    };
    if b.subquery_depth > 0 && !table.shared {
        return Err(Error::with_kind(
            ErrorKind::DistributedTableInSubquery,
            format!(
                "distributed table '{}.{}' cannot be used in subquery",
                table.schema, table.name
            ),
        ));
    }
    let s: Cow<Select> = match s.from.first().and_then(|f| f.use_index.as_deref()) {
        Some(ix) => Cow::Owned(index_order(s, table, ix)?),
        None => Cow::Borrowed(s),
    };
    if let Some((rewritten, combined)) = outer.and_then(|o| correlate(&s, table, alias, o)) {
        let shape = if !lambdas(&row_exprs(&rewritten)).is_empty() {
            Shape::Lambda
        } else {
            rows_or_groups(&s)
        };
        return Ok(QueryPlan {
            select: Cow::Owned(rewritten),
            source: Source::Table {
                table,
                alias,
                correlated: Some(combined),
                subqueries: false,
            },
            shape,
        });
    }
    let subqueries = has_subquery(&exprs);
    let shape = if !lambdas(&exprs).is_empty() {
        if !table.shared {
            return Err(Error::unsupported(
                "distributed operation with lambda is not supported",
            ));
        }
        if !s.group_by.is_empty() || s.having.is_some() {
            Shape::GroupedLambda
        } else {
            Shape::Lambda
        }
    } else if subqueries {
        rows_or_groups(&s)
    } else if !s.group_by.is_empty() || s.having.is_some() {
        Shape::Grouped
    } else if has_item_aggs(&s) && s.order_by.is_empty() {
        Shape::Aggregate
    } else if has_aggs(&s) {
        // an aggregate in ORDER BY also makes the query one group; its ORDER BY keys are
        // evaluated over that group
        Shape::Grouped
    } else {
        Shape::Rows
    };
    Ok(QueryPlan {
        select: s,
        source: Source::Table {
            table,
            alias,
            correlated: None,
            subqueries,
        },
        shape,
    })
}

/// The FROM position of the table whose nodes run a join (see [`Source::Join`]): with one
/// distributed table (and no subqueries) the join runs on its nodes, the other sources
/// computed first and shipped with the request; without one, the first shared table is
/// scanned the same way on its node.
fn join_dist(b: &Builder, catalog: &Catalog, s: &Select) -> Result<Option<usize>> {
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
    Ok(dist.or(first_shared).filter(|_| on_nodes))
}

/// Whether the select list has aggregate functions.
fn has_item_aggs(s: &Select) -> bool {
    let mut aggs = Vec::new();
    for e in s.items.iter().filter_map(SelectItem::expr) {
        collect_aggs(e, &mut aggs);
    }
    !aggs.is_empty()
}

pub(crate) fn resolve_table<'c>(catalog: &'c Catalog, name: &ObjectName) -> Result<&'c Arc<Table>> {
    let schema = name.schema.as_deref().unwrap_or("public");
    catalog
        .table(schema, &name.name)
        .ok_or_else(|| Error::not_found(format!("<{}.{}> relation not found", schema, name.name)))
}

pub(super) fn check_format(f: &Option<String>) -> Result<()> {
    if let Some(f) = f {
        Format::parse(f)?;
    }
    Ok(())
}

pub(super) fn from_table<'c>(
    catalog: &'c Catalog,
    from: &'c [FromItem],
) -> Result<Option<(&'c Arc<Table>, Option<&'c str>)>> {
    match from {
        [] => Ok(None),
        [f] => Ok(Some((
            resolve_table(catalog, &f.table)?,
            f.alias.as_deref(),
        ))),
        _ => Err(Error::unsupported("joins are not supported yet")),
    }
}

pub(super) fn item_name(item: &SelectItem, i: usize) -> String {
    match item {
        SelectItem::Expr { alias: Some(a), .. } => a.clone(),
        SelectItem::Expr {
            expr: Expr::Name(parts),
            ..
        } if parts.len() == 1 => parts[0].clone(),
        _ => format!("col{}", i + 1),
    }
}

/// The output columns of a query: (expression, name).
pub(super) type Items = Vec<(Expr, String)>;

/// Expands `*` / `t.*` into column references; returns (expr, name) pairs.
pub(super) fn expand_items(
    s: &Select,
    table: Option<&Table>,
    alias: Option<&str>,
) -> Result<Items> {
    let mut out = Vec::new();
    for (i, item) in s.items.iter().enumerate() {
        match item {
            SelectItem::Wildcard => {
                let t = table.ok_or_else(|| Error::not_found("'*': no targets defined"))?;
                for c in &t.columns {
                    out.push((Expr::Name(vec![c.name.clone()]), c.name.clone()));
                }
            }
            SelectItem::QualifiedWildcard(q) => {
                let t = table
                    .filter(|t| Some(q.as_str()) == alias || *q == t.name)
                    .ok_or_else(|| Error::not_found(format!("<{q}> target not found")))?;
                for c in &t.columns {
                    out.push((Expr::Name(vec![c.name.clone()]), c.name.clone()));
                }
            }
            SelectItem::Expr { expr, .. } => out.push((expr.clone(), item_name(item, i))),
        }
    }
    Ok(out)
}

/// Whether a select item or HAVING uses `agg(DISTINCT x)`.
pub(super) fn has_distinct_aggregate(s: &Select) -> bool {
    let mut found = false;
    let mut check = |e: &Expr| {
        if matches!(e, Expr::Aggregate { distinct: true, .. }) {
            found = true;
        }
    };
    for item in &s.items {
        if let SelectItem::Expr { expr, .. } = item {
            expr.for_each(&mut check);
        }
    }
    if let Some(h) = &s.having {
        h.for_each(&mut check);
    }
    found
}

/// The expressions of a SELECT evaluated per row or per group.
pub(super) fn row_exprs(s: &Select) -> Vec<&Expr> {
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
    out.extend(s.distinct_on.iter());
    out
}

pub(super) fn has_subquery(exprs: &[&Expr]) -> bool {
    let mut found = false;
    for e in exprs {
        e.for_each(&mut |x| {
            if matches!(x, Expr::Subquery(_) | Expr::Exists(_)) {
                found = true
            }
        });
    }
    found
}

/// Whether the select list or ORDER BY of `s` has aggregate functions.
pub(super) fn has_aggs(s: &Select) -> bool {
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

/// Lambda aggregates in `exprs` (outermost only, in order, without duplicates).
pub(super) fn lambdas(exprs: &[&Expr]) -> Vec<Expr> {
    let mut out: Vec<Expr> = Vec::new();
    for e in exprs {
        e.for_each(&mut |x| {
            if let Expr::Lambda { .. } = x {
                if !out.contains(x) {
                    out.push(x.clone())
                }
            }
        });
    }
    out
}

pub(super) fn check_no_aggs(items: &[(Expr, String)]) -> Result<()> {
    let mut aggs = Vec::new();
    for (e, _) in items {
        collect_aggs(e, &mut aggs);
    }
    if aggs.is_empty() {
        Ok(())
    } else {
        Err(Error::unsupported("aggregates are not supported here"))
    }
}

/// ORDER BY keys: (column, asc) over the output row, plus hidden expressions appended to it.
pub(super) type OrderKeys = (Vec<(u16, bool)>, Vec<Expr>);

/// Computes the [`OrderKeys`] of `s`. DISTINCT is a sort too (Amelie's rewrite): on every
/// output column ascending, or on the expressions of `DISTINCT ON (...)` ascending; the
/// rows whose sort keys equal those of the row before are then dropped (`Distinct`).
pub(super) fn order_keys(
    s: &Select,
    items: &[(Expr, String)],
    table: Option<&Table>,
) -> Result<OrderKeys> {
    if s.distinct {
        if s.distinct_on.is_empty() {
            return Ok((
                (0..items.len() as u16).map(|i| (i, true)).collect(),
                Vec::new(),
            ));
        }
        let on: Vec<OrderBy> = s
            .distinct_on
            .iter()
            .map(|e| OrderBy {
                expr: e.clone(),
                asc: true,
            })
            .collect();
        return sort_keys(&on, items, table);
    }
    sort_keys(&s.order_by, items, table)
}

/// The [`OrderKeys`] of the sort `order` over `items`: an output position, an output name
/// (that is not a column of `table`), or a hidden expression.
fn sort_keys(
    order: &[OrderBy],
    items: &[(Expr, String)],
    table: Option<&Table>,
) -> Result<OrderKeys> {
    let n = items.len() as u16;
    let mut order_cols = Vec::new();
    let mut extra = Vec::new();
    for o in order {
        let oe = crate::expr::position_literal(&o.expr);
        let col = match &*oe {
            Expr::Int(i) if *i >= 1 && (*i as usize) <= items.len() => (*i - 1) as u16,
            Expr::Int(_) => {
                return Err(Error::type_error(
                    "ORDER BY: column position is out of range",
                ))
            }
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

/// GROUP BY expressions, with output ordinals and aliases resolved to their items.
pub(super) fn group_keys(s: &Select, items: &[(Expr, String)], table: &Table) -> Result<Vec<Expr>> {
    let mut keys = Vec::new();
    for g in &s.group_by {
        let g = crate::expr::position_literal(g);
        let e = match &*g {
            Expr::Int(i) if *i >= 1 && (*i as usize) <= items.len() => {
                items[(*i - 1) as usize].0.clone()
            }
            Expr::Int(_) => {
                return Err(Error::type_error(
                    "GROUP BY: column position is out of range",
                ))
            }
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

/// `USE INDEX (name)`: the query with the index order appended to its ORDER BY (tree indexes
/// are ordered by their keys, then the primary key; hash indexes have no order).
pub(super) fn index_order(s: &Select, table: &Table, name: &str) -> Result<Select> {
    let ix = table
        .indexes
        .iter()
        .find(|i| i.name == name)
        .ok_or_else(|| Error::not_found(format!("index '{name}': not exists")))?;
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

/// Prefix of the pseudo columns that stand for outer-row columns in a correlated subquery.
pub(super) const OUTER: &str = "\u{1}";

/// For a subquery over `table` inside a loop over `outer`: rewrites references qualified by
/// the outer target (`o.col` where `o` is not this query's target) into pseudo columns and
/// returns the rewritten query and the table extended with those columns. None when the
/// query does not refer to the outer row.
pub(super) fn correlate(
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
            expr.for_each_mut(&mut fix);
        }
    }
    if let Some(f) = &mut r.filter {
        f.for_each_mut(&mut fix);
    }
    for o in &mut r.order_by {
        o.expr.for_each_mut(&mut fix);
    }
    for e in &mut r.distinct_on {
        e.for_each_mut(&mut fix);
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

/// A pseudo table describing the rows of a statement set (FROM subquery / CTE).
pub(super) fn set_table(name: &str, columns: &[String]) -> Table {
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

/// A column of a pseudo table (statement set rows): untyped, no constraints.
pub(super) fn pseudo_column(name: impl Into<String>) -> amelie_catalog::Column {
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
