//! The compiler: name resolution, planning (point lookups, pushdown of filters, projections
//! and partial aggregates to the nodes) and bytecode emission for both program sections.
//!
//! Modules from the bottom up (each uses only modules above it in this list):
//! `builder` (the program being built), `expr` (names and expressions), `generated`
//! (STORED/RESOLVED expressions), `serial`, `insert` (INSERT rows), `output` (what a compile
//! gives), `pipeline`, `query` (SELECT: `query::plan` decides, the other `query::*` modules
//! emit), `dml` (INSERT/UPDATE/DELETE), `stmt` (statements and WITH), `ddl`.

mod builder;
mod ddl;
mod dml;
mod expr;
mod generated;
mod insert;
mod output;
mod pipeline;
mod query;
mod stmt;

#[cfg(test)]
mod tests;

pub use builder::{CompileCtx, SystemFuncs};
pub use insert::InsertTemplate;
pub use output::{Compiled, Plan};

use amelie_catalog::Catalog;
use amelie_common::Result;
use amelie_parser::Request;

/// Compiles a parsed request against a catalog snapshot.
pub fn compile(req: &Request, catalog: &Catalog, ctx: &CompileCtx) -> Result<Compiled> {
    if let [stmt] = req.stmts.as_slice() {
        if stmt.is_utility() {
            return ddl::compile_utility(stmt, catalog);
        }
    }
    let (b, mut baked) = amelie_parser::record_baked(|| -> Result<_> {
        let mut b = builder::Builder::new(ctx);
        let mut inserts = Vec::new();
        for s in &req.stmts {
            stmt::compile(&mut b, catalog, s, &mut inserts)?;
            b.check_limits(inserts.len())?;
        }
        Ok((b, inserts))
    });
    let (b, inserts) = b?;
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
    Ok(Compiled::Program(Plan {
        program: b.finish(),
        inserts,
        baked,
        volatile,
    }))
}
