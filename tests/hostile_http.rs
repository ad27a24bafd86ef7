//! End-to-end: hostile but legal clients against the HTTP layer and the configuration
//! (issue 13, points 5-8): the connection cap and the idle/header/body timeouts, a `limit_recv`
//! that cannot lock clients out, the `wal_rotate_wm` floor, `config.json` mode 0600, the
//! right to manage users, absolute-form import targets, JWT `exp` out of range, the memory of
//! parsing long whitespace, and the smaller wrong answers of point 8.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// A connection that sent a request head announcing a body and only part of the body: it is
/// busy (its request is being read) until the body timeout.
fn busy_conn(port: u16) -> Client {
    let mut c = Client::local(port).expect("connect");
    c.send_bytes(
        format!(
            "POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: text/plain\r\n\
             Content-Length: 100\r\n\r\nselect"
        )
        .as_bytes(),
    )
    .expect("send");
    c
}

/// A keep-alive connection that answered one `select 1` (so the server has registered it).
fn idle_conn(port: u16) -> Client {
    let mut c = Client::local(port).expect("connect");
    assert_eq!(c.sql("select 1").expect("select 1"), (200, "[1]".into()));
    c
}

/// Give the server time to notice connections the test harness closed (start-up probes).
fn settle() {
    std::thread::sleep(Duration::from_millis(300));
}

#[test]
fn connection_cap_closes_the_longest_idle_connection() {
    let dir = TestDir::new("hostile-cap");
    let mut s = Server::start(
        &dir.repo(),
        &["--limit_connections=4", "--idle_timeout_ms=0"],
    );
    settle();
    let mut conns: Vec<Client> = Vec::new();
    for _ in 0..4 {
        conns.push(idle_conn(s.port));
        std::thread::sleep(Duration::from_millis(20));
    }
    // the second connection is used again: now the first has been idle the longest
    assert_eq!(conns[1].sql("select 2").unwrap(), (200, "[2]".into()));
    // a fifth client gets in; the first connection is closed to make room
    let mut fifth = idle_conn(s.port);
    assert!(conns[0].is_closed_by_peer(Duration::from_secs(5)));
    for c in &mut conns[1..] {
        assert_eq!(c.sql("select 3").unwrap(), (200, "[3]".into()));
    }
    assert_eq!(fifth.sql("select 4").unwrap(), (200, "[4]".into()));
    // the next newcomer closes the next longest idle one (the second connection: the
    // others were used after it)
    let _sixth = idle_conn(s.port);
    assert!(conns[1].is_closed_by_peer(Duration::from_secs(5)));
    s.stop();
}

#[test]
fn many_idle_sockets_do_not_lock_new_clients_out() {
    let dir = TestDir::new("hostile-idle-flood");
    let mut s = Server::start(
        &dir.repo(),
        &["--limit_connections=50", "--idle_timeout_ms=0"],
    );
    settle();
    // four times the cap of idle sockets that never send anything
    let idle: Vec<Client> = (0..200)
        .map(|_| Client::local(s.port).expect("connect"))
        .collect();
    let started = Instant::now();
    s.expect("select 1", 200, "[1]");
    assert!(started.elapsed() < Duration::from_secs(5));
    // the oldest idle sockets were closed to make room
    let mut closed = 0;
    for mut c in idle.into_iter().take(100) {
        if c.is_closed_by_peer(Duration::from_millis(100)) {
            closed += 1;
        }
    }
    assert!(closed >= 90, "{closed}");
    s.stop();
}

#[test]
fn at_the_cap_with_every_connection_busy_a_new_one_is_refused() {
    let dir = TestDir::new("hostile-cap-busy");
    let mut s = Server::start(
        &dir.repo(),
        &["--limit_connections=2", "--body_timeout_ms=3000"],
    );
    settle();
    let busy = [busy_conn(s.port), busy_conn(s.port)];
    std::thread::sleep(Duration::from_millis(200));
    let mut c = Client::local(s.port).expect("connect");
    let r = c.read_response().expect("a 503 reply");
    assert_eq!(r.status, 503, "{r:?}");
    assert_eq!(r.text(), error_body("too many connections"));
    assert!(c.is_closed_by_peer(Duration::from_secs(5)));
    // a client that sent a whole request before it was refused still reads the 503 (the
    // server drains what it sent instead of resetting the connection)
    for _ in 0..5 {
        let mut c = Client::local(s.port).expect("connect");
        let body = vec![b' '; 1 << 20];
        let mut req = format!(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n\
             Content-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(&body);
        // (the server may close while the body is still being written)
        let _ = c.send_bytes(&req);
        let r = c.read_response().expect("a 503 reply, not a reset");
        assert_eq!(r.status, 503, "{r:?}");
    }
    // once the busy connections are gone, clients get in again
    drop(busy);
    std::thread::sleep(Duration::from_millis(300));
    s.expect("select 1", 200, "[1]");
    s.stop();
}

#[test]
fn idle_connections_time_out() {
    let dir = TestDir::new("hostile-idle");
    let mut s = Server::start(&dir.repo(), &["--idle_timeout_ms=400"]);
    // a keep-alive connection left idle is closed
    let mut used = idle_conn(s.port);
    let started = Instant::now();
    assert!(used.is_closed_by_peer(Duration::from_secs(5)));
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(300), "{took:?}");
    // a connection that never sends anything, too
    let mut silent = Client::local(s.port).expect("connect");
    assert!(silent.is_closed_by_peer(Duration::from_secs(5)));
    // a connection in use stays open
    let mut active = idle_conn(s.port);
    for i in 0..8 {
        std::thread::sleep(Duration::from_millis(150));
        assert_eq!(active.sql("select 1").unwrap(), (200, "[1]".into()), "{i}");
    }
    s.stop();
}

#[test]
fn a_slow_request_head_or_body_is_cut_off() {
    let dir = TestDir::new("hostile-slow");
    let mut s = Server::start(
        &dir.repo(),
        &[
            "--header_timeout_ms=300",
            "--body_timeout_ms=300",
            "--idle_timeout_ms=0",
        ],
    );
    // each gets a 400 with a message, then the close
    let closing_400 = |msg: &str| {
        let body = error_body(msg);
        format!(
            "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let mut head = Client::local(s.port).expect("connect");
    head.send_bytes(b"POST / HTTP/1.1\r\nHost: x\r\n").unwrap();
    let started = Instant::now();
    let reply = head.read_all(Duration::from_secs(5));
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(
        String::from_utf8_lossy(&reply),
        closing_400("HTTP request header read timeout")
    );
    let mut body = busy_conn(s.port);
    let started = Instant::now();
    let reply = body.read_all(Duration::from_secs(5));
    assert!(started.elapsed() < Duration::from_secs(3));
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{reply}");
    assert!(
        reply.ends_with(&error_body("HTTP request body read timeout")),
        "{reply}"
    );
    // an idle connection stays (idle timeout off), and the server answers
    let mut idle = idle_conn(s.port);
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(idle.sql("select 5").unwrap(), (200, "[5]".into()));
    s.stop();
}

#[test]
fn limit_recv_cannot_lock_clients_out() {
    let dir = TestDir::new("hostile-limit-recv");
    let mut s = Server::start(&dir.repo(), &[]);
    // as in Amelie: accepted, and then requests are refused
    s.exec("set limit_recv to 0");
    s.expect_error("select 1", "http request limit reached");
    // but the statement that raises it again always gets through
    s.exec("set limit_recv to 1048576");
    s.expect("select 1", 200, "[1]");
    // also after a restart with a tiny limit saved in config.json
    s.exec("SET limit_recv TO 5;");
    s.expect_error("select 1", "http request limit reached");
    s.expect_error("set limit_send to 5", "http request limit reached");
    s.stop();
    // (`Server::start` would wait for `select 1`, which the saved limit refuses)
    let port = free_port();
    let mut child = Command::new(BIN)
        .arg("start")
        .arg(dir.repo())
        .arg(format!(
            "--listen=[{{\"host\": \"127.0.0.1\", \"port\": {port}}}]"
        ))
        .arg("--log_to_stdout=false")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn amelie-server");
    let deadline = Instant::now() + START_TIMEOUT;
    let outcome = loop {
        match Client::local_timeout(port, Duration::from_secs(2))
            .and_then(|mut c| c.sql("set limit_recv to 1048576"))
        {
            Ok((204, _)) => break Ok(()),
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            r => break Err(format!("set limit_recv after restart: {r:?}")),
        }
    };
    let select = Client::local(port).and_then(|mut c| c.sql("select 1"));
    let _ = child.kill();
    let _ = child.wait();
    outcome.unwrap();
    assert_eq!(select.unwrap(), (200, "[1]".into()));
}

#[test]
fn wal_rotate_wm_has_a_floor() {
    let dir = TestDir::new("hostile-wal-wm");
    let mut s = Server::start(&dir.repo(), &[]);
    s.expect_error("set wal_rotate_wm to 0", "value must be at least 1048576");
    s.expect_error(
        "set wal_rotate_wm to 1000",
        "value must be at least 1048576",
    );
    s.exec("set wal_rotate_wm to 1048576");
    s.expect("show wal_rotate_wm format 'json'", 200, "[1048576]");
    s.stop();
    // a start option below 1 KiB is refused
    let out = Command::new(BIN)
        .arg("start")
        .arg(dir.repo())
        .arg("--wal_rotate_wm=0")
        .output()
        .expect("run");
    assert!(!out.status.success());
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("option 'wal_rotate_wm': value must be at least 1024"),
        "{text}"
    );
}

#[test]
fn config_json_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TestDir::new("hostile-config-mode");
    let mut s = Server::start(&dir.repo(), &[]);
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let config = dir.repo().join("config.json");
    assert_eq!(mode(&config), 0o600);
    // rewritten with a secret in it: still 0600, even over a world-readable leftover
    fs::write(dir.repo().join("config.json.tmp"), "{}").unwrap();
    fs::set_permissions(
        dir.repo().join("config.json.tmp"),
        fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    s.exec("create user u secret 'very secret'");
    assert_eq!(mode(&config), 0o600);
    assert!(fs::read_to_string(&config).unwrap().contains("very secret"));
    assert!(!dir.repo().join("config.json.tmp").exists());
    s.stop();
}

/// A server with a listener without auth and an `"auth": true` one.
struct AuthServer {
    child: Option<Child>,
    open: u16,
    auth: u16,
}

impl AuthServer {
    fn start(repo: &Path, logs: &Path) -> AuthServer {
        let (open, auth) = (free_port(), free_port());
        let listen = format!(
            "--listen=[{{\"host\": \"127.0.0.1\", \"port\": {open}}}, \
             {{\"host\": \"127.0.0.1\", \"port\": {auth}, \"auth\": true}}]"
        );
        let child = Command::new(BIN)
            .arg("start")
            .arg(repo)
            .args([
                listen.as_str(),
                "--backends=1",
                "--frontends=1",
                "--log_to_stdout=false",
            ])
            .stdin(Stdio::null())
            .stdout(fs::File::create(logs.join("auth.stdout")).expect("stdout file"))
            .stderr(fs::File::create(logs.join("auth.stderr")).expect("stderr file"))
            .spawn()
            .expect("spawn amelie-server");
        let server = AuthServer {
            child: Some(child),
            open,
            auth,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok((200, _)) = Client::local_timeout(open, Duration::from_secs(2))
                .and_then(|mut c| c.sql("select 1"))
            {
                return server;
            }
            assert!(Instant::now() < deadline, "server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `POST /` of `sql` with an optional bearer token; returns (status, body).
    fn post(&self, port: u16, token: Option<&str>, sql: &str) -> (u16, String) {
        let mut c = Client::local(port).expect("connect");
        let mut head =
            format!("POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: text/plain\r\n");
        if let Some(t) = token {
            head.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", sql.len()));
        c.send_bytes(format!("{head}{sql}").as_bytes())
            .expect("send");
        let r = c.read_response().expect("response");
        (r.status, r.text())
    }

    fn open_sql(&self, sql: &str) -> (u16, String) {
        self.post(self.open, None, sql)
    }
}

impl Drop for AuthServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn token_of(body: &str) -> String {
    match json(body) {
        serde_json::Value::Array(a) if a.len() == 1 => a[0].as_str().unwrap().to_string(),
        _ => panic!("token expected: {body}"),
    }
}

#[test]
fn only_the_operator_manages_users() {
    let dir = TestDir::new("hostile-users");
    let s = AuthServer::start(&dir.repo(), dir.path());
    for sql in ["create user alice secret 'a'", "create user bob secret 'b'"] {
        assert_eq!(s.open_sql(sql).0, 204, "{sql}");
    }
    let alice = token_of(&s.open_sql("create token alice").1);
    let denied = error_body(
        "user 'alice': permission denied (users are managed on a listener without auth)",
    );
    let auth = |sql: &str| s.post(s.auth, Some(&alice), sql);
    assert_eq!(auth("select 1"), (200, "[1]".into()));
    for sql in [
        "create user mallory secret 'm'",
        "drop user bob",
        "drop user if exists bob",
        "alter user bob secret 'mine now'",
        "create token bob",
    ] {
        assert_eq!(auth(sql), (400, denied.clone()), "{sql}");
    }
    assert_eq!(
        s.open_sql("show users format 'json'").1,
        r#"[{"name": "alice"}, {"name": "bob"}]"#
    );
    // her own tokens and her own secret are hers to manage
    let again = token_of(&auth("create token alice").1);
    assert_eq!(
        s.post(s.auth, Some(&again), "select 2"),
        (200, "[2]".into())
    );
    assert_eq!(auth("alter user alice secret 'new'").0, 204);
    assert_eq!(s.post(s.auth, Some(&alice), "select 1").0, 403);
    // the listener without auth manages every user, as before
    assert_eq!(s.open_sql("drop user bob").0, 204);
    assert_eq!(s.open_sql("create user carol").0, 204);
}

#[test]
fn token_expiry_out_of_range_is_rejected() {
    let dir = TestDir::new("hostile-jwt");
    let s = AuthServer::start(&dir.repo(), dir.path());
    assert_eq!(s.open_sql("create user t secret 'abc'").0, 204);
    let jwt = |payload: &str| {
        token_of(
            &s.open_sql(&format!(
                "select jwt('{{\"alg\":\"HS256\",\"typ\":\"JWT\"}}', '{payload}', 'abc') format 'json'"
            ))
            .1,
        )
    };
    let ok = jwt(r#"{"sub": "t", "iat": 1, "exp": 4000000000}"#);
    assert_eq!(s.post(s.auth, Some(&ok), "select 1"), (200, "[1]".into()));
    for payload in [
        // 10^30 wrapped modulo 2^64 used to be a valid time
        r#"{"sub": "t", "iat": 1, "exp": 1000000000000000000000000000000}"#,
        r#"{"sub": "t", "iat": 1, "exp": 18446744077709551616}"#,
        r#"{"sub": "t", "iat": 1, "exp": 9223372036854775807}"#,
        r#"{"sub": "t", "iat": 1, "exp": 1e30}"#,
    ] {
        let token = jwt(payload);
        assert_eq!(s.post(s.auth, Some(&token), "select 1").0, 403, "{payload}");
    }
}

#[test]
fn absolute_form_import_target_is_refused() {
    let dir = TestDir::new("hostile-absolute-form");
    let mut s = Server::start(&dir.repo(), &[]);
    s.exec("create table t (id int primary key)");
    let port = s.port;
    let mut c = s.conn();
    for target in [
        format!("http://127.0.0.1:{port}/public/t"),
        "http://evil.example/public/t".to_string(),
    ] {
        let r = c
            .request(
                &Request::post(&target)
                    .content_type("text/csv")
                    .body(b"1\n2\n"),
            )
            .expect("reply");
        assert_eq!(
            (r.status, r.text()),
            (400, error_body("unsupported URI path")),
            "{target}"
        );
    }
    // the origin form works
    let r = c
        .request(
            &Request::post("/public/t")
                .content_type("text/csv")
                .body(b"3\n"),
        )
        .expect("reply");
    assert_eq!(r.status, 204, "{}", r.text());
    s.expect("select count(*) from t", 200, "[1]");
    s.stop();
}

/// The peak resident memory of a process (`VmHWM`), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

#[test]
fn parsing_long_whitespace_costs_little_memory() {
    let dir = TestDir::new("hostile-spaces");
    let mut s = Server::start(&dir.repo(), &["--limit_recv=4194304"]);
    let before = peak_rss_kib(s.pid());
    for sql in [
        format!("select 1{}", " ".repeat(1 << 20)),
        format!("select{}1", "\n".repeat(1 << 20)),
        format!("select 1 {}", "-- c\n".repeat(200_000)),
    ] {
        s.expect(&sql, 200, "[1]");
    }
    let grew_mib = (peak_rss_kib(s.pid()).saturating_sub(before)) / 1024;
    // was ~185 MiB per 1 MiB of spaces
    assert!(grew_mib < 48, "peak RSS grew by {grew_mib} MiB");
    s.stop();
}

#[test]
fn point_8_answers() {
    let dir = TestDir::new("hostile-point8");
    // one backend: a table of one partition, where GENERATE's rows are made by the
    // coordinator (with several partitions the nodes make them)
    let mut s = Server::start(&dir.repo(), &["--backends=1"]);
    s.exec("create table g (id int primary key serial, v int default 1)");
    s.exec("insert into g generate 0");
    s.expect("select count(*) from g", 200, "[0]");
    s.expect_error(
        "insert into g generate -1",
        "GENERATE <count> must not be negative",
    );
    s.exec("insert into g generate 3");
    s.expect("select count(*) from g", 200, "[3]");
    s.expect_error(
        "select interval '9223372036854775807 us' + interval '1 us'",
        "interval overflow",
    );
    s.expect_error(
        "select interval '-9223372036854775807 us' - interval '2 us'",
        "interval overflow",
    );
    s.expect_error(
        "select date_trunc('day', timestamp(-9223372036854775808))",
        "timestamp overflow",
    );
    s.expect(
        "select substr('héllo', 2, 1) format 'json'",
        200,
        r#"["é"]"#,
    );
    s.expect("select strpos('héllo', 'l') format 'json'", 200, "[3]");
    s.expect("select 1", 200, "[1]");
    s.stop();
}

#[test]
fn error_texts_hold_no_absolute_paths() {
    let dir = TestDir::new("hostile-paths");
    let mut s = Server::start(&dir.repo(), &[]);
    s.exec("create table t (id int primary key)");
    s.exec("insert into t values (1)");
    // a file where the next checkpoint's directory goes makes CHECKPOINT fail
    let lsn = s.query("show lsn format 'json'");
    let lsn = lsn.trim_matches(['[', ']']);
    fs::write(dir.repo().join(format!("{lsn}.incomplete")), "in the way").unwrap();
    let (status, body) = s.post("checkpoint");
    assert_eq!(status, 400, "{body}");
    let msg = assert_error_shape(&body);
    assert!(
        msg.starts_with(&format!("checkpoint '{lsn}.incomplete': ")),
        "{msg}"
    );
    let repo = dir.repo().canonicalize().unwrap();
    for p in [dir.repo(), repo] {
        assert!(!msg.contains(&*p.to_string_lossy()), "{msg}");
    }
    assert!(
        !msg.contains(&*std::env::temp_dir().to_string_lossy()),
        "{msg}"
    );
    s.expect("select count(*) from t", 200, "[1]");
    fs::remove_file(dir.repo().join(format!("{lsn}.incomplete"))).unwrap();
    s.exec("checkpoint");
    s.stop();
}
