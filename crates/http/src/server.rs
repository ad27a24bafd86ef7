//! Listeners, accept loop, per-connection driver and request handler.

use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use hyper::body::{Body, Incoming};
use hyper::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{watch, Mutex};
use tokio::task::JoinSet;

use crate::io::{ConnState, CountingIo, Deadline, Registry};
use crate::net::{bind_endpoint, Endpoint, Listener, Peer, SocketFiles, StdListener, Stream};
use crate::reply::{self, Reply};
use crate::route::{parse_import_path, ContentKind};
use crate::{
    msg_unknown_service, Backend, BackupReply, BackupRequest, HttpStats, ReplReply, ReplRequest,
    ServerConfig, Session, BODY_FREE, HEADER_FILE, HEADER_FILE_SIZE, HEADER_ID, HEADER_LSN,
    HEADER_SERVICE, MSG_BODY_TIMEOUT, MSG_FILE_SIZE, MSG_HEADER_TEXT, MSG_HEADER_TIMEOUT,
    MSG_LIMIT, MSG_MALFORMED_BODY, MSG_NO_CONTENT_TYPE, MSG_REPL_CONTENT_TYPE, MSG_REPL_ID,
    MSG_REPL_LSN, MSG_TOO_MANY_CONNECTIONS, MSG_UNSUPPORTED, MSG_URI_PATH, MSG_UTF8,
};

/// How long a connection closed with unread request bytes keeps draining them, so that the
/// client reads the reply instead of getting a connection reset.
const LINGER: Duration = Duration::from_secs(2);
/// Pause after a failed `accept` (e.g. out of file descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// Largest up-front allocation for a request body announced by `Content-Length`.
const MAX_PREALLOC: u64 = 1024 * 1024;

/// Bound listening sockets, not yet accepting. See [`bind`].
#[derive(Debug)]
pub struct Listeners {
    listeners: Vec<Listener>,
    config: ServerConfig,
    /// The unix socket files made by [`bind`] (removed when the last owner drops them).
    files: SocketFiles,
}

/// Bind every endpoint of `config.listen` (port 0 picks a free port; a unix socket file is
/// created, replacing a stale one, and removed again when the listeners are dropped).
pub async fn bind(config: ServerConfig) -> io::Result<Listeners> {
    if config.tls_server.is_none() && config.tls.iter().any(|t| *t) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            crate::MSG_TLS_NO_CERT,
        ));
    }
    let mut listeners = Vec::with_capacity(config.listen.len());
    let mut files = SocketFiles::default();
    for endpoint in &config.listen {
        listeners.push(bind_endpoint(endpoint, &mut files).await?);
    }
    Ok(Listeners {
        listeners,
        config,
        files,
    })
}

/// [`bind`] then [`Listeners::serve`].
pub async fn serve<B: Backend>(
    backend: Arc<B>,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    bind(config).await?.serve(backend, shutdown).await
}

impl Listeners {
    /// The actually bound TCP addresses, in `listen` order (unix sockets are left out).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|l| match l {
                Listener::Tcp(l) => l.local_addr().ok(),
                Listener::Unix(_) => None,
            })
            .collect()
    }

    /// Every endpoint as bound, in `listen` order (TCP addresses with their actual port).
    pub fn local_endpoints(&self) -> Vec<Endpoint> {
        self.listeners
            .iter()
            .zip(&self.config.listen)
            .map(|(l, configured)| match l {
                Listener::Tcp(l) => l
                    .local_addr()
                    .map(Endpoint::Tcp)
                    .unwrap_or_else(|_| configured.clone()),
                Listener::Unix(_) => configured.clone(),
            })
            .collect()
    }

    /// Turns the bound sockets into std sockets (to be shared by several runtimes, see
    /// [`Listeners::from_std`]), with the configuration and the unix socket files, which
    /// the caller keeps until no runtime serves the sockets any more.
    pub fn into_std(self) -> io::Result<(Vec<StdListener>, ServerConfig, SocketFiles)> {
        let listeners = self
            .listeners
            .into_iter()
            .map(Listener::into_std)
            .collect::<io::Result<Vec<_>>>()?;
        Ok((listeners, self.config, self.files))
    }

    /// Listeners over already bound std sockets (copies made with `try_clone` share the
    /// socket: every runtime serving a copy accepts connections from it). Must be called
    /// inside the tokio runtime that will serve them.
    pub fn from_std(listeners: Vec<StdListener>, config: ServerConfig) -> io::Result<Listeners> {
        let listeners = listeners
            .into_iter()
            .map(Listener::from_std)
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Listeners {
            listeners,
            config,
            files: SocketFiles::default(),
        })
    }

    /// The counters this server updates (same `Arc` as `ServerConfig::stats`).
    pub fn stats(&self) -> &Arc<HttpStats> {
        &self.config.stats
    }

    /// Accept and serve connections until `shutdown` completes; then stop accepting, let
    /// in-flight requests finish (at most `shutdown_timeout`, after which their connections
    /// are dropped), close every connection and return.
    pub async fn serve<B: Backend>(
        self,
        backend: Arc<B>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        let Listeners {
            listeners,
            config,
            files,
        } = self;
        let shared = Arc::new(Shared::new(&config));
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut conns = JoinSet::new();
        let mut shutdown = pin!(shutdown);
        let mut next = 0usize;
        loop {
            tokio::select! {
                biased;
                _ = &mut shutdown => break,
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
                res = poll_fn(|cx| poll_accept(&listeners, &mut next, cx)) => match res {
                    Ok((stream, peer, idx)) => {
                        let state = Arc::new(ConnState::new(
                            shared.header_timeout,
                            shared.idle_timeout,
                        ));
                        let tls = match &shared.tls {
                            Some(tls) if config.tls.get(idx).copied().unwrap_or(false) => {
                                Some(tls.acceptor().clone())
                            }
                            _ => None,
                        };
                        let Some(key) = shared.registry.admit(&state, shared.max_connections)
                        else {
                            tracing::warn!(
                                peer = %peer,
                                "connection refused: too many connections"
                            );
                            // a TLS client would not understand a plain reply: just close
                            if tls.is_none() {
                                refuse(stream, &shared.stats);
                            }
                            continue;
                        };
                        let accepted = Accepted {
                            stream,
                            peer,
                            auth: config.auth.get(idx).copied().unwrap_or(false),
                            tls,
                            state,
                            key,
                        };
                        conns.spawn(run_connection(
                            accepted,
                            Arc::clone(&shared),
                            Arc::clone(&backend),
                            stop_rx.clone(),
                        ));
                    }
                    Err(e) => {
                        tracing::warn!(error = e.to_string(), "accept failed");
                        tokio::time::sleep(ACCEPT_BACKOFF).await
                    }
                },
            }
        }
        drop(listeners);
        drop(files);
        let _ = stop_tx.send(true);
        let drain = async { while conns.join_next().await.is_some() {} };
        if tokio::time::timeout(config.shutdown_timeout, drain)
            .await
            .is_err()
        {
            conns.shutdown().await;
        }
        Ok(())
    }
}

/// Refuse a connection at the cap: a 503 reply if the socket takes it at once, then close.
fn refuse(mut stream: Stream, stats: &HttpStats) {
    stats.add_refused();
    let reply = reply::raw_reply_close("503 Service Unavailable", MSG_TOO_MANY_CONNECTIONS);
    let _ = stream.try_write(&reply);
}

/// Accept from whichever listener is ready, starting the scan at a rotating index. Also
/// returns the peer's address and the index of the listener.
fn poll_accept(
    listeners: &[Listener],
    next: &mut usize,
    cx: &mut Context<'_>,
) -> Poll<io::Result<(Stream, Peer, usize)>> {
    let n = listeners.len();
    for i in 0..n {
        let idx = (*next + i) % n;
        if let Poll::Ready(res) = listeners[idx].poll_accept(cx) {
            *next = (idx + 1) % n;
            return Poll::Ready(res.map(|(stream, peer)| (stream, peer, idx)));
        }
    }
    Poll::Pending
}

/// Server-wide state shared by all connections.
struct Shared {
    limit_recv: Arc<AtomicU64>,
    stats: Arc<HttpStats>,
    log_connections: Arc<AtomicBool>,
    header_timeout: Duration,
    body_timeout: Duration,
    idle_timeout: Duration,
    max_connections: usize,
    registry: Arc<Registry>,
    memory_pool: Option<Arc<amelie_common::governor::MemoryPool>>,
    /// Serve `GET /metrics`, count replies and latencies.
    metrics: bool,
    builder: http1::Builder,
    /// The certificate of the TLS listeners.
    tls: Option<crate::TlsServer>,
}

impl Shared {
    fn new(config: &ServerConfig) -> Self {
        let mut builder = http1::Builder::new();
        builder
            .keep_alive(true)
            // a client that closes its end while its request runs has gone away: hyper then
            // drops the request, which cancels it (the executor stops its work)
            .half_close(false)
            .auto_date_header(false)
            // Our own header timer (ConnState) spares idle keep-alive connections, which
            // hyper's header_read_timeout would close.
            .header_read_timeout(None)
            .max_header_size(config.max_header_size.max(1024))
            .max_buf_size(config.max_header_size.max(64 * 1024));
        Shared {
            limit_recv: Arc::clone(&config.limit_recv),
            stats: Arc::clone(&config.stats),
            log_connections: Arc::clone(&config.log_connections),
            header_timeout: config.header_read_timeout,
            body_timeout: config.body_read_timeout,
            idle_timeout: config.idle_timeout,
            max_connections: config.max_connections,
            registry: Arc::clone(&config.connections),
            memory_pool: config.memory_pool.clone(),
            metrics: config.metrics,
            builder,
            tls: config.tls_server.clone(),
        }
    }
}

/// Per-connection context seen by the request handler.
struct ConnCtx<B> {
    backend: Arc<B>,
    shared: Arc<Shared>,
    state: Arc<ConnState>,
    session: Mutex<Session>,
    /// The connection id (the session's), for log lines.
    id: u64,
    /// The listener requires a token.
    auth: bool,
}

/// Decrements the open-connection counter, leaves the registry and logs the closing (when
/// the opening was logged) when the connection task ends (or is aborted).
struct OpenGuard {
    shared: Arc<Shared>,
    key: u64,
    state: Arc<ConnState>,
    /// Peer and id of a connection whose opening was logged.
    logged: Option<(Peer, u64)>,
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.shared.stats.connection_closed();
        self.shared.registry.remove(self.key);
        if let Some((peer, id)) = self.logged {
            let (requests, recv, sent) = self.state.counts();
            tracing::info!(peer = %peer, id, requests, recv, sent, "connection close");
        }
    }
}

/// Marks the connection idle again when the request handler finishes (or is dropped).
struct BusyGuard(Arc<ConnState>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.end_request();
    }
}

enum Outcome {
    Done(hyper::Result<()>),
    HeaderTimeout,
}

/// A connection admitted to the registry, not yet served.
struct Accepted {
    stream: Stream,
    peer: Peer,
    /// The listener requires a token.
    auth: bool,
    /// The listener speaks TLS: the handshake comes first.
    tls: Option<tokio_rustls::TlsAcceptor>,
    state: Arc<ConnState>,
    /// The connection's registry key.
    key: u64,
}

async fn run_connection<B: Backend>(
    accepted: Accepted,
    shared: Arc<Shared>,
    backend: Arc<B>,
    mut stop: watch::Receiver<bool>,
) {
    let Accepted {
        stream,
        peer,
        auth,
        tls,
        state,
        key,
    } = accepted;
    stream.set_nodelay();
    let stats = Arc::clone(&shared.stats);
    stats.connection_opened();
    // registry keys are unique over every frontend sharing the registry
    let id = key + 1;
    let logged = shared.log_connections.load(Ordering::Relaxed);
    if logged {
        tracing::info!(peer = %peer, id, "connection open");
    }
    let _open = OpenGuard {
        shared: Arc::clone(&shared),
        key,
        state: Arc::clone(&state),
        logged: logged.then_some((peer, id)),
    };
    let stream = match tls {
        None => stream,
        Some(acceptor) => {
            match tls_handshake(&acceptor, stream, &shared, &state, stop.clone()).await {
                Ok(stream) => stream,
                Err(why) => {
                    tracing::debug!(id, error = %why, "tls handshake failed");
                    return;
                }
            }
        }
    };

    let ctx = Arc::new(ConnCtx {
        backend,
        shared: Arc::clone(&shared),
        state: Arc::clone(&state),
        session: Mutex::new(Session::new(id)),
        id,
        auth,
    });
    let svc = service_fn(move |req: Request<Incoming>| {
        // Called as soon as the request head is parsed: stop the header timer now, before
        // hyper starts reading the body.
        ctx.state.begin_request();
        let busy = BusyGuard(Arc::clone(&ctx.state));
        let ctx = Arc::clone(&ctx);
        Box::pin(async move {
            let started = ctx.shared.metrics.then(Instant::now);
            let reply = handle(&ctx, req).await;
            if let (Some(started), Ok(reply)) = (started, &reply) {
                let micros = started.elapsed().as_micros().min(u64::MAX as u128) as u64;
                ctx.shared.stats.add_reply(reply.status().as_u16(), micros);
            }
            drop(busy);
            reply
        })
    });
    let io = CountingIo::new(stream, stats, Arc::clone(&state));
    let mut conn = shared.builder.serve_connection(TokioIo::new(io), svc);

    let stop_signal = async move {
        while !*stop.borrow_and_update() {
            if stop.changed().await.is_err() {
                break;
            }
        }
    };
    let mut stop_signal = pin!(stop_signal);
    let mut stopping = false;
    let mut evicted = pin!(state.evicted());
    // told to close once idle (idle timeout or making room for a new connection); hyper
    // closes at once when no request is under way, else after its reply
    let mut closing = false;
    let mut timer = pin!(tokio::time::sleep(Duration::ZERO));
    let mut armed = None;
    let outcome = poll_fn(|cx| {
        if !stopping && stop_signal.as_mut().poll(cx).is_ready() {
            stopping = true;
            Pin::new(&mut conn).graceful_shutdown();
        }
        if !closing && evicted.as_mut().poll(cx).is_ready() {
            closing = true;
            Pin::new(&mut conn).graceful_shutdown();
        }
        if let Poll::Ready(res) = conn.poll_without_shutdown(cx) {
            return Poll::Ready(Outcome::Done(res));
        }
        match state.deadline() {
            Some((_, Deadline::Idle)) if closing || stopping => armed = None,
            Some((deadline, kind)) => {
                if armed != Some(deadline) {
                    timer.as_mut().reset(deadline);
                    armed = Some(deadline);
                }
                if timer.as_mut().poll(cx).is_ready() {
                    match kind {
                        Deadline::Header => return Poll::Ready(Outcome::HeaderTimeout),
                        Deadline::Idle => {
                            closing = true;
                            Pin::new(&mut conn).graceful_shutdown();
                            // poll the connection again: it closes now
                            cx.waker().wake_by_ref();
                        }
                    }
                }
            }
            None => armed = None,
        }
        Poll::Pending
    })
    .await;

    match outcome {
        Outcome::Done(Ok(())) if !state.linger() => {}
        Outcome::HeaderTimeout => {
            tracing::debug!(id, "request header read timeout");
            // hyper is part-way through the head: answer for it, without waiting
            let mut io = conn.into_parts().io.into_inner();
            let _ = io
                .inner
                .try_write(&reply::raw_error_close(MSG_HEADER_TIMEOUT));
        }
        // Closed after a reply that left request bytes unread, or after a protocol error
        // (hyper has already written its 400/431 if it could).
        Outcome::Done(_) => {
            // When the server is stopping, close at once.
            if !stopping {
                let io = conn.into_parts().io.into_inner();
                tokio::select! {
                    _ = linger_close(io) => {}
                    _ = stop_signal => {}
                }
            }
        }
    }
}

/// The server side of a TLS handshake on `stream`. It goes like a request head: it must end
/// within the header timeout (so a silent client cannot hold a connection slot), and it
/// is given up when the server stops or the connection is chosen to make room for another.
/// A failed handshake (a plain HTTP client, garbage, a client that does not trust the
/// certificate) is an error: the connection just closes (rustls has sent its alert if any).
async fn tls_handshake(
    acceptor: &tokio_rustls::TlsAcceptor,
    stream: Stream,
    shared: &Shared,
    state: &ConnState,
    mut stop: watch::Receiver<bool>,
) -> Result<Stream, String> {
    let stopping = async move {
        while !*stop.borrow_and_update() {
            if stop.changed().await.is_err() {
                break;
            }
        }
    };
    tokio::select! {
        res = tokio::time::timeout(shared.header_timeout, acceptor.accept(stream)) => match res {
            Ok(Ok(tls)) => Ok(Stream::Tls(Box::new(tls))),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("timed out".to_string()),
        },
        _ = state.evicted() => Err("closed to make room for a new connection".to_string()),
        _ = stopping => Err("server stopping".to_string()),
    }
}

/// Half-close the connection, then discard what the client still sends for a while.
async fn linger_close(mut io: CountingIo) {
    if io.shutdown().await.is_err() {
        return;
    }
    let mut buf = vec![0u8; 16 * 1024];
    let drain = async {
        while let Ok(n) = io.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

enum BodyError {
    Limit,
    Timeout,
    /// The body's framing is broken, or the connection ended before it was complete.
    Broken,
    /// The server-wide memory pool has no room for it.
    ServerMemory,
}

impl BodyError {
    /// The error text of the 400 that answers it (the connection then closes).
    fn msg(&self) -> &'static str {
        match self {
            BodyError::Limit => MSG_LIMIT,
            BodyError::Timeout => MSG_BODY_TIMEOUT,
            BodyError::Broken => MSG_MALFORMED_BODY,
            BodyError::ServerMemory => amelie_common::governor::SERVER_MEMORY_LIMIT,
        }
    }
}

/// The memory a request body holds past [`BODY_FREE`], reserved from the server-wide pool
/// in steps of `BODY_FREE` (nothing without a pool; small bodies never touch it).
struct BodyMemory<'a> {
    pool: Option<&'a Arc<amelie_common::governor::MemoryPool>>,
    held: Option<amelie_common::governor::Reservation>,
}

impl<'a> BodyMemory<'a> {
    fn new(pool: Option<&'a Arc<amelie_common::governor::MemoryPool>>) -> Self {
        BodyMemory { pool, held: None }
    }

    fn hold(&mut self, bytes: usize) -> Result<(), BodyError> {
        let Some(pool) = self.pool else {
            return Ok(());
        };
        if bytes <= BODY_FREE {
            return Ok(());
        }
        let r = self.held.get_or_insert_with(|| pool.reservation());
        if bytes > r.bytes() {
            r.grow_to(bytes.next_multiple_of(BODY_FREE))
                .map_err(|_| BodyError::ServerMemory)?;
        }
        Ok(())
    }
}

/// Read the whole body; at `limit` bytes or more give up with [`BodyError::Limit`]. What
/// it holds past [`BODY_FREE`] is reserved in `memory` (else [`BodyError::ServerMemory`]).
async fn read_body(
    body: &mut Incoming,
    limit: u64,
    declared: Option<u64>,
    timeout: Duration,
    memory: &mut BodyMemory<'_>,
) -> Result<Vec<u8>, BodyError> {
    let prealloc = declared.unwrap_or(0).min(MAX_PREALLOC) as usize;
    memory.hold(prealloc)?;
    let mut data = Vec::with_capacity(prealloc);
    loop {
        let frame = match tokio::time::timeout(timeout, body.frame()).await {
            Err(_) => return Err(BodyError::Timeout),
            Ok(None) => return Ok(data),
            Ok(Some(Err(_))) => return Err(BodyError::Broken),
            Ok(Some(Ok(frame))) => frame,
        };
        if let Ok(chunk) = frame.into_data() {
            if (data.len() as u64).saturating_add(chunk.len() as u64) >= limit {
                return Err(BodyError::Limit);
            }
            memory.hold(data.len() + chunk.len())?;
            data.extend_from_slice(&chunk);
        }
    }
}

/// The body limit of a request: `limit_recv`, or for `Am-Service: repl` what
/// [`Backend::repl_recv_limit`] allows its `Am-Id` (never less than `limit_recv`).
fn recv_limit<B: Backend>(backend: &B, headers: &hyper::HeaderMap, limit_recv: &AtomicU64) -> u64 {
    let limit = limit_recv.load(Ordering::Relaxed);
    let repl = headers
        .get(HEADER_SERVICE)
        .is_some_and(|v| v.as_bytes() == b"repl");
    if !repl {
        return limit;
    }
    headers
        .get(HEADER_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| !id.is_empty())
        .and_then(|id| backend.repl_recv_limit(id))
        .map_or(limit, |repl| repl.max(limit))
}

/// Longest request body [`limit_exempt`] looks at.
const EXEMPT_MAX: usize = 64;

/// Is `body` a `SET limit_recv TO <digits>` statement (keywords in any case, optional `;`)?
/// Such a request is served whatever `limit_recv` is, so a limit too small for any request
/// cannot lock clients out: the statement that raises it again always gets through.
fn limit_exempt(body: &[u8]) -> bool {
    if body.len() > EXEMPT_MAX {
        return false;
    }
    let Ok(text) = std::str::from_utf8(body) else {
        return false;
    };
    let text = text.trim();
    let text = text.strip_suffix(';').unwrap_or(text);
    // keywords in any case; variable names are case-sensitive
    let mut words = text.split_ascii_whitespace();
    let (Some(set), Some("limit_recv"), Some(to), Some(n), None) = (
        words.next(),
        words.next(),
        words.next(),
        words.next(),
        words.next(),
    ) else {
        return false;
    };
    set.eq_ignore_ascii_case("set")
        && to.eq_ignore_ascii_case("to")
        && n.bytes().all(|b| b.is_ascii_digit())
}

/// Is the request target exactly `/`?
fn is_root(uri: &Uri) -> bool {
    uri.scheme().is_none()
        && uri.authority().is_none()
        && uri.path() == "/"
        && uri.query().is_none()
}

/// The answer to a request whose execution panicked (a bug): the client gets an error
/// instead of a dropped connection, and the frontend keeps serving.
const MSG_PANIC: &str = "internal error while running the request";

/// A future that turns a panic while it is polled into `None`.
struct CatchUnwind<'a, F>(std::pin::Pin<&'a mut F>);

impl<F: std::future::Future> std::future::Future for CatchUnwind<'_, F> {
    type Output = Option<F::Output>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        use std::task::Poll;
        let inner = self.get_mut().0.as_mut();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || inner.poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Some(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => Poll::Ready(None),
        }
    }
}

/// A request with `Am-Service` (spec §1.8): `backup` on `/` goes to [`Backend::backup`],
/// with `Am-File` (and `Am-File-Size`) when it asks for a file; `repl` on `/` goes to
/// [`Backend::repl`] with its `Am-Id`, `Am-Lsn` and body; anything else is refused with a
/// 400.
async fn service_request<B: Backend>(
    ctx: &ConnCtx<B>,
    parts: &hyper::http::request::Parts,
    service: &hyper::header::HeaderValue,
    user: Option<String>,
    data: &[u8],
) -> Reply {
    let Ok(name) = service.to_str() else {
        return reply::error(MSG_HEADER_TEXT);
    };
    match name {
        "backup" => {}
        "repl" => return repl_request(ctx, parts, user, data).await,
        other => return reply::error(&msg_unknown_service(other)),
    }
    if !is_root(&parts.uri) {
        return reply::error(MSG_UNSUPPORTED);
    }
    let request = match parts.headers.get(HEADER_FILE) {
        None => BackupRequest::Start,
        Some(path) => {
            let Ok(path) = path.to_str() else {
                return reply::error(MSG_HEADER_TEXT);
            };
            let size = match parts.headers.get(HEADER_FILE_SIZE) {
                None => None,
                Some(v) => match v.to_str().ok().and_then(|t| t.parse::<u64>().ok()) {
                    Some(n) => Some(n),
                    None => return reply::error(MSG_FILE_SIZE),
                },
            };
            BackupRequest::File { path, size }
        }
    };
    let mut session = ctx.session.lock().await;
    session.user = user;
    let run = std::pin::pin!(ctx.backend.backup(&mut session, request));
    match CatchUnwind(run).await {
        Some(Ok(BackupReply::State(body))) => reply::ok(body),
        Some(Ok(BackupReply::File { file, size })) => reply::file(file, size),
        Some(Err(e)) => {
            tracing::debug!(id = ctx.id, error = e.msg(), kind = ?e.kind(), "backup error");
            reply::error(e.msg())
        }
        None => {
            tracing::error!(id = ctx.id, "backup request panicked");
            reply::error(MSG_PANIC)
        }
    }
}

/// An `Am-Service: repl` request: `/`, `application/octet-stream` (or no content type
/// with an empty body), a plain-text `Am-Id` and an integer `Am-Lsn`.
async fn repl_request<B: Backend>(
    ctx: &ConnCtx<B>,
    parts: &hyper::http::request::Parts,
    user: Option<String>,
    data: &[u8],
) -> Reply {
    if !is_root(&parts.uri) {
        return reply::error(MSG_UNSUPPORTED);
    }
    match parts.headers.get(CONTENT_TYPE) {
        Some(v)
            if v.as_bytes()
                .eq_ignore_ascii_case(b"application/octet-stream") => {}
        None if data.is_empty() => {}
        _ => return reply::error(MSG_REPL_CONTENT_TYPE),
    }
    let Some(primary) = parts
        .headers
        .get(HEADER_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
    else {
        return reply::error(MSG_REPL_ID);
    };
    let Some(lsn) = parts
        .headers
        .get(HEADER_LSN)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
    else {
        return reply::error(MSG_REPL_LSN);
    };
    let request = ReplRequest {
        primary,
        lsn,
        body: data,
    };
    let mut session = ctx.session.lock().await;
    session.user = user;
    let run = std::pin::pin!(ctx.backend.repl(&mut session, request));
    match CatchUnwind(run).await {
        Some(Ok(ReplReply { id, lsn })) => reply::repl(&id, lsn),
        Some(Err(e)) => {
            tracing::debug!(id = ctx.id, error = e.msg(), kind = ?e.kind(), "repl error");
            reply::error(e.msg())
        }
        None => {
            tracing::error!(id = ctx.id, "repl request panicked");
            reply::error(MSG_PANIC)
        }
    }
}

async fn handle<B: Backend>(ctx: &ConnCtx<B>, req: Request<Incoming>) -> io::Result<Reply> {
    let shared = &ctx.shared;
    shared.stats.add_request();

    // `GET /metrics` when it is on; otherwise a GET is refused like any other method
    let metrics = shared.metrics && req.method() == Method::GET && req.uri().path() == "/metrics";
    if req.method() != Method::POST && !metrics {
        ctx.state.set_linger();
        return Ok(reply::forbidden());
    }
    let user = match req.headers().get(AUTHORIZATION) {
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .and_then(|token| ctx.backend.token_user(token)),
        None if ctx.auth => None,
        None => Some(String::new()),
    };
    let Some(user) = user else {
        ctx.state.set_linger();
        return Ok(reply::forbidden());
    };
    if metrics {
        let mut out = String::with_capacity(8 * 1024);
        shared.stats.render_metrics(&mut out);
        ctx.backend.metrics(&mut out);
        return Ok(reply::metrics(out));
    }
    // the request's user matters on listeners that require a token only
    let user = if ctx.auth { Some(user) } else { None };

    let (parts, mut body) = req.into_parts();
    let limit = recv_limit(ctx.backend.as_ref(), &parts.headers, &shared.limit_recv);
    let declared = if parts.headers.contains_key(CONTENT_LENGTH) {
        body.size_hint().exact()
    } else {
        None
    };
    // A limit too small for a short request: read up to `EXEMPT_MAX` bytes anyway, so that
    // `SET limit_recv TO <n>` still goes through (see `limit_exempt`).
    let read_limit = limit.max(EXEMPT_MAX as u64 + 1);
    if declared.is_some_and(|len| len >= read_limit) {
        // The body is left unread: reply and close.
        ctx.state.set_linger();
        return Ok(reply::error_close(MSG_LIMIT));
    }
    // held until the request has run: the body, then the SQL text made of it
    let mut memory = BodyMemory::new(shared.memory_pool.as_ref());
    let data = match read_body(
        &mut body,
        read_limit,
        declared,
        shared.body_timeout,
        &mut memory,
    )
    .await
    {
        Ok(data) if data.len() as u64 >= limit && !limit_exempt(&data) => {
            ctx.state.set_linger();
            return Ok(reply::error_close(MSG_LIMIT));
        }
        Ok(data) => data,
        // past the limit, too slow, a broken chunk (or the client closed its end before the
        // body was complete: the reply goes nowhere), or no room in the memory pool
        Err(e) => {
            match e {
                BodyError::ServerMemory => {
                    tracing::warn!(id = ctx.id, error = e.msg(), "request refused")
                }
                _ => tracing::debug!(id = ctx.id, error = e.msg(), "request body error"),
            }
            ctx.state.set_linger();
            return Ok(reply::error_close(e.msg()));
        }
    };
    drop(body);

    // an internal service is chosen by its header, whatever the content type
    if let Some(service) = parts.headers.get(HEADER_SERVICE) {
        return Ok(service_request(ctx, &parts, service, user, &data).await);
    }

    let Some(content_type) = parts.headers.get(CONTENT_TYPE) else {
        return Ok(reply::error(MSG_NO_CONTENT_TYPE));
    };
    let content_type = content_type.to_str().unwrap_or("");
    let reply = match ContentKind::of(content_type) {
        ContentKind::Unsupported => reply::error(MSG_UNSUPPORTED),
        ContentKind::Sql => {
            if !is_root(&parts.uri) {
                return Ok(reply::error(MSG_UNSUPPORTED));
            }
            let Ok(sql) = String::from_utf8(data) else {
                return Ok(reply::error(MSG_UTF8));
            };
            let mut session = ctx.session.lock().await;
            session.user = user;
            let run = std::pin::pin!(ctx.backend.execute(&mut session, sql));
            match CatchUnwind(run).await {
                Some(Ok(Some(body))) => reply::ok(body),
                Some(Ok(None)) => reply::no_content(),
                Some(Err(e)) => {
                    tracing::debug!(id = ctx.id, error = e.msg(), kind = ?e.kind(), "request error");
                    reply::error(e.msg())
                }
                None => {
                    tracing::error!(id = ctx.id, "request panicked");
                    reply::error(MSG_PANIC)
                }
            }
        }
        ContentKind::Import => {
            // origin form only (`/schema/table`): an absolute-form target
            // (`http://host/schema/table`) is refused
            if parts.uri.scheme().is_some() || parts.uri.authority().is_some() {
                return Ok(reply::error(MSG_URI_PATH));
            }
            let Some((schema, table)) = parse_import_path(parts.uri.path()) else {
                return Ok(reply::error(MSG_URI_PATH));
            };
            let Ok(text) = String::from_utf8(data) else {
                return Ok(reply::error(MSG_UTF8));
            };
            let query = parts.uri.query();
            let mut session = ctx.session.lock().await;
            session.user = user;
            let run = std::pin::pin!(ctx.backend.import(
                &mut session,
                schema,
                table,
                content_type,
                query,
                text
            ));
            match CatchUnwind(run).await {
                Some(Ok(())) => reply::no_content(),
                Some(Err(e)) => {
                    tracing::debug!(id = ctx.id, error = e.msg(), kind = ?e.kind(), "import error");
                    reply::error(e.msg())
                }
                None => {
                    tracing::error!(id = ctx.id, "import panicked");
                    reply::error(MSG_PANIC)
                }
            }
        }
    };
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_set_limit_recv_is_exempt() {
        for ok in [
            "set limit_recv to 1048576",
            "SET limit_recv TO 5;",
            "  set\tlimit_recv\nto 0 ; ",
        ] {
            assert!(limit_exempt(ok.as_bytes()), "{ok}");
        }
        let long = format!("set limit_recv to {}", "1".repeat(EXEMPT_MAX));
        for bad in [
            "select 1",
            "set limit_send to 5",
            "set LIMIT_RECV to 5",
            "set limit_recv to",
            "set limit_recv to 5 5",
            "set limit_recv to 5; select 1",
            "set limit_recv to -5",
            "set limit_recv to '5'",
            long.as_str(),
        ] {
            assert!(!limit_exempt(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn a_panicking_future_is_an_answer() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let ok = rt.block_on(async {
            let f = std::pin::pin!(async { 7 });
            CatchUnwind(f).await
        });
        assert_eq!(ok, Some(7));
        let bad: Option<i32> = rt.block_on(async {
            let f = std::pin::pin!(async {
                tokio::task::yield_now().await;
                panic!("a bug")
            });
            CatchUnwind(f).await
        });
        assert_eq!(bad, None);
    }

    #[test]
    fn root_is_exact() {
        let root = |s: &str| is_root(&s.parse::<Uri>().unwrap());
        assert!(root("/"));
        for s in ["/?", "/?a", "//", "/x", "http://h/", "*"] {
            assert!(!root(s), "{s}");
        }
    }

    /// A backend subscribed to primary `p`.
    struct Subscribed;

    impl Backend for Subscribed {
        async fn execute(
            &self,
            _: &mut Session,
            _: String,
        ) -> Result<Option<String>, amelie_common::Error> {
            Ok(None)
        }

        fn repl_recv_limit(&self, primary: &str) -> Option<u64> {
            (primary == "p").then_some(1 << 32)
        }
    }

    /// Only `Am-Service: repl` from the primary the backend names gets its limit; every
    /// other request keeps `limit_recv`, and the larger of the two applies.
    #[test]
    fn only_the_subscribed_primary_sends_past_limit_recv() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut h = hyper::HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, hyper::header::HeaderValue::from_static(v));
            }
            h
        };
        let recv = AtomicU64::new(1000);
        let limit = |pairs| recv_limit(&Subscribed, &headers(pairs), &recv);
        assert_eq!(
            limit(&[(HEADER_SERVICE, "repl"), (HEADER_ID, "p")]),
            1 << 32
        );
        for other in [
            &[(HEADER_SERVICE, "repl"), (HEADER_ID, "q")][..],
            &[(HEADER_SERVICE, "repl"), (HEADER_ID, "")],
            &[(HEADER_SERVICE, "repl")],
            &[(HEADER_SERVICE, "backup"), (HEADER_ID, "p")],
            &[(HEADER_ID, "p")],
            &[],
        ] {
            assert_eq!(limit(other), 1000, "{other:?}");
        }
        recv.store(u64::MAX, Ordering::Relaxed);
        assert_eq!(
            limit(&[(HEADER_SERVICE, "repl"), (HEADER_ID, "p")]),
            u64::MAX
        );
    }
}
