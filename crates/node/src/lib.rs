//! A compute node: one OS thread that exclusively owns one partition of every distributed
//! table (and the shared tables placed on it), fed by a crossbeam channel.
//!
//! Transactions arrive as [`TxWork`] messages. The first message of a transaction
//! (`first`) places it in this node's order; the node runs it to its `last` message before
//! starting the next one, applying changes in place with an undo log. A transaction whose
//! node code needs nothing from the coordinator arrives as ONE message (`first` and `last`,
//! every request of every statement) and is answered with ONE reply. Undo logs are kept until
//! the executor commits (the shared `committed` counter) or group-aborts (`Abort`) them.
//!
//! Waiting: the thread drains its whole queue each time it wakes and parks (no spinning, no
//! `sched_yield`) when it is empty; a sender unparks it ([`NodeHandle::send`]).
//!
//! Running short work in place: waking a parked thread on another core costs more than a
//! point update (a futex wake, an inter-processor interrupt, the node's own sleep and wake-up,
//! then the same again for its reply). So the node's state sits behind a try-lock, and a
//! sender whose work is *light* (point reads and writes, small INSERT batches: see
//! [`NodeRequest::light`]) runs the queue itself on its own thread when nobody else holds it
//! ([`NodeHandle::run_or_wake`]). Whoever holds the state drains the queue in order, exactly
//! as the node thread would, so the global order and the no-locks-on-data rule stand: a
//! partition is touched by one thread at a time, the holder of its node. A holder that meets
//! heavy work (a scan, GENERATE, a checkpoint, DDL, recovery, shutdown) leaves it as the next
//! message to handle and wakes the node thread to run it.

pub mod snapshot;

use amelie_common::{Error, FastMap, IndexKind, Result};
use amelie_storage::{Partition, Row, UndoLog};
use amelie_vm::node_exec::replay_change;
use amelie_vm::{run_node, ChangeLog, ChangeReader, NodeCtx, NodeOutput, Program};
use crossbeam_channel::{unbounded, Receiver, Sender, TryRecvError};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{JoinHandle, Thread};

/// One piece of node work of a transaction: node code of one statement on one partition.
pub struct NodeRequest {
    pub program: Arc<Program>,
    pub stmt: usize,
    pub entry: usize,
    pub partition: u64,
    pub logged: bool,
    /// Rows of an INSERT routed to this partition (back-to-back row encodings, see
    /// `amelie_storage::encode_row_into`).
    pub rows: Vec<u8>,
    /// `INSERT ... GENERATE` made on the nodes (instead of `rows`): the spec shared by every
    /// partition and this partition's hash slots (`min .. max`).
    pub generate: Option<(Arc<amelie_vm::Generate>, (u32, u32))>,
    /// Coordinator row sets the node code reads (shared by every node of the dispatch).
    pub sets: amelie_vm::Shipped,
    /// Parameter values of this execution of the program (shared by its requests).
    pub params: Arc<[amelie_common::Value]>,
    /// Request start time.
    pub now: i64,
    /// The request's limits (shared by its requests and its coordinator).
    pub gov: Arc<amelie_common::Governor>,
    /// This partition's output comes first in the coordinator's merge (see
    /// `amelie_vm::NodeCtx::first`).
    pub first: bool,
    /// Short work (a point read or write, a small INSERT batch) that a sender may run in
    /// place instead of waking the node thread ([`NodeHandle::run_or_wake`]).
    pub light: bool,
}

/// The answer to one [`TxWork`]: an output per request (in order) and the WAL changes the
/// requests made, already encoded.
#[derive(Debug, Default)]
pub struct BatchReply {
    pub outputs: Vec<NodeOutput>,
    pub changes: ChangeLog,
    /// The transaction has changed something on this node so far (its undo log is not
    /// empty): later transactions may have read it.
    pub wrote: bool,
}

/// A failed batch: the position of the request that failed (requests after it did not run)
/// and its error.
#[derive(Debug)]
pub struct BatchError {
    pub index: usize,
    pub error: Error,
    /// As [`BatchReply::wrote`]. (An error that reached no partition says true: nothing is
    /// known.)
    pub wrote: bool,
}

/// Reply callback of a [`TxWork`].
pub type Reply = Box<dyn FnOnce(std::result::Result<BatchReply, BatchError>) + Send>;

/// Replicated changes (`TxWork::apply`) of at most this many bytes may run in place like
/// light requests; larger ones go to the node thread.
const LIGHT_APPLY: usize = 4096;

/// Work of one transaction on this node.
pub struct TxWork {
    /// The transaction's place in the global order.
    pub id: u64,
    /// The transaction starts here (sent to every participant inside the ordering critical
    /// section).
    pub first: bool,
    /// The transaction sends nothing more to this node.
    pub last: bool,
    /// Requests to run, in order (may be empty).
    pub reqs: Vec<NodeRequest>,
    /// Row changes made elsewhere (`ChangeLog` bytes of this node's partitions: a
    /// transaction a replica receives from its primary), applied with undo before `reqs`.
    /// Empty for every transaction the node code runs.
    pub apply: Vec<u8>,
    /// Where the outputs go (None: nobody waits, `reqs` is empty).
    pub reply: Option<Reply>,
}

pub enum NodeMsg {
    /// Work of a transaction, in the global order.
    Tx(TxWork),
    /// Transactions up to and including `upto` are durable: drop their undo logs.
    Commit {
        upto: u64,
    },
    /// Roll back transactions `from ..= to` (group abort).
    Abort {
        from: u64,
        to: u64,
    },
    CreatePartition {
        id: u64,
        table_id: u64,
        kind: IndexKind,
        keys: Vec<usize>,
        done: Sender<()>,
    },
    DropPartition {
        id: u64,
        done: Sender<()>,
    },
    /// Apply recovered changes (no undo, no WAL): `ChangeLog` bytes of this node's
    /// partitions.
    Replay {
        changes: Vec<u8>,
    },
    /// ALTER TABLE ADD/DROP COLUMN: append `add` to every row or remove column `drop`, then
    /// use `key_cols` as the key ordinals.
    RewriteRows {
        id: u64,
        add: Option<amelie_common::Value>,
        drop: Option<usize>,
        key_cols: Vec<usize>,
        done: Sender<()>,
    },
    /// CREATE INDEX: build a secondary index on `cols` (appended after the existing ones).
    /// With `strict`, a unique index is not built over rows that share a key and the answer
    /// is false (CREATE UNIQUE INDEX); otherwise it is always built (recovery, checkpoint
    /// load, TRUNCATE).
    CreateSecondary {
        id: u64,
        cols: Vec<usize>,
        unique: bool,
        strict: bool,
        done: Sender<bool>,
    },
    /// DROP INDEX: drop the `index`-th secondary index.
    DropSecondary {
        id: u64,
        index: usize,
        done: Sender<()>,
    },
    /// Answer when every earlier message is processed.
    Sync {
        done: Sender<()>,
    },
    /// Row count of a partition (tests, SHOW).
    Count {
        id: u64,
        done: Sender<usize>,
    },
    /// CHECKPOINT: write a snapshot of each of `partitions` into `dir`
    /// (`<%010id>.part`). Answers with the number of rows written.
    Snapshot {
        partitions: Vec<u64>,
        dir: std::path::PathBuf,
        done: Sender<Result<u64>>,
    },
    /// Start-up: load the snapshot file `path` into partition `id` (created before).
    LoadSnapshot {
        id: u64,
        path: std::path::PathBuf,
        done: Sender<Result<u64>>,
    },
    Shutdown,
}

/// The frontend's handle on a node thread.
pub struct NodeHandle {
    pub uuid: String,
    tx: Sender<NodeMsg>,
    /// The node's state, run by its thread or in place by a sender.
    shared: Arc<Shared>,
    /// The node thread, to unpark it after a send.
    waker: Thread,
    thread: Option<JoinHandle<()>>,
}

/// A node's state and a second end of its queue (to see whether it is empty).
struct Shared {
    node: parking_lot::Mutex<Node>,
    probe: Receiver<NodeMsg>,
}

/// How a drain of the queue ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pumped {
    /// The queue is empty.
    Done,
    /// Another thread holds the node: it drains what was queued (or hands it off).
    Busy,
    /// Heavy work is at the head of the queue: the node thread must run it.
    Handoff,
    /// The node was told to stop.
    Shutdown,
}

impl Shared {
    /// Drains the queue on the calling thread while nobody else holds the node. A holder
    /// looks at the queue again after letting go, so a message queued by a sender that found
    /// the node held is never left behind.
    fn pump(&self, inline: bool) -> Pumped {
        loop {
            let Some(mut node) = self.node.try_lock() else {
                return Pumped::Busy;
            };
            let r = node.pump(inline);
            drop(node);
            if r != Pumped::Done || self.probe.is_empty() {
                return r;
            }
        }
    }
}

impl NodeHandle {
    /// Starts the node thread.
    pub fn start(uuid: String) -> NodeHandle {
        Self::start_with(uuid, Arc::new(AtomicU64::new(0)))
    }

    /// Starts the node thread. `committed` is the id of the newest durable transaction: the
    /// executor advances it after each group commit and the node drops undo logs up to it the
    /// next time it looks, so a commit costs no message (and no wake-up) per node.
    pub fn start_with(uuid: String, committed: Arc<AtomicU64>) -> NodeHandle {
        let (tx, rx) = unbounded();
        // the uuid may come from a damaged WAL or checkpoint: no byte slicing inside a
        // character, no NUL (a thread name cannot hold one)
        let short: String = uuid.chars().filter(|c| *c != '\0').take(8).collect();
        let name = format!("node-{short}");
        let shared = Arc::new(Shared {
            probe: rx.clone(),
            node: parking_lot::Mutex::new(Node::new(rx, committed)),
        });
        let on_thread = shared.clone();
        let thread = std::thread::Builder::new()
            .name(name)
            .stack_size(amelie_common::THREAD_STACK)
            .spawn(move || run_thread(&on_thread))
            .expect("spawn node thread");
        NodeHandle {
            uuid,
            tx,
            shared,
            waker: thread.thread().clone(),
            thread: Some(thread),
        }
    }

    /// After queueing a message without waking the node ([`NodeHandle::send_quiet`]): with
    /// `light` work, runs the node's queue on the calling thread when no other thread holds
    /// the node (a thread that holds it runs the message); otherwise, or when heavy work is
    /// queued, wakes the node thread.
    pub fn run_or_wake(&self, light: bool) {
        if light {
            match self.shared.pump(true) {
                Pumped::Done | Pumped::Busy => return,
                Pumped::Handoff | Pumped::Shutdown => {}
            }
        }
        self.wake();
    }

    /// Sends a message and wakes the node if it sleeps.
    pub fn send(&self, msg: NodeMsg) -> Result<()> {
        self.send_quiet(msg)?;
        self.wake();
        Ok(())
    }

    /// Messages waiting in the node's queue (not yet taken by its thread or a frontend
    /// running it in place); a gauge of `GET /metrics`.
    pub fn queue_len(&self) -> usize {
        self.tx.len()
    }

    /// Queues a message without waking the node (call [`NodeHandle::wake`] afterwards; used
    /// inside the ordering critical section so the wake-up syscall happens outside it).
    pub fn send_quiet(&self, msg: NodeMsg) -> Result<()> {
        self.tx
            .send(msg)
            .map_err(|_| Error::new("compute node is not running"))
    }

    /// Wakes the node thread if it is parked (a no-op costing one atomic operation when it
    /// is running). A message queued before this call is seen by the node: `park` returns at
    /// once when the unpark came first.
    pub fn wake(&self) {
        self.waker.unpark();
    }

    /// Sends a message carrying a reply channel and waits for the answer.
    pub fn call<T>(&self, make: impl FnOnce(Sender<T>) -> NodeMsg) -> Result<T> {
        let (done, wait) = crossbeam_channel::bounded(1);
        self.send(make(done))?;
        wait.recv()
            .map_err(|_| Error::new("compute node is not running"))
    }
}

impl Drop for NodeHandle {
    fn drop(&mut self) {
        let _ = self.send(NodeMsg::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn conflict() -> Error {
    Error::conflict("transaction conflict, abort")
}

/// Requests that panicked on any node since the process started (`SHOW STATUS`:
/// `process.node_panics`). Each failed its transaction; the node kept serving.
static PANICS: AtomicU64 = AtomicU64::new(0);

/// How many requests panicked on the nodes since the process started.
pub fn panics() -> u64 {
    PANICS.load(Ordering::Relaxed)
}

/// The error of a request whose execution panicked on the node.
fn panicked() -> Error {
    Error::internal("internal error while running the request on a compute node")
}

/// The node thread: drains the queue whenever it is woken, parks when it is empty (or
/// another thread holds the node: that one drains or hands off and wakes it).
fn run_thread(shared: &Shared) {
    loop {
        if shared.pump(false) == Pumped::Shutdown {
            return;
        }
        // (a message that arrived meanwhile finds `park` returning at once; a whole tick
        // without one gives memory back, see `amelie_common::idle`)
        let since = std::time::Instant::now();
        std::thread::park_timeout(amelie_common::idle::TICK);
        if since.elapsed() >= amelie_common::idle::TICK {
            amelie_common::idle::tick();
        }
    }
}

/// The transaction this node is running (between its first and last message).
struct Current {
    id: u64,
    /// Group-aborted before or while it ran: every request answers with a conflict.
    aborted: bool,
    /// A request failed: later requests are not run (the transaction will be aborted).
    failed: bool,
    undo: UndoLog,
    /// Bytes reserved for it from the server-wide memory pool (`NodeCtx::held`).
    held: usize,
}

struct Node {
    rx: Receiver<NodeMsg>,
    committed: Arc<AtomicU64>,
    /// By partition id (a fast hasher: looked up by every request).
    partitions: FastMap<u64, Partition>,
    /// Finished, not yet committed transactions with their undo logs, in order.
    pending: VecDeque<(u64, UndoLog)>,
    /// Aborted transaction ranges not yet seen by this node.
    aborted: Vec<(u64, u64)>,
    /// Messages that arrived while a transaction was running, in arrival order.
    backlog: VecDeque<NodeMsg>,
    current: Option<Current>,
    /// The VM's register file, reused by every request.
    regs: Vec<amelie_common::Value>,
    /// Heavy work a sender running the queue in place left for the node thread (the next
    /// message to handle): senders run nothing more until the node thread has taken it.
    handoff: Option<NodeMsg>,
}

impl Node {
    fn new(rx: Receiver<NodeMsg>, committed: Arc<AtomicU64>) -> Node {
        Node {
            rx,
            committed,
            partitions: FastMap::default(),
            pending: VecDeque::new(),
            aborted: Vec::new(),
            backlog: VecDeque::new(),
            current: None,
            regs: Vec::new(),
            handoff: None,
        }
    }

    /// Drains the queue: handles every message that can run now, in order. `inline`: the
    /// caller is a sender running it in place, which stops at heavy work (left in `handoff`
    /// for the node thread).
    fn pump(&mut self, inline: bool) -> Pumped {
        if inline && self.handoff.is_some() {
            return Pumped::Handoff;
        }
        loop {
            self.apply_committed();
            // heavy work a sender left comes first; then, between transactions, the
            // backlog; while one runs, only its own messages (`apply_committed` may have
            // moved them to the backlog)
            let next = match &self.current {
                _ if self.handoff.is_some() => self.handoff.take(),
                None => self.backlog.pop_front(),
                Some(c) => {
                    let id = c.id;
                    self.backlog
                        .iter()
                        .position(|m| matches!(m, NodeMsg::Tx(w) if w.id == id))
                        .and_then(|i| self.backlog.remove(i))
                }
            };
            let msg = match next {
                Some(m) => m,
                None => match self.rx.try_recv() {
                    Ok(m) => m,
                    Err(TryRecvError::Empty) => return Pumped::Done,
                    Err(TryRecvError::Disconnected) => return Pumped::Shutdown,
                },
            };
            if inline && !self.light(&msg) {
                // handled next, by the node thread, exactly as it would have been here
                self.handoff = Some(msg);
                return Pumped::Handoff;
            }
            amelie_common::idle::busy();
            if !self.handle(msg) {
                return Pumped::Shutdown;
            }
        }
    }

    /// Whether a sender may run this message in place (see [`NodeRequest::light`]).
    fn light(&self, msg: &NodeMsg) -> bool {
        match msg {
            NodeMsg::Tx(w) => match &self.current {
                // it only waits in the backlog
                Some(c) if c.id != w.id => true,
                _ => w.apply.len() <= LIGHT_APPLY && w.reqs.iter().all(|r| r.light),
            },
            // (an abort must also never wait: `apply_committed` relies on it)
            NodeMsg::Commit { .. }
            | NodeMsg::Abort { .. }
            | NodeMsg::Sync { .. }
            | NodeMsg::Count { .. } => true,
            NodeMsg::Shutdown => false,
            // DDL, checkpoints, recovery: they wait in the backlog while a transaction runs
            _ => self.current.is_some(),
        }
    }

    /// Handles one message; false: stop the thread.
    fn handle(&mut self, msg: NodeMsg) -> bool {
        match msg {
            NodeMsg::Tx(w) => match &self.current {
                Some(c) if c.id != w.id => self.backlog.push_back(NodeMsg::Tx(w)),
                _ => self.tx_work(w),
            },
            NodeMsg::Abort { from, to } => self.abort(from, to),
            NodeMsg::Commit { upto } => self.commit(upto),
            NodeMsg::Shutdown => return false,
            other if self.current.is_some() => self.backlog.push_back(other),
            other => self.control(other),
        }
        true
    }

    /// Messages handled between transactions (DDL, recovery, checkpoints, tests).
    fn control(&mut self, msg: NodeMsg) {
        match msg {
            NodeMsg::CreatePartition {
                id,
                table_id,
                kind,
                keys,
                done,
            } => {
                self.partitions
                    .insert(id, Partition::new(id, table_id, kind, &keys));
                let _ = done.send(());
            }
            NodeMsg::RewriteRows {
                id,
                add,
                drop,
                key_cols,
                done,
            } => {
                if let Some(p) = self.partitions.get_mut(&id) {
                    p.rewrite_rows(&key_cols, |row| {
                        let mut v = row.to_values();
                        if let Some(i) = drop {
                            if i < v.len() {
                                v.remove(i);
                            }
                        }
                        if let Some(a) = &add {
                            v.push(a.clone());
                        }
                        *row = Row::encode(&v);
                    });
                    if let Some(i) = drop {
                        p.shift_secondary(i);
                    }
                }
                let _ = done.send(());
            }
            NodeMsg::CreateSecondary {
                id,
                cols,
                unique,
                strict,
                done,
            } => {
                let built = match self.partitions.get_mut(&id) {
                    Some(p) if strict => p.try_create_secondary(&cols, unique),
                    Some(p) => {
                        p.create_secondary(&cols, unique);
                        true
                    }
                    None => true,
                };
                let _ = done.send(built);
            }
            NodeMsg::DropSecondary { id, index, done } => {
                if let Some(p) = self.partitions.get_mut(&id) {
                    p.drop_secondary(index);
                }
                let _ = done.send(());
            }
            NodeMsg::DropPartition { id, done } => {
                self.partitions.remove(&id);
                let _ = done.send(());
            }
            NodeMsg::Replay { changes } => {
                // (the executor decoded these bytes once already: they are valid)
                for c in ChangeReader::new(&changes).flatten() {
                    if let Some(p) = self.partitions.get_mut(&c.partition()) {
                        let _ = replay_change(p, c);
                    }
                }
            }
            NodeMsg::Sync { done } => {
                let _ = done.send(());
            }
            NodeMsg::Count { id, done } => {
                let _ = done.send(self.partitions.get(&id).map(|p| p.len()).unwrap_or(0));
            }
            NodeMsg::Snapshot {
                partitions,
                dir,
                done,
            } => {
                let mut rows = 0;
                let mut res = Ok(());
                for id in partitions {
                    let Some(p) = self.partitions.get(&id) else {
                        continue;
                    };
                    match snapshot::write_partition(p, &snapshot::part_path(&dir, id)) {
                        Ok(n) => rows += n,
                        Err(e) => {
                            res = Err(e);
                            break;
                        }
                    }
                }
                let _ = done.send(res.map(|_| rows));
            }
            NodeMsg::LoadSnapshot { id, path, done } => {
                let res = match self.partitions.get_mut(&id) {
                    Some(p) => snapshot::load_partition(p, &path),
                    None => Err(Error::internal(format!(
                        "snapshot: partition {id} not found"
                    ))),
                };
                let _ = done.send(res);
            }
            NodeMsg::Tx(_) | NodeMsg::Abort { .. } | NodeMsg::Commit { .. } | NodeMsg::Shutdown => {
            }
        }
    }

    /// Drops undo logs of transactions the executor has made durable. The executor sends any
    /// `Abort` before it advances `committed` past the aborted ids, so after loading the
    /// counter every such `Abort` is already queued: apply those first (moving other messages
    /// to the backlog in order), or an aborted transaction's undo log could be dropped before
    /// its rollback.
    fn apply_committed(&mut self) {
        let upto = self.committed.load(Ordering::Acquire);
        if self.pending.front().is_none_or(|(id, _)| *id > upto) {
            return;
        }
        while let Ok(msg) = self.rx.try_recv() {
            match msg {
                NodeMsg::Abort { from, to } => self.abort(from, to),
                NodeMsg::Commit { upto } => self.commit(upto),
                other => self.backlog.push_back(other),
            }
        }
        self.commit(upto);
    }

    fn commit(&mut self, upto: u64) {
        while self.pending.front().is_some_and(|(id, _)| *id <= upto) {
            self.pending.pop_front();
        }
    }

    fn rollback(partitions: &mut FastMap<u64, Partition>, undo: UndoLog) {
        undo.rollback(|pid, key, old| {
            if let Some(p) = partitions.get_mut(&pid) {
                p.restore(key, old);
            }
        });
    }

    /// Rolls back pending transactions `from ..= to` (newest first), the running one when it
    /// is in the range, and remembers the range for transactions this node has not started.
    fn abort(&mut self, from: u64, to: u64) {
        if let Some(c) = self.current.as_mut() {
            if !c.aborted && c.id >= from && c.id <= to {
                c.aborted = true;
                Self::rollback(&mut self.partitions, std::mem::take(&mut c.undo));
            }
        }
        while self
            .pending
            .back()
            .is_some_and(|(id, _)| *id >= from && *id <= to)
        {
            if let Some((_, undo)) = self.pending.pop_back() {
                Self::rollback(&mut self.partitions, undo);
            }
        }
        self.aborted.push((from, to));
    }

    fn is_aborted(&mut self, id: u64) -> bool {
        self.aborted.retain(|(_, to)| *to >= id);
        self.aborted
            .iter()
            .any(|(from, to)| id >= *from && id <= *to)
    }

    /// Runs one message of a transaction: starts it (`first`), runs its requests in order
    /// (stopping at the first error), replies once, and ends it (`last`).
    fn tx_work(&mut self, w: TxWork) {
        if self.current.is_none() {
            if !w.first {
                // a continuation of a transaction this node has already ended: a bug in the
                // sender, answered as an error rather than run outside its order
                if let Some(reply) = w.reply {
                    reply(Err(BatchError {
                        index: 0,
                        error: Error::internal("internal: transaction is not running on this node"),
                        wrote: true,
                    }));
                }
                return;
            }
            let aborted = self.is_aborted(w.id);
            self.current = Some(Current {
                id: w.id,
                aborted,
                failed: false,
                undo: UndoLog::default(),
                held: 0,
            });
        }
        let Some(mut cur) = self.current.take() else {
            return;
        };
        // an aborted transaction, or one whose earlier request failed, runs nothing more
        let result = if cur.aborted || (cur.failed && !w.reqs.is_empty()) {
            Err(BatchError {
                index: 0,
                error: conflict(),
                wrote: true,
            })
        } else {
            let mut reply = BatchReply {
                outputs: Vec::with_capacity(w.reqs.len()),
                changes: ChangeLog::default(),
                wrote: false,
            };
            let mut failed = None;
            if !w.apply.is_empty() {
                if let Err(error) = apply_changes(&mut self.partitions, &w.apply, &mut cur.undo) {
                    failed = Some(BatchError {
                        index: 0,
                        error,
                        wrote: false,
                    });
                }
            }
            self.regs.clear();
            let reqs = if failed.is_some() { Vec::new() } else { w.reqs };
            for (index, req) in reqs.into_iter().enumerate() {
                // A panic (a bug) fails the request like an error: the transaction is then
                // aborted through its undo log and the node keeps serving.
                let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    self.execute(req, &mut cur.undo, &mut cur.held, &mut reply.changes)
                }));
                match run.unwrap_or_else(|_| {
                    PANICS.fetch_add(1, Ordering::Relaxed);
                    Err(panicked())
                }) {
                    Ok(out) => reply.outputs.push(out),
                    Err(error) => {
                        failed = Some(BatchError {
                            index,
                            error,
                            wrote: false,
                        });
                        break;
                    }
                }
            }
            let wrote = !cur.undo.is_empty();
            match failed {
                Some(mut e) => {
                    cur.failed = true;
                    e.wrote = wrote;
                    Err(e)
                }
                None => {
                    reply.wrote = wrote;
                    Ok(reply)
                }
            }
        };
        if let Some(reply) = w.reply {
            reply(result);
        }
        if w.last {
            if !cur.aborted {
                self.pending.push_back((cur.id, cur.undo));
            }
        } else {
            self.current = Some(cur);
        }
    }

    fn execute(
        &mut self,
        req: NodeRequest,
        undo: &mut UndoLog,
        held: &mut usize,
        changes: &mut ChangeLog,
    ) -> Result<NodeOutput> {
        let Some(partition) = self.partitions.get_mut(&req.partition) else {
            return Err(Error::internal("partition not found"));
        };
        let ctx = NodeCtx {
            partition,
            undo,
            changes,
            logged: req.logged,
            sets: &req.sets,
            env: amelie_vm::Env {
                params: &req.params,
                now: req.now,
            },
            gov: Some(&req.gov),
            held,
            first: req.first,
            regs: &mut self.regs,
        };
        let input = match &req.generate {
            Some((g, slots)) => amelie_vm::InsertRows::Generate(g, *slots),
            None => amelie_vm::InsertRows::Encoded(&req.rows),
        };
        run_node(&req.program, req.stmt, req.entry, input, ctx)
    }
}

/// Applies replicated row changes (`TxWork::apply`) to their partitions, logging every
/// change in `undo` so that an abort rolls them back like the node code's own. A change of a
/// partition this node does not hold is an error.
fn apply_changes(
    partitions: &mut FastMap<u64, Partition>,
    changes: &[u8],
    undo: &mut UndoLog,
) -> Result<()> {
    for c in ChangeReader::new(changes) {
        let c = c?;
        let id = c.partition();
        let Some(p) = partitions.get_mut(&id) else {
            return Err(Error::internal(format!(
                "replication: partition {id} not found"
            )));
        };
        match c {
            amelie_vm::ChangeRef::Put { row, .. } => {
                let (row, _) = Row::from_encoded(row)?;
                let mut key = Vec::new();
                p.row_key(&row, &mut key);
                p.put(&key, row, Some(undo));
            }
            amelie_vm::ChangeRef::Remove { key, .. } => {
                p.remove(key, Some(undo));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread::ThreadId;

    /// A node thread with one tree partition, id 1.
    fn node() -> NodeHandle {
        node_with(Arc::new(AtomicU64::new(0)))
    }

    /// [`node`] reporting its commits to `committed`.
    pub(super) fn node_with(committed: Arc<AtomicU64>) -> NodeHandle {
        let node = NodeHandle::start_with("00000000-0000-0000-0000-000000000001".into(), committed);
        node.call(|done| NodeMsg::CreatePartition {
            id: 1,
            table_id: 1,
            kind: IndexKind::Tree,
            keys: vec![0],
            done,
        })
        .unwrap();
        node
    }

    /// A request on partition 1 whose entry is past the node code: running it panics.
    fn failing_request() -> NodeRequest {
        NodeRequest {
            program: Arc::new(amelie_vm::Program::default()),
            stmt: 0,
            entry: 7,
            partition: 1,
            logged: true,
            rows: Vec::new(),
            generate: None,
            sets: Vec::new(),
            params: Arc::from(Vec::new()),
            now: 0,
            gov: Arc::default(),
            first: true,
            light: false,
        }
    }

    /// A request whose program panics on the node (its entry is past the node code) fails
    /// its transaction with an error; the node keeps answering.
    #[test]
    fn a_panicking_request_fails_and_the_node_stays_up() {
        let node = node();
        for id in 1..=2 {
            let before = panics();
            let (tx, rx) = crossbeam_channel::bounded(1);
            node.send(NodeMsg::Tx(TxWork {
                id,
                first: true,
                last: true,
                reqs: vec![failing_request()],
                apply: Vec::new(),
                reply: Some(Box::new(move |r| {
                    let _ = tx.send(r.map(|_| ()).map_err(|e| e.error.msg().to_string()));
                })),
            }))
            .unwrap();
            let answer = rx.recv().unwrap();
            assert_eq!(answer, Err(panicked().msg().to_string()));
            assert!(panics() > before, "the panic is counted");
            node.send(NodeMsg::Abort { from: id, to: id }).unwrap();
        }
        assert_eq!(node.call(|done| NodeMsg::Count { id: 1, done }).unwrap(), 0);
    }

    /// A transaction with one heavy request ([`failing_request`], `light: false`; that it
    /// fails is all this needs) or, without `heavy`, one without requests. Its reply logs the
    /// thread that ran it.
    fn work(id: u64, heavy: bool, log: crossbeam_channel::Sender<(u64, ThreadId)>) -> NodeMsg {
        NodeMsg::Tx(TxWork {
            id,
            first: true,
            last: true,
            reqs: if heavy {
                vec![failing_request()]
            } else {
                Vec::new()
            },
            apply: Vec::new(),
            reply: Some(Box::new(move |_| {
                let _ = log.send((id, std::thread::current().id()));
            })),
        })
    }

    /// Light work queued on a free node runs on the sender's thread before `run_or_wake`
    /// returns.
    #[test]
    fn light_work_runs_in_place() {
        let n = node();
        let (log, seen) = crossbeam_channel::unbounded();
        let me = std::thread::current().id();
        // (the node thread wakes every tick on its own: in the rare case that it took the
        // message first, try again)
        let in_place = (1..=5).any(|id| {
            n.send_quiet(work(id, false, log.clone())).unwrap();
            n.run_or_wake(true);
            matches!(seen.try_recv(), Ok((i, t)) if i == id && t == me)
        });
        assert!(
            in_place,
            "light work on a free node runs on the sender's thread"
        );
    }

    /// Heavy work at the head of the queue goes to the node thread, and the light work
    /// queued behind it runs after it, on the node thread too: the order stands.
    #[test]
    fn heavy_work_is_handed_to_the_node_thread_in_order() {
        let n = node();
        let (log, seen) = crossbeam_channel::unbounded();
        let me = std::thread::current().id();
        n.send_quiet(work(1, true, log.clone())).unwrap();
        n.send_quiet(work(2, false, log.clone())).unwrap();
        n.run_or_wake(true);
        let wait = std::time::Duration::from_secs(10);
        let first = seen.recv_timeout(wait).unwrap();
        let second = seen.recv_timeout(wait).unwrap();
        assert_eq!((first.0, second.0), (1, 2), "queue order");
        assert_ne!(first.1, me, "heavy work runs on the node thread");
        assert_ne!(
            second.1, me,
            "work behind heavy work waits for the node thread"
        );
        // once the node thread has drained the queue, light work runs in place again
        let again = (3..=7).any(|id| {
            n.send_quiet(work(id, false, log.clone())).unwrap();
            n.run_or_wake(true);
            matches!(seen.try_recv(), Ok((i, t)) if i == id && t == me)
        });
        assert!(again);
    }
}

#[cfg(test)]
mod start_tests {
    use super::*;

    #[test]
    fn any_uuid_names_a_thread() {
        // found by the wal fuzz target: uuids decoded from damaged files
        for uuid in ["node\0x", "abcdefgé-more", "", "\0\0\0"] {
            let n = NodeHandle::start_with(uuid.to_string(), Arc::new(AtomicU64::new(0)));
            drop(n);
        }
    }

    /// Replicated changes (`TxWork::apply`) run inside an ordered transaction with undo: an
    /// abort takes them back, a commit keeps them, and a change of an unknown partition
    /// fails the transaction.
    #[test]
    fn applied_changes_have_undo() {
        use amelie_common::Value;
        let committed = Arc::new(AtomicU64::new(0));
        let node = super::tests::node_with(committed.clone());
        let run = |id: u64, changes: &ChangeLog| {
            let (tx, rx) = crossbeam_channel::bounded(1);
            node.send(NodeMsg::Tx(TxWork {
                id,
                first: true,
                last: true,
                reqs: Vec::new(),
                apply: changes.as_bytes().to_vec(),
                reply: Some(Box::new(move |r| {
                    let _ = tx.send(r.map(|r| r.wrote).map_err(|e| e.error));
                })),
            }))
            .unwrap();
            rx.recv().unwrap()
        };
        let count = || node.call(|done| NodeMsg::Count { id: 1, done }).unwrap();
        let mut puts = ChangeLog::default();
        for i in 0..3 {
            puts.put(1, &Row::encode(&[Value::Int(i), Value::Int(i * 10)]));
        }
        assert!(run(1, &puts).unwrap());
        assert_eq!(count(), 3);
        node.send(NodeMsg::Abort { from: 1, to: 1 }).unwrap();
        assert_eq!(count(), 0, "an abort takes applied changes back");

        assert!(run(2, &puts).unwrap());
        committed.store(2, Ordering::Release);
        let mut remove = ChangeLog::default();
        let mut key = Vec::new();
        Row::encode(&[Value::Int(1), Value::Int(10)]).encode_key(&[0], &mut key);
        remove.remove(1, &key);
        assert!(run(3, &remove).unwrap());
        committed.store(3, Ordering::Release);
        node.send(NodeMsg::Abort { from: 2, to: 2 }).unwrap();
        assert_eq!(count(), 2, "committed changes stay");

        let mut other = ChangeLog::default();
        other.put(9, &Row::encode(&[Value::Int(1)]));
        let err = run(4, &other).unwrap_err();
        assert_eq!(err.kind(), amelie_common::ErrorKind::Internal);
        node.send(NodeMsg::Abort { from: 4, to: 4 }).unwrap();
        assert_eq!(count(), 2);
    }
}
