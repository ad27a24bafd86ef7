//! Thin entry point: all logic lives in the `amelie-system` crate.
fn main() {
    std::process::exit(amelie_system::cli::main(std::env::args().skip(1).collect()));
}
