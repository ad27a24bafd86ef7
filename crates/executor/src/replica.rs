//! Replica apply: [`Executor::apply_replicated`] applies the WAL records a primary sends, in
//! the primary's commit order, so that the replica's state is always a prefix of the
//! primary's and its own WAL holds the same records at the same LSNs. Called by the
//! replica side of the WAL streaming (`amelie-system`, `Am-Service: repl`); the primary
//! side reads the log through a [`WalSource`].
//!
//! A DDL record runs like DDL (the exclusive control lock, the catalog change checked, the
//! record written with its LSN, then [`Executor::apply_ddl`]). A record of row changes
//! runs like a transaction: placed in the global order on the nodes owning its partitions
//! ([`GroupCommit::begin`], the changes as `TxWork::apply`, applied with undo), then written
//! by group commit, which gives it the next LSN: the primary's, since the records arrive
//! without gaps and a subscribed replica writes nothing of its own.

use crate::commit::{GroupCommit, Record, Tx, Work};
use crate::recovery::{observe_serials, Owners};
use crate::wal_body::WalBody;
use crate::Executor;
use amelie_catalog::DdlOp;
use amelie_common::{Error, Result};
use amelie_node::{BatchError, BatchReply, NodeHandle};
use amelie_vm::{ChangeLog, ChangeReader};
use amelie_wal::WalRecord;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// What the primary side of the WAL streaming reads of the executor without holding it:
/// the committed LSN and the log's slots (cheap to clone; holds no executor).
#[derive(Clone)]
pub struct WalSource {
    lsn: Arc<crate::CommittedLsn>,
    wal: Arc<parking_lot::Mutex<amelie_wal::Wal>>,
}

impl WalSource {
    /// The LSN of the newest committed (written) record: a streamer sends up to here.
    pub fn lsn(&self) -> u64 {
        self.lsn.load(Ordering::Acquire)
    }

    /// A listener woken by every commit from now on (until it drops): a streamer sleeps on
    /// [`crate::CommitListener::wait_past`] instead of polling [`WalSource::lsn`].
    pub fn listen(&self) -> crate::CommitListener {
        self.lsn.listen()
    }

    /// A WAL slot keeping the records from `lsn` on: released when dropped, moved with
    /// [`amelie_wal::Slot::advance`].
    pub fn slot(&self, lsn: u64) -> amelie_wal::Slot {
        self.wal.lock().slots().create(lsn, None)
    }

    /// A WAL slot keeping every record the log still holds (from the first file's LSN on;
    /// made under the log's lock, so no removal runs between the look and the pin). A
    /// replica's slot starts here when the replica is defined or the server starts.
    pub fn slot_from_oldest(&self) -> amelie_wal::Slot {
        let wal = self.wal.lock();
        let from = wal
            .file_infos()
            .first()
            .map_or(wal.last_lsn() + 1, |f| f.first_lsn);
        wal.slots().create(from, None)
    }
}

impl Executor {
    /// The [`WalSource`] of this executor's log.
    pub fn wal_source(&self) -> WalSource {
        WalSource {
            lsn: self.lsn.clone(),
            wal: self.wal.clone(),
        }
    }
}

type ReplyWait = tokio::sync::oneshot::Receiver<std::result::Result<BatchReply, BatchError>>;

/// A record of row changes, split for the nodes that own its partitions.
struct Split {
    lsn: u64,
    /// The changes in the primary's order (the body group commit writes).
    all: ChangeLog,
    /// (node index, that node's changes), by node index.
    per_node: Vec<(usize, Vec<u8>)>,
}

/// The replicated transactions placed in the global order and not completed yet: dropped
/// mid-way (the caller went away), they are completed as failed, so the queue never stalls.
struct Inflight<'a> {
    commit: &'a GroupCommit,
    nodes: &'a [Arc<NodeHandle>],
    txs: VecDeque<Arc<Tx>>,
}

impl Drop for Inflight<'_> {
    fn drop(&mut self) {
        let mut lead = false;
        for tx in self.txs.drain(..) {
            tx.mark_wrote();
            let (_, l) = self
                .commit
                .complete(&tx, Err(Error::new("request cancelled")));
            lead |= l;
        }
        if lead {
            self.commit.lead(self.nodes);
        }
    }
}

/// `lsn` does not follow `prev` (the replica's LSN, or the record before it in the batch).
fn gap(prev: u64, lsn: u64) -> Error {
    Error::replication(format!(
        "replication: lsn gap, the record after lsn {prev} has lsn {lsn}"
    ))
}

impl Executor {
    /// Applies the records a primary sent (in LSN order) and returns the replica's LSN after
    /// them. Records at or below the current LSN were applied already (a resend after a
    /// reconnect) and are skipped. The rest must follow on without a gap (`current + 1`,
    /// `current + 2`, ...), or nothing of the batch is applied and the error is of kind
    /// `Replication`. Each record ends with the same LSN as on the primary; if it cannot
    /// (the replica wrote on its own meanwhile), that is an error. A record that fails to
    /// apply, or a call dropped mid-way, leaves the records before it applied: the replica
    /// is then at a prefix of the batch (its `lsn()` says where).
    pub async fn apply_replicated(&self, records: &[WalRecord]) -> Result<u64> {
        // one batch at a time: the LSN checks below hold until it is written
        let _one = self.replica_apply.lock().await;
        let current = self.lsn();
        let mut bodies = Vec::new();
        let fresh = records.iter().filter(|r| r.lsn > current);
        for (expect, r) in (current + 1..).zip(fresh) {
            if r.lsn != expect {
                return Err(gap(expect - 1, r.lsn));
            }
            bodies.push((r, WalBody::decode(&r.body)?));
        }
        let mut rest = bodies.into_iter().peekable();
        while let Some((r, body)) = rest.next() {
            match body {
                WalBody::Ddl(op) => self.apply_replicated_ddl(r, &op).await?,
                WalBody::Changes(first) => {
                    let mut run = vec![(r.lsn, first)];
                    while let Some((r, WalBody::Changes(_))) = rest.peek() {
                        let lsn = r.lsn;
                        if let Some((_, WalBody::Changes(c))) = rest.next() {
                            run.push((lsn, c));
                        }
                    }
                    self.apply_replicated_changes(run).await?;
                }
            }
        }
        Ok(self.lsn())
    }

    /// A replicated DDL record: as [`Executor::ddl`] runs it, with the primary's LSN and
    /// body.
    async fn apply_replicated_ddl(&self, r: &WalRecord, op: &DdlOp) -> Result<()> {
        let _exclusive = self.control.write().await;
        let current = self.lsn();
        if r.lsn != current + 1 {
            return Err(gap(current, r.lsn));
        }
        if let DdlOp::CreateTable(t) = op {
            t.check()?;
        }
        // refused before it is logged: the replica's WAL never holds what it cannot replay
        (*self.catalog()).clone().apply(op)?;
        self.wal
            .lock()
            .write_batch(&[(r.lsn, r.count, &r.body)])
            .map_err(Error::from)?;
        self.lsn.store(r.lsn, Ordering::Release);
        tracing::debug!(lsn = r.lsn, op = ?op, "replicated ddl");
        self.apply_ddl(op)
    }

    /// Splits the changes of one record for the nodes owning their partitions (advancing
    /// the SERIAL counters past the values it puts, as recovery does).
    fn split_changes(&self, lsn: u64, changes: &[u8], owners: &Owners) -> Result<Split> {
        let nodes = self.nodes().len();
        let mut per_node: Vec<ChangeLog> = (0..nodes).map(|_| ChangeLog::default()).collect();
        let mut all = ChangeLog::default();
        for c in ChangeReader::new(changes) {
            let c = c?;
            let Some((node, serial)) = owners.get(&c.partition()) else {
                return Err(Error::replication(format!(
                    "replication: lsn {lsn}: partition {} does not exist on the replica",
                    c.partition()
                )));
            };
            observe_serials(serial.as_deref(), c)?;
            if let Some(log) = per_node.get_mut(*node) {
                log.push(c);
            }
            all.push(c);
        }
        let per_node = per_node
            .into_iter()
            .enumerate()
            .filter(|(_, log)| !log.is_empty())
            .map(|(n, log)| (n, log.into_bytes()))
            .collect();
        Ok(Split { lsn, all, per_node })
    }

    /// A run of replicated row-change records: every record becomes one transaction in the
    /// global order (all of them queued before any is waited for), and group commit writes
    /// them in that order.
    async fn apply_replicated_changes(&self, run: Vec<(u64, Vec<u8>)>) -> Result<()> {
        let _shared = self.control.read().await;
        let nodes = self.nodes();
        let owners = self.partition_owners()?;
        let splits = run
            .iter()
            .map(|(lsn, c)| self.split_changes(*lsn, c, &owners))
            .collect::<Result<Vec<_>>>()?;
        let mut inflight = Inflight {
            commit: &self.commit,
            nodes: &nodes,
            txs: VecDeque::new(),
        };
        let mut queued = Vec::with_capacity(splits.len());
        for split in splits {
            let mut participants = Vec::with_capacity(split.per_node.len());
            let mut works = Vec::with_capacity(split.per_node.len());
            let mut waits: Vec<ReplyWait> = Vec::with_capacity(split.per_node.len());
            for (n, apply) in split.per_node {
                let (s, w) = tokio::sync::oneshot::channel();
                participants.push(n);
                works.push(Work {
                    reqs: Vec::new(),
                    apply,
                    reply: Some(Box::new(move |r| {
                        let _ = s.send(r);
                    })),
                });
                waits.push(w);
            }
            let (tx, sent) = self.commit.begin(&nodes, participants, works, true);
            // it writes on every participant: a failure must also abort the transactions
            // queued behind it (one `Abort` for the range, rolled back newest first)
            tx.mark_wrote();
            inflight.txs.push_back(tx);
            queued.push((split.lsn, split.all, waits, sent));
        }
        for tx in &inflight.txs {
            tx.wake(&nodes);
        }
        let mut answers = Vec::with_capacity(queued.len());
        for (lsn, all, waits, sent) in queued {
            let Some(tx) = inflight.txs.front().cloned() else {
                break;
            };
            let mut outcome = sent;
            for w in waits {
                let reply = w.await;
                let failed = match reply {
                    Ok(Ok(_)) => None,
                    Ok(Err(e)) => Some(e.error),
                    Err(_) => Some(Error::internal("internal: node reply is missing")),
                };
                if let (Some(e), Ok(())) = (failed, &outcome) {
                    outcome = Err(e);
                }
            }
            inflight.txs.pop_front();
            let (wait, lead) = self
                .commit
                .complete(&tx, outcome.map(|()| Record { changes: all }));
            if lead {
                self.commit.lead(&nodes);
            }
            answers.push((lsn, wait));
        }
        drop(inflight);
        for (lsn, wait) in answers {
            let got = wait
                .await
                .map_err(|_| Error::internal("internal: commit answer is missing"))??;
            if got != lsn {
                return Err(Error::internal(format!(
                    "replication: the record of lsn {lsn} was written at lsn {got} (the replica wrote on its own)"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
