//! End-to-end: the server log `<repo>/log`: its line format, the start and stop lines, and
//! the lines of each connection (`log_connections`, also as `SET` changes it at run time).

mod common;

use std::fs;

use common::*;

/// The log file of a stopped server (every queued line has been written at exit).
fn read_log(s: &Server) -> String {
    fs::read_to_string(s.dir.join("log")).expect("read <repo>/log")
}

/// Splits a log line into (time, level, the rest), checking the time is
/// `YYYY-MM-DD HH:MM:SS.mmm`.
fn split(line: &str) -> (&str, &str, &str) {
    let (time, rest) = line
        .split_at_checked(23)
        .unwrap_or_else(|| panic!("{line:?}"));
    for (i, b) in time.bytes().enumerate() {
        let want = match i {
            4 | 7 => b == b'-',
            10 => b == b' ',
            13 | 16 => b == b':',
            19 => b == b'.',
            _ => b.is_ascii_digit(),
        };
        assert!(want, "bad time in {line:?}");
    }
    let rest = rest.strip_prefix(' ').unwrap_or_else(|| panic!("{line:?}"));
    let (level, rest) = rest.split_once(' ').unwrap_or_else(|| panic!("{line:?}"));
    (time, level, rest)
}

/// The log lines of the connection whose client address is `peer`, without time and level
/// (which must be `INFO`).
fn lines_of(log: &str, peer: &str) -> Vec<String> {
    let key = format!(" peer={peer} ");
    log.lines()
        .filter(|l| l.contains(&key))
        .map(|l| {
            let (_, level, rest) = split(l);
            assert_eq!(level, "INFO", "{l}");
            rest.to_string()
        })
        .collect()
}

/// A new connection and the address the server sees it from.
fn connect(s: &Server) -> (Client, String) {
    let c = s.conn();
    let peer = c.stream().local_addr().expect("local_addr").to_string();
    (c, peer)
}

/// `POST /` of `sql` written by hand, so that the bytes the server reads are known.
fn raw_sql(port: u16, sql: &str) -> Vec<u8> {
    format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{sql}",
        sql.len()
    )
    .into_bytes()
}

/// The id of a `connection open peer=<peer> id=<id>` line.
fn open_id(line: &str, peer: &str) -> u64 {
    line.strip_prefix(&format!("connection open peer={peer} id="))
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("not an open line of {peer}: {line}"))
}

#[test]
fn connections_are_logged_with_their_fields() {
    let dir = TestDir::new("log-connections");
    let mut s = Server::start(&dir.repo(), &[]);
    let (mut c, peer) = connect(&s);
    let mut recv = 0;
    for sql in ["select 1", "select 22"] {
        let req = raw_sql(s.port, sql);
        recv += req.len();
        c.send_bytes(&req).expect("send");
        assert_eq!(c.read_response().expect("response").status, 200);
    }
    drop(c);
    s.stop();

    let log = read_log(&s);
    let lines = lines_of(&log, &peer);
    assert_eq!(lines.len(), 2, "{log}");
    let id = open_id(&lines[0], &peer);
    let close = format!("connection close peer={peer} id={id} requests=2 recv={recv} sent=");
    let sent = lines[1]
        .strip_prefix(&close)
        .unwrap_or_else(|| panic!("expected {close}...\n{log}"));
    assert!(sent.parse::<u64>().is_ok_and(|n| n > 0), "{log}");

    // every line has the format; the server's own lines are there too
    let all: Vec<_> = log.lines().map(split).collect();
    let messages: Vec<&str> = all.iter().map(|(_, _, rest)| *rest).collect();
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("amelie start version=")),
        "{log}"
    );
    let listening = format!("listening addr=127.0.0.1:{}", s.port);
    assert!(messages.contains(&listening.as_str()), "{log}");
    assert_eq!(messages.last(), Some(&"stopped"), "{log}");
    assert!(all.iter().all(|(_, level, _)| *level == "INFO"), "{log}");
}

#[test]
fn no_connection_lines_when_log_connections_is_off() {
    let dir = TestDir::new("log-connections-off");
    let mut s = Server::start(&dir.repo(), &["--log_connections=false"]);
    let (mut c, peer) = connect(&s);
    assert_eq!(c.sql("select 1").expect("select"), (200, "[1]".to_string()));
    drop(c);
    s.stop();

    let log = read_log(&s);
    // the log is written (the start and stop lines) but no connection is in it
    assert!(log.lines().any(|l| split(l).2 == "stopped"), "{log}");
    assert!(lines_of(&log, &peer).is_empty(), "{log}");
    assert!(!log.contains("connection "), "{log}");
}

#[test]
fn set_log_connections_applies_to_the_next_connections() {
    let dir = TestDir::new("log-connections-set");
    let mut s = Server::start(&dir.repo(), &[]);
    // opened while on: its closing is logged too
    let (mut a, peer_a) = connect(&s);
    assert_eq!(
        a.sql("set log_connections to false").expect("set"),
        (204, String::new())
    );
    drop(a);
    let (mut b, peer_b) = connect(&s);
    assert_eq!(b.sql("select 1").expect("select").0, 200);
    // opened while off: not logged, even once it turned logging on again
    let (mut c, peer_c) = connect(&s);
    assert_eq!(
        c.sql("set log_connections to true").expect("set"),
        (204, String::new())
    );
    drop(b);
    drop(c);
    let (mut d, peer_d) = connect(&s);
    assert_eq!(d.sql("select 1").expect("select").0, 200);
    drop(d);
    s.stop();

    let log = read_log(&s);
    for peer in [&peer_a, &peer_d] {
        let lines = lines_of(&log, peer);
        assert_eq!(lines.len(), 2, "{peer}\n{log}");
        let id = open_id(&lines[0], peer);
        let close = format!("connection close peer={peer} id={id} requests=1 ");
        assert!(lines[1].starts_with(&close), "{close}\n{log}");
    }
    for peer in [&peer_b, &peer_c] {
        assert!(lines_of(&log, peer).is_empty(), "{peer}\n{log}");
    }
    // the change is logged as well
    assert!(
        log.contains(" INFO config: set name=log_connections value=false\n"),
        "{log}"
    );
}
