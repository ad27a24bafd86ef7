//! The Amelie SQL dialect: sqlparser's tokenizer under an Amelie `Dialect`, and our own
//! recursive-descent parser producing [`ast::Request`].
//!
//! * `lexer`: [`AmelieDialect`] for `sqlparser::tokenizer::Tokenizer`, plus a post-pass that
//!   turns its tokens into Amelie tokens (negative number literals, compound names, `t.*`,
//!   string decoding, keywords).
//! * `parser`: request framing (EXPLAIN/BEGIN/COMMIT) and statement dispatch; `select`,
//!   `dml`, `table`, `ddl`, `user`, `node`, `repl`: the statements.
//! * `expr`: expressions with Amelie's operator priorities.
//! * `visit`: the one walk over expressions ([`Expr::walk`], [`Expr::any`], ...).

pub mod ast;
mod ddl;
mod dml;
mod expr;
mod fingerprint;
pub mod import;
mod lexer;
mod node;
mod parser;
mod repl;
mod select;
mod table;
mod user;
mod visit;

#[cfg(test)]
mod tests;

pub use ast::*;
pub use fingerprint::{fingerprint, same_literals, MAX_KEY};
pub use import::{parse_import, ImportColumn, ImportFormat, ImportRow, ImportSpec};
pub use lexer::AmelieDialect;
pub use visit::Walk;

/// Parses one request body (a whole transaction) into statements.
///
/// Errors carry Amelie's user-facing message texts (`bad expression`,
/// `unexpected token at the end of statement`, ...). Never panics; nesting is limited (an
/// expression tree is at most 512 levels high, nesting at most 128 levels) and reported as
/// `expression is too deeply nested`. Run it on a thread with the usual 2 MiB of stack or more.
pub fn parse(sql: &str) -> amelie_common::Result<Request> {
    parser::parse_request(sql, false)
}

/// Like [`parse`], but every number and string literal that the parser itself does not need
/// becomes an [`Expr::Param`] referring to [`Request::params`]; [`Request::baked`] marks the
/// literals whose value the parse did depend on. A program compiled from this request can be
/// reused for any request whose text differs only in the values of non-baked literals (the
/// program cache). Utility statements and failed parses should be parsed again with
/// [`parse`], which is the reference for their behaviour and error texts.
pub fn parse_params(sql: &str) -> amelie_common::Result<Request> {
    parser::parse_request(sql, true)
}

/// Parses one standalone expression (e.g. the stored text of a generated column).
pub fn parse_expr(text: &str) -> amelie_common::Result<Expr> {
    parser::parse_expr(text)
}
