//! The executor: runs a request as one transaction. It places the transaction in the global
//! order, dispatches node work, merges results in the coordinator, and decides commit or
//! abort through group commit. DDL runs alone under the exclusive control lock.

pub mod checkpoint;
pub mod commit;
pub mod ddl;
mod import;
pub mod node_ddl;
mod route;
pub mod user;
pub mod wal_body;

use amelie_catalog::{Catalog, DdlOp, Node};
use amelie_common::format::{encode_rows, encode_single, Format};
use amelie_common::{Error, Result, Value};
use amelie_compiler::{compile, CompileCtx, Compiled};
use amelie_node::{NodeHandle, NodeMsg, NodeRequest, TxMsg};
use amelie_vm::{Change, Coordinator, NodeOutput, Program, Step};
use amelie_wal::{Wal, WalConfig};
use commit::{GroupCommit, Tx};
use parking_lot::{Mutex, RwLock};
use route::Route;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use wal_body::WalBody;

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
}

/// What recovery did, for the start-up log.
#[derive(Debug, Default)]
pub struct RecoveryReport {
    pub records: u64,
    pub changes: u64,
    pub truncated: Option<String>,
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
    config_source: RwLock<Option<Arc<dyn ddl::ConfigSource>>>,
    /// Repository directory (checkpoints) and the newest checkpoint's LSN.
    dir: Option<std::path::PathBuf>,
    checkpoint: AtomicU64,
    /// Default `WORKERS` of a checkpoint (`checkpoint_workers`); 0: every node at once.
    checkpoint_workers: AtomicU64,
    /// WAL counters (writes, bytes, records) at the end of start-up: `SHOW WAL` counts from here.
    wal_base: Mutex<(u64, u64, u64)>,
}

fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// Cancels a transaction whose request future was dropped before it finished.
struct TxGuard<'a> {
    exec: &'a Executor,
    nodes: &'a [Arc<NodeHandle>],
    tx: Arc<Tx>,
    done: bool,
}

impl Drop for TxGuard<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.tx.end();
            drop(self.exec.commit.complete(
                self.nodes,
                &self.tx,
                Err(Error::new("request cancelled")),
            ));
        }
    }
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
            config_source: RwLock::new(None),
            dir: config.dir.clone(),
            checkpoint: AtomicU64::new(0),
            checkpoint_workers: AtomicU64::new(0),
            wal_base: Mutex::new((0, 0, 0)),
        };
        Format::parse(&config.format)?;
        let mut report = RecoveryReport {
            truncated: recovery.truncated.clone(),
            last_lsn: recovery.last_lsn,
            ..Default::default()
        };
        let loaded = exec.load_checkpoint()?;
        report.checkpoint = loaded.clone();
        if loaded.lsn > exec.lsn() {
            exec.lsn.store(loaded.lsn, Ordering::Release);
            report.last_lsn = loaded.lsn;
        }
        for record in &recovery.records {
            if record.lsn <= loaded.lsn {
                continue;
            }
            report.records += 1;
            match WalBody::decode(&record.body)? {
                WalBody::Ddl(op) => exec.apply_ddl(&op)?,
                WalBody::Dml(changes) => {
                    report.changes += changes.len() as u64;
                    exec.replay(changes)?;
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

    fn replay(&self, changes: Vec<Change>) -> Result<()> {
        let catalog = self.catalog();
        let nodes = self.nodes();
        let mut per_node: Vec<Vec<Change>> = (0..nodes.len()).map(|_| Vec::new()).collect();
        for c in changes {
            let pid = match &c {
                Change::Put { partition, .. } | Change::Remove { partition, .. } => *partition,
            };
            let owner = catalog
                .tables
                .iter()
                .flat_map(|t| t.partitions.iter().map(move |p| (t, p)))
                .find(|(_, p)| p.id == pid)
                .map(|(t, p)| {
                    // SERIAL counters resume after the largest replayed value
                    if let Change::Put { row, .. } = &c {
                        for (i, col) in t.columns.iter().enumerate() {
                            if let (true, Some(Value::Int(v))) = (col.serial, row.get(i)) {
                                amelie_compiler::serial_observe(t.id, *v);
                            }
                        }
                    }
                    p.node.clone()
                });
            if let Some(uuid) = owner {
                per_node[self.node_index(&uuid)?].push(c);
            }
        }
        for (n, changes) in nodes.iter().zip(per_node) {
            if !changes.is_empty() {
                n.send(NodeMsg::Replay { changes })?;
            }
        }
        Ok(())
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
        self.apply_ddl(&op)
    }

    /// Creates a compute node (bootstrap; `CREATE NODE` later).
    pub async fn create_node(&self, uuid: String) -> Result<()> {
        self.ddl(DdlOp::CreateNode(Node { uuid })).await
    }

    /// Executes one request body as one transaction. `Ok(None)` means no content (204).
    pub async fn execute(&self, sql: &str, session: &SessionCtx) -> Result<Option<String>> {
        let req = amelie_parser::parse(sql)?;
        self.execute_request(
            req,
            sql.contains("system.") || sql.contains("serial"),
            session,
        )
        .await
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
        let ctx = CompileCtx {
            now: now_us(),
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
        let Compiled::Program(mut program) = compile(&req, &catalog, &ctx)? else {
            return Ok(None);
        };
        let format = Format::parse(&self.format.read())?;
        if req.explain {
            let mut out = String::new();
            encode_single(
                "explain",
                &Value::Json(Box::new(program.explain())),
                format,
                ctx.tz_offset,
                &mut out,
            );
            return Ok(Some(out));
        }
        let nodes = self.nodes();
        let mut routes = route::plan(&mut program, &catalog, &nodes)?;
        let program = Arc::new(program);
        let participants = route::participants(&routes);
        let result = if participants.is_empty() {
            let mut coord = Coordinator::new(&program);
            match coord.resume(None)? {
                Step::Done => coord.take_result(),
                Step::Dispatch(_) | Step::Await(_) => {
                    return Err(Error::new("dispatch without participants"))
                }
            }
        } else {
            let tx = self.commit.begin(&nodes, &participants)?;
            let mut guard = TxGuard {
                exec: self,
                nodes: &nodes,
                tx: tx.clone(),
                done: false,
            };
            let mut changes = Vec::new();
            let mut coord = Coordinator::new(&program);
            let run = self
                .run(&program, &mut coord, &tx, &mut routes, &mut changes)
                .await;
            tx.end();
            guard.done = true;
            let record = run
                .map(|_| commit::Record::encode(&changes))
                .and_then(|r| self.check_limit_write(&r).map(|_| r));
            let wait = self.commit.complete(&nodes, &tx, record);
            wait.await
                .map_err(|_| Error::new("commit was interrupted"))??;
            coord.take_result()
        };
        let Some((stmt, rows)) = result else {
            return Ok(None);
        };
        let info = &program.stmts[stmt];
        let format = match &info.format {
            Some(f) => Format::parse(f)?,
            None => format,
        };
        let mut out = String::new();
        encode_rows(&info.columns, &rows, format, ctx.tz_offset, &mut out);
        if out.len() as u64 >= self.limit_send.load(Ordering::Relaxed) {
            return Err(Error::new("reply limit reached"));
        }
        Ok(Some(out))
    }

    async fn run(
        &self,
        program: &Arc<Program>,
        coord: &mut Coordinator<'_>,
        tx: &Arc<Tx>,
        routes: &mut [Vec<Route>],
        changes: &mut Vec<Change>,
    ) -> Result<()> {
        type Wait = tokio::sync::oneshot::Receiver<Result<(NodeOutput, Vec<Change>)>>;
        // Nothing waits at a dispatch: the requests are sent and the coordinator runs on, so
        // independent statements (CTEs, DML without RETURNING) are in flight on the nodes
        // together. A node runs the transaction's requests in the order they were sent. The
        // replies are collected in dispatch order when the coordinator asks for one
        // (`Step::Await`) and before the transaction completes, so the first error wins.
        struct InFlight {
            stmt: usize,
            wanted: bool,
            waits: Vec<Wait>,
        }
        let mut inflight: VecDeque<InFlight> = VecDeque::new();
        // replies collected ahead of their `Recv` (another statement was awaited first)
        let mut parked: VecDeque<(usize, Vec<NodeOutput>)> = VecDeque::new();
        async fn collect(
            waits: Vec<Wait>,
            changes: &mut Vec<Change>,
            outs: &mut Vec<NodeOutput>,
        ) -> Result<()> {
            let mut first_err = None;
            for w in waits {
                match w.await {
                    Ok(Ok((out, ch))) => {
                        changes.extend(ch);
                        outs.push(out);
                    }
                    Ok(Err(e)) => {
                        first_err.get_or_insert(e);
                    }
                    Err(_) => {
                        first_err.get_or_insert(Error::new("compute node is not running"));
                    }
                }
            }
            match first_err {
                Some(e) => Err(e),
                None => Ok(()),
            }
        }
        async fn drain(inflight: &mut VecDeque<InFlight>, changes: &mut Vec<Change>) -> Result<()> {
            let mut first_err = None;
            for f in inflight.drain(..) {
                let mut discard = Vec::new();
                if let Err(e) = collect(f.waits, changes, &mut discard).await {
                    first_err.get_or_insert(e);
                }
            }
            match first_err {
                Some(e) => Err(e),
                None => Ok(()),
            }
        }
        let mut outputs: Option<Vec<NodeOutput>> = None;
        loop {
            let d = match coord.resume(outputs.take()) {
                Ok(Step::Done) => break,
                Ok(Step::Dispatch(d)) => d,
                Ok(Step::Await(stmt)) => {
                    if let Some(i) = parked.iter().position(|(s, _)| *s == stmt) {
                        outputs = parked.remove(i).map(|(_, o)| o);
                        continue;
                    }
                    while let Some(f) = inflight.pop_front() {
                        let mut outs = Vec::with_capacity(f.waits.len());
                        if let Err(e) = collect(f.waits, changes, &mut outs).await {
                            drain(&mut inflight, changes).await.ok();
                            return Err(e);
                        }
                        if f.stmt == stmt && f.wanted {
                            outputs = Some(outs);
                            break;
                        }
                        if f.wanted {
                            parked.push_back((f.stmt, outs));
                        }
                    }
                    if outputs.is_none() {
                        return Err(Error::new("internal: no reply to wait for"));
                    }
                    continue;
                }
                Err(e) => {
                    // report an earlier statement's error first
                    drain(&mut inflight, changes).await?;
                    return Err(e);
                }
            };
            if tx.is_aborted() {
                drain(&mut inflight, changes).await.ok();
                return Err(commit::conflict());
            }
            let logged = !program.tables[d.table].unlogged;
            if let Some(amelie_vm::program::Target::Set) = program.targets.get(d.target) {
                let rows = coord
                    .take_result()
                    .map(|(_, rows)| rows)
                    .unwrap_or_default();
                let filled = route::fill_set_rows(
                    program,
                    d.table,
                    &self.catalog(),
                    rows,
                    &mut routes[d.target],
                );
                if let Err(e) = filled {
                    // report an earlier statement's error first
                    drain(&mut inflight, changes).await?;
                    return Err(e);
                }
            }
            let sets = coord.shipped();
            let mut waits = Vec::with_capacity(routes[d.target].len());
            for r in routes[d.target].iter_mut() {
                let (s, w) = tokio::sync::oneshot::channel();
                tx.send(
                    r.node,
                    TxMsg::Run(NodeRequest {
                        program: program.clone(),
                        stmt: d.stmt,
                        entry: d.entry,
                        partition: r.partition,
                        logged,
                        rows: std::mem::take(&mut r.rows),
                        sets: sets.clone(),
                        reply: Box::new(move |res| {
                            let _ = s.send(res);
                        }),
                    }),
                )?;
                waits.push(w);
            }
            inflight.push_back(InFlight {
                stmt: d.stmt,
                wanted: d.wanted,
                waits,
            });
        }
        drain(&mut inflight, changes).await
    }
}
