//! End-to-end tests of hot backup: `amelie backup` against a real `amelie-server` on a
//! loopback port, the copy started as a second server, and the `Am-Service: backup`
//! protocol spoken directly (the WAL slot seen through `SHOW WAL`, refused file requests,
//! bad service names).
//!
//! As in `client.rs`, the server binary is the one Cargo builds next to `amelie`; temporary
//! directories and free ports come from the shared harness (`common/mod.rs`), the server
//! reached over its TCP port and `amelie backup` from `common/remote.rs`.

mod common;

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use amelie_client::BlockingClient;
use bytes::Bytes;
use common::remote::{backup, run_backup, Server};
use common::{free_port, TempDir};

/// What a restored copy must agree on with its primary.
fn fingerprint(s: &Server, tables: &[&str]) -> Vec<String> {
    let mut out = vec![
        s.sql("show uuid"),
        s.sql("show lsn"),
        s.sql("show checkpoint"),
        s.sql("select system.nodes()::length"),
    ];
    for t in tables {
        out.push(s.sql(&format!("select * from {t} order by id")));
    }
    out
}

#[test]
fn empty_database_and_data() {
    let dir = TempDir::new("basic");
    let primary = Server::start(&dir.0.join("p"), free_port(), &["--backends=3"]);

    // an empty database
    let e1 = dir.0.join("e1");
    backup(&dir.0, &e1, &primary);
    assert!(e1.join("config.json").is_file());
    assert!(e1.join("1").is_dir());
    assert!(!e1.join("1.incomplete").exists());
    let copy = Server::start(&e1, free_port(), &[]);
    assert_eq!(fingerprint(&copy, &[]), fingerprint(&primary, &[]));
    assert_eq!(copy.sql("select system.nodes()::length"), "[3]");
    copy.stop();

    // data in the WAL only
    primary.sql("create table t (id int serial primary key, v text)");
    primary.sql("insert into t generate 500");
    primary.sql("insert into t values (1000, 'a'), (1001, 'b'), (1002, 'c')");
    let e2 = dir.0.join("e2");
    let run = run_backup(&dir.0, &[e2.to_str().unwrap(), &primary.json_remote()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with(&format!("backup: {}: checkpoint 1, ", e2.display())),
        "{}",
        run.stdout
    );
    let copy = Server::start(&e2, free_port(), &[]);
    assert_eq!(fingerprint(&copy, &["t"]), fingerprint(&primary, &["t"]));
    assert_eq!(copy.int("select count(*) from t"), 503);
    // the copy is a working server: it takes writes
    copy.sql("insert into t generate 1");
    copy.stop();
    let copy = Server::start(&e2, free_port(), &[]);
    assert_eq!(copy.int("select count(*) from t"), 504);
    copy.stop();

    // a directory that is not empty is refused, and left alone
    let run = run_backup(&dir.0, &[e2.to_str().unwrap(), &primary.json_remote()]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("already exists"), "{}", run.stderr);
    assert!(e2.join("config.json").is_file());

    // an unreachable server: an error, and no directory
    let e3 = dir.0.join("e3");
    let run = run_backup(
        &dir.0,
        &[
            e3.to_str().unwrap(),
            &format!("--uri=127.0.0.1:{}", free_port()),
        ],
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.starts_with("error: connect to "),
        "{}",
        run.stderr
    );
    assert!(!e3.exists());
}

#[test]
fn rotation_and_checkpoint() {
    let dir = TempDir::new("rotate");
    let primary = Server::start(
        &dir.0.join("p"),
        free_port(),
        &["--backends=2", "--wal_rotate_wm=1024"],
    );
    primary.sql("create table t (id int primary key, v text)");
    for i in 0..120 {
        primary.sql(&format!(
            "insert into t values ({i}, 'row {i} with some text to fill the log')"
        ));
    }
    assert!(primary.wal()["files"].as_i64().unwrap() > 3);
    primary.sql("checkpoint");
    for i in 120..200 {
        primary.sql(&format!(
            "insert into t values ({i}, 'after the checkpoint {i}')"
        ));
    }
    primary.sql("update t set v = 'changed' where id < 10");
    primary.sql("delete from t where id >= 190");
    let checkpoint = primary.int("show checkpoint");
    assert!(checkpoint > 1);
    let wal_files = primary.wal()["files"].as_i64().unwrap();
    assert!(wal_files > 2, "{wal_files}");

    // over the repository's unix socket this time (the remote named by the primary's path)
    let e = dir.0.join("e");
    let run = run_backup(
        &dir.0,
        &[
            e.to_str().unwrap(),
            primary.repo.to_str().unwrap(),
            "--debug=0",
        ],
    );
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
    let copy = Server::start(&e, free_port(), &[]);
    assert_eq!(fingerprint(&copy, &["t"]), fingerprint(&primary, &["t"]));
    assert_eq!(copy.int("select count(*) from t"), 190);
    assert_eq!(copy.int("show checkpoint"), checkpoint);
    assert_eq!(copy.wal()["files"], primary.wal()["files"]);
    assert_eq!(copy.wal()["lsn_min"], primary.wal()["lsn_min"]);
    copy.stop();
}

#[test]
fn backup_under_load_is_a_consistent_prefix() {
    const ROWS: i64 = 10;
    let dir = TempDir::new("load");
    let primary = Arc::new(Server::start(
        &dir.0.join("p"),
        free_port(),
        &["--backends=2", "--wal_rotate_wm=65536"],
    ));
    primary.sql("create table t (id int serial primary key, b int)");
    primary.sql("insert into t generate 2000");
    let stop = Arc::new(AtomicBool::new(false));
    // one writer: transaction b inserts ROWS rows of batch b, in order
    let writer = {
        let (primary, stop) = (primary.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut client = primary.client();
            let mut b = 0i64;
            while !stop.load(Ordering::Relaxed) {
                b += 1;
                let values: Vec<String> = (0..ROWS)
                    .map(|i| format!("({}, {b})", 1_000_000 + b * ROWS + i))
                    .collect();
                let reply = client
                    .sql(&format!("insert into t values {}", values.join(", ")))
                    .unwrap();
                assert!(reply.is_success(), "{}", reply.body);
            }
            b
        })
    };
    // and checkpoints meanwhile: they must leave the backup's files alone
    let checkpointer = {
        let (primary, stop) = (primary.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                primary.sql("checkpoint");
                n += 1;
                std::thread::sleep(Duration::from_millis(30));
            }
            n
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let mut copies = Vec::new();
    for k in 0..3 {
        let e = dir.0.join(format!("e{k}"));
        backup(&dir.0, &e, &primary);
        copies.push(e);
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::Relaxed);
    let batches = writer.join().unwrap();
    let checkpoints = checkpointer.join().unwrap();
    assert!(batches > 10 && checkpoints > 1, "{batches} {checkpoints}");
    let lsn = primary.int("show lsn");
    let mut seen = Vec::new();
    for e in &copies {
        let copy = Server::start(e, free_port(), &[]);
        // every batch whole, and the batches a prefix 1..=n
        let n = copy.int("select count(*) from t where id >= 1000000") / ROWS;
        assert_eq!(
            copy.sql("select b from t where id >= 1000000 group by b having count(*) <> 10"),
            "[]"
        );
        if n > 0 {
            assert_eq!(copy.int("select max(b) from t where id >= 1000000"), n);
            assert_eq!(copy.int("select min(b) from t where id >= 1000000"), 1);
        }
        assert_eq!(copy.int("select count(*) from t where id < 1000000"), 2000);
        let copy_lsn = copy.int("show lsn");
        assert!(copy_lsn <= lsn);
        seen.push((n, copy_lsn));
        copy.stop();
    }
    // later backups hold more
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    assert!(seen.last().unwrap().0 > 0, "{seen:?}");
    // every slot was released
    let wal = primary.wal();
    assert_eq!(
        (wal["slots"].as_i64(), wal["slots_min"].as_i64()),
        (Some(0), Some(-1))
    );
}

/// A `BlockingClient` request with extra headers: (status, body).
fn service(c: &mut BlockingClient, headers: &[(&str, &str)]) -> (u16, Bytes) {
    c.request_bytes("/", None, headers, Bytes::new()).unwrap()
}

fn msg(body: &Bytes) -> String {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_else(|_| {
        panic!("not json: {}", String::from_utf8_lossy(body));
    });
    let obj = v.as_object().expect("an object");
    assert_eq!(obj.len(), 1, "{v}");
    obj["msg"].as_str().unwrap().to_string()
}

#[test]
fn protocol_slots_and_refusals() {
    let dir = TempDir::new("proto");
    let primary = Server::start(
        &dir.0.join("p"),
        free_port(),
        &["--backends=1", "--wal_rotate_wm=1024"],
    );
    primary.sql("create table t (id int primary key, v text)");
    for i in 0..50 {
        primary.sql(&format!(
            "insert into t values ({i}, 'some text for the log, long enough to rotate it {i}')"
        ));
    }
    let wal = primary.wal();
    assert_eq!(
        (wal["slots"].as_i64(), wal["slots_min"].as_i64()),
        (Some(0), Some(-1))
    );
    let lsn_min = wal["lsn_min"].as_i64().unwrap();

    // bad service names and places
    let mut c = primary.client();
    let (status, body) = service(&mut c, &[("Am-Service", "nope")]);
    assert_eq!(
        (status, msg(&body)),
        (400, "unsupported Am-Service 'nope'".into())
    );
    let (status, body) = service(&mut c, &[("Am-Service", "")]);
    assert_eq!(
        (status, msg(&body)),
        (400, "unsupported Am-Service ''".into())
    );
    let (status, body) = service(&mut c, &[("Am-Service", "Backup")]);
    assert_eq!(
        (status, msg(&body)),
        (400, "unsupported Am-Service 'Backup'".into())
    );
    // repl: without its headers (the service itself is tested in repl.rs)
    let (status, body) = service(&mut c, &[("Am-Service", "repl")]);
    assert_eq!(
        (status, msg(&body)),
        (400, "replication: Am-Id header expected".into())
    );
    let (status, body) = c
        .request_bytes("/x", None, &[("Am-Service", "backup")], Bytes::new())
        .unwrap();
    assert_eq!(
        (status, msg(&body)),
        (400, "unsupported API operation".into())
    );
    // a file before any backup
    let (status, body) = service(&mut c, &[("Am-Service", "backup"), ("Am-File", "wal/x")]);
    assert_eq!(
        (status, msg(&body)),
        (
            400,
            "backup: no backup in progress on this connection".into()
        )
    );

    // a backup pins a slot
    let (status, body) = service(&mut c, &[("Am-Service", "backup")]);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let state: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let keys: Vec<&String> = state.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 3);
    let checkpoint = state["checkpoint"].as_i64().unwrap();
    assert_eq!(checkpoint, 1);
    assert_eq!(
        state["config"]["uuid"],
        serde_json::json!(primary
            .sql("show uuid")
            .trim_matches(|c| c == '[' || c == ']' || c == '"'))
    );
    let files: Vec<(String, u64)> = state["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f[0].as_str().unwrap().to_string(), f[1].as_u64().unwrap()))
        .collect();
    assert!(
        files.iter().any(|(p, _)| p == "1/catalog.snap"),
        "{files:?}"
    );
    let wal_files: Vec<&(String, u64)> = files
        .iter()
        .filter(|(p, _)| p.starts_with("wal/"))
        .collect();
    assert!(wal_files.len() > 2, "{files:?}");
    let wal = primary.wal();
    assert_eq!(
        (wal["slots"].as_i64(), wal["slots_min"].as_i64()),
        (Some(1), Some(lsn_min))
    );

    // refused file requests: outside the list, outside the repository, bad sizes
    let abs = primary.repo.join("config.json").display().to_string();
    for bad in [
        "../config.json",
        "config.json",
        "/etc/passwd",
        abs.as_str(),
        "wal/../config.json",
        "1",
        "lock",
    ] {
        let (status, body) = service(&mut c, &[("Am-Service", "backup"), ("Am-File", bad)]);
        assert_eq!(status, 400, "{bad}");
        assert_eq!(
            msg(&body),
            format!("backup: file '{bad}' is not part of the backup")
        );
    }
    let (first, first_size) = wal_files[0].clone();
    let (status, body) = service(
        &mut c,
        &[
            ("Am-Service", "backup"),
            ("Am-File", &first),
            ("Am-File-Size", "x"),
        ],
    );
    assert_eq!(
        (status, msg(&body)),
        (400, "Am-File-Size: integer expected".into())
    );
    let (status, body) = service(
        &mut c,
        &[
            ("Am-Service", "backup"),
            ("Am-File", &first),
            ("Am-File-Size", "1"),
        ],
    );
    assert_eq!(
        (status, msg(&body)),
        (
            400,
            format!("backup: file '{first}' has {first_size} bytes, not 1")
        )
    );

    // while pinned: more writes and a checkpoint leave the listed files in place
    for i in 50..90 {
        primary.sql(&format!(
            "insert into t values ({i}, 'more text for the log {i}')"
        ));
    }
    primary.sql("checkpoint");
    let newest = primary.int("show checkpoint");
    assert!(newest > checkpoint);
    assert!(primary.repo.join("1").is_dir());
    for (path, size) in &files {
        assert!(primary.repo.join(path).is_file(), "{path}");
        let size_text = size.to_string();
        let (status, body) = service(
            &mut c,
            &[
                ("Am-Service", "backup"),
                ("Am-File", path),
                ("Am-File-Size", &size_text),
            ],
        );
        assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
        assert_eq!(body.len() as u64, *size, "{path}");
        let on_disk = fs::read(primary.repo.join(path)).unwrap();
        assert_eq!(&on_disk[..body.len()], &body[..], "{path}");
    }
    // every file handed out: the slot is gone, and so is the state on the connection
    let wal = primary.wal();
    assert_eq!(
        (wal["slots"].as_i64(), wal["slots_min"].as_i64()),
        (Some(0), Some(-1))
    );
    let (status, body) = service(&mut c, &[("Am-Service", "backup"), ("Am-File", &first)]);
    assert_eq!(
        (status, msg(&body)),
        (
            400,
            "backup: no backup in progress on this connection".into()
        )
    );
    // the next checkpoint drops the old one and the WAL it pinned
    primary.sql("insert into t values (100, 'x')");
    primary.sql("checkpoint");
    assert!(!primary.repo.join("1").exists());
    assert!(!primary.repo.join(&first).exists());

    // a backup whose connection goes away releases its slot
    let mut c2 = primary.client();
    let (status, _) = service(&mut c2, &[("Am-Service", "backup")]);
    assert_eq!(status, 200);
    assert_eq!(primary.wal()["slots"].as_i64(), Some(1));
    // a second backup on the same connection replaces the first
    let (status, _) = service(&mut c2, &[("Am-Service", "backup")]);
    assert_eq!(status, 200);
    assert_eq!(primary.wal()["slots"].as_i64(), Some(1));
    let mut c3 = primary.client();
    let (status, _) = service(&mut c3, &[("Am-Service", "backup")]);
    assert_eq!(status, 200);
    assert_eq!(primary.wal()["slots"].as_i64(), Some(2));
    drop(c2);
    let deadline = Instant::now() + Duration::from_secs(10);
    while primary.wal()["slots"].as_i64() != Some(1) {
        assert!(Instant::now() < deadline, "the slot was not released");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(c3);
    while primary.wal()["slots"].as_i64() != Some(0) {
        assert!(Instant::now() < deadline, "the slot was not released");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(primary.wal()["slots_min"].as_i64(), Some(-1));
}

#[test]
fn backups_are_taken_where_users_are_managed() {
    let dir = TempDir::new("auth");
    let port = free_port();
    // the harness's own listener has no auth; a second one requires a token
    let primary = Server::start_with(
        &dir.0.join("p"),
        free_port(),
        &format!(", {{\"host\": \"127.0.0.1\", \"port\": {port}, \"auth\": true}}"),
        &[],
    );
    primary.sql("create user u secret 'pw'");
    let token = primary.sql("create token u");
    let token = token
        .trim_matches(|c| c == '[' || c == ']' || c == '"')
        .to_string();
    primary.sql("create table t (id int primary key)");
    primary.sql("insert into t values (1), (2)");
    let with =
        |uri: String, token: &str| format!("--json={{\"uri\": \"{uri}\", \"token\": \"{token}\"}}");
    let auth_uri = format!("127.0.0.1:{port}");
    let open_uri = format!("127.0.0.1:{}", primary.port);
    // on the auth listener: no token is a 403, a token is not enough (the copy holds every
    // user's secret)
    let e0 = dir.0.join("e0");
    let run = run_backup(
        &dir.0,
        &[e0.to_str().unwrap(), &format!("--uri={auth_uri}")],
    );
    assert_eq!(run.code, 1);
    assert_eq!(run.stderr, "error: backup: 403\n");
    let run = run_backup(&dir.0, &[e0.to_str().unwrap(), &with(auth_uri, &token)]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "error: backup: user 'u': permission denied (backups are taken on a listener without auth)\n"
    );
    assert!(!e0.exists());
    // a bad token is refused on any listener
    let run = run_backup(
        &dir.0,
        &[e0.to_str().unwrap(), &with(open_uri.clone(), "x.y.z")],
    );
    assert_eq!((run.code, run.stderr.as_str()), (1, "error: backup: 403\n"));
    // on the listener without auth, with a valid token (as `--json`): the copy, users included
    let e = dir.0.join("e");
    let run = run_backup(
        &dir.0,
        &[e.to_str().unwrap(), &with(open_uri, &token), "--debug=0"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let copy = Server::start(&e, free_port(), &[]);
    assert_eq!(
        copy.sql("select * from t order by id"),
        primary.sql("select * from t order by id")
    );
    assert_eq!(copy.sql("show users"), primary.sql("show users"));
    copy.stop();
}

/// The figure of docs/performance.md: `AMELIE_BACKUP_TEST_ROWS` rows (default 1,000,000)
/// generated in chunks of 50,000, then `amelie backup` timed with the rows in the WAL only,
/// and again after a checkpoint; each copy is started and counted. Run with a release build:
/// `cargo build --release -p amelie-server && cargo test --release -p amelie --test backup
/// -- --ignored --nocapture million_rows`.
#[test]
#[ignore]
fn million_rows() {
    let rows: i64 = std::env::var("AMELIE_BACKUP_TEST_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = TempDir::new("million");
    let primary = Server::start(&dir.0.join("p"), free_port(), &["--backends=2"]);
    primary.sql(
        "create table t (id int serial primary key, a int default 42, \
         name text default 'a row of some text, 32 bytes...')",
    );
    let started = Instant::now();
    let mut left = rows;
    while left > 0 {
        let n = left.min(50_000);
        primary.sql(&format!("insert into t generate {n}"));
        left -= n;
    }
    eprintln!(
        "insert {rows} rows: {:.2} s",
        started.elapsed().as_secs_f64()
    );
    fn size_of(p: &Path) -> u64 {
        let mut total = 0;
        for entry in fs::read_dir(p).unwrap().flatten() {
            let meta = entry.metadata().unwrap();
            total += if meta.is_dir() {
                size_of(&entry.path())
            } else {
                meta.len()
            };
        }
        total
    }
    for (k, label) in ["the rows in the WAL", "after a checkpoint"]
        .iter()
        .enumerate()
    {
        if k == 1 {
            let t = Instant::now();
            primary.sql("checkpoint");
            eprintln!("checkpoint: {:.2} s", t.elapsed().as_secs_f64());
        }
        let e = dir.0.join(format!("e{k}"));
        let t = Instant::now();
        backup(&dir.0, &e, &primary);
        let secs = t.elapsed().as_secs_f64();
        let bytes = size_of(&e);
        eprintln!(
            "backup, {label}: {secs:.2} s, {bytes} bytes ({:.0} MiB/s)",
            bytes as f64 / secs / 1048576.0
        );
        let t = Instant::now();
        let copy = Server::start(&e, free_port(), &[]);
        eprintln!("copy started in {:.2} s", t.elapsed().as_secs_f64());
        assert_eq!(copy.int("select count(*) from t"), rows);
        assert_eq!(copy.sql("show lsn"), primary.sql("show lsn"));
        copy.stop();
    }
}
