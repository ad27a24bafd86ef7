//! Server library: config, repository directory, bootstrap, recovery, wiring and the CLI.

pub mod backup;
pub mod cli;
pub mod config;
pub mod log;
pub mod repl_connect;
pub mod repo;
pub mod server;
pub mod stream;
