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
use std::time::Duration;

use amelie_client::BlockingClient;
use bytes::Bytes;
use common::remote::{backup, replica_of, start_replica, wait_for, Server};
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

    // the replica: a backup of the primary with a uuid of its own
    let r_dir = dir.0.join("r");
    let r = replica_of(&dir.0, &p, &r_dir, REPLICA_UUID, &[]);
    let r_port = r.port;
    assert_eq!(r.lsn(), p.lsn());
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
    p.sql("insert into t generate 10");
    let r_dir = dir.0.join("r");
    backup(&dir.0, &r_dir, &p);
    let r_lsn = p.lsn();

    // no replica is defined yet: nothing keeps the WAL the backup would need next, and the
    // primary writes several WAL files and checkpoints them away
    for _ in 0..20 {
        p.sql("insert into t generate 20");
    }
    p.sql("checkpoint");
    wait_for("the old WAL files to go", || {
        p.json("show wal")[0]["lsn_min"].as_i64().unwrap_or(0) > r_lsn + 1
    });
    assert_eq!(p.json("show wal")[0]["slots"], 0);

    // the replica from the stale backup, defined only now: outdated, logged, never connected
    let r = start_replica(&p, &r_dir, REPLICA_UUID, &[]);
    // its slot keeps what the log holds from the definition on: too late for this replica
    let (_, slots, slots_min) = wal_pins(&p);
    assert_eq!(slots, 1);
    assert!(
        slots_min > r_lsn + 1 && slots_min <= p.lsn() + 1,
        "{slots_min}"
    );
    p.sql("start repl");
    wait_for("replica is outdated in the log", || {
        fs::read_to_string(p_dir.join("log"))
            .unwrap_or_default()
            .contains("replica is outdated")
    });
    // still retried, still outdated
    std::thread::sleep(Duration::from_millis(300));
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
    let r_dir = dir.0.join("r");
    let r = replica_of(&dir.0, &p, &r_dir, REPLICA_UUID, &[]);
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

/// `SHOW WAL` on `p`: (`lsn_min`, `slots`, `slots_min`).
fn wal_pins(p: &Server) -> (i64, i64, i64) {
    let w = &p.json("show wal")[0];
    let int = |k: &str| w[k].as_i64().unwrap_or_else(|| panic!("{k} in {w}"));
    (int("lsn_min"), int("slots"), int("slots_min"))
}

/// A replica's WAL slot lives as long as its definition: a killed replica's WAL survives
/// checkpoints, STOP REPL and a restart of the primary (the slot then starts at the oldest
/// record on disk), it catches up when it comes back, and the slot follows what it confirms.
#[test]
fn a_killed_replicas_wal_survives_checkpoints_and_primary_restarts() {
    let dir = TempDir::new("keep");
    let p_dir = dir.0.join("p");
    // small WAL files, so every checkpoint could remove some
    let p_args = ["--backends=1", "--wal_rotate_wm=1024"];
    let p = Server::start(&p_dir, free_port(), &p_args);
    p.sql("create table t (id int serial primary key, v text)");
    p.sql("create table u (id int primary key, x int)");
    let r_dir = dir.0.join("r");
    let r = replica_of(&dir.0, &p, &r_dir, REPLICA_UUID, &[]);
    let r_port = r.port;
    // defined: one slot, from the oldest record the log holds
    let (_, slots, slots_min) = wal_pins(&p);
    assert_eq!(slots, 1);
    assert!(slots_min <= p.lsn(), "{slots_min}");
    p.sql("start repl");
    p.sql("insert into t generate 10");
    wait_for("the replica to catch up", || {
        r.try_sql("show lsn") == p.try_sql("show lsn")
    });
    let r_lsn = r.lsn();
    // the slot follows what the replica confirms
    wait_for("the slot at the replica's next record", || {
        wal_pins(&p).2 == r_lsn + 1
    });

    // killed: the primary writes several WAL files and checkpoints; the slot keeps them
    r.kill();
    wait_for("disconnected", || replica(&p)["connected"] == false);
    for i in 0..20 {
        p.sql("insert into t generate 20");
        p.sql(&format!("insert into u values ({i}, {i})"));
    }
    p.sql("checkpoint");
    let (lsn_min, slots, slots_min) = wal_pins(&p);
    assert_eq!((slots, slots_min), (1, r_lsn + 1));
    assert!(
        lsn_min <= r_lsn + 1,
        "lsn_min {lsn_min}, replica at {r_lsn}"
    );

    // STOP REPL keeps the slot
    p.sql("stop repl");
    p.sql("insert into t generate 20");
    p.sql("checkpoint");
    let (lsn_min, slots, _) = wal_pins(&p);
    assert_eq!(slots, 1);
    assert!(
        lsn_min <= r_lsn + 1,
        "lsn_min {lsn_min}, replica at {r_lsn}"
    );
    p.sql("start repl");

    // the primary restarts (its slot is not persisted): the new slot starts at the oldest
    // record on disk, so the next checkpoint removes nothing the replica needs
    p.stop();
    let p = Server::start(&p_dir, free_port(), &p_args);
    let (lsn_min, slots, slots_min) = wal_pins(&p);
    assert_eq!(slots, 1);
    assert!(
        slots_min <= r_lsn + 1,
        "slots_min {slots_min}, replica at {r_lsn}"
    );
    assert!(
        lsn_min <= r_lsn + 1,
        "lsn_min {lsn_min}, replica at {r_lsn}"
    );
    for _ in 0..20 {
        p.sql("insert into t generate 20");
    }
    p.sql("checkpoint");
    let (lsn_min, slots, _) = wal_pins(&p);
    assert_eq!(slots, 1);
    assert!(
        lsn_min <= r_lsn + 1,
        "lsn_min {lsn_min}, replica at {r_lsn}"
    );

    // back, the replica catches up from where it was
    let r = Server::start(&r_dir, r_port, &[]);
    wait_for("the restarted replica to catch up", || {
        r.try_sql("show lsn") == p.try_sql("show lsn")
    });
    assert_eq!(state(&r), state(&p));
    assert_eq!(r.int("select count(*) from u"), 20);
    wait_for("connected with lag 0", || {
        let rep = replica(&p);
        rep["connected"] == true && rep["lag"] == 0
    });
    // the slot moved to the replica's next record: a checkpoint (of a newer LSN) now lets
    // the old files go
    p.sql("insert into u values (1000, 1)");
    let next = p.lsn() + 1;
    wait_for("the slot at the replica's next record", || {
        wal_pins(&p).2 == next
    });
    p.sql("checkpoint");
    wait_for("the old WAL files to go", || wal_pins(&p).0 > r_lsn + 1);

    // dropping the replica releases the slot
    p.sql(&format!("drop replica '{REPLICA_UUID}'"));
    assert_eq!(wal_pins(&p).1, 0);
    p.stop();
    r.stop();
}

/// A WAL record larger than the replica's `limit_recv` still arrives: the subscribed
/// primary's `Am-Service: repl` requests may be as large as a record can be, other requests
/// keep the limit.
#[test]
fn a_record_larger_than_the_replicas_limit_recv_arrives() {
    let dir = TempDir::new("big");
    let p = Server::start(&dir.0.join("p"), free_port(), &["--backends=1"]);
    p.sql("create table t (id int primary key, v text)");
    let r_dir = dir.0.join("r");
    let r = replica_of(&dir.0, &p, &r_dir, REPLICA_UUID, &["--limit_recv=65536"]);
    p.sql("start repl");

    // one transaction, one record of about 300 KB
    let big = "x".repeat(300_000);
    p.sql(&format!("insert into t values (1, '{big}'), (2, 'small')"));
    p.sql("insert into t values (3, 'after')");
    wait_for("the replica to receive the big record", || {
        r.try_sql("show lsn") == p.try_sql("show lsn")
    });
    assert_eq!(r.int("select length(v) from t where id = 1"), 300_000);
    assert_eq!(
        r.sql("select id from t order by id"),
        p.sql("select id from t order by id")
    );
    wait_for("connected with lag 0", || {
        let rep = replica(&p);
        rep["connected"] == true && rep["lag"] == 0
    });

    // a SQL request to the replica still has its limit
    let reply = r
        .client()
        .sql(&format!("select '{}'", "y".repeat(70_000)))
        .unwrap();
    assert!(!reply.is_success());
    assert!(
        reply.body.contains("http request limit reached"),
        "{}",
        reply.body
    );
    p.stop();
    r.stop();
}
