//! End-to-end: `WATCH expr` (spec §2.14) re-evaluates its expression in the coordinator once a
//! second until it is true, then answers 204. A waiting WATCH must not block other requests,
//! even with a single frontend thread.

mod common;

use std::time::{Duration, Instant};

use common::*;

#[test]
fn watch_true_returns_at_once() {
    let dir = TestDir::new("watch-now");
    let mut s = Server::start(&dir.repo(), &[]);
    let t = Instant::now();
    s.exec("watch true");
    s.exec("WATCH 1 = 1");
    s.exec("watch system.config().lsn = system.config().lsn");
    assert!(
        t.elapsed() < Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
    // parse errors and the utility rule
    assert_eq!(s.post("watch").0, 400);
    assert_eq!(s.post("watch true; select 1").0, 400);
    s.stop();
}

#[test]
fn watch_waits_until_true_without_blocking() {
    let dir = TestDir::new("watch-wait");
    let mut s = Server::start(&dir.repo(), &["--frontends=1"]);
    let port = s.port;
    let started = Instant::now();
    let waiter = std::thread::spawn(move || {
        let mut c = Client::local(port).expect("connect");
        let r = c
            .sql("watch system.user('ready') is not null")
            .expect("watch reply");
        (r, Instant::now())
    });
    std::thread::sleep(Duration::from_millis(300));
    // the sleeping WATCH leaves the only frontend free for other requests
    let t = Instant::now();
    assert_eq!(s.query("select 1"), "[1]");
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
    assert!(
        !waiter.is_finished(),
        "WATCH returned before its expression was true"
    );
    s.exec("create user ready");
    let ((status, body), done) = waiter.join().expect("waiter thread");
    assert_eq!((status, body.as_str()), (204, ""));
    let waited = done.duration_since(started);
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    s.stop();
}
