//! The compiler: name resolution, planning (point lookups, pushdown of filters, projections
//! and partial aggregates to the nodes) and bytecode emission for both program sections.

mod builder;
mod ddl;
mod dml;
mod expr;
mod generated;
mod pipeline;
mod plan;
mod select;

pub use builder::{CompileCtx, SystemFuncs};
pub use dml::{serial_observe, serial_peek, serial_set};

use amelie_catalog::{Catalog, DdlOp};
use amelie_common::Result;
use amelie_parser::{Request, Stmt};
use amelie_vm::Program;

/// What a request compiles to.
#[derive(Debug)]
pub enum Compiled {
    /// DML and queries: one program with a coordinator and a node section.
    Program(Program),
    /// A catalog change, run alone under the exclusive lock.
    Ddl(DdlOp),
    /// A utility statement that turned out to do nothing (IF [NOT] EXISTS).
    Nothing,
}

/// Compiles a parsed request against a catalog snapshot.
pub fn compile(req: &Request, catalog: &Catalog, ctx: &CompileCtx) -> Result<Compiled> {
    if let [stmt] = req.stmts.as_slice() {
        if stmt.is_utility() {
            return ddl::compile_utility(stmt, catalog);
        }
    }
    let mut b = builder::Builder::new(ctx);
    for stmt in &req.stmts {
        match stmt {
            Stmt::Select(s) => select::select(&mut b, catalog, s)?,
            Stmt::Insert(i) => dml::insert(&mut b, catalog, i)?,
            Stmt::Update(u) => dml::update(&mut b, catalog, u)?,
            Stmt::Delete(d) => dml::delete(&mut b, catalog, d)?,
            Stmt::With { ctes, main } => select::with(&mut b, catalog, ctes, main.as_deref())?,
            _ => {
                return Err(amelie_common::Error::new(
                    "CTE and multi-statement utility commands are not supported",
                ))
            }
        }
    }
    Ok(Compiled::Program(b.finish()))
}
