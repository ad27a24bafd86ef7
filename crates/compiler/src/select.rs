//! SELECT: projection, filters and partial aggregates pushed to the nodes, merge/sort/limit in the coordinator.

use crate::builder::{Builder, Sec};
use crate::expr::{agg_kind, collect_aggs, expr, Scope};
use crate::plan::point_lookup;
use amelie_catalog::{Catalog, Table};
use amelie_common::format::Format;
use amelie_common::{Error, Result};
use amelie_parser::{Expr, FromItem, ObjectName, Select, SelectItem};
use amelie_vm::op::Merge;
use amelie_vm::program::Target;
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

/// Emits a Scan over `table` (point lookup when possible) and returns the index of the Scan op
/// (its `end` is patched by [`close_scan`]) plus the send target.
pub(crate) fn open_scan(
    b: &mut Builder,
    t: &Table,
    scope: &Scope,
    filter: Option<&Expr>,
) -> Result<(usize, u16)> {
    let table = b.table(t);
    let (key, key_len, target) = match point_lookup(b, t, scope, filter)? {
        Some(values) => {
            let start = b.regs(Sec::Node, values.len() as u16);
            for (i, v) in values.iter().enumerate() {
                let idx = b.constant(v.clone());
                b.emit(
                    Sec::Node,
                    Op::Const {
                        dst: start + i as Reg,
                        idx,
                    },
                );
            }
            let n = values.len() as u16;
            (Some(start), n, b.target(Target::Key(values)))
        }
        None => (None, 0, b.target(Target::All)),
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
    if let Some(f) = filter {
        let cond = expr(b, Sec::Node, f, scope)?;
        // the jump target (end of body) is patched by close_scan
        b.emit(Sec::Node, Op::JumpIfNot { cond, to: u32::MAX });
    }
    Ok((scan, target))
}

pub(crate) fn close_scan(b: &mut Builder, scan: usize) {
    let end = b.pc(Sec::Node) as u32;
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

pub fn select(b: &mut Builder, catalog: &Catalog, s: &Select) -> Result<()> {
    check_format(&s.format)?;
    if !s.group_by.is_empty() || s.having.is_some() {
        return Err(Error::new("GROUP BY is not supported yet"));
    }
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
        b.emit(Sec::Coordinator, Op::Result { stmt });
        return Ok(());
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
        b.emit(
            Sec::Coordinator,
            Op::Send {
                stmt,
                table: tref,
                entry,
                target,
            },
        );
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
            let col = match &o.expr {
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
        b.emit(Sec::Node, Op::Ret);
        b.emit(
            Sec::Coordinator,
            Op::Send {
                stmt,
                table: tref,
                entry,
                target,
            },
        );
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
    b.emit(Sec::Coordinator, Op::Result { stmt });
    Ok(())
}
