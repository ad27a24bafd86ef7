//! Wiring: recovery, compute nodes, the executor and the HTTP front end.

use crate::backup::Running;
use crate::config::Config;
use crate::repo::Repo;
use amelie_common::random::uuid_v4;
use amelie_common::Error;
use amelie_executor::{Executor, ExecutorConfig, SessionCtx};
use amelie_http::{
    Backend, BackupReply, BackupRequest, ReplReply, ReplRequest, ServerConfig, Session,
};
use amelie_wal::WalConfig;
use std::net::ToSocketAddrs;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Server variables for `SHOW`, `SET` and `system.config()`.
struct ConfigState {
    config: parking_lot::Mutex<Config>,
    repo: Repo,
    directory: String,
    limit_recv: Arc<AtomicU64>,
    /// `log_connections`, read by the HTTP server as each connection opens.
    log_connections: Arc<AtomicBool>,
    http: Arc<amelie_http::HttpStats>,
    /// `checkpoint_interval` in milliseconds (0: no periodic checkpoints), read by the
    /// checkpoint task so `SET checkpoint_interval` applies at once.
    checkpoint_every_ms: Arc<AtomicU64>,
    /// The hidden test variables (never stored).
    test: parking_lot::Mutex<crate::config::TestVars>,
}

/// `checkpoint_interval` text as milliseconds (0: off); an unparsable interval is an error.
fn checkpoint_ms(text: &str) -> Result<u64, Error> {
    if text.trim().is_empty() {
        return Ok(0);
    }
    amelie_common::time::parse_interval(text)
        .map_err(|_| Error::syntax(format!("checkpoint_interval: invalid interval '{text}'")))?;
    Ok(amelie_executor::checkpoint::interval_duration(text)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0))
}

fn to_json(v: &serde_json::Value) -> amelie_common::Json {
    amelie_common::Json::parse(&v.to_string()).unwrap_or(amelie_common::Json::Null)
}

impl amelie_executor::ConfigSource for ConfigState {
    fn net(&self) -> (u64, u64, u64) {
        (
            self.http.connections(),
            self.http.sent_bytes(),
            self.http.recv_bytes(),
        )
    }

    fn show_all(&self, state: amelie_executor::EngineState) -> Vec<(String, amelie_common::Json)> {
        let config = self.config.lock();
        let rt = crate::config::RuntimeVars {
            directory: self.directory.clone(),
            timezone: config.timezone_default.clone(),
            checkpoint: state.checkpoint,
            read_only: state.read_only,
            lsn: state.lsn,
            psn: state.psn,
        };
        config
            .show_all_with(&rt)
            .into_iter()
            .map(|(n, v)| (n.to_string(), to_json(&v)))
            .collect()
    }

    fn get(&self, name: &str) -> Option<amelie_common::Json> {
        if let Some(v) = self.test.lock().get(name) {
            return Some(to_json(&v));
        }
        // a hidden variable is left out of SHOW ALL only; the secret ones not even that
        let def = crate::config::var_def(name).filter(|d| d.option)?;
        self.config.lock().get(def.name).map(|v| to_json(&v))
    }

    fn set(&self, name: &str, value: &amelie_common::Value) -> Result<(), Error> {
        use amelie_common::Value as V;
        if crate::config::TestVars::type_of(name).is_some() {
            return self.test.lock().set(name, value);
        }
        let def = crate::config::var_def(name)
            .filter(|d| !d.hidden || d.runtime)
            .ok_or_else(|| Error::not_found(format!("SET '{name}': variable not found")))?;
        if !def.runtime {
            return Err(Error::unsupported(format!(
                "SET '{name}': variable is read-only"
            )));
        }
        if !crate::config::set_value_fits(def.ty, value) {
            return Err(crate::config::set_type_error(name, def.ty));
        }
        let json = match value {
            V::Bool(b) => serde_json::Value::Bool(*b),
            V::Int(i) if *i >= 0 => serde_json::Value::from(*i as u64),
            V::Str(s) => serde_json::Value::String(s.to_string()),
            _ => serde_json::Value::Null,
        };
        if name == "wal_rotate_wm" {
            // a tiny value means a WAL file per transaction
            let min = crate::config::MIN_WAL_ROTATE_WM_SET;
            if json.as_u64().is_some_and(|v| v < min) {
                return Err(Error::type_error(format!("value must be at least {min}")));
            }
        }
        let mut config = self.config.lock();
        let mut next = config.clone();
        // SET names the option itself: the answer is the problem alone
        next.set_option(name, &json)
            .map_err(|e| Error::with_kind(e.kind(), e.problem()))?;
        if name == "checkpoint_interval" {
            let ms = checkpoint_ms(&next.checkpoint_interval)?;
            self.checkpoint_every_ms
                .store(ms, std::sync::atomic::Ordering::Relaxed);
        }
        if name == "limit_recv" {
            self.limit_recv
                .store(next.limit_recv, std::sync::atomic::Ordering::Relaxed);
        }
        if name == "log_connections" {
            self.log_connections
                .store(next.log_connections, std::sync::atomic::Ordering::Relaxed);
        }
        self.repo.save_config(&next)?;
        *config = next;
        tracing::info!(name = %name, value = %json, "config: set");
        Ok(())
    }

    fn repl(&self) -> amelie_executor::ReplState {
        let config = self.config.lock();
        amelie_executor::ReplState {
            active: config.repl,
            primary: config.repl_primary.to_ascii_lowercase(),
            replicas: amelie_executor::admin::repl::replicas_from_json(&to_json(&config.replicas)),
        }
    }

    fn save_repl(&self, state: &amelie_executor::ReplState) -> Result<(), Error> {
        let mut config = self.config.lock();
        let mut next = config.clone();
        next.repl = state.active;
        next.repl_primary = state.primary.clone();
        let text =
            amelie_executor::admin::repl::replicas_to_json(&state.replicas).to_compact_string();
        next.replicas =
            serde_json::from_str(&text).map_err(|e| Error::internal(format!("replicas: {e}")))?;
        self.repo.save_config(&next)?;
        *config = next;
        Ok(())
    }

    fn users(&self) -> Vec<amelie_executor::admin::users::User> {
        amelie_executor::admin::users::users_from_json(&to_json(&self.config.lock().users))
    }

    fn update_users(
        &self,
        f: &mut dyn FnMut(&mut Vec<amelie_executor::admin::users::User>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut config = self.config.lock();
        let mut users = amelie_executor::admin::users::users_from_json(&to_json(&config.users));
        f(&mut users)?;
        let text = amelie_executor::admin::users::users_to_json(&users).to_compact_string();
        let mut next = config.clone();
        next.users = serde_json::from_str(&text).map_err(|e| Error::auth(format!("users: {e}")))?;
        self.repo.save_config(&next)?;
        *config = next;
        Ok(())
    }
}

/// The HTTP backend: every request goes to the executor.
pub struct Server {
    exec: Executor,
    /// The zone of `timezone_default`.
    default_zone: amelie_common::Tz,
    /// The configuration and the repository (a backup sends `config.json` and reads files).
    config: Arc<ConfigState>,
}

impl Server {
    /// Execution context of a connection: its `SET timezone` or the server default, as a
    /// [`amelie_common::Tz`] so timestamps follow the zone's daylight-saving rules.
    fn session_ctx(&self, session: &Session) -> SessionCtx {
        let mut ctx = SessionCtx {
            tz: self.default_zone,
            user: session.user.clone(),
            ..Default::default()
        };
        if let Some(tz) = &session.timezone {
            ctx.tz = amelie_common::Tz::lookup(tz).unwrap_or(self.default_zone);
            ctx.timezone = Some(tz.clone());
        }
        ctx
    }
}

impl Backend for Server {
    fn authenticate(&self, token: &str) -> bool {
        self.token_user(token).is_some()
    }

    fn token_user(&self, token: &str) -> Option<String> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        amelie_executor::admin::users::validate_token(token, &self.exec.users(), now)
            .map(|(name, _)| name)
    }

    async fn execute(&self, session: &mut Session, sql: String) -> Result<Option<String>, Error> {
        let mut ctx = self.session_ctx(session);
        let result = self.exec.execute_session(&sql, &mut ctx).await;
        session.timezone = ctx.timezone;
        result
    }

    async fn import(
        &self,
        session: &mut Session,
        schema: &str,
        table: &str,
        content_type: &str,
        query: Option<&str>,
        body: String,
    ) -> Result<(), Error> {
        let ctx = self.session_ctx(session);
        self.exec
            .import(schema, table, content_type, query, &body, &ctx)
            .await
    }

    fn metrics(&self, out: &mut String) {
        self.exec.render_metrics(out);
    }

    fn repl_recv_limit(&self, primary: &str) -> Option<u64> {
        let config = self.config.config.lock();
        let subscribed =
            !config.repl_primary.is_empty() && config.repl_primary.eq_ignore_ascii_case(primary);
        (config.repl && subscribed).then_some(crate::stream::REPL_RECV_MAX)
    }

    async fn repl(
        &self,
        _session: &mut Session,
        request: ReplRequest<'_>,
    ) -> Result<ReplReply, Error> {
        use amelie_executor::ConfigSource;
        let state = self.config.repl();
        let uuid = self.config.config.lock().uuid.clone();
        crate::stream::accept(&self.exec, &state, &uuid, request).await
    }

    async fn backup(
        &self,
        session: &mut Session,
        request: BackupRequest<'_>,
    ) -> Result<BackupReply, Error> {
        let repo = &self.config.repo.dir;
        match request {
            BackupRequest::Start => {
                // the copy holds every user's secret: only where users are managed
                if let Some(user) = &session.user {
                    return Err(Error::auth(crate::backup::msg_denied(user)));
                }
                // a new backup on the connection replaces (and releases) the previous one
                session.service = None;
                let pin = self.exec.backup().await?;
                let config = self.config.config.lock().to_json_pretty();
                let (running, body) = Running::new(pin, repo, &config)?;
                session.service = Some(Box::new(running));
                Ok(BackupReply::State(body))
            }
            BackupRequest::File { path, size } => {
                let Some(running) = session
                    .service
                    .as_mut()
                    .and_then(|s| s.downcast_mut::<Running>())
                else {
                    return Err(Error::new(crate::backup::MSG_NO_BACKUP));
                };
                let (file, size, done) = running.open(repo, path, size)?;
                if done {
                    tracing::info!(
                        id = session.id,
                        checkpoint = running.checkpoint(),
                        "backup: every file handed out, released"
                    );
                    session.service = None;
                }
                Ok(BackupReply::File { file, size })
            }
        }
    }
}

/// File descriptors kept free of HTTP connections (WAL files, checkpoints, listeners).
const FD_RESERVE: u64 = 256;

/// The connection cap: `limit_connections` (0: none), lowered to fit the process's file
/// descriptor limit so that the cap, not `accept` failing, decides who gets in.
fn connection_cap(limit: u64) -> usize {
    let fit = open_files_limit()
        .filter(|&n| n > 2 * FD_RESERVE)
        .map(|n| n - FD_RESERVE);
    let cap = match (limit, fit) {
        (0, Some(fit)) => fit,
        (0, None) => 0,
        (limit, Some(fit)) => limit.min(fit),
        (limit, None) => limit,
    };
    usize::try_from(cap).unwrap_or(usize::MAX)
}

/// The soft `Max open files` limit of this process (from `/proc/self/limits`).
fn open_files_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The name of the unix socket every server listens on in its repository (no auth).
pub const REPO_SOCKET: &str = "amelie.sock";

/// Longest path a unix socket address holds (`sun_path` less its terminating zero).
const MAX_SOCKET_PATH: usize = 107;

/// Where a TLS file option (`tls_cert`, `tls_key`) points: relative to the repository,
/// unless absolute or starting with `./` or `../` (then relative to the working directory).
// Unlike the client's rule (amelie_client::tls: as given) on purpose: a client has no repo.
fn tls_path(repo: &std::path::Path, text: &str) -> std::path::PathBuf {
    let path = std::path::Path::new(text);
    if path.is_absolute() || text.starts_with("./") || text.starts_with("../") {
        path.to_path_buf()
    } else {
        repo.join(path)
    }
}

/// The certificate and key of the TLS listeners (`tls_cert`, `tls_key`), when a `listen`
/// entry has `tls`. Without them, or when they do not load, the server does not start:
/// `server: listen[] <tls> requires a valid server certificate` (with the reason after it
/// in parentheses when a file is the problem). `tls_ca` and `tls_capath` are not used by
/// the server: client certificates are not verified.
fn tls_server(
    config: &Config,
    repo: &std::path::Path,
) -> Result<Option<amelie_http::TlsServer>, Error> {
    if !config.listen.iter().any(|l| l.tls) {
        return Ok(None);
    }
    let no_cert = amelie_http::MSG_TLS_NO_CERT;
    if config.tls_cert.is_empty() || config.tls_key.is_empty() {
        return Err(Error::not_found(format!("server: {no_cert}")));
    }
    let cert = tls_path(repo, &config.tls_cert);
    let key = tls_path(repo, &config.tls_key);
    let server = amelie_http::TlsServer::from_pem_files(&cert, &key)
        .map_err(|e| Error::with_kind(e.kind(), format!("server: {no_cert} ({})", e.msg())))?;
    if !config.tls_ca.is_empty() || !config.tls_capath.is_empty() {
        tracing::info!("tls_ca and tls_capath are not used by the server: client certificates are not verified");
    }
    Ok(Some(server))
}

/// The endpoints to listen on, each with its `auth` and `tls`: the `listen` entries in order
/// (a `path` relative to the repository unless absolute), then the repository's own unix
/// socket `<repo>/amelie.sock` (mode 0700, no auth, no TLS). The repository socket is left
/// out, with a warning, when its path is too long for a socket address.
fn listen_endpoints(
    config: &Config,
    repo: &std::path::Path,
) -> Result<Vec<(amelie_http::Endpoint, bool, bool)>, Error> {
    use amelie_http::Endpoint;
    let mut out = Vec::new();
    for l in &config.listen {
        if let Some(path) = &l.path {
            let path = repo.join(path);
            out.push((
                Endpoint::Unix {
                    path,
                    mode: l.socket_mode(),
                },
                l.auth,
                l.tls,
            ));
            continue;
        }
        let text = l.bind_addr();
        let mut addrs = text
            .to_socket_addrs()
            .map_err(|e| Error::io(format!("listen '{text}': {e}")))?;
        if let Some(addr) = addrs.next() {
            out.push((Endpoint::Tcp(addr), l.auth, l.tls));
        }
    }
    let own = repo.join(REPO_SOCKET);
    if own.as_os_str().len() > MAX_SOCKET_PATH {
        tracing::warn!(
            path = %own.display(),
            "the repository path is too long for a unix socket: not listening on it"
        );
    } else {
        out.push((
            Endpoint::Unix {
                path: own,
                mode: amelie_http::DEFAULT_SOCKET_MODE,
            },
            false,
            false,
        ));
    }
    Ok(out)
}

/// Resolves on SIGINT or SIGTERM (never, where the handlers cannot be installed).
pub(crate) async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        // without signal handlers the server runs until killed
        std::future::pending::<()>().await;
        return;
    };
    let signal = tokio::select! {
        _ = int.recv() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    };
    tracing::info!(signal = %signal, "shutdown requested");
}

/// Tells the main thread that a frontend thread ended (dropped when it does).
struct Ended(tokio::sync::mpsc::UnboundedSender<()>);

impl Drop for Ended {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

/// A single-threaded tokio runtime (each frontend thread runs its own, see [`run`]).
fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io(format!("runtime: {e}")))
}

/// A frontend thread's runtime: node replies are delivered in batches through the thread's
/// mailbox (see `amelie_executor::mailbox`).
fn frontend_runtime() -> Result<tokio::runtime::Runtime, Error> {
    let mut b = tokio::runtime::Builder::new_current_thread();
    b.enable_all();
    amelie_executor::mailbox::hooks(&mut b);
    let rt = b.build().map_err(|e| Error::io(format!("runtime: {e}")))?;
    let mailbox = amelie_executor::mailbox::install();
    rt.spawn(amelie_executor::mailbox::serve(mailbox));
    Ok(rt)
}

/// Runs the server in the foreground until SIGINT/SIGTERM.
///
/// Every frontend is an OS thread with a single-threaded tokio runtime of its own, accepting
/// connections from the same listening sockets: a request is served start to end on one
/// thread, nothing is stolen or handed over between frontends, and an idle frontend sleeps
/// in `epoll_wait` only. The main thread runs start-up, the periodic checkpoint and the
/// signal handling.
pub fn run(config: Config, repo: Repo) -> Result<(), Error> {
    run_until(config, repo, shutdown_signal())
}

/// [`run`] that stops when `stop` completes instead of on a signal: several servers in one
/// process (the fuzz runner's) can be stopped one by one.
pub fn run_until(
    config: Config,
    repo: Repo,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), Error> {
    let rt = runtime()?;
    let started = Instant::now();
    // a TLS listener without a usable certificate stops the start before recovery
    let tls_server = tls_server(&config, &repo.dir)?;
    let exec_config = ExecutorConfig {
        wal: WalConfig {
            dir: repo.wal_dir(),
            rotate_wm: config.wal_rotate_wm.max(crate::config::MIN_WAL_ROTATE_WM),
            sync_on_rotate: config.wal_sync_on_rotate,
            sync_on_write: config.wal_sync_on_write,
        },
        format: config.format.clone(),
        limit_send: config.limit_send,
        dir: Some(repo.dir.clone()),
    };
    let (exec, report) = Executor::open(exec_config)?;
    if report.checkpoint.lsn > 0 {
        tracing::info!(
            lsn = report.checkpoint.lsn,
            partitions = report.checkpoint.partitions,
            rows = report.checkpoint.rows,
            "checkpoint: loaded"
        );
    }
    // (a torn tail cut from the WAL is logged by the WAL as it cuts it)
    tracing::info!(
        wal_files = exec.wal_status().files,
        wal_records = report.records,
        changes = report.changes,
        lsn = report.last_lsn,
        seconds = format_args!("{:.3}", started.elapsed().as_secs_f64()),
        "recovery: done"
    );
    if report.checkpoint.lsn == 0 && report.records == 0 && exec.catalog().nodes.is_empty() {
        // checkpoint 1 at LSN 1 holds the node definitions: they consume no LSN
        let uuids = (0..config.backends).map(|_| uuid_v4()).collect();
        rt.block_on(exec.bootstrap(uuids))?;
        tracing::info!(nodes = config.backends, "bootstrap: created compute nodes");
    }
    exec.reset_wal_counters();
    let mut endpoints = Vec::new();
    let (mut auth, mut tls) = (Vec::new(), Vec::new());
    for (endpoint, a, t) in listen_endpoints(&config, &repo.dir)? {
        endpoints.push(endpoint);
        auth.push(a);
        tls.push(t);
    }
    let mut http = ServerConfig::with_endpoints(endpoints);
    http.tls = tls;
    http.tls_server = tls_server;
    http.limit_recv = Arc::new(AtomicU64::new(config.limit_recv));
    http.log_connections = Arc::new(AtomicBool::new(config.log_connections));
    http.auth = auth;
    http.max_connections = connection_cap(config.limit_connections);
    http.idle_timeout = Duration::from_millis(config.idle_timeout_ms);
    http.header_read_timeout = Duration::from_millis(config.header_timeout_ms.max(1));
    http.body_read_timeout = Duration::from_millis(config.body_timeout_ms.max(1));
    exec.set_limit_write(config.limit_write);
    exec.set_limit_memory(config.limit_memory);
    exec.set_limit_memory_total(config.limit_memory_total);
    http.memory_pool = Some(exec.memory_pool());
    http.metrics = config.metrics;
    exec.set_limit_time(config.limit_time);
    let checkpoint_every_ms = Arc::new(AtomicU64::new(checkpoint_ms(&config.checkpoint_interval)?));
    exec.set_checkpoint_workers(config.checkpoint_workers);
    let config_state = Arc::new(ConfigState {
        config: parking_lot::Mutex::new(config.clone()),
        directory: repo.dir.display().to_string(),
        repo,
        limit_recv: http.limit_recv.clone(),
        log_connections: http.log_connections.clone(),
        http: http.stats.clone(),
        checkpoint_every_ms: checkpoint_every_ms.clone(),
        test: Default::default(),
    });
    exec.set_config_source(config_state.clone());
    // the WAL streaming to the replicas (a thread of its own), then the replicas, role and
    // read-only mode from config.json
    let reconnect = config_state.clone();
    exec.set_streamer(Arc::new(crate::stream::WalStreamer::new(
        exec.wal_source(),
        config_state.repo.wal_dir(),
        config.uuid.clone(),
        Box::new(move || reconnect.config.lock().repl_reconnect_ms),
    )?));
    exec.open_repl()?;
    let default_zone = amelie_common::Tz::lookup(&config.timezone_default).ok_or_else(|| {
        Error::not_found(format!(
            "unable to find timezone '{}'",
            config.timezone_default
        ))
    })?;
    let server = Arc::new(Server {
        exec,
        default_zone,
        config: config_state,
    });
    let listeners = rt
        .block_on(amelie_http::bind(http))
        .map_err(|e| Error::new(format!("{e}")))?;
    for a in listeners.local_endpoints() {
        tracing::info!(addr = %a, "listening");
    }
    // the unix socket files stay until every frontend has stopped
    let (sockets, http, socket_files) = listeners
        .into_std()
        .map_err(|e| Error::io(format!("listen: {e}")))?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // a frontend that stops on its own (an error) stops the server
    let (ended_tx, mut ended) = tokio::sync::mpsc::unbounded_channel::<()>();
    let mut frontends = Vec::with_capacity(config.frontends.max(1));
    for _ in 0..config.frontends.max(1) {
        let sockets = sockets
            .iter()
            .map(|l| l.try_clone())
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(|e| Error::io(format!("listen: {e}")))?;
        let (server, http, mut stop) = (server.clone(), http.clone(), stop_rx.clone());
        let ended_tx = ended_tx.clone();
        let thread = std::thread::Builder::new()
            .name("frontend".into())
            .stack_size(amelie_common::THREAD_STACK)
            .spawn(move || -> Result<(), Error> {
                let _ended = Ended(ended_tx);
                let rt = frontend_runtime()?;
                // memory a burst of requests freed goes back once the frontend is idle
                rt.spawn(async {
                    loop {
                        tokio::time::sleep(amelie_common::idle::TICK).await;
                        amelie_common::idle::tick();
                    }
                });
                rt.block_on(async move {
                    let listeners = amelie_http::Listeners::from_std(sockets, http)
                        .map_err(|e| Error::io(format!("listen: {e}")))?;
                    let stopped = async move {
                        while !*stop.borrow_and_update() {
                            if stop.changed().await.is_err() {
                                break;
                            }
                        }
                    };
                    listeners
                        .serve(server, stopped)
                        .await
                        .map_err(|e| Error::io(format!("server: {e}")))
                })
            })
            .map_err(|e| Error::internal(format!("frontend thread: {e}")))?;
        frontends.push(thread);
    }
    drop(sockets);
    // periodic checkpoints every `checkpoint_interval` (re-read each second, so SET applies;
    // a no-op when nothing changed since the last one), until SIGINT/SIGTERM; the CPU load
    // of SHOW STATUS is sampled on the same tick
    {
        let s = server.clone();
        let every = checkpoint_every_ms.clone();
        rt.block_on(async move {
            let checkpoints = async move {
                let mut last = std::time::Instant::now();
                amelie_executor::admin::cpu::sample();
                loop {
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    // the per-thread CPU load of SHOW STATUS, over the last second
                    amelie_executor::admin::cpu::sample();
                    let ms = every.load(std::sync::atomic::Ordering::Relaxed);
                    if ms == 0 || (last.elapsed().as_millis() as u64) < ms {
                        continue;
                    }
                    last = std::time::Instant::now();
                    // a failure is logged by the executor
                    let _ = s.exec.checkpoint(None).await;
                }
            };
            tokio::select! {
                _ = checkpoints => {}
                _ = stop => {}
                _ = ended.recv() => tracing::error!("a frontend stopped: shutting down"),
            }
        });
    }
    let _ = stop_tx.send(true);
    let mut result = Ok(());
    for t in frontends {
        let r = t
            .join()
            .unwrap_or_else(|_| Err(Error::internal("frontend thread panicked")));
        if result.is_ok() {
            result = r;
        }
    }
    drop(socket_files);
    drop(rt);
    // stop the nodes and close the WAL (synced on drop)
    drop(server);
    tracing::info!("stopped");
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn tls_paths_are_relative_to_the_repository() {
        let repo = Path::new("/r");
        assert_eq!(tls_path(repo, "certs/a.pem"), Path::new("/r/certs/a.pem"));
        assert_eq!(tls_path(repo, "/etc/a.pem"), Path::new("/etc/a.pem"));
        assert_eq!(tls_path(repo, "./a.pem"), Path::new("./a.pem"));
        assert_eq!(tls_path(repo, "../a.pem"), Path::new("../a.pem"));
    }

    #[test]
    fn a_tls_listener_without_a_certificate_stops_the_start() {
        let repo = Path::new("/nonexistent-repo");
        let mut config = Config::default();
        assert!(tls_server(&config, repo).unwrap().is_none());
        config.listen[0].tls = true;
        let e = tls_server(&config, repo).unwrap_err();
        assert_eq!(
            e.msg(),
            "server: listen[] <tls> requires a valid server certificate"
        );
        config.tls_cert = "certs/server.pem".into();
        assert_eq!(tls_server(&config, repo).unwrap_err().msg(), e.msg());
        config.tls_key = "certs/server.key".into();
        let e = tls_server(&config, repo).unwrap_err();
        assert!(
            e.msg().starts_with(
                "server: listen[] <tls> requires a valid server certificate \
                 (tls_cert '/nonexistent-repo/certs/server.pem': "
            ),
            "{e}"
        );
    }
}
