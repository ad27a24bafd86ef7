//! The Amelie SQL dialect: sqlparser's tokenizer under an Amelie `Dialect`, and our own
//! recursive-descent parser producing [`ast::Request`].

pub mod ast;

pub use ast::*;

/// Parses one request body (a whole transaction) into statements.
pub fn parse(_sql: &str) -> amelie_common::Result<Request> {
    todo!("parser")
}
