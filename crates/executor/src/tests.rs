//! Executor tests that run requests end to end (WAL, nodes, recovery) without a server.

use crate::{Executor, ExecutorConfig, SessionCtx};
use amelie_wal::WalConfig;
use std::path::PathBuf;

/// A fresh directory for one test's WAL.
fn dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("amelie-exec-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn open(dir: &std::path::Path) -> Executor {
    let config = ExecutorConfig {
        wal: WalConfig::new(dir.join("wal")),
        format: "json".into(),
        limit_send: u64::MAX,
        dir: None,
    };
    Executor::open(config).unwrap().0
}

fn run(exec: &Executor, sql: &str) -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut session = SessionCtx::default();
    rt.block_on(exec.execute_session(sql, &mut session))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .unwrap_or_default()
}

fn serial_of(exec: &Executor, table: &str) -> i64 {
    exec.catalog().table("public", table).unwrap().serial.peek()
}

/// Two executors in one process (as the e2e tests start them) each count SERIAL values of
/// their own, even for tables with the same id; a reopened executor resumes past the values
/// its WAL holds.
#[test]
fn serial_counters_belong_to_their_executor() {
    let (da, db) = (dir("serial-a"), dir("serial-b"));
    let (a, b) = (open(&da), open(&db));
    for exec in [&a, &b] {
        run(exec, "create node");
        run(exec, "create table t (id int primary key serial, v int)");
    }
    let id = |e: &Executor| e.catalog().table("public", "t").unwrap().id;
    assert_eq!(id(&a), id(&b));
    run(&a, "insert into t (v) values (1), (2), (3)");
    run(&b, "insert into t (v) values (10)");
    assert_eq!(serial_of(&a, "t"), 3);
    assert_eq!(serial_of(&b, "t"), 1);
    assert_eq!(run(&b, "select id from t"), "[0]");
    assert_eq!(run(&a, "select serial('public', 't')"), "[3]");
    // recovery: the counter resumes after the largest replayed value
    drop(a);
    let a = open(&da);
    assert_eq!(serial_of(&a, "t"), 3);
    run(&a, "alter table t set serial to 7");
    run(&a, "insert into t (v) values (4)");
    assert_eq!(run(&a, "select max(id) from t"), "[7]");
    // a new table of the same name starts again at 0
    run(&a, "drop table t");
    run(&a, "create table t (id int primary key serial, v int)");
    assert_eq!(serial_of(&a, "t"), 0);
    drop((a, b));
    let _ = std::fs::remove_dir_all(&da);
    let _ = std::fs::remove_dir_all(&db);
}

/// `SET timezone` changes the session it runs in (after the one parse of the request);
/// `system.*()` values are there for any request that calls them.
#[test]
fn session_timezone_and_system_values() {
    let d = dir("session");
    let exec = open(&d);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut session = SessionCtx::default();
    let mut run = |sql: &str| rt.block_on(exec.execute_session(sql, &mut session));
    assert_eq!(run("set timezone to 'Asia/Tokyo'").unwrap(), None);
    assert_eq!(
        run("set timezone to 'Nowhere/Else'").unwrap_err().msg(),
        "set 'timezone': unable to find timezone 'Nowhere/Else'"
    );
    assert_eq!(
        run("set timezone to 1").unwrap_err().msg(),
        "SET 'timezone': string value expected"
    );
    assert_eq!(run("show timezone").unwrap().unwrap(), r#"["Asia/Tokyo"]"#);
    assert_eq!(session.timezone.as_deref(), Some("Asia/Tokyo"));
    assert_ne!(session.tz, SessionCtx::default().tz);
    let mut session = SessionCtx::default();
    let mut run = |sql: &str| rt.block_on(exec.execute_session(sql, &mut session));
    assert_eq!(run("select system.wal().lsn").unwrap().unwrap(), "[0]");
    assert_eq!(run("select 1").unwrap().unwrap(), "[1]");
    drop(exec);
    let _ = std::fs::remove_dir_all(&d);
}

/// Errors that reach a client carry a kind, whichever crate made them (the text is the
/// transcripts' business).
#[test]
fn error_kinds_through_the_executor() {
    use amelie_common::ErrorKind;
    let d = dir("kinds");
    let exec = open(&d);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut session = SessionCtx::default();
    let mut run = |sql: &str| rt.block_on(exec.execute_session(sql, &mut session));
    run("create node").unwrap();
    run("create table t (id int primary key, v int not null)").unwrap();
    run("insert into t values (1, 1)").unwrap();
    let mut kind = |sql: &str| run(sql).expect_err(sql).kind();
    assert_eq!(kind("selec 1"), ErrorKind::Syntax);
    assert_eq!(kind("select * from nope"), ErrorKind::NotFound);
    assert_eq!(kind("drop table nope"), ErrorKind::NotFound);
    assert_eq!(
        kind("create table t (id int primary key)"),
        ErrorKind::AlreadyExists
    );
    assert_eq!(kind("insert into t values (1, 2)"), ErrorKind::Constraint);
    assert_eq!(
        kind("insert into t values (2, null)"),
        ErrorKind::Constraint
    );
    assert_eq!(kind("select 1 / 0"), ErrorKind::Type);
    assert_eq!(kind("set timezone to 'Nowhere/Else'"), ErrorKind::NotFound);
    assert_eq!(kind("set timezone to 1"), ErrorKind::Type);
    drop(exec);
    let _ = std::fs::remove_dir_all(&d);
}

/// A unique index that one partition cannot build is taken off the partitions that built
/// it: the catalog and every partition keep agreeing on which secondary index is which, so a
/// later unique index checks its own keys (the statement refuses UNIQUE on distributed tables;
/// the operation itself is run here to have several partitions).
#[test]
fn a_failed_unique_index_leaves_no_partition_behind() {
    use amelie_catalog::{DdlOp, IndexDef};
    use amelie_common::{IndexKind, Value};
    let d = dir("unique-build");
    let exec = open(&d);
    for _ in 0..3 {
        run(&exec, "create node");
    }
    run(&exec, "create table t (id int primary key, a int, b int)");
    let catalog = exec.catalog();
    let t = catalog.table("public", "t").unwrap();
    let part = |id: i64| t.partition_for_slot(amelie_common::murmur::key_slot([&Value::Int(id)]));
    // two keys of one partition share `a`; the other partitions have rows with distinct `a`
    let first = 1;
    let twin = (2..1000).find(|&id| part(id) == part(first)).unwrap();
    let others: Vec<i64> = (2..1000)
        .filter(|&id| part(id) != part(first))
        .take(4)
        .collect();
    assert!(others.iter().any(|&id| part(id) != part(others[0])));
    let mut values = vec![
        format!("({first}, 7, {first})"),
        format!("({twin}, 7, {twin})"),
    ];
    values.extend(others.iter().map(|id| format!("({id}, {id}, {id})")));
    run(
        &exec,
        &format!("insert into t values {}", values.join(", ")),
    );
    let unique = |name: &str, col: usize| DdlOp::CreateIndex {
        schema: "public".into(),
        table: "t".into(),
        index: IndexDef {
            name: name.into(),
            kind: IndexKind::Tree,
            keys: vec![col],
            unique: true,
            primary: false,
        },
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let lsn = exec.lsn();
    let e = rt.block_on(exec.ddl(unique("ia", 1))).unwrap_err();
    assert_eq!(e.msg(), "index unique constraint violation");
    assert_eq!(e.kind(), amelie_common::ErrorKind::Constraint);
    assert_eq!(exec.lsn(), lsn, "nothing is logged");
    assert_eq!(
        exec.catalog().table("public", "t").unwrap().indexes.len(),
        1
    );
    // the next unique index is the first secondary index of every partition
    rt.block_on(exec.ddl(unique("ib", 2))).unwrap();
    // in a partition that had built `ia`: a taken `a` is fine, a taken `b` is not
    let id = others[0];
    let mut fresh = (5000..10000).filter(|&n| part(n) == part(id));
    let (n, m) = (fresh.next().unwrap(), fresh.next().unwrap());
    run(&exec, &format!("insert into t values ({n}, {id}, {n})"));
    let mut session = SessionCtx::default();
    let e = rt
        .block_on(exec.execute_session(
            &format!("insert into t values ({m}, {m}, {id})"),
            &mut session,
        ))
        .unwrap_err();
    assert_eq!(e.msg(), "index 'ib': unique key constraint violation");
    drop(exec);
    let _ = std::fs::remove_dir_all(&d);
}

/// A backup pin keeps its checkpoint and the WAL from its first file while later
/// checkpoints run, shows in `SHOW WAL`, and lets them go once dropped.
#[test]
fn backup_pin_holds_checkpoint_and_wal() {
    let d = dir("backup-pin");
    let config = ExecutorConfig {
        wal: WalConfig {
            rotate_wm: 256,
            ..WalConfig::new(d.join("wal"))
        },
        format: "json".into(),
        limit_send: u64::MAX,
        dir: Some(d.clone()),
    };
    let exec = Executor::open(config).unwrap().0;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    run(&exec, "create node");
    run(&exec, "create table t (id int primary key, v text)");
    // no checkpoint yet: nothing to copy
    let e = rt.block_on(exec.backup()).unwrap_err();
    assert_eq!(e.msg(), "backup: there is no checkpoint to copy");
    for i in 0..20 {
        run(
            &exec,
            &format!("insert into t values ({i}, 'text to fill the log {i}')"),
        );
    }
    run(&exec, "checkpoint");
    let first = exec.checkpoint_lsn();
    for i in 20..40 {
        run(
            &exec,
            &format!("insert into t values ({i}, 'text to fill the log {i}')"),
        );
    }
    let status = |exec: &Executor| {
        let s = exec.wal_status();
        (s.slots, s.slots_min)
    };
    assert_eq!(status(&exec), (0, -1));
    let pin = rt.block_on(exec.backup()).unwrap();
    assert_eq!(pin.checkpoint, first);
    assert_eq!(pin.lsn, exec.lsn());
    assert!(pin
        .files
        .iter()
        .any(|(p, _)| *p == format!("{first}/catalog.snap")));
    let wal: Vec<&(String, u64)> = pin
        .files
        .iter()
        .filter(|(p, _)| p.starts_with("wal/"))
        .collect();
    assert!(wal.len() > 1, "{:?}", pin.files);
    let min = i64::try_from(pin.slot.lsn()).unwrap();
    assert!(pin.slot.lsn() <= first);
    assert_eq!(status(&exec), (1, min));
    // more writes and checkpoints: the pinned files stay as they were listed
    for i in 40..60 {
        run(
            &exec,
            &format!("insert into t values ({i}, 'text to fill the log {i}')"),
        );
    }
    run(&exec, "checkpoint");
    assert!(exec.checkpoint_lsn() > first);
    for (path, size) in &pin.files {
        let len = std::fs::metadata(d.join(path)).unwrap().len();
        assert!(len >= *size, "{path}");
    }
    drop(pin);
    assert_eq!(status(&exec), (0, -1));
    run(&exec, "insert into t values (100, 'x')");
    run(&exec, "checkpoint");
    assert!(!d.join(first.to_string()).exists());
    assert_eq!(exec.wal_status().files, 1);
    drop(exec);
    let _ = std::fs::remove_dir_all(&d);
}
