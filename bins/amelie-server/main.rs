//! Thin entry point: all logic lives in the `amelie-system` crate.

// Many small, short-lived allocations (tokens, AST nodes, rows) sit on the hot path; mimalloc
// handles them several times faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Returns the memory a burst of work freed on this thread to the OS (see
/// `amelie_common::idle`): mimalloc does it only when called, and an idle thread calls nothing.
fn collect() {
    // SAFETY: `mi_collect` takes no pointers and may be called at any time from any thread;
    // it only walks the calling thread's heap and the shared arenas.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

fn main() {
    amelie_common::idle::set_idle_hook(collect);
    std::process::exit(amelie_system::cli::main(std::env::args().skip(1).collect()));
}
