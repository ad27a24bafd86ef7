//! SELECT: decide, then emit. [`plan::plan`] turns a query into a [`QueryPlan`] (its source,
//! its shape, whether it is correlated); [`select_stmt`] hands the plan to the module that
//! emits that shape and decides nothing itself. In file order, one SELECT goes through:
//!
//! * `plan`: the decision, and the AST helpers every shape shares;
//! * `access`: how a scan reads its table (point lookup, key range, full scan);
//! * `emit`: statement sets and coordinator loops;
//! * `scan`: scans; projections and aggregates on the nodes of one table;
//! * `subquery`: subquery expressions (hoisted, shipped to the nodes, in place, per row);
//! * `join`, `group`, `lambda`, `rowset`: the other shapes;
//! * `cte`: CTE names as FROM sources.
//!
//! Entries for the rest of the compiler: [`compile_select`], [`compile_stmt`],
//! [`node_subqueries`], [`open_scan`]/[`close_scan`], [`resolve_table`].

mod access;
mod cte;
mod emit;
mod group;
mod join;
mod lambda;
mod plan;
mod rowset;
mod scan;
mod subquery;

use crate::builder::{Builder, Sec};
use crate::expr::Scope;
use amelie_catalog::{Catalog, Table};
use amelie_common::{Error, Result};
use amelie_parser::{Expr, Select};
use amelie_vm::Op;
use group::Input;
use plan::{set_table, Cx, Query, QueryPlan, Shape, Source};

#[cfg(test)]
pub(crate) use access::key_range;
pub(crate) use plan::resolve_table;
pub(crate) use scan::{close_scan, open_scan};

/// Compiles a SELECT statement whose rows are the request's result.
pub fn compile_select(b: &mut Builder, catalog: &Catalog, s: &Select) -> Result<()> {
    let stmt = compile_stmt(b, catalog, s)?;
    b.emit(Sec::Coordinator, Op::Result { stmt });
    Ok(())
}

/// Compiles a SELECT into a new statement (without making it the result: a CTE) and
/// returns it.
pub(crate) fn compile_stmt(b: &mut Builder, catalog: &Catalog, s: &Select) -> Result<u16> {
    select_stmt(b, &cx(catalog), s, None)
}

/// Makes the subqueries of an UPDATE/DELETE's `exprs` readable by its node code over `table`
/// (see [`subquery::node_subqueries`]); None when some of them cannot run there.
pub(crate) fn node_subqueries(
    b: &mut Builder,
    catalog: &Catalog,
    exprs: &[&Expr],
    table: &Table,
    alias: Option<&str>,
) -> Result<Option<(usize, usize)>> {
    subquery::node_subqueries(b, &cx(catalog), exprs, table, alias, false, None)
}

fn cx(catalog: &Catalog) -> Cx<'_> {
    Cx {
        catalog,
        select: select_stmt,
    }
}

/// Compiles `s` into a new statement: plans it, then emits the plan's shape.
fn select_stmt(b: &mut Builder, cx: &Cx, s: &Select, outer: Option<&Scope>) -> Result<u16> {
    let QueryPlan {
        select,
        source,
        shape,
    } = plan::plan(b, cx.catalog, s, outer)?;
    let s = &*select;
    let one = |table, alias| Query {
        select: s,
        table,
        alias,
        corr: None,
    };
    match source {
        Source::None => rowset::const_select(b, cx, s, outer),
        Source::Cte { stmt, table, alias } => set_rows(b, cx, &one(&table, alias), stmt, shape),
        Source::Subquery { sub, name, alias } => {
            let stmt = select_stmt(b, cx, sub, None)?;
            let columns = b.p.stmts[stmt as usize].columns.clone();
            let table = set_table(name, &columns);
            set_rows(b, cx, &one(&table, Some(alias)), stmt, shape)
        }
        Source::Function { call, target } => rowset::function_select(b, cx, s, call, target, shape),
        Source::Join { dist } => {
            let j = join::sources(b, cx, s, dist)?;
            match (shape, dist) {
                // aggregates and GROUP BY over the join: partial groups per node, merged here
                (Shape::Grouped, Some(d)) => {
                    let r = j.select();
                    let q = Query {
                        select: &r,
                        table: &j.combined,
                        alias: None,
                        corr: None,
                    };
                    group::select(b, cx, &q, Input::Join(&j.on_nodes(d)))
                }
                (Shape::Grouped, None) => {
                    plan::check_no_aggs(&j.items)?;
                    Err(Error::unsupported(
                        "GROUP BY with joins is not supported yet",
                    ))
                }
                _ => join::rows(b, s, &j, dist),
            }
        }
        Source::Table {
            table,
            alias,
            correlated: Some(combined),
            ..
        } => {
            let q = Query {
                corr: Some(&combined),
                ..one(table, alias)
            };
            match shape {
                Shape::Lambda => lambda::select(b, cx, &q),
                Shape::Grouped => group::select(b, cx, &q, Input::Fetch),
                _ => rowset::loop_select(b, cx, &q, None),
            }
        }
        Source::Table {
            table,
            alias,
            correlated: None,
            subqueries,
        } => {
            let q = one(table, alias);
            // lambda aggregates fold on the coordinator and compile their subqueries there
            if subqueries && !matches!(shape, Shape::Lambda | Shape::GroupedLambda) {
                if let Some(stmt) = pushdown_subqueries(b, cx, &q, shape)? {
                    return Ok(stmt);
                }
                // some subquery is correlated: the query runs over the fetched rows
                return match shape {
                    Shape::Grouped => group::select(b, cx, &q, Input::Fetch),
                    _ => rowset::loop_select(b, cx, &q, None),
                };
            }
            match shape {
                Shape::Rows => scan::rows(b, &q),
                Shape::Aggregate => scan::aggregate(b, &q),
                Shape::Grouped => group::select(b, cx, &q, Input::Nodes),
                Shape::Lambda => lambda::select(b, cx, &q),
                Shape::GroupedLambda => lambda::grouped(b, &q),
            }
        }
    }
}

/// The rows of a statement set (a CTE, a FROM subquery) as the source of a query.
fn set_rows(b: &mut Builder, cx: &Cx, q: &Query, stmt: u16, shape: Shape) -> Result<u16> {
    match shape {
        Shape::Grouped => group::select(b, cx, q, Input::Set(stmt)),
        _ => rowset::loop_select(b, cx, q, Some(stmt)),
    }
}

/// A query over one table whose subqueries are all uncorrelated: they run first, and their
/// rows travel with the scan (`Send` sets), so the filter, projection and partial
/// aggregation still run on the nodes. None (with nothing emitted) when some subquery is
/// correlated: the query then runs as a coordinator loop.
fn pushdown_subqueries(b: &mut Builder, cx: &Cx, q: &Query, shape: Shape) -> Result<Option<u16>> {
    let grouped = shape == Shape::Grouped;
    let s = q.select;
    // a grouped query evaluates only its WHERE on the nodes
    let inline_scope = if grouped { s.filter.as_ref() } else { None };
    let exprs = plan::row_exprs(s);
    let Some(saved) =
        subquery::node_subqueries(b, cx, &exprs, q.table, q.alias, grouped, inline_scope)?
    else {
        return Ok(None);
    };
    let r = if grouped {
        group::select(b, cx, q, Input::Nodes)
    } else {
        scan::rows(b, q)
    };
    b.end_node_subqueries(saved);
    r.map(Some)
}
