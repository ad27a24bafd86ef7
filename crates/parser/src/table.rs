//! CREATE and DROP (dispatch), CREATE TABLE with its column constraints, generated columns
//! and `WITH (type = ...)`.

use crate::ast::*;
use crate::lexer::{Kw, Tok, P};
use crate::parser::{toks_text, Parser};
use amelie_common::ErrorKind;
use amelie_common::{ColumnType, Result, Type};

impl Parser {
    pub(crate) fn create(&mut self) -> Result<Stmt> {
        self.advance();
        if self.accept_kw(Kw::Unique) {
            if self.is_kw(Kw::Index) {
                return self.create_index(true);
            }
            return self.fail("CREATE UNIQUE <INDEX> expected");
        }
        if self.is_kw(Kw::Index) {
            return self.create_index(false);
        }
        if self.is_kw(Kw::Schema) {
            return self.create_schema();
        }
        if self.is_kw(Kw::Replica) {
            return self.create_replica();
        }
        let unlogged = self.accept_kw(Kw::Unlogged);
        let shared = if self.accept_kw(Kw::Shared) {
            true
        } else {
            self.accept_kw(Kw::Distributed);
            false
        };
        match self.peek_kw() {
            Some(Kw::Table) => Ok(Stmt::CreateTable(self.create_table(unlogged, shared)?)),
            Some(kw @ (Kw::User | Kw::Node)) => self.fail_kind(
                ErrorKind::Unsupported,
                format!("CREATE {} is not supported", kw_upper(kw)),
            ),
            _ => self.fail("CREATE <USER|REPLICA|NODE|SCHEMA|TABLE|INDEX> expected"),
        }
    }

    pub(crate) fn drop(&mut self) -> Result<Stmt> {
        self.advance();
        match self.peek_kw() {
            Some(Kw::Table) => {
                self.advance();
                let if_exists = self.if_exists()?;
                let name = self.object_name("DROP TABLE <name> expected")?;
                Ok(Stmt::DropTable { if_exists, name })
            }
            Some(Kw::Schema) => self.drop_schema(),
            Some(Kw::Index) => self.drop_index(),
            Some(Kw::Replica) => self.drop_replica(),
            Some(kw @ (Kw::User | Kw::Node)) => self.fail_kind(
                ErrorKind::Unsupported,
                format!("DROP {} is not supported", kw_upper(kw)),
            ),
            _ => self.fail("DROP <USER|REPLICA|NODE|SCHEMA|TABLE|INDEX> expected"),
        }
    }

    pub(crate) fn if_not_exists(&mut self) -> Result<bool> {
        if !self.accept_kw(Kw::If) {
            return Ok(false);
        }
        if !self.accept_kw(Kw::Not) {
            return self.fail("IF <NOT> EXISTS expected");
        }
        if !self.accept_kw(Kw::Exists) {
            return self.fail("IF NOT <EXISTS> expected");
        }
        Ok(true)
    }

    pub(crate) fn if_exists(&mut self) -> Result<bool> {
        if !self.accept_kw(Kw::If) {
            return Ok(false);
        }
        if !self.accept_kw(Kw::Exists) {
            return self.fail("IF <EXISTS> expected");
        }
        Ok(true)
    }

    /// `TABLE [IF NOT EXISTS] name (columns..., [PRIMARY KEY (..)]) [WITH (type = '..')]`
    fn create_table(&mut self, unlogged: bool, shared: bool) -> Result<CreateTable> {
        self.advance();
        let if_not_exists = self.if_not_exists()?;
        let name = self.object_name("CREATE TABLE <name> expected")?;
        self.expect_p(P::LParen, "CREATE TABLE name <(> expected")?;
        let mut columns: Vec<ColumnDef> = Vec::new();
        let mut primary_key: Vec<String> = Vec::new();
        loop {
            if self.accept_kw(Kw::Primary) {
                if !self.accept_kw(Kw::Key) {
                    return self.fail("PRIMARY <KEY> expected");
                }
                self.expect_p(P::LParen, "KEY <(> expected")?;
                loop {
                    let Some(key) = self.take_ident() else {
                        return self.fail("KEY (<name> expected");
                    };
                    let Some(column) = columns.iter_mut().find(|c| c.name == key) else {
                        return self.fail_kind(
                            ErrorKind::NotFound,
                            format!("<{key}> column does not exists"),
                        );
                    };
                    column.primary_key = true;
                    if !primary_key.contains(&key) {
                        primary_key.push(key);
                    }
                    if self.accept_p(P::Comma) {
                        continue;
                    }
                    self.expect_p(P::RParen, "KEY (name <,)> expected")?;
                    break;
                }
            } else {
                let Some(col) = self.take_ident() else {
                    return self.fail("(<name> expected");
                };
                if columns.iter().any(|c| c.name == col) {
                    return self.fail(format!("<{col}> column redefined"));
                }
                let ty = match self.peek() {
                    Tok::Word(t, _) => match ColumnType::parse(t) {
                        Some(ty) => ty,
                        None => return self.fail(format!("{col} <{t}> unrecognized column type")),
                    },
                    _ => return self.fail(format!("{col} <> unrecognized column type")),
                };
                self.advance();
                let column = self.column_constraints(col, ty)?;
                if column.primary_key {
                    primary_key.push(column.name.clone());
                }
                columns.push(column);
            }
            if self.accept_p(P::Comma) {
                continue;
            }
            self.expect_p(P::RParen, "CREATE TABLE name (name type <,)> expected")?;
            break;
        }
        if primary_key.is_empty() {
            return self.fail("primary key is not defined");
        }
        for column in columns.iter_mut().filter(|c| c.primary_key) {
            if !column.ty.can_be_key() {
                return self.fail_kind(
                    ErrorKind::Type,
                    format!(
                        "<{}> column key can be text, int32, int64 or timestamp",
                        column.name
                    ),
                );
            }
            column.not_null = true;
        }
        let index_type = self.table_with()?;
        Ok(CreateTable {
            if_not_exists,
            shared,
            unlogged,
            name,
            columns,
            primary_key,
            index_type,
        })
    }

    pub(crate) fn column_constraints(&mut self, name: String, ty: ColumnType) -> Result<ColumnDef> {
        let mut c = ColumnDef {
            name,
            ty,
            not_null: false,
            default: None,
            serial: false,
            random: None,
            primary_key: false,
            stored: None,
            resolved: None,
        };
        loop {
            match self.peek_kw() {
                Some(Kw::Not) => {
                    self.advance();
                    if !self.accept_kw(Kw::Null) {
                        return self.fail("NOT <NULL> expected");
                    }
                    c.not_null = true;
                }
                Some(Kw::Default) => {
                    self.advance();
                    if matches!(
                        ty,
                        ColumnType::Timestamp | ColumnType::Interval | ColumnType::Vector
                    ) {
                        return self.fail_kind(
                            ErrorKind::Unsupported,
                            format!("DEFAULT for column <{}> is not supported", c.name),
                        );
                    }
                    let value = self.expr()?;
                    match const_default(value, ty) {
                        Some(v) => c.default = Some(v),
                        None => {
                            return self.fail(format!(
                                "column <{}> DEFAULT value must be a const and match the column type <{}>",
                                c.name,
                                ty.runtime().name()
                            ))
                        }
                    }
                }
                Some(Kw::Serial) => {
                    self.advance();
                    if !matches!(ty, ColumnType::Int32 | ColumnType::Int64) {
                        return self.fail_kind(
                            ErrorKind::Type,
                            format!("SERIAL column <{}> must be int or int64", c.name),
                        );
                    }
                    c.serial = true;
                }
                Some(Kw::Random) => {
                    self.advance();
                    if !matches!(ty, ColumnType::Int32 | ColumnType::Int64) {
                        return self.fail_kind(
                            ErrorKind::Type,
                            format!("RANDOM column <{}> must be int or int64", c.name),
                        );
                    }
                    let mut modulo = None;
                    if self.accept_p(P::LParen) {
                        match self.peek() {
                            Tok::Int(n) if *n != 0 => modulo = Some(*n),
                            _ => return self.fail("RANDOM (<integer> expected"),
                        }
                        self.advance();
                        self.expect_p(P::RParen, "RANDOM (integer <)> expected")?;
                    }
                    c.random = Some(modulo);
                }
                Some(Kw::Primary) => {
                    self.advance();
                    if !self.accept_kw(Kw::Key) {
                        return self.fail("PRIMARY <KEY> expected");
                    }
                    if c.primary_key {
                        return self.fail("PRIMARY KEY defined twice");
                    }
                    c.primary_key = true;
                }
                Some(Kw::Generated | Kw::As) => {
                    if self.accept_kw(Kw::Generated) {
                        let always = matches!(self.peek(), Tok::Word(w, _) if w.eq_ignore_ascii_case("always"));
                        if !always {
                            return self.fail("GENERATED <ALWAYS> expected");
                        }
                        self.advance();
                    }
                    if !self.accept_kw(Kw::As) {
                        return self.fail("GENERATED ALWAYS <AS> expected");
                    }
                    let text = self.generated_expr()?;
                    if self.accept_kw(Kw::Stored) {
                        c.stored = Some(text);
                    } else if self.accept_kw(Kw::Resolved) {
                        c.resolved = Some(text);
                    } else {
                        return self.fail("AS (expr) <STORED | RESOLVED> expected");
                    }
                }
                _ => return Ok(c),
            }
        }
    }

    /// `(expr)` of a generated column: parses the expression and returns its source text,
    /// rendered from its tokens (re-parsed by [`crate::parse_expr`] when compiling).
    pub(crate) fn generated_expr(&mut self) -> Result<String> {
        self.expect_p(P::LParen, "AS <(> expected")?;
        // (the expression parser moves tokens out, so copy its span first)
        let span = self.span_to_close();
        self.expr()?;
        self.expect_p(P::RParen, "AS (expr <)> expected")?;
        Ok(toks_text(&span))
    }

    /// `[WITH (type = 'tree' | 'hash')]`
    pub(crate) fn table_with(&mut self) -> Result<Option<String>> {
        if !self.accept_kw(Kw::With) {
            return Ok(None);
        }
        self.expect_p(P::LParen, "WITH <(> expected")?;
        let mut index_type;
        loop {
            let Tok::Word(param, _) = self.peek() else {
                return self.fail("WITH (<name> expected");
            };
            if !param.eq_ignore_ascii_case("type") {
                return self.fail(format!("WITH: <{param}> unrecognized parameter"));
            }
            self.advance();
            self.expect_p(P::Eq, "WITH (type <=> expected")?;
            let Some(ty) = self.take_string() else {
                return self.fail("WITH (type = <string>) expected");
            };
            if ty.eq_ignore_ascii_case("tree") || ty.eq_ignore_ascii_case("hash") {
                index_type = Some(ty.to_ascii_lowercase());
            } else {
                return self.fail("WITH: unknown primary index type");
            }
            if self.accept_p(P::Comma) {
                continue;
            }
            self.expect_p(P::RParen, "WITH (name = value <,)> expected")?;
            return Ok(index_type);
        }
    }
}

fn kw_upper(kw: Kw) -> &'static str {
    match kw {
        Kw::User => "USER",
        Kw::Node => "NODE",
        Kw::Schema => "SCHEMA",
        Kw::Index => "INDEX",
        _ => "",
    }
}

/// A column DEFAULT must be a constant of the column's type (any JSON constant for json;
/// an int is accepted for float/double and converted). NULL is allowed.
fn const_default(value: Expr, ty: ColumnType) -> Option<Expr> {
    let ok = match (&value, ty.runtime()) {
        (Expr::Null, _) => true,
        (Expr::Bool(_), Type::Bool) => true,
        (Expr::Int(_), Type::Int) => true,
        (Expr::Int(v), Type::Double) => return Some(Expr::Double(*v as f64)),
        (Expr::Double(_), Type::Double) => true,
        (Expr::String(_), Type::String) => true,
        (
            Expr::Bool(_) | Expr::Int(_) | Expr::Double(_) | Expr::String(_) | Expr::JsonLiteral(_),
            Type::Json,
        ) => true,
        _ => false,
    };
    ok.then_some(value)
}
