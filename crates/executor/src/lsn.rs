//! The committed LSN, and the wake-up of those waiting for it to move (the WAL streamers of
//! a primary, `amelie_system::stream`).
//!
//! Every store (group commit, DDL, a replicated record, recovery) goes through
//! [`CommittedLsn::store`]. A store wakes the waiting [`CommitListener`]s, but only when
//! one is registered: without a listener a store costs the atomic store, a fence and one
//! relaxed load, and takes no lock and makes no system call (the [`tokio::sync::Notify`]
//! behind it locks a mutex even with no waiter, so it is not touched then).
//!
//! **No lost wake-up.** A waiter creates its `Notified` (which `notify_waiters` wakes from
//! its creation on, polled or not), then fences and reads the LSN; a store writes the LSN,
//! fences, then reads the listener count. With a SeqCst fence on both sides, either the
//! waiter reads the new LSN or the store sees the listener and notifies after the
//! `Notified` exists (the listener count was raised before, when the listener was made).

use std::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// The LSN of the newest committed (written) record, with its listeners.
#[derive(Debug, Default)]
pub struct CommittedLsn {
    value: AtomicU64,
    /// Registered [`CommitListener`]s.
    listeners: AtomicUsize,
    notify: tokio::sync::Notify,
}

impl CommittedLsn {
    pub fn new(lsn: u64) -> CommittedLsn {
        CommittedLsn {
            value: AtomicU64::new(lsn),
            ..Default::default()
        }
    }

    pub fn load(&self, order: Ordering) -> u64 {
        self.value.load(order)
    }

    /// Sets the LSN and wakes the listeners waiting for it (if any are registered).
    pub fn store(&self, lsn: u64, order: Ordering) {
        self.value.store(lsn, order);
        // pairs with the fence in `CommitListener::wait_past` (see the module documentation)
        fence(Ordering::SeqCst);
        if self.listeners.load(Ordering::Relaxed) > 0 {
            self.notify.notify_waiters();
        }
    }

    /// Registers a listener; stores wake it until it drops.
    pub fn listen(self: &Arc<Self>) -> CommitListener {
        self.listeners.fetch_add(1, Ordering::SeqCst);
        CommitListener {
            lsn: Arc::clone(self),
        }
    }
}

/// A registered waiter for new commits ([`CommittedLsn::listen`]); dropping it unregisters.
#[derive(Debug)]
pub struct CommitListener {
    lsn: Arc<CommittedLsn>,
}

impl CommitListener {
    /// Waits (asleep) until the committed LSN is above `lsn` and returns it. Cancel-safe:
    /// dropping the future loses nothing.
    pub async fn wait_past(&self, lsn: u64) -> u64 {
        loop {
            let notified = self.lsn.notify.notified();
            // pairs with the fence in `CommittedLsn::store`
            fence(Ordering::SeqCst);
            let now = self.lsn.value.load(Ordering::Acquire);
            if now > lsn {
                return now;
            }
            notified.await;
        }
    }
}

impl Drop for CommitListener {
    fn drop(&mut self) {
        self.lsn.listeners.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_store_wakes_a_waiting_listener() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let lsn = Arc::new(CommittedLsn::new(5));
        assert_eq!(lsn.listeners.load(Ordering::Relaxed), 0);
        // nobody listens: a store only sets the value
        lsn.store(6, Ordering::Release);
        let listener = lsn.listen();
        assert_eq!(lsn.listeners.load(Ordering::Relaxed), 1);
        // already past: no wait
        assert_eq!(rt.block_on(listener.wait_past(5)), 6);
        // nothing new: still waiting after a while
        let waited = rt.block_on(async {
            tokio::time::timeout(Duration::from_millis(20), listener.wait_past(6)).await
        });
        assert!(waited.is_err());
        // a store from another thread wakes the waiter
        let writer = {
            let lsn = lsn.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                lsn.store(9, Ordering::Release);
            })
        };
        let got = rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(10), listener.wait_past(6)).await
        });
        assert_eq!(got.ok(), Some(9));
        writer.join().unwrap();
        drop(listener);
        assert_eq!(lsn.listeners.load(Ordering::Relaxed), 0);
    }

    /// Many stores racing with a waiter that re-waits after each wake: it always ends at the
    /// last LSN (no lost wake-up leaves it asleep).
    #[test]
    fn no_wake_up_is_lost() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let lsn = Arc::new(CommittedLsn::new(0));
        let listener = lsn.listen();
        let writer = {
            let lsn = lsn.clone();
            std::thread::spawn(move || {
                for i in 1..=20_000 {
                    lsn.store(i, Ordering::Release);
                }
            })
        };
        let mut seen = 0;
        while seen < 20_000 {
            let got = rt.block_on(async {
                tokio::time::timeout(Duration::from_secs(10), listener.wait_past(seen)).await
            });
            seen = got.expect("a wake-up was lost");
        }
        writer.join().unwrap();
    }
}
