//! Thin entry point: all logic lives in the `amelie-client` crate.

fn main() {
    std::process::exit(amelie_client::cli::main(std::env::args().skip(1).collect()));
}
