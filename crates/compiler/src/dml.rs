//! INSERT, UPDATE and DELETE.

use crate::builder::{Builder, Sec};
use crate::expr::{const_value, expr, Scope};
use amelie_catalog::{Catalog, Table};
use amelie_common::{Error, Result, Value};
use amelie_parser::{Delete, Expr, Insert, InsertSource, Update};
use amelie_vm::op::Merge;
use amelie_vm::program::Target;
use amelie_vm::{Op, Reg, StmtInfo};

use crate::select::{close_scan, open_scan, resolve_table};

fn column_default(t: &Table, col: usize) -> Value {
    t.columns[col].default.clone().unwrap_or(Value::Null)
}

pub fn insert(b: &mut Builder, catalog: &Catalog, ins: &Insert) -> Result<()> {
    let t = resolve_table(catalog, &ins.table)?;
    if ins.on_conflict.is_some() || ins.returning.is_some() {
        return Err(Error::new(
            "ON CONFLICT and RETURNING are not supported yet",
        ));
    }
    // map of provided value position -> column ordinal
    let cols: Vec<usize> = match &ins.columns {
        None => (0..t.columns.len()).collect(),
        Some(names) => {
            let mut out: Vec<usize> = Vec::with_capacity(names.len());
            for n in names {
                let c = t
                    .column(n)
                    .ok_or_else(|| Error::new(format!("<{n}> column not found")))?;
                if out.last().is_some_and(|last| *last >= c) {
                    return Err(Error::new("column list must be in order"));
                }
                out.push(c);
            }
            out
        }
    };
    let rows_src: Vec<Vec<Expr>> = match &ins.source {
        InsertSource::Values(rows) => rows.clone(),
        InsertSource::Generate(n) => (0..*n).map(|_| Vec::new()).collect(),
        InsertSource::Select(_) => {
            return Err(Error::new("INSERT ... SELECT is not supported yet"))
        }
    };
    let generate = matches!(ins.source, InsertSource::Generate(_));
    let mut rows = Vec::with_capacity(rows_src.len());
    for src in rows_src {
        if !generate && src.len() != cols.len() {
            return Err(Error::new("row has incorrect number of columns"));
        }
        let mut row: Vec<Value> = (0..t.columns.len()).map(|c| column_default(t, c)).collect();
        for (e, &c) in src.iter().zip(cols.iter()) {
            row[c] = match e {
                Expr::Default => column_default(t, c),
                e => const_value(e, b)?.ok_or_else(|| {
                    Error::new(format!(
                        "column <{}> value expected to be '{}'",
                        t.columns[c].name,
                        t.columns[c].ty.runtime().name()
                    ))
                })?,
            };
        }
        for (c, col) in t.columns.iter().enumerate() {
            let v = std::mem::take(&mut row[c]);
            let not_null = col.not_null || t.is_key(c);
            row[c] = amelie_vm::exec::coerce_to_column(v, col.ty, &col.name, not_null)?;
        }
        rows.push(row.into_boxed_slice());
    }
    let stmt = b.stmt(StmtInfo::default());
    let table = b.table(t);
    let entry = b.pc(Sec::Node) as u32;
    b.emit(Sec::Node, Op::InsertRows { table });
    b.emit(Sec::Node, Op::Ret);
    let target = b.target(Target::Rows(rows));
    b.p.writes = true;
    b.emit(
        Sec::Coordinator,
        Op::Send {
            stmt,
            table,
            entry,
            target,
        },
    );
    b.emit(
        Sec::Coordinator,
        Op::Recv {
            stmt,
            merge: Merge::Discard,
        },
    );
    b.emit(Sec::Coordinator, Op::NoResult);
    Ok(())
}

pub fn update(b: &mut Builder, catalog: &Catalog, u: &Update) -> Result<()> {
    let t = resolve_table(catalog, &u.table)?;
    if u.returning.is_some() {
        return Err(Error::new("RETURNING is not supported yet"));
    }
    let scope = Scope {
        table: Some(t),
        alias: u.alias.as_deref(),
        aggs: None,
    };
    let stmt = b.stmt(StmtInfo::default());
    let tref = b.table(t);
    let entry = b.pc(Sec::Node) as u32;
    let (scan, target) = open_scan(b, t, &scope, u.filter.as_ref())?;
    let mut values: Vec<Option<Reg>> = vec![None; t.columns.len()];
    for a in &u.set {
        if !a.path.is_empty() {
            return Err(Error::new("UPDATE of JSON paths is not supported yet"));
        }
        let c = t
            .column(&a.column)
            .ok_or_else(|| Error::new(format!("<{}> column not found", a.column)))?;
        if t.is_key(c) {
            return Err(Error::new(format!(
                "<{}.{}> column used as a part of a key",
                t.name, a.column
            )));
        }
        let r = match &a.value {
            Some(e) => expr(b, Sec::Node, e, &scope)?,
            None => b.load_const(Sec::Node, column_default(t, c)),
        };
        b.emit(
            Sec::Node,
            Op::CastColumn {
                reg: r,
                table: tref,
                col: c as u16,
            },
        );
        values[c] = Some(r);
    }
    let start = b.regs(Sec::Node, t.columns.len() as u16);
    for (c, v) in values.iter().enumerate() {
        let dst = start + c as Reg;
        match v {
            Some(src) => b.emit(Sec::Node, Op::Move { dst, src: *src }),
            None => b.emit(Sec::Node, Op::Column { dst, col: c as u16 }),
        };
    }
    b.emit(Sec::Node, Op::StageUpdate { start });
    close_scan(b, scan);
    b.emit(Sec::Node, Op::ApplyStaged { table: tref });
    b.emit(Sec::Node, Op::Ret);
    b.p.writes = true;
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
            merge: Merge::Discard,
        },
    );
    b.emit(Sec::Coordinator, Op::NoResult);
    Ok(())
}

pub fn delete(b: &mut Builder, catalog: &Catalog, d: &Delete) -> Result<()> {
    let t = resolve_table(catalog, &d.table)?;
    if d.returning.is_some() {
        return Err(Error::new("RETURNING is not supported yet"));
    }
    let scope = Scope {
        table: Some(t),
        alias: d.alias.as_deref(),
        aggs: None,
    };
    let stmt = b.stmt(StmtInfo::default());
    let tref = b.table(t);
    let entry = b.pc(Sec::Node) as u32;
    let (scan, target) = open_scan(b, t, &scope, d.filter.as_ref())?;
    b.emit(Sec::Node, Op::StageDelete);
    close_scan(b, scan);
    b.emit(Sec::Node, Op::ApplyStaged { table: tref });
    b.emit(Sec::Node, Op::Ret);
    b.p.writes = true;
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
            merge: Merge::Discard,
        },
    );
    b.emit(Sec::Coordinator, Op::NoResult);
    Ok(())
}
