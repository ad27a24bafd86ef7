//! A global allocator wrapper that counts live bytes (as requested, and rounded up to the
//! size classes of mimalloc, the server's allocator) and the number of allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

pub struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static LIVE_CLASS: AtomicUsize = AtomicUsize::new(0);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

/// mimalloc's small size classes: multiples of 8 up to 64, then four per power of two.
pub fn size_class(size: usize) -> usize {
    if size <= 64 {
        return size.max(1).div_ceil(8) * 8;
    }
    let top = usize::BITS - 1 - (size - 1).leading_zeros(); // 2^top < size <= 2^(top+1)
    let step = 1usize << (top - 2);
    size.div_ceil(step) * step
}

fn add(size: usize) {
    LIVE.fetch_add(size, Relaxed);
    LIVE_CLASS.fetch_add(size_class(size), Relaxed);
}

fn sub(size: usize) {
    LIVE.fetch_sub(size, Relaxed);
    LIVE_CLASS.fetch_sub(size_class(size), Relaxed);
}

// SAFETY: every call is forwarded unchanged to the system allocator; the wrapper only
// updates counters.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        add(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        sub(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        sub(layout.size());
        add(new_size);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// (live bytes requested, live bytes in size classes, allocations so far).
pub fn snapshot() -> (usize, usize, usize) {
    (
        LIVE.load(Relaxed),
        LIVE_CLASS.load(Relaxed),
        ALLOCS.load(Relaxed),
    )
}
