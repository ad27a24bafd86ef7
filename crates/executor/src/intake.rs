//! Request intake: the entry point of every SQL request ([`Executor::execute_session`]).
//!
//! 1. A request that matches an earlier one up to its literal values reuses its compiled
//!    program from this thread's program cache ([`crate::cache`]) and goes straight to
//!    [`Executor::run_prepared`].
//! 2. Otherwise the text is parsed once: with its literals as parameters when the program may
//!    be cached, or, for utility statements (and texts that do not parse), with the plain
//!    parse, which is the reference for their behaviour and error texts. A text whose first
//!    word starts a utility statement takes the plain parse at once.
//! 3. A subscribed replica refuses every request that writes to the database: the one
//!    read-only check ([`Executor::admit`], `admin/repl.rs`) reads the request's typed
//!    [`amelie_parser::Effect`] (kept in a cached program too), under the shared `control`
//!    lock that `SUBSCRIBE` takes exclusively.
//! 4. A lone utility statement is dispatched without a transaction: `SET timezone` (the
//!    session), SHOW/SET, users and tokens, WATCH, CREATE/DROP NODE ([`crate::admin`]),
//!    replicas and replication ([`crate::admin::repl`]), CHECKPOINT, and DDL ([`crate::ddl`]). Anything else is compiled (`system.*()` values
//!    come from a [`crate::admin::system::LazySystem`]), answered here when it is an EXPLAIN,
//!    kept in the program cache when it can serve other literal values, and run as one
//!    transaction.

use crate::cache::{self, Prepared};
use crate::{now_us, Executor, SessionCtx};
use amelie_common::format::{encode_single, Format};
use amelie_common::{Error, Result, Value};
use amelie_compiler::{compile, CompileCtx, Compiled};
use amelie_parser::{Request, Stmt};
use std::sync::Arc;

/// Whether the text starts like a utility statement: its first word is one only they start
/// with. Such a text is never cached, so it skips the cache lookup and the parameter parse.
fn utility_head(sql: &str) -> bool {
    let word = sql
        .trim_start()
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or("");
    [
        "create",
        "drop",
        "alter",
        "truncate",
        "show",
        "set",
        "checkpoint",
        "watch",
        "start",
        "stop",
        "subscribe",
        "unsubscribe",
    ]
    .iter()
    .any(|k| word.eq_ignore_ascii_case(k))
}

impl Executor {
    /// Executes one request body as one transaction; `SET timezone` changes `session`.
    /// `Ok(None)` means no content (204).
    ///
    /// A request that matches an earlier one up to its literal values reuses its compiled
    /// program (see [`cache`]); otherwise it is parsed (literals as parameters) and compiled,
    /// and the program is cached when it can serve other literal values.
    pub async fn execute_session(
        &self,
        sql: &str,
        session: &mut SessionCtx,
    ) -> Result<Option<String>> {
        amelie_common::idle::busy();
        let mut key = Vec::new();
        let mut lits = Vec::new();
        let utility = utility_head(sql);
        let cacheable = !utility && amelie_parser::fingerprint(sql, &mut key, &mut lits);
        if cacheable {
            let shared = self.control.read().await;
            let catalog = self.catalog();
            if let Some(prepared) = cache::lookup(&key, &catalog, session.tz, &lits) {
                self.cache.hit();
                self.admit(prepared.effect)?;
                let r = self
                    .run_prepared(&prepared, &lits, &catalog, session, now_us())
                    .await;
                drop(shared);
                return r;
            }
        }
        let parsed = match utility {
            true => None,
            false => amelie_parser::parse_params(sql)
                .ok()
                .filter(|req| !(req.stmts.len() == 1 && req.stmts[0].is_utility())),
        };
        let Some(req) = parsed else {
            // utility statements and errors: the plain parse is the reference
            let req = amelie_parser::parse(sql).inspect_err(|_| self.cache.miss())?;
            if let [stmt] = req.stmts.as_slice() {
                // (the session's own setting: no program, not counted by the cache)
                if let Some(r) = self.set_timezone(stmt, session) {
                    return r;
                }
            }
            self.cache.miss();
            return self.execute_request(req, true, session).await;
        };
        self.cache.miss();
        if req.stmts.is_empty() {
            return Ok(None);
        }
        let _shared = self.control.read().await;
        let effect = req.effect();
        self.admit(effect)?;
        let catalog = self.catalog();
        let now = now_us();
        let ctx = CompileCtx {
            now,
            tz_offset: session.tz,
            system: Some(self.system_funcs(&catalog)),
        };
        let Compiled::Program(plan) = compile(&req, &catalog, &ctx)? else {
            return Ok(None);
        };
        let prepared = Arc::new(Prepared {
            program: Arc::new(plan.program),
            inserts: plan.inserts,
            effect,
        });
        if req.explain {
            return self.explain(&prepared, &req.params, session, now);
        }
        if cacheable && !plan.volatile && amelie_parser::same_literals(&lits, &req.params) {
            cache::insert(
                &key,
                &catalog,
                session.tz,
                &plan.baked,
                &lits,
                prepared.clone(),
            );
        }
        self.run_prepared(&prepared, &req.params, &catalog, session, now)
            .await
    }

    /// Executes a parsed request: a lone utility statement without a transaction, anything
    /// else as one transaction (`system`: it may read `system.*`).
    pub(crate) async fn execute_request(
        &self,
        req: Request,
        system: bool,
        session: &SessionCtx,
    ) -> Result<Option<String>> {
        if req.stmts.is_empty() {
            return Ok(None);
        }
        let effect = req.effect();
        if let [stmt] = req.stmts.as_slice() {
            if stmt.is_utility() {
                if req.explain {
                    return Err(Error::unsupported(
                        "EXPLAIN is not supported for utility statements",
                    ));
                }
                self.admit(effect)?;
                return self.utility(&req, stmt, system, session).await;
            }
        }
        let _shared = self.control.read().await;
        self.admit(effect)?;
        let catalog = self.catalog();
        let now = now_us();
        let ctx = CompileCtx {
            now,
            tz_offset: session.tz,
            system: system.then(|| self.system_funcs(&catalog)),
        };
        let Compiled::Program(plan) = compile(&req, &catalog, &ctx)? else {
            return Ok(None);
        };
        let prepared = Prepared {
            program: Arc::new(plan.program),
            inserts: plan.inserts,
            effect,
        };
        if req.explain {
            return self.explain(&prepared, &req.params, session, now);
        }
        self.run_prepared(&prepared, &req.params, &catalog, session, now)
            .await
    }

    /// Runs a lone utility statement (no transaction).
    async fn utility(
        &self,
        req: &Request,
        stmt: &Stmt,
        system: bool,
        session: &SessionCtx,
    ) -> Result<Option<String>> {
        if let Some(r) = self.show_or_set(stmt, session) {
            return r;
        }
        if let Some(r) = self.user_stmt(stmt, session) {
            return r;
        }
        if let Some(r) = self.watch_stmt(stmt, session).await {
            return r;
        }
        if let Some(r) = self.node_stmt(stmt).await {
            return r;
        }
        if let Some(r) = self.repl_stmt(stmt).await {
            return r;
        }
        if let Stmt::Checkpoint { workers } = stmt {
            return self.checkpoint(*workers).await.map(|_| None);
        }
        let catalog = self.catalog();
        let ctx = CompileCtx {
            now: now_us(),
            tz_offset: session.tz,
            system: system.then(|| self.system_funcs(&catalog)),
        };
        if let Compiled::Ddl(op) = compile(req, &catalog, &ctx)? {
            self.ddl(op).await?;
        }
        Ok(None)
    }

    /// EXPLAIN: the program's code. Like Amelie, which builds INSERT rows while compiling,
    /// it takes the SERIAL values the rows would take.
    fn explain(
        &self,
        prepared: &Prepared,
        lits: &[Value],
        session: &SessionCtx,
        now: i64,
    ) -> Result<Option<String>> {
        for t in &prepared.inserts {
            t.each_row(lits, now, |_| Ok(()))?;
        }
        let format = Format::parse(&self.format.read())?;
        let mut out = String::new();
        encode_single(
            "explain",
            &Value::Json(Box::new(prepared.program.explain())),
            format,
            session.tz,
            &mut out,
        );
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utility_heads() {
        for sql in [
            "create table t (id int primary key)",
            "  SET x TO 1",
            "Show all",
            "watch 1",
        ] {
            assert!(utility_head(sql), "{sql}");
        }
        for sql in [
            "select 1",
            "explain create table t",
            "-- c\nshow all",
            "",
            "settle",
        ] {
            assert!(!utility_head(sql), "{sql}");
        }
    }
}
