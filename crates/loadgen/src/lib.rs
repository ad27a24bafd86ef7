//! The load generator of Amelie in Rust: what `amelie bench` runs for its users and what
//! `cargo xtask bench load` measures the server with, so the two always send the same thing.
//!
//! - [`Workload`] and [`requests`]: the set-up statements and the request of each workload,
//!   with the texts of Amelie's own benchmark client (`../shared/spec/BENCH.md`).
//! - [`driver`]: one client thread, a mio event loop over its keep-alive connections; as soon
//!   as a reply arrives on a connection the next request goes out on it.
//! - [`Endpoint`] / [`Connector`]: where the connections go (TCP or a unix socket, plain or
//!   TLS with the caller's rustls configuration) and the headers every request carries.
//! - [`Load`]: client threads started together, a phase the caller moves (warm-up, measure,
//!   stop), live counters, and the merged statistics at the end.
//! - [`wire`]: HTTP/1.1 framing and the response parser (std only).

pub mod driver;
mod load;
mod net;
pub mod requests;
pub mod wire;
mod workload;

pub use driver::{Shared, ThreadStats, CONFLICT, MEASURE, STOP, WARMUP};
pub use load::{Load, LoadOptions};
pub use net::{Connector, Endpoint, TlsOptions};
pub use requests::Generator;
pub use workload::{Workload, AGG_ROWS};
