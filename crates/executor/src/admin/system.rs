//! The values of `system.*()` functions and `SHOW`: a [`SystemSnapshot`] of the catalog, the
//! server configuration and the executor's counters (WAL, program cache, process).
//!
//! A request's compile gets a [`LazySystem`]: the snapshot is taken at the first `system.*()`
//! or `serial()` call the compiler folds, so a request that calls none takes none.

use super::json::{obj, s, schema_json, split_name, table_json};
use super::ConfigSource;
use crate::cache::CacheStats;
use crate::Executor;
use amelie_catalog::Catalog;
use amelie_common::{Json, Result, Value};
use amelie_compiler::SystemFuncs;
use amelie_wal::Wal;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// When this process started (for `uptime`).
static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// Records the process start time; called when the executor opens.
pub fn mark_started() {
    STARTED.get_or_init(std::time::Instant::now);
}

/// `process` object of `SHOW STATUS`: uptime in seconds, memory in bytes (from
/// /proc/self/statm), CPU count, and the CPU load over the last second (see `cpu`):
/// `cpu` in percent of all CPUs, `cpu_frontends` one percentage of one CPU per frontend
/// thread, `cpu_backends` one per compute node in catalog order.
fn process_json(cache: (u64, u64), nodes: &[amelie_catalog::Node]) -> Json {
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
    let load = super::cpu::load();
    obj(vec![
        ("uptime", Json::Int(uptime as i64)),
        ("mem_virt", at(0)),
        ("mem_resident", at(1)),
        ("mem_shared", at(2)),
        ("cpu_count", Json::Int(cpus as i64)),
        ("cpu", Json::Int(load.process)),
        (
            "cpu_frontends",
            Json::Array(load.named("frontend").into_iter().map(Json::Int).collect()),
        ),
        (
            "cpu_backends",
            Json::Array(
                nodes
                    .iter()
                    .map(|n| Json::Int(load.node(&n.uuid)))
                    .collect(),
            ),
        ),
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
    /// WAL slots held (running backups, defined replicas) and the lowest LSN they pin (-1: none).
    pub slots: u64,
    pub slots_min: i64,
}

pub fn wal_json(w: &WalStatus) -> Json {
    obj(vec![
        ("lsn", Json::Int(w.lsn as i64)),
        ("lsn_min", Json::Int(w.lsn_min as i64)),
        ("files", Json::Int(w.files as i64)),
        ("slots", Json::Int(w.slots as i64)),
        ("slots_min", Json::Int(w.slots_min)),
        ("writes", Json::Int(w.writes as i64)),
        ("writes_bytes", Json::Int(w.writes_bytes as i64)),
        ("ops", Json::Int(w.ops as i64)),
        ("checkpoint", Json::Int(w.checkpoint as i64)),
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
    /// The `repl` object (`SHOW REPL`), with the replicas.
    pub repl: Json,
    /// Subscribed to a primary (`read_only`).
    pub read_only: bool,
}

impl std::fmt::Debug for SystemSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SystemSnapshot")
    }
}

impl SystemSnapshot {
    pub fn config_json(&self) -> Json {
        match &self.config {
            Some(c) => Json::Object(c.show_all(super::EngineState {
                lsn: self.lsn,
                psn: self.catalog.next_partition_id.saturating_sub(1),
                checkpoint: self.wal.checkpoint,
                read_only: self.read_only,
            })),
            None => Json::Object(Vec::new()),
        }
    }

    pub(crate) fn status_json(&self) -> Json {
        let c = &self.catalog;
        obj(vec![
            (
                "uuid",
                self.config
                    .as_ref()
                    .and_then(|c| {
                        c.show_all(Default::default())
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
                    Some(cfg) => super::nodes::frontends_of(&cfg.show_all(Default::default())),
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
            ("process", process_json(self.cache, &c.nodes)),
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
            ("repl", self.repl.clone()),
        ])
    }
}

/// The number of arguments of each `system.*()` function (None: not one).
pub fn system_arity(name: &str) -> Option<usize> {
    Some(match name {
        "config" | "users" | "replicas" | "repl" | "replication" | "nodes" | "schemas"
        | "tables" | "wal" | "status" => 0,
        "user" | "replica" | "node" | "schema" | "table" => 1,
        _ => return None,
    })
}

/// The one argument of `f()`: a string, or NULL (None).
fn arg_str<'a>(f: &str, args: &'a [Value]) -> Result<Option<&'a str>> {
    match args {
        [Value::Str(x)] => Ok(Some(x)),
        [Value::Null] => Ok(None),
        [v] => Err(amelie_common::Error::type_error(format!(
            "{f}(): expected string for argument 0, but got {}",
            v.type_of().name()
        ))),
        _ => Err(amelie_common::Error::type_error(format!(
            "{f}(): expected 1 arguments, but got {}",
            args.len()
        ))),
    }
}

impl SystemFuncs for SystemSnapshot {
    fn arity(&self, name: &str) -> Option<usize> {
        system_arity(name)
    }

    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value>> {
        let c = &self.catalog;
        let json = |j: Json| Some(Ok(Value::Json(Box::new(j))));
        if let Some(n) = system_arity(name).filter(|n| *n != args.len()) {
            return Some(Err(amelie_common::Error::type_error(format!(
                "{name}(): expected {n} arguments, but got {}",
                args.len()
            ))));
        }
        match name {
            "config" => json(self.config_json()),
            "$serial" => Some(match args {
                [Value::Str(schema), Value::Str(table)] => match c.table(schema, table) {
                    Some(t) => Ok(Value::Int(t.serial.peek())),
                    None => Err(amelie_common::Error::not_found(format!(
                        "table '{table}': not exists"
                    ))),
                },
                _ => Err(amelie_common::Error::type_error(
                    "serial(): expected string for argument 0",
                )),
            }),
            "users" => json(super::users::users_json(self.config.as_deref())),
            "user" => Some(arg_str(name, args).map(|n| {
                match n.and_then(|n| super::users::user_json(self.config.as_deref(), n)) {
                    Some(u) => Value::Json(Box::new(u)),
                    None => Value::Null,
                }
            })),
            "replicas" => json(super::repl::replicas_of(&self.repl)),
            "replica" => Some(arg_str(name, args).and_then(|n| {
                Ok(
                    match n
                        .map(|n| super::repl::replica_of(&self.repl, n))
                        .transpose()?
                    {
                        Some(Json::Null) | None => Value::Null,
                        Some(j) => Value::Json(Box::new(j)),
                    },
                )
            })),
            "node" => Some(arg_str(name, args).map(|n| match n {
                Some(n) => match super::nodes::node_json(c, n) {
                    Json::Null => Value::Null,
                    j => Value::Json(Box::new(j)),
                },
                None => Value::Null,
            })),
            "repl" | "replication" => json(self.repl.clone()),
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
            "schema" => Some(
                arg_str(name, args).map(|n| match n.and_then(|n| c.schema(n)) {
                    Some(x) => Value::Json(Box::new(schema_json(x, true))),
                    None => Value::Null,
                }),
            ),
            "table" => Some(arg_str(name, args).map(|n| {
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

/// The executor's counters a snapshot reads besides the catalog and the configuration (shared
/// handles, cheap to clone).
#[derive(Clone)]
pub(crate) struct Counters {
    pub lsn: Arc<crate::CommittedLsn>,
    pub wal: Arc<Mutex<Wal>>,
    /// WAL counters (writes, bytes, records) at the end of start-up: `SHOW WAL` counts from
    /// here.
    pub wal_base: Arc<Mutex<(u64, u64, u64)>>,
    /// The newest checkpoint's LSN.
    pub checkpoint: Arc<AtomicU64>,
    /// Program cache hits and misses.
    pub cache: Arc<CacheStats>,
    /// Replicas, role and read-only mode.
    pub repl: Arc<super::repl::Replication>,
}

impl Counters {
    /// `SHOW WAL` numbers: LSNs, files, and group writes/bytes/records since start-up.
    pub fn wal_status(&self) -> WalStatus {
        let wal = self.wal.lock();
        let files = wal.files();
        let stats = wal.stats();
        let slots = wal.slots().clone();
        drop(wal);
        let slots_min = slots
            .min()
            .map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
        let base = *self.wal_base.lock();
        let lsn = self.lsn.load(Ordering::Acquire);
        WalStatus {
            lsn,
            lsn_min: files
                .iter()
                .map(|f| f.0)
                .min()
                .unwrap_or(lsn)
                .min(lsn.max(1)),
            files: files.len() as u64,
            writes: stats.writes.saturating_sub(base.0),
            writes_bytes: stats.bytes.saturating_sub(base.1),
            ops: stats.records.saturating_sub(base.2),
            checkpoint: self.checkpoint.load(Ordering::Acquire),
            slots: slots.count() as u64,
            slots_min,
        }
    }

    fn snapshot(
        &self,
        catalog: Arc<Catalog>,
        config: Option<Arc<dyn ConfigSource>>,
    ) -> SystemSnapshot {
        let lsn = self.lsn.load(Ordering::Acquire);
        SystemSnapshot {
            catalog,
            config,
            lsn,
            wal: self.wal_status(),
            cache: self.cache.get(),
            repl: self.repl.repl_json(lsn),
            read_only: self.repl.read_only(),
        }
    }
}

/// The `system.*()` values of one compile: the [`SystemSnapshot`] is taken at the first call
/// (over the catalog the request is compiled against).
pub(crate) struct LazySystem {
    catalog: Arc<Catalog>,
    config: Option<Arc<dyn ConfigSource>>,
    counters: Counters,
    snapshot: OnceLock<SystemSnapshot>,
}

impl std::fmt::Debug for LazySystem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LazySystem")
    }
}

impl SystemFuncs for LazySystem {
    fn arity(&self, name: &str) -> Option<usize> {
        system_arity(name)
    }

    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value>> {
        self.snapshot
            .get_or_init(|| {
                self.counters
                    .snapshot(self.catalog.clone(), self.config.clone())
            })
            .call(name, args)
    }
}

impl Executor {
    pub(crate) fn counters(&self) -> Counters {
        Counters {
            lsn: self.lsn.clone(),
            wal: self.wal.clone(),
            wal_base: self.wal_base.clone(),
            checkpoint: self.checkpoint.clone(),
            cache: self.cache.clone(),
            repl: self.repl.clone(),
        }
    }

    /// `SHOW WAL` numbers: LSNs, files, and group writes/bytes/records since start-up.
    pub fn wal_status(&self) -> WalStatus {
        self.counters().wal_status()
    }

    /// Starts the `SHOW WAL` counters from the current state (called once start-up, including
    /// bootstrap, is done).
    pub fn reset_wal_counters(&self) {
        let stats = self.wal.lock().stats();
        *self.wal_base.lock() = (stats.writes, stats.bytes, stats.records);
    }

    /// Hits and misses of the program cache.
    pub fn cache_stats(&self) -> (u64, u64) {
        self.cache.get()
    }

    /// A snapshot taken now (SHOW).
    pub(crate) fn snapshot(&self) -> SystemSnapshot {
        self.counters()
            .snapshot(self.catalog(), self.config_source.read().clone())
    }

    /// The `system.*()` values of a request compiled against `catalog`, taken when first
    /// asked for.
    pub(crate) fn system_funcs(&self, catalog: &Arc<Catalog>) -> Arc<dyn SystemFuncs> {
        Arc::new(LazySystem {
            catalog: catalog.clone(),
            config: self.config_source.read().clone(),
            counters: self.counters(),
            snapshot: OnceLock::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use amelie_catalog::{Column, IndexDef, Table};
    use amelie_catalog::{DdlOp, Node, PartitionInfo};
    use amelie_common::{ColumnType, IndexKind};

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
            repl: crate::admin::repl::Replication::default().repl_json(2),
            read_only: false,
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
        let err = |name: &str, args: &[Value]| match snap.call(name, args) {
            Some(Err(e)) => e.msg().to_string(),
            _ => panic!("{name}: error expected"),
        };
        assert_eq!(
            err("schema", &[Value::Int(1)]),
            "schema(): expected string for argument 0, but got int"
        );
        assert_eq!(
            err("config", &[Value::Int(1)]),
            "config(): expected 0 arguments, but got 1"
        );
        assert_eq!(
            err("table", &[]),
            "table(): expected 1 arguments, but got 0"
        );
        assert_eq!(err("replica", &[Value::str("abc")]), "failed to parse uuid");
        assert!(matches!(
            snap.call(
                "replica",
                &[Value::str("00000000-0000-0000-0000-000000000000")]
            ),
            Some(Ok(Value::Null))
        ));
        assert!(snap.call("unknown", &[]).is_none());
        let Some(Ok(Value::Json(s))) = snap.call("schemas", &[]) else {
            panic!("schemas json expected");
        };
        assert!(s.to_compact_string().contains(r#""create": false"#));
    }
}
