//! HTTP front end of Amelie in Rust.
//!
//! A hyper 1.x HTTP/1.1 server that routes requests by `Content-Type` and URL (spec §1.2),
//! answers with the status codes and reply bodies of spec §1.3, and enforces `limit_recv`
//! (§1.7). The SQL machinery is reached through the [`Backend`] trait, so this crate does not
//! depend on the executor.
//!
//! ```text
//! let listeners = amelie_http::bind(config).await?;
//! println!("{:?}", listeners.local_addrs());
//! listeners.serve(backend, shutdown_future).await?;
//! ```

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use amelie_common::metrics::{self, Histogram};
pub use amelie_common::Error;

mod io;
mod net;
mod reply;
mod route;
mod server;
mod tls;
mod tls_client;

pub use io::Registry;
pub use net::{split_authority, Endpoint, Peer, SocketFiles, StdListener, DEFAULT_SOCKET_MODE};
pub use reply::{error_body, escape_json_into};
pub use route::{parse_import_path, ContentKind};
pub use server::{bind, serve, Listeners};
pub use tls::TlsServer;
pub use tls_client::{TlsClient, TlsClientFiles};

/// Default `limit_recv`: 1 MiB.
pub const DEFAULT_LIMIT_RECV: u64 = 1024 * 1024;

/// Error text for a request body of `limit_recv` bytes or more.
pub const MSG_LIMIT: &str = "http request limit reached";
/// Error text for a request without `Content-Type`.
pub const MSG_NO_CONTENT_TYPE: &str = "Content-Type is missing";
/// Error text for an unknown content type or a SQL request whose URL is not `/`.
pub const MSG_UNSUPPORTED: &str = "unsupported API operation";
/// Error text for an import request whose path is not `/<schema>/<table>`.
pub const MSG_URI_PATH: &str = "unsupported URI path";
/// Error text for a request body that is not valid UTF-8.
pub const MSG_UTF8: &str = "invalid UTF-8 in request body";
/// Error text for a request head hyper cannot parse (request line, header syntax, framing).
pub const MSG_MALFORMED: &str = "malformed HTTP request";
/// Error text for a request head larger than `max_header_size`.
pub const MSG_HEADER_LIMIT: &str = "HTTP header size limit exceeded";
/// Error text for a request target longer than hyper accepts.
pub const MSG_URI_TOO_LONG: &str = "HTTP request URI too long";
/// Error text for a request body whose framing is broken (a bad chunk).
pub const MSG_MALFORMED_BODY: &str = "malformed HTTP request body";
/// Error text for a request head not complete within `header_timeout_ms`.
pub const MSG_HEADER_TIMEOUT: &str = "HTTP request header read timeout";
/// Error text for a request body not complete within `body_timeout_ms`.
pub const MSG_BODY_TIMEOUT: &str = "HTTP request body read timeout";
/// Error text (503) for a connection refused at the connection cap.
pub const MSG_TOO_MANY_CONNECTIONS: &str = "too many connections";
/// Start-up error text (after `server: `) for a TLS listener without a usable certificate.
pub const MSG_TLS_NO_CERT: &str = "listen[] <tls> requires a valid server certificate";

/// Error text for `Am-Service: backup` on a server that does not serve backups.
pub const MSG_BACKUP_UNSUPPORTED: &str = "backup is not supported";
/// Error text for `Am-Service: repl` on a server that does not accept replication.
pub const MSG_REPL_UNSUPPORTED: &str = "replication is not supported";
/// Error text for an `Am-Service: repl` request without a plain-text `Am-Id`.
pub const MSG_REPL_ID: &str = "replication: Am-Id header expected";
/// Error text for an `Am-Service: repl` request whose `Am-Lsn` is missing or not an integer.
pub const MSG_REPL_LSN: &str = "replication: Am-Lsn: integer expected";
/// Error text for an `Am-Service: repl` request whose body is not `application/octet-stream`.
pub const MSG_REPL_CONTENT_TYPE: &str =
    "replication: Content-Type application/octet-stream expected";
/// Error text for an `Am-File-Size` that is not a non-negative integer.
pub const MSG_FILE_SIZE: &str = "Am-File-Size: integer expected";
/// Error text for an `Am-File` or `Am-Service` value that is not plain text.
pub const MSG_HEADER_TEXT: &str = "Am-Service and Am-File must be plain text";

/// Error text for an `Am-Service` value other than `backup` or `repl`.
pub fn msg_unknown_service(name: &str) -> String {
    format!("unsupported Am-Service '{name}'")
}

/// Default cap on open connections (see [`ServerConfig::max_connections`]).
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Default time an idle keep-alive connection stays open.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default time a started request head has to arrive in full.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// Default longest pause between two pieces of a request body.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// Per-connection state: one session per TCP connection, handed mutably to every request
/// received on that connection (keep-alive). It is dropped when the connection closes.
#[derive(Default)]
pub struct Session {
    /// Unique (per server, over every frontend) connection id, starting at 1; the `id` of
    /// the connection's log lines.
    pub id: u64,
    /// `SET timezone` value of this connection, `None` = server default.
    pub timezone: Option<String>,
    /// On a listener that requires a token (`"auth": true`): the user the current request's
    /// token names. `None` on other listeners.
    pub user: Option<String>,
    /// What the backend keeps for this connection between requests: a running backup
    /// (see [`Backend::backup`]). Dropped with the session, so whatever it holds is
    /// released when the connection goes away.
    pub service: Option<Box<dyn std::any::Any + Send + Sync>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("timezone", &self.timezone)
            .field("user", &self.user)
            .field("service", &self.service.is_some())
            .finish()
    }
}

impl Session {
    pub fn new(id: u64) -> Self {
        Session {
            id,
            ..Default::default()
        }
    }
}

/// The header that selects an internal service instead of SQL or an import (spec §1.8).
pub const HEADER_SERVICE: &str = "am-service";
/// The header naming a file of a running backup (a path relative to the repository).
pub const HEADER_FILE: &str = "am-file";
/// The header giving the size the client expects of that file.
pub const HEADER_FILE_SIZE: &str = "am-file-size";
/// The header with a server's uuid (replication: the primary's in a request, the replica's
/// in the reply).
pub const HEADER_ID: &str = "am-id";
/// The header with a server's LSN (replication: the primary's in a request, the replica's
/// after the apply in the reply).
pub const HEADER_LSN: &str = "am-lsn";

/// An `Am-Service: repl` request (spec §1.8): a primary pushing its WAL to this replica.
#[derive(Debug)]
pub struct ReplRequest<'a> {
    /// `Am-Id`: the primary's uuid.
    pub primary: &'a str,
    /// `Am-Lsn`: the primary's LSN.
    pub lsn: u64,
    /// Zero or more WAL records in the WAL's own framing (empty: a handshake).
    pub body: &'a [u8],
}

/// The answer to a [`ReplRequest`]: 200 with `Am-Id` and `Am-Lsn`, no body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplReply {
    /// This server's uuid.
    pub id: String,
    /// This server's LSN after the records were applied.
    pub lsn: u64,
}

/// An `Am-Service: backup` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupRequest<'a> {
    /// No `Am-File`: pin a checkpoint and the WAL after it, and list the files.
    Start,
    /// `Am-File: <path>` (and `Am-File-Size: <size>` when given): one file of the list.
    File { path: &'a str, size: Option<u64> },
}

/// The answer to a [`BackupRequest`].
#[derive(Debug)]
pub enum BackupReply {
    /// 200 `application/json` with this body (the state: checkpoint, files, config).
    State(String),
    /// 200 `application/octet-stream`: the first `size` bytes of `file`, streamed.
    File { file: std::fs::File, size: u64 },
}

/// What the HTTP server calls to do the actual work.
pub trait Backend: Send + Sync + 'static {
    /// Execute a SQL request (`text/plain` / `application/sql` on `/`).
    ///
    /// `Ok(Some(body))` → 200 `application/json` with `body`; `Ok(None)` → 204;
    /// `Err(e)` → 400 `{"msg": "<e>"}`.
    fn execute(
        &self,
        session: &mut Session,
        sql: String,
    ) -> impl Future<Output = Result<Option<String>, Error>> + Send;

    /// Bulk import into `schema.table` (`text/csv`, `application/jsonl`, `application/json`
    /// on `/<schema>/<table>[?query]`). `query` is the raw query string without `?`.
    ///
    /// `Ok(())` → 204; `Err(e)` → 400 `{"msg": "<e>"}`.
    fn import(
        &self,
        session: &mut Session,
        schema: &str,
        table: &str,
        content_type: &str,
        query: Option<&str>,
        body: String,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        let _ = (session, schema, table, content_type, query, body);
        std::future::ready(Err(Error::unsupported(MSG_UNSUPPORTED)))
    }

    /// `Am-Service: backup` on `/` (spec §1.8): [`BackupRequest::Start`] pins what the
    /// backup copies and lists it; [`BackupRequest::File`] serves one listed file. What a
    /// backup pins is kept in [`Session::service`], so it is released when the connection
    /// closes. `Err(e)` → 400 `{"msg": "<e>"}`. The default refuses.
    fn backup(
        &self,
        session: &mut Session,
        request: BackupRequest<'_>,
    ) -> impl Future<Output = Result<BackupReply, Error>> + Send {
        let _ = (session, request);
        std::future::ready(Err(Error::unsupported(MSG_BACKUP_UNSUPPORTED)))
    }

    /// `Am-Service: repl` on `/` (spec §1.8): WAL records of a primary to apply.
    /// `Err(e)` → 400 `{"msg": "<e>"}`. The default refuses.
    fn repl(
        &self,
        session: &mut Session,
        request: ReplRequest<'_>,
    ) -> impl Future<Output = Result<ReplReply, Error>> + Send {
        let _ = (session, request);
        std::future::ready(Err(Error::unsupported(MSG_REPL_UNSUPPORTED)))
    }

    /// The body limit of an `Am-Service: repl` request whose `Am-Id` is `primary`, in place
    /// of `limit_recv` (the larger of the two applies): a primary's request holds whole WAL
    /// records, and one record (a bulk insert or update) can be larger than any `limit_recv`
    /// a client's requests are held to. `None`, the default: `limit_recv` applies.
    fn repl_limit_recv(&self, primary: &str) -> Option<u64> {
        let _ = primary;
        None
    }

    /// Validates the token of an `Authorization: Bearer <token>` header. A request whose
    /// header is present but fails (or does not start with `Bearer `) gets 403 and the
    /// connection is closed. The default accepts every token.
    fn authenticate(&self, token: &str) -> bool {
        let _ = token;
        true
    }

    /// Like [`Backend::authenticate`], also naming the token's user (`Some("")` when the
    /// backend does not know users). The default asks [`Backend::authenticate`].
    fn token_user(&self, token: &str) -> Option<String> {
        self.authenticate(token).then(String::new)
    }

    /// Appends the backend's own metrics to a `GET /metrics` reply, in the Prometheus text
    /// format (see `amelie_common::metrics`); the server has written its HTTP metrics
    /// before. The default adds nothing.
    fn metrics(&self, out: &mut String) {
        let _ = out;
    }
}

/// Network counters (for `SHOW STATUS` / `SHOW connections` etc., and `GET /metrics`).
#[derive(Debug)]
pub struct HttpStats {
    connections: AtomicU64,
    connections_total: AtomicU64,
    requests: AtomicU64,
    sent_bytes: AtomicU64,
    recv_bytes: AtomicU64,
    /// Replies of the request handler by status class (1xx .. 5xx), counted only while
    /// [`ServerConfig::metrics`] is on.
    replies: [AtomicU64; 5],
    /// Connections refused at the connection cap.
    refused: AtomicU64,
    /// Time from a parsed request head to its reply, in microseconds (with `metrics` on).
    latency: Histogram,
}

impl Default for HttpStats {
    fn default() -> Self {
        HttpStats {
            connections: AtomicU64::new(0),
            connections_total: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            sent_bytes: AtomicU64::new(0),
            recv_bytes: AtomicU64::new(0),
            replies: Default::default(),
            refused: AtomicU64::new(0),
            latency: Histogram::new(metrics::LATENCY_BOUNDS, 1e-6),
        }
    }
}

impl HttpStats {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a reply of the request handler: its status and how long it took.
    pub(crate) fn add_reply(&self, status: u16, micros: u64) {
        let class = (status / 100).clamp(1, 5) as usize - 1;
        self.replies[class].fetch_add(1, Ordering::Relaxed);
        self.latency.observe(micros);
    }

    pub(crate) fn add_refused(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Writes the HTTP metrics in the Prometheus text format.
    pub fn render_metrics(&self, out: &mut String) {
        let name = "amelie_http_requests_total";
        metrics::header(
            out,
            name,
            "HTTP requests answered, by status class.",
            "counter",
        );
        for (i, n) in self.replies.iter().enumerate() {
            let class = ["1xx", "2xx", "3xx", "4xx", "5xx"][i];
            metrics::sample(out, name, &[("code", class)], n.load(Ordering::Relaxed));
        }
        metrics::single(
            out,
            "amelie_http_request_heads_total",
            "HTTP request heads received.",
            "counter",
            self.requests(),
        );
        self.latency.render(
            out,
            "amelie_http_request_duration_seconds",
            "Time from a parsed request head to its reply.",
        );
        metrics::single(
            out,
            "amelie_connections",
            "Open client connections.",
            "gauge",
            self.connections(),
        );
        metrics::single(
            out,
            "amelie_connections_total",
            "Client connections accepted.",
            "counter",
            self.connections_total(),
        );
        metrics::single(
            out,
            "amelie_connections_refused_total",
            "Client connections refused at the connection cap.",
            "counter",
            self.refused.load(Ordering::Relaxed),
        );
        metrics::single(
            out,
            "amelie_sent_bytes_total",
            "Bytes written to clients.",
            "counter",
            self.sent_bytes(),
        );
        metrics::single(
            out,
            "amelie_recv_bytes_total",
            "Bytes read from clients.",
            "counter",
            self.recv_bytes(),
        );
    }

    /// Currently open connections.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// Connections accepted since start.
    pub fn connections_total(&self) -> u64 {
        self.connections_total.load(Ordering::Relaxed)
    }

    /// HTTP requests received (parsed request heads) since start.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Bytes written to clients.
    pub fn sent_bytes(&self) -> u64 {
        self.sent_bytes.load(Ordering::Relaxed)
    }

    /// Bytes read from clients.
    pub fn recv_bytes(&self) -> u64 {
        self.recv_bytes.load(Ordering::Relaxed)
    }

    pub(crate) fn add_sent(&self, n: u64) {
        self.sent_bytes.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn add_recv(&self, n: u64) {
        self.recv_bytes.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn add_request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn connection_opened(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
        self.connections_total.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn connection_closed(&self) {
        self.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Server configuration.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where to listen: TCP addresses (port 0 = pick a free port, see
    /// [`Listeners::local_addrs`]) and unix sockets.
    pub listen: Vec<Endpoint>,
    /// Request body limit in bytes (`>=` is rejected); shared so `SET limit_recv` applies live.
    pub limit_recv: Arc<AtomicU64>,
    /// Counters updated by the server.
    pub stats: Arc<HttpStats>,
    /// Log each connection's opening and closing (`log_connections`), read as it opens;
    /// shared so `SET log_connections` applies to the connections opened after it.
    pub log_connections: Arc<AtomicBool>,
    /// Once the first byte of a request head arrived, the whole head must arrive within this
    /// time (else the connection is closed).
    pub header_read_timeout: Duration,
    /// The longest pause allowed between two pieces of a request body (else the connection
    /// is closed).
    pub body_read_timeout: Duration,
    /// A connection with no request for this long is closed (zero: never).
    pub idle_timeout: Duration,
    /// Cap on open connections over all frontends sharing [`ServerConfig::connections`]
    /// (0: no cap). At the cap a new connection closes the one idle the longest, or is
    /// refused with 503 `{"msg": "too many connections"}` when every connection is busy.
    pub max_connections: usize,
    /// The open connections (shared by every copy of this configuration).
    pub connections: Arc<Registry>,
    /// On shutdown, how long in-flight requests may take before their connections are dropped.
    pub shutdown_timeout: Duration,
    /// Largest accepted request head (request line + headers); larger → 431 and close.
    pub max_header_size: usize,
    /// Per endpoint, in `listen` order: requests must carry a valid token (`"auth": true`).
    /// Missing entries mean false.
    pub auth: Vec<bool>,
    /// Per endpoint, in `listen` order: the connections speak TLS (`"tls": true`), with
    /// [`ServerConfig::tls_server`]'s certificate. Missing entries mean false. The TLS
    /// handshake must end within `header_read_timeout`.
    pub tls: Vec<bool>,
    /// The certificate and key of the TLS endpoints ([`bind`] fails when an endpoint has
    /// `tls` and this is `None`).
    pub tls_server: Option<TlsServer>,
    /// The server-wide memory pool (`limit_memory_total`): request bodies past
    /// [`BODY_FREE`] bytes are reserved from it while they are read and run, and refused
    /// with `400 server memory limit reached` when it is full. None: not counted.
    pub memory_pool: Option<Arc<amelie_common::governor::MemoryPool>>,
    /// Serve `GET /metrics` (Prometheus text format) and count replies and latencies for
    /// it. Off: `GET /metrics` is refused like any other GET.
    pub metrics: bool,
}

/// Bytes of a request body read without reserving them from the memory pool.
pub const BODY_FREE: usize = 64 * 1024;

impl ServerConfig {
    /// A configuration with defaults: `limit_recv` 1 MiB, 30 s header and body timeouts,
    /// 60 s idle timeout, 10,000 connections, 5 s shutdown timeout, 16 KiB header limit,
    /// connections not logged.
    pub fn new(listen: Vec<SocketAddr>) -> Self {
        Self::with_endpoints(listen.into_iter().map(Endpoint::Tcp).collect())
    }

    /// [`ServerConfig::new`] over TCP and unix socket endpoints.
    pub fn with_endpoints(listen: Vec<Endpoint>) -> Self {
        ServerConfig {
            listen,
            limit_recv: Arc::new(AtomicU64::new(DEFAULT_LIMIT_RECV)),
            stats: Arc::new(HttpStats::new()),
            log_connections: Arc::new(AtomicBool::new(false)),
            header_read_timeout: DEFAULT_HEADER_TIMEOUT,
            body_read_timeout: DEFAULT_BODY_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            connections: Arc::new(Registry::default()),
            shutdown_timeout: Duration::from_secs(5),
            max_header_size: 16 * 1024,
            auth: Vec::new(),
            tls: Vec::new(),
            tls_server: None,
            memory_pool: None,
            metrics: false,
        }
    }
}
