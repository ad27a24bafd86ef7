//! The executor: runs a request as one transaction. It places the transaction in the global
//! order, dispatches node work, merges results in the coordinator, and decides commit or
//! abort through group commit. DDL runs alone under the exclusive control lock.

pub mod cache;
pub mod checkpoint;
pub mod commit;
pub mod ddl;
mod import;
pub mod mailbox;
pub mod node_ddl;
mod route;
pub mod user;
pub mod wal_body;

use amelie_catalog::{Catalog, DdlOp, Node};
use amelie_common::format::{encode_rows_capped, encode_single, Format};
use amelie_common::{Error, Governor, Result, Value};
use amelie_compiler::{compile, CompileCtx, Compiled};
use amelie_node::{BatchReply, NodeHandle, NodeMsg, NodeRequest, Reply};
use amelie_vm::{ChangeLog, ChangeReader, Coordinator, Dispatch, Env, NodeOutput, Program, Step};
use amelie_wal::{Wal, WalConfig};
pub use cache::CacheStats;
use commit::{GroupCommit, Tx};
use parking_lot::{Mutex, RwLock};
use route::Route;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use wal_body::WalBody;

/// Recovery: partition id -> (index of its node, its table when it has SERIAL columns).
type Owners = HashMap<u64, (usize, Option<Arc<amelie_catalog::Table>>)>;

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
    /// Timezone offset in seconds for timestamp text.
    pub tz_offset: i32,
    /// `SET timezone` name of this session; None = the server default.
    pub timezone: Option<String>,
    /// The user a request on a listener that requires a token acts as (`None` elsewhere):
    /// such a user may only change its own secret and create its own tokens (see
    /// `user::check_user_rights`).
    pub user: Option<String>,
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

pub struct Executor {
    nodes: RwLock<Arc<Vec<Arc<NodeHandle>>>>,
    catalog: RwLock<Arc<Catalog>>,
    control: tokio::sync::RwLock<()>,
    commit: GroupCommit,
    wal: Arc<Mutex<Wal>>,
    lsn: Arc<AtomicU64>,
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
    config_source: RwLock<Option<Arc<dyn ddl::ConfigSource>>>,
    /// Repository directory (checkpoints) and the newest checkpoint's LSN.
    dir: Option<std::path::PathBuf>,
    checkpoint: AtomicU64,
    /// Default `WORKERS` of a checkpoint (`checkpoint_workers`); 0: every node at once.
    checkpoint_workers: AtomicU64,
    /// WAL counters (writes, bytes, records) at the end of start-up: `SHOW WAL` counts from here.
    wal_base: Mutex<(u64, u64, u64)>,
    /// Program cache hits and misses.
    cache: CacheStats,
}

/// Default `limit_memory`: 1 GiB.
pub const DEFAULT_LIMIT_MEMORY: u64 = 1 << 30;

/// Default `limit_memory_total` of an executor made without a server configuration: 4 GiB.
pub const DEFAULT_LIMIT_MEMORY_TOTAL: u64 = 4 << 30;

fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

impl Executor {
    /// Opens the WAL, starts the nodes it names and replays it. Returns the executor and what
    /// recovery did.
    pub fn open(config: ExecutorConfig) -> Result<(Executor, RecoveryReport)> {
        ddl::mark_started();
        let (wal, recovery) = Wal::open(config.wal.clone()).map_err(Error::from)?;
        let lsn = Arc::new(AtomicU64::new(recovery.last_lsn));
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
            checkpoint: AtomicU64::new(0),
            checkpoint_workers: AtomicU64::new(0),
            wal_base: Mutex::new((0, 0, 0)),
            cache: CacheStats::default(),
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

    pub fn nodes(&self) -> Arc<Vec<Arc<NodeHandle>>> {
        self.nodes.read().clone()
    }

    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.read().clone()
    }

    /// `SHOW WAL` numbers: LSNs, files, and group writes/bytes/records since start-up.
    pub fn wal_status(&self) -> ddl::WalStatus {
        let wal = self.wal.lock();
        let files = wal.files();
        let stats = wal.stats();
        drop(wal);
        let base = *self.wal_base.lock();
        let lsn = self.lsn();
        ddl::WalStatus {
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
            checkpoint: self.checkpoint_lsn(),
        }
    }

    /// Sets how many nodes write their snapshots at once when CHECKPOINT names no WORKERS.
    pub fn set_checkpoint_workers(&self, n: u64) {
        self.checkpoint_workers.store(n, Ordering::Relaxed);
    }

    pub(crate) fn default_checkpoint_workers(&self) -> Option<usize> {
        match self.checkpoint_workers.load(Ordering::Relaxed) {
            0 => None,
            n => Some(usize::try_from(n).unwrap_or(usize::MAX)),
        }
    }

    /// Starts the `SHOW WAL` counters from the current state (called once start-up, including
    /// bootstrap, is done).
    pub fn reset_wal_counters(&self) {
        let stats = self.wal.lock().stats();
        *self.wal_base.lock() = (stats.writes, stats.bytes, stats.records);
    }

    pub fn lsn(&self) -> u64 {
        self.lsn.load(Ordering::Acquire)
    }

    pub fn set_limit_send(&self, v: u64) {
        self.limit_send.store(v, Ordering::Relaxed);
    }

    fn node_index(&self, uuid: &str) -> Result<usize> {
        self.nodes
            .read()
            .iter()
            .position(|n| n.uuid == uuid)
            .ok_or_else(|| Error::new(format!("node '{uuid}': not exists")))
    }

    /// Recovery: every partition's owning node and, for tables with SERIAL columns, the
    /// table (its counters resume past the replayed values).
    fn partition_owners(&self) -> Result<Owners> {
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
            if let (Some(t), amelie_vm::ChangeRef::Put { row, .. }) = (serial, c) {
                // SERIAL counters resume after the largest replayed value
                let (row, _) = amelie_storage::Row::from_encoded(row)?;
                for (i, col) in t.columns.iter().enumerate() {
                    if let (true, Value::Int(v)) = (col.serial, row.get(i)) {
                        t.serial.observe(v);
                    }
                }
            }
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

    /// Applies a DDL operation to the catalog and the nodes (no WAL).
    fn apply_ddl(&self, op: &DdlOp) -> Result<()> {
        let mut catalog = (*self.catalog()).clone();
        catalog.apply(op)?;
        match op {
            DdlOp::CreateNode(node) => {
                let handle = Arc::new(NodeHandle::start_with(
                    node.uuid.clone(),
                    self.commit.committed.clone(),
                ));
                let mut nodes = (*self.nodes()).clone();
                nodes.push(handle);
                *self.nodes.write() = Arc::new(nodes);
            }
            DdlOp::DropNode { uuid } => self.stop_node(uuid),
            DdlOp::CreateTable(t) => {
                let nodes = self.nodes();
                for p in &t.partitions {
                    let n = &nodes[self.node_index(&p.node)?];
                    let (id, table_id, kind, keys) =
                        (p.id, t.id, t.primary().kind, t.primary().keys.clone());
                    n.call(|done| NodeMsg::CreatePartition {
                        id,
                        table_id,
                        kind,
                        keys,
                        done,
                    })?;
                }
            }
            DdlOp::DropTable { schema, name } => {
                if let Some(t) = self.catalog().table(schema, name) {
                    let nodes = self.nodes();
                    for p in &t.partitions {
                        let n = &nodes[self.node_index(&p.node)?];
                        n.call(|done| NodeMsg::DropPartition { id: p.id, done })?;
                    }
                }
            }
            _ => self.apply_ddl_nodes(op, &catalog)?,
        }
        *self.catalog.write() = Arc::new(catalog);
        Ok(())
    }

    /// Runs a DDL operation alone: waits for every transaction in flight, applies it and
    /// writes it to the WAL.
    pub async fn ddl(&self, mut op: DdlOp) -> Result<()> {
        let _exclusive = self.control.write().await;
        if let DdlOp::CreateTable(t) = &mut op {
            // ids and partitions are assigned against the catalog as it is now
            let catalog = self.catalog();
            t.id = catalog.next_table_id;
            t.partitions = catalog.plan_partitions(t.shared)?;
        }
        let body = WalBody::encode_ddl(&op);
        let catalog_check = {
            let mut c = (*self.catalog()).clone();
            c.apply(&op)
        };
        catalog_check?;
        let lsn = self.lsn.load(Ordering::Acquire) + 1;
        self.wal
            .lock()
            .write_batch(&[(lsn, 1, &body)])
            .map_err(Error::from)?;
        self.lsn.store(lsn, Ordering::Release);
        tracing::debug!(lsn, op = ?op, "ddl");
        self.apply_ddl(&op)
    }

    /// Creates a compute node (bootstrap; `CREATE NODE` later).
    pub async fn create_node(&self, uuid: String) -> Result<()> {
        self.ddl(DdlOp::CreateNode(Node { uuid })).await
    }

    /// Executes one request body as one transaction. `Ok(None)` means no content (204).
    ///
    /// A request that matches an earlier one up to its literal values reuses its compiled
    /// program (see [`cache`]); otherwise it is parsed (literals as parameters) and compiled,
    /// and the program is cached when it can serve other literal values.
    pub async fn execute(&self, sql: &str, session: &SessionCtx) -> Result<Option<String>> {
        amelie_common::idle::busy();
        let mut key = Vec::new();
        let mut lits = Vec::new();
        let cacheable = amelie_parser::fingerprint(sql, &mut key, &mut lits);
        if cacheable {
            let shared = self.control.read().await;
            let catalog = self.catalog();
            if let Some(prepared) = cache::lookup(&key, &catalog, session.tz_offset, &lits) {
                self.cache.hit();
                let r = self
                    .run_prepared(&prepared, &lits, &catalog, session, now_us())
                    .await;
                drop(shared);
                return r;
            }
        }
        self.cache.miss();
        let req = match amelie_parser::parse_params(sql) {
            Ok(req) if !(req.stmts.len() == 1 && req.stmts[0].is_utility()) => req,
            // utility statements and errors: the plain parse is the reference
            _ => {
                let req = amelie_parser::parse(sql)?;
                let system = sql.contains("system.") || sql.contains("serial");
                return self.execute_request(req, system, session).await;
            }
        };
        if req.stmts.is_empty() {
            return Ok(None);
        }
        let system = sql.contains("system.") || sql.contains("serial");
        let _shared = self.control.read().await;
        let catalog = self.catalog();
        let now = now_us();
        let ctx = CompileCtx {
            now,
            tz_offset: session.tz_offset,
            system: system.then(|| self.system_snapshot()),
        };
        let Compiled::Program(plan) = compile(&req, &catalog, &ctx)? else {
            return Ok(None);
        };
        let prepared = Arc::new(cache::Prepared {
            program: Arc::new(plan.program),
            inserts: plan.inserts,
        });
        if req.explain {
            return self.explain(&prepared, &req.params, session, now);
        }
        if cacheable && !plan.volatile && amelie_parser::same_literals(&lits, &req.params) {
            cache::insert(
                &key,
                &catalog,
                session.tz_offset,
                &plan.baked,
                &lits,
                prepared.clone(),
            );
        }
        self.run_prepared(&prepared, &req.params, &catalog, session, now)
            .await
    }

    /// Hits and misses of the program cache.
    pub fn cache_stats(&self) -> (u64, u64) {
        self.cache.get()
    }

    /// Executes a parsed request as one transaction (`system`: it may read `system.*`).
    pub(crate) async fn execute_request(
        &self,
        req: amelie_parser::Request,
        system: bool,
        session: &SessionCtx,
    ) -> Result<Option<String>> {
        if req.stmts.is_empty() {
            return Ok(None);
        }
        let now = now_us();
        let ctx = CompileCtx {
            now,
            tz_offset: session.tz_offset,
            system: system.then(|| self.system_snapshot()),
        };
        if req.stmts.len() == 1 && req.stmts[0].is_utility() {
            if req.explain {
                return Err(Error::new(
                    "EXPLAIN is not supported for utility statements",
                ));
            }
            if let Some(r) = self.show_or_set(&req.stmts[0], session) {
                return r;
            }
            if let Some(r) = self.user_stmt(&req.stmts[0], session).await {
                return r;
            }
            if let Some(r) = self.node_stmt(&req.stmts[0]).await {
                return r;
            }
            if let amelie_parser::Stmt::Checkpoint { workers } = &req.stmts[0] {
                return self.checkpoint(*workers).await.map(|_| None);
            }
            let compiled = compile(&req, &self.catalog(), &ctx)?;
            if let Compiled::Ddl(op) = compiled {
                self.ddl(op).await?;
            }
            return Ok(None);
        }
        let _shared = self.control.read().await;
        let catalog = self.catalog();
        let Compiled::Program(plan) = compile(&req, &catalog, &ctx)? else {
            return Ok(None);
        };
        let prepared = cache::Prepared {
            program: Arc::new(plan.program),
            inserts: plan.inserts,
        };
        if req.explain {
            return self.explain(&prepared, &req.params, session, now);
        }
        self.run_prepared(&prepared, &req.params, &catalog, session, now)
            .await
    }

    /// EXPLAIN: the program's code. Like Amelie, which builds INSERT rows while compiling,
    /// it takes the SERIAL values the rows would take.
    fn explain(
        &self,
        prepared: &cache::Prepared,
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
            session.tz_offset,
            &mut out,
        );
        Ok(Some(out))
    }

    /// Runs a compiled request with the request's literals `lits` as one transaction (the
    /// caller holds the shared side of the control lock, `catalog` is the current snapshot).
    async fn run_prepared(
        &self,
        prepared: &cache::Prepared,
        lits: &[Value],
        catalog: &Arc<Catalog>,
        session: &SessionCtx,
        now: i64,
    ) -> Result<Option<String>> {
        let program = &prepared.program;
        let params: Arc<[Value]> = program.bind(lits, now);
        let nodes = self.nodes();
        let gov = Arc::new(self.governor());
        let mut routes = route::plan(
            program,
            &prepared.inserts,
            &route::Execution {
                lits,
                params: &params,
                now,
                gov: &gov,
            },
            catalog,
            &nodes,
        )?;
        let participants = route::participants(&routes);
        let env = Env {
            params: &params,
            now,
        };
        let mut coord = Coordinator::new(program, env);
        coord.govern(&gov);
        let result = if participants.is_empty() {
            loop {
                match coord.resume(None)? {
                    Step::Done => break coord.take_result(),
                    Step::Yield => tokio::task::yield_now().await,
                    Step::Dispatch(_) | Step::Await(_) => {
                        return Err(Error::new("dispatch without participants"))
                    }
                }
            }
        } else {
            let mut driver = Driver {
                exec: self,
                program,
                params: &params,
                now,
                nodes: &nodes,
                routes: &mut routes,
                gov: &gov,
                participants,
                tx: None,
                done: false,
                changes_held: 0,
            };
            let run = driver.run(&mut coord).await;
            let tx = driver.tx.take();
            driver.done = true;
            if let Some(tx) = tx {
                tx.end(&nodes);
                let record = run
                    .map(|changes| commit::Record { changes })
                    .and_then(|r| self.check_limit_write(&r).map(|_| r));
                let (wait, lead) = self.commit.complete(&tx, record);
                if lead {
                    // let the other transactions whose replies are in record their outcome
                    // first: one WAL write then serves them all (a cancelled request still
                    // leads, from the guard's drop)
                    let leader = Leader {
                        commit: &self.commit,
                        nodes: &nodes,
                    };
                    tokio::task::yield_now().await;
                    drop(leader);
                }
                wait.await
                    .map_err(|_| Error::new("commit was interrupted"))??;
            } else {
                // no node work was sent: nothing to order or commit
                run?;
            }
            coord.take_result()
        };
        let Some((stmt, rows)) = result else {
            return Ok(None);
        };
        let info = &program.stmts[stmt];
        let format = match &info.format {
            Some(f) => Format::parse(f)?,
            None => Format::parse(&self.format.read())?,
        };
        let mut out = String::new();
        let cap = usize::try_from(self.limit_send.load(Ordering::Relaxed)).unwrap_or(usize::MAX);
        // stops at the limit: a reply too large to send is not built in full first
        if !encode_rows_capped(
            &info.columns,
            &rows,
            format,
            session.tz_offset,
            cap,
            &mut out,
        ) {
            return Err(Error::new("reply limit reached"));
        }
        Ok(Some(out))
    }
}

/// Rows, and encoded bytes, up to which a partition's share of an INSERT counts as light
/// work, run in place by the frontend when its node is free (`NodeRequest::light`): a few
/// rows, as in TPC-B; batches go to the node threads, which run them in parallel.
const LIGHT_ROWS: usize = 8;
const LIGHT_BYTES: usize = 16 * 1024;

/// The group-commit leader: leads when dropped (see [`GroupCommit::complete`]).
struct Leader<'a> {
    commit: &'a GroupCommit,
    nodes: &'a [Arc<NodeHandle>],
}

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        self.commit.lead(self.nodes);
    }
}

/// Replies of one node batch.
type BatchWait =
    tokio::sync::oneshot::Receiver<std::result::Result<BatchReply, amelie_node::BatchError>>;

/// Runs one transaction: the coordinator, and its node work in rounds. A round is every
/// dispatch the coordinator makes before it needs a reply: it travels as one message per
/// participating node, and each node answers it once. The first round places the
/// transaction in the global order; the round after which the coordinator can dispatch no
/// more also ends it on every node. A transaction whose node code needs nothing from the
/// coordinator (TPC-B, DML batches) is one trip per node.
struct Driver<'a> {
    exec: &'a Executor,
    program: &'a Arc<Program>,
    /// Parameter values and start time of this execution.
    params: &'a Arc<[Value]>,
    now: i64,
    nodes: &'a [Arc<NodeHandle>],
    routes: &'a mut [Vec<Route>],
    /// The request's limits (cancelled when the request is dropped mid-way).
    gov: &'a Arc<Governor>,
    /// Node indices of every node any route touches (sorted).
    participants: Vec<usize>,
    /// The transaction, once its first round was sent.
    tx: Option<Arc<Tx>>,
    /// The transaction was handed to group commit (or needs none).
    done: bool,
    /// High-water mark of the WAL changes gathered from every round so far, as the
    /// request's memory budget counts them (`Governor::fit`).
    changes_held: usize,
}

impl Drop for Driver<'_> {
    /// A request future dropped mid-transaction (client gone): end and fail it so the
    /// nodes and group commit move on.
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // node work still running for it stops at its next check
        self.gov.cancel();
        if let Some(tx) = self.tx.take() {
            // replies may be outstanding: what it changed is not known
            tx.mark_wrote();
            tx.end(self.nodes);
            // (work queued by `GroupCommit::begin` may still wait for its wake-up)
            tx.wake(self.nodes);
            let (_, lead) = self
                .exec
                .commit
                .complete(&tx, Err(Error::new("request cancelled")));
            if lead {
                self.exec.commit.lead(self.nodes);
            }
        }
    }
}

/// The dispatches of one round and the per-node work they make.
struct Round {
    /// Per participant position: the requests and, for each, its dispatch index.
    works: Vec<(Vec<NodeRequest>, Vec<usize>)>,
    dispatches: Vec<RoundDispatch>,
    /// (participant position, request position) of every route of every dispatch (each
    /// dispatch owns a range, in partition order).
    slots: Vec<(usize, usize)>,
}

/// One dispatch of a round.
struct RoundDispatch {
    stmt: usize,
    /// Whether the coordinator reads its outputs.
    wanted: bool,
    /// Its routes in `Round::slots`.
    slots: std::ops::Range<usize>,
}

impl Round {
    fn new(n: usize) -> Round {
        Round {
            works: (0..n).map(|_| (Vec::new(), Vec::new())).collect(),
            dispatches: Vec::new(),
            slots: Vec::new(),
        }
    }

    fn is_empty(&self) -> bool {
        self.dispatches.is_empty()
    }
}

impl Driver<'_> {
    fn mark_wrote(&self) {
        if let Some(tx) = &self.tx {
            tx.mark_wrote();
        }
    }

    fn position(&self, node: usize) -> Result<usize> {
        self.participants
            .iter()
            .position(|&n| n == node)
            .ok_or_else(|| Error::new("node is not a participant of the transaction"))
    }

    /// Adds the node requests of one dispatch to the round.
    fn dispatch(
        &mut self,
        coord: &mut Coordinator<'_>,
        d: Dispatch,
        round: &mut Round,
    ) -> Result<()> {
        let program = self.program;
        if let Some(amelie_vm::program::Target::Set) = program.targets.get(d.target) {
            let rows = coord
                .take_result()
                .map(|(_, rows)| rows)
                .unwrap_or_default();
            route::fill_set_rows(
                program,
                d.table,
                &self.exec.catalog(),
                rows,
                &mut self.routes[d.target],
            )?;
        }
        let logged = !program.tables[d.table].unlogged;
        // short node work that a frontend may run in place (see `NodeHandle::run_or_wake`)
        let keyed = matches!(
            program.targets.get(d.target),
            Some(amelie_vm::program::Target::Key(_) | amelie_vm::program::Target::Insert(_))
        );
        let sets = coord.shipped();
        let index = round.dispatches.len();
        let first = round.slots.len();
        for r in 0..self.routes[d.target].len() {
            let pos = self.position(self.routes[d.target][r].node)?;
            let route = &mut self.routes[d.target][r];
            let light = keyed
                && route.generate.is_none()
                && route.count <= LIGHT_ROWS
                && route.rows.len() <= LIGHT_BYTES;
            let work = &mut round.works[pos];
            round.slots.push((pos, work.0.len()));
            work.0.push(NodeRequest {
                program: program.clone(),
                stmt: d.stmt,
                entry: d.entry,
                partition: route.partition,
                logged,
                rows: std::mem::take(&mut route.rows),
                generate: route.generate.take(),
                sets: sets.clone(),
                params: self.params.clone(),
                now: self.now,
                gov: self.gov.clone(),
                light,
            });
            work.1.push(index);
        }
        round.dispatches.push(RoundDispatch {
            stmt: d.stmt,
            wanted: d.wanted,
            slots: first..round.slots.len(),
        });
        Ok(())
    }

    /// Sends a round (beginning the transaction with the first one) and waits for its
    /// replies. Returns the outputs of every dispatch whose outputs are read, by statement,
    /// and appends the WAL changes. The error of the earliest failed dispatch wins.
    async fn send(
        &mut self,
        round: Round,
        last: bool,
        changes: &mut ChangeLog,
    ) -> Result<Vec<(usize, Vec<NodeOutput>)>> {
        let Round {
            works,
            dispatches,
            slots: all_slots,
        } = round;
        let mut waits: Vec<Option<BatchWait>> = Vec::with_capacity(works.len());
        let mut request_dispatch: Vec<Vec<usize>> = Vec::with_capacity(works.len());
        let mut out: Vec<commit::Work> = Vec::with_capacity(works.len());
        let mailbox = mailbox::current();
        let in_place = mailbox::run_in_place();
        let light: Vec<bool> = works
            .iter()
            .map(|(reqs, _)| in_place && reqs.iter().all(|r| r.light))
            .collect();
        for (reqs, owners) in works {
            let reply: Option<Reply> = if reqs.is_empty() {
                waits.push(None);
                None
            } else {
                let (s, w) = tokio::sync::oneshot::channel();
                waits.push(Some(w));
                Some(match mailbox.clone() {
                    Some(mb) => Box::new(move |res| mb.post(s, res)),
                    None => Box::new(move |res| {
                        let _ = s.send(res);
                    }),
                })
            };
            request_dispatch.push(owners);
            out.push(commit::Work { reqs, reply });
        }
        match &self.tx {
            None => {
                let (tx, sent) =
                    self.exec
                        .commit
                        .begin(self.nodes, self.participants.clone(), out, last);
                self.tx = Some(tx.clone());
                // let the other requests that are ready enqueue their work first: the node
                // then drains them all in one wake-up (a cancelled request is ended by `Drop`,
                // which wakes the nodes too)
                tokio::task::yield_now().await;
                tx.run_or_wake(self.nodes, &light);
                if let Err(e) = sent {
                    tx.mark_wrote();
                    return Err(e);
                }
            }
            Some(tx) => {
                if tx.is_aborted() {
                    return Err(commit::conflict());
                }
                if let Err(e) = tx.send(self.nodes, out, last, &light) {
                    tx.mark_wrote();
                    return Err(e);
                }
            }
        }
        // collect every reply; remember the earliest failed dispatch
        let mut replies: Vec<Vec<Option<NodeOutput>>> = Vec::with_capacity(waits.len());
        let mut first_err: Option<(usize, Error)> = None;
        for (pos, w) in waits.into_iter().enumerate() {
            let Some(w) = w else {
                replies.push(Vec::new());
                continue;
            };
            let (failed_at, err) = match w.await {
                Ok(Ok(reply)) => {
                    if reply.wrote {
                        self.mark_wrote();
                    }
                    changes.append(reply.changes);
                    replies.push(reply.outputs.into_iter().map(Some).collect());
                    continue;
                }
                Ok(Err(e)) => {
                    if e.wrote {
                        self.mark_wrote();
                    }
                    (request_dispatch[pos].get(e.index).copied(), e.error)
                }
                Err(_) => {
                    self.mark_wrote();
                    (None, Error::new("compute node is not running"))
                }
            };
            replies.push(Vec::new());
            let at = failed_at.unwrap_or(usize::MAX);
            if first_err.as_ref().is_none_or(|(i, _)| at < *i) {
                first_err = Some((at, err));
            }
        }
        if let Some((_, e)) = first_err {
            return Err(e);
        }
        // the changes of every round stay here until the commit: a node counts only its
        // own round's
        if self.gov.measures() {
            self.gov
                .fit(changes.as_bytes().len(), &mut self.changes_held)?;
        }
        let mut outputs = Vec::new();
        for RoundDispatch {
            stmt,
            wanted,
            slots,
        } in dispatches
        {
            if !wanted {
                continue;
            }
            let mut outs = Vec::with_capacity(slots.len());
            for &(pos, i) in &all_slots[slots] {
                let o = replies
                    .get_mut(pos)
                    .and_then(|r| r.get_mut(i))
                    .and_then(Option::take)
                    .ok_or_else(|| Error::new("internal: node reply is missing an output"))?;
                outs.push(o);
            }
            outputs.push((stmt, outs));
        }
        Ok(outputs)
    }

    /// Runs the coordinator to its end, sending node work in rounds; returns the WAL changes.
    async fn run(&mut self, coord: &mut Coordinator<'_>) -> Result<ChangeLog> {
        let mut changes = ChangeLog::default();
        // outputs received ahead of the `Recv` that reads them
        let mut parked: VecDeque<(usize, Vec<NodeOutput>)> = VecDeque::new();
        let mut outputs: Option<Vec<NodeOutput>> = None;
        loop {
            let mut round = Round::new(self.participants.len());
            let mut failed = None;
            let awaited = loop {
                match coord.resume(outputs.take()) {
                    Ok(Step::Dispatch(d)) => {
                        if let Err(e) = self.dispatch(coord, d, &mut round) {
                            failed = Some(e);
                            break None;
                        }
                    }
                    Ok(Step::Await(stmt)) => {
                        if let Some(i) = parked.iter().position(|(s, _)| *s == stmt) {
                            outputs = parked.remove(i).map(|(_, o)| o);
                            continue;
                        }
                        break Some(stmt);
                    }
                    Ok(Step::Yield) => {
                        // long coordinator work: let this frontend's other requests run
                        tokio::task::yield_now().await;
                        continue;
                    }
                    Ok(Step::Done) => break None,
                    Err(e) => {
                        failed = Some(e);
                        break None;
                    }
                }
            };
            let last = awaited.is_none() || !coord.may_dispatch();
            let ended = self.tx.as_ref().is_some_and(|t| t.has_ended());
            if !round.is_empty() && ended {
                return Err(Error::new("internal: dispatch after the transaction ended"));
            }
            let replies = if round.is_empty() && (ended || self.tx.is_none()) {
                // nothing to send (no node work at all, or the nodes already know the end)
                Vec::new()
            } else {
                // node errors come from earlier statements than a coordinator error
                self.send(round, last, &mut changes).await?
            };
            if let Some(e) = failed {
                return Err(e);
            }
            let Some(stmt) = awaited else {
                return Ok(changes);
            };
            parked.extend(replies);
            match parked.iter().position(|(s, _)| *s == stmt) {
                Some(i) => outputs = parked.remove(i).map(|(_, o)| o),
                None => return Err(Error::new("internal: no reply to wait for")),
            }
        }
    }
}

#[cfg(test)]
mod tests;
