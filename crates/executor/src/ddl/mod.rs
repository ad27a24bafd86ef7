//! Utility statements that are not plain catalog changes (SHOW, SET) and the catalog/config
//! views behind `system.*()` functions and `SHOW`.

use amelie_catalog::{Catalog, Column, IndexDef, Schema, Table};
use amelie_common::{ColumnType, IndexKind, Json, Result, Value};
use amelie_compiler::SystemFuncs;
use std::sync::Arc;

/// Server configuration as the executor sees it (filled by the server crate).
pub trait ConfigSource: Send + Sync {
    /// The `SHOW ALL` / `system.config()` listing, in order.
    /// `psn` is the last partition id handed out.
    fn show_all(&self, lsn: u64, psn: u64) -> Vec<(String, Json)>;
    /// Validates and applies `SET name TO value` for a server-wide variable. `Ok(false)`: the
    /// executor handles it itself (it was only validated).
    fn set(&self, name: &str, value: &Value) -> Result<()>;
    /// The persisted users (hidden `users` variable), in creation order.
    fn users(&self) -> Vec<crate::user::User> {
        Vec::new()
    }
    /// Changes the users atomically and persists them (`config.json`); `f` failing changes
    /// nothing.
    fn update_users(
        &self,
        f: &mut dyn FnMut(&mut Vec<crate::user::User>) -> Result<()>,
    ) -> Result<()> {
        let _ = f;
        Err(amelie_common::Error::new("users are not available"))
    }
    /// Network counters for `SHOW STATUS`: (open connections, bytes sent, bytes received).
    fn net(&self) -> (u64, u64, u64) {
        (0, 0, 0)
    }
}

/// When this process started (for `uptime`).
static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// Records the process start time; called when the executor opens.
pub fn mark_started() {
    STARTED.get_or_init(std::time::Instant::now);
}

/// `process` object of `SHOW STATUS`: uptime in seconds, memory in bytes (from
/// /proc/self/statm), CPU count. Per-thread CPU load is not sampled (0 / empty).
fn process_json(cache: (u64, u64)) -> Json {
    let uptime = STARTED.get().map(|t| t.elapsed().as_secs()).unwrap_or(0);
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: Vec<i64> = statm
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    let page = 4096i64;
    let at = |i: usize| Json::Int(pages.get(i).copied().unwrap_or(0) * page);
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    obj(vec![
        ("uptime", Json::Int(uptime as i64)),
        ("mem_virt", at(0)),
        ("mem_resident", at(1)),
        ("mem_shared", at(2)),
        ("cpu_count", Json::Int(cpus as i64)),
        ("cpu", Json::Int(0)),
        ("cpu_frontends", Json::Array(Vec::new())),
        ("cpu_backends", Json::Array(Vec::new())),
        (
            "program_cache",
            obj(vec![
                ("hits", Json::Int(cache.0 as i64)),
                ("misses", Json::Int(cache.1 as i64)),
            ]),
        ),
        ("node_panics", Json::Int(amelie_node::panics() as i64)),
    ])
}

fn obj(fields: Vec<(&str, Json)>) -> Json {
    Json::Object(
        fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

fn s(v: &str) -> Json {
    Json::String(v.to_string())
}

/// Runtime type code of a column type (bool 1 … vector 8).
pub fn type_code(ty: ColumnType) -> i64 {
    match ty {
        ColumnType::Bool => 1,
        ColumnType::Int8 | ColumnType::Int16 | ColumnType::Int32 | ColumnType::Int64 => 2,
        ColumnType::Float | ColumnType::Double => 3,
        ColumnType::Text => 4,
        ColumnType::Json => 5,
        ColumnType::Timestamp => 6,
        ColumnType::Interval => 7,
        ColumnType::Vector => 8,
    }
}

pub fn value_json(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::Int(*i),
        Value::Double(d) => Json::Double(*d),
        Value::Str(x) => Json::String(x.to_string()),
        Value::Json(j) => (**j).clone(),
        Value::Vector(v) => Json::Array(v.iter().map(|f| Json::Double(*f as f64)).collect()),
        Value::Timestamp(_) | Value::Interval(_) => Json::Null,
    }
}

pub fn schema_json(sc: &Schema, extended: bool) -> Json {
    let mut f = vec![("name", s(&sc.name)), ("system", Json::Bool(sc.system))];
    if extended {
        f.push(("create", Json::Bool(sc.create)));
    }
    obj(f)
}

fn column_json(c: &Column) -> Json {
    obj(vec![
        ("name", s(&c.name)),
        ("type", Json::Int(type_code(c.ty))),
        ("type_size", Json::Int(c.ty.size())),
        (
            "constraints",
            obj(vec![
                ("not_null", Json::Bool(c.not_null)),
                ("serial", Json::Bool(c.serial)),
                ("random", Json::Bool(c.random.is_some())),
                ("random_modulo", Json::Int(c.random.unwrap_or(i64::MAX))),
                ("as_stored", s(c.gen.stored.as_deref().unwrap_or(""))),
                ("as_resolved", s(c.gen.resolved.as_deref().unwrap_or(""))),
                (
                    "default",
                    c.default.as_ref().map(value_json).unwrap_or(Json::Null),
                ),
            ]),
        ),
    ])
}

pub fn index_json(i: &IndexDef) -> Json {
    obj(vec![
        ("name", s(&i.name)),
        (
            "type",
            Json::Int(match i.kind {
                IndexKind::Hash => 1,
                IndexKind::Tree => 2,
            }),
        ),
        ("unique", Json::Bool(i.unique)),
        ("primary", Json::Bool(i.primary)),
        (
            "keys",
            Json::Array(
                i.keys
                    .iter()
                    .map(|k| obj(vec![("column", Json::Int(*k as i64))]))
                    .collect(),
            ),
        ),
    ])
}

pub fn table_json(t: &Table, extended: bool) -> Json {
    let mut f = vec![
        ("schema", s(&t.schema)),
        ("name", s(&t.name)),
        ("shared", Json::Bool(t.shared)),
        ("unlogged", Json::Bool(t.unlogged)),
    ];
    if extended {
        f.push((
            "columns",
            Json::Array(t.columns.iter().map(column_json).collect()),
        ));
        f.push((
            "indexes",
            Json::Array(t.indexes.iter().map(index_json).collect()),
        ));
        f.push((
            "partitions",
            Json::Array(
                t.partitions
                    .iter()
                    .map(|p| {
                        obj(vec![
                            ("id", Json::Int(p.id as i64)),
                            ("node", s(&p.node)),
                            ("min", Json::Int(p.min as i64)),
                            ("max", Json::Int(p.max as i64)),
                        ])
                    })
                    .collect(),
            ),
        ));
    }
    obj(f)
}

/// `[schema.]name` text → (schema, name).
pub fn split_name(text: &str) -> (String, String) {
    match text.split_once('.') {
        Some((a, b)) => (a.to_string(), b.to_string()),
        None => ("public".to_string(), text.to_string()),
    }
}

/// Numbers behind `SHOW WAL` / `system.wal()`.
#[derive(Clone, Copy, Debug, Default)]
pub struct WalStatus {
    pub lsn: u64,
    pub lsn_min: u64,
    pub files: u64,
    /// Group writes, bytes and records since start-up (after bootstrap).
    pub writes: u64,
    pub writes_bytes: u64,
    pub ops: u64,
    pub checkpoint: u64,
}

pub fn wal_json(w: &WalStatus) -> Json {
    obj(vec![
        ("lsn", Json::Int(w.lsn as i64)),
        ("lsn_min", Json::Int(w.lsn_min as i64)),
        ("files", Json::Int(w.files as i64)),
        ("slots", Json::Int(0)),
        ("slots_min", Json::Int(-1)),
        ("writes", Json::Int(w.writes as i64)),
        ("writes_bytes", Json::Int(w.writes_bytes as i64)),
        ("ops", Json::Int(w.ops as i64)),
        ("checkpoint", Json::Int(w.checkpoint as i64)),
    ])
}

pub fn repl_json() -> Json {
    obj(vec![
        ("active", Json::Bool(false)),
        ("role", s("primary")),
        ("primary", Json::Null),
        ("replicas", Json::Array(Vec::new())),
    ])
}

/// A catalog + config snapshot answering `system.*()` calls.
pub struct SystemSnapshot {
    pub catalog: Arc<Catalog>,
    pub config: Option<Arc<dyn ConfigSource>>,
    pub lsn: u64,
    pub wal: WalStatus,
    /// Program cache (hits, misses).
    pub cache: (u64, u64),
}

impl std::fmt::Debug for SystemSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SystemSnapshot")
    }
}

impl SystemSnapshot {
    pub fn config_json(&self) -> Json {
        match &self.config {
            Some(c) => {
                Json::Object(c.show_all(self.lsn, self.catalog.next_partition_id.saturating_sub(1)))
            }
            None => Json::Object(Vec::new()),
        }
    }

    fn status_json(&self) -> Json {
        let c = &self.catalog;
        obj(vec![
            (
                "uuid",
                self.config
                    .as_ref()
                    .and_then(|c| {
                        c.show_all(0, 0)
                            .into_iter()
                            .find(|(k, _)| k == "uuid")
                            .map(|(_, v)| v)
                    })
                    .unwrap_or_else(|| s("")),
            ),
            ("version", s("1.0.0")),
            (
                "frontends",
                Json::Int(match &self.config {
                    Some(cfg) => crate::node_ddl::frontends_of(&cfg.show_all(0, 0)),
                    None => 1,
                }),
            ),
            ("backends", Json::Int(c.nodes.len() as i64)),
            (
                "db",
                obj(vec![
                    ("schemas", Json::Int(c.schemas.len() as i64)),
                    ("tables", Json::Int(c.tables.len() as i64)),
                    (
                        "tables_shared",
                        Json::Int(c.tables.iter().filter(|t| t.shared).count() as i64),
                    ),
                    (
                        "secondary_indexes",
                        Json::Int(
                            c.tables
                                .iter()
                                .map(|t| t.indexes.len().saturating_sub(1) as i64)
                                .sum(),
                        ),
                    ),
                ]),
            ),
            ("process", process_json(self.cache)),
            ("net", {
                let (connections, sent, recv) =
                    self.config.as_ref().map(|c| c.net()).unwrap_or((0, 0, 0));
                obj(vec![
                    ("connections", Json::Int(connections as i64)),
                    ("sent_bytes", Json::Int(sent as i64)),
                    ("recv_bytes", Json::Int(recv as i64)),
                ])
            }),
            ("wal", wal_json(&self.wal)),
            ("repl", repl_json()),
        ])
    }
}

fn arg_str(args: &[Value]) -> Result<Option<&str>> {
    match args {
        [Value::Str(x)] => Ok(Some(x)),
        [Value::Null] => Ok(None),
        _ => Err(amelie_common::Error::new("string argument expected")),
    }
}

impl SystemFuncs for SystemSnapshot {
    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value>> {
        let c = &self.catalog;
        let json = |j: Json| Some(Ok(Value::Json(Box::new(j))));
        match name {
            "config" => json(self.config_json()),
            "$serial" => Some(match args {
                [Value::Str(schema), Value::Str(table)] => match c.table(schema, table) {
                    Some(t) => Ok(Value::Int(t.serial.peek())),
                    None => Err(amelie_common::Error::new(format!(
                        "table '{table}': not exists"
                    ))),
                },
                _ => Err(amelie_common::Error::new(
                    "serial(): expected string for argument 0",
                )),
            }),
            "users" => json(crate::user::users_json(self.config.as_deref())),
            "user" => Some(arg_str(args).map(|n| {
                match n.and_then(|n| crate::user::user_json(self.config.as_deref(), n)) {
                    Some(u) => Value::Json(Box::new(u)),
                    None => Value::Null,
                }
            })),
            "replicas" => json(Json::Array(Vec::new())),
            "replica" => Some(Ok(Value::Null)),
            "node" => Some(arg_str(args).map(|n| match n {
                Some(n) => match crate::node_ddl::node_json(c, n) {
                    Json::Null => Value::Null,
                    j => Value::Json(Box::new(j)),
                },
                None => Value::Null,
            })),
            "repl" | "replication" => json(repl_json()),
            "nodes" => json(Json::Array(
                c.nodes
                    .iter()
                    .map(|n| obj(vec![("id", s(&n.uuid))]))
                    .collect(),
            )),
            "schemas" => json(Json::Array(
                c.schemas.iter().map(|x| schema_json(x, true)).collect(),
            )),
            "tables" => json(Json::Array(
                c.tables.iter().map(|t| table_json(t, true)).collect(),
            )),
            "schema" => Some(arg_str(args).map(|n| match n.and_then(|n| c.schema(n)) {
                Some(x) => Value::Json(Box::new(schema_json(x, true))),
                None => Value::Null,
            })),
            "table" => Some(arg_str(args).map(|n| {
                let t = n.and_then(|n| {
                    let (sc, name) = split_name(n);
                    c.table(&sc, &name)
                });
                match t {
                    Some(t) => Value::Json(Box::new(table_json(t, true))),
                    None => Value::Null,
                }
            })),
            "wal" => json(wal_json(&self.wal)),
            "status" => json(self.status_json()),
            _ => None,
        }
    }
}

impl crate::Executor {
    /// Sets where `SHOW`/`SET`/`system.config()` read and write server variables.
    pub fn set_config_source(&self, source: Arc<dyn ConfigSource>) {
        *self.config_source.write() = Some(source);
    }

    /// Sets `limit_write` (0 = no limit).
    pub fn set_limit_write(&self, v: u64) {
        self.limit_write
            .store(v, std::sync::atomic::Ordering::Relaxed);
    }

    /// Sets `limit_memory` in bytes (0 = no limit).
    pub fn set_limit_memory(&self, v: u64) {
        self.limit_memory
            .store(v, std::sync::atomic::Ordering::Relaxed);
    }

    /// Sets `limit_memory_total` in bytes (0 = no limit).
    pub fn set_limit_memory_total(&self, v: u64) {
        self.memory_pool.set_limit(v);
    }

    /// The server-wide pool of `limit_memory_total`, for memory held outside a request's
    /// governor (the HTTP layer reserves request bodies from it).
    pub fn memory_pool(&self) -> Arc<amelie_common::governor::MemoryPool> {
        Arc::clone(&self.memory_pool)
    }

    /// Bytes the running requests hold of `limit_memory_total`.
    pub fn memory_reserved(&self) -> usize {
        self.memory_pool.used()
    }

    /// Sets `limit_time` in milliseconds (0 = no limit).
    pub fn set_limit_time(&self, ms: u64) {
        self.limit_time
            .store(ms, std::sync::atomic::Ordering::Relaxed);
    }

    /// The limits of a request starting now (`limit_memory`, `limit_time`).
    pub(crate) fn governor(&self) -> amelie_common::Governor {
        let memory = self.limit_memory.load(std::sync::atomic::Ordering::Relaxed);
        let ms = self.limit_time.load(std::sync::atomic::Ordering::Relaxed);
        amelie_common::Governor::new(
            memory,
            (ms > 0).then(|| std::time::Duration::from_millis(ms)),
        )
        .with_pool(self.memory_pool.clone())
    }

    /// Fails a transaction whose WAL record would exceed `limit_write`.
    pub(crate) fn check_limit_write(&self, record: &crate::commit::Record) -> Result<()> {
        let limit = self.limit_write.load(std::sync::atomic::Ordering::Relaxed);
        if limit > 0 && record.count() > 0 && record.size() as u64 > limit {
            return Err(amelie_common::Error::new("transaction log limit reached"));
        }
        Ok(())
    }

    pub(crate) fn system_snapshot(&self) -> Arc<dyn SystemFuncs> {
        Arc::new(SystemSnapshot {
            catalog: self.catalog(),
            config: self.config_source.read().clone(),
            lsn: self.lsn(),
            wal: self.wal_status(),
            cache: self.cache_stats(),
        })
    }
}

impl crate::Executor {
    /// Runs SHOW and SET; `None` for any other statement.
    pub(crate) fn show_or_set(
        &self,
        stmt: &amelie_parser::Stmt,
        session: &crate::SessionCtx,
    ) -> Option<Result<Option<String>>> {
        use amelie_parser::Stmt;
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

    /// Like [`crate::Executor::execute`], but `SET timezone` changes `session`.
    pub async fn execute_session(
        &self,
        sql: &str,
        session: &mut crate::SessionCtx,
    ) -> Result<Option<String>> {
        let head = sql.trim_start();
        if head.get(..3).is_some_and(|h| h.eq_ignore_ascii_case("set")) {
            let req = amelie_parser::parse(sql)?;
            if let [amelie_parser::Stmt::Set { name, value }] = req.stmts.as_slice() {
                if name == "timezone" {
                    let amelie_parser::Expr::String(tz) = value else {
                        return Err(amelie_common::Error::new("string value expected"));
                    };
                    session.tz_offset = amelie_common::time::zone_handle(tz).ok_or_else(|| {
                        amelie_common::Error::new(format!(
                            "set 'timezone': unable to find timezone '{tz}'"
                        ))
                    })?;
                    session.timezone = Some(tz.clone());
                    return Ok(None);
                }
            }
        }
        self.execute(sql, session).await
    }

    fn show(
        &self,
        what: &str,
        arg: Option<&str>,
        extended: bool,
        format: Option<&str>,
        session: &crate::SessionCtx,
    ) -> Result<Option<String>> {
        let snap = SystemSnapshot {
            catalog: self.catalog(),
            config: self.config_source.read().clone(),
            lsn: self.lsn(),
            wal: self.wal_status(),
            cache: self.cache_stats(),
        };
        let c = &snap.catalog;
        let value = match what {
            "users" => crate::user::users_json(snap.config.as_deref()),
            "user" => arg
                .and_then(|n| crate::user::user_json(snap.config.as_deref(), n))
                .unwrap_or(Json::Null),
            "replicas" => Json::Array(Vec::new()),
            "replica" => Json::Null,
            "node" => arg
                .map(|n| crate::node_ddl::node_json(c, n))
                .unwrap_or(Json::Null),
            "nodes" | "cluster" => crate::node_ddl::nodes_json(c),
            "repl" | "replication" => repl_json(),
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
                    return Err(amelie_common::Error::new("config is not available"));
                };
                match vars.into_iter().find(|(n, _)| n == name) {
                    Some((_, v)) => v,
                    None => {
                        return Err(amelie_common::Error::new(format!(
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
            session.tz_offset,
            &mut out,
        );
        Ok(Some(out))
    }

    fn set(&self, name: &str, value: &amelie_parser::Expr) -> Result<()> {
        use amelie_parser::Expr;
        let v = match value {
            Expr::Int(i) => Value::Int(*i),
            Expr::String(x) => Value::Str(x.as_str().into()),
            Expr::Bool(b) => Value::Bool(*b),
            _ => return Err(amelie_common::Error::new("SET name TO <value> expected")),
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

    /// The node side of catalog changes other than CREATE/DROP TABLE and CREATE NODE.
    pub(crate) fn apply_ddl_nodes(&self, op: &amelie_catalog::DdlOp, new: &Catalog) -> Result<()> {
        use amelie_catalog::DdlOp;
        use amelie_node::NodeMsg;
        let old = self.catalog();
        let nodes = self.nodes();
        let node = |uuid: &str| -> Result<Arc<amelie_node::NodeHandle>> {
            nodes
                .iter()
                .find(|n| n.uuid == uuid)
                .cloned()
                .ok_or_else(|| amelie_common::Error::new(format!("node '{uuid}': not exists")))
        };
        match op {
            DdlOp::DropSchema { name, .. } => {
                for t in old.tables.iter().filter(|t| t.schema == *name) {
                    for p in &t.partitions {
                        node(&p.node)?.call(|done| NodeMsg::DropPartition { id: p.id, done })?;
                    }
                }
            }
            DdlOp::TruncateTable { schema, name } => {
                if let Some(t) = old.table(schema, name) {
                    for p in &t.partitions {
                        let n = node(&p.node)?;
                        n.call(|done| NodeMsg::DropPartition { id: p.id, done })?;
                        n.call(|done| NodeMsg::CreatePartition {
                            id: p.id,
                            table_id: t.id,
                            kind: t.primary().kind,
                            keys: t.primary().keys.clone(),
                            done,
                        })?;
                        for x in t.indexes.iter().skip(1) {
                            n.call(|done| NodeMsg::CreateSecondary {
                                id: p.id,
                                cols: x.keys.clone(),
                                unique: x.unique,
                                done,
                            })?;
                        }
                    }
                }
            }
            DdlOp::CreateIndex {
                schema,
                table,
                index,
            } => {
                if let Some(t) = new.table(schema, table) {
                    on_all_partitions(t, &node, |id, done| NodeMsg::CreateSecondary {
                        id,
                        cols: index.keys.clone(),
                        unique: index.unique,
                        done,
                    })?;
                }
            }
            DdlOp::DropIndex {
                schema,
                table,
                name,
            } => {
                let pos = old
                    .table(schema, table)
                    .and_then(|t| t.indexes.iter().position(|x| x.name == *name));
                if let (Some(t), Some(pos)) = (old.table(schema, table), pos) {
                    for p in &t.partitions {
                        node(&p.node)?.call(|done| NodeMsg::DropSecondary {
                            id: p.id,
                            index: pos.saturating_sub(1),
                            done,
                        })?;
                    }
                }
            }
            DdlOp::AddColumn {
                schema,
                table,
                column,
            } => {
                if let Some(t) = new.table(schema, table) {
                    // existing rows get NULL; the default applies to new rows only
                    let add = Value::Null;
                    let _ = column;
                    on_all_partitions(t, &node, |id, done| NodeMsg::RewriteRows {
                        id,
                        add: Some(add.clone()),
                        drop: None,
                        key_cols: t.primary().keys.clone(),
                        done,
                    })?;
                }
            }
            DdlOp::DropColumn {
                schema,
                table,
                name,
            } => {
                let i = old.table(schema, table).and_then(|t| t.column(name));
                if let (Some(t), Some(i)) = (new.table(schema, table), i) {
                    on_all_partitions(t, &node, |id, done| NodeMsg::RewriteRows {
                        id,
                        add: None,
                        drop: Some(i),
                        key_cols: t.primary().keys.clone(),
                        done,
                    })?;
                }
            }
            DdlOp::SetSerial {
                schema,
                name,
                value,
            } => {
                if let Some(t) = new.table(schema, name) {
                    t.serial.set(*value);
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Sends one message per partition of `t` to the node owning it, all before waiting for any
/// answer, so every node rebuilds its partition (CREATE INDEX, ADD/DROP COLUMN) in parallel.
fn on_all_partitions(
    t: &amelie_catalog::Table,
    node: &dyn Fn(&str) -> Result<Arc<amelie_node::NodeHandle>>,
    make: impl Fn(u64, crossbeam_channel::Sender<()>) -> amelie_node::NodeMsg,
) -> Result<()> {
    let mut waits = Vec::with_capacity(t.partitions.len());
    for p in &t.partitions {
        let (done, wait) = crossbeam_channel::bounded(1);
        node(&p.node)?.send(make(p.id, done))?;
        waits.push(wait);
    }
    for w in waits {
        w.recv()
            .map_err(|_| amelie_common::Error::new("compute node is not running"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use amelie_catalog::{DdlOp, Node, PartitionInfo};

    fn catalog() -> Arc<Catalog> {
        let mut c = Catalog::default();
        c.apply(&DdlOp::CreateNode(Node { uuid: "n1".into() }))
            .unwrap();
        c.apply(&DdlOp::CreateTable(Table {
            id: 1,
            schema: "public".into(),
            name: "t".into(),
            columns: vec![Column {
                name: "id".into(),
                ty: ColumnType::Int32,
                not_null: true,
                default: None,
                serial: false,
                random: None,
                gen: Default::default(),
            }],
            indexes: vec![IndexDef {
                name: "primary".into(),
                kind: IndexKind::Hash,
                keys: vec![0],
                unique: true,
                primary: true,
            }],
            shared: false,
            unlogged: false,
            partitions: vec![PartitionInfo {
                id: 1,
                node: "n1".into(),
                min: 0,
                max: 8096,
            }],
            serial: Default::default(),
        }))
        .unwrap();
        Arc::new(c)
    }

    #[test]
    fn system_functions() {
        let snap = SystemSnapshot {
            catalog: catalog(),
            config: None,
            lsn: 2,
            wal: WalStatus::default(),
            cache: (0, 0),
        };
        let Some(Ok(Value::Json(t))) = snap.call("table", &[Value::str("public.t")]) else {
            panic!("table json expected");
        };
        let text = t.to_compact_string();
        assert!(
            text.starts_with(r#"{"schema": "public", "name": "t""#),
            "{text}"
        );
        assert!(text.contains(r#""type": 1, "unique": true"#), "{text}");
        assert!(matches!(
            snap.call("table", &[Value::str("nope")]),
            Some(Ok(Value::Null))
        ));
        assert!(snap.call("schema", &[Value::Int(1)]).unwrap().is_err());
        assert!(snap.call("unknown", &[]).is_none());
        let Some(Ok(Value::Json(s))) = snap.call("schemas", &[]) else {
            panic!("schemas json expected");
        };
        assert!(s.to_compact_string().contains(r#""create": false"#));
    }

    #[test]
    fn names_and_types() {
        assert_eq!(split_name("a.b"), ("a".to_string(), "b".to_string()));
        assert_eq!(split_name("b"), ("public".to_string(), "b".to_string()));
        assert_eq!(type_code(ColumnType::Vector), 8);
        assert_eq!(type_code(ColumnType::Int8), 2);
    }
}
