//! What compiling a request gives.

use crate::insert::InsertTemplate;
use amelie_catalog::DdlOp;
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
