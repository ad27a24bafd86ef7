//! Thin entry point: all logic lives in the `amelie-system` crate.

// Many small, short-lived allocations (tokens, AST nodes, rows) sit on the hot path; mimalloc
// handles them several times faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(amelie_system::cli::main(std::env::args().skip(1).collect()));
}
