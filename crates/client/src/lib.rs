//! The client side of Amelie in Rust: what the `amelie` binary is made of.
//!
//! - [`remote`]: connection options (`Remote`), `--name=value` / `--json={...}` arguments,
//!   the `[http[s]://][user[:secret]@]host[:port]` URI;
//! - [`login`]: the client home (`$AMELIE_HOME`, `~/.amelie`) with saved logins and history;
//! - [`conn`]: a keep-alive HTTP/1.1 client over TCP (plain or TLS) or a unix socket (hyper
//!   on tokio), with a blocking wrapper;
//! - [`tls`]: the client side of TLS (rustls): trusted certificates, client certificate,
//!   server name;
//! - [`split`]: pipe mode's statement splitter;
//! - [`import`]: `amelie import`, batches of CSV or JSONL rows over several connections;
//! - [`top`]: `amelie top`, a terminal view of `SHOW STATUS`;
//! - [`bench`]: `amelie bench`, Amelie's benchmarks on the load generator of
//!   `amelie-loadgen` (shared with `cargo xtask bench load`);
//! - [`backup`]: `amelie backup`, a hot backup of a server into a new repository;
//! - [`cli`]: the commands.
//!
//! Tokens signed from a user and secret use `amelie_common::token`, the code the server
//! validates them with. The crate talks to the server over HTTP only: it depends on no
//! server crate.

pub mod backup;
pub mod bench;
pub mod cli;
pub mod conn;
pub mod import;
pub mod login;
pub mod remote;
pub mod split;
pub mod tls;
pub mod top;

pub use conn::{BlockingClient, Client, Reply};
pub use login::Home;
pub use remote::{Args, Remote, Target};
