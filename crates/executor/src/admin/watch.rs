//! `WATCH expr` (spec §2.14): re-evaluates an expression in the coordinator until it is true.

use crate::{now_us, route, Executor, SessionCtx};
use amelie_common::{Error, Result, Value};
use amelie_compiler::{compile, CompileCtx, Compiled};
use amelie_parser::{Request, Select, Stmt};
use amelie_vm::{Coordinator, Step};

/// How long `WATCH` sleeps between two evaluations of its expression.
pub const WATCH_INTERVAL: std::time::Duration = std::time::Duration::from_millis(1000);

impl Executor {
    /// Runs WATCH; `None` for any other statement.
    pub(crate) async fn watch_stmt(
        &self,
        stmt: &Stmt,
        session: &SessionCtx,
    ) -> Option<Result<Option<String>>> {
        let Stmt::Watch(select) = stmt else {
            return None;
        };
        Some(self.watch(select, session).await.map(|_| None))
    }

    /// Evaluates `select` (one expression) in the coordinator; true when it is `true`.
    fn watch_once(&self, select: &Select, session: &crate::SessionCtx) -> Result<bool> {
        let req = Request {
            explain: false,
            stmts: vec![Stmt::Select(Box::new(select.clone()))],
            ..Request::default()
        };
        let now = now_us();
        let catalog = self.catalog();
        let ctx = CompileCtx {
            now,
            tz_offset: session.tz,
            system: Some(self.system_funcs(&catalog)),
        };
        let Compiled::Program(plan) = compile(&req, &catalog, &ctx)? else {
            return Err(Error::syntax("WATCH: expression expected"));
        };
        let program = &plan.program;
        let params: Vec<Value> = program.bind(&[], now);
        let routes = route::plan(
            program,
            &plan.inserts,
            &route::Execution {
                lits: &[],
                params: &params,
                now,
                gov: &amelie_common::Governor::unlimited(),
            },
            &catalog,
            &self.nodes(),
        )?;
        if !route::participants(&routes).is_empty() {
            return Err(Error::unsupported("WATCH: expression cannot read tables"));
        }
        let mut coord = Coordinator::new(
            program,
            amelie_vm::Env {
                params: &params,
                now,
            },
        );
        match coord.resume(None)? {
            Step::Done => {}
            Step::Dispatch(_) | Step::Await(_) | Step::Yield => {
                return Err(Error::unsupported("WATCH: expression cannot read tables"))
            }
        }
        let rows = coord
            .take_result()
            .map(|(_, rows)| rows)
            .unwrap_or_default();
        Ok(matches!(
            rows.first().and_then(|r| r.first()),
            Some(Value::Bool(true))
        ))
    }

    /// `WATCH expr`: re-evaluates `expr` every [`WATCH_INTERVAL`] until it is true. The loop
    /// ends early when the request is dropped (the client went away).
    async fn watch(&self, select: &Select, session: &crate::SessionCtx) -> Result<()> {
        while !self.watch_once(select, session)? {
            tokio::time::sleep(WATCH_INTERVAL).await;
        }
        Ok(())
    }
}
