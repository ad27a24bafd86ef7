//! The executor's part of `GET /metrics` (Prometheus text format): transactions, commits,
//! aborts, group-commit batch sizes, WAL writes, bytes and fsyncs, node queue depths, the
//! program cache. Everything is read when scraped: the counters behind it are relaxed
//! atomics the hot path updates once per batch, or state read under a short lock.

use crate::Executor;
use amelie_common::metrics::{header, sample, single};
use std::sync::atomic::Ordering;

impl Executor {
    /// Appends the executor's metrics to `out`.
    pub fn render_metrics(&self, out: &mut String) {
        let c = &self.commit.metrics;
        single(
            out,
            "amelie_transactions_total",
            "Transactions placed in the global order.",
            "counter",
            self.commit.begun(),
        );
        single(
            out,
            "amelie_commits_total",
            "Transactions committed.",
            "counter",
            c.commits.load(Ordering::Relaxed),
        );
        single(
            out,
            "amelie_aborts_total",
            "Transactions aborted (failed, or aborted behind a failed one).",
            "counter",
            c.aborts.load(Ordering::Relaxed),
        );
        c.batch.render(
            out,
            "amelie_group_commit_transactions",
            "Transactions per group commit.",
        );
        let (stats, slots) = {
            let wal = self.wal.lock();
            (wal.stats(), wal.slots().count())
        };
        single(
            out,
            "amelie_wal_writes_total",
            "WAL group writes.",
            "counter",
            stats.writes,
        );
        single(
            out,
            "amelie_wal_records_total",
            "WAL records written.",
            "counter",
            stats.records,
        );
        single(
            out,
            "amelie_wal_bytes_total",
            "WAL bytes written (record framing included).",
            "counter",
            stats.bytes,
        );
        single(
            out,
            "amelie_wal_fsyncs_total",
            "fsyncs of WAL files.",
            "counter",
            stats.syncs,
        );
        single(
            out,
            "amelie_wal_slots",
            "WAL slots held (running backups, connected replicas).",
            "gauge",
            slots as u64,
        );
        single(
            out,
            "amelie_lsn",
            "Last committed LSN.",
            "gauge",
            self.lsn(),
        );
        single(
            out,
            "amelie_checkpoint_lsn",
            "LSN of the newest checkpoint.",
            "gauge",
            self.checkpoint.load(Ordering::Acquire),
        );
        let name = "amelie_node_queue_depth";
        header(
            out,
            name,
            "Messages waiting in a compute node's queue.",
            "gauge",
        );
        for n in self.nodes().iter() {
            sample(out, name, &[("node", &n.uuid)], n.queue_len() as u64);
        }
        let (hits, misses) = self.cache_stats();
        single(
            out,
            "amelie_program_cache_hits_total",
            "Requests served from the program cache.",
            "counter",
            hits,
        );
        single(
            out,
            "amelie_program_cache_misses_total",
            "Requests parsed and compiled.",
            "counter",
            misses,
        );
    }
}
