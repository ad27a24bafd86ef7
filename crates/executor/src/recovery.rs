//! Recovery: [`Executor::open`] loads the newest checkpoint, replays the WAL after it (DDL
//! through [`Executor::apply_ddl`], row changes to the nodes owning their partitions) and
//! advances the SERIAL counters past the replayed values.

use crate::admin::system::mark_started;
use crate::cache::CacheStats;
use crate::commit::GroupCommit;
use crate::wal_body::WalBody;
use crate::{
    checkpoint, Executor, ExecutorConfig, DEFAULT_LIMIT_MEMORY, DEFAULT_LIMIT_MEMORY_TOTAL,
};
use amelie_catalog::{Catalog, DdlOp};
use amelie_common::format::Format;
use amelie_common::{Error, Result, Value};
use amelie_node::NodeMsg;
use amelie_vm::{ChangeLog, ChangeReader};
use amelie_wal::Wal;
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Recovery: partition id -> (index of its node, its table when it has SERIAL columns).
pub(crate) type Owners = HashMap<u64, (usize, Option<Arc<amelie_catalog::Table>>)>;

/// Moves the SERIAL counters of `table` (a table with SERIAL columns, see [`Owners`]) past
/// the values a replayed or replicated change puts.
pub(crate) fn observe_serials(
    table: Option<&amelie_catalog::Table>,
    change: amelie_vm::ChangeRef<'_>,
) -> Result<()> {
    if let (Some(t), amelie_vm::ChangeRef::Put { row, .. }) = (table, change) {
        let (row, _) = amelie_storage::Row::from_encoded(row)?;
        for (i, col) in t.columns.iter().enumerate() {
            if let (true, Value::Int(v)) = (col.serial, row.get(i)) {
                t.serial.observe(v);
            }
        }
    }
    Ok(())
}

/// What recovery did, for the start-up log.
#[derive(Debug, Default)]
pub struct RecoveryReport {
    pub records: u64,
    pub changes: u64,
    pub last_lsn: u64,
    /// The checkpoint loaded before the WAL replay (lsn 0: none).
    pub checkpoint: checkpoint::CheckpointLoad,
}

impl Executor {
    /// Opens the WAL, starts the nodes it names and replays it. Returns the executor and what
    /// recovery did.
    pub fn open(config: ExecutorConfig) -> Result<(Executor, RecoveryReport)> {
        mark_started();
        let (wal, recovery) = Wal::open(config.wal.clone()).map_err(Error::from)?;
        let lsn = Arc::new(crate::CommittedLsn::new(recovery.last_lsn));
        let wal = Arc::new(Mutex::new(wal));
        let exec = Executor {
            nodes: RwLock::new(Arc::new(Vec::new())),
            catalog: RwLock::new(Arc::new(Catalog::default())),
            control: tokio::sync::RwLock::new(()),
            commit: GroupCommit::new(wal.clone(), lsn.clone()),
            wal,
            lsn,
            format: RwLock::new(config.format.clone()),
            limit_send: AtomicU64::new(config.limit_send),
            limit_write: AtomicU64::new(0),
            limit_memory: AtomicU64::new(DEFAULT_LIMIT_MEMORY),
            memory_pool: Arc::new(amelie_common::governor::MemoryPool::new(
                DEFAULT_LIMIT_MEMORY_TOTAL,
            )),
            limit_time: AtomicU64::new(0),
            config_source: RwLock::new(None),
            dir: config.dir.clone(),
            checkpoint: Arc::new(AtomicU64::new(0)),
            checkpoint_workers: AtomicU64::new(0),
            wal_base: Arc::new(Mutex::new((0, 0, 0))),
            cache: Arc::new(CacheStats::default()),
            repl: Default::default(),
            replica_apply: tokio::sync::Mutex::new(()),
        };
        Format::parse(&config.format)?;
        let mut report = RecoveryReport {
            last_lsn: recovery.last_lsn,
            ..Default::default()
        };
        let loaded = exec.load_checkpoint()?;
        report.checkpoint = loaded.clone();
        if loaded.lsn > exec.lsn() {
            exec.lsn.store(loaded.lsn, Ordering::Release);
            report.last_lsn = loaded.lsn;
        }
        let mut owners = None;
        for record in &recovery.records {
            if record.lsn <= loaded.lsn {
                continue;
            }
            report.records += 1;
            match WalBody::decode(&record.body)? {
                WalBody::Ddl(op) => {
                    if let DdlOp::CreateTable(t) = &op {
                        t.check()?;
                    }
                    exec.apply_ddl(&op)?;
                    owners = None;
                }
                WalBody::Changes(changes) => {
                    let owners = match &mut owners {
                        Some(o) => o,
                        None => owners.insert(exec.partition_owners()?),
                    };
                    report.changes += exec.replay(&changes, owners)?;
                }
            }
        }
        for n in exec.nodes().iter() {
            n.call(|done| NodeMsg::Sync { done })?;
        }
        Ok((exec, report))
    }

    /// Recovery: every partition's owning node and, for tables with SERIAL columns, the
    /// table (its counters resume past the replayed values).
    pub(crate) fn partition_owners(&self) -> Result<Owners> {
        let catalog = self.catalog();
        let mut owners = HashMap::new();
        for t in &catalog.tables {
            let serial = t.columns.iter().any(|c| c.serial).then(|| t.clone());
            for p in &t.partitions {
                owners.insert(p.id, (self.node_index(&p.node)?, serial.clone()));
            }
        }
        Ok(owners)
    }

    /// Recovery: routes the changes of one WAL record to the nodes owning their partitions.
    /// Returns the number of changes.
    fn replay(&self, changes: &[u8], owners: &Owners) -> Result<u64> {
        let nodes = self.nodes();
        let mut per_node: Vec<ChangeLog> = (0..nodes.len()).map(|_| ChangeLog::default()).collect();
        let mut count = 0;
        for c in ChangeReader::new(changes) {
            let c = c?;
            count += 1;
            let Some((node, serial)) = owners.get(&c.partition()) else {
                continue;
            };
            // SERIAL counters resume after the largest replayed value
            observe_serials(serial.as_deref(), c)?;
            if let Some(log) = per_node.get_mut(*node) {
                log.push(c);
            }
        }
        for (n, log) in nodes.iter().zip(per_node) {
            if !log.is_empty() {
                n.send(NodeMsg::Replay {
                    changes: log.into_bytes(),
                })?;
            }
        }
        Ok(count)
    }
}
