//! Shared harness for the end-to-end tests: start the real `amelie-server` binary on a free
//! loopback port, talk to it with the blocking HTTP/1.1 client of `amelie-testclient`
//! (`crates/testclient`, shared with `crates/http/tests`, xtask and the fuzz runner), stop it with SIGTERM (or SIGKILL) and clean up temporary directories.
//!
//! Layout of one test's temporary directory (`TestDir`):
//!
//! ```text
//! <tmp>/amelie-e2e-<name>-<pid>-<n>/
//!     repo/                      the server repository (`amelie-server start <root>/repo`)
//!     server-<k>.stdout|stderr   output of the k-th start of the server
//! ```
//!
//! The server's output files live next to the repository rather than inside it so that the
//! first start really sees a missing directory (and creates the repository).

#![allow(dead_code)]

use std::collections::HashSet;
use std::fs;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Path of the server binary built by Cargo for the integration tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_amelie-server");

/// How long `Server::start` waits for `select 1` to answer.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long `Server::stop` waits for the process to exit after SIGTERM.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(20);

static DIR_COUNTER: AtomicUsize = AtomicUsize::new(0);
static START_COUNTER: AtomicUsize = AtomicUsize::new(0);
static PORTS: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

// ---------------------------------------------------------------------------------------------
// Temporary directories
// ---------------------------------------------------------------------------------------------

/// A unique directory under `std::env::temp_dir()`; removed on drop unless the test panicked
/// (so that the server's output and repository can be inspected after a failure).
pub struct TestDir {
    root: PathBuf,
}

impl TestDir {
    pub fn new(name: &str) -> TestDir {
        let n = DIR_COUNTER.fetch_add(1, Ordering::SeqCst);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let root = std::env::temp_dir().join(format!(
            "amelie-e2e-{}-{}-{}-{}",
            name,
            std::process::id(),
            n,
            nanos
        ));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).expect("create test dir");
        TestDir { root }
    }

    /// The test's root directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// The server repository directory (not created: the server creates it).
    pub fn repo(&self) -> PathBuf {
        self.root.join("repo")
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("e2e: keeping {} for inspection", self.root.display());
        } else {
            let _ = fs::remove_dir_all(&self.root);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Ports
// ---------------------------------------------------------------------------------------------

/// A free TCP port on 127.0.0.1 (bind to port 0, read it, drop the listener). Ports handed out
/// earlier by this process are skipped so that parallel tests do not pick the same one.
pub fn free_port() -> u16 {
    for _ in 0..100 {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = l.local_addr().expect("local_addr").port();
        drop(l);
        let mut g = PORTS.lock().unwrap_or_else(|e| e.into_inner());
        let set = g.get_or_insert_with(HashSet::new);
        if set.insert(port) {
            return port;
        }
    }
    panic!("could not find a free port");
}

// ---------------------------------------------------------------------------------------------
// HTTP client: the shared dev-only crate amelie-testclient (crates/testclient)
// ---------------------------------------------------------------------------------------------

use amelie_testclient::raw;
pub use amelie_testclient::{Client, Request, Response};

// ---------------------------------------------------------------------------------------------
// Server process
// ---------------------------------------------------------------------------------------------

/// A running `amelie-server start <dir>` process.
pub struct Server {
    pub dir: PathBuf,
    pub port: u16,
    pub stdout_path: PathBuf,
    pub stderr_path: PathBuf,
    child: Option<Child>,
}

/// Default options of every test server; an `extra_args` entry `--name=...` replaces the default
/// with the same name.
fn default_args(port: u16) -> Vec<String> {
    vec![
        format!("--listen=[{{\"host\": \"127.0.0.1\", \"port\": {port}}}]"),
        "--backends=3".to_string(),
        "--frontends=1".to_string(),
        "--log_to_stdout=false".to_string(),
        "--timezone_default=UTC".to_string(),
    ]
}

fn option_name(arg: &str) -> &str {
    let a = arg.trim_start_matches('-');
    a.split('=').next().unwrap_or(a)
}

impl Server {
    /// Start the server on `dir` (created by the server when missing) on a free loopback port with
    /// `--backends=3 --frontends=1 --log_to_stdout=false --timezone_default=UTC` plus
    /// `extra_args` (which override defaults of the same name), and wait until `select 1`
    /// answers `[1]`.
    pub fn start(dir: &Path, extra_args: &[&str]) -> Server {
        let port = free_port();
        let k = START_COUNTER.fetch_add(1, Ordering::SeqCst);
        let parent = dir.parent().unwrap_or(Path::new("."));
        let base = dir
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "repo".into());
        let stdout_path = parent.join(format!("{base}-server-{k}.stdout"));
        let stderr_path = parent.join(format!("{base}-server-{k}.stderr"));
        let mut args: Vec<String> = vec!["start".into(), dir.to_string_lossy().into_owned()];
        for d in default_args(port) {
            if !extra_args.iter().any(|e| option_name(e) == option_name(&d)) {
                args.push(d);
            }
        }
        args.extend(extra_args.iter().map(|s| s.to_string()));

        let child = Command::new(BIN)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(fs::File::create(&stdout_path).expect("create stdout file"))
            .stderr(fs::File::create(&stderr_path).expect("create stderr file"))
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {BIN}: {e}"));
        let mut server = Server {
            dir: dir.to_path_buf(),
            port,
            stdout_path,
            stderr_path,
            child: Some(child),
        };
        server.wait_ready(&args);
        server
    }

    fn wait_ready(&mut self, args: &[String]) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().expect("try_wait") {
                self.child = None;
                panic!(
                    "amelie-server {:?} exited during start-up with {status}\nstderr:\n{}\nstdout:\n{}",
                    args,
                    self.stderr(),
                    self.stdout()
                );
            }
            let last = match Client::local_timeout(self.port, Duration::from_secs(2))
                .and_then(|mut c| c.sql("select 1"))
            {
                Ok((200, body)) if body == "[1]" => return,
                Ok((s, body)) => format!("select 1 answered {s} {body:?}"),
                Err(e) => format!("select 1 failed: {e}"),
            };
            if Instant::now() > deadline {
                self.kill_child();
                panic!(
                    "amelie-server {:?} not ready within {:?} (last: {last})\nstderr:\n{}",
                    args,
                    START_TIMEOUT,
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server is not running").id()
    }

    pub fn stderr(&self) -> String {
        fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    pub fn stdout(&self) -> String {
        fs::read_to_string(&self.stdout_path).unwrap_or_default()
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => c.try_wait().expect("try_wait").is_none(),
            None => false,
        }
    }

    /// Panic (with the server's stderr) if the process has exited.
    pub fn assert_running(&mut self) {
        if let Some(c) = self.child.as_mut() {
            if let Some(status) = c.try_wait().expect("try_wait") {
                self.child = None;
                panic!(
                    "amelie-server exited unexpectedly with {status}\nstderr:\n{}",
                    self.stderr()
                );
            }
        } else {
            panic!("amelie-server is not running");
        }
    }

    /// A new keep-alive connection.
    pub fn conn(&self) -> Client {
        Client::local(self.port)
            .unwrap_or_else(|e| panic!("connect to 127.0.0.1:{}: {e}", self.port))
    }

    /// Execute `sql` on a new connection (`POST /`, `text/plain`); returns (status, body).
    pub fn post(&self, sql: &str) -> (u16, String) {
        self.conn()
            .sql(sql)
            .unwrap_or_else(|e| panic!("request {sql:?} failed: {e}\nstderr:\n{}", self.stderr()))
    }

    /// `POST path` with an optional Content-Type on a new connection.
    pub fn post_with(&self, content_type: Option<&str>, path: &str, body: &[u8]) -> Response {
        let mut request = Request::post(path).body(body);
        if let Some(ct) = content_type {
            request = request.content_type(ct);
        }
        self.conn()
            .request(&request)
            .unwrap_or_else(|e| panic!("POST {path} failed: {e}\nstderr:\n{}", self.stderr()))
    }

    /// Send raw bytes on a new connection, half-close it, and return whatever the server
    /// answers until it closes the connection (or `timeout`).
    pub fn send_raw(&self, bytes: &[u8], timeout: Duration) -> Vec<u8> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        raw::exchange(addr, bytes, timeout)
            .unwrap_or_else(|e| panic!("connect to {addr}: {e}"))
            .bytes
    }

    /// `post` that must succeed with the given status and exact body.
    #[track_caller]
    pub fn expect(&self, sql: &str, status: u16, body: &str) {
        let (s, b) = self.post(sql);
        assert_eq!((s, b.as_str()), (status, body), "request: {sql}");
    }

    /// `post` that must answer 204 with an empty body.
    #[track_caller]
    pub fn exec(&self, sql: &str) {
        let (s, b) = self.post(sql);
        assert_eq!((s, b.as_str()), (204, ""), "request: {sql}");
    }

    /// `post` that must answer 200; returns the body.
    #[track_caller]
    pub fn query(&self, sql: &str) -> String {
        let (s, b) = self.post(sql);
        assert_eq!(s, 200, "request: {sql}\nbody: {b}");
        b
    }

    /// `post` that must answer 400 `{"msg": "<msg>"}` exactly.
    #[track_caller]
    pub fn expect_error(&self, sql: &str, msg: &str) {
        let (s, b) = self.post(sql);
        let want = format!("{{\"msg\": {}}}", json_string(msg));
        assert_eq!((s, b.as_str()), (400, want.as_str()), "request: {sql}");
    }

    /// Send SIGTERM, wait for the exit and assert it was clean (exit code 0).
    pub fn stop(&mut self) {
        self.stop_with("TERM");
    }

    /// Send SIGINT, wait for the exit and assert it was clean (exit code 0).
    pub fn stop_sigint(&mut self) {
        self.stop_with("INT");
    }

    fn stop_with(&mut self, signal: &str) {
        let pid = self.pid();
        let st = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string())
            .status()
            .expect("run kill");
        assert!(st.success(), "kill -{signal} {pid} failed");
        let status = self.wait_exit(STOP_TIMEOUT);
        match status {
            Some(status) => assert!(
                status.success(),
                "amelie-server did not exit cleanly on SIG{signal}: {status}\nstderr:\n{}",
                self.stderr()
            ),
            None => {
                self.kill_child();
                panic!(
                    "amelie-server did not exit within {:?} after SIG{signal}\nstderr:\n{}",
                    STOP_TIMEOUT,
                    self.stderr()
                );
            }
        }
    }

    /// SIGKILL the process and reap it.
    pub fn kill9(&mut self) {
        self.kill_child();
    }

    /// Wait up to `timeout` for the process to exit by itself (e.g. after `amelie-server stop`).
    pub fn wait_for_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        self.wait_exit(timeout)
    }

    fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            let child = self.child.as_mut()?;
            if let Some(status) = child.try_wait().expect("try_wait") {
                self.child = None;
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill_child(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.is_some() {
            if std::thread::panicking() {
                eprintln!(
                    "e2e: server on port {} (dir {}) killed; stderr in {}",
                    self.port,
                    self.dir.display(),
                    self.stderr_path.display()
                );
            }
            self.kill_child();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Encode a string the way Amelie does in error bodies (escapes `"` `\` and control chars).
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The exact 400 body for an error message.
pub fn error_body(msg: &str) -> String {
    format!("{{\"msg\": {}}}", json_string(msg))
}

/// Parse a response body as JSON (panics with the body on failure).
#[track_caller]
pub fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("invalid JSON body {body:?}: {e}"))
}

/// Parse a JSON array of integers (e.g. the result of `select id from t`).
#[track_caller]
pub fn int_list(body: &str) -> Vec<i64> {
    match json(body) {
        serde_json::Value::Array(a) => a
            .iter()
            .map(|v| {
                v.as_i64()
                    .unwrap_or_else(|| panic!("not an int {v} in {body}"))
            })
            .collect(),
        other => panic!("expected a JSON array, got {other}"),
    }
}

/// Parse a one-row, one-int result like `[42]`.
#[track_caller]
pub fn single_int(body: &str) -> i64 {
    let v = int_list(body);
    assert_eq!(v.len(), 1, "expected one value in {body}");
    v[0]
}

/// Assert a 400 body is a JSON object with exactly one key `msg` holding a string.
#[track_caller]
pub fn assert_error_shape(body: &str) -> String {
    let v = json(body);
    let obj = v
        .as_object()
        .unwrap_or_else(|| panic!("error body is not a JSON object: {body}"));
    assert_eq!(
        obj.len(),
        1,
        "error body must have only the key msg: {body}"
    );
    let msg = obj
        .get("msg")
        .and_then(|m| m.as_str())
        .unwrap_or_else(|| panic!("error body has no string msg: {body}"));
    assert!(!msg.is_empty(), "empty error message: {body}");
    assert!(
        body.starts_with("{\"msg\": \""),
        "error body must be compact `{{\"msg\": ...}}`: {body}"
    );
    msg.to_string()
}

/// A small deterministic xorshift64* generator (no external crates).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % ((hi - lo + 1) as u64)) as i64
    }
}

/// Files `<repo>/wal/*.wal`, sorted by name (names are zero-padded LSNs, so the last is newest).
pub fn wal_files(repo: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(repo.join("wal"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().map(|x| x == "wal").unwrap_or(false))
                .collect()
        })
        .unwrap_or_default();
    // Names are LSNs (zero-padded in Amelie); sort numerically when the stem is a number.
    v.sort_by_key(|p| {
        let stem = p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        (stem.parse::<u64>().unwrap_or(u64::MAX), stem)
    });
    v
}
