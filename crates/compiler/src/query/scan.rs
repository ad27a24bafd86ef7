//! Table scans on the nodes: [`open_scan`] emits a scan as its [`Access`] says (a point
//! lookup, a key range or every row); [`rows`] and [`aggregate`] are the query shapes that run
//! on the nodes of one table (projection with per-partition DISTINCT/ORDER BY/LIMIT, or
//! partial aggregates), merged in the coordinator; [`fetch`] brings a table's rows to the
//! coordinator for the shapes that run there.

use super::access::{access, Access, KeyValue};
use super::emit::finish_set;
use super::plan::{expand_items, order_keys, Items, Query};
use crate::builder::{Builder, Sec};
use crate::expr::{agg_kind, collect_aggs, expr, Scope};
use amelie_catalog::Table;
use amelie_common::Result;
use amelie_parser::{Expr, Select};
use amelie_vm::op::Merge;
use amelie_vm::program::{Bind, Operand, Target};
use amelie_vm::{Op, Reg, StmtInfo};

/// Emits a Scan over `table` (as [`access`] decides: a point lookup when the filter pins the
/// primary key, a key range scan when it bounds a key prefix, else every row) and returns the
/// index of the Scan op (its `end` is patched by [`close_scan`]) plus the send target.
pub(crate) fn open_scan(
    b: &mut Builder,
    t: &Table,
    scope: &Scope,
    filter: Option<&Expr>,
) -> Result<(usize, u16)> {
    let access = access(b, t, scope, filter)?;
    let table = b.table(t);
    let (key, key_len, target) = match access {
        Access::Point(values) => {
            let start = b.regs(Sec::Node, values.len() as u16);
            let mut operands = Vec::with_capacity(values.len());
            for (i, v) in values.into_iter().enumerate() {
                let dst = start + i as Reg;
                match v {
                    KeyValue::Const(v) => {
                        let idx = b.constant(v.clone());
                        b.emit(Sec::Node, Op::Const { dst, idx });
                        operands.push(Operand::Const(v));
                    }
                    KeyValue::Lit { ord, int32 } => {
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
        // a bounded primary-key prefix: scan only that key range (rows still in key order)
        Access::Range(from, to) => {
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
        Access::Full => (None, 0, b.target(Target::All)),
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
fn emit_scan_filter(b: &mut Builder, scope: &Scope, filter: Option<&Expr>) -> Result<()> {
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

/// The result statement of a query over one table on the nodes, with its items and the
/// aggregates of its select list.
fn start(b: &mut Builder, q: &Query) -> Result<(u16, Items, Vec<Expr>)> {
    let (s, table, alias) = (q.select, q.table, q.alias);
    let items = expand_items(s, Some(table), alias)?;
    let columns: Vec<String> = items.iter().map(|(_, n)| n.clone()).collect();
    let mut aggs = Vec::new();
    for (e, _) in &items {
        collect_aggs(e, &mut aggs);
    }
    let agg_exprs: Vec<Expr> = aggs.iter().map(|e| (*e).clone()).collect();
    let kinds = agg_exprs
        .iter()
        .filter_map(|e| match e {
            Expr::Aggregate { func, arg, .. } => Some(agg_kind(*func, arg.is_none())),
            _ => None,
        })
        .collect();
    let stmt = b.stmt(StmtInfo {
        columns,
        format: s.format.clone(),
        aggs: kinds,
    });
    b.emit(Sec::Coordinator, Op::SetReset { stmt });
    Ok((stmt, items, agg_exprs))
}

/// Projection on the nodes: each node filters its partition, computes the select list (plus
/// the ORDER BY keys that are not output columns) and removes duplicates, sorts and keeps the
/// first `limit + offset` rows itself ([`node_finish`]); the coordinator merges the partitions'
/// runs and applies DISTINCT, ORDER BY and LIMIT again over the whole.
pub(super) fn rows(b: &mut Builder, q: &Query) -> Result<u16> {
    let (s, table, alias) = (q.select, q.table, q.alias);
    let (stmt, items, _) = start(b, q)?;
    let n = items.len() as u16;
    let scope = Scope {
        table: Some(table),
        alias,
        aggs: None,
    };
    let entry = b.pc(Sec::Node) as u32;
    let (scan, target) = open_scan(b, table, &scope, s.filter.as_ref())?;
    let tref = b.table(table);
    // projection (+ hidden ORDER BY keys) computed on the nodes
    let (order_cols, extra) = order_keys(s, &items, Some(table))?;
    let regs: Vec<Reg> = items
        .iter()
        .map(|(e, _)| e)
        .chain(extra.iter())
        .map(|e| expr(b, Sec::Node, e, &scope))
        .collect::<Result<_>>()?;
    let width = regs.len() as u16;
    let start = b.consecutive(Sec::Node, &regs);
    b.emit(Sec::Node, Op::Emit { start, n: width });
    close_scan(b, scan);
    node_finish(b, s, &order_cols)?;
    b.emit(Sec::Node, Op::Ret);
    b.send(stmt, tref, entry, target);
    b.emit(
        Sec::Coordinator,
        Op::Recv {
            stmt,
            merge: Merge::Union,
        },
    );
    finish_set(b, s, stmt, n, order_cols, width)?;
    Ok(stmt)
}

/// Aggregates without GROUP BY on the nodes: each node steps the aggregates over its
/// partition and sends one row of partial states; the coordinator merges them, loads the
/// final values and evaluates the select list over them.
pub(super) fn aggregate(b: &mut Builder, q: &Query) -> Result<u16> {
    let (s, table, alias) = (q.select, q.table, q.alias);
    let (stmt, items, agg_exprs) = start(b, q)?;
    let n = items.len() as u16;
    let scope = Scope {
        table: Some(table),
        alias,
        aggs: None,
    };
    let entry = b.pc(Sec::Node) as u32;
    let (scan, target) = open_scan(b, table, &scope, s.filter.as_ref())?;
    let tref = b.table(table);
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
    finish_set(b, s, stmt, n, Vec::new(), n)?;
    Ok(stmt)
}

/// The per-partition part of ORDER BY, DISTINCT and LIMIT over the rows a scan emitted
/// (before `Ret`): each node sorts its rows (stably: ties keep scan order), drops those whose
/// DISTINCT keys equal the row's before, and keeps only the first `limit + offset` of them
/// (when both are integer constants); the coordinator then merges the partitions' runs and
/// applies the whole operation again.
pub(super) fn node_finish(b: &mut Builder, s: &Select, order_cols: &[(u16, bool)]) -> Result<()> {
    if !order_cols.is_empty() {
        b.emit(
            Sec::Node,
            Op::NodeSort {
                keys: order_cols.to_vec(),
            },
        );
    }
    if s.distinct {
        b.emit(
            Sec::Node,
            Op::NodeDistinct {
                keys: order_cols.iter().map(|(c, _)| *c).collect(),
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

/// Fetches node rows into a new hidden statement: `exprs` per row of `table` passing `filter`.
pub(super) fn fetch(
    b: &mut Builder,
    table: &Table,
    scope: &Scope,
    filter: Option<&Expr>,
    exprs: &[Expr],
) -> Result<u16> {
    fetch_with(b, table, scope, filter, exprs, None)
}

/// [`fetch`], with `post` run on the node after the scan (e.g. partial grouping).
pub(super) fn fetch_with(
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
    let start = b.consecutive(Sec::Node, &regs);
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

/// [`fetch`] of every column of every row of `table` (for the queries that run in the
/// coordinator over a table's rows).
pub(super) fn fetch_all(b: &mut Builder, table: &Table, scope: &Scope) -> Result<u16> {
    let all: Vec<Expr> = table
        .columns
        .iter()
        .map(|c| Expr::Name(vec![c.name.clone()]))
        .collect();
    fetch(b, table, scope, None, &all)
}
