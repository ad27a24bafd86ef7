//! A load run: the client threads (one [`Worker`] each) opened and started together, the
//! phase the caller moves, and the merged statistics when it stops.

use crate::driver::{Shared, ThreadStats, Worker, MEASURE, STOP};
use crate::net::Connector;
use crate::requests::Generator;
use crate::Workload;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Barrier};
use std::thread::{self, JoinHandle};

/// What to send, and from how many threads and connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOptions {
    pub workload: Workload,
    /// Client threads, each an event loop over its share of the connections.
    pub threads: usize,
    /// Connections in all, spread over the threads as evenly as they go.
    pub clients: usize,
    /// TPC-B branches (or scan rows in millions).
    pub scale: usize,
    /// Rows per request of the batch workloads.
    pub batch: usize,
    /// Seeds the keys each thread draws (each thread gets its own stream).
    pub seed: u64,
}

impl LoadOptions {
    /// The connections of thread `t`.
    pub fn connections_of(&self, t: usize) -> usize {
        self.clients / self.threads + usize::from(t < self.clients % self.threads)
    }
}

/// Client threads at work. Counters move as replies arrive; [`Load::stop`] ends the run.
pub struct Load {
    shared: Arc<Shared>,
    handles: Vec<JoinHandle<ThreadStats>>,
}

impl Load {
    /// Opens every connection first (an error names the thread and the cause), then starts
    /// all threads at once. The phase is warm-up until [`Load::measure`].
    pub fn start(connector: &Connector, opts: &LoadOptions) -> Result<Load, String> {
        if opts.workload == Workload::Memory {
            return Err("the memory workload sends no load".to_string());
        }
        let threads = opts.threads.max(1).min(opts.clients.max(1));
        let opts = LoadOptions {
            threads,
            clients: opts.clients.max(1),
            ..opts.clone()
        };
        let shared = Arc::new(Shared::default());
        let mut workers = Vec::with_capacity(threads);
        for t in 0..threads {
            let generator = Generator::new(
                opts.workload,
                opts.scale,
                opts.batch,
                opts.seed ^ ((t as u64 + 1) << 48),
            );
            workers.push(
                Worker::connect(connector, opts.connections_of(t), generator, shared.clone())
                    .map_err(|e| format!("client thread {t}: {e}"))?,
            );
        }
        let barrier = Arc::new(Barrier::new(threads + 1));
        let mut handles = Vec::with_capacity(threads);
        for (t, w) in workers.into_iter().enumerate() {
            let b = barrier.clone();
            let h = thread::Builder::new()
                .name(format!("bench-client-{t}"))
                .spawn(move || w.run(&b))
                .map_err(|e| format!("cannot start client thread {t}: {e}"))?;
            handles.push(h);
        }
        barrier.wait();
        Ok(Load { shared, handles })
    }

    /// Committed requests so far.
    pub fn ok(&self) -> u64 {
        self.shared.ok.load(Ordering::Relaxed)
    }

    /// Failed requests so far (error replies and I/O errors).
    pub fn failed(&self) -> u64 {
        self.shared.failed.load(Ordering::Relaxed)
    }

    /// From now on the threads record latencies.
    pub fn measure(&self) {
        self.shared.phase.store(MEASURE, Ordering::Relaxed);
    }

    /// No new requests: waits for the replies in flight and merges the threads' statistics.
    pub fn stop(self) -> ThreadStats {
        self.shared.phase.store(STOP, Ordering::Relaxed);
        let mut stats = ThreadStats::default();
        for h in self.handles {
            match h.join() {
                Ok(s) => stats.merge(s),
                Err(_) => {
                    *stats
                        .errors
                        .entry("a client thread panicked".to_string())
                        .or_default() += 1
                }
            }
        }
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_spread() {
        let o = LoadOptions {
            workload: Workload::Tpcb,
            threads: 4,
            clients: 10,
            scale: 1,
            batch: 500,
            seed: 1,
        };
        let per: Vec<usize> = (0..4).map(|t| o.connections_of(t)).collect();
        assert_eq!(per, vec![3, 3, 2, 2]);
    }

    #[test]
    fn memory_and_refused_connections_are_errors() {
        let mut o = LoadOptions {
            workload: Workload::Memory,
            threads: 1,
            clients: 1,
            scale: 1,
            batch: 1,
            seed: 1,
        };
        // a port nobody listens on: bind one, then close it
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let c = Connector::tcp(addr);
        assert!(Load::start(&c, &o).is_err());
        o.workload = Workload::Insert;
        let e = Load::start(&c, &o).err().unwrap();
        assert!(
            e.starts_with("client thread 0: connect to http://127.0.0.1:"),
            "{e}"
        );
    }
}
