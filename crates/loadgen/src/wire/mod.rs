//! HTTP/1.1 on the wire, std only: request framing ([`encode`]), an incremental,
//! allocation-free response parser ([`parse`]) and the message of an Amelie error body
//! ([`json_msg`]). The load generator and the dev-only test client (`amelie-testclient`, which
//! re-exports these modules) share them.

pub mod encode;
mod json;
pub mod parse;

pub use json::json_msg;
