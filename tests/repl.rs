//! End-to-end: what replication keeps in `config.json` (spec §2.13, §4.2): the replica
//! definitions with every option (`replicas`, hidden), `repl` and `repl_primary`; and a start
//! whose `repl_primary` is the server's own uuid fails. The SQL behaviour is in
//! `tests/sql/repl/`.

mod common;

use common::*;
use std::fs;
use std::process::Command;

const OWN: &str = "00000000-0000-0000-0000-000000000001";
const PRIMARY: &str = "00000000-0000-0000-0000-000000000002";
const REPLICA: &str = "00000000-0000-0000-0000-000000000003";

fn config(dir: &TestDir) -> serde_json::Value {
    let text = fs::read_to_string(dir.repo().join("config.json")).expect("config.json");
    serde_json::from_str(&text).expect("config.json is JSON")
}

#[test]
fn replication_state_is_kept_in_config_json() {
    let dir = TestDir::new("repl-config");
    let uuid = format!("--uuid={OWN}");
    let mut s = Server::start(&dir.repo(), &[&uuid]);
    s.exec(&format!(
        "create replica '{REPLICA}' uri '127.0.0.1:1' token 'tok' tls_ca 'ca.pem' \
         tls_capath 'certs' tls_cert 'c.pem' tls_key 'k.pem'"
    ));
    s.exec("start repl");
    s.exec(&format!("subscribe '{PRIMARY}'"));
    let c = config(&dir);
    assert_eq!(c["repl"], true);
    assert_eq!(c["repl_primary"], PRIMARY);
    assert_eq!(
        c["replicas"],
        serde_json::json!([{
            "id": REPLICA,
            "uri": "127.0.0.1:1",
            "token": "tok",
            "tls_ca": "ca.pem",
            "tls_capath": "certs",
            "tls_cert": "c.pem",
            "tls_key": "k.pem",
        }])
    );
    // the token and the TLS options are stored, never shown
    for sql in [
        "show replicas",
        "show repl",
        "show all",
        "select system.replicas()",
    ] {
        let body = s.query(sql);
        assert!(
            !body.contains("tok") && !body.contains("pem"),
            "{sql}: {body}"
        );
    }
    s.stop();

    // a restart keeps them, and the server stays read-only
    let mut s = Server::start(&dir.repo(), &[&uuid]);
    s.expect("show read_only", 200, "[true]");
    s.expect_error(
        "create table t (id int primary key)",
        "system is in read-only mode",
    );
    s.exec("unsubscribe");
    s.exec("stop repl");
    s.exec(&format!("drop replica '{REPLICA}'"));
    let c = config(&dir);
    assert_eq!(c["repl"], false);
    assert_eq!(c["repl_primary"], "");
    assert_eq!(c["replicas"], serde_json::json!([]));
    s.exec("create table t (id int primary key)");
    s.stop();
}

#[test]
fn own_uuid_as_primary_fails_the_start() {
    let dir = TestDir::new("repl-own-primary");
    let mut s = Server::start(&dir.repo(), &[&format!("--uuid={OWN}")]);
    s.stop();
    let out = Command::new(BIN)
        .args([
            "start",
            &dir.repo().to_string_lossy(),
            "--log_to_stdout=false",
            &format!("--uuid={OWN}"),
            &format!("--repl_primary={OWN}"),
            "--json={\"listen\": null}",
        ])
        .output()
        .expect("run amelie-server");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("repl: primary id cannot match this server id"),
        "{stderr}"
    );
}
