//! A primary executor runs requests; its WAL records, read with the tail reader, are applied
//! to a replica started from a copy of the primary's bootstrap state.

use crate::{Executor, ExecutorConfig, SessionCtx};
use amelie_common::ErrorKind;
use amelie_wal::{read_after, WalConfig, WalRecord};
use std::path::{Path, PathBuf};

/// A fresh directory for one test.
fn dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("amelie-replica-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn open(dir: &Path) -> Executor {
    let config = ExecutorConfig {
        wal: WalConfig {
            rotate_wm: 4096,
            ..WalConfig::new(dir.join("wal"))
        },
        format: "json".into(),
        limit_send: u64::MAX,
        dir: None,
    };
    Executor::open(config).unwrap().0
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn try_run(exec: &Executor, sql: &str) -> amelie_common::Result<String> {
    let mut session = SessionCtx::default();
    rt().block_on(exec.execute_session(sql, &mut session))
        .map(|r| r.unwrap_or_default())
}

fn run(exec: &Executor, sql: &str) -> String {
    try_run(exec, sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn apply(exec: &Executor, records: &[WalRecord]) -> amelie_common::Result<u64> {
    rt().block_on(exec.apply_replicated(records))
}

/// Ships the primary's WAL after the replica's LSN in batches of at most `max_bytes`.
fn ship(primary: &Path, replica: &Executor, max_bytes: usize) -> u64 {
    loop {
        let batch = read_after(&primary.join("wal"), replica.lsn(), max_bytes).unwrap();
        if batch.is_empty() {
            return replica.lsn();
        }
        let before = replica.lsn();
        let after = apply(replica, &batch).unwrap();
        assert_eq!(after, batch.last().unwrap().lsn);
        assert!(after > before);
    }
}

/// Two nodes on the primary, then the replica made from a copy of its directory (what a
/// backup gives): both have the same node uuids.
fn primary_and_replica(tag: &str) -> (PathBuf, Executor, PathBuf, Executor) {
    let (dp, dr) = (dir(&format!("{tag}-p")), dir(&format!("{tag}-r")));
    let primary = open(&dp);
    run(&primary, "create node");
    run(&primary, "create node");
    std::fs::create_dir_all(dr.join("wal")).unwrap();
    for e in std::fs::read_dir(dp.join("wal")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dr.join("wal").join(e.file_name())).unwrap();
    }
    let replica = open(&dr);
    assert_eq!(replica.lsn(), primary.lsn());
    (dp, primary, dr, replica)
}

fn all_records(dir: &Path) -> Vec<WalRecord> {
    read_after(&dir.join("wal"), 0, usize::MAX).unwrap()
}

const TABLES: [&str; 3] = ["t", "s", "g"];

fn contents(exec: &Executor) -> Vec<String> {
    TABLES
        .iter()
        .map(|t| run(exec, &format!("select * from {t} order by id")))
        .collect()
}

/// DDL and DML on the primary reach the replica: the same rows in every table, the same
/// LSN, the same WAL records, the same SERIAL counters; and a restarted replica recovers
/// the same state from its own WAL.
#[test]
fn replica_follows_the_primary() {
    let (dp, primary, dr, replica) = primary_and_replica("follow");
    for sql in [
        "create table t (id int primary key, v int)",
        "create table s (id int primary key serial, v text)",
        "create shared table g (id int primary key, v int)",
        "insert into t values (1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 6), (7, 7), (8, 8)",
        "insert into s (v) values ('a'), ('b'), ('c')",
        "insert into g values (1, 10), (2, 20)",
        "update t set v = v * 10 where id > 4",
        "delete from t where id = 2",
        "insert into t values (2, 22); update g set v = v + 1; delete from s where id = 0",
        "create index tv on t (v)",
        "alter table t add column w int default 5",
        "insert into t values (100, 100, 100) on conflict do update set w = -1",
        "insert into t values (1, 0, 0) on conflict do update set w = -1",
        "truncate g",
        "insert into g values (3, 30)",
    ] {
        run(&primary, sql);
    }
    // an aborted transaction writes nothing
    assert!(try_run(
        &primary,
        "insert into t values (50, 50); insert into t values (1, 1, 1)"
    )
    .is_err());
    assert_eq!(ship(&dp, &replica, 64), primary.lsn());
    assert_eq!(contents(&replica), contents(&primary));
    assert_eq!(all_records(&dr), all_records(&dp));
    let serial = |e: &Executor| e.catalog().table("public", "s").unwrap().serial.peek();
    assert_eq!(serial(&replica), serial(&primary));
    // more after a first catch-up, one record per batch
    run(&primary, "insert into s (v) values ('d')");
    run(&primary, "alter table t rename to t2");
    run(&primary, "alter table t2 rename to t");
    run(&primary, "update t set w = id");
    assert_eq!(ship(&dp, &replica, 0), primary.lsn());
    assert_eq!(contents(&replica), contents(&primary));
    assert_eq!(serial(&replica), serial(&primary));
    assert_eq!(all_records(&dr), all_records(&dp));
    // the replica's WAL recovers the same state
    let expect = contents(&primary);
    drop(replica);
    let replica = open(&dr);
    assert_eq!(replica.lsn(), primary.lsn());
    assert_eq!(contents(&replica), expect);
    drop((primary, replica));
    let _ = std::fs::remove_dir_all(&dp);
    let _ = std::fs::remove_dir_all(&dr);
}

/// A resent batch is skipped; a batch that does not follow on from the replica's LSN is
/// refused whole, with an error of kind `Replication`.
#[test]
fn resends_are_skipped_and_gaps_refused() {
    let (dp, primary, dr, replica) = primary_and_replica("gap");
    run(&primary, "create table t (id int primary key, v int)");
    let base = primary.lsn();
    for i in 0..6 {
        run(&primary, &format!("insert into t values ({i}, {i})"));
    }
    let records = read_after(&dp.join("wal"), base - 1, usize::MAX).unwrap();
    assert_eq!(records.len(), 7);
    // a gap: the DDL record is missing
    let err = apply(&replica, &records[1..]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Replication, "{}", err.msg());
    assert!(err.msg().contains("lsn gap"), "{}", err.msg());
    // a gap inside the batch refuses all of it
    let holed: Vec<WalRecord> = records
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 4)
        .map(|(_, r)| r.clone())
        .collect();
    let before = replica.lsn();
    let err = apply(&replica, &holed).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Replication);
    assert_eq!(replica.lsn(), before);
    assert!(replica.catalog().table("public", "t").is_none());
    // in order it applies; twice changes nothing
    assert_eq!(apply(&replica, &records[..3]).unwrap(), base + 2);
    assert_eq!(apply(&replica, &records).unwrap(), primary.lsn());
    let wal = all_records(&dr);
    assert_eq!(apply(&replica, &records).unwrap(), primary.lsn());
    assert_eq!(apply(&replica, &records[2..4]).unwrap(), primary.lsn());
    assert_eq!(all_records(&dr), wal);
    assert_eq!(
        run(&replica, "select * from t order by id"),
        run(&primary, "select * from t order by id")
    );
    // an empty batch
    assert_eq!(apply(&replica, &[]).unwrap(), primary.lsn());
    // changes of a partition the replica does not have: refused before anything is queued
    let mut changes = amelie_vm::ChangeLog::default();
    let row = amelie_storage::Row::encode(&[amelie_common::Value::Int(1)]);
    changes.put(999_999, &row);
    let stray = WalRecord {
        lsn: replica.lsn() + 1,
        count: 1,
        body: crate::wal_body::WalBody::encode_changes(&changes),
    };
    let err = apply(&replica, &[stray]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Replication, "{}", err.msg());
    assert_eq!(replica.lsn(), primary.lsn());
    assert_eq!(all_records(&dr), wal);
    drop((primary, replica));
    let _ = std::fs::remove_dir_all(&dp);
    let _ = std::fs::remove_dir_all(&dr);
}

/// Readers on the replica see whole replicated transactions: every transaction of the
/// primary updates every row of a table spread over two nodes, so a reader that saw part
/// of one would find two different values.
#[test]
fn readers_on_the_replica_see_whole_transactions() {
    let (dp, primary, dr, replica) = primary_and_replica("prefix");
    run(&primary, "create table a (id int primary key, v int)");
    let rows: Vec<String> = (0..64).map(|i| format!("({i}, 0)")).collect();
    run(
        &primary,
        &format!("insert into a values {}", rows.join(", ")),
    );
    let nodes: std::collections::HashSet<String> = primary
        .catalog()
        .table("public", "a")
        .unwrap()
        .partitions
        .iter()
        .map(|p| p.node.clone())
        .collect();
    assert_eq!(nodes.len(), 2, "the table spans both nodes");
    for _ in 0..40 {
        run(&primary, "update a set v = v + 1");
    }
    let last = primary.lsn();
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let mut seen = 0;
            while !done.load(std::sync::atomic::Ordering::Acquire) {
                // (an error: the table is not there yet)
                let Ok(out) = try_run(&replica, "select min(v), max(v), count(*) from a") else {
                    continue;
                };
                let v: Vec<i64> = out
                    .split(|c: char| !(c.is_ascii_digit() || c == '-'))
                    .filter_map(|x| x.parse().ok())
                    .collect();
                if v.len() == 3 && v[2] > 0 {
                    assert_eq!(v[0], v[1], "a reader saw part of a transaction: {out}");
                    assert_eq!(v[2], 64, "{out}");
                    seen += 1;
                }
            }
            seen
        });
        assert_eq!(ship(&dp, &replica, 1), last);
        done.store(true, std::sync::atomic::Ordering::Release);
        let seen = reader.join().unwrap();
        assert!(seen > 0);
    });
    assert_eq!(
        run(&replica, "select min(v), max(v) from a"),
        run(&primary, "select min(v), max(v) from a")
    );
    assert!(run(&replica, "select min(v) from a").contains("40"));
    drop((primary, replica));
    let _ = std::fs::remove_dir_all(&dp);
    let _ = std::fs::remove_dir_all(&dr);
}

/// A replica with nothing yet takes the whole log, the primary's CREATE NODE records
/// included: it starts the same nodes.
#[test]
fn an_empty_replica_takes_the_whole_log() {
    let (dp, dr) = (dir("scratch-p"), dir("scratch-r"));
    let primary = open(&dp);
    run(&primary, "create node");
    run(&primary, "create node");
    run(&primary, "create table t (id int primary key, v int)");
    run(
        &primary,
        "insert into t values (1, 1), (2, 2), (3, 3), (4, 4)",
    );
    let replica = open(&dr);
    assert_eq!(ship(&dp, &replica, 1 << 20), primary.lsn());
    let uuids =
        |e: &Executor| -> Vec<String> { e.nodes().iter().map(|n| n.uuid.clone()).collect() };
    assert_eq!(uuids(&replica), uuids(&primary));
    assert_eq!(
        run(&replica, "select * from t order by id"),
        run(&primary, "select * from t order by id")
    );
    assert_eq!(all_records(&dr), all_records(&dp));
    drop((primary, replica));
    let _ = std::fs::remove_dir_all(&dp);
    let _ = std::fs::remove_dir_all(&dr);
}

/// A batch dropped mid-way (the connection went away) leaves a prefix: the transactions it
/// had queued but not completed are aborted on the nodes, nothing stalls, and the batch
/// applies in full when sent again.
#[test]
fn a_dropped_batch_leaves_a_prefix() {
    let (dp, primary, dr, replica) = primary_and_replica("dropped");
    run(&primary, "create table a (id int primary key, v int)");
    let rows: Vec<String> = (0..64).map(|i| format!("({i}, 0)")).collect();
    run(
        &primary,
        &format!("insert into a values {}", rows.join(", ")),
    );
    ship(&dp, &replica, usize::MAX);
    let base = replica.lsn();
    for _ in 0..10 {
        run(&primary, "update a set v = v + 1");
    }
    let batch = read_after(&dp.join("wal"), base, usize::MAX).unwrap();
    assert_eq!(batch.len(), 10);
    let dropped = rt().block_on(async {
        tokio::time::timeout(std::time::Duration::ZERO, replica.apply_replicated(&batch)).await
    });
    let read = |e: &Executor| -> Vec<i64> {
        run(e, "select min(v), max(v), count(*) from a")
            .split(|c: char| !(c.is_ascii_digit() || c == '-'))
            .filter_map(|x| x.parse().ok())
            .collect()
    };
    let v = read(&replica);
    let applied = (replica.lsn() - base) as i64;
    assert!(dropped.is_err() || applied == 10, "{dropped:?}");
    assert_eq!(
        v,
        vec![applied, applied, 64],
        "a prefix of {applied} transactions"
    );
    assert_eq!(apply(&replica, &batch).unwrap(), primary.lsn());
    assert_eq!(read(&replica), vec![10, 10, 64]);
    assert_eq!(all_records(&dr), all_records(&dp));
    drop((primary, replica));
    let _ = std::fs::remove_dir_all(&dp);
    let _ = std::fs::remove_dir_all(&dr);
}
