//! The compiler: name resolution, planning (point lookups, pushdown of filters, projections
//! and partial aggregates to the nodes) and bytecode emission for both program sections.

mod builder;
mod ddl;
mod dml;
mod expr;
mod generated;
mod insert;
mod pipeline;
mod plan;
mod select;

pub use builder::{CompileCtx, SystemFuncs};
pub use insert::InsertTemplate;

use amelie_catalog::{Catalog, DdlOp};
use amelie_common::Result;
use amelie_parser::{Request, Stmt};
use amelie_vm::Program;

/// A compiled DML/query request: its program and what each execution builds besides.
#[derive(Debug)]
pub struct Plan {
    pub program: Program,
    /// The rows of INSERT VALUES/GENERATE statements (`Target::Insert(i)`), built for each
    /// execution.
    pub inserts: Vec<InsertTemplate>,
    /// Literals (by position) whose values the program depends on, found by the parser
    /// ([`amelie_parser::Request::baked`]) or while compiling: the program serves another
    /// request only when these literals have the same values.
    pub baked: Vec<u32>,
    /// The program depends on more than the catalog, the session's time zone and the baked
    /// literals: it serves this request only.
    pub volatile: bool,
}

/// What a request compiles to.
#[derive(Debug)]
pub enum Compiled {
    /// DML and queries: one program with a coordinator and a node section.
    Program(Plan),
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
    let (b, mut baked) = amelie_parser::record_baked(|| -> Result<builder::Builder> {
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
            b.check_limits()?;
        }
        Ok(b)
    });
    let mut b = b?;
    baked.extend(
        req.baked
            .iter()
            .enumerate()
            .filter(|(_, b)| **b)
            .map(|(i, _)| i as u32),
    );
    baked.sort_unstable();
    baked.dedup();
    let volatile = b.is_volatile();
    let inserts = std::mem::take(&mut b.inserts);
    Ok(Compiled::Program(Plan {
        program: b.finish(),
        inserts,
        baked,
        volatile,
    }))
}
