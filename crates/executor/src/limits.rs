//! Request limits: `limit_send`, `limit_write`, `limit_memory`, `limit_memory_total` and
//! `limit_time` (set by the server and by `SET`), and the governor a request runs under.

use crate::Executor;
use amelie_common::Result;
use std::sync::atomic::Ordering;
use std::sync::Arc;

impl Executor {
    pub fn set_limit_send(&self, v: u64) {
        self.limit_send.store(v, Ordering::Relaxed);
    }

    /// Sets `limit_write` (0 = no limit).
    pub fn set_limit_write(&self, v: u64) {
        self.limit_write.store(v, Ordering::Relaxed);
    }

    /// Sets `limit_memory` in bytes (0 = no limit).
    pub fn set_limit_memory(&self, v: u64) {
        self.limit_memory.store(v, Ordering::Relaxed);
    }

    /// Sets `limit_memory_total` in bytes (0 = no limit).
    pub fn set_limit_memory_total(&self, v: u64) {
        self.memory_pool.set_limit(v);
    }

    /// The server-wide pool of `limit_memory_total`, for memory held outside a request's
    /// governor (the HTTP layer reserves request bodies from it).
    pub fn memory_pool(&self) -> Arc<amelie_common::governor::MemoryPool> {
        Arc::clone(&self.memory_pool)
    }

    /// Bytes the running requests hold of `limit_memory_total`.
    pub fn memory_reserved(&self) -> usize {
        self.memory_pool.used()
    }

    /// Sets `limit_time` in milliseconds (0 = no limit).
    pub fn set_limit_time(&self, ms: u64) {
        self.limit_time.store(ms, Ordering::Relaxed);
    }

    /// The limits of a request starting now (`limit_memory`, `limit_time`).
    pub(crate) fn governor(&self) -> amelie_common::Governor {
        let memory = self.limit_memory.load(Ordering::Relaxed);
        let ms = self.limit_time.load(Ordering::Relaxed);
        amelie_common::Governor::new(
            memory,
            (ms > 0).then(|| std::time::Duration::from_millis(ms)),
        )
        .with_pool(self.memory_pool.clone())
    }

    /// Fails a transaction whose WAL record would exceed `limit_write`.
    pub(crate) fn check_limit_write(&self, record: &crate::commit::Record) -> Result<()> {
        let limit = self.limit_write.load(Ordering::Relaxed);
        if limit > 0 && record.count() > 0 && record.size() as u64 > limit {
            return Err(amelie_common::Error::limit_reached(
                "transaction log limit reached",
            ));
        }
        Ok(())
    }
}
