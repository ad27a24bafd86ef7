//! End-to-end: durability and recovery (spec §5.3, §5.4) — a clean stop (SIGTERM/SIGINT) and
//! restart on the same directory keeps every row and every table definition; `kill -9` right
//! after an acknowledged write keeps it (with `wal_sync_on_write=true`); a WAL whose newest file
//! has a torn tail (truncated or followed by garbage) still starts and keeps every complete
//! record; WAL rotation by `wal_rotate_wm` and replay across several files.

mod common;

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use common::*;

/// Queries whose (ordered) answers describe the whole state used by `restart_keeps_everything`.
const SNAPSHOT: &[&str] = &[
    "select * format 'json' from t order by id",
    "select id from t",
    "select * format 'json' from s order by id",
    "select * format 'json' from ck order by a, b",
    "select * format 'json' from h order by id",
    "select count(*), sum(score), min(id), max(id) from t",
];

fn snapshot(s: &Server) -> Vec<String> {
    SNAPSHOT.iter().map(|q| s.query(q)).collect()
}

fn assert_snapshot(s: &Server, want: &[String]) {
    for (q, w) in SNAPSHOT.iter().zip(want) {
        assert_eq!(&s.query(q), w, "after restart: {q}");
    }
}

#[test]
fn restart_keeps_everything() {
    let dir = TestDir::new("dur-restart");
    let repo = dir.repo();
    let mut s = Server::start(&repo, &["--backends=3"]);
    s.exec("create table t (id int primary key, name text, score double, ok bool, doc json, ts timestamp)");
    s.exec("create shared table s (id int primary key, v text)");
    s.exec("create table ck (a int, b text, c bigint, primary key (a, b))");
    s.exec("create table h (id int primary key, v int) with (type = 'hash')");
    s.exec("create table gone (id int primary key)");
    s.exec("insert into gone values (1)");
    s.exec("drop table gone");
    s.exec("create table redefined (id int primary key)");
    s.exec("drop table redefined");
    s.exec("create table redefined (k text primary key, n int)");
    s.exec("insert into redefined values ('a', 1)");

    for batch in 0..10 {
        let rows: Vec<String> = (0..10)
            .map(|j| {
                let i = batch * 10 + j;
                format!(
                    "({i}, 'name{i}', {}.25, {}, {{\"i\": {i}, \"tags\": [\"x\", {j}]}}, '2024-03-01 10:{:02}:00')",
                    i,
                    i % 3 == 0,
                    i % 60
                )
            })
            .collect();
        s.exec(&format!("insert into t values {}", rows.join(", ")));
    }
    s.exec("insert into s values (1, 'one'), (2, 'two'), (3, 'three')");
    s.exec("insert into ck values (1, 'a', 100), (1, 'b', 200), (2, 'a', 5000000000)");
    let rows: Vec<String> = (0..50).map(|i| format!("({i}, {})", i * i)).collect();
    s.exec(&format!("insert into h values {}", rows.join(", ")));
    s.exec("update t set name = 'changed', score = score + 1.0 where id < 5");
    s.exec("update s set v = 'TWO' where id = 2");
    s.exec("delete from t where id >= 95");
    s.exec("delete from h where id = 7");
    s.exec("update h set v = v + 1000 where id > 40");
    s.exec("delete from ck where a = 1 and b = 'b'");
    // An aborted request must not reappear after replay.
    s.expect_error(
        "insert into t values (500, 'x', 0.0, true, null, null); select error('no')",
        "no",
    );

    let before = snapshot(&s);
    s.stop();

    // Restart #1 (SIGTERM before): same answers, same definitions.
    let mut s = Server::start(&repo, &["--backends=3"]);
    assert_snapshot(&s, &before);
    s.expect("select count(*) from t", 200, "[95]");
    s.expect("select count(*) from t where id = 500", 200, "[0]");
    s.expect_error("select * from gone", "<public.gone> relation not found");
    s.expect("select k, n from redefined", 200, "[[\"a\", 1]]");
    s.expect_error(
        "insert into t values (1, 'dup', 0.0, true, null, null)",
        "index 'primary': unique key constraint violation",
    );
    s.expect_error(
        "insert into ck values (2, 'a', 1)",
        "index 'primary': unique key constraint violation",
    );
    s.expect("select v from h where id = 45", 200, "[3025]");
    s.expect("select v from h where id = 7", 200, "[]");
    s.expect(
        "select doc format 'json' from t where id = 13",
        200,
        "[{\"i\": 13, \"tags\": [\"x\", 3]}]",
    );

    // New writes after recovery; restart #2 via SIGINT keeps old and new.
    s.exec("insert into t values (1000, 'new', 1.5, false, null, '2024-01-01 00:00:00')");
    s.exec("insert into s values (4, 'four')");
    s.exec("delete from s where id = 1");
    s.exec("create table later (id int primary key)");
    s.exec("insert into later values (1), (2), (3)");
    let before2 = snapshot(&s);
    s.stop_sigint();

    let mut s = Server::start(&repo, &["--backends=3"]);
    assert_snapshot(&s, &before2);
    s.expect("select name from t where id = 1000", 200, "[\"new\"]");
    s.expect("select id from s", 200, "[2, 3, 4]");
    s.expect("select count(*) from later", 200, "[3]");
    s.stop();
}

#[test]
fn kill9_right_after_acknowledged_writes_keeps_them() {
    let dir = TestDir::new("dur-kill9");
    let repo = dir.repo();
    let args = ["--backends=3", "--wal_sync_on_write=true"];
    let mut s = Server::start(&repo, &args);
    s.exec("create table t (id int primary key, v text)");
    s.exec("create shared table s (id int primary key, v int)");
    s.kill9();

    // Round 1: one insert, killed immediately after the acknowledgement.
    let mut s = Server::start(&repo, &args);
    s.exec("insert into t values (1, 'first')");
    s.kill9();

    let mut s = Server::start(&repo, &args);
    s.expect("select v from t where id = 1", 200, "[\"first\"]");
    // Round 2: a burst of acknowledged writes on one connection, then kill.
    {
        let mut c = s.conn();
        for i in 2..=40 {
            assert_eq!(
                c.sql(&format!("insert into t values ({i}, 'v{i}')"))
                    .unwrap(),
                (204, String::new())
            );
        }
        assert_eq!(
            c.sql("insert into s values (1, 10), (2, 20)").unwrap(),
            (204, String::new())
        );
        assert_eq!(
            c.sql("update t set v = 'upd' where id = 1").unwrap(),
            (204, String::new())
        );
        assert_eq!(
            c.sql("delete from t where id = 2").unwrap(),
            (204, String::new())
        );
    }
    s.kill9();

    let mut s = Server::start(&repo, &args);
    s.expect("select count(*) from t", 200, "[39]");
    let mut ids = int_list(&s.query("select id from t"));
    ids.sort();
    assert_eq!(ids, (1..=40).filter(|&i| i != 2).collect::<Vec<i64>>());
    s.expect("select v from t where id = 1", 200, "[\"upd\"]");
    s.expect("select v from t where id = 40", 200, "[\"v40\"]");
    s.expect("select sum(v) from s", 200, "[30]");

    // Round 3: DDL + write, kill.
    s.exec("create table k (id int primary key)");
    s.exec("insert into k values (7)");
    s.kill9();

    let mut s = Server::start(&repo, &args);
    s.expect("select id from k", 200, "[7]");
    s.expect("select count(*) from t", 200, "[39]");
    s.stop();
}

/// Write ids `from..=to` into `t`, one request (= one WAL record) each.
fn insert_one_by_one(s: &Server, from: i64, to: i64) {
    let mut c = s.conn();
    for i in from..=to {
        assert_eq!(
            c.sql(&format!("insert into t values ({i}, 'row {i}')"))
                .unwrap(),
            (204, String::new()),
            "insert {i}"
        );
    }
}

fn newest_wal(repo: &Path) -> PathBuf {
    let files = wal_files(repo);
    files
        .last()
        .cloned()
        .unwrap_or_else(|| panic!("no *.wal files in {}", repo.join("wal").display()))
}

fn truncate_tail(file: &Path, n: u64) {
    let len = fs::metadata(file).unwrap().len();
    assert!(len > n, "{} has only {len} bytes", file.display());
    OpenOptions::new()
        .write(true)
        .open(file)
        .unwrap()
        .set_len(len - n)
        .unwrap();
}

/// Ids present in `t`, sorted.
fn ids(s: &Server) -> Vec<i64> {
    let mut v = int_list(&s.query("select id from t"));
    v.sort();
    v
}

/// `got` must contain every id of `must` and nothing outside `may`.
#[track_caller]
fn assert_ids(got: &[i64], must: impl Iterator<Item = i64>, may: &[i64]) {
    for id in must {
        assert!(
            got.contains(&id),
            "complete record lost: id {id} missing from {got:?}"
        );
    }
    for id in got {
        assert!(may.contains(id), "unexpected id {id} in {got:?}");
    }
}

#[test]
fn truncated_wal_tail_keeps_complete_records() {
    let dir = TestDir::new("dur-truncate");
    let repo = dir.repo();
    let mut s = Server::start(&repo, &["--backends=3"]);
    s.exec("create table t (id int primary key, v text)");
    insert_one_by_one(&s, 1, 20);
    s.stop();

    // Tear the last record: cut 3 bytes off the newest WAL file.
    truncate_tail(&newest_wal(&repo), 3);
    let mut s = Server::start(&repo, &["--backends=3"]);
    let got = ids(&s);
    assert_ids(&got, 1..=19, &(1..=20).collect::<Vec<_>>());
    s.expect("select v from t where id = 19", 200, "[\"row 19\"]");

    // The server keeps working after cutting the tail, and new records survive a restart
    // (they must not be appended behind the torn bytes).
    insert_one_by_one(&s, 21, 30);
    s.stop();
    let mut s = Server::start(&repo, &["--backends=3"]);
    let got2 = ids(&s);
    let mut expected = got.clone();
    expected.extend(21..=30);
    assert_eq!(got2, expected);
    s.stop();

    // Tear again, this time by a single byte.
    truncate_tail(&newest_wal(&repo), 1);
    let mut s = Server::start(&repo, &["--backends=3"]);
    let got3 = ids(&s);
    assert_ids(&got3, got.iter().copied().chain(21..=29), &expected);
    s.exec("insert into t values (31, 'after')");
    s.expect("select v from t where id = 31", 200, "[\"after\"]");
    s.stop();
}

#[test]
fn garbage_after_last_wal_record_is_ignored() {
    let dir = TestDir::new("dur-garbage");
    let repo = dir.repo();
    let mut s = Server::start(&repo, &["--backends=3"]);
    s.exec("create table t (id int primary key, v text)");
    insert_one_by_one(&s, 1, 15);
    s.stop();

    // Append junk: a plausible-looking length prefix followed by noise.
    let wal = newest_wal(&repo);
    {
        let mut f = OpenOptions::new().append(true).open(&wal).unwrap();
        let mut junk = vec![0x10, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef];
        junk.extend((0..53u8).map(|i| i.wrapping_mul(37).wrapping_add(11)));
        f.write_all(&junk).unwrap();
        f.sync_all().unwrap();
    }
    let mut s = Server::start(&repo, &["--backends=3"]);
    assert_eq!(ids(&s), (1..=15).collect::<Vec<i64>>());
    insert_one_by_one(&s, 16, 20);
    s.stop();
    // the cut is logged as a warning, with the file and the bytes cut
    let log = fs::read_to_string(repo.join("log")).expect("read <repo>/log");
    let cuts: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(" WARN wal: cut a torn tail "))
        .collect();
    assert_eq!(cuts.len(), 1, "{log}");
    let name = wal.file_name().unwrap().to_string_lossy();
    assert!(
        cuts[0].contains(&format!(" file=wal/{name} ")) && cuts[0].contains(" bytes=61 "),
        "{log}"
    );

    let mut s = Server::start(&repo, &["--backends=3"]);
    assert_eq!(ids(&s), (1..=20).collect::<Vec<i64>>());
    s.stop();
}

#[test]
fn wal_rotation_and_multi_file_replay() {
    let dir = TestDir::new("dur-rotate");
    let repo = dir.repo();
    let args = ["--backends=3", "--wal_rotate_wm=4096"];
    let mut s = Server::start(&repo, &args);
    s.exec("create table t (id int primary key, v text)");
    let pad = "p".repeat(60);
    {
        let mut c = s.conn();
        for batch in 0..40 {
            let rows: Vec<String> = (0..5)
                .map(|j| {
                    let i = batch * 5 + j;
                    format!("({i}, '{pad}{i}')")
                })
                .collect();
            assert_eq!(
                c.sql(&format!("insert into t values {}", rows.join(", ")))
                    .unwrap(),
                (204, String::new())
            );
        }
    }
    s.stop();
    let files = wal_files(&repo);
    assert!(
        files.len() >= 2,
        "expected WAL rotation at 4096 bytes, files: {files:?}"
    );

    let mut s = Server::start(&repo, &args);
    s.expect(
        "select count(*), sum(id), min(id), max(id) from t",
        200,
        "[[200, 19900, 0, 199]]",
    );
    s.expect(
        "select v from t where id = 123",
        200,
        &format!("[\"{pad}123\"]"),
    );
    s.stop();
}

#[test]
fn stop_command_and_single_instance_per_directory() {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    let dir = TestDir::new("dur-stop");
    let repo = dir.repo();
    let mut s = Server::start(&repo, &["--backends=3"]);
    s.exec("create table t (id int primary key)");
    s.exec("insert into t values (1)");

    // A second server on the same directory must refuse to start (spec §4.1: the repository
    // is locked by the running instance) instead of writing the same WAL.
    let port = free_port();
    let mut second = Command::new(BIN)
        .arg("start")
        .arg(&repo)
        .arg(format!(
            "--listen=[{{\"host\": \"127.0.0.1\", \"port\": {port}}}]"
        ))
        .arg("--log_to_stdout=false")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn second server");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(st) = second.try_wait().unwrap() {
            break Some(st);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    if status.is_none() {
        let _ = second.kill();
        let _ = second.wait();
    }
    let status = status.expect("second server on a locked directory kept running");
    assert!(
        !status.success(),
        "second server on a locked directory exited with {status}"
    );
    s.expect("select id from t", 200, "[1]");

    // `amelie-server stop <dir>` stops the running server cleanly.
    let st = Command::new(BIN)
        .arg("stop")
        .arg(&repo)
        .status()
        .expect("run stop");
    assert!(st.success(), "amelie-server stop exited with {st}");
    let exit = s
        .wait_for_exit(Duration::from_secs(20))
        .expect("server did not stop");
    assert!(
        exit.success(),
        "server exit after `stop`: {exit}\nstderr:\n{}",
        s.stderr()
    );

    let mut s = Server::start(&repo, &["--backends=3"]);
    s.expect("select id from t", 200, "[1]");
    s.stop();
}

/// A flipped byte in the middle of the WAL (with complete records after it) is not a torn
/// tail: start-up must stop with an error naming the file instead of silently dropping the
/// committed records that follow it.
#[test]
fn corrupt_wal_record_in_the_middle_is_a_startup_error() {
    let dir = TestDir::new("wal_corrupt_middle");
    let repo = dir.repo();
    let mut s = Server::start(&repo, &[]);
    s.exec("create table t (id int primary key, data text)");
    for i in 0..20 {
        s.exec(&format!(
            "insert into t values ({i}, 'row number {i} with some padding')"
        ));
    }
    s.stop();
    let wal = wal_files(&repo).pop().expect("a wal file");
    let mut bytes = std::fs::read(&wal).expect("read wal");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x5a;
    std::fs::write(&wal, &bytes).expect("write wal");

    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_amelie-server"))
        .args([
            "start",
            repo.to_str().expect("utf-8 path"),
            &format!(
                "--listen=[{{\"host\": \"127.0.0.1\", \"port\": {}}}]",
                free_port()
            ),
            "--log_to_stdout=false",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn server");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while child.try_wait().expect("wait").is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "server started on a corrupt WAL"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    assert!(!out.status.success(), "start-up must fail");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let name = wal.file_name().and_then(|n| n.to_str()).expect("file name");
    assert!(text.contains(name), "the error names the file: {text}");
    assert!(text.contains("corrupt"), "{text}");
}
