//! A counting global allocator for the fuzz runner: live bytes, the peak since the last
//! [`reset_peak`], and a hard cap past which the process aborts (an input asking for more
//! memory than any request should is a finding; the runner's parent keeps the input).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

pub struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static CAP: AtomicUsize = AtomicUsize::new(usize::MAX);

const CAP_MSG: &[u8] = b"\nfuzz: MEMORY the process went past the --max-mem hard cap\n";

fn add(size: usize) {
    let live = LIVE.fetch_add(size, Relaxed) + size;
    PEAK.fetch_max(live, Relaxed);
    if live > CAP.load(Relaxed) {
        // no allocation from here on: a static message, then abort (the parent saves the input)
        CAP.store(usize::MAX, Relaxed);
        let _ = std::io::Write::write_all(&mut std::io::stderr(), CAP_MSG);
        std::process::abort();
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator; the wrapper only
// updates counters (atomics, no allocation) and may abort the process.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        add(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        add(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_sub(layout.size(), Relaxed);
        add(new_size);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Live bytes now (0 when the counting allocator is not the global one).
pub fn live() -> usize {
    LIVE.load(Relaxed)
}

/// Starts a new peak measurement at the current live bytes.
pub fn reset_peak() {
    PEAK.store(LIVE.load(Relaxed), Relaxed);
}

/// Highest live bytes since [`reset_peak`].
pub fn peak() -> usize {
    PEAK.load(Relaxed)
}

/// Aborts the process when live bytes exceed `bytes`.
pub fn set_cap(bytes: usize) {
    CAP.store(bytes, Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_live_and_peak() {
        // not the global allocator in tests: only our explicit calls move the counters
        let before = live();
        reset_peak();
        let layout = Layout::from_size_align(1 << 20, 8).unwrap();
        // SAFETY: a non-zero-size layout; the pointer is freed with the same layout below and
        // grown with realloc's contract (same layout, non-zero new size).
        unsafe {
            let p = Counting.alloc(layout);
            assert!(!p.is_null());
            assert_eq!(live(), before + (1 << 20));
            let p = Counting.realloc(p, layout, 2 << 20);
            assert!(!p.is_null());
            assert_eq!(live(), before + (2 << 20));
            Counting.dealloc(p, Layout::from_size_align(2 << 20, 8).unwrap());
        }
        assert_eq!(live(), before);
        assert!(peak() >= before + (2 << 20));
    }
}
