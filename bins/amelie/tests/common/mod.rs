//! The harness of the end-to-end tests of the `amelie` binary (`mod common;` in each):
//! temporary directories, the real `amelie-server` started on a repository (listening on the
//! repository's unix socket and on what a test gives it, TCP on 127.0.0.1 only) and stopped
//! again, and runs of the `amelie` binary.
//!
//! The server binary is the one Cargo builds next to `amelie` (`cargo test --workspace`
//! builds it for the root package's tests; alone, run `cargo build -p amelie-server`
//! first). Every server a test starts is stopped by it: `Drop` stops a leftover one (TERM,
//! then KILL).

// each test file uses its own part of the harness
#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use amelie_client::{BlockingClient, Remote};

pub mod remote;

pub const AMELIE: &str = env!("CARGO_BIN_EXE_amelie");

/// The `amelie-server` binary next to `amelie`.
pub fn server_bin() -> PathBuf {
    let path = Path::new(AMELIE).with_file_name("amelie-server");
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build -p amelie-server` (cargo test --workspace builds it)",
        path.display()
    );
    path
}

static DIRS: AtomicUsize = AtomicUsize::new(0);

/// A fresh directory under the system temp dir, removed on drop unless the test failed.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let n = DIRS.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("amc-{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("keeping {}", self.0.display());
        } else {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `{"host": "127.0.0.1", "port": <port>, "auth": <auth>}`, a `listen` entry.
pub fn tcp(port: u16, auth: bool) -> String {
    format!(r#"{{"host": "127.0.0.1", "port": {port}, "auth": {auth}}}"#)
}

/// `amelie-server <command> <repo>` with one backend and one frontend, no log on stdout,
/// UTC, and then `options` (a later option wins); run in the repository's parent directory,
/// its stderr into the file `stderr`.
pub fn server_cmd(command: &str, repo: &Path, options: &[String], stderr: &Path) -> Command {
    let mut cmd = Command::new(server_bin());
    cmd.arg(command)
        .arg(repo)
        .args([
            "--backends=1",
            "--frontends=1",
            "--log_to_stdout=false",
            "--timezone_default=UTC",
        ])
        .args(options)
        .current_dir(repo.parent().unwrap())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(stderr).unwrap());
    cmd
}

/// A running `amelie-server`.
pub struct Server {
    pub repo: PathBuf,
    child: Option<Child>,
    stderr: PathBuf,
}

impl Server {
    /// Starts `amelie-server start <repo> <options>` (see [`server_cmd`]) and waits until
    /// `select 1` answers over the repository's unix socket.
    pub fn start(repo: &Path, options: &[String]) -> Server {
        Server::start_with(repo, options, |_| {})
    }

    /// [`Server::start`] with the command changed by `edit` first (its environment).
    pub fn start_with(repo: &Path, options: &[String], edit: impl FnOnce(&mut Command)) -> Server {
        let stderr = repo.with_extension("stderr");
        let mut cmd = server_cmd("start", repo, options, &stderr);
        edit(&mut cmd);
        let child = cmd.spawn().unwrap();
        let mut server = Server {
            repo: repo.to_path_buf(),
            child: Some(child),
            stderr,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = server.child.as_mut().unwrap().try_wait().unwrap() {
                server.child = None;
                panic!(
                    "amelie-server exited with {status}: {}",
                    fs::read_to_string(&server.stderr).unwrap_or_default()
                );
            }
            if server.sql("select 1").as_deref() == Some("[1]") {
                return server;
            }
            assert!(Instant::now() < deadline, "amelie-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// [`Server::start`] with `--listen=<listen>`.
    pub fn start_listen(repo: &Path, listen: &str) -> Server {
        Server::start(repo, &[format!("--listen={listen}")])
    }

    /// The repository as a command-line argument.
    pub fn repo_arg(&self) -> String {
        self.repo.display().to_string()
    }

    /// The repository's unix socket.
    pub fn socket(&self) -> PathBuf {
        self.repo.join("amelie.sock")
    }

    /// A client over the unix socket.
    pub fn client(&self) -> Option<BlockingClient> {
        let remote = Remote {
            path: self.socket().display().to_string(),
            ..Remote::new()
        };
        BlockingClient::new(&remote).ok()
    }

    /// A request over the unix socket: the 200 or 204 body, or None.
    pub fn sql(&self, sql: &str) -> Option<String> {
        let reply = self.client()?.sql(sql).ok()?;
        reply.is_success().then_some(reply.body)
    }

    /// Sends `signal` and waits for the exit (TERM: a clean one).
    pub fn signal(&mut self, signal: &str) {
        let child = self.child.as_mut().expect("running");
        let st = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(st.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                if signal == "TERM" {
                    assert!(status.success(), "exit {status}");
                }
                self.child = None;
                return;
            }
            assert!(Instant::now() < deadline, "amelie-server did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stop(&mut self) {
        self.signal("TERM");
    }

    pub fn kill(&mut self) {
        self.signal("KILL");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").arg(c.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while c.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// How a run of `amelie` ended.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts the exit status and standard output (showing standard error when not).
    #[track_caller]
    pub fn expect(&self, code: i32, stdout: &str) {
        assert_eq!(
            (self.code, self.stdout.as_str()),
            (code, stdout),
            "stderr: {}",
            self.stderr
        );
    }

    /// Asserts exit status 1 and standard error (showing standard output when not).
    #[track_caller]
    pub fn expect_err(&self, stderr: &str) {
        assert_eq!(
            (self.code, self.stderr.as_str()),
            (1, stderr),
            "stdout: {}",
            self.stdout
        );
    }
}

/// `amelie <args>` with `AMELIE_HOME` set to `home`.
pub fn amelie_cmd(home: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(AMELIE);
    cmd.args(args).env("AMELIE_HOME", home);
    cmd
}

/// Runs `cmd` with `stdin` fed to it (from another thread: it may be large) and its output
/// collected.
pub fn run(mut cmd: Command, stdin: &[u8]) -> Run {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let feeder = std::thread::spawn(move || input.write_all(&data));
    let out = child.wait_with_output().unwrap();
    // a command that fails before reading its input (an unknown login, say) may have exited
    // already: its closed pipe is part of that outcome, not an error of the test
    if let Err(e) = feeder.join().unwrap() {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `amelie <args>` with `stdin` piped in and `AMELIE_HOME` set to `home`.
pub fn amelie(home: &Path, args: &[&str], stdin: &str) -> Run {
    run(amelie_cmd(home, args), stdin.as_bytes())
}

/// A CA (PEM) and a certificate it signed for `localhost` and 127.0.0.1, with its key.
pub struct Pki {
    pub ca: String,
    pub cert: String,
    pub key: String,
}

/// A new [`Pki`] whose CA is named `ca_name`.
pub fn pki(ca_name: &str) -> Pki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, ca_name);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    Pki {
        ca: ca.pem(),
        cert: cert.pem(),
        key: key.serialize_pem(),
    }
}
