//! An in-process Amelie server (the real `amelie_system::cli::main`, started once on a
//! background thread on a free loopback port in a temporary directory), talked to with the
//! shared dev-only client `amelie-testclient` (its raw socket helper for the fuzz inputs).
//! Being in-process, a panic on any server thread reaches the fuzz runner's panic hook, and
//! its allocations count against the input's memory bound.

use amelie_testclient::raw::{RawConn, Wait};
use amelie_testclient::{Client, Request};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub struct Server {
    pub port: u16,
    pub dir: PathBuf,
    /// Completing it stops the server (dropped: the server stops too).
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<i32>>,
}

impl Server {
    /// Stops the server, waits until its threads have ended and removes its directory.
    pub fn stop(mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Tables every in-process server starts with (the generators name `t`, `s` and `u`).
pub const SETUP: &[&str] = &[
    "create table t (id int primary key, a int, b text, j json, ts timestamp)",
    "create shared table s (g int primary key, name text)",
    "create table u (g int primary key, v vector)",
    "create schema __fuzz",
    "create table __fuzz.h (id int primary key)",
    "insert into __fuzz.h values (1), (2), (3)",
];

static TMP: OnceLock<PathBuf> = OnceLock::new();

/// Sets where [`temp_dir`] makes directories (once; default: the system temp dir).
pub fn set_temp_base(dir: PathBuf) {
    let _ = TMP.set(dir);
}

/// A fresh directory `amelie-fuzz-<pid>-<name>-<n>` (the runner removes them at the end).
pub fn temp_dir(name: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let base = TMP.get_or_init(std::env::temp_dir);
    let dir = base.join(format!("amelie-fuzz-{}-{name}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Starts a server on `dir` in this process and waits until it answers.
pub fn start(dir: &Path) -> Server {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        l.local_addr().expect("local addr").port()
    };
    let args = vec![
        "start".to_string(),
        dir.to_string_lossy().into_owned(),
        format!("--listen=[{{\"host\": \"127.0.0.1\", \"port\": {port}}}]"),
        "--backends=2".into(),
        "--frontends=1".into(),
        "--log_to_stdout=false".into(),
        // a run opens connections by the million: their lines would only fill the log
        "--log_connections=false".into(),
        "--timezone_default=UTC".into(),
    ];
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let until = async move {
        let _ = stopped.await;
    };
    let thread = std::thread::Builder::new()
        .name("fuzz-server".into())
        .spawn(move || amelie_system::cli::main_until(args, until))
        .expect("spawn the server thread");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok((200, body)) = sql(port, "select 1", Duration::from_secs(2)) {
            if body == "[1]" {
                break;
            }
        }
        assert!(
            !thread.is_finished(),
            "in-process server exited during start-up"
        );
        assert!(Instant::now() < deadline, "in-process server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Server {
        port,
        dir: dir.to_path_buf(),
        stop: Some(stop),
        thread: Some(thread),
    }
}

/// A server started with [`SETUP`] run on it.
pub fn start_with_setup(dir: &Path) -> Server {
    let s = start(dir);
    for q in SETUP {
        let _ = sql(s.port, q, Duration::from_secs(10));
    }
    s
}

/// The shared server of the `http` target, started with [`SETUP`] on first use.
pub fn shared() -> &'static Server {
    static S: OnceLock<Server> = OnceLock::new();
    S.get_or_init(|| start_with_setup(&temp_dir("http")))
}

/// Sends `bytes` on a new connection and reads the replies: until the server closes, or a
/// whole reply is in and nothing more comes for 10 ms, or `timeout` passes. When no reply
/// starts within 300 ms (or at once with `half_close`) the client half-closes, which the
/// server takes as the client leaving (requests in flight are cancelled). Returns what was
/// read (at most 1 MiB of it) and whether the server closed.
pub fn raw(
    port: u16,
    bytes: &[u8],
    half_close: bool,
    timeout: Duration,
) -> std::io::Result<(Vec<u8>, bool)> {
    let mut c = RawConn::local(port)?;
    // the server may close early (bad request): a failed write is not our business
    let _ = c.send(bytes);
    let out = c.read(&Wait {
        timeout,
        quiet: Some(Duration::from_millis(10)),
        half_close_after: Some(if half_close {
            Duration::ZERO
        } else {
            Duration::from_millis(300)
        }),
        max_bytes: 1 << 20,
    });
    Ok((out.bytes, out.closed))
}

/// A text/plain request on a connection of its own; returns the status and the body.
pub fn sql(port: u16, text: &str, timeout: Duration) -> std::io::Result<(u16, String)> {
    let mut c = Client::local_timeout(port, timeout)?;
    let r = c.request(&Request::sql(text).header("Connection", "close"))?;
    Ok((r.status, r.text()))
}
