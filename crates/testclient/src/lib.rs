//! The one HTTP/1.1 client of the project's tests and tools: the end-to-end tests in `tests/`,
//! the http crate's tests, `cargo xtask` (`bench load`, readiness probes) and the fuzz runner.
//! It is dev-only and depends only on the wire code of `amelie-loadgen` (itself outside the
//! server's layering), so any crate may use it without a layering question; the server itself
//! never does.
//!
//! - [`parse`]: an incremental, allocation-free parser of a response in a byte buffer (status
//!   line, headers, `Content-Length` or chunked body), from `amelie_loadgen::wire`. Both the
//!   blocking [`Client`] and the non-blocking event loop of the load generator use it.
//! - [`encode`]: request building ([`Request`], and [`encode::prefix`] / [`encode::frame`] for
//!   a loop that sends the same head many times), from `amelie_loadgen::wire`.
//! - [`Client`]: a blocking keep-alive connection with timeouts.
//! - [`raw`]: a plain socket for tests that send malformed bytes and look at the raw reply.
//! - [`json_msg`]: the message of an Amelie error body `{"msg": "..."}`.

pub mod client;
pub mod raw;

pub use amelie_loadgen::wire::json_msg;
pub use amelie_loadgen::wire::{encode, parse};

pub use client::{Client, Response, DEFAULT_TIMEOUT};
pub use encode::Request;
pub use parse::{Framing, Head};
pub use raw::{Drained, RawConn};
