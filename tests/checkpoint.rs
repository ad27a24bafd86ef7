//! End-to-end: checkpoints (spec §2.12, §5.4) — `CHECKPOINT [WORKERS n]` writes
//! `<repo>/<lsn>/` (catalog + one `.part` per partition); start-up loads the newest one and
//! replays only the WAL after it; `*.incomplete` directories are ignored and removed; a corrupt
//! snapshot file stops start-up with an error naming it.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

/// Complete checkpoint directories `<repo>/<lsn>/`, sorted.
fn checkpoints(repo: &Path) -> Vec<u64> {
    let mut v: Vec<u64> = fs::read_dir(repo)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    v.sort_unstable();
    v
}

fn part_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "part"))
        .collect();
    v.sort();
    v
}

fn setup(s: &Server) {
    s.exec("create table t (id int primary key serial, v int, name text)");
    s.exec("create index t_v on t (v)");
    s.exec("create shared table s (k text primary key, n int)");
    let rows: Vec<String> = (0..200)
        .map(|i| format!("(default, {i}, 'n{i}')"))
        .collect();
    s.exec(&format!("insert into t values {}", rows.join(", ")));
    s.exec("insert into s values ('a', 1), ('b', 2)");
}

const STATE: &[&str] = &[
    "select count(*), sum(v), min(id), max(id) from t",
    "select * from t where v = 17",
    "select * from s order by k",
    "select * from t order by id limit 3",
    "select count(*) from t where name like '%!'",
];

fn state(s: &Server) -> Vec<String> {
    STATE.iter().map(|q| s.query(q)).collect()
}

fn show_int(s: &Server, what: &str) -> i64 {
    let body = s.query(&format!("show {what}"));
    let v = json(&body);
    v.as_i64()
        .or_else(|| v.get(0).and_then(|x| x.as_i64()))
        .unwrap_or_else(|| panic!("show {what}: {body}"))
}

#[test]
fn restart_from_checkpoint_only() {
    let dir = TestDir::new("ckpt-only");
    let repo = dir.repo();
    let mut s = Server::start(&repo, &[]);
    setup(&s);
    s.exec("checkpoint");
    let lsn = show_int(&s, "lsn");
    assert_eq!(show_int(&s, "checkpoint"), lsn);
    assert_eq!(checkpoints(&repo), vec![lsn as u64]);
    let cdir = repo.join(lsn.to_string());
    assert!(cdir.join("catalog.snap").is_file());
    // 3 partitions of t + 1 of s
    assert_eq!(part_files(&cdir).len(), 4);
    let want = state(&s);
    s.stop();
    // without any WAL, everything comes from the checkpoint
    for f in wal_files(&repo) {
        fs::remove_file(f).unwrap();
    }
    let mut s = Server::start(&repo, &[]);
    assert_eq!(state(&s), want);
    assert_eq!(show_int(&s, "lsn"), lsn);
    assert_eq!(show_int(&s, "checkpoint"), lsn);
    // serial counters resume and new writes survive another restart
    s.exec("insert into t (v, name) values (1000, 'after')");
    s.expect("select id from t where v = 1000", 200, "[200]");
    s.stop();
    let s = Server::start(&repo, &[]);
    s.expect("select id from t where v = 1000", 200, "[200]");
    assert_eq!(show_int(&s, "lsn"), lsn + 1);
}

#[test]
fn checkpoint_plus_wal() {
    let dir = TestDir::new("ckpt-wal");
    let repo = dir.repo();
    let mut s = Server::start(&repo, &[]);
    setup(&s);
    s.exec("checkpoint workers 2");
    s.exec("update t set name = name || '!' where id < 50");
    s.exec("delete from t where id >= 190");
    s.exec("insert into s values ('c', 3)");
    s.exec("update s set n = 20 where k = 'b'");
    let want = state(&s);
    let lsn = show_int(&s, "lsn");
    s.stop();
    let mut s = Server::start(&repo, &[]);
    assert_eq!(state(&s), want);
    assert_eq!(show_int(&s, "lsn"), lsn);
    // a second checkpoint replaces the first
    s.exec("checkpoint");
    assert_eq!(checkpoints(&repo), vec![lsn as u64]);
    // a checkpoint at the same LSN is a no-op
    s.exec("checkpoint");
    s.stop();
    let s = Server::start(&repo, &[]);
    assert_eq!(state(&s), want);
}

#[test]
fn wal_only_restart() {
    let dir = TestDir::new("ckpt-none");
    let repo = dir.repo();
    let mut s = Server::start(&repo, &[]);
    setup(&s);
    let want = state(&s);
    s.stop();
    // only the bootstrap checkpoint (checkpoint 1: the compute nodes consume no LSN); the
    // rows come from the WAL
    assert_eq!(checkpoints(&repo), vec![1]);
    let s = Server::start(&repo, &[]);
    assert_eq!(state(&s), want);
    assert_eq!(show_int(&s, "checkpoint"), 1);
}

#[test]
fn ddl_after_checkpoint() {
    let dir = TestDir::new("ckpt-ddl");
    let repo = dir.repo();
    let mut s = Server::start(&repo, &[]);
    setup(&s);
    s.exec("checkpoint");
    s.exec("create table u (id int primary key, x text)");
    s.exec("insert into u values (1, 'one'), (2, 'two')");
    s.exec("alter table t add column extra int default 7");
    s.exec("drop table s");
    s.exec("drop index t_v on t");
    let u = s.query("select * from u order by id");
    let t = s.query("select count(*), sum(extra) from t");
    s.stop();
    let s = Server::start(&repo, &[]);
    assert_eq!(s.query("select * from u order by id"), u);
    assert_eq!(s.query("select count(*), sum(extra) from t"), t);
    let (status, _) = s.post("select * from s");
    assert_eq!(status, 400);
}

#[test]
fn incomplete_checkpoint_is_ignored() {
    let dir = TestDir::new("ckpt-incomplete");
    let repo = dir.repo();
    let mut s = Server::start(&repo, &[]);
    setup(&s);
    s.exec("checkpoint");
    s.exec("insert into s values ('z', 26)");
    let want = state(&s);
    s.stop();
    // a crash in the middle of a later checkpoint left garbage behind
    let junk = repo.join("999999.incomplete");
    fs::create_dir_all(&junk).unwrap();
    fs::write(junk.join("catalog.snap"), b"garbage").unwrap();
    fs::write(junk.join("0000000001.part"), b"garbage").unwrap();
    let s = Server::start(&repo, &[]);
    assert_eq!(state(&s), want);
    assert!(!junk.exists(), "incomplete checkpoint removed at start-up");
}

#[test]
fn corrupt_snapshot_is_a_startup_error() {
    let dir = TestDir::new("ckpt-corrupt");
    let repo = dir.repo();
    let mut s = Server::start(&repo, &[]);
    setup(&s);
    s.exec("checkpoint");
    let lsn = show_int(&s, "lsn");
    s.stop();
    let parts = part_files(&repo.join(lsn.to_string()));
    let victim = parts
        .iter()
        .max_by_key(|p| fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .unwrap()
        .clone();
    let mut bytes = fs::read(&victim).unwrap();
    let mid = bytes.len() / 2 + 10;
    bytes[mid] ^= 0x5a;
    fs::write(&victim, &bytes).unwrap();
    let mut child = Command::new(BIN)
        .args([
            "start",
            repo.to_str().unwrap(),
            &format!(
                "--listen=[{{\"host\": \"127.0.0.1\", \"port\": {}}}]",
                free_port()
            ),
            "--log_to_stdout=false",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + START_TIMEOUT;
    while child.try_wait().unwrap().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "server started anyway"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let name = victim.file_name().unwrap().to_str().unwrap();
    assert!(text.contains(name), "error names the file: {text}");
    assert!(text.contains("corrupt"), "{text}");
}

#[test]
fn checkpoint_removes_covered_wal_files() {
    let dir = TestDir::new("ckpt-walrm");
    let repo = dir.repo();
    let args = ["--wal_rotate_wm=2048"];
    let mut s = Server::start(&repo, &args);
    s.exec("create table t (id int primary key, v text)");
    for b in 0..20 {
        let rows: Vec<String> = (0..20)
            .map(|j| format!("({}, '{}')", b * 20 + j, "x".repeat(40)))
            .collect();
        s.exec(&format!("insert into t values {}", rows.join(", ")));
    }
    let before = wal_files(&repo).len();
    assert!(before > 2, "the WAL rotated: {before} files");
    s.exec("checkpoint");
    let after = wal_files(&repo).len();
    assert!(
        after < before,
        "covered WAL files removed: {before} -> {after}"
    );
    s.exec("insert into t values (1000, 'late')");
    let want = s.query("select count(*), max(id) from t");
    s.stop();
    let s = Server::start(&repo, &args);
    assert_eq!(s.query("select count(*), max(id) from t"), want);
}

#[test]
fn periodic_checkpoint() {
    let dir = TestDir::new("ckpt-periodic");
    let repo = dir.repo();
    let mut s = Server::start(&repo, &["--checkpoint_interval=200 ms"]);
    setup(&s);
    let lsn = show_int(&s, "lsn");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    // the new checkpoint is published before the older ones are removed: wait for both
    while show_int(&s, "checkpoint") != lsn || checkpoints(&repo) != vec![lsn as u64] {
        assert!(
            std::time::Instant::now() < deadline,
            "no periodic checkpoint: {:?}",
            checkpoints(&repo)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let want = state(&s);
    s.kill9();
    let s = Server::start(&repo, &[]);
    assert_eq!(state(&s), want);
}

#[test]
fn set_checkpoint_interval_applies_at_run_time() {
    let dir = TestDir::new("ckpt-set-interval");
    let repo = dir.repo();
    let mut s = Server::start(&repo, &["--checkpoint_interval=1 hour"]);
    setup(&s);
    assert!(show_int(&s, "checkpoint") < show_int(&s, "lsn"));
    s.expect_error(
        "set checkpoint_interval to 'soon'",
        "checkpoint_interval: invalid interval 'soon'",
    );
    s.exec("set checkpoint_interval to '1 sec'");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while show_int(&s, "checkpoint") < show_int(&s, "lsn") {
        assert!(
            std::time::Instant::now() < deadline,
            "no periodic checkpoint"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    s.stop();
}
