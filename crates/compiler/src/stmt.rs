//! Statements of a DML/query request, in order: SELECT ([`query`]), INSERT/UPDATE/DELETE
//! ([`dml`]) and WITH blocks, whose CTEs are earlier statements of the program.

use crate::builder::{Builder, Sec};
use crate::insert::InsertTemplate;
use crate::{dml, pipeline, query};
use amelie_catalog::Catalog;
use amelie_common::{Error, Result};
use amelie_parser::{Cte, Stmt};
use amelie_vm::Op;

/// Compiles one statement; INSERT VALUES/GENERATE add their rows' template to `inserts`.
pub(crate) fn compile(
    b: &mut Builder,
    catalog: &Catalog,
    stmt: &Stmt,
    inserts: &mut Vec<InsertTemplate>,
) -> Result<()> {
    match stmt {
        Stmt::Select(s) => query::compile_select(b, catalog, s),
        Stmt::Insert(i) => dml::insert(b, catalog, i, inserts),
        Stmt::Update(u) => dml::update(b, catalog, u),
        Stmt::Delete(d) => dml::delete(b, catalog, d),
        Stmt::With { ctes, main } => with(b, catalog, ctes, main.as_deref(), inserts),
        _ => Err(Error::unsupported(
            "CTE and multi-statement utility commands are not supported",
        )),
    }
}

/// `WITH name [(cols)] AS (stmt), ... [main]`: every CTE runs as an earlier statement of the
/// program whose rows later statements read by name.
fn with(
    b: &mut Builder,
    catalog: &Catalog,
    ctes: &[Cte],
    main: Option<&Stmt>,
    inserts: &mut Vec<InsertTemplate>,
) -> Result<()> {
    let mut last = None;
    let mut chunks = Vec::new();
    for cte in ctes {
        if b.ctes.iter().any(|(n, _, _)| *n == cte.name) {
            return Err(Error::syntax(format!("CTE <{}> redefined", cte.name)));
        }
        b.ctes.push((cte.name.clone(), None, Vec::new()));
        let before = b.p.stmts.len();
        let start = b.pc(Sec::Coordinator);
        let stmt = match &*cte.stmt {
            Stmt::Select(s) => Some(query::compile_stmt(b, catalog, s)?),
            Stmt::Insert(i) => {
                dml::insert(b, catalog, i, inserts)?;
                None
            }
            Stmt::Update(u) => {
                dml::update(b, catalog, u)?;
                None
            }
            Stmt::Delete(d) => {
                dml::delete(b, catalog, d)?;
                None
            }
            _ => {
                return Err(Error::syntax(
                    "CTE: SELECT, INSERT, UPDATE or DELETE expected",
                ))
            }
        };
        // DML: its RETURNING rows are in the statement it created
        let stmt = stmt
            .or_else(|| (b.p.stmts.len() > before).then(|| (b.p.stmts.len() - 1) as u16))
            .ok_or_else(|| Error::new(format!("CTE <{}> returns no rows", cte.name)))?;
        let mut columns = b.p.stmts[stmt as usize].columns.clone();
        if !cte.columns.is_empty() {
            if cte.columns.len() != columns.len() {
                return Err(Error::type_error(format!(
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
        chunks.push(pipeline::Chunk {
            start,
            end: b.pc(Sec::Coordinator),
            first_stmt: before as u16,
        });
    }
    pipeline::pipeline(&mut b.p, &chunks);
    match main {
        Some(Stmt::Select(s)) => query::compile_select(b, catalog, s),
        Some(Stmt::Insert(i)) => dml::insert(b, catalog, i, inserts),
        Some(Stmt::Update(u)) => dml::update(b, catalog, u),
        Some(Stmt::Delete(d)) => dml::delete(b, catalog, d),
        Some(_) => Err(Error::unsupported("CTE: unsupported main statement")),
        None => {
            if let Some(stmt) = last {
                b.emit(Sec::Coordinator, Op::Result { stmt });
            }
            Ok(())
        }
    }
}
