//! The transaction run loop: [`Executor::run_prepared`] binds a compiled program, routes it,
//! and drives its coordinator ([`Driver`]): node work goes out in rounds, the first of which
//! places the transaction in the global order ([`GroupCommit::begin`]); the outcome goes
//! through group commit, and the result rows are encoded for the reply.

use crate::cache::Prepared;
use crate::commit::{self, GroupCommit, Tx};
use crate::route::{self, Route};
use crate::{mailbox, Executor, SessionCtx};
use amelie_catalog::Catalog;
use amelie_common::format::{encode_rows_capped, Format};
use amelie_common::{Error, Governor, Result, Value};
use amelie_node::{BatchReply, NodeHandle, NodeRequest, Reply};
use amelie_vm::{ChangeLog, Coordinator, Dispatch, Env, NodeOutput, Program, Step};
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;

impl Executor {
    /// Runs a compiled request with the request's literals `lits` as one transaction (the
    /// caller holds the shared side of the control lock, `catalog` is the current snapshot).
    pub(crate) async fn run_prepared(
        &self,
        prepared: &Prepared,
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
                        return Err(Error::internal("dispatch without participants"))
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
                    .map_err(|_| Error::conflict("commit was interrupted"))??;
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
        if !encode_rows_capped(&info.columns, &rows, format, session.tz, cap, &mut out) {
            return Err(Error::limit_reached("reply limit reached"));
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
            .ok_or_else(|| Error::internal("node is not a participant of the transaction"))
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
                first: r == 0,
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
            out.push(commit::Work {
                reqs,
                apply: Vec::new(),
                reply,
            });
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
                    .ok_or_else(|| Error::internal("internal: node reply is missing an output"))?;
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
                return Err(Error::internal(
                    "internal: dispatch after the transaction ended",
                ));
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
                None => return Err(Error::internal("internal: no reply to wait for")),
            }
        }
    }
}
