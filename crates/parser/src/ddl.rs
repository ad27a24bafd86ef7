//! Utility statements: schemas, indexes, ALTER TABLE, TRUNCATE, SHOW and SET.

use crate::ast::*;
use crate::lexer::{Kw, Tok, P};
use crate::parser::Parser;
use amelie_common::ErrorKind;
use amelie_common::{ColumnType, Result};

impl Parser {
    /// A plain name (a non-keyword word).
    fn name(&mut self, msg: &str) -> Result<String> {
        match self.take_ident() {
            Some(n) => Ok(n),
            None => self.fail(msg),
        }
    }

    /// `SCHEMA [IF NOT EXISTS] name` (after CREATE).
    pub(crate) fn create_schema(&mut self) -> Result<Stmt> {
        self.advance();
        let if_not_exists = self.if_not_exists()?;
        let name = self.name("CREATE SCHEMA <name> expected")?;
        Ok(Stmt::CreateSchema {
            if_not_exists,
            name,
        })
    }

    /// `SCHEMA [IF EXISTS] name [CASCADE]` (after DROP).
    pub(crate) fn drop_schema(&mut self) -> Result<Stmt> {
        self.advance();
        let if_exists = self.if_exists()?;
        let name = self.name("DROP SCHEMA <name> expected")?;
        let cascade = self.accept_kw(Kw::Cascade);
        Ok(Stmt::DropSchema {
            if_exists,
            name,
            cascade,
        })
    }

    /// `[UNIQUE] INDEX [IF NOT EXISTS] name ON table (keys) [WITH (..)]`
    pub(crate) fn create_index(&mut self, unique: bool) -> Result<Stmt> {
        self.advance();
        let if_not_exists = self.if_not_exists()?;
        let name = self.name("CREATE INDEX <name> expected")?;
        if !self.accept_kw(Kw::On) {
            return self.fail("CREATE INDEX name <ON> expected");
        }
        let table = self.object_name("CREATE INDEX name ON <name> expected")?;
        self.expect_p(P::LParen, "KEY <(> expected")?;
        let mut keys = Vec::new();
        loop {
            let Some(k) = self.take_ident() else {
                return self.fail("KEY (<name> expected");
            };
            keys.push(k);
            if self.accept_p(P::Comma) {
                continue;
            }
            self.expect_p(P::RParen, "KEY (name <,)> expected")?;
            break;
        }
        let index_type = self.table_with()?;
        Ok(Stmt::CreateIndex(CreateIndex {
            if_not_exists,
            unique,
            name,
            table,
            keys,
            index_type,
        }))
    }

    /// `INDEX [IF EXISTS] name ON table` (after DROP).
    pub(crate) fn drop_index(&mut self) -> Result<Stmt> {
        self.advance();
        let if_exists = self.if_exists()?;
        let name = self.name("DROP INDEX <name> expected")?;
        if !self.accept_kw(Kw::On) {
            return self.fail("DROP INDEX name <ON> expected");
        }
        let table = self.object_name("DROP INDEX name ON <name> expected")?;
        Ok(Stmt::DropIndex {
            if_exists,
            name,
            table,
        })
    }

    pub(crate) fn alter(&mut self) -> Result<Stmt> {
        self.advance();
        match self.peek_kw() {
            Some(Kw::Schema) => {
                self.advance();
                let if_exists = self.if_exists()?;
                let name = self.name("ALTER SCHEMA <name> expected")?;
                if !self.accept_kw(Kw::Rename) {
                    return self.fail("ALTER SCHEMA <RENAME> expected");
                }
                self.accept_kw(Kw::To);
                let new_name = self.name("ALTER SCHEMA RENAME <name> expected")?;
                Ok(Stmt::AlterSchema {
                    if_exists,
                    name,
                    new_name,
                })
            }
            Some(Kw::Index) => {
                self.advance();
                let if_exists = self.if_exists()?;
                let name = self.name("ALTER INDEX <name> expected")?;
                if !self.accept_kw(Kw::On) {
                    return self.fail("ALTER INDEX name <ON> expected");
                }
                let table = self.object_name("ALTER INDEX name ON <name> expected")?;
                if !self.accept_kw(Kw::Rename) {
                    return self.fail("ALTER INDEX name ON name <RENAME> expected");
                }
                if !self.accept_kw(Kw::To) {
                    return self.fail("ALTER INDEX name ON name RENAME <TO> expected");
                }
                let new_name = self.name("ALTER INDEX name ON name RENAME TO <name> expected")?;
                Ok(Stmt::AlterIndex {
                    if_exists,
                    name,
                    table,
                    new_name,
                })
            }
            Some(Kw::Table) => self.alter_table(),
            Some(Kw::User) => self.fail_kind(ErrorKind::Unsupported, "ALTER USER is not supported"),
            _ => self.fail("ALTER <USER|SCHEMA|TABLE|INDEX> expected"),
        }
    }

    fn alter_table(&mut self) -> Result<Stmt> {
        self.advance();
        let if_exists = self.if_exists()?;
        let name = self.object_name("ALTER TABLE <name> expected")?;
        let op = match self.peek_kw() {
            Some(Kw::Rename) => {
                self.advance();
                if self.accept_kw(Kw::Column) {
                    let from = self.name("ALTER TABLE name RENAME COLUMN <name> expected")?;
                    if !self.accept_kw(Kw::To) {
                        return self.fail("ALTER TABLE name RENAME COLUMN name TO <name> expected");
                    }
                    let to = self.name("ALTER TABLE name RENAME COLUMN name TO <name> expected")?;
                    AlterTableOp::RenameColumn { from, to }
                } else {
                    self.accept_kw(Kw::To);
                    AlterTableOp::Rename(self.object_name("ALTER TABLE RENAME <name> expected")?)
                }
            }
            Some(Kw::Add) => {
                self.advance();
                if !self.accept_kw(Kw::Column) {
                    return self.fail("ALTER TABLE name ADD <COLUMN> expected");
                }
                let if_not_exists = self.if_not_exists()?;
                let Some(col) = self.take_ident() else {
                    return self.fail("(<name> expected");
                };
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
                    return self.fail_kind(
                        ErrorKind::Unsupported,
                        "PRIMARY KEY clause is not supported in this command",
                    );
                }
                if column.not_null {
                    return self.fail_kind(
                        ErrorKind::Unsupported,
                        "ALTER TABLE ADD NOT NULL currently not supported",
                    );
                }
                AlterTableOp::AddColumn {
                    if_not_exists,
                    column,
                }
            }
            Some(Kw::Drop) => {
                self.advance();
                if !self.accept_kw(Kw::Column) {
                    return self.fail("ALTER TABLE name DROP <COLUMN> expected");
                }
                let if_exists = self.if_exists()?;
                let name = self.name("ALTER TABLE name DROP COLUMN <name> expected")?;
                AlterTableOp::DropColumn { if_exists, name }
            }
            Some(Kw::Set) => {
                self.advance();
                match self.peek_kw() {
                    Some(Kw::Serial) => {
                        self.advance();
                        if !self.accept_kw(Kw::To) {
                            return self.fail("ALTER TABLE SET SERIAL <TO> expected");
                        }
                        match self.peek() {
                            Tok::Int(n) => {
                                let n = *n;
                                self.advance();
                                AlterTableOp::SetSerial(n)
                            }
                            _ => return self.fail("ALTER TABLE SET SERIAL TO <integer> expected"),
                        }
                    }
                    Some(Kw::Logged) => {
                        self.advance();
                        AlterTableOp::SetLogged(true)
                    }
                    Some(Kw::Unlogged) => {
                        self.advance();
                        AlterTableOp::SetLogged(false)
                    }
                    Some(Kw::Column) => {
                        self.advance();
                        let column = self.name("ALTER TABLE SET COLUMN <name> expected")?;
                        if self.accept_kw(Kw::Default) {
                            let value = self.expr()?;
                            AlterTableOp::SetDefault { column, value }
                        } else if self.accept_kw(Kw::As) {
                            let value = self.generated_expr()?;
                            let stored = if self.accept_kw(Kw::Stored) {
                                true
                            } else if self.accept_kw(Kw::Resolved) {
                                false
                            } else {
                                return self.fail("AS (expr) <STORED | RESOLVED> expected");
                            };
                            AlterTableOp::SetGenerated {
                                column,
                                stored,
                                value: Some(value),
                            }
                        } else {
                            return self
                                .fail("ALTER TABLE SET COLUMN name <DEFAULT | AS> expected");
                        }
                    }
                    _ => return self.fail("ALTER TABLE SET <SERIAL> expected"),
                }
            }
            Some(Kw::Unset) => {
                self.advance();
                if !self.accept_kw(Kw::Column) {
                    return self.fail("ALTER TABLE UNSET <COLUMN> expected");
                }
                let column = self.name("ALTER TABLE UNSET COLUMN <name> expected")?;
                match self.peek_kw() {
                    Some(Kw::Default) => {
                        self.advance();
                        AlterTableOp::UnsetDefault { column }
                    }
                    Some(k @ (Kw::Stored | Kw::Resolved)) => {
                        self.advance();
                        AlterTableOp::SetGenerated {
                            column,
                            stored: k == Kw::Stored,
                            value: None,
                        }
                    }
                    _ => {
                        return self.fail(
                            "ALTER TABLE UNSET COLUMN name <DEFAULT | STORED | RESOLVED> expected",
                        )
                    }
                }
            }
            _ => return self.fail("ALTER TABLE <RENAME | ADD | DROP | SET | UNSET> expected"),
        };
        Ok(Stmt::AlterTable {
            if_exists,
            name,
            op,
        })
    }

    /// `CHECKPOINT [WORKERS n]` (n > 0)
    pub(crate) fn checkpoint(&mut self) -> Result<Stmt> {
        self.advance();
        if !self.accept_kw(Kw::Workers) {
            return Ok(Stmt::Checkpoint { workers: None });
        }
        match self.peek() {
            Tok::Int(n) if *n > 0 => {
                let n = *n;
                self.advance();
                Ok(Stmt::Checkpoint { workers: Some(n) })
            }
            _ => self.fail("CHECKPOINT WORKERS <integer> expected"),
        }
    }

    /// `TRUNCATE [IF EXISTS] name`
    pub(crate) fn truncate(&mut self) -> Result<Stmt> {
        self.advance();
        let if_exists = self.if_exists()?;
        let name = self.object_name("TRUNCATE <name> expected")?;
        Ok(Stmt::Truncate { if_exists, name })
    }

    /// `SHOW what [name] [EXTENDED] [FORMAT 'spec']`
    pub(crate) fn show(&mut self) -> Result<Stmt> {
        self.advance();
        let what = match self.peek() {
            Tok::Word(w, _) => w.clone(),
            _ => return self.fail("SHOW <name> expected"),
        };
        self.advance();
        let mut arg = None;
        match what.as_str() {
            "user" | "replica" | "node" | "schema" | "table" => match self.peek() {
                Tok::Word(..) | Tok::Str(_) | Tok::Name(_) => {
                    arg = Some(match self.take() {
                        Tok::Word(w, _) | Tok::Str(w) => w,
                        Tok::Name(parts) => parts.join("."),
                        _ => String::new(),
                    })
                }
                _ => return self.fail(format!("SHOW {what} <name> expected")),
            },
            "tables" if self.accept_kw(Kw::In) || self.accept_kw(Kw::From) => {
                arg = Some(self.name("SHOW TABLES IN <name> expected")?);
            }
            _ => {}
        }
        if what == "table" && (self.accept_kw(Kw::In) || self.accept_kw(Kw::From)) {
            let schema = self.name("SHOW TABLE name IN <name> expected")?;
            arg = arg.map(|a| format!("{schema}.{a}"));
        }
        let extended = self.accept_kw(Kw::Extended);
        let mut format = None;
        if self.accept_kw(Kw::Format) {
            match self.take_string() {
                Some(f) => format = Some(f),
                None => return self.fail("FORMAT <string> expected"),
            }
        }
        Ok(Stmt::Show {
            what,
            arg,
            extended,
            format,
        })
    }

    /// `SET name TO value`
    pub(crate) fn set(&mut self) -> Result<Stmt> {
        self.advance();
        let name = match self.peek() {
            Tok::Word(w, _) => w.clone(),
            _ => return self.fail("SET <name> expected"),
        };
        self.advance();
        if !self.accept_kw(Kw::To) {
            return self.fail("SET name <TO> expected");
        }
        // (a negative number is not a value here)
        let value = match self.take() {
            Tok::Int(n) if n >= 0 => Expr::Int(n),
            Tok::Str(s) => Expr::String(s),
            Tok::Word(_, Some(Kw::True)) => Expr::Bool(true),
            Tok::Word(_, Some(Kw::False)) => Expr::Bool(false),
            _ => return self.fail("SET name TO <value> expected string, int, or bool"),
        };
        Ok(Stmt::Set { name, value })
    }
}

#[cfg(test)]
mod tests {
    use crate::ast::*;
    use crate::tests::{err, one};

    #[test]
    fn set_statement() {
        assert_eq!(
            one("set test_int to 1234"),
            Stmt::Set {
                name: "test_int".into(),
                value: Expr::Int(1234)
            }
        );
        assert_eq!(
            one("set test_bool to false"),
            Stmt::Set {
                name: "test_bool".into(),
                value: Expr::Bool(false)
            }
        );
        assert_eq!(err("set"), "SET <name> expected");
        assert_eq!(err("set x"), "SET name <TO> expected");
        for sql in ["set x to", "set x to -1", "set x to 1.5", "set x to null"] {
            assert_eq!(
                err(sql),
                "SET name TO <value> expected string, int, or bool",
                "{sql}"
            );
        }
        assert_eq!(
            err("set x to 0 junk"),
            "unexpected token at the end of statement"
        );
    }

    #[test]
    fn schema_statements() {
        assert_eq!(
            one("create schema if not exists s"),
            Stmt::CreateSchema {
                if_not_exists: true,
                name: "s".into()
            }
        );
        assert!(matches!(
            one("drop schema s cascade"),
            Stmt::DropSchema { cascade: true, .. }
        ));
        assert_eq!(
            err("alter schema test rename to"),
            "ALTER SCHEMA RENAME <name> expected"
        );
        assert_eq!(
            err("create schema test abc"),
            "unexpected token at the end of statement"
        );
    }

    #[test]
    fn index_statements() {
        let Stmt::CreateIndex(ci) = one("create unique index i on s.t (a, b)") else {
            panic!("create index expected");
        };
        assert!(ci.unique);
        assert_eq!(ci.keys, vec!["a".to_string(), "b".to_string()]);
        assert_eq!(ci.table.schema.as_deref(), Some("s"));
        assert_eq!(err("create index i on test"), "KEY <(> expected");
        assert_eq!(err("drop index i"), "DROP INDEX name <ON> expected");
        assert_eq!(
            err("alter index i on test rename"),
            "ALTER INDEX name ON name RENAME <TO> expected"
        );
    }

    #[test]
    fn alter_table_statements() {
        assert!(matches!(
            one("alter table t rename column a to b"),
            Stmt::AlterTable {
                op: AlterTableOp::RenameColumn { .. },
                ..
            }
        ));
        assert!(matches!(
            one("alter table t set serial to 5"),
            Stmt::AlterTable {
                op: AlterTableOp::SetSerial(5),
                ..
            }
        ));
        assert_eq!(
            err("alter table test add column data int not null"),
            "ALTER TABLE ADD NOT NULL currently not supported"
        );
        assert_eq!(
            err("alter table test"),
            "ALTER TABLE <RENAME | ADD | DROP | SET | UNSET> expected"
        );
    }

    #[test]
    fn show_set_truncate() {
        assert_eq!(
            one("show tables in s extended format 'json'"),
            Stmt::Show {
                what: "tables".into(),
                arg: Some("s".into()),
                extended: true,
                format: Some("json".into())
            }
        );
        assert_eq!(err("show \"x\""), "SHOW <name> expected");
        assert_eq!(
            one("set limit_send to 10"),
            Stmt::Set {
                name: "limit_send".into(),
                value: Expr::Int(10)
            }
        );
        assert_eq!(err("truncate if not exists"), "IF <EXISTS> expected");
    }
}
