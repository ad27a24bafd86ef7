//! INSERT (VALUES, GENERATE, SELECT; ON CONFLICT; RETURNING), UPDATE and DELETE.

use crate::ast::*;
use crate::lexer::{Kw, Tok, P};
use crate::parser::Parser;
use amelie_common::ErrorKind;
use amelie_common::Result;

impl Parser {
    pub(crate) fn insert(&mut self) -> Result<Insert> {
        self.advance();
        if !self.accept_kw(Kw::Into) {
            return self.fail("INSERT <INTO> expected");
        }
        let table = self.object_name("FROM target name expected")?;
        let mut columns = None;
        if self.accept_p(P::LParen) {
            let mut list = Vec::new();
            if !self.accept_p(P::RParen) {
                loop {
                    match self.take_ident() {
                        Some(name) => list.push(name),
                        None => return self.fail("INSERT INTO name (<name> expected"),
                    }
                    if self.accept_p(P::Comma) {
                        continue;
                    }
                    self.expect_p(P::RParen, "expected ')'")?;
                    break;
                }
            }
            columns = Some(list);
        }
        let source = match self.peek_kw() {
            Some(Kw::Values) => {
                self.advance();
                let width = columns.as_ref().map(Vec::len);
                InsertSource::Values(self.values(width)?)
            }
            Some(Kw::Generate) => {
                self.advance();
                match self.peek() {
                    Tok::Int(n) if *n < 0 => {
                        return self.fail("GENERATE <count> must not be negative")
                    }
                    Tok::Int(n) => {
                        let n = *n;
                        self.advance();
                        InsertSource::Generate(n)
                    }
                    _ => return self.fail("GENERATE <count> expected"),
                }
            }
            Some(Kw::Select) => {
                if columns.is_some() {
                    return self.fail_kind(
                        ErrorKind::Unsupported,
                        "INSERT SELECT using column list is not supported",
                    );
                }
                InsertSource::Select(Box::new(self.select()?))
            }
            _ => return self.fail("INSERT INTO <VALUES | SELECT> expected"),
        };
        let on_conflict = self.on_conflict()?;
        let returning = self.returning()?;
        Ok(Insert {
            table,
            columns,
            source,
            on_conflict,
            returning,
        })
    }

    /// `(v, ...)[, (v, ...) ...]` — values are literals; the comma between values is optional
    /// (as in Amelie). With an explicit column list of `width` columns, a row may not hold more
    /// values (Amelie then expects the `)`); fewer is left to the compiler, like all row width
    /// checks against the table (`row has incorrect number of columns`).
    fn values(&mut self, width: Option<usize>) -> Result<Vec<Vec<Expr>>> {
        let mut rows = Vec::new();
        loop {
            self.expect_p(P::LParen, "expected '('")?;
            let mut row = Vec::new();
            if width == Some(0) {
                self.expect_p(P::RParen, "expected ')'")?;
            } else if !self.accept_p(P::RParen) {
                loop {
                    row.push(self.value()?);
                    if Some(row.len()) == width {
                        self.expect_p(P::RParen, "expected ')'")?;
                        break;
                    }
                    if self.accept_p(P::Comma) {
                        continue;
                    }
                    if self.accept_p(P::RParen) {
                        break;
                    }
                    if self.starts_value() {
                        continue;
                    }
                    return self.fail("expected ')'");
                }
            }
            rows.push(row);
            if !self.accept_p(P::Comma) {
                return Ok(rows);
            }
        }
    }

    fn on_conflict(&mut self) -> Result<Option<OnConflict>> {
        if !self.accept_kw(Kw::On) {
            return Ok(None);
        }
        if !self.accept_kw(Kw::Conflict) {
            return self.fail("INSERT VALUES ON <CONFLICT> expected");
        }
        if !self.accept_kw(Kw::Do) {
            return self.fail("INSERT VALUES ON CONFLICT <DO> expected");
        }
        let action =
            match self.peek_kw() {
                Some(Kw::Nothing) => OnConflict::Nothing,
                Some(Kw::Error) => OnConflict::Error,
                Some(Kw::Resolve) => OnConflict::Resolve,
                Some(Kw::Update) => {
                    self.advance();
                    if !self.accept_kw(Kw::Set) {
                        return self.fail("UPDATE <SET> expected");
                    }
                    let set = self.assignments()?;
                    let filter = self.where_clause()?;
                    return Ok(Some(OnConflict::Update { set, filter }));
                }
                _ => return self.fail(
                    "INSERT VALUES ON CONFLICT DO <NOTHING | ERROR | UPDATE | RESOLVE> expected",
                ),
            };
        self.advance();
        Ok(Some(action))
    }

    /// `col[.path] = expr | DEFAULT, ...`
    fn assignments(&mut self) -> Result<Vec<Assignment>> {
        let mut set = Vec::new();
        loop {
            let (column, path) = match self.peek() {
                Tok::Word(_, None) => (self.take_ident().unwrap_or_default(), Vec::new()),
                Tok::Name(_) => {
                    let mut parts = self.take_parts();
                    let path = parts.split_off(1);
                    (parts.pop().unwrap_or_default(), path)
                }
                _ => return self.fail("UPDATE name SET <name> expected"),
            };
            if !self.accept_p(P::Eq) {
                return self.fail("UPDATE name SET column <=> expected");
            }
            let value = if self.is_kw(Kw::Default) {
                if !path.is_empty() {
                    return self.fail("UPDATE DEFAULT cannot be used this way");
                }
                self.advance();
                None
            } else {
                Some(self.expr()?)
            };
            set.push(Assignment {
                column,
                path,
                value,
            });
            if !self.accept_p(P::Comma) {
                return Ok(set);
            }
        }
    }

    pub(crate) fn update(&mut self) -> Result<Update> {
        self.advance();
        let table = self.object_name("FROM target name expected")?;
        let alias = self.alias()?;
        if !self.accept_kw(Kw::Set) {
            return self.fail("UPDATE <SET> expected");
        }
        let set = self.assignments()?;
        let filter = self.where_clause()?;
        let returning = self.returning()?;
        Ok(Update {
            table,
            alias,
            set,
            filter,
            returning,
        })
    }

    pub(crate) fn delete(&mut self) -> Result<Delete> {
        self.advance();
        if !self.accept_kw(Kw::From) {
            return self.fail("DELETE <FROM> expected");
        }
        let table = self.object_name("FROM target name expected")?;
        let alias = self.alias()?;
        let filter = self.where_clause()?;
        let returning = self.returning()?;
        Ok(Delete {
            table,
            alias,
            filter,
            returning,
        })
    }
}
