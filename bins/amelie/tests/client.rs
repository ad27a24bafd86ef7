//! End-to-end tests of the `amelie` binary against the real `amelie-server`: pipe mode over
//! the repository's unix socket and over TCP with a token or a user and secret (an `auth`
//! listener), extra unix socket listeners, stale socket files, logins and their file mode.
//!
//! The server binary is the one Cargo builds next to `amelie` (`cargo test --workspace`
//! builds it for the root package's tests; alone, run `cargo build -p amelie-server`
//! first). Every server a test starts is stopped by it (`Drop` kills a leftover one).

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use amelie_client::{BlockingClient, Remote};

const AMELIE: &str = env!("CARGO_BIN_EXE_amelie");

fn server_bin() -> PathBuf {
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
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Server {
    repo: PathBuf,
    child: Option<Child>,
    stderr: PathBuf,
}

impl Server {
    /// Starts `amelie-server start <repo>` with `listen` and waits until `select 1`
    /// answers over the repository's unix socket.
    fn start(repo: &Path, listen: &str) -> Server {
        let stderr = repo.with_extension("stderr");
        let child = Command::new(server_bin())
            .arg("start")
            .arg(repo)
            .arg(format!("--listen={listen}"))
            .args([
                "--backends=1",
                "--frontends=1",
                "--log_to_stdout=false",
                "--timezone_default=UTC",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
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

    fn socket(&self) -> PathBuf {
        self.repo.join("amelie.sock")
    }

    /// A request over the unix socket: the 200 body, or None.
    fn sql(&self, sql: &str) -> Option<String> {
        let remote = Remote {
            path: self.socket().display().to_string(),
            ..Remote::new()
        };
        let reply = BlockingClient::new(&remote).ok()?.sql(sql).ok()?;
        (reply.status == 200 || reply.status == 204).then_some(reply.body)
    }

    fn signal(&mut self, signal: &str) {
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

    fn stop(&mut self) {
        self.signal("TERM");
    }

    fn kill(&mut self) {
        self.signal("KILL");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `amelie <args>` with `stdin` piped in and `AMELIE_HOME` set to `home`.
fn amelie(home: &Path, args: &[&str], stdin: &str) -> Run {
    let mut child = Command::new(AMELIE)
        .args(args)
        .env("AMELIE_HOME", home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    // a command that fails before reading its input (an unknown login, say) may have exited
    // already: its closed pipe is part of that outcome, not an error of the test
    if let Err(e) = input.write_all(stdin.as_bytes()) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn tcp(port: u16, auth: bool) -> String {
    format!(r#"{{"host": "127.0.0.1", "port": {port}, "auth": {auth}}}"#)
}

#[test]
fn pipe_mode_over_the_repository_socket() {
    let tmp = TempDir::new("pipe");
    let repo = tmp.0.join("repo");
    let mut server = Server::start(&repo, &format!("[{}]", tcp(free_port(), false)));
    let mode = fs::metadata(server.socket()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    assert!(repo.join("certs").is_dir());

    let input = "create table t (id int primary key, v text);\n\
                 insert into t values (1, 'a;b'); -- a comment; not a statement\n\
                 select v from t;\n\
                 select nope;\n\
                 begin;\n\
                 insert into t values (2, 'x');\n\
                 insert into t values (3, 'y');\n\
                 commit;\n\
                 select count(*) from t";
    let run = amelie(&tmp.0, &[repo.to_str().unwrap()], input);
    assert_eq!(
        run.stdout, "[\"a;b\"]\n{\"msg\": \"<nope> column not found\"}\n[3]\n",
        "stderr: {}",
        run.stderr
    );
    assert_eq!(run.code, 1, "a statement failed");

    // all well: exit 0; `client` and `--path` name the same socket
    let run = amelie(
        &tmp.0,
        &["client", &format!("--path={}", server.socket().display())],
        "select 1; select 2",
    );
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "[1]\n[2]\n"),
        "{}",
        run.stderr
    );

    server.stop();
    assert!(
        !server.socket().exists(),
        "the socket file is removed at shutdown"
    );
    let run = amelie(&tmp.0, &[repo.to_str().unwrap()], "select 1");
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.starts_with("error: connect to "),
        "{}",
        run.stderr
    );
}

#[test]
fn a_stale_socket_does_not_prevent_start() {
    let tmp = TempDir::new("stale");
    let repo = tmp.0.join("repo");
    let listen = format!("[{}]", tcp(free_port(), false));
    let mut server = Server::start(&repo, &listen);
    server.sql("create table t (id int primary key)").unwrap();
    server.kill();
    assert!(server.socket().exists(), "kill -9 leaves the socket file");
    let mut server = Server::start(&repo, &listen);
    assert_eq!(server.sql("select count(*) from t").as_deref(), Some("[0]"));
    server.stop();
}

#[test]
fn tcp_with_tokens_and_user_secret() {
    let tmp = TempDir::new("auth");
    let repo = tmp.0.join("repo");
    let port = free_port();
    let mut server = Server::start(&repo, &format!("[{}]", tcp(port, true)));
    server.sql("create user ann secret 'pw'").unwrap();
    let token = server.sql("create token ann").unwrap();
    let token: Vec<String> = serde_json::from_str(&token).unwrap();
    let uri = format!("--uri=127.0.0.1:{port}");

    // no token on an auth listener
    let run = amelie(&tmp.0, &[&uri], "select 1");
    assert_eq!((run.code, run.stdout.as_str()), (1, "403 Forbidden\n"));
    // a token
    let run = amelie(
        &tmp.0,
        &[&uri, &format!("--token={}", token[0])],
        "select 1;\nselect 2;",
    );
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "[1]\n[2]\n"),
        "{}",
        run.stderr
    );
    // a token the client signs from the user and secret, as options and in the uri
    let run = amelie(&tmp.0, &[&uri, "--user=ann", "--secret=pw"], "select 3");
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "[3]\n"),
        "{}",
        run.stderr
    );
    let run = amelie(
        &tmp.0,
        &[&format!(
            "--json={{\"uri\": \"http://ann:pw@127.0.0.1:{port}\"}}"
        )],
        "select 4",
    );
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "[4]\n"),
        "{}",
        run.stderr
    );
    // a wrong secret: every statement is refused
    let run = amelie(
        &tmp.0,
        &[&uri, "--user=ann", "--secret=no"],
        "select 1; select 2",
    );
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (1, "403 Forbidden\n403 Forbidden\n")
    );
    // the repository socket needs no token
    assert_eq!(server.sql("select 5").as_deref(), Some("[5]"));
    server.stop();
}

#[test]
fn listeners_on_unix_paths() {
    let tmp = TempDir::new("paths");
    let repo = tmp.0.join("repo");
    let abs = tmp.0.join("abs.sock");
    let listen = format!(
        r#"[{{"path": "rel.sock", "path_mode": "0755"}}, {{"path": "{}", "auth": true}}]"#,
        abs.display()
    );
    let mut server = Server::start(&repo, &listen);
    let rel = repo.join("rel.sock");
    assert_eq!(
        fs::metadata(&rel).unwrap().permissions().mode() & 0o777,
        0o755
    );
    assert_eq!(
        fs::metadata(&abs).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let path = format!("--path={}", rel.display());
    let run = amelie(&tmp.0, &[&path], "select 1");
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "[1]\n"),
        "{}",
        run.stderr
    );
    let path = format!("--path={}", abs.display());
    let run = amelie(&tmp.0, &[&path], "select 1");
    assert_eq!((run.code, run.stdout.as_str()), (1, "403 Forbidden\n"));
    server.sql("create user u secret 's'").unwrap();
    let run = amelie(&tmp.0, &[&path, "--user=u", "--secret=s"], "select 1");
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "[1]\n"),
        "{}",
        run.stderr
    );
    server.stop();
    assert!(!rel.exists() && !abs.exists());
}

#[test]
fn login_and_logout() {
    let tmp = TempDir::new("login");
    let home = tmp.0.join("home");
    let repo = tmp.0.join("repo");
    let mut server = Server::start(&repo, "null");
    let run = amelie(&home, &["login", "local", repo.to_str().unwrap()], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let file = home.join("login");
    assert_eq!(
        fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let run = amelie(
        &home,
        &["login", "remote", "--uri=127.0.0.1:1", "--secret=x"],
        "",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let saved: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(saved.as_array().map(Vec::len), Some(2));

    let run = amelie(&home, &["local"], "select 1");
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "[1]\n"),
        "{}",
        run.stderr
    );
    let run = amelie(&home, &["logout", "local"], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let run = amelie(&home, &["local"], "select 1");
    assert_eq!(run.code, 1);
    assert_eq!(run.stderr, "error: login: login name 'local' not found\n");
    let run = amelie(&home, &["logout", "local"], "");
    assert_eq!(run.code, 1);
    let run = amelie(&home, &["login", "nowhere"], "");
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("uri or path is not defined"),
        "{}",
        run.stderr
    );
    server.stop();
}

#[test]
fn version_help_and_commands_not_built() {
    let tmp = TempDir::new("cli");
    for v in ["-v", "--version"] {
        let run = amelie(&tmp.0, &[v], "");
        assert_eq!((run.code, run.stdout.as_str()), (0, "1.0.0\n"));
    }
    let run = amelie(&tmp.0, &["--help"], "");
    assert_eq!(run.code, 0);
    assert!(run.stdout.starts_with("usage: amelie"), "{}", run.stdout);
    // import is built (tests/import.rs); without a table it says so
    let run = amelie(&tmp.0, &["import"], "");
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (1, "error: import: [schema.]table is missing\n")
    );
    // backup is built (tests/backup.rs); without a directory it says so
    let run = amelie(&tmp.0, &["backup"], "");
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (1, "error: backup: <dir> is missing\n")
    );
    let run = amelie(&tmp.0, &["bench"], "");
    assert_eq!(run.code, 1);
    assert_eq!(run.stderr, "error: bench: not yet implemented\n");
    let run = amelie(&tmp.0, &["--uri=x", "--nope=1"], "");
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (1, "error: option 'nope' is not found\n")
    );
    // TLS options are checked before connecting (tests/tls.rs connects over TLS)
    let run = amelie(
        &tmp.0,
        &["--uri=https://localhost:1", "--tls_cert=c.pem"],
        "",
    );
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (1, "error: tls_cert requires tls_key\n")
    );
}
