//! End-to-end: compute nodes at run time (spec §2.11) — `CREATE [COMPUTE] NODE`, `DROP NODE`,
//! `SHOW NODES | CLUSTER | NODE`, `system.nodes()` / `system.node()`, `has dependencies`,
//! persistence across restart, `backends = 0`, new tables spreading over new nodes, and nodes
//! created and dropped while clients insert (no error, no lost row).

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;

const A: &str = "00000000-0000-0000-0000-00000000000a";
const B: &str = "00000000-0000-0000-0000-00000000000b";

/// The node ids of `SHOW NODES`, in order.
fn node_ids(s: &Server) -> Vec<String> {
    let v = json(&s.query("show nodes"));
    v.as_array()
        .expect("show nodes answers an array")
        .iter()
        .map(|n| n["id"].as_str().expect("node id").to_string())
        .collect()
}

/// The number of partitions of table `name` (`system.table()`).
fn partitions(s: &Server, name: &str) -> usize {
    let v = json(&s.query(&format!("select system.table('{name}').partitions")));
    v[0].as_array().expect("partitions array").len()
}

#[test]
fn create_drop_show() {
    let dir = TestDir::new("nodes-ddl");
    let s = Server::start(&dir.repo(), &["--backends=2"]);
    assert_eq!(node_ids(&s).len(), 2);
    assert_eq!(json(&s.query("show cluster")), json(&s.query("show nodes")));
    assert_eq!(single_int(&s.query("select system.nodes()::size")), 2);

    s.exec(&format!("create node '{A}'"));
    s.exec(&format!("create compute node if not exists '{A}'"));
    s.exec("create node");
    let ids = node_ids(&s);
    assert_eq!(ids.len(), 4);
    assert_eq!(ids[2], A);
    assert_eq!(ids[3].len(), 36);
    s.expect_error(
        &format!("create node '{A}'"),
        &format!("node '{A}': already exists"),
    );
    s.expect_error("create node 'abc'", "failed to parse uuid");
    s.expect_error("drop node 'abc'", "failed to parse uuid");
    s.expect_error(
        "create node if not exists",
        "CREATE NODE IF NOT EXISTS <id> expected",
    );
    s.expect(
        &format!("show node '{A}'"),
        200,
        &format!("[{{\n  \"id\": \"{A}\"\n}}]"),
    );
    s.expect(&format!("show node '{B}'"), 200, "[null]");
    s.expect(
        &format!("select system.node('{A}')"),
        200,
        &format!("[{{\n  \"id\": \"{A}\"\n}}]"),
    );
    s.expect(&format!("select system.node('{B}')"), 200, "[null]");
    let status = json(&s.query("select system.status()"));
    assert_eq!(status[0]["backends"], 4);
    assert_eq!(status[0]["frontends"], 1);

    // a utility statement must be alone in a request
    let (code, _) = s.post("create node; select 1");
    assert_eq!(code, 400);

    s.expect_error(
        &format!("drop node '{B}'"),
        &format!("node '{B}': not exists"),
    );
    s.exec(&format!("drop node if exists '{B}'"));
    s.exec(&format!("drop node '{}'", ids[3]));
    assert_eq!(node_ids(&s).len(), 3);

    // a table created now has a partition on A: A cannot be dropped until the table is
    s.exec("create table t (id int primary key)");
    assert_eq!(partitions(&s, "t"), 3);
    s.expect_error(
        &format!("drop node '{A}'"),
        &format!("node '{A}': has dependencies"),
    );
    s.expect_error(
        &format!("drop node if exists '{A}'"),
        &format!("node '{A}': has dependencies"),
    );
    let rows: Vec<String> = (0..300).map(|i| format!("({i})")).collect();
    s.exec(&format!("insert into t values {}", rows.join(", ")));
    s.expect("select count(*) from t", 200, "[300]");
    s.exec("drop table t");
    s.exec(&format!("drop node '{A}'"));
    assert_eq!(node_ids(&s).len(), 2);
    s.exec("create table t (id int primary key)");
    assert_eq!(partitions(&s, "t"), 2);
}

#[test]
fn new_table_uses_new_node() {
    let dir = TestDir::new("nodes-new-table");
    let s = Server::start(&dir.repo(), &["--backends=1"]);
    s.exec("create table t1 (id int primary key)");
    s.exec(&format!("create node '{A}'"));
    s.exec("create table t2 (id int primary key)");
    assert_eq!(partitions(&s, "t1"), 1);
    assert_eq!(partitions(&s, "t2"), 2);
    let ext = json(&s.query("show tables extended"));
    let parts = |name: &str| {
        ext.as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .map(|t| t["partitions"].as_array().unwrap().len())
    };
    assert_eq!((parts("t1"), parts("t2")), (Some(1), Some(2)));
    let t2 = json(&s.query("select system.table('t2').partitions"));
    assert_eq!(t2[0][1]["node"], A);
    // the new node stores rows: every id is read back
    let rows: Vec<String> = (0..500).map(|i| format!("({i})")).collect();
    s.exec(&format!("insert into t2 values {}", rows.join(", ")));
    s.expect("select count(*), sum(id) from t2", 200, "[[500, 124750]]");
    // and a shared table stays on the first node
    s.exec("create shared table sh (id int primary key)");
    assert_eq!(partitions(&s, "sh"), 1);
}

#[test]
fn nodes_persist_across_restart() {
    let dir = TestDir::new("nodes-restart");
    let repo = dir.repo();
    let mut s = Server::start(&repo, &["--backends=1"]);
    s.exec(&format!("create node '{A}'"));
    s.exec(&format!("create node '{B}'"));
    s.exec(&format!("drop node '{B}'"));
    s.exec("create table t (id int primary key)");
    let rows: Vec<String> = (0..200).map(|i| format!("({i})")).collect();
    s.exec(&format!("insert into t values {}", rows.join(", ")));
    let before = node_ids(&s);
    assert_eq!(before.len(), 2);
    s.stop();

    // `backends` only matters at bootstrap: the logged nodes come back
    let s = Server::start(&repo, &["--backends=5"]);
    assert_eq!(node_ids(&s), before);
    assert_eq!(partitions(&s, "t"), 2);
    s.expect("select count(*) from t", 200, "[200]");
    s.expect_error(
        &format!("drop node '{A}'"),
        &format!("node '{A}': has dependencies"),
    );
    s.expect_error(
        &format!("drop node '{B}'"),
        &format!("node '{B}': not exists"),
    );
}

#[test]
fn zero_backends() {
    let dir = TestDir::new("nodes-zero");
    let repo = dir.repo();
    let mut s = Server::start(&repo, &["--backends=0"]);
    s.expect("show nodes", 200, "[]");
    s.expect_error("create table t (id int primary key)", "system has no nodes");
    s.expect_error(
        "create shared table t (id int primary key)",
        "system has no nodes",
    );
    s.expect("select 1 + 1", 200, "[2]");
    s.exec(&format!("create node '{A}'"));
    s.exec("create table t (id int primary key)");
    s.exec("insert into t values (1), (2)");
    s.expect("select count(*) from t", 200, "[2]");
    s.stop();
    let s = Server::start(&repo, &["--backends=0"]);
    assert_eq!(node_ids(&s), vec![A.to_string()]);
    s.expect("select count(*) from t", 200, "[2]");
}

#[test]
fn nodes_change_under_insert_load() {
    const CLIENTS: i64 = 32;
    let dir = TestDir::new("nodes-load");
    let s = Server::start(&dir.repo(), &["--backends=2"]);
    s.exec("create table t (id int primary key, c int)");
    let stop = Arc::new(AtomicBool::new(false));
    let port = s.port;
    let workers: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut conn = Client::local(port).expect("connect");
                let mut acked = Vec::new();
                let mut errors = Vec::new();
                let mut k = 0i64;
                while !stop.load(Ordering::Relaxed) {
                    let id = c * 1_000_000 + k;
                    k += 1;
                    match conn.sql(&format!("insert into t values ({id}, {c})")) {
                        Ok((204, _)) => acked.push(id),
                        Ok((code, body)) => errors.push(format!("{code} {body}")),
                        Err(e) => errors.push(e.to_string()),
                    }
                }
                (acked, errors)
            })
        })
        .collect();
    let mut created = Vec::new();
    for i in 0..6 {
        std::thread::sleep(Duration::from_millis(100));
        let id = format!("00000000-0000-0000-0000-0000000001{i:02}");
        s.exec(&format!("create node '{id}'"));
        created.push(id);
        if i % 2 == 1 {
            s.exec(&format!("create table t{i} (id int primary key)"));
            s.exec(&format!("insert into t{i} values (1), (2), (3)"));
        }
    }
    // nodes no table uses can be dropped under load, also once a table that used them is
    // gone; a node in use cannot
    for j in 0..3 {
        std::thread::sleep(Duration::from_millis(50));
        let spare = format!("00000000-0000-0000-0000-0000000002{j:02}");
        s.exec(&format!("create node '{spare}'"));
        if j == 1 {
            s.exec("create table tmp (id int primary key)");
            s.exec("insert into tmp values (1), (2), (3), (4)");
            s.expect(
                &format!("drop node '{spare}'"),
                400,
                &format!("{{\"msg\": \"node '{spare}': has dependencies\"}}"),
            );
            s.exec("drop table tmp");
        }
        std::thread::sleep(Duration::from_millis(50));
        s.exec(&format!("drop node '{spare}'"));
    }
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    let mut acked = Vec::new();
    for w in workers {
        let (a, errors) = w.join().expect("client thread");
        assert!(errors.is_empty(), "errors under load: {errors:?}");
        acked.extend(a);
    }
    assert!(!acked.is_empty());
    assert_eq!(
        single_int(&s.query("select count(*) from t")),
        acked.len() as i64
    );
    let got = int_list(&s.query("select id from t order by id"));
    acked.sort_unstable();
    assert_eq!(got, acked);
    assert_eq!(node_ids(&s).len(), 2 + created.len());
    assert_eq!(partitions(&s, "t5"), 8);
    s.expect("select count(*) from t5", 200, "[3]");
}

#[test]
fn nodes_persist_across_checkpoint() {
    let dir = TestDir::new("nodes-checkpoint");
    let repo = dir.repo();
    let mut s = Server::start(&repo, &["--backends=1"]);
    s.exec(&format!("create node '{A}'"));
    s.exec(&format!("create node '{B}'"));
    s.exec("create table t (id int primary key)");
    s.exec("insert into t values (1), (2), (3), (4)");
    s.exec("checkpoint");
    s.exec("drop table t");
    s.exec(&format!("drop node '{B}'"));
    let before = node_ids(&s);
    assert_eq!(before.len(), 2);
    s.stop();
    let s = Server::start(&repo, &["--backends=1"]);
    assert_eq!(node_ids(&s), before);
    s.exec("create table t (id int primary key)");
    assert_eq!(partitions(&s, "t"), 2);
}
