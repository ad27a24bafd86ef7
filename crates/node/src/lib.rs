//! A compute node: one OS thread that exclusively owns one partition of every distributed
//! table (and the shared tables placed on it), fed by a crossbeam channel.
//!
//! Transactions arrive as `Begin` messages in the global order; the node runs each one to its
//! `End` before starting the next, applying changes in place with an undo log. Undo logs are
//! kept until the executor commits (`Commit`) or group-aborts (`Abort`) the transaction.

pub mod snapshot;

use amelie_common::{Error, IndexKind, Result};
use amelie_storage::{Partition, Row, UndoLog};
use amelie_vm::node_exec::replay_change;
use amelie_vm::{run_node, Change, NodeCtx, NodeOutput, Program};
use crossbeam_channel::{select, unbounded, Receiver, Sender};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Reply callback of a request: output rows and the WAL changes it made.
pub type Reply = Box<dyn FnOnce(Result<(NodeOutput, Vec<Change>)>) + Send>;

/// One piece of node work of a transaction.
pub struct NodeRequest {
    pub program: Arc<Program>,
    pub stmt: usize,
    pub entry: usize,
    pub partition: u64,
    pub logged: bool,
    /// Rows of an INSERT routed to this partition.
    pub rows: Vec<Row>,
    /// Coordinator row sets the node code reads (shared by every node of the dispatch).
    pub sets: amelie_vm::Shipped,
    pub reply: Reply,
}

pub enum TxMsg {
    Run(NodeRequest),
    /// The transaction sends nothing more to this node.
    End,
}

pub enum NodeMsg {
    /// A transaction, in the global order. Its requests arrive on `rx`.
    Begin {
        id: u64,
        rx: Receiver<TxMsg>,
    },
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
    /// Apply recovered changes (no undo, no WAL).
    Replay {
        changes: Vec<Change>,
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
    CreateSecondary {
        id: u64,
        cols: Vec<usize>,
        done: Sender<()>,
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
    pub tx: Sender<NodeMsg>,
    thread: Option<JoinHandle<()>>,
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
        let name = format!("node-{}", &uuid[..uuid.len().min(8)]);
        let thread = std::thread::Builder::new()
            .name(name)
            .spawn(move || Node::new(rx, committed).run())
            .expect("spawn node thread");
        NodeHandle {
            uuid,
            tx,
            thread: Some(thread),
        }
    }

    /// Sends a message; a stopped node is a bug in the caller, reported as an error.
    pub fn send(&self, msg: NodeMsg) -> Result<()> {
        self.tx
            .send(msg)
            .map_err(|_| Error::new("compute node is not running"))
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
        let _ = self.tx.send(NodeMsg::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn conflict() -> Error {
    Error::new("transaction conflict, abort")
}

struct Node {
    rx: Receiver<NodeMsg>,
    committed: Arc<AtomicU64>,
    partitions: HashMap<u64, Partition>,
    /// Finished, not yet committed transactions with their undo logs, in order.
    pending: VecDeque<(u64, UndoLog)>,
    /// Aborted transaction ranges not yet seen by this node.
    aborted: Vec<(u64, u64)>,
    backlog: VecDeque<NodeMsg>,
}

impl Node {
    fn new(rx: Receiver<NodeMsg>, committed: Arc<AtomicU64>) -> Node {
        Node {
            rx,
            committed,
            partitions: HashMap::new(),
            pending: VecDeque::new(),
            aborted: Vec::new(),
            backlog: VecDeque::new(),
        }
    }

    fn run(mut self) {
        loop {
            self.apply_committed();
            let msg = match self.backlog.pop_front() {
                Some(m) => m,
                None => match self.rx.recv() {
                    Ok(m) => m,
                    Err(_) => return,
                },
            };
            match msg {
                NodeMsg::Begin { id, rx } => self.run_tx(id, rx),
                NodeMsg::Commit { upto } => self.commit(upto),
                NodeMsg::Abort { from, to } => self.abort(from, to),
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
                            let mut v = std::mem::take(row).into_vec();
                            if let Some(i) = drop {
                                if i < v.len() {
                                    v.remove(i);
                                }
                            }
                            if let Some(a) = &add {
                                v.push(a.clone());
                            }
                            *row = v.into_boxed_slice();
                        });
                        if let Some(i) = drop {
                            p.shift_secondary(i);
                        }
                    }
                    let _ = done.send(());
                }
                NodeMsg::CreateSecondary { id, cols, done } => {
                    if let Some(p) = self.partitions.get_mut(&id) {
                        p.create_secondary(&cols);
                    }
                    let _ = done.send(());
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
                    for c in changes {
                        let pid = match &c {
                            Change::Put { partition, .. } | Change::Remove { partition, .. } => {
                                *partition
                            }
                        };
                        if let Some(p) = self.partitions.get_mut(&pid) {
                            replay_change(p, c);
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
                        None => Err(Error::new(format!("snapshot: partition {id} not found"))),
                    };
                    let _ = done.send(res);
                }
                NodeMsg::Shutdown => return,
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

    fn rollback(&mut self, undo: UndoLog) {
        let parts = &mut self.partitions;
        undo.rollback(|pid, key, old| {
            if let Some(p) = parts.get_mut(&pid) {
                p.restore(key, old);
            }
        });
    }

    /// Rolls back pending transactions `from ..= to` (newest first) and remembers the range
    /// for transactions this node has not started yet.
    fn abort(&mut self, from: u64, to: u64) {
        while self
            .pending
            .back()
            .is_some_and(|(id, _)| *id >= from && *id <= to)
        {
            if let Some((_, undo)) = self.pending.pop_back() {
                self.rollback(undo);
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

    fn execute(&mut self, req: NodeRequest, undo: &mut UndoLog) {
        let Some(partition) = self.partitions.get_mut(&req.partition) else {
            (req.reply)(Err(Error::new("partition not found")));
            return;
        };
        let mut changes = Vec::new();
        let ctx = NodeCtx {
            partition,
            undo,
            changes: &mut changes,
            logged: req.logged,
            sets: &req.sets,
        };
        let out = run_node(&req.program, req.stmt, req.entry, req.rows, ctx);
        (req.reply)(out.map(|o| (o, changes)));
    }

    fn run_tx(&mut self, id: u64, rx: Receiver<TxMsg>) {
        let mut aborted = self.is_aborted(id);
        let mut undo = UndoLog::default();
        loop {
            select! {
                recv(rx) -> msg => match msg {
                    Ok(TxMsg::Run(req)) => {
                        if aborted {
                            (req.reply)(Err(conflict()));
                        } else {
                            self.execute(req, &mut undo);
                        }
                    }
                    Ok(TxMsg::End) | Err(_) => break,
                },
                recv(self.rx) -> msg => match msg {
                    Ok(NodeMsg::Abort { from, to }) => {
                        if !aborted && id >= from && id <= to {
                            aborted = true;
                            self.rollback(std::mem::take(&mut undo));
                        }
                        self.abort(from, to);
                    }
                    Ok(NodeMsg::Commit { upto }) => self.commit(upto),
                    Ok(other) => self.backlog.push_back(other),
                    Err(_) => break,
                },
            }
        }
        if !aborted {
            self.pending.push_back((id, undo));
        }
    }
}
