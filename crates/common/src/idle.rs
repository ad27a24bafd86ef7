//! Giving memory back when a thread stops working.
//!
//! The allocator (chosen by the binary) keeps memory that a burst of work freed for a short
//! while before returning it to the OS, and it does so only when it is called again: a
//! thread that then sleeps (a compute node or a frontend with nothing to do) would keep that
//! memory resident until its next request. So long-lived threads count their work with
//! [`busy`] and call [`tick`] every [`TICK`] while they wait; once a whole tick passed
//! without work, the hook the binary installed ([`set_idle_hook`]: `mi_collect` for mimalloc)
//! runs once. A thread under load never reaches it, so nothing it frees is returned only to
//! be faulted in again.

use std::cell::Cell;
use std::sync::OnceLock;
use std::time::Duration;

/// How often a waiting thread looks (and how long it must have been idle).
pub const TICK: Duration = Duration::from_millis(100);

static HOOK: OnceLock<fn()> = OnceLock::new();

thread_local! {
    /// Work done on this thread, the count seen at the last tick, and whether the hook ran
    /// since the last work.
    static STATE: Cell<(u64, u64, bool)> = const { Cell::new((0, 0, true)) };
}

/// Installs the hook (once; later calls are ignored).
pub fn set_idle_hook(hook: fn()) {
    let _ = HOOK.set(hook);
}

/// The calling thread did some work.
#[inline]
pub fn busy() {
    STATE.with(|s| {
        let (work, seen, _) = s.get();
        s.set((work.wrapping_add(1), seen, false));
    });
}

/// Called every [`TICK`] by a waiting thread: runs the hook once when no work was done since
/// the previous tick. Returns whether it ran.
pub fn tick() -> bool {
    let run = STATE.with(|s| {
        let (work, seen, collected) = s.get();
        if work != seen {
            s.set((work, work, collected));
            return false;
        }
        s.set((work, seen, true));
        !collected
    });
    if run {
        if let Some(hook) = HOOK.get() {
            hook();
        }
    }
    run
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static CALLS: AtomicUsize = AtomicUsize::new(0);

    fn count() {
        CALLS.fetch_add(1, Ordering::Relaxed);
    }

    #[test]
    fn the_hook_runs_once_after_a_tick_without_work() {
        set_idle_hook(count);
        std::thread::spawn(|| {
            assert!(!tick(), "a fresh thread has nothing to give back");
            busy();
            assert!(!tick(), "work during the last tick");
            assert!(tick(), "a whole tick without work");
            assert!(!tick(), "once");
            busy();
            busy();
            assert!(!tick());
            assert!(tick());
        })
        .join()
        .unwrap();
        assert_eq!(CALLS.load(Ordering::Relaxed), 2);
    }
}
