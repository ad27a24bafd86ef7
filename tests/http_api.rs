//! End-to-end: the HTTP API of spec §1 — endpoints, status codes (200/204/400/403), headers,
//! the `{"msg": ...}` error body, keep-alive, `limit_recv`, and robustness against malformed
//! input (the server must answer or drop the connection, never die).

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use common::*;

/// Send a request whose body is written from another thread while this thread reads the
/// response: the server may answer (e.g. `http request limit reached`) before reading the whole
/// body, and may even close the connection; neither must turn into a client-side deadlock.
fn post_large(port: u16, content_type: &str, body: Vec<u8>) -> Response {
    let mut conn = Client::local(port).expect("connect");
    let head = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    conn.send_bytes(head.as_bytes()).expect("send head");
    let mut writer: TcpStream = conn.stream().try_clone().expect("clone stream");
    let t = std::thread::spawn(move || {
        // Errors (EPIPE/ECONNRESET after an early reply) are fine here.
        let _ = writer.write_all(&body);
        let _ = writer.flush();
    });
    let r = conn
        .read_response()
        .expect("response to an oversized request");
    drop(conn);
    let _ = t.join();
    r
}

#[test]
fn select_1_returns_200_with_json_body() {
    let dir = TestDir::new("http-select1");
    let mut s = Server::start(&dir.repo(), &[]);
    let r = s.post_with(Some("text/plain"), "/", b"select 1");
    assert_eq!(r.status, 200);
    assert!(
        r.status_line.starts_with("HTTP/1.1 200 "),
        "{}",
        r.status_line
    );
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_eq!(r.header("Content-Length"), Some("3"));
    assert_eq!(r.text(), "[1]");

    // application/sql is the other SQL content type.
    let r = s.post_with(Some("application/sql"), "/", b"select 1, 2");
    assert_eq!((r.status, r.text().as_str()), (200, "[[1, 2]]"));
    s.stop();
}

#[test]
fn ddl_and_dml_return_204_without_body() {
    let dir = TestDir::new("http-204");
    let mut s = Server::start(&dir.repo(), &[]);
    let r = s.post_with(
        Some("text/plain"),
        "/",
        b"create table t (id int primary key)",
    );
    assert_eq!(r.status, 204, "body: {}", r.text());
    assert!(
        r.status_line.starts_with("HTTP/1.1 204 "),
        "{}",
        r.status_line
    );
    assert!(r.body.is_empty());

    let r = s.post_with(Some("text/plain"), "/", b"insert into t values (1), (2)");
    assert_eq!((r.status, r.text().as_str()), (204, ""));
    let r = s.post_with(Some("text/plain"), "/", b"begin; commit");
    assert_eq!((r.status, r.text().as_str()), (204, ""));
    s.expect("select count(*) from t", 200, "[2]");
    s.stop();
}

#[test]
fn errors_return_400_with_only_msg() {
    let dir = TestDir::new("http-400");
    let mut s = Server::start(&dir.repo(), &[]);
    for sql in [
        "selec 1",
        "select nope",
        "select 1 from",
        "select * from missing_table",
        "select 1 +",
        "create table",
        "select error('boom')",
    ] {
        let r = s.post_with(Some("text/plain"), "/", sql.as_bytes());
        assert_eq!(r.status, 400, "{sql}: {}", r.text());
        assert!(
            r.status_line.starts_with("HTTP/1.1 400 "),
            "{}",
            r.status_line
        );
        assert_eq!(r.header("Content-Type"), Some("application/json"), "{sql}");
        assert_error_shape(&r.text());
    }
    // Exact texts from the spec.
    s.expect_error("select nope", "<nope> column not found");
    s.expect_error(
        "select * from missing_table",
        "<public.missing_table> relation not found",
    );
    s.expect_error("select error('boom')", "boom");
    // `2-1` lexes as `2` `-1`: two adjacent operands (spec §2.1).
    s.expect_error("select 2-1", "unexpected token at the end of statement");
    s.expect("select 2 - 1", 200, "[1]");
    s.stop();
}

#[test]
fn non_post_methods_get_403_and_connection_closed() {
    let dir = TestDir::new("http-403");
    let mut s = Server::start(&dir.repo(), &[]);
    for method in ["GET", "PUT", "DELETE"] {
        let mut c = s.conn();
        let r = c
            .request(
                &Request::new(method, "/")
                    .content_type("text/plain")
                    .body(b"select 1"),
            )
            .unwrap_or_else(|e| panic!("{method}: no response: {e}"));
        assert_eq!(r.status, 403, "{method}: {}", r.text());
        assert!(
            r.status_line.starts_with("HTTP/1.1 403 "),
            "{}",
            r.status_line
        );
        assert!(
            r.body.is_empty(),
            "{method}: 403 must have no body: {:?}",
            r.text()
        );
        assert!(
            c.is_closed_by_peer(Duration::from_secs(5)),
            "{method}: connection must be closed after 403"
        );
    }
    // A plain GET without any headers. The client keeps its sending side open: one that
    // half-closes has gone away, and its request is dropped unanswered (docs/http-api.md).
    let mut raw = amelie_testclient::raw::RawConn::local(s.port).expect("connect");
    raw.send(b"GET / HTTP/1.1\r\n\r\n").expect("send");
    let got = raw.read_to_close(Duration::from_secs(5));
    assert!(
        got.text().starts_with("HTTP/1.1 403") && got.closed,
        "raw GET: {:?}",
        got.text()
    );
    s.expect("select 1", 200, "[1]");
    s.stop();
}

#[test]
fn content_type_routing() {
    let dir = TestDir::new("http-ctype");
    let mut s = Server::start(&dir.repo(), &[]);

    let r = s.post_with(None, "/", b"select 1");
    assert_eq!(
        (r.status, r.text()),
        (400, error_body("Content-Type is missing"))
    );
    assert_eq!(r.header("Content-Type"), Some("application/json"));

    // Exact, case-sensitive, no parameters.
    for ct in [
        "text/plain; charset=utf-8",
        "Text/Plain",
        "application/xml",
        "text/html",
    ] {
        let r = s.post_with(Some(ct), "/", b"select 1");
        assert_eq!(
            (r.status, r.text()),
            (400, error_body("unsupported API operation")),
            "Content-Type {ct:?}"
        );
    }

    // SQL only on `/`.
    for path in ["/foo", "/public", "/public/t"] {
        let r = s.post_with(Some("text/plain"), path, b"select 1");
        assert_eq!(
            (r.status, r.text()),
            (400, error_body("unsupported API operation")),
            "POST {path}"
        );
    }
    s.expect("select 1", 200, "[1]");
    s.stop();
}

#[test]
fn limit_recv_is_enforced() {
    let dir = TestDir::new("http-limit");
    let mut s = Server::start(&dir.repo(), &["--limit_recv=1000"]);

    // Under the limit: a padded `select 1` works.
    let mut small = b"select 1".to_vec();
    small.resize(500, b' ');
    let r = s.post_with(Some("text/plain"), "/", &small);
    assert_eq!((r.status, r.text().as_str()), (200, "[1]"));

    // Over the limit.
    let mut big = b"select 1".to_vec();
    big.resize(2000, b' ');
    let r = post_large(s.port, "text/plain", big);
    assert_eq!(
        (r.status, r.text()),
        (400, error_body("http request limit reached"))
    );

    // `Content-Length >= limit_recv` is already too much (spec §1.1 / §1.7).
    let mut edge = b"select 1".to_vec();
    edge.resize(1000, b' ');
    let r = post_large(s.port, "text/plain", edge);
    assert_eq!(
        (r.status, r.text()),
        (400, error_body("http request limit reached"))
    );

    s.expect("select 1", 200, "[1]");
    s.assert_running();
    s.stop();
}

#[test]
fn huge_body_with_default_limit() {
    let dir = TestDir::new("http-huge");
    let mut s = Server::start(&dir.repo(), &[]);
    // Default limit_recv is 1 MiB; send 3 MiB.
    let mut big = b"select 1".to_vec();
    big.resize(3 << 20, b' ');
    let r = post_large(s.port, "text/plain", big);
    assert_eq!(
        (r.status, r.text()),
        (400, error_body("http request limit reached"))
    );
    s.expect("select 1", 200, "[1]");
    s.stop();
}

#[test]
fn invalid_utf8_and_unterminated_strings_are_400() {
    let dir = TestDir::new("http-utf8");
    let mut s = Server::start(&dir.repo(), &[]);
    for body in [
        &b"select '\xff\xfe\xfd'"[..],
        &b"\xc3\x28"[..],
        &b"select 1 \x80"[..],
    ] {
        let r = s.post_with(Some("text/plain"), "/", body);
        assert_eq!(r.status, 400, "body {body:?}: {}", r.text());
        assert_error_shape(&r.text());
    }
    s.expect_error("select 'abc", "unterminated string");
    s.expect_error("select \"abc", "unterminated string");
    s.expect_error("select 'abc\\'", "unterminated string");
    s.expect("select 'abc'", 200, "[\"abc\"]");
    s.expect("select \"abc\"", 200, "[\"abc\"]");
    s.assert_running();
    s.stop();
}

#[test]
fn malformed_http_does_not_kill_the_server() {
    let dir = TestDir::new("http-garbage");
    let mut s = Server::start(&dir.repo(), &[]);
    let long_header = {
        let mut v = b"POST / HTTP/1.1\r\nX-Long: ".to_vec();
        v.extend(std::iter::repeat_n(b'a', 16 * 1024));
        v.extend_from_slice(b"\r\n\r\n");
        v
    };
    let no_end = {
        let mut v = b"POST / HTTP/1.1\r\nContent-Type: text/plain\r\n".to_vec();
        v.extend(std::iter::repeat_n(b'x', 4096));
        v
    };
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        // (name, bytes, must not be answered with a 2xx)
        ("garbage request line", b"GARBAGE\r\n\r\n".to_vec(), true),
        ("binary", b"\x00\x01\x02\xff\xfe\r\n\r\n".to_vec(), true),
        ("only CRLFs", b"\r\n\r\n\r\n\r\n".to_vec(), true),
        ("no version", b"POST /\r\n\r\n".to_vec(), true),
        ("bad version", b"POST / HTTP/9.9\r\nContent-Type: text/plain\r\nContent-Length: 8\r\n\r\nselect 1".to_vec(), false),
        ("header without colon", b"POST / HTTP/1.1\r\nContent-Type text/plain\r\n\r\n".to_vec(), true),
        ("non-numeric length", b"POST / HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: abc\r\n\r\nselect 1".to_vec(), false),
        ("negative length", b"POST / HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: -5\r\n\r\n".to_vec(), false),
        ("huge length", b"POST / HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 99999999999999999999999\r\n\r\n".to_vec(), true),
        ("truncated body", b"POST / HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nselect".to_vec(), true),
        ("truncated head", b"POST / HTTP/1.1\r\nContent-Ty".to_vec(), true),
        ("long header", long_header, false),
        ("unterminated header block", no_end, true),
        ("chunked", b"POST / HTTP/1.1\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nselec\r\n0\r\n\r\n".to_vec(), false),
    ];
    for (name, bytes, no_success) in &cases {
        let raw = s.send_raw(bytes, Duration::from_secs(3));
        let text = String::from_utf8_lossy(&raw);
        if *no_success {
            assert!(
                !text.starts_with("HTTP/1.1 2"),
                "{name}: malformed request answered with success: {text:?}"
            );
        }
        s.assert_running();
    }
    // A connection that sends nothing at all.
    drop(s.conn());
    // The server still answers normal requests on a new connection.
    s.expect("select 1", 200, "[1]");
    s.stop();
}

#[test]
fn keep_alive_serves_many_requests_on_one_connection() {
    let dir = TestDir::new("http-keepalive");
    let mut s = Server::start(&dir.repo(), &[]);
    let mut c = s.conn();
    assert_eq!(c.sql("select 1").unwrap(), (200, "[1]".to_string()));
    assert_eq!(
        c.sql("create table t (id int primary key)").unwrap(),
        (204, String::new())
    );
    assert_eq!(
        c.sql("insert into t values (1)").unwrap(),
        (204, String::new())
    );
    // An error does not close the connection.
    let (st, body) = c.sql("select nope").unwrap();
    assert_eq!(st, 400);
    assert_error_shape(&body);
    assert_eq!(
        c.sql("select count(*) from t").unwrap(),
        (200, "[1]".to_string())
    );
    // A wrong Content-Type is answered on the same connection, too.
    let r = c
        .request(&Request::post("/").content_type("text/csv-nope").body(b"x"))
        .unwrap();
    assert_eq!(r.status, 400);
    for i in 0..20 {
        assert_eq!(
            c.sql(&format!("select {i}")).unwrap(),
            (200, format!("[{i}]"))
        );
    }
    drop(c);
    s.stop();
}

#[test]
fn sigint_stops_cleanly() {
    let dir = TestDir::new("http-sigint");
    let mut s = Server::start(&dir.repo(), &[]);
    s.expect("select 1", 200, "[1]");
    s.stop_sigint();
}
