//! Servers reached over TCP (`common::remote`): the `amelie-server` of the backup and
//! replication tests (`backup.rs`, `repl.rs`, `repl_load.rs`), listening on a loopback port
//! given to it (a restarted replica keeps its port, the address its primary streams to),
//! with the helpers those tests share: polling with a deadline, `amelie backup` of a
//! server, and a replica of `SHOW REPLICAS`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use amelie_client::{BlockingClient, Remote};

use super::{amelie_cmd, free_port, run, server_bin, Run};

/// A running `amelie-server` on 127.0.0.1:`port`.
pub struct Server {
    pub repo: PathBuf,
    pub port: u16,
    child: Child,
}

impl Server {
    /// Starts `amelie-server start <repo>` on `port` (127.0.0.1, no auth) with `extra`
    /// options, its stderr into `<repo>.stderr`, and waits until it answers.
    pub fn start(repo: &Path, port: u16, extra: &[&str]) -> Server {
        Server::start_with(repo, port, "", extra)
    }

    /// [`Server::start`] with more `listen` entries (`more`: `, {...}` JSON text).
    pub fn start_with(repo: &Path, port: u16, more: &str, extra: &[&str]) -> Server {
        let child = Command::new(server_bin())
            .arg("start")
            .arg(repo)
            .arg(format!(
                "--listen=[{{\"host\": \"127.0.0.1\", \"port\": {port}}}{more}]"
            ))
            .args([
                "--frontends=1",
                "--log_to_stdout=false",
                "--repl_reconnect_ms=100",
            ])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(repo.with_extension("stderr")).unwrap())
            .spawn()
            .unwrap();
        let mut server = Server {
            repo: repo.to_path_buf(),
            port,
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while server.try_sql("select 1").as_deref() != Some("[1]") {
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!(
                    "amelie-server exited with {status}: {}",
                    fs::read_to_string(repo.with_extension("stderr")).unwrap_or_default()
                );
            }
            assert!(Instant::now() < deadline, "amelie-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// `127.0.0.1:<port>`.
    pub fn uri(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A client over the TCP port.
    pub fn client(&self) -> BlockingClient {
        let remote = Remote {
            uri: self.uri(),
            ..Remote::new()
        };
        BlockingClient::new(&remote).unwrap()
    }

    /// The 200 or 204 body, or None (an error, or no answer).
    pub fn try_sql(&self, sql: &str) -> Option<String> {
        let reply = self.client().sql(sql).ok()?;
        reply.is_success().then_some(reply.body)
    }

    /// The 200 or 204 body; panics on an error.
    #[track_caller]
    pub fn sql(&self, sql: &str) -> String {
        let reply = self.client().sql(sql).unwrap();
        assert!(reply.is_success(), "{sql}: {}", reply.body);
        reply.body
    }

    /// The error message of a request that must fail.
    #[track_caller]
    pub fn error(&self, sql: &str) -> String {
        let reply = self.client().sql(sql).unwrap();
        assert!(!reply.is_success(), "{sql} succeeded: {}", reply.body);
        let v: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        v["msg"].as_str().unwrap().to_string()
    }

    #[track_caller]
    pub fn json(&self, sql: &str) -> serde_json::Value {
        let body = self.sql(sql);
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{sql}: {e}: {body}"))
    }

    /// The one integer of a result (`[n]`).
    #[track_caller]
    pub fn int(&self, sql: &str) -> i64 {
        let v = self.json(sql);
        v[0].as_i64().unwrap_or_else(|| panic!("{sql}: {v}"))
    }

    pub fn uuid(&self) -> String {
        self.json("show uuid")[0].as_str().unwrap().to_string()
    }

    pub fn lsn(&self) -> i64 {
        self.int("show lsn")
    }

    /// The object of `SHOW WAL`.
    pub fn wal(&self) -> serde_json::Value {
        self.json("show wal")[0].clone()
    }

    /// `--json={"uri": ...}` for `amelie backup`.
    pub fn json_remote(&self) -> String {
        format!("--json={{\"uri\": \"{}\"}}", self.uri())
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the server with SIGTERM (a clean shutdown) and waits for a successful exit.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "exit {status}");
                return;
            }
            assert!(Instant::now() < deadline, "server did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server with SIGKILL and waits for it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` until it is true (30 s at most).
#[track_caller]
pub fn wait_for(what: &str, check: impl FnMut() -> bool) {
    wait_for_secs(what, 30, check)
}

/// Polls `check` until it is true (`secs` at most).
#[track_caller]
pub fn wait_for_secs(what: &str, secs: u64, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `amelie backup <args>` with `AMELIE_HOME` under `home`.
pub fn run_backup(home: &Path, args: &[&str]) -> Run {
    let mut cmd = amelie_cmd(&home.join("home"), &["backup"]);
    cmd.args(args);
    run(cmd, b"")
}

/// `amelie backup <dir>` of `server` (`--debug=0`: nothing on stdout), which must succeed.
#[track_caller]
pub fn backup(home: &Path, dir: &Path, server: &Server) {
    let out = run_backup(
        home,
        &[dir.to_str().unwrap(), &server.json_remote(), "--debug=0"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "");
}

/// The replica `uuid` of `SHOW REPLICAS` on the primary `p`.
#[track_caller]
pub fn replica(p: &Server, uuid: &str) -> serde_json::Value {
    let v = p.json("show replicas");
    // `[{...}, ...]`, or that list as the one value of a result
    let list = match v.as_array().and_then(|a| a.first()) {
        Some(serde_json::Value::Array(inner)) => inner.clone(),
        _ => v.as_array().cloned().unwrap_or_default(),
    };
    list.into_iter()
        .find(|r| r["id"] == uuid)
        .unwrap_or_else(|| panic!("no replica {uuid} in {v}"))
}

/// A replica of `p`: `amelie backup` into `dir`, then [`start_replica`].
pub fn replica_of(home: &Path, p: &Server, dir: &Path, uuid: &str, extra: &[&str]) -> Server {
    backup(home, dir, p);
    start_replica(p, dir, uuid, extra)
}

/// The backup in `dir` started on a port of its own with `uuid` and `extra` options,
/// replication started and subscribed to `p`, and registered on `p` (`CREATE REPLICA`). The
/// primary's `START REPL` is the caller's.
pub fn start_replica(p: &Server, dir: &Path, uuid: &str, extra: &[&str]) -> Server {
    let uuid_arg = format!("--uuid={uuid}");
    let mut options = vec![uuid_arg.as_str()];
    options.extend_from_slice(extra);
    let r = Server::start(dir, free_port(), &options);
    assert_eq!(r.uuid(), uuid);
    r.sql("start repl");
    r.sql(&format!("subscribe '{}'", p.uuid()));
    p.sql(&format!("create replica '{uuid}' uri '{}'", r.uri()));
    r
}
