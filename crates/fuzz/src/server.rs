//! An in-process Amelie server (the real `amelie_system::cli::main`, started once on a
//! background thread on a free loopback port in a temporary directory) and a minimal raw
//! HTTP/1.1 client for it. Being in-process, a panic on any server thread reaches the fuzz
//! runner's panic hook, and its allocations count against the input's memory bound.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
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
/// read and whether the server closed.
pub fn raw(
    port: u16,
    bytes: &[u8],
    half_close: bool,
    timeout: Duration,
) -> std::io::Result<(Vec<u8>, bool)> {
    let mut c = TcpStream::connect(("127.0.0.1", port))?;
    c.set_read_timeout(Some(Duration::from_millis(5)))?;
    c.set_nodelay(true)?;
    // the server may close early (bad request): a failed write is not our business
    let _ = c.write_all(bytes);
    let mut closed_write = false;
    if half_close {
        let _ = c.shutdown(Shutdown::Write);
        closed_write = true;
    }
    let start = Instant::now();
    let mut last_data = start;
    let mut out = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        match c.read(&mut buf) {
            Ok(0) => return Ok((out, true)),
            Ok(n) => {
                if out.len() < 1 << 20 {
                    out.extend_from_slice(&buf[..n]);
                }
                last_data = Instant::now();
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Ok((out, true)),
        }
        let now = Instant::now();
        if reply_complete(&out) && now - last_data > Duration::from_millis(10) {
            return Ok((out, false));
        }
        if !closed_write && out.is_empty() && now - start > Duration::from_millis(300) {
            let _ = c.shutdown(Shutdown::Write);
            closed_write = true;
        }
        if now - start > timeout {
            return Ok((out, false));
        }
    }
}

/// Whether `out` holds at least one whole reply (headers and `Content-Length` bytes or a
/// last chunk).
fn reply_complete(out: &[u8]) -> bool {
    let Some(end) = out.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&out[..end]).to_ascii_lowercase();
    let body = out.len() - end - 4;
    for line in head.lines() {
        if let Some(v) = line.strip_prefix("content-length:") {
            return v.trim().parse::<usize>().is_ok_and(|n| body >= n);
        }
        if line.starts_with("transfer-encoding:") {
            return out.ends_with(b"0\r\n\r\n");
        }
    }
    true
}

/// A text/plain request; returns the status and the body.
pub fn sql(port: u16, text: &str, timeout: Duration) -> std::io::Result<(u16, String)> {
    let req = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    let (resp, _) = raw(port, req.as_bytes(), false, timeout)?;
    let resp = String::from_utf8_lossy(&resp);
    let status = resp
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no response: {resp:?}")))?;
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}
