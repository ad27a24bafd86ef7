//! SHOW (server variables and the catalog/config views) and SET (server variables, and
//! `SET timezone` for the session).

use super::json::{s, schema_json, split_name, table_json};
use super::system::wal_json;
use crate::{Executor, SessionCtx};
use amelie_common::{Error, Json, Result, Value};
use amelie_parser::{Expr, Stmt};

impl Executor {
    /// Runs SHOW and SET; `None` for any other statement.
    pub(crate) fn show_or_set(
        &self,
        stmt: &Stmt,
        session: &SessionCtx,
    ) -> Option<Result<Option<String>>> {
        match stmt {
            Stmt::Show {
                what,
                arg,
                extended,
                format,
            } => Some(self.show(what, arg.as_deref(), *extended, format.as_deref(), session)),
            Stmt::Set { name, value } => Some(self.set(name, value).map(|_| None)),
            _ => None,
        }
    }

    /// `SET timezone TO 'name'` changes the session's time zone; `None` for any other
    /// statement.
    pub(crate) fn set_timezone(
        &self,
        stmt: &Stmt,
        session: &mut SessionCtx,
    ) -> Option<Result<Option<String>>> {
        let Stmt::Set { name, value } = stmt else {
            return None;
        };
        if name != "timezone" {
            return None;
        }
        let Expr::String(tz) = value else {
            return Some(Err(Error::type_error(
                "SET 'timezone': string value expected",
            )));
        };
        Some(match amelie_common::Tz::lookup(tz) {
            Some(offset) => {
                session.tz = offset;
                session.timezone = Some(tz.clone());
                Ok(None)
            }
            None => Err(Error::not_found(format!(
                "set 'timezone': unable to find timezone '{tz}'"
            ))),
        })
    }

    fn show(
        &self,
        what: &str,
        arg: Option<&str>,
        extended: bool,
        format: Option<&str>,
        session: &crate::SessionCtx,
    ) -> Result<Option<String>> {
        let snap = self.snapshot();
        let c = &snap.catalog;
        let value = match what {
            "users" => super::users::users_json(snap.config.as_deref()),
            "user" => arg
                .and_then(|n| super::users::user_json(snap.config.as_deref(), n))
                .unwrap_or(Json::Null),
            "replicas" => super::repl::replicas_of(&snap.repl),
            "replica" => match arg {
                Some(id) => super::repl::replica_of(&snap.repl, id)?,
                None => Json::Null,
            },
            "node" => arg
                .map(|n| super::nodes::node_json(c, n))
                .unwrap_or(Json::Null),
            "nodes" | "cluster" => super::nodes::nodes_json(c),
            "repl" | "replication" => snap.repl.clone(),
            "wal" => wal_json(&snap.wal),
            "status" => snap.status_json(),
            "schemas" => Json::Array(c.schemas.iter().map(|x| schema_json(x, extended)).collect()),
            "schema" => match arg.and_then(|n| c.schema(n)) {
                Some(x) => schema_json(x, extended),
                None => Json::Null,
            },
            "tables" => Json::Array(
                c.tables
                    .iter()
                    .filter(|t| arg.is_none_or(|a| t.schema == a))
                    .map(|t| table_json(t, extended))
                    .collect(),
            ),
            "table" => {
                let t = arg.and_then(|n| {
                    let (sc, name) = split_name(n);
                    c.table(&sc, &name)
                });
                match t {
                    Some(t) => table_json(t, extended),
                    None => Json::Null,
                }
            }
            "timezone" if session.timezone.is_some() => {
                s(session.timezone.as_deref().unwrap_or_default())
            }
            "all" | "config" => snap.config_json(),
            "checkpoint" => Json::Int(self.checkpoint_lsn() as i64),
            name => {
                let Some(vars) = snap.config_json().into_members() else {
                    return Err(amelie_common::Error::unsupported("config is not available"));
                };
                let hidden = || snap.config.as_ref().and_then(|c| c.get(name));
                match vars
                    .into_iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v)
                    .or_else(hidden)
                {
                    Some(v) => v,
                    None => {
                        return Err(amelie_common::Error::not_found(format!(
                            "SHOW name: '{name}' not found"
                        )))
                    }
                }
            }
        };
        let fmt = match format {
            Some(f) => amelie_common::format::Format::parse(f)?,
            None => amelie_common::format::Format::parse(&self.format.read())?,
        };
        let mut out = String::new();
        amelie_common::format::encode_single(
            what,
            &Value::Json(Box::new(value)),
            fmt,
            session.tz,
            &mut out,
        );
        Ok(Some(out))
    }

    fn set(&self, name: &str, value: &Expr) -> Result<()> {
        let v = match value {
            Expr::Int(i) => Value::Int(*i),
            Expr::String(x) => Value::Str(x.as_str().into()),
            Expr::Bool(b) => Value::Bool(*b),
            _ => {
                return Err(amelie_common::Error::syntax(
                    "SET name TO <value> expected string, int, or bool",
                ))
            }
        };
        if name == "format" {
            if let Value::Str(f) = &v {
                amelie_common::format::Format::parse(f)?;
            }
        }
        if let Some(src) = self.config_source.read().clone() {
            src.set(name, &v)?;
        }
        match (name, &v) {
            ("format", Value::Str(f)) => *self.format.write() = f.to_string(),
            ("limit_send", Value::Int(n)) => self.set_limit_send((*n).max(0) as u64),
            ("limit_write", Value::Int(n)) => self.set_limit_write((*n).max(0) as u64),
            ("limit_memory", Value::Int(n)) => self.set_limit_memory((*n).max(0) as u64),
            ("limit_memory_total", Value::Int(n)) => {
                self.set_limit_memory_total((*n).max(0) as u64)
            }
            ("limit_time", Value::Int(n)) => self.set_limit_time((*n).max(0) as u64),
            _ => {}
        }
        Ok(())
    }
}
