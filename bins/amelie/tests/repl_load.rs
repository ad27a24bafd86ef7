//! End-to-end proof of WAL streaming under load and failures: real `amelie-server`
//! processes on loopback ports (a primary, replicas made with `amelie backup`, each with a
//! uuid of its own), compared at the end table by table (every table of `system.tables()`
//! dumped in primary-key order), catalog by catalog (`system.schemas()`, `system.tables()`,
//! `system.nodes()`, `SHOW TABLES`) and by `SHOW LSN`:
//!
//! * two replicas of one primary, one of them restarted while the primary writes;
//! * a replica seeded from a backup taken while `amelie bench` runs TPC-B on the primary,
//!   subscribed while the load still runs (the TPC-B sums checked on the replica);
//! * every kind of DDL (schemas, tables, columns, indexes, truncate, serial, nodes, shared
//!   tables);
//! * the primary killed (SIGKILL) under write load, and the replica killed while it
//!   applies a backlog: the replica is a prefix of the primary at every look (its LSN not
//!   above the primary's, a sequential writer's ids 1..k without a gap, the transfer sums
//!   equal) and catches up to equal;
//! * `WATCH system.replica(...).lsn = system.config().lsn` returns once the replica has the
//!   primary's LSN, and not before.
//! * WAL records larger than the replica's `limit_recv` (a bulk insert, a bulk update).
//!
//! The servers, backups and polling come from `common/remote.rs`; run `cargo build -p
//! amelie-server` first.

mod common;

use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use amelie_client::{BlockingClient, Remote};
use amelie_loadgen::requests;
use amelie_loadgen::Workload;
use common::remote::{backup, replica, replica_of, start_replica, wait_for, wait_for_secs, Server};
use common::{amelie_cmd, free_port, TempDir};
use serde_json::Value;

const R1: &str = "6a0f3c1e-2b4d-4e8f-9a1b-3c5d7e9f0a11";
const R2: &str = "6a0f3c1e-2b4d-4e8f-9a1b-3c5d7e9f0a22";

/// A client of `uri` (for threads that outlive a `Server`).
fn client(uri: &str) -> BlockingClient {
    let remote = Remote {
        uri: uri.to_string(),
        ..Remote::new()
    };
    BlockingClient::new(&remote).unwrap()
}

/// The values of a one-row result (`[[a, b, ...]]` or `[a]`), NULL as 0.
fn row(s: &Server, sql: &str) -> Vec<i64> {
    let v = s.json(sql);
    let cells = match &v[0] {
        Value::Array(a) => a.clone(),
        _ => v.as_array().cloned().unwrap_or_default(),
    };
    cells
        .iter()
        .map(|c| match c {
            Value::Null => 0,
            c => c
                .as_i64()
                .unwrap_or_else(|| panic!("{sql}: integer expected: {v}")),
        })
        .collect()
}

/// Each user table of `system.tables()`: `schema.name` and its primary-key columns.
fn tables(s: &Server) -> Vec<(String, Vec<String>)> {
    let v = s.json("select system.tables()");
    let list = v[0].as_array().cloned().unwrap_or_default();
    list.iter()
        .map(|t| {
            let cols: Vec<&str> = t["columns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["name"].as_str().unwrap())
                .collect();
            let primary = &t["indexes"][0];
            assert_eq!(primary["primary"], true, "{t}");
            let keys = primary["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| cols[k["column"].as_u64().unwrap() as usize].to_string())
                .collect();
            (
                format!(
                    "{}.{}",
                    t["schema"].as_str().unwrap(),
                    t["name"].as_str().unwrap()
                ),
                keys,
            )
        })
        .collect()
}

/// Rows a request of [`dump`] (the servers here take `LIMIT_SEND`).
const PAGE: usize = 1_000_000;

/// A reply size limit (`limit_send`) that lets [`dump`] read a TPC-B table in one request.
const LIMIT_SEND: &str = "--limit_send=1000000000";

/// Every table's rows in primary-key order: (table, rows).
fn dump(s: &Server) -> Vec<(String, String)> {
    tables(s)
        .into_iter()
        .map(|(name, keys)| {
            // in pages: a reply has a size limit (`limit_send`)
            let mut rows = String::new();
            for page in 0.. {
                let part = s.sql(&format!(
                    "select * from {name} order by {} limit {PAGE} offset {}",
                    keys.join(", "),
                    page * PAGE
                ));
                if part == "[]" {
                    break;
                }
                rows.push_str(&part);
            }
            (name, rows)
        })
        .collect()
}

/// The catalog as a client sees it.
fn catalog(s: &Server) -> Vec<String> {
    [
        "select system.schemas()",
        "select system.tables()",
        "select system.nodes()",
        "show tables",
    ]
    .iter()
    .map(|q| s.sql(q))
    .collect()
}

/// Waits until `r` has the LSN of the (idle) primary `p`, then checks that both hold the
/// same catalog and the same rows in every table.
#[track_caller]
fn assert_caught_up(p: &Server, r: &Server) {
    let lsn = p.lsn();
    wait_for_secs("the replica to catch up", 90, || {
        r.try_sql("show lsn").as_deref() == Some(format!("[{lsn}]").as_str())
    });
    assert_eq!(p.lsn(), lsn, "the primary was not idle");
    assert_eq!(catalog(r), catalog(p));
    let (dr, dp) = (dump(r), dump(p));
    assert_eq!(
        dr.iter().map(|t| &t.0).collect::<Vec<_>>(),
        dp.iter().map(|t| &t.0).collect::<Vec<_>>()
    );
    for ((table, a), (_, b)) in dr.iter().zip(&dp) {
        if a != b {
            let at = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
            let show = |s: &str| s[at.saturating_sub(80)..(at + 80).min(s.len())].to_string();
            panic!(
                "{table}: the replica's rows differ ({} and {} bytes) at byte {at}:\n replica: {}\n primary: {}",
                a.len(),
                b.len(),
                show(a),
                show(b)
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// A transfer load: one sequential writer and transfer writers (TPC-B-like)

/// The tables of the transfer load: `seq` (one writer inserts ids 1, 2, 3, ... in order),
/// and accounts, tellers and a history of transfers whose balance sums are equal.
const TRANSFER_TABLES: [&str; 4] = [
    "create table seq (id int primary key, v int)",
    "create table acc (id int primary key, bal int)",
    "create table tel (id int primary key, bal int) with (type = 'hash')",
    "create table hist (id int primary key serial, a int, t int, d int)",
];
const ACCOUNTS: i64 = 200;
const TELLERS: i64 = 10;

fn transfer_setup(p: &Server) {
    for ddl in TRANSFER_TABLES {
        p.sql(ddl);
    }
    let acc: Vec<String> = (0..ACCOUNTS).map(|i| format!("({i}, 0)")).collect();
    p.sql(&format!("insert into acc values {}", acc.join(", ")));
    let tel: Vec<String> = (0..TELLERS).map(|i| format!("({i}, 0)")).collect();
    p.sql(&format!("insert into tel values {}", tel.join(", ")));
}

/// Checks that `s` holds a consistent state of the transfer load: `seq` is ids 1..k (no
/// gap, no duplicate, each with v = id) and the sums of the account balances, the teller
/// balances and the history's deltas are equal. Returns (k, history rows).
#[track_caller]
fn transfer_check(s: &Server) -> (i64, i64) {
    // one statement: one consistent state of all four tables
    let v = row(
        s,
        "select q.c, q.lo, q.hi, x.c, a.s, a.c, t.s, h.s, h.c from \
         (select count(*) as c, min(id) as lo, max(id) as hi from seq) q, \
         (select count(*) as c from seq where v <> id) x, \
         (select sum(bal) as s, count(*) as c from acc) a, \
         (select sum(bal) as s from tel) t, \
         (select sum(d) as s, count(*) as c from hist) h",
    );
    let k = v[0];
    if k > 0 {
        assert_eq!((v[1], v[2]), (1, k), "seq is not 1..{k}: {v:?}");
    }
    assert_eq!(v[3], 0, "seq rows with v <> id: {v:?}");
    assert_eq!(v[5], ACCOUNTS, "{v:?}");
    assert_eq!((v[4], v[6]), (v[7], v[7]), "transfer sums differ: {v:?}");
    (k, v[8])
}

/// The writers of the transfer load on `uri`: they run until `stop` or until a request
/// fails to get an answer (the server went away).
struct TransferLoad {
    stop: Arc<AtomicBool>,
    seq: JoinHandle<i64>,
    transfers: Vec<JoinHandle<u64>>,
}

impl TransferLoad {
    /// Starts the sequential writer at id `next` and `writers` transfer writers.
    fn start(uri: &str, next: i64, writers: u64) -> TransferLoad {
        let stop = Arc::new(AtomicBool::new(false));
        let seq = {
            let (uri, stop) = (uri.to_string(), stop.clone());
            std::thread::spawn(move || {
                let mut c = client(&uri);
                let mut acked = next - 1;
                while !stop.load(Ordering::Relaxed) {
                    let id = acked + 1;
                    match c.sql(&format!("insert into seq values ({id}, {id})")) {
                        Ok(r) if r.is_success() => acked = id,
                        Ok(r) => panic!("insert into seq: {}", r.body),
                        Err(_) => break,
                    }
                }
                acked
            })
        };
        let transfers = (0..writers)
            .map(|w| {
                let (uri, stop) = (uri.to_string(), stop.clone());
                std::thread::spawn(move || {
                    let mut c = client(&uri);
                    let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ (w + 1) ^ next as u64;
                    let mut ok = 0;
                    while !stop.load(Ordering::Relaxed) {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        let a = (x % ACCOUNTS as u64) as i64;
                        let t = ((x >> 20) % TELLERS as u64) as i64;
                        let d = ((x >> 32) % 10_000) as i64 - 5_000;
                        let sql = format!(
                            "update acc set bal = bal + {d} where id = {a}; \
                             update tel set bal = bal + {d} where id = {t}; \
                             insert into hist (a, t, d) values ({a}, {t}, {d})"
                        );
                        match c.sql(&sql) {
                            Ok(r) if r.is_success() => ok += 1,
                            Ok(r) => panic!("transfer: {}", r.body),
                            Err(_) => break,
                        }
                    }
                    ok
                })
            })
            .collect();
        TransferLoad {
            stop,
            seq,
            transfers,
        }
    }

    /// Stops the writers (or collects them after the server went away): the sequential
    /// writer's last acknowledged id and the transfers acknowledged.
    fn finish(self) -> (i64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        let acked = self.seq.join().unwrap();
        let transfers = self.transfers.into_iter().map(|t| t.join().unwrap()).sum();
        (acked, transfers)
    }
}

// ---------------------------------------------------------------------------------------

#[test]
fn two_replicas_follow_one_primary_across_a_restart() {
    let dir = TempDir::new("two");
    let p = Server::start(&dir.0.join("p"), free_port(), &["--backends=2", LIMIT_SEND]);
    p.sql("create table t (id int serial primary key, v text)");
    p.sql("insert into t (v) values ('before'), ('the'), ('backups')");
    transfer_setup(&p);
    let r1 = replica_of(&dir.0, &p, &dir.0.join("r1"), R1, &[LIMIT_SEND]);
    let r2_dir = dir.0.join("r2");
    let r2 = replica_of(&dir.0, &p, &r2_dir, R2, &[LIMIT_SEND]);
    p.sql("start repl");

    p.sql("create table u (id int primary key, x int) with (type = 'hash')");
    p.sql("insert into t generate 200");
    for i in 0..30 {
        p.sql(&format!("insert into u values ({i}, {i})"));
    }
    wait_for("both replicas connected", || {
        replica(&p, R1)["connected"] == true && replica(&p, R2)["connected"] == true
    });

    // the second replica goes away and comes back while the primary writes and changes
    // its tables
    let load = TransferLoad::start(&p.uri(), 1, 2);
    p.sql("create table seq_like (id int primary key)");
    // DDL on the tables the load writes, between its transactions
    p.sql("alter table hist add column note int default 1");
    p.sql("create index hist_a on hist (a)");
    p.sql("alter table acc add column x int");
    let r2_port = r2.port;
    r2.stop();
    p.sql("alter table u add column y int default 3");
    p.sql("update u set x = x * 2 where id < 10");
    p.sql("insert into u (id, x) values (100, 100)");
    p.sql("create index u_x on u (x)");
    p.sql("delete from t where id < 50");
    std::thread::sleep(Duration::from_millis(300));
    let r2 = Server::start(&r2_dir, r2_port, &[LIMIT_SEND]);
    assert_eq!(r2.uuid(), R2);
    std::thread::sleep(Duration::from_millis(300));
    p.sql("drop table seq_like");
    p.sql("alter table acc drop column x");
    p.sql("create index hist_d on hist (d) with (type = 'hash')");
    let (acked, transfers) = load.finish();
    assert!(acked > 0 && transfers > 0, "{acked} {transfers}");

    assert_caught_up(&p, &r1);
    assert_caught_up(&p, &r2);
    assert_eq!(transfer_check(&p).0, acked);
    assert_eq!(transfer_check(&r1), transfer_check(&p));
    assert_eq!(transfer_check(&r2), transfer_check(&p));
    assert_eq!(r2.int("select count(*) from u"), 31);
    wait_for("both replicas with lag 0", || {
        let (a, b) = (replica(&p, R1), replica(&p, R2));
        a["connected"] == true && b["connected"] == true && a["lag"] == 0 && b["lag"] == 0
    });
    r1.stop();
    r2.stop();
    p.stop();
}

/// The four TPC-B tables (BENCH.md) and their sums.
const TPCB: [&str; 4] = [
    "__bench.branches",
    "__bench.tellers",
    "__bench.accounts",
    "__bench.history",
];

/// TPC-B's invariant: the sums of the account, teller and branch balances equal the sum of
/// the history's deltas. Returns (that sum, history rows).
#[track_caller]
fn tpcb_check(s: &Server) -> (i64, i64) {
    let a = row(s, "select sum(abalance) from __bench.accounts")[0];
    let t = row(s, "select sum(tbalance) from __bench.tellers")[0];
    let b = row(s, "select sum(bbalance) from __bench.branches")[0];
    let h = row(s, "select sum(delta), count(*) from __bench.history");
    assert_eq!((a, t, b), (h[0], h[0], h[0]), "TPC-B sums differ");
    (h[0], h[1])
}

#[test]
fn replica_seeded_from_a_backup_under_tpcb_load() {
    let t0 = Instant::now();
    let dir = TempDir::new("tpcb");
    // small WAL files: the checkpoints below remove some
    let p = Server::start(
        &dir.0.join("p"),
        free_port(),
        &["--backends=2", "--wal_rotate_wm=1048576", LIMIT_SEND],
    );
    // the TPC-B tables, set up as `amelie bench` does it but many rows a request
    p.sql(requests::CREATE_SCHEMA);
    for ddl in requests::create_tables(Workload::Tpcb, false) {
        p.sql(&ddl);
    }
    let filler = " ".repeat(100);
    for (table, count) in requests::tpcb_rows(1) {
        let per = match table {
            "tellers" => requests::TELLERS_PER_BRANCH,
            "accounts" => requests::ACCOUNTS_PER_BRANCH,
            _ => count,
        };
        let ids: Vec<i64> = (0..count).collect();
        for chunk in ids.chunks(2000) {
            let rows: Vec<String> = chunk
                .iter()
                .map(|id| match table {
                    "branches" => format!("({id}, 0, '{filler}')"),
                    _ => format!("({id}, {}, 0, '{filler}')", id / per),
                })
                .collect();
            p.sql(&format!(
                "insert into __bench.{table} values {}",
                rows.join(", ")
            ));
        }
    }
    assert_eq!(
        p.int("select count(*) from __bench.accounts"),
        requests::ACCOUNTS_PER_BRANCH
    );

    eprintln!("tpcb: set up {:?}", t0.elapsed());
    // TPC-B, 8 clients, in the background
    let home = dir.0.join("home");
    let mut bench: Child = amelie_cmd(
        &home,
        &[
            "bench",
            &format!("--uri={}", p.uri()),
            "--type=tpcb",
            "--init=false",
            "--clients=8",
            "--threads=2",
            "--time=7",
        ],
    )
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let started = p.lsn();
    wait_for("the load to write", || p.lsn() > started + 100);
    // checkpoints on the primary all along: the replica's WAL slot must keep what it has
    // not received yet
    let stop = Arc::new(AtomicBool::new(false));
    let checkpoints = {
        let (uri, stop) = (p.uri(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let reply = client(&uri).sql("checkpoint").unwrap();
                assert!(reply.is_success(), "checkpoint: {}", reply.body);
                n += 1;
                std::thread::sleep(Duration::from_millis(300));
            }
            n
        })
    };

    // the backup, taken while the load runs
    let r_dir = dir.0.join("r");
    let before = p.lsn();
    backup(&dir.0, &r_dir, &p);
    assert!(p.lsn() > before, "no write during the backup");
    // the replica, subscribed while the load still runs
    let r = start_replica(&p, &r_dir, R1, &[LIMIT_SEND]);
    p.sql("start repl");
    assert!(
        bench.try_wait().unwrap().is_none(),
        "the load ended before the replica was subscribed"
    );
    wait_for("the replica to receive under load", || {
        replica(&p, R1)["connected"] == true && r.lsn() > before
    });
    let at_connect = p.lsn();
    assert!(
        bench.try_wait().unwrap().is_none(),
        "the load ended before the replica connected"
    );
    eprintln!("tpcb: replica streaming {:?}", t0.elapsed());
    let out = bench.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let transactions: i64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("transactions: "))
        .unwrap_or_else(|| panic!("{stdout}"))
        .parse()
        .unwrap();
    assert!(p.lsn() > at_connect, "no write after the replica connected");
    // and one on the replica too
    r.sql("checkpoint");
    stop.store(true, Ordering::Relaxed);
    assert!(checkpoints.join().unwrap() > 2);

    eprintln!(
        "tpcb: load done {:?}, {transactions} transactions",
        t0.elapsed()
    );

    assert_caught_up(&p, &r);
    eprintln!("tpcb: compared {:?}", t0.elapsed());
    let (sum, history) = tpcb_check(&r);
    assert_eq!((sum, history), tpcb_check(&p));
    assert_eq!(history, transactions);
    assert_eq!(
        tables(&r).into_iter().map(|t| t.0).collect::<Vec<_>>(),
        TPCB.iter().map(|t| t.to_string()).collect::<Vec<_>>()
    );
    wait_for("lag 0", || replica(&p, R1)["lag"] == 0);
    r.stop();
    p.stop();
}

#[test]
fn ddl_of_every_kind_replicates() {
    let dir = TempDir::new("ddl");
    let p = Server::start(&dir.0.join("p"), free_port(), &["--backends=2", LIMIT_SEND]);
    let r_dir = dir.0.join("r");
    let r = replica_of(&dir.0, &p, &r_dir, R1, &[LIMIT_SEND]);
    let r_port = r.port;
    p.sql("start repl");
    let node_a = "0a1b2c3d-0000-4000-8000-00000000000a";
    let node_b = "0a1b2c3d-0000-4000-8000-00000000000b";
    let (create_a, drop_a) = (
        format!("create node '{node_a}'"),
        format!("drop node '{node_a}'"),
    );
    let create_b = format!("create node '{node_b}'");
    let ddl = [
        "create schema s",
        "create table s.a (id int primary key serial, v text default 'x', w int)",
        "create table s.h (id int primary key, v int) with (type = 'hash')",
        "create shared table s.g (id int primary key, name text)",
        "insert into s.a (w) values (1), (2), (3)",
        "insert into s.a (v, w) values ('y', 4)",
        "insert into s.h values (1, 10), (2, 20), (3, 30)",
        "insert into s.g values (1, 'one'), (2, 'two')",
        "alter table s.a add column x int default 7",
        "insert into s.a (w) values (5)",
        "update s.a set x = 8 where w = 1",
        "alter table s.a drop column w",
        "alter table s.a rename column x to y",
        "alter table s.a set column v default 'z'",
        "insert into s.a (y) values (9)",
        "alter table s.a set serial to 100",
        "insert into s.a (y) values (10)",
        "alter table s.a rename to s.b",
        "create index b_y on s.b (y)",
        "create index h_v on s.h (v) with (type = 'hash')",
        "create unique index g_name on s.g (name) with (type = 'hash')",
        "create index h_tmp on s.h (v)",
        "drop index h_tmp on s.h",
        "create index g_tmp on s.g (name) with (type = 'hash')",
        "drop index g_tmp on s.g",
        "insert into s.h values (4, 40)",
        "truncate s.g",
        "insert into s.g values (3, 'three')",
        "create table s.tmp (id int primary key)",
        "insert into s.tmp values (1)",
        "drop table s.tmp",
        "create table public.t (id int primary key, v int)",
        "insert into t values (1, 1), (2, 2)",
        "alter table t set column v as (id * 2) stored",
        "insert into t (id) values (3)",
        "create schema s3",
        "create table s3.q (id int primary key, v int)",
        "insert into s3.q values (1, 1)",
        "alter schema s3 rename to s4",
        "insert into s4.q values (2, 2)",
        "create table s4.quiet (id int primary key)",
        "alter table s4.quiet set unlogged",
        "create schema gone",
        "create table gone.x (id int primary key)",
        "drop schema gone cascade",
        &create_a,
        &drop_a,
        &create_b,
        "create table s.after (id int primary key serial, v int)",
        "insert into s.after generate 50",
        "alter table s.after add column z int",
        "update s.after set z = id",
    ];
    // the first half streamed as it is done
    let (first, second) = ddl.split_at(ddl.len() / 2);
    for sql in first {
        p.sql(sql);
    }
    assert_caught_up(&p, &r);
    // the second half a backlog for a replica killed meanwhile
    r.kill();
    for sql in second {
        p.sql(sql);
    }
    let r = Server::start(&r_dir, r_port, &[LIMIT_SEND]);
    assert_caught_up(&p, &r);
    // the catalog says what was done
    let names: Vec<String> = tables(&r).into_iter().map(|t| t.0).collect();
    assert_eq!(
        names,
        ["s.b", "s.h", "s.g", "public.t", "s4.q", "s4.quiet", "s.after"]
    );
    let nodes = r.json("select system.nodes()");
    assert_eq!(nodes[0].as_array().unwrap().len(), 3, "{nodes}");
    assert!(nodes.to_string().contains(node_b) && !nodes.to_string().contains(node_a));
    let after = r.json("select system.table('s.after')");
    assert!(after.to_string().contains(node_b), "{after}");
    assert_eq!(r.json("select system.table('s.g')")[0]["shared"], true);
    assert_eq!(
        r.sql("select * from s.b order by id"),
        r#"[[0, "x", 8], [1, "x", null], [2, "x", null], [3, "y", null], [4, "x", 7], [5, "z", 9], [100, "z", 10]]"#
    );
    // (a stored expression set later computes new rows only)
    assert_eq!(r.sql("select v from t order by id"), "[1, 2, 6]");

    // recovered from a checkpoint of its own (and from its WAL alone before that, above),
    // the replica has the same catalog and rows
    r.sql("checkpoint");
    r.stop();
    let r = Server::start(&r_dir, r_port, &[LIMIT_SEND]);
    assert_caught_up(&p, &r);

    // promoted, the replica continues the serial where the primary would
    p.sql(&format!("drop replica '{R1}'"));
    r.sql("unsubscribe");
    for s in [&p, &r] {
        s.sql("insert into s.b (y) values (11)");
        s.sql("insert into s.h values (5, 50)");
        s.sql("insert into s.g values (4, 'four')");
        s.sql("insert into s.after (v) values (1)");
    }
    assert_eq!(
        r.sql("select * from s.after order by id"),
        p.sql("select * from s.after order by id")
    );
    assert_eq!(
        r.sql("select * from s.b order by id"),
        p.sql("select * from s.b order by id")
    );
    // the unique index came along
    assert_eq!(
        r.error("insert into s.g values (5, 'four')"),
        p.error("insert into s.g values (5, 'four')")
    );
    assert_eq!(
        r.sql("select * from s.g order by id"),
        r#"[[3, "three"], [4, "four"]]"#
    );
    r.stop();
    p.stop();
}

#[test]
fn primary_killed_under_load_leaves_a_prefix_and_catches_up() {
    let dir = TempDir::new("killp");
    let p_dir = dir.0.join("p");
    let p_port = free_port();
    let p = Server::start(&p_dir, p_port, &["--backends=2", LIMIT_SEND]);
    transfer_setup(&p);
    let r = replica_of(&dir.0, &p, &dir.0.join("r"), R1, &[LIMIT_SEND]);
    p.sql("start repl");
    wait_for("connected", || replica(&p, R1)["connected"] == true);

    let load = TransferLoad::start(&p.uri(), 1, 2);
    // and DDL meanwhile: an index on the history built and dropped over and over
    let ddl = {
        let uri = p.uri();
        std::thread::spawn(move || {
            let mut c = client(&uri);
            let mut n = 0;
            loop {
                let sql = match n % 2 {
                    0 => "create index hist_a on hist (a)",
                    _ => "drop index hist_a on hist",
                };
                match c.sql(sql) {
                    Ok(r) if r.is_success() => n += 1,
                    Ok(r) => panic!("{sql}: {}", r.body),
                    Err(_) => return n,
                }
            }
        })
    };
    let from = r.lsn();
    wait_for("the replica to receive under load", || r.lsn() > from + 200);
    p.kill();
    let (acked, _) = load.finish();
    assert!(acked > 0);
    assert!(ddl.join().unwrap() > 0);

    // the replica holds a prefix of what the primary acknowledged
    let r_lsn = r.lsn();
    let (k, _) = transfer_check(&r);
    assert!(k <= acked + 1, "{k} {acked}");

    // restarted, the primary holds every acknowledged write (and maybe the one in flight)
    let p = Server::start(&p_dir, p_port, &[LIMIT_SEND]);
    let p_lsn = p.lsn();
    assert!(r_lsn <= p_lsn, "replica {r_lsn} > primary {p_lsn}");
    let (kp, _) = transfer_check(&p);
    assert!(kp == acked || kp == acked + 1, "{kp} {acked}");
    assert!(k <= kp);

    // more load while the replica catches up: a prefix at every look
    let load = TransferLoad::start(&p.uri(), kp + 1, 2);
    let until = Instant::now() + Duration::from_millis(1500);
    let mut looks = 0;
    while Instant::now() < until {
        let r_lsn = r.lsn();
        transfer_check(&r);
        assert!(r_lsn <= p.lsn());
        looks += 1;
    }
    let (acked, transfers) = load.finish();
    assert!(acked > kp && transfers > 0 && looks > 5);
    assert_caught_up(&p, &r);
    assert_eq!(transfer_check(&r), transfer_check(&p));
    assert_eq!(transfer_check(&p).0, acked);
    r.stop();
    p.stop();
}

#[test]
fn replica_killed_while_applying_a_backlog_catches_up() {
    let dir = TempDir::new("killr");
    let p = Server::start(&dir.0.join("p"), free_port(), &["--backends=2", LIMIT_SEND]);
    transfer_setup(&p);
    p.sql("create table big (id int serial primary key, v text default 'some text in a row')");
    let r_dir = dir.0.join("r");
    let r = replica_of(&dir.0, &p, &r_dir, R1, &[LIMIT_SEND]);
    let r_port = r.port;
    p.sql("start repl");
    p.sql("insert into seq values (1, 1)");
    wait_for("the first write", || r.lsn() == p.lsn());

    // a backlog while the replica is down: many small records and some large ones
    r.kill();
    wait_for("disconnected", || replica(&p, R1)["connected"] == false);
    let load = TransferLoad::start(&p.uri(), 2, 2);
    for i in 0..10 {
        p.sql("insert into big generate 20000");
        if i == 5 {
            p.sql("create index big_v on big (v)");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let (acked, _) = load.finish();
    let target = p.lsn();

    // back, it applies the backlog: killed while at it
    let r = Server::start(&r_dir, r_port, &[LIMIT_SEND]);
    let start = r.lsn();
    assert!(start < target);
    let deadline = Instant::now() + Duration::from_secs(60);
    let at_kill = loop {
        // a quarter of the way in: well inside the backlog
        let lsn = r.lsn();
        if lsn > start + (target - start) / 4 {
            break lsn;
        }
        assert!(Instant::now() < deadline, "the replica applies nothing");
        std::thread::sleep(Duration::from_millis(1));
    };
    r.kill();
    assert!(
        at_kill < target,
        "the backlog was applied before the replica could be killed"
    );

    // restarted: a prefix at every look while it catches up, then equal
    let r = Server::start(&r_dir, r_port, &[LIMIT_SEND]);
    let recovered = r.lsn();
    assert!(recovered >= at_kill && recovered <= target);
    let mut looks = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while r.lsn() < target {
        transfer_check(&r);
        looks += 1;
        assert!(Instant::now() < deadline, "the replica does not catch up");
    }
    assert_caught_up(&p, &r);
    let (k, history) = transfer_check(&r);
    assert_eq!((k, history), transfer_check(&p));
    assert_eq!(k, acked);
    assert_eq!(r.int("select count(*) from big"), 200_000);
    // a checkpoint on the replica, more writes, killed again: it restarts from its
    // checkpoint and its WAL and catches up
    r.sql("checkpoint");
    let load = TransferLoad::start(&p.uri(), acked + 1, 1);
    std::thread::sleep(Duration::from_millis(300));
    r.kill();
    let (acked, _) = load.finish();
    let r = Server::start(&r_dir, r_port, &[LIMIT_SEND]);
    transfer_check(&r);
    assert_caught_up(&p, &r);
    assert_eq!(transfer_check(&r).0, acked);
    eprintln!("backlog {start}..{target}: killed at {at_kill}, recovered {recovered}, {looks} looks while catching up");
    r.stop();
    p.stop();
}

#[test]
fn watch_returns_once_the_replica_caught_up() {
    let dir = TempDir::new("watch");
    let p = Server::start(&dir.0.join("p"), free_port(), &["--backends=1", LIMIT_SEND]);
    p.sql("create table t (id int serial primary key, v int)");
    let r = replica_of(&dir.0, &p, &dir.0.join("r"), R1, &[LIMIT_SEND]);
    p.sql("start repl");
    // the replica does not take the stream for now
    r.sql("stop repl");
    for i in 0..20 {
        p.sql(&format!("insert into t (v) values ({i})"));
    }
    p.sql("insert into t generate 1000");
    let lsn = p.lsn();
    assert!(r.lsn() < lsn);

    let watch = {
        let uri = p.uri();
        let sql = format!("watch system.replica('{R1}').lsn = system.config().lsn");
        let (done, wait) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let reply = client(&uri).sql(&sql).unwrap();
            let _ = done.send((reply.status, reply.body));
        });
        wait
    };
    // it waits while the replica is behind
    std::thread::sleep(Duration::from_millis(2500));
    assert!(watch.try_recv().is_err(), "WATCH returned while behind");
    assert!(r.lsn() < lsn);
    r.sql("start repl");
    let (status, body) = watch
        .recv_timeout(Duration::from_secs(30))
        .expect("WATCH did not return");
    assert_eq!((status, body.as_str()), (204, ""));
    // once it returned, the replica has the primary's LSN
    assert_eq!(r.lsn(), lsn);
    assert_eq!(p.lsn(), lsn);
    assert_caught_up(&p, &r);
    r.stop();
    p.stop();
}

#[test]
fn records_larger_than_limit_recv_replicate() {
    let dir = TempDir::new("large");
    let p = Server::start(&dir.0.join("p"), free_port(), &["--backends=2", LIMIT_SEND]);
    p.sql(
        "create table t (id int serial primary key, v text default 'a row of some text, 32 bytes...')",
    );
    let r = replica_of(&dir.0, &p, &dir.0.join("r"), R1, &[LIMIT_SEND]);
    p.sql("start repl");
    assert_eq!(r.int("show limit_recv"), 1024 * 1024);
    // WAL records of several MiB each, past the replica's `limit_recv` (1 MiB): a bulk
    // insert, and an update of every row
    p.sql("insert into t generate 100000");
    p.sql("update t set v = 'another text of about the same length' where id % 2 = 0");
    p.sql("insert into t generate 10");
    assert_caught_up(&p, &r);
    assert_eq!(r.int("select count(*) from t"), 100_010);
    wait_for("lag 0", || replica(&p, R1)["lag"] == 0);
    r.stop();
    p.stop();
}
