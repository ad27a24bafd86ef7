//! Global order, group commit and group abort.
//!
//! `begin` assigns a transaction its place in the global order and enqueues it on every
//! participating node inside one critical section. When a transaction finishes it records its
//! outcome; the oldest finished transaction becomes the leader: it writes the WAL records of all
//! consecutive finished transactions in one write, tells the nodes to drop their undo logs and
//! wakes the sessions. If the oldest one failed, the leader aborts it and every transaction
//! still in flight behind it (the others get `transaction conflict, abort`).

use crate::wal_body::WalBody;
use amelie_common::{Error, Result};
use amelie_node::{NodeHandle, NodeMsg, NodeRequest, Reply, TxWork};
use amelie_vm::ChangeLog;
use amelie_wal::Wal;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::oneshot;

/// Where a finished transaction's answer arrives: its commit LSN or its error.
pub type Waiter = oneshot::Receiver<Result<u64>>;

pub fn conflict() -> Error {
    Error::conflict("transaction conflict, abort")
}

/// The WAL record of a finished transaction: the changes its nodes encoded, written as
/// they are behind a one-byte tag (see `wal_body.rs`). Empty: it changed nothing.
#[derive(Default)]
pub struct Record {
    pub changes: ChangeLog,
}

impl Record {
    /// Number of row changes.
    pub fn count(&self) -> u32 {
        self.changes.count()
    }

    /// Size of the record body in bytes.
    pub fn size(&self) -> usize {
        1 + self.changes.as_bytes().len()
    }
}

#[derive(Default)]
struct Slot {
    outcome: Option<Result<Record>>,
    waiter: Option<oneshot::Sender<Result<u64>>>,
}

/// Node work of one transaction for one participant: its requests and where the answer goes
/// (None when there are no requests).
pub struct Work {
    pub reqs: Vec<NodeRequest>,
    /// Replicated row changes applied before `reqs` (`TxWork::apply`; empty otherwise).
    pub apply: Vec<u8>,
    pub reply: Option<Reply>,
}

/// One transaction in flight.
pub struct Tx {
    pub id: u64,
    /// Node indices of every participating node (sorted).
    participants: Vec<usize>,
    aborted: AtomicBool,
    ended: AtomicBool,
    /// A node reported a change made by this transaction, or nothing is known (a node did
    /// not answer, the request was dropped): a failure must then abort the transactions
    /// behind it too, since they may have read the change.
    wrote: AtomicBool,
    slot: Mutex<Slot>,
}

impl Tx {
    /// See [`Tx::wrote`](Tx#structfield.wrote).
    pub fn mark_wrote(&self) {
        self.wrote.store(true, Ordering::Release);
    }

    fn has_written(&self) -> bool {
        self.wrote.load(Ordering::Acquire)
    }

    pub fn participants(&self) -> &[usize] {
        &self.participants
    }

    /// Sends more work to the participants (`works[i]` goes to `participants[i]`; empty work
    /// is not sent unless `last`). With `last` every participant learns that the transaction
    /// sends nothing more. `light[i]`: the work may run in place on this thread
    /// ([`NodeHandle::run_or_wake`]; missing entries: no).
    pub fn send(
        &self,
        nodes: &[Arc<NodeHandle>],
        works: Vec<Work>,
        last: bool,
        light: &[bool],
    ) -> Result<()> {
        if self.ended.load(Ordering::Acquire) {
            return Err(Error::internal("internal: transaction has already ended"));
        }
        if last {
            self.ended.store(true, Ordering::Release);
        }
        let mut first_err = None;
        for (i, (&n, w)) in self.participants.iter().zip(works).enumerate() {
            if w.reqs.is_empty() && !last {
                continue;
            }
            let msg = NodeMsg::Tx(TxWork {
                id: self.id,
                first: false,
                last,
                reqs: w.reqs,
                apply: w.apply,
                reply: w.reply,
            });
            match nodes[n].send_quiet(msg) {
                Ok(()) => nodes[n].run_or_wake(light.get(i).copied().unwrap_or(false)),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Tells every participant that this transaction sends nothing more (idempotent).
    pub fn end(&self, nodes: &[Arc<NodeHandle>]) {
        if !self.ended.load(Ordering::Acquire) {
            let works = self
                .participants
                .iter()
                .map(|_| Work {
                    reqs: Vec::new(),
                    apply: Vec::new(),
                    reply: None,
                })
                .collect();
            let _ = self.send(nodes, works, true, &[]);
        }
    }

    /// Wakes every participating node (see [`GroupCommit::begin`]).
    pub fn wake(&self, nodes: &[Arc<NodeHandle>]) {
        self.run_or_wake(nodes, &[]);
    }

    /// Has the work queued by [`GroupCommit::begin`] run: in place on this thread where
    /// `light[i]` says the work for `participants[i]` is short and the node is free, by the
    /// node thread otherwise ([`NodeHandle::run_or_wake`]).
    pub fn run_or_wake(&self, nodes: &[Arc<NodeHandle>], light: &[bool]) {
        for (i, &n) in self.participants.iter().enumerate() {
            nodes[n].run_or_wake(light.get(i).copied().unwrap_or(false));
        }
    }

    pub fn has_ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    pub fn is_aborted(&self) -> bool {
        self.aborted.load(Ordering::Acquire)
    }
}

struct State {
    next_id: u64,
    inflight: VecDeque<Arc<Tx>>,
    leader: bool,
}

pub struct GroupCommit {
    state: Mutex<State>,
    wal: Arc<Mutex<Wal>>,
    lsn: Arc<crate::CommittedLsn>,
    /// Id of the newest committed transaction, read by the nodes (see
    /// `NodeHandle::start_with`).
    pub committed: Arc<AtomicU64>,
    /// Counters of `GET /metrics`, updated once per group write or abort.
    pub metrics: CommitMetrics,
}

/// Commit counters (for `GET /metrics`): relaxed atomics touched by the group-commit leader
/// once per batch, never per statement.
#[derive(Debug)]
pub struct CommitMetrics {
    /// Transactions answered with success.
    pub commits: AtomicU64,
    /// Transactions aborted (failed, or in a group abort behind a failed one).
    pub aborts: AtomicU64,
    /// Transactions per group write.
    pub batch: amelie_common::metrics::Histogram,
}

impl Default for CommitMetrics {
    fn default() -> Self {
        CommitMetrics {
            commits: AtomicU64::new(0),
            aborts: AtomicU64::new(0),
            batch: amelie_common::metrics::Histogram::new(amelie_common::metrics::SIZE_BOUNDS, 1.0),
        }
    }
}

impl GroupCommit {
    pub fn new(wal: Arc<Mutex<Wal>>, lsn: Arc<crate::CommittedLsn>) -> GroupCommit {
        GroupCommit {
            state: Mutex::new(State {
                next_id: 1,
                inflight: VecDeque::new(),
                leader: false,
            }),
            wal,
            lsn,
            committed: Arc::new(AtomicU64::new(0)),
            metrics: CommitMetrics::default(),
        }
    }

    /// Transactions placed in the global order so far.
    pub fn begun(&self) -> u64 {
        self.state.lock().next_id - 1
    }

    /// Places a transaction in the global order and enqueues its first work on every
    /// participant (`works[i]` for `participants[i]`, possibly empty) inside one short
    /// critical section. The nodes are not woken: the caller does it ([`Tx::wake`]), after
    /// letting other ready requests enqueue theirs, so one wake-up serves several. With `last` the work is the whole
    /// transaction. A node that cannot be reached makes the result an error, but the
    /// transaction is in the order either way: the caller completes it.
    pub fn begin(
        &self,
        nodes: &[Arc<NodeHandle>],
        participants: Vec<usize>,
        works: Vec<Work>,
        last: bool,
    ) -> (Arc<Tx>, Result<()>) {
        let mut first_err = None;
        let mut st = self.state.lock();
        let id = st.next_id;
        st.next_id += 1;
        for (&n, w) in participants.iter().zip(works) {
            let msg = NodeMsg::Tx(TxWork {
                id,
                first: true,
                last,
                reqs: w.reqs,
                apply: w.apply,
                reply: w.reply,
            });
            if let Err(e) = nodes[n].send_quiet(msg) {
                first_err.get_or_insert(e);
            }
        }
        let tx = Arc::new(Tx {
            id,
            participants,
            aborted: AtomicBool::new(false),
            ended: AtomicBool::new(last),
            wrote: AtomicBool::new(false),
            slot: Mutex::new(Slot::default()),
        });
        st.inflight.push_back(tx.clone());
        drop(st);
        let res = match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        };
        (tx, res)
    }

    /// Records the outcome of a finished transaction (its `end()` must have been called) and
    /// returns where its final answer (the commit LSN, or an error) will arrive. With `true`
    /// the caller has become the group-commit leader and must call [`GroupCommit::lead`]
    /// (after letting other finished transactions record theirs, so that one WAL write
    /// serves them all).
    pub fn complete(&self, tx: &Arc<Tx>, outcome: Result<Record>) -> (Waiter, bool) {
        let (s, r) = oneshot::channel();
        let mut st = self.state.lock();
        if tx.is_aborted() {
            let _ = s.send(Err(conflict()));
            return (r, false);
        }
        {
            let mut slot = tx.slot.lock();
            slot.outcome = Some(outcome);
            slot.waiter = Some(s);
        }
        if st.leader {
            return (r, false);
        }
        st.leader = true;
        (r, true)
    }

    /// The leader's work (see [`GroupCommit::complete`]): while the oldest transaction in
    /// flight has finished, write the longest run of finished transactions in one WAL write
    /// and answer them, or group-abort a failed one and everything behind it.
    pub fn lead(&self, nodes: &[Arc<NodeHandle>]) {
        let mut st = self.state.lock();
        debug_assert!(st.leader);
        loop {
            let Some(head) = st.inflight.front().cloned() else {
                break;
            };
            let head_failed = {
                let slot = head.slot.lock();
                match &slot.outcome {
                    None => break,
                    Some(o) => o.is_err(),
                }
            };
            if head_failed {
                // a failed transaction that changed nothing cannot have been read by the
                // ones behind it: it fails alone
                let all: Vec<Arc<Tx>> = if head.has_written() {
                    st.inflight.drain(..).collect()
                } else {
                    st.inflight.pop_front().into_iter().collect()
                };
                if all.len() > 1 {
                    tracing::debug!(transactions = all.len(), "group abort");
                }
                self.abort(nodes, &all, None);
                continue;
            }
            let mut batch = Vec::new();
            while let Some(tx) = st.inflight.front() {
                let ok = matches!(tx.slot.lock().outcome, Some(Ok(_)));
                if !ok {
                    break;
                }
                batch.push(st.inflight.pop_front().expect("front exists"));
            }
            drop(st);
            let written = self.write(&batch);
            st = self.state.lock();
            match written {
                Ok(lsns) => {
                    self.metrics
                        .commits
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    self.metrics.batch.observe(batch.len() as u64);
                    let upto = batch.last().map(|t| t.id).unwrap_or(0);
                    self.committed.store(upto, Ordering::Release);
                    for (tx, lsn) in batch.iter().zip(lsns) {
                        if let Some(w) = tx.slot.lock().waiter.take() {
                            let _ = w.send(Ok(lsn));
                        }
                    }
                }
                Err(e) => {
                    // nothing of the batch is durable: abort it and everything behind it
                    let mut all = batch;
                    all.extend(st.inflight.drain(..));
                    tracing::error!(
                        transactions = all.len(),
                        error = e.msg(),
                        "group commit: wal write failed, transactions aborted"
                    );
                    self.abort(nodes, &all, Some(e));
                }
            }
        }
        st.leader = false;
    }

    /// Group abort of `txs` (in order): roll back on every node, answer the first one with its
    /// own error (or `first_err`) and the rest with a conflict.
    fn abort(&self, nodes: &[Arc<NodeHandle>], txs: &[Arc<Tx>], first_err: Option<Error>) {
        let (Some(first), Some(last)) = (txs.first(), txs.last()) else {
            return;
        };
        self.metrics
            .aborts
            .fetch_add(txs.len() as u64, Ordering::Relaxed);
        for tx in txs {
            tx.aborted.store(true, Ordering::Release);
        }
        for n in nodes {
            let _ = n.send(NodeMsg::Abort {
                from: first.id,
                to: last.id,
            });
        }
        for (i, tx) in txs.iter().enumerate() {
            let mut slot = tx.slot.lock();
            if let Some(w) = slot.waiter.take() {
                let err = match (i, slot.outcome.take(), &first_err) {
                    (0, _, Some(e)) => e.clone(),
                    (0, Some(Err(e)), None) => e,
                    _ => conflict(),
                };
                let _ = w.send(Err(err));
            }
        }
    }

    /// Writes one WAL record per transaction that changed something, in one write.
    /// Returns each transaction's LSN (the current LSN for read-only ones).
    fn write(&self, batch: &[Arc<Tx>]) -> Result<Vec<u64>> {
        let mut lsns = Vec::with_capacity(batch.len());
        let mut lsn = self.lsn.load(Ordering::Acquire);
        let slots: Vec<_> = batch.iter().map(|tx| tx.slot.lock()).collect();
        let tag: &[u8] = &[WalBody::CHANGES_TAG];
        let mut bodies: Vec<(u64, u32, [&[u8]; 2])> = Vec::with_capacity(batch.len());
        for slot in &slots {
            if let Some(Ok(r)) = &slot.outcome {
                if r.count() > 0 {
                    lsn += 1;
                    bodies.push((lsn, r.count(), [tag, r.changes.as_bytes()]));
                }
            }
            lsns.push(lsn);
        }
        if !bodies.is_empty() {
            let records: Vec<(u64, u32, &[&[u8]])> =
                bodies.iter().map(|(l, c, p)| (*l, *c, &p[..])).collect();
            self.wal
                .lock()
                .write_batch_parts(&records)
                .map_err(Error::from)?;
            self.lsn.store(lsn, Ordering::Release);
        }
        Ok(lsns)
    }
}
