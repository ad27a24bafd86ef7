//! The executor: runs a request as one transaction. It places the transaction in the global
//! order, dispatches node work, merges results in the coordinator, and decides commit or
//! abort through group commit. DDL runs alone under the exclusive control lock.
//!
//! One request, in module order: `intake` (cache lookup, one parse, dispatch), then either
//! an admin statement (`admin`), DDL (`ddl`), a checkpoint (`checkpoint`), or a transaction:
//! `route` (targets to partitions and nodes), `run` (the rounds of node work), `commit`
//! (global order, group commit and abort), under the request limits of `limits`. `recovery`
//! opens an executor; `import` runs a bulk load as one transaction; `backup` pins a
//! checkpoint and the WAL after it for a hot backup; `admin::repl` holds the replication
//! state (replicas, role, read-only mode) and the hook of the WAL streaming.

pub mod admin;
pub mod backup;
pub mod cache;
pub mod checkpoint;
pub mod commit;
pub mod ddl;
mod import;
mod intake;
mod limits;
mod lsn;
pub mod mailbox;
pub mod recovery;
mod replica;
mod route;
mod run;
pub mod wal_body;

pub use admin::repl::{NoStreaming, ReplState, ReplicaDef, ReplicaStatus, Streamer};
pub use admin::{ConfigSource, EngineState};
pub use backup::BackupPin;
pub use cache::CacheStats;
pub use lsn::{CommitListener, CommittedLsn};
pub use recovery::RecoveryReport;
pub use replica::WalSource;

use amelie_catalog::Catalog;
use amelie_common::{Error, Result};
use amelie_node::NodeHandle;
use amelie_wal::{Wal, WalConfig};
use commit::GroupCommit;
use parking_lot::{Mutex, RwLock};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Options the executor needs (the rest of the config lives in the server crate).
#[derive(Clone, Debug)]
pub struct ExecutorConfig {
    pub wal: WalConfig,
    pub format: String,
    pub limit_send: u64,
    /// The repository directory (checkpoints live in `<dir>/<lsn>/`); None: no checkpoints.
    pub dir: Option<std::path::PathBuf>,
}

/// Per-connection state that matters to execution.
#[derive(Clone, Debug, Default)]
pub struct SessionCtx {
    /// Time zone of timestamp text.
    pub tz: amelie_common::Tz,
    /// `SET timezone` name of this session; None = the server default.
    pub timezone: Option<String>,
    /// The user a request on a listener that requires a token acts as (`None` elsewhere):
    /// such a user may only change its own secret and create its own tokens (see
    /// `user::check_user_rights`).
    pub user: Option<String>,
}

pub struct Executor {
    nodes: RwLock<Arc<Vec<Arc<NodeHandle>>>>,
    catalog: RwLock<Arc<Catalog>>,
    control: tokio::sync::RwLock<()>,
    commit: GroupCommit,
    wal: Arc<Mutex<Wal>>,
    lsn: Arc<CommittedLsn>,
    format: RwLock<String>,
    limit_send: AtomicU64,
    /// `limit_write`: maximum WAL bytes of one transaction (0 = no limit).
    limit_write: AtomicU64,
    /// `limit_memory`: bytes a request may keep in row sets, outputs and changes, per thread
    /// it runs on (0 = no limit).
    limit_memory: AtomicU64,
    /// `limit_memory_total`: what all running requests may keep together.
    memory_pool: Arc<amelie_common::governor::MemoryPool>,
    /// `limit_time`: milliseconds a request may run (0 = no limit).
    limit_time: AtomicU64,
    config_source: RwLock<Option<Arc<dyn admin::ConfigSource>>>,
    /// Repository directory (checkpoints) and the newest checkpoint's LSN.
    dir: Option<std::path::PathBuf>,
    checkpoint: Arc<AtomicU64>,
    /// Default `WORKERS` of a checkpoint (`checkpoint_workers`); 0: every node at once.
    checkpoint_workers: AtomicU64,
    /// WAL counters (writes, bytes, records) at the end of start-up: `SHOW WAL` counts from here.
    wal_base: Arc<Mutex<(u64, u64, u64)>>,
    /// Program cache hits and misses.
    cache: Arc<CacheStats>,
    /// Replicas, the replication role and the read-only mode (`admin/repl.rs`).
    repl: Arc<admin::repl::Replication>,
    /// Held by `apply_replicated` (`replica.rs`): one replicated batch at a time.
    replica_apply: tokio::sync::Mutex<()>,
}

/// Default `limit_memory`: 1 GiB.
pub const DEFAULT_LIMIT_MEMORY: u64 = 1 << 30;

/// Default `limit_memory_total` of an executor made without a server configuration: 4 GiB.
pub const DEFAULT_LIMIT_MEMORY_TOTAL: u64 = 4 << 30;

/// Microseconds since the epoch: a request's start time.
pub(crate) fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

impl Executor {
    pub fn nodes(&self) -> Arc<Vec<Arc<NodeHandle>>> {
        self.nodes.read().clone()
    }

    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.read().clone()
    }

    pub fn lsn(&self) -> u64 {
        self.lsn.load(Ordering::Acquire)
    }

    pub(crate) fn node_index(&self, uuid: &str) -> Result<usize> {
        self.nodes
            .read()
            .iter()
            .position(|n| n.uuid == uuid)
            .ok_or_else(|| Error::not_found(format!("node '{uuid}': not exists")))
    }
}

#[cfg(test)]
mod tests;
