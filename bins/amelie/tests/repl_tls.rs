//! End-to-end WAL streaming over TLS: real `amelie-server` processes with HTTPS listeners on
//! 127.0.0.1 (a CA and a server certificate made at test time with rcgen), replicas made with
//! `amelie backup` over HTTPS, and a primary streaming to `https://` replica uris:
//!
//! - with `tls_ca` naming the wrong CA the replica stays disconnected and the handshake error
//!   is in the primary's log; after DROP/CREATE REPLICA with the right CA (a path relative to
//!   the primary's repository, missing at first: logged, then picked up at a retry) it
//!   streams, and the replica ends equal (rows and `show lsn`);
//! - two replicas at once (three processes, as Amelie's `repl/streaming_tls_2`), given no CA:
//!   the primary trusts the platform's certificates (`SSL_CERT_FILE` here); one uri is
//!   `https://`, the other a bare `host:port` that speaks TLS because it has `tls_cert` and
//!   `tls_key` (a client certificate, which the replica does not ask for).
//!
//! Temporary directories, free ports, `amelie` runs, certificates and the servers come from
//! the shared harness (`common/mod.rs`); [`Node`] is `common::Server` started with an HTTPS
//! listener and an environment of its own (the primary's `SSL_CERT_FILE`), with the few
//! queries these tests ask; the servers are reached over their repositories' unix sockets.

mod common;

use std::fs;
use std::path::Path;
use std::time::Duration;

use common::remote::wait_for;
use common::{amelie_cmd, free_port, pki, run, server_cmd, Pki, TempDir};

const REPLICA_1: &str = "5f1d7a36-3b8e-4c7e-9a4b-2f6a1c0d9e21";
const REPLICA_2: &str = "0c2e8b47-4c9f-4d8f-8b5c-3a7b2d1e0f32";

/// A running `amelie-server` (`common::Server`: stopped on drop), reached over its
/// repository's unix socket.
struct Node(common::Server);

impl Node {
    /// `amelie-server start <repo>` with an HTTPS listener on `port` (the certificate in the
    /// repository's `certs/`), `extra` options and `env` (and no `SSL_CERT_*` of the test's
    /// own); waits until it answers.
    fn start(repo: &Path, port: u16, extra: &[String], env: &[(&str, &Path)]) -> Node {
        let mut options = vec![
            "--tls_cert=certs/server.pem".to_string(),
            "--tls_key=certs/server.key".to_string(),
            format!(r#"--listen=[{{"host": "127.0.0.1", "port": {port}, "tls": true}}]"#),
            "--repl_reconnect_ms=50".to_string(),
        ];
        options.extend_from_slice(extra);
        Node(common::Server::start_with(repo, &options, |cmd| {
            cmd.env_remove("SSL_CERT_FILE").env_remove("SSL_CERT_DIR");
            for (name, value) in env {
                cmd.env(name, value);
            }
        }))
    }

    fn try_sql(&self, sql: &str) -> Option<String> {
        self.0.sql(sql)
    }

    /// The 200 or 204 body; panics on an error.
    #[track_caller]
    fn sql(&self, sql: &str) -> String {
        self.try_sql(sql)
            .unwrap_or_else(|| panic!("{sql}: failed on {}", self.0.repo.display()))
    }

    fn json(&self, sql: &str) -> serde_json::Value {
        serde_json::from_str(&self.sql(sql)).unwrap()
    }

    fn uuid(&self) -> String {
        self.json("show uuid")[0].as_str().unwrap().to_string()
    }

    fn log(&self) -> String {
        fs::read_to_string(self.0.repo.join("log")).unwrap_or_default()
    }

    /// Stops the server with SIGTERM and waits for a clean exit.
    fn stop(mut self) {
        self.0.stop();
    }
}

/// A new repository at `repo` with `pki`'s certificate and key in its `certs/`.
fn init(repo: &Path, pki: &Pki) {
    let st = server_cmd("init", repo, &[], &repo.with_extension("init.stderr"))
        .status()
        .unwrap();
    assert!(st.success());
    fs::write(repo.join("certs/server.pem"), &pki.cert).unwrap();
    fs::write(repo.join("certs/server.key"), &pki.key).unwrap();
}

/// `amelie backup <dir>` of the server on `port` over HTTPS, trusting `ca`: the copy holds
/// the primary's `certs/` too, so the replica serves HTTPS with the same certificate.
fn backup(tmp: &Path, dir: &Path, port: u16, ca: &Path) {
    let remote = format!(
        r#"--json={{"uri": "https://127.0.0.1:{port}", "tls_ca": "{}"}}"#,
        ca.display()
    );
    let args = ["backup", dir.to_str().unwrap(), &remote, "--debug=0"];
    let out = run(amelie_cmd(&tmp.join("home"), &args), b"");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(dir.join("certs/server.key").is_file());
}

/// Starts a replica made by [`backup`] with its own uuid, subscribed to `primary`.
fn replica_of(repo: &Path, port: u16, uuid: &str, primary: &str) -> Node {
    let r = Node::start(repo, port, &[format!("--uuid={uuid}")], &[]);
    assert_eq!(r.uuid(), uuid);
    r.sql("start repl");
    r.sql(&format!("subscribe '{primary}'"));
    r
}

/// The replica `id` in the primary's `SHOW REPLICAS`.
fn replica(p: &Node, id: &str) -> serde_json::Value {
    let v = p.json("show replicas");
    let list = v.as_array().cloned().unwrap_or_default();
    list.into_iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no replica {id} in {v}"))
}

/// What a replica must agree on with its primary: `show lsn` and the rows.
fn state(s: &Node) -> (String, String) {
    (s.sql("show lsn"), s.sql("select * from t order by id"))
}

#[test]
fn streaming_over_https_with_the_wrong_then_the_right_ca() {
    let tmp = TempDir::new("repl-tls");
    let good = pki("amelie test CA");
    let other = pki("another CA");
    let ca = tmp.0.join("ca.pem");
    fs::write(&ca, &good.ca).unwrap();
    let wrong_ca = tmp.0.join("wrong.pem");
    fs::write(&wrong_ca, &other.ca).unwrap();

    let p_dir = tmp.0.join("p");
    init(&p_dir, &good);
    let p_port = free_port();
    let p = Node::start(&p_dir, p_port, &["--backends=2".to_string()], &[]);
    p.sql("create table t (id int serial primary key, v text)");
    p.sql("insert into t values (1001, 'a'), (1002, 'b')");
    let p_uuid = p.uuid();

    let r_dir = tmp.0.join("r");
    backup(&tmp.0, &r_dir, p_port, &ca);
    let r_port = free_port();
    let r = replica_of(&r_dir, r_port, REPLICA_1, &p_uuid);
    assert_eq!(r.sql("show lsn"), p.sql("show lsn"));

    // the wrong CA: the handshake fails, logged; disconnected; retried
    p.sql(&format!(
        "create replica '{REPLICA_1}' uri 'https://127.0.0.1:{r_port}' tls_ca '{}'",
        wrong_ca.display()
    ));
    p.sql("start repl");
    p.sql("insert into t generate 50");
    wait_for("the handshake error in the log", || {
        p.log().contains("tls handshake: invalid peer certificate")
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(replica(&p, REPLICA_1)["connected"], false);
    assert_ne!(r.sql("show lsn"), p.sql("show lsn"));
    // the primary serves on
    assert_eq!(p.sql("select count(*) from t"), "[52]");

    // the right CA, relative to the primary's repository, but not there yet: an error in the
    // log, disconnected; the file is read at every retry, so once it is there it streams
    p.sql(&format!("drop replica '{REPLICA_1}'"));
    p.sql(&format!(
        "create replica '{REPLICA_1}' uri 'https://127.0.0.1:{r_port}' tls_ca 'certs/ca.pem'"
    ));
    let missing = format!("tls_ca '{}': ", p_dir.join("certs/ca.pem").display());
    wait_for("the missing CA file in the log", || {
        p.log().contains(&missing)
    });
    assert_eq!(replica(&p, REPLICA_1)["connected"], false);
    fs::write(p_dir.join("certs/ca.pem"), &good.ca).unwrap();
    wait_for("connected", || replica(&p, REPLICA_1)["connected"] == true);
    p.sql("create table u (id int primary key, x int)");
    for i in 0..30 {
        p.sql(&format!("insert into u values ({i}, {i})"));
    }
    p.sql("update t set v = 'c' where id = 1001");
    p.sql("delete from t where id = 1002");
    wait_for("the replica to catch up", || {
        r.try_sql("show lsn") == p.try_sql("show lsn")
    });
    assert_eq!(state(&r), state(&p));
    assert_eq!(
        r.sql("select * from u order by id"),
        p.sql("select * from u order by id")
    );
    wait_for("lag 0", || replica(&p, REPLICA_1)["lag"] == 0);
    assert!(p.log().contains("replication: connected"));

    p.stop();
    r.stop();
}

#[test]
fn two_replicas_over_https_with_the_platform_roots() {
    let tmp = TempDir::new("repl-tls2");
    let good = pki("amelie test CA");
    let ca = tmp.0.join("ca.pem");
    fs::write(&ca, &good.ca).unwrap();
    // a client certificate for the primary (the replicas do not ask for one)
    let client = pki("client CA");
    let client_cert = tmp.0.join("client.pem");
    let client_key = tmp.0.join("client.key");
    fs::write(&client_cert, &client.cert).unwrap();
    fs::write(&client_key, &client.key).unwrap();

    let p_dir = tmp.0.join("p");
    init(&p_dir, &good);
    let p_port = free_port();
    // no tls_ca on the replicas: the platform's certificates, here SSL_CERT_FILE
    let p = Node::start(&p_dir, p_port, &[], &[("SSL_CERT_FILE", &ca)]);
    p.sql("create table t (id int primary key)");
    let p_uuid = p.uuid();

    let (r1_dir, r2_dir) = (tmp.0.join("r1"), tmp.0.join("r2"));
    backup(&tmp.0, &r1_dir, p_port, &ca);
    backup(&tmp.0, &r2_dir, p_port, &ca);
    let (r1_port, r2_port) = (free_port(), free_port());
    let r1 = replica_of(&r1_dir, r1_port, REPLICA_1, &p_uuid);
    let r2 = replica_of(&r2_dir, r2_port, REPLICA_2, &p_uuid);

    p.sql(&format!(
        "create replica '{REPLICA_1}' uri 'https://127.0.0.1:{r1_port}'"
    ));
    // a bare host:port with tls_* options speaks TLS
    p.sql(&format!(
        "create replica '{REPLICA_2}' uri '127.0.0.1:{r2_port}' tls_cert '{}' tls_key '{}'",
        client_cert.display(),
        client_key.display()
    ));
    p.sql("start repl");
    wait_for("replica 1 connected", || {
        replica(&p, REPLICA_1)["connected"] == true
    });
    wait_for("replica 2 connected", || {
        replica(&p, REPLICA_2)["connected"] == true
    });

    for i in 1..=100 {
        p.sql(&format!("insert into t values ({i})"));
    }
    for r in [&r1, &r2] {
        wait_for("a replica to catch up", || {
            r.try_sql("show lsn") == p.try_sql("show lsn")
        });
        assert_eq!(state(r), state(&p));
        assert_eq!(r.sql("select count(*) from t"), "[100]");
    }

    p.stop();
    r1.stop();
    r2.stop();
}
