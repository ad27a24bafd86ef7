//! INSERT, UPDATE and DELETE.

use crate::builder::{Builder, Sec};
use crate::expr::{expr, Scope};
use crate::insert::{column_default, InsertTemplate};
use amelie_catalog::{Catalog, Table};
use amelie_common::format::Format;
use amelie_common::{Error, Result};
use amelie_parser::{
    Assignment, Delete, Expr, Insert, InsertSource, OnConflict, Returning, SelectItem, Update,
};
use amelie_vm::op::{Conflict, Merge};
use amelie_vm::program::Target;
use amelie_vm::{Op, Reg, StmtInfo};

use crate::query::{self, close_scan, open_scan, resolve_table};

/// The unique secondary indexes of `t`: name and position among the secondary indexes
/// (checked by the node).
fn unique_indexes(t: &Table) -> Vec<(String, u16)> {
    t.indexes
        .iter()
        .filter(|i| !i.primary)
        .enumerate()
        .filter(|(_, i)| i.unique)
        .map(|(pos, i)| (i.name.clone(), pos as u16))
        .collect()
}

/// The statement of a DML: with RETURNING its result columns and format.
fn dml_stmt(
    b: &mut Builder,
    t: &Table,
    alias: Option<&str>,
    ret: Option<&Returning>,
) -> Result<(u16, Vec<Expr>)> {
    let Some(ret) = ret else {
        return Ok((b.stmt(StmtInfo::default()), Vec::new()));
    };
    if let Some(f) = &ret.format {
        Format::parse(f)?;
    }
    let mut exprs = Vec::new();
    let mut columns = Vec::new();
    for (i, item) in ret.items.iter().enumerate() {
        match item {
            SelectItem::Wildcard => {
                for c in &t.columns {
                    exprs.push(Expr::Name(vec![c.name.clone()]));
                    columns.push(c.name.clone());
                }
            }
            SelectItem::QualifiedWildcard(q) => {
                if Some(q.as_str()) != alias && *q != t.name {
                    return Err(Error::not_found(format!("<{q}> target not found")));
                }
                for c in &t.columns {
                    exprs.push(Expr::Name(vec![c.name.clone()]));
                    columns.push(c.name.clone());
                }
            }
            SelectItem::Expr { expr, alias } => {
                let name = match (alias, expr) {
                    (Some(a), _) => a.clone(),
                    (None, Expr::Name(parts)) if parts.len() == 1 => parts[0].clone(),
                    _ => format!("col{}", i + 1),
                };
                exprs.push(expr.clone());
                columns.push(name);
            }
        }
    }
    let stmt = b.stmt(StmtInfo {
        columns,
        format: ret.format.clone(),
        aggs: Vec::new(),
    });
    Ok((stmt, exprs))
}

/// Node code after the write: project RETURNING over every affected row.
fn emit_returning(b: &mut Builder, exprs: &[Expr], scope: &Scope) -> Result<()> {
    if exprs.is_empty() {
        return Ok(());
    }
    let at = b.emit(Sec::Node, Op::ReturnRows { end: 0 });
    let regs: Vec<Reg> = exprs
        .iter()
        .map(|e| expr(b, Sec::Node, e, scope))
        .collect::<Result<_>>()?;
    let n = regs.len() as u16;
    let start = b.consecutive(Sec::Node, &regs);
    b.emit(Sec::Node, Op::Emit { start, n });
    let end = b.pc(Sec::Node) as u32;
    if let Some(Op::ReturnRows { end: e }) = b.p.node.get_mut(at) {
        *e = end;
    }
    Ok(())
}

/// Coordinator code of a DML statement: send, then either discard or return the rows.
fn emit_dispatch(b: &mut Builder, stmt: u16, table: u16, entry: u32, target: u16, ret: bool) {
    b.p.writes = true;
    // (for INSERT ... SELECT the reset also marks the source set as used, so the executor
    // waits for the SELECT's node outputs before taking the set)
    if ret || matches!(b.p.targets.get(target as usize), Some(Target::Set)) {
        b.emit(Sec::Coordinator, Op::SetReset { stmt });
    }
    b.send(stmt, table, entry, target);
    b.emit(
        Sec::Coordinator,
        Op::Recv {
            stmt,
            merge: if ret { Merge::Union } else { Merge::Discard },
        },
    );
    if ret {
        b.emit(Sec::Coordinator, Op::Result { stmt });
    } else {
        b.emit(Sec::Coordinator, Op::NoResult);
    }
}

/// Rewrites `excluded.col...` into the synthetic column name `excluded.col` (see
/// [`excluded_table`]).
fn rewrite_excluded(e: &mut Expr) {
    e.for_each_mut(&mut |x| {
        if let Expr::Name(parts) = x {
            if parts.len() >= 2 && parts[0].eq_ignore_ascii_case("excluded") {
                let col = format!("excluded.{}", parts[1]);
                let mut out = vec![col];
                out.extend(parts.drain(2..));
                *parts = out;
            }
        }
    });
}

/// The table as the ON CONFLICT DO UPDATE body sees it: its columns, then the excluded row's
/// columns named `excluded.<name>` (the node passes existing ++ excluded as the current row).
fn excluded_table(t: &Table) -> Table {
    let mut x = t.clone();
    for c in &t.columns {
        let mut c = c.clone();
        c.name = format!("excluded.{}", c.name);
        x.columns.push(c);
    }
    x
}

/// Compiles SET assignments into a full new row image in consecutive registers and stages it.
fn emit_set(
    b: &mut Builder,
    t: &Table,
    tref: u16,
    set: &[Assignment],
    scope: &Scope,
    rewrite: bool,
) -> Result<()> {
    let mut values: Vec<Option<Reg>> = vec![None; t.columns.len()];
    for a in set {
        let c = t.column(&a.column).ok_or_else(|| {
            Error::not_found(format!("<{}.{}> column not found", t.name, a.column))
        })?;
        if matches!(a.value, Some(Expr::Null)) && a.path.is_empty() && t.columns[c].not_null {
            return Err(Error::constraint(format!(
                "column <{}> cannot be NULL",
                a.column
            )));
        }
        if t.indexes.iter().any(|i| i.keys.contains(&c)) {
            return Err(Error::constraint(format!(
                "<{}.{}> column used as a part of a key",
                t.name, a.column
            )));
        }
        if values[c].is_some() {
            return Err(Error::syntax(format!(
                "<{}.{}> column is redefined in UPDATE",
                t.name, a.column
            )));
        }
        // `SET col.a.b = v` is `SET col = set(col, 'a.b', v)`
        let value = match (&a.value, a.path.is_empty()) {
            (Some(e), false) => Some(Expr::Function {
                schema: None,
                name: "set".to_string(),
                args: vec![
                    Expr::Name(vec![a.column.clone()]),
                    Expr::String(a.path.join(".")),
                    e.clone(),
                ],
            }),
            (None, false) => {
                return Err(Error::unsupported(
                    "UPDATE: DEFAULT cannot be used with a JSON path",
                ))
            }
            (v, true) => v.clone(),
        };
        let r = match value {
            Some(mut e) => {
                if rewrite {
                    rewrite_excluded(&mut e);
                }
                expr(b, Sec::Node, &e, scope)?
            }
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
    stage_row_image(b, &values);
    Ok(())
}

/// The DO RESOLVE body of an upsert: the new image is the existing row with each RESOLVED
/// column set to its expression over the existing row (`excluded.col` reads the new row).
fn emit_resolve(b: &mut Builder, t: &Table, tref: u16, resolved: &[(usize, Expr)]) -> Result<()> {
    let x = excluded_table(t);
    let scope = Scope {
        table: Some(&x),
        alias: None,
        aggs: None,
    };
    let mut values: Vec<Option<Reg>> = vec![None; t.columns.len()];
    for (c, e) in resolved {
        let mut e = e.clone();
        rewrite_excluded(&mut e);
        let r = expr(b, Sec::Node, &e, &scope)?;
        b.emit(
            Sec::Node,
            Op::CheckGenerated {
                reg: r,
                table: tref,
                col: *c as u16,
            },
        );
        b.emit(
            Sec::Node,
            Op::CastColumn {
                reg: r,
                table: tref,
                col: *c as u16,
            },
        );
        if let Some(v) = values.get_mut(*c) {
            *v = Some(r);
        }
    }
    stage_row_image(b, &values);
    Ok(())
}

/// Node code computing the STORED columns of rows produced at run time (INSERT ... SELECT):
/// every expression reads the proposed row, the image replaces it before the upsert.
fn emit_generate_rows(b: &mut Builder, t: &Table, tref: u16) -> Result<()> {
    if !t.shared
        && t.columns
            .iter()
            .enumerate()
            .any(|(c, col)| col.gen.stored.is_some() && t.is_key(c))
    {
        // (rows are routed by their key before the node could compute it)
        return Err(Error::unsupported(
            "INSERT SELECT into a stored key column is not supported",
        ));
    }
    let scope = Scope {
        table: Some(t),
        alias: None,
        aggs: None,
    };
    let at = b.emit(Sec::Node, Op::GenerateRows { end: 0 });
    let mut values: Vec<Option<Reg>> = vec![None; t.columns.len()];
    for (c, col) in t.columns.iter().enumerate() {
        let Some(text) = &col.gen.stored else {
            continue;
        };
        let e = crate::generated::parse(text)?;
        let r = expr(b, Sec::Node, &e, &scope)?;
        b.emit(
            Sec::Node,
            Op::CheckGenerated {
                reg: r,
                table: tref,
                col: c as u16,
            },
        );
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
    stage_row_image(b, &values);
    let end = b.pc(Sec::Node) as u32;
    if let Some(Op::GenerateRows { end: e }) = b.p.node.get_mut(at) {
        *e = end;
    }
    Ok(())
}

/// INSERT; VALUES/GENERATE add the template of their rows to `inserts`.
pub fn insert(
    b: &mut Builder,
    catalog: &Catalog,
    ins: &Insert,
    inserts: &mut Vec<InsertTemplate>,
) -> Result<()> {
    let t = resolve_table(catalog, &ins.table)?;
    // map of provided value position -> column ordinal
    let cols: Vec<usize> = match &ins.columns {
        None => (0..t.columns.len()).collect(),
        Some(names) => {
            let mut out: Vec<usize> = Vec::with_capacity(names.len());
            for n in names {
                let c = t
                    .column(n)
                    .ok_or_else(|| Error::not_found(format!("<{n}> column not found")))?;
                if out.last().is_some_and(|last| *last >= c) {
                    return Err(Error::syntax("column list must be in order"));
                }
                out.push(c);
            }
            out
        }
    };
    let template = match &ins.source {
        InsertSource::Values(rows) => Some(InsertTemplate::values(
            t,
            cols,
            ins.columns.is_some(),
            rows,
            b.p.tz,
        )?),
        InsertSource::Generate(n) => Some(InsertTemplate::generate(t, *n, b.p.tz)?),
        InsertSource::Select(sel) => {
            // the SELECT runs first in the coordinator; its result set becomes the rows
            query::compile_select(b, catalog, sel)?;
            let width = match b.p.coordinator.last() {
                Some(Op::Result { stmt }) => b.p.stmts.get(*stmt as usize).map(|s| s.columns.len()),
                _ => None,
            };
            if width.is_some_and(|w| w != t.columns.len()) {
                return Err(Error::type_error(
                    "INSERT SELECT columns do not match the table columns",
                ));
            }
            None
        }
    };
    let stored = t.columns.iter().any(|c| c.gen.stored.is_some());
    let (stmt, ret) = dml_stmt(b, t, None, ins.returning.as_ref())?;
    let table = b.table(t);
    let entry = b.pc(Sec::Node) as u32;
    // RESOLVED columns: ON CONFLICT DO RESOLVE, implicit without an ON CONFLICT clause
    let resolved = crate::generated::resolved(t)?;
    let resolve =
        !resolved.is_empty() && matches!(ins.on_conflict, None | Some(OnConflict::Resolve));
    // the generated expressions must give their columns' types (checked by the INSERT, not
    // by CREATE TABLE)
    crate::generated::check_types(t, resolve)?;
    let mode = match &ins.on_conflict {
        _ if resolve => Conflict::Update,
        // (RETURNING without ON CONFLICT reports the conflict without the index name)
        None if ins.returning.is_some() => Conflict::Error,
        None => Conflict::Primary,
        Some(OnConflict::Error) | Some(OnConflict::Resolve) => Conflict::Error,
        Some(OnConflict::Nothing) => Conflict::Nothing,
        Some(OnConflict::Update { .. }) => Conflict::Update,
    };
    if matches!(ins.source, InsertSource::Select(_)) && stored {
        emit_generate_rows(b, t, table)?;
    }
    let at = b.emit(
        Sec::Node,
        Op::Upsert {
            table,
            mode,
            end: 0,
            unique: unique_indexes(t),
        },
    );
    if let Some(OnConflict::Update { set, filter }) = &ins.on_conflict {
        let x = excluded_table(t);
        let scope = Scope {
            table: Some(&x),
            alias: None,
            aggs: None,
        };
        if let Some(f) = filter {
            let mut f = f.clone();
            rewrite_excluded(&mut f);
            let cond = expr(b, Sec::Node, &f, &scope)?;
            b.emit(Sec::Node, Op::JumpIfNot { cond, to: u32::MAX });
        }
        emit_set(b, t, table, set, &scope, true)?;
    }
    if resolve {
        emit_resolve(b, t, table, &resolved)?;
    }
    let end = b.pc(Sec::Node) as u32;
    for op in &mut b.p.node[at..] {
        match op {
            Op::Upsert { end: e, .. } => *e = end,
            Op::JumpIfNot { to, .. } if *to == u32::MAX => *to = end,
            _ => {}
        }
    }
    let scope = Scope {
        table: Some(t),
        alias: None,
        aggs: None,
    };
    emit_returning(b, &ret, &scope)?;
    b.emit(Sec::Node, Op::Ret);
    let target = match template {
        None => b.target(Target::Set),
        Some(template) => {
            inserts.push(template);
            let index = (inserts.len() - 1) as u16;
            b.target(Target::Insert(index))
        }
    };
    emit_dispatch(b, stmt, table, entry, target, !ret.is_empty());
    Ok(())
}

pub fn update(b: &mut Builder, catalog: &Catalog, u: &Update) -> Result<()> {
    let t = resolve_table(catalog, &u.table)?;
    let scope = Scope {
        table: Some(t),
        alias: u.alias.as_deref(),
        aggs: None,
    };
    let mut exprs: Vec<&Expr> = u.filter.iter().collect();
    exprs.extend(u.set.iter().filter_map(|a| a.value.as_ref()));
    let saved = dml_subqueries(b, catalog, &exprs, t, u.alias.as_deref())?;
    let (stmt, ret) = dml_stmt(b, t, u.alias.as_deref(), u.returning.as_ref())?;
    let tref = b.table(t);
    let entry = b.pc(Sec::Node) as u32;
    let (scan, target) = open_scan(b, t, &scope, u.filter.as_ref())?;
    emit_set(b, t, tref, &u.set, &scope, false)?;
    close_scan(b, scan);
    b.emit(Sec::Node, Op::ApplyStaged { table: tref });
    emit_returning(b, &ret, &scope)?;
    b.emit(Sec::Node, Op::Ret);
    emit_dispatch(b, stmt, tref, entry, target, !ret.is_empty());
    b.end_node_subqueries(saved);
    Ok(())
}

/// Subqueries in the WHERE and SET of an UPDATE/DELETE run on the nodes (uncorrelated ones
/// first, their rows shipped; correlated scalar/EXISTS ones in place); any other shape is
/// refused.
fn dml_subqueries(
    b: &mut Builder,
    catalog: &Catalog,
    exprs: &[&Expr],
    t: &Table,
    alias: Option<&str>,
) -> Result<(usize, usize)> {
    query::node_subqueries(b, catalog, exprs, t, alias)?.ok_or_else(|| {
        Error::unsupported(
            "correlated subquery is not supported in UPDATE/DELETE (only scalar or EXISTS \
                 over one shared table or CTE, without GROUP BY, ORDER BY, LIMIT or DISTINCT)",
        )
    })
}

pub fn delete(b: &mut Builder, catalog: &Catalog, d: &Delete) -> Result<()> {
    let t = resolve_table(catalog, &d.table)?;
    let scope = Scope {
        table: Some(t),
        alias: d.alias.as_deref(),
        aggs: None,
    };
    let exprs: Vec<&Expr> = d.filter.iter().collect();
    let saved = dml_subqueries(b, catalog, &exprs, t, d.alias.as_deref())?;
    let (stmt, ret) = dml_stmt(b, t, d.alias.as_deref(), d.returning.as_ref())?;
    let tref = b.table(t);
    let entry = b.pc(Sec::Node) as u32;
    let (scan, target) = open_scan(b, t, &scope, d.filter.as_ref())?;
    b.emit(Sec::Node, Op::StageDelete);
    close_scan(b, scan);
    b.emit(Sec::Node, Op::ApplyStaged { table: tref });
    emit_returning(b, &ret, &scope)?;
    b.emit(Sec::Node, Op::Ret);
    emit_dispatch(b, stmt, tref, entry, target, !ret.is_empty());
    b.end_node_subqueries(saved);
    Ok(())
}

/// Stages the new image of the current row: the computed register for each column that has
/// one, the current value otherwise.
fn stage_row_image(b: &mut Builder, values: &[Option<Reg>]) {
    let start = b.regs(Sec::Node, values.len() as u16);
    for (c, v) in values.iter().enumerate() {
        let dst = start + c as Reg;
        match v {
            Some(src) => b.emit(Sec::Node, Op::Move { dst, src: *src }),
            None => b.emit(Sec::Node, Op::Column { dst, col: c as u16 }),
        };
    }
    b.emit(Sec::Node, Op::StageUpdate { start });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{compile, CompileCtx, Compiled};
    use amelie_catalog::{DdlOp, Node};
    use amelie_common::Value;

    /// A catalog with one table made by `sql` (with a SERIAL counter of its own).
    fn catalog(sql: &str, serial: &[&str]) -> Catalog {
        let mut c = Catalog::default();
        c.apply(&DdlOp::CreateNode(Node {
            uuid: "node-0".into(),
        }))
        .unwrap();
        let req = amelie_parser::parse(sql).unwrap();
        let Compiled::Ddl(DdlOp::CreateTable(mut t)) =
            compile(&req, &c, &CompileCtx::default()).unwrap()
        else {
            panic!("create table expected");
        };
        for col in &mut t.columns {
            col.serial = serial.contains(&col.name.as_str());
        }
        c.apply(&DdlOp::CreateTable(t)).unwrap();
        c
    }

    /// The rows of the request's first INSERT, built for one execution (from a plain parse;
    /// a params parse binding the same literals must build the same rows).
    fn rows(c: &Catalog, sql: &str) -> Result<Vec<Box<[Value]>>> {
        let req = amelie_parser::parse(sql)?;
        let Compiled::Program(p) = compile(&req, c, &CompileCtx::default())? else {
            return Err(Error::internal("program expected"));
        };
        let Some(t) = p.inserts.first() else {
            return Ok(Vec::new());
        };
        let counter = &c.tables[0].serial;
        let serial = counter.peek();
        let preq = amelie_parser::parse_params(sql)?;
        let Compiled::Program(q) = compile(&preq, c, &CompileCtx::default())? else {
            return Err(Error::internal("program expected"));
        };
        let again = q.inserts[0].rows(&preq.params, 0);
        counter.set(serial);
        let rows = t.rows(&[], 0);
        match (&rows, &again) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{sql}"),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{sql}"),
            _ => panic!("{sql}: {rows:?} vs {again:?}"),
        }
        rows
    }

    #[test]
    fn serial_is_consumed_once_per_row() {
        let c = catalog(
            "create table s (id int primary key, data int)",
            &["id", "data"],
        );
        let counter = c.table("public", "s").unwrap().serial.clone();
        let r = rows(&c, "insert into s () values (), ()").unwrap();
        assert_eq!(&*r[0], &[Value::Int(0), Value::Int(0)]);
        assert_eq!(&*r[1], &[Value::Int(1), Value::Int(1)]);
        let r = rows(&c, "insert into s (data) values (7)").unwrap();
        assert_eq!(&*r[0], &[Value::Int(2), Value::Int(7)]);
        counter.observe(10);
        let r = rows(&c, "insert into s (id) values (3)").unwrap();
        assert_eq!(&*r[0], &[Value::Int(3), Value::Int(11)]);
        let e = rows(&c, "insert into s (id, data) values (null, 1)").unwrap_err();
        assert_eq!(e.to_string(), "column <id> value cannot be NULL");
    }

    #[test]
    fn stored_columns_are_computed_over_the_proposed_row() {
        let c = catalog(
            "create table g (id int primary key, a int default 3, b int as (a * 2) stored, \
             d int default 0 as (d + 1) stored)",
            &[],
        );
        let r = rows(&c, "insert into g (id) values (1)").unwrap();
        assert_eq!(
            &*r[0],
            &[Value::Int(1), Value::Int(3), Value::Int(6), Value::Int(1)]
        );
        let r = rows(&c, "insert into g values (2, 5, 100, 42)").unwrap();
        assert_eq!(
            &*r[0],
            &[Value::Int(2), Value::Int(5), Value::Int(10), Value::Int(43)]
        );
        // the type of a generated expression is checked by the INSERT, not CREATE TABLE
        let req =
            amelie_parser::parse("create table e (id int primary key, a int as ('x') stored)")
                .unwrap();
        let Compiled::Ddl(op) = compile(&req, &c, &CompileCtx::default()).unwrap() else {
            panic!("ddl expected");
        };
        let mut c = c.clone();
        c.apply(&op).unwrap();
        let e = rows(&c, "insert into e (id) values (1)").unwrap_err();
        assert_eq!(
            e.to_string(),
            "<e.a> column generated expression type 'string' does not match column type 'int'"
        );
        let req = amelie_parser::parse("insert into e generate 0").unwrap();
        let e = compile(&req, &c, &CompileCtx::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "<e.a> column generated expression type 'string' does not match column type 'int'"
        );
        // a type only the row's values show is checked as the row is computed
        let c = catalog(
            "create table j (id int primary key, doc json, a int as (doc.x) stored)",
            &[],
        );
        let r = rows(&c, "insert into j (id, doc) values (1, {\"x\": 1})").unwrap_err();
        assert_eq!(
            r.to_string(),
            "<j.a> column generated expression type 'json' does not match column type 'int'"
        );
        let r = rows(&c, "insert into j (id, doc) values (1, null)").unwrap();
        assert_eq!(&*r[0], &[Value::Int(1), Value::Null, Value::Null]);
        let req =
            amelie_parser::parse("create table e (id int primary key as (1) resolved)").unwrap();
        let e = compile(&req, &c, &CompileCtx::default()).unwrap_err();
        assert_eq!(e.to_string(), "<e.id> key column cannot be RESOLVED");
    }

    #[test]
    fn resolved_columns_make_an_upsert() {
        let c = catalog(
            "create table h (id int primary key, n int default 1 as (n + 1) resolved)",
            &[],
        );
        for sql in [
            "insert into h (id) values (1)",
            "insert into h (id) values (1) on conflict do resolve",
        ] {
            let req = amelie_parser::parse(sql).unwrap();
            let Compiled::Program(p) = compile(&req, &c, &CompileCtx::default()).unwrap() else {
                panic!("program expected");
            };
            assert!(p.program.node.iter().any(|op| matches!(
                op,
                Op::Upsert {
                    mode: Conflict::Update,
                    ..
                }
            )));
        }
    }

    #[test]
    fn update_errors() {
        let c = catalog("create table u (id int primary key, data json)", &[]);
        let e = rows(&c, "update u set data = 1, data = 2").unwrap_err();
        assert_eq!(e.to_string(), "<u.data> column is redefined in UPDATE");
        let e = rows(&c, "update u set id = 1").unwrap_err();
        assert_eq!(e.to_string(), "<u.id> column used as a part of a key");
        assert!(rows(&c, "update u set data.a.b = 1 returning *").is_ok());
        assert!(rows(&c, "insert into u values (1, null) on conflict do update set data = excluded.data where excluded.id > 0 returning id").is_ok());
    }

    #[test]
    fn key_range_bounds_cover_exactly_the_matching_keys() {
        use crate::builder::Builder;
        use std::ops::Bound;
        let c = catalog("create table r (a int, b int, primary key (a, b))", &[]);
        let t = c.table("public", "r").unwrap();
        let scope = Scope {
            table: Some(t),
            alias: None,
            aggs: None,
        };
        type Pred = fn(i64, i64) -> bool;
        let cases: &[(&str, Pred)] = &[
            ("a > 2", |a, _| a > 2),
            ("a >= 2", |a, _| a >= 2),
            ("a < 2", |a, _| a < 2),
            ("2 >= a", |a, _| a <= 2),
            ("a between 1 and 3", |a, _| (1..=3).contains(&a)),
            ("a = 2", |a, _| a == 2),
            ("a = 2 and b > 1", |a, b| a == 2 && b > 1),
            ("a = 2 and b <= 1", |a, b| a == 2 && b <= 1),
            ("a = -1 and b < 3 and b >= 0", |a, b| {
                a == -1 && (0..3).contains(&b)
            }),
        ];
        for (filter, pred) in cases {
            let req = amelie_parser::parse(&format!("select * from r where {filter}")).unwrap();
            let amelie_parser::Stmt::Select(sel) = &req.stmts[0] else {
                panic!("select expected");
            };
            let b = Builder::new(&CompileCtx::default());
            let (from, to) = crate::query::key_range(&b, t, &scope, sel.filter.as_ref())
                .unwrap()
                .expect(filter);
            let inside = |k: &[u8]| {
                let lo = match &from {
                    Some((f, true)) => Bound::Included(&f[..]),
                    Some((f, false)) => Bound::Excluded(&f[..]),
                    None => Bound::Unbounded,
                };
                let hi = match &to {
                    Some((f, true)) => Bound::Included(&f[..]),
                    Some((f, false)) => Bound::Excluded(&f[..]),
                    None => Bound::Unbounded,
                };
                std::ops::RangeBounds::contains(&(lo, hi), k)
            };
            for a in -3..6 {
                for bb in -3..6 {
                    let mut k = Vec::new();
                    amelie_vm::node_exec::encode_key(&[Value::Int(a), Value::Int(bb)], &mut k);
                    assert_eq!(inside(&k), pred(a, bb), "{filter}: ({a}, {bb})");
                }
            }
        }
    }
}
