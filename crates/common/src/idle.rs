//! Giving memory back when a thread goes idle.
//!
//! The allocator (chosen by the binary) keeps memory freed by a burst of work for a short
//! while before returning it to the OS, and it does so only when it is called again. A
//! thread that then sleeps, a compute node or a frontend with nothing to do, would keep that
//! memory resident until its next request. So long-lived threads call [`went_idle`] before
//! they sleep, and the binary installs what the allocator needs with [`set_idle_hook`]
//! (`mi_collect` for mimalloc). At most one call per thread per [`MIN_INTERVAL`] reaches the
//! hook, so a busy server pays nothing measurable.

use std::cell::Cell;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Shortest time between two calls of the hook on one thread.
pub const MIN_INTERVAL: Duration = Duration::from_millis(50);

static HOOK: OnceLock<fn()> = OnceLock::new();

thread_local! {
    static LAST: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Installs the hook (once; later calls are ignored).
pub fn set_idle_hook(hook: fn()) {
    let _ = HOOK.set(hook);
}

/// The calling thread is about to sleep: runs the hook unless it ran on this thread less
/// than [`MIN_INTERVAL`] ago. Returns whether it ran.
pub fn went_idle() -> bool {
    let Some(hook) = HOOK.get() else {
        return false;
    };
    let now = Instant::now();
    let due = LAST.with(|l| match l.get() {
        Some(t) if now.duration_since(t) < MIN_INTERVAL => false,
        _ => {
            l.set(Some(now));
            true
        }
    });
    if due {
        hook();
    }
    due
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
    fn the_hook_runs_at_most_once_per_interval_per_thread() {
        set_idle_hook(count);
        std::thread::spawn(|| {
            assert!(went_idle());
            assert!(!went_idle(), "too soon");
            std::thread::sleep(MIN_INTERVAL + Duration::from_millis(5));
            assert!(went_idle());
        })
        .join()
        .unwrap();
        // another thread has its own interval
        std::thread::spawn(|| assert!(went_idle())).join().unwrap();
        assert_eq!(CALLS.load(Ordering::Relaxed), 3);
    }
}
