//! End-to-end tests of WAL streaming (primary → replica): a primary and a replica made with
//! `amelie backup`, both real `amelie-server` processes on loopback ports; the replica
//! follows the primary's DDL and writes at the same LSNs, refuses writes of its own while
//! subscribed, catches up after being killed and restarted, and takes writes again after
//! `UNSUBSCRIBE`; concurrent writers on the primary arrive in order; a replica away past the WAL the primary kept is `replica is outdated`.
//! Also the refusals of `Am-Service: repl` spoken directly.
//!
//! As in `client.rs`, the server binary is the one Cargo builds next to `amelie`; temporary
//! directories and free ports come from the shared harness (`common/mod.rs`), the servers
//! reached over their TCP ports, backups and polling from `common/remote.rs`.

mod common;

use std::fs;

use amelie_client::BlockingClient;
use bytes::Bytes;
use common::remote::{backup, wait_for, Server};
use common::{free_port, TempDir};

/// The replica's own uuid (it must differ from the primary's, which the backup copies).
const REPLICA_UUID: &str = "5f1d7a36-3b8e-4c7e-9a4b-2f6a1c0d9e21";

/// What a replica must agree on with its primary.
fn state(s: &Server) -> (i64, String, String) {
    (
        s.lsn(),
        s.sql("select * from t order by id"),
        s.sql("select * from u order by id"),
    )
}

/// The one replica of `SHOW REPLICAS` on the primary.
fn replica(p: &Server) -> serde_json::Value {
    common::remote::replica(p, REPLICA_UUID)
}

#[test]
fn primary_streams_to_replica() {
    let dir = TempDir::new("stream");
    let p = Server::start(&dir.0.join("p"), free_port(), &["--backends=2"]);
    p.sql("create table t (id int serial primary key, v text)");
    p.sql("insert into t values (1001, 'a'), (1002, 'b')");
    let p_uuid = p.uuid();

    // the replica: a backup of the primary with a uuid of its own
    let r_dir = dir.0.join("r");
    backup(&dir.0, &r_dir, &p);
    let r_port = free_port();
    let uuid_arg = format!("--uuid={REPLICA_UUID}");
    let r = Server::start(&r_dir, r_port, &[&uuid_arg]);
    assert_eq!(r.uuid(), REPLICA_UUID);
    assert_eq!(r.lsn(), p.lsn());
    r.sql("start repl");
    r.sql(&format!("subscribe '{p_uuid}'"));

    p.sql(&format!(
        "create replica '{REPLICA_UUID}' uri '127.0.0.1:{r_port}'"
    ));
    p.sql("start repl");

    // DDL and writes on the primary reach the replica at the same LSNs
    p.sql("create table u (id int primary key, x int)");
    p.sql("insert into t generate 300");
    for i in 0..50 {
        p.sql(&format!("insert into u values ({i}, {i})"));
    }
    p.sql("update u set x = x + 1 where id < 10");
    p.sql("delete from t where id = 1001");
    wait_for("the replica to catch up", || {
        r.try_sql("show lsn") == p.try_sql("show lsn")
    });
    assert_eq!(state(&r), state(&p));
    assert_eq!(
        r.int("select count(*) from t"),
        p.int("select count(*) from t")
    );
    assert_eq!(r.int("select count(*) from u"), 50);

    // the replica is read-only
    assert_eq!(
        r.error("insert into u values (1000, 1)"),
        "system is in read-only mode"
    );

    // the primary sees it connected, with no lag
    wait_for("connected with lag 0", || {
        let rep = replica(&p);
        rep["connected"] == true && rep["lag"] == 0
    });
    assert_eq!(replica(&p)["lsn"].as_i64().unwrap(), p.lsn());

    // the replica goes away: the primary keeps writing, the stream shows disconnected
    r.kill();
    for i in 50..80 {
        p.sql(&format!("insert into u values ({i}, {i})"));
    }
    p.sql("alter table u add column y int");
    p.sql("update u set y = id where id >= 70");
    wait_for("disconnected", || replica(&p)["connected"] == false);
    assert!(replica(&p)["lag"].as_i64().unwrap() > 0);
    // the replica's slot keeps the WAL it has not received through a checkpoint
    p.sql("checkpoint");

    // restarted, it catches up: no gap, no duplicate
    let r = Server::start(&r_dir, r_port, &[]);
    assert_eq!(r.uuid(), REPLICA_UUID);
    wait_for("the restarted replica to catch up", || {
        r.try_sql("show lsn") == p.try_sql("show lsn")
    });
    assert_eq!(state(&r), state(&p));
    assert_eq!(r.int("select count(*) from u"), 80);
    wait_for("connected again with lag 0", || {
        let rep = replica(&p);
        rep["connected"] == true && rep["lag"] == 0
    });

    // more writes still stream
    p.sql("insert into t values (100000, 'z')");
    wait_for("the last write", || {
        r.try_sql("select v from t where id = 100000").as_deref() == Some("[\"z\"]")
    });
    assert_eq!(state(&r), state(&p));

    // a primary stopped while streaming stops cleanly; restarted, it streams again
    p.stop();
    let p = Server::start(&dir.0.join("p"), free_port(), &[]);
    wait_for("connected after the primary's restart", || {
        replica(&p)["connected"] == true
    });
    p.sql("insert into t values (100001, 'y')");
    wait_for("the write after the restart", || {
        r.try_sql("show lsn") == p.try_sql("show lsn")
    });
    assert_eq!(state(&r), state(&p));

    // dropping the replica stops the stream and releases its slot
    p.sql(&format!("drop replica '{REPLICA_UUID}'"));
    wait_for("no WAL slot", || p.json("show wal")[0]["slots"] == 0);

    // promoted, the replica takes writes
    r.sql("unsubscribe");
    r.sql("insert into u (id, x, y) values (1000, 1, 1)");
    assert_eq!(r.int("select count(*) from u"), 81);
    r.stop();
}

fn service(c: &mut BlockingClient, headers: &[(&str, &str)], body: &'static [u8]) -> (u16, String) {
    let (status, body) = c
        .request_bytes(
            "/",
            Some("application/octet-stream"),
            headers,
            Bytes::from_static(body),
        )
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| panic!("not json: {}", String::from_utf8_lossy(&body)));
    (status, v["msg"].as_str().unwrap_or("").to_string())
}

#[test]
fn repl_requests_are_refused_unless_subscribed() {
    let dir = TempDir::new("refuse");
    let r = Server::start(&dir.0.join("r"), free_port(), &["--backends=1"]);
    let primary = "0b7c3f52-6a8d-4e1f-b2c9-7d4e5f6a8b90";
    let mut c = r.client();
    let h = [("Am-Service", "repl"), ("Am-Id", primary), ("Am-Lsn", "5")];
    // not subscribed
    assert_eq!(
        service(&mut c, &h, b""),
        (400, format!("replication: unknown primary '{primary}'"))
    );
    // subscribed, then replication stopped
    r.sql("start repl");
    r.sql(&format!("subscribe '{primary}'"));
    r.sql("stop repl");
    assert_eq!(
        service(&mut c, &h, b""),
        (400, "replication: not started on this server".to_string())
    );
    r.sql("start repl");
    // another primary
    let other = [
        ("Am-Service", "repl"),
        ("Am-Id", "11111111-2222-4333-8444-555555555555"),
        ("Am-Lsn", "5"),
    ];
    assert_eq!(
        service(&mut c, &other, b"").1,
        "replication: unknown primary '11111111-2222-4333-8444-555555555555'"
    );
    // malformed headers and bodies
    assert_eq!(
        service(&mut c, &[("Am-Service", "repl"), ("Am-Id", primary)], b"").1,
        "replication: Am-Lsn: integer expected"
    );
    assert_eq!(
        service(&mut c, &[("Am-Service", "repl"), ("Am-Lsn", "1")], b"").1,
        "replication: Am-Id header expected"
    );
    assert_eq!(
        service(&mut c, &h, b"this is not a body of wal records"),
        (
            400,
            "replication: malformed body at byte 0: incomplete record body".to_string()
        )
    );
    assert_eq!(
        service(&mut c, &h, b"xy").1,
        "replication: malformed body at byte 0: incomplete record header"
    );
    // the server is still fine, and a handshake answers 200 with no body
    let (status, body) = c
        .request_bytes("/", Some("application/octet-stream"), &h, Bytes::new())
        .unwrap();
    assert_eq!((status, body.len()), (200, 0));
    assert_eq!(r.sql("select 1"), "[1]");
}

#[test]
fn a_replica_behind_the_kept_wal_is_outdated() {
    let dir = TempDir::new("outdated");
    let p_dir = dir.0.join("p");
    // small WAL files, so a checkpoint removes some
    let p = Server::start(
        &p_dir,
        free_port(),
        &["--backends=1", "--wal_rotate_wm=1024"],
    );
    p.sql("create table t (id int serial primary key, v text)");
    let p_uuid = p.uuid();
    let r_dir = dir.0.join("r");
    backup(&dir.0, &r_dir, &p);
    let r_port = free_port();
    let uuid_arg = format!("--uuid={REPLICA_UUID}");
    let r = Server::start(&r_dir, r_port, &[&uuid_arg]);
    r.sql("start repl");
    r.sql(&format!("subscribe '{p_uuid}'"));
    p.sql(&format!(
        "create replica '{REPLICA_UUID}' uri '127.0.0.1:{r_port}'"
    ));
    p.sql("start repl");
    p.sql("insert into t generate 10");
    wait_for("the replica to catch up", || {
        r.try_sql("show lsn") == p.try_sql("show lsn")
    });
    let r_lsn = r.lsn();

    // away while the primary writes several WAL files and checkpoints: its slot is gone
    r.kill();
    wait_for("disconnected", || replica(&p)["connected"] == false);
    for _ in 0..20 {
        p.sql("insert into t generate 20");
    }
    p.sql("checkpoint");
    wait_for("the old WAL files to go", || {
        p.json("show wal")[0]["lsn_min"].as_i64().unwrap_or(0) > r_lsn + 1
    });

    // back, it cannot catch up: outdated, logged, never connected
    let r = Server::start(&r_dir, r_port, &[]);
    wait_for("replica is outdated in the log", || {
        fs::read_to_string(p_dir.join("log"))
            .unwrap_or_default()
            .contains("replica is outdated")
    });
    let rep = replica(&p);
    assert_eq!(rep["connected"], false, "{rep}");
    assert_eq!(r.lsn(), r_lsn);

    // a primary with a stream retrying stops cleanly
    p.stop();
    r.stop();
}

#[test]
fn concurrent_writes_reach_the_replica_in_order() {
    let dir = TempDir::new("load");
    let p = Server::start(&dir.0.join("p"), free_port(), &["--backends=2"]);
    p.sql("create table t (id int serial primary key, v text)");
    p.sql("create table u (id int primary key, x int)");
    let p_uuid = p.uuid();
    let r_dir = dir.0.join("r");
    backup(&dir.0, &r_dir, &p);
    let r_port = free_port();
    let uuid_arg = format!("--uuid={REPLICA_UUID}");
    let r = Server::start(&r_dir, r_port, &[&uuid_arg]);
    r.sql("start repl");
    r.sql(&format!("subscribe '{p_uuid}'"));
    p.sql(&format!(
        "create replica '{REPLICA_UUID}' uri '127.0.0.1:{r_port}'"
    ));
    p.sql("start repl");
    // four writers at once, each on its own connection, while the stream runs
    std::thread::scope(|s| {
        for w in 0..4 {
            let p = &p;
            s.spawn(move || {
                let mut c = p.client();
                for i in 0..100 {
                    let id = w * 1000 + i;
                    let reply = c
                        .sql(&format!(
                            "insert into u values ({id}, {i}); insert into t (v) values ('{w}')"
                        ))
                        .unwrap();
                    assert!(reply.is_success(), "{}", reply.body);
                    if i % 10 == 0 {
                        let reply = c
                            .sql(&format!("update u set x = x + 1 where id = {id}"))
                            .unwrap();
                        assert!(reply.is_success(), "{}", reply.body);
                    }
                }
            });
        }
    });
    wait_for("the replica to catch up", || {
        r.try_sql("show lsn") == p.try_sql("show lsn")
    });
    assert_eq!(state(&r), state(&p));
    assert_eq!(r.int("select count(*) from u"), 400);
    wait_for("lag 0", || replica(&p)["lag"] == 0);
    r.stop();
    p.stop();
}
