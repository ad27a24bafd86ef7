//! End-to-end tests: a real server on 127.0.0.1:0 with a fake backend, run on its own tokio
//! runtime; the tests talk to it with the blocking client of `amelie-testclient` (and its raw
//! socket helper for malformed bytes).

use std::collections::HashMap;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use amelie_http::{Backend, Error, HttpStats, ServerConfig, Session};
use amelie_testclient::raw::{self, RawConn};
use amelie_testclient::{Client, Request, Response};
use tokio::runtime::Runtime;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq)]
struct ImportCall {
    session: u64,
    schema: String,
    table: String,
    content_type: String,
    query: Option<String>,
    body: String,
}

#[derive(Default)]
struct Fake {
    calls: Mutex<HashMap<u64, u64>>,
    imports: Mutex<Vec<ImportCall>>,
}

impl Backend for Fake {
    async fn execute(&self, session: &mut Session, sql: String) -> Result<Option<String>, Error> {
        let n = {
            let mut calls = self.calls.lock().unwrap();
            let n = calls.entry(session.id).or_default();
            *n += 1;
            *n
        };
        match sql.as_str() {
            "err" => Err(Error::new("bad \"thing\" \\ here\nline\ttab")),
            "none" => Ok(None),
            "count" => Ok(Some(format!("[{}, {}]", session.id, n))),
            "tz" => Ok(Some(format!("{:?}", session.timezone))),
            "sleep" => {
                tokio::time::sleep(Duration::from_millis(300)).await;
                Ok(Some("\"slept\"".into()))
            }
            _ if sql.starts_with("set tz ") => {
                session.timezone = Some(sql["set tz ".len()..].to_string());
                Ok(None)
            }
            _ => Ok(Some(sql)),
        }
    }

    async fn import(
        &self,
        session: &mut Session,
        schema: &str,
        table: &str,
        content_type: &str,
        query: Option<&str>,
        body: String,
    ) -> Result<(), Error> {
        if table == "missing" {
            return Err(Error::new(format!("table '{table}': not exists")));
        }
        self.imports.lock().unwrap().push(ImportCall {
            session: session.id,
            schema: schema.into(),
            table: table.into(),
            content_type: content_type.into(),
            query: query.map(str::to_string),
            body,
        });
        Ok(())
    }
}

/// A backend that keeps the default `import`.
struct SqlOnly;

impl Backend for SqlOnly {
    async fn execute(&self, _session: &mut Session, sql: String) -> Result<Option<String>, Error> {
        Ok(Some(sql))
    }
}

struct Server {
    addr: SocketAddr,
    rt: Option<Runtime>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    limit: Arc<AtomicU64>,
    stats: Arc<HttpStats>,
}

/// The runtime a test server runs on (the test itself blocks on sockets).
fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

impl Server {
    fn start<B: Backend>(backend: Arc<B>) -> Server {
        Self::start_with(backend, |_| {})
    }

    fn start_with<B: Backend>(backend: Arc<B>, tune: impl FnOnce(&mut ServerConfig)) -> Server {
        let mut config = ServerConfig::new(vec!["127.0.0.1:0".parse().unwrap()]);
        tune(&mut config);
        let limit = Arc::clone(&config.limit_recv);
        let stats = Arc::clone(&config.stats);
        let rt = runtime();
        let listeners = rt.block_on(amelie_http::bind(config)).unwrap();
        let addrs = listeners.local_addrs();
        assert_eq!(addrs.len(), 1);
        assert_ne!(addrs[0].port(), 0);
        let (tx, rx) = oneshot::channel::<()>();
        let task = rt.spawn(listeners.serve(backend, async {
            let _ = rx.await;
        }));
        Server {
            addr: addrs[0],
            rt: Some(rt),
            stop: Some(tx),
            task: Some(task),
            limit,
            stats,
        }
    }

    fn connect(&self) -> Client {
        connect(self.addr)
    }

    fn raw(&self) -> RawConn {
        RawConn::connect(self.addr).unwrap()
    }

    /// Signal shutdown and wait for `serve` to return.
    fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        let task = self.task.take().unwrap();
        self.rt
            .take()
            .unwrap()
            .block_on(async { tokio::time::timeout(Duration::from_secs(10), task).await })
            .expect("server did not shut down")
            .unwrap()
            .unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // A failed test still stops its server.
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

fn connect(addr: SocketAddr) -> Client {
    Client::connect_timeout(addr, WAIT).unwrap()
}

/// `POST url` with an optional Content-Type.
fn post(c: &mut Client, content_type: Option<&str>, url: &str, body: &[u8]) -> Response {
    let mut request = Request::post(url).body(body);
    if let Some(ct) = content_type {
        request = request.content_type(ct);
    }
    c.request(&request).unwrap()
}

fn sql(c: &mut Client, sql: &str) -> Response {
    post(c, Some("text/plain"), "/", sql.as_bytes())
}

/// Everything still to come on the connection; the server must close it promptly.
fn until_closed(c: &mut Client) -> String {
    let d = c.read_to_close(WAIT);
    assert!(d.closed, "connection was not closed: {:?}", d.text());
    d.text()
}

/// The same for a raw connection.
fn raw_until_closed(c: &mut RawConn) -> String {
    let d = c.read_to_close(WAIT);
    assert!(d.closed, "connection was not closed: {:?}", d.text());
    d.text()
}

fn assert_error(resp: &Response, msg: &str) {
    assert_eq!(resp.status, 400, "{resp:?}");
    assert_eq!(resp.header("content-type"), Some("application/json"));
    assert_eq!(
        resp.text(),
        amelie_http::error_body(msg),
        "unexpected error body"
    );
}

#[test]
fn ok_reply_and_headers() {
    let server = Server::start(Arc::new(Fake::default()));
    let mut c = server.connect();
    let r = sql(&mut c, "[1, 2, 3]");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "[1, 2, 3]");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("content-length"), Some("9"));
    let r = post(&mut c, Some("application/sql"), "/", b"select");
    assert_eq!((r.status, r.text().as_str()), (200, "select"));
    drop(c);
    server.stop();
}

/// Sends `request`, reads the whole reply, then half-closes and checks that the server closes
/// without sending more. (Half-closing before the reply is in would be a client that has gone
/// away, whose request may be dropped unanswered: decisions.md section 12.)
fn raw_exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut c = raw::RawConn::connect(addr).unwrap();
    c.send(request).unwrap();
    let reply = c.read(&raw::Wait {
        quiet: Some(Duration::from_millis(50)),
        ..raw::Wait::close(WAIT)
    });
    assert!(!reply.closed, "server closed before its reply was read");
    c.half_close().unwrap();
    let rest = c.read_to_close(WAIT);
    assert!(rest.closed, "server did not close");
    assert!(
        rest.bytes.is_empty(),
        "more bytes after the reply: {:?}",
        rest.text()
    );
    String::from_utf8(reply.bytes).unwrap()
}

#[test]
fn exact_wire_format() {
    let server = Server::start(Arc::new(Fake::default()));
    let post = |body: &str| {
        format!(
            "POST / HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    assert_eq!(
        raw_exchange(server.addr, post("[1]").as_bytes()),
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 3\r\n\r\n[1]"
    );
    assert_eq!(
        raw_exchange(server.addr, post("none").as_bytes()),
        "HTTP/1.1 204 No Content\r\n\r\n"
    );
    assert_eq!(
        raw_exchange(server.addr, post("err").as_bytes()),
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 43\r\n\r\n{\"msg\": \"bad \\\"thing\\\" \\\\ here\\nline\\ttab\"}"
    );
    // The 403 closes by itself. (Not half-closed like the others: with the server on its own
    // threads, a half-close that reaches it before the 403 is written can drop the reply.)
    let mut c = server.raw();
    c.send(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    assert_eq!(
        raw_until_closed(&mut c),
        "HTTP/1.1 403 Forbidden\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
    );
    server.stop();
}

#[test]
fn no_content() {
    let server = Server::start(Arc::new(Fake::default()));
    let mut c = server.connect();
    let r = sql(&mut c, "none");
    assert_eq!(r.status, 204);
    assert_eq!(r.text(), "");
    assert_eq!(r.header("content-length"), None);
    assert_eq!(r.header("content-type"), None);
    // The connection is still usable.
    assert_eq!(sql(&mut c, "x").text(), "x");
    drop(c);
    server.stop();
}

#[test]
fn error_reply_is_escaped_json() {
    let server = Server::start(Arc::new(Fake::default()));
    let mut c = server.connect();
    let r = sql(&mut c, "err");
    assert_eq!(r.status, 400);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.text(), r#"{"msg": "bad \"thing\" \\ here\nline\ttab"}"#);
    assert_eq!(
        r.header("content-length"),
        Some(r.text().len().to_string().as_str())
    );
    // Errors keep the connection open.
    assert_eq!(sql(&mut c, "y").text(), "y");
    drop(c);
    server.stop();
}

#[test]
fn non_post_is_forbidden_and_closed() {
    let server = Server::start(Arc::new(Fake::default()));
    for method in ["GET", "PUT", "DELETE", "HEAD", "OPTIONS"] {
        let mut c = server.connect();
        c.send_bytes(
            format!("{method} / HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
        let r = c.read_response().unwrap();
        assert_eq!(r.status, 403, "{method}");
        assert_eq!(r.text(), "");
        until_closed(&mut c);
    }
    server.stop();
}

#[test]
fn content_type_rules() {
    let server = Server::start(Arc::new(Fake::default()));
    let mut c = server.connect();
    assert_error(
        &post(&mut c, None, "/", b"select 1"),
        "Content-Type is missing",
    );
    for ct in [
        "text/plain; charset=utf-8",
        "Text/Plain",
        "TEXT/PLAIN",
        "application/octet-stream",
        "text/html",
        "",
    ] {
        let r = post(&mut c, Some(ct), "/", b"select 1");
        assert_error(&r, "unsupported API operation");
    }
    // SQL endpoint URL must be exactly "/".
    for url in ["/x", "/?a=1", "//", "/public/t"] {
        let r = post(&mut c, Some("text/plain"), url, b"select 1");
        assert_error(&r, "unsupported API operation");
    }
    // Still alive after all those errors.
    assert_eq!(sql(&mut c, "ok").text(), "ok");
    drop(c);
    server.stop();
}

#[test]
fn import_routing() {
    let backend = Arc::new(Fake::default());
    let server = Server::start(Arc::clone(&backend));
    let mut c = server.connect();
    for ct in ["text/csv", "application/jsonl", "application/json"] {
        for url in ["/", "/public", "/public/", "//t", "/a/b/c", "/a/b/"] {
            let r = post(&mut c, Some(ct), url, b"[1]");
            assert_error(&r, "unsupported URI path");
        }
    }
    let r = post(&mut c, Some("text/csv"), "/public/t?columns=a,b", b"1, 2");
    assert_eq!(r.status, 204, "{r:?}");
    let r = post(&mut c, Some("application/json"), "/s/u", b"[[1]]");
    assert_eq!(r.status, 204, "{r:?}");
    let r = post(&mut c, Some("application/jsonl"), "/s/missing", b"[1]");
    assert_error(&r, "table 'missing': not exists");
    let imports = backend.imports.lock().unwrap().clone();
    assert_eq!(
        imports,
        vec![
            ImportCall {
                session: imports[0].session,
                schema: "public".into(),
                table: "t".into(),
                content_type: "text/csv".into(),
                query: Some("columns=a,b".into()),
                body: "1, 2".into(),
            },
            ImportCall {
                session: imports[0].session,
                schema: "s".into(),
                table: "u".into(),
                content_type: "application/json".into(),
                query: None,
                body: "[[1]]".into(),
            },
        ]
    );
    drop(c);
    server.stop();
}

#[test]
fn default_import_is_unsupported() {
    let server = Server::start(Arc::new(SqlOnly));
    let mut c = server.connect();
    let r = post(&mut c, Some("text/csv"), "/public/t", b"1");
    assert_error(&r, "unsupported API operation");
    drop(c);
    server.stop();
}

#[test]
fn limit_recv_by_content_length() {
    let server = Server::start_with(Arc::new(Fake::default()), |c| {
        c.limit_recv.store(100, Ordering::Relaxed)
    });
    // Announce a huge body but never send it: the reply must come promptly.
    let mut c = server.connect();
    c.send_bytes(
        b"POST / HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 1000000000\r\n\r\n",
    )
    .unwrap();
    let r = c.read_response().unwrap();
    assert_error(&r, "http request limit reached");
    until_closed(&mut c);

    // `>=`: exactly the limit is rejected, one less is fine.
    let mut c = server.connect();
    let r = sql(&mut c, &"a".repeat(99));
    assert_eq!(r.status, 200);
    let r = sql(&mut c, &"a".repeat(100));
    assert_error(&r, "http request limit reached");
    until_closed(&mut c);

    // The limit is read at every request.
    server.limit.store(1000, Ordering::Relaxed);
    let mut c = server.connect();
    assert_eq!(sql(&mut c, &"a".repeat(500)).status, 200);
    drop(c);
    server.stop();
}

#[test]
fn limit_recv_big_body_still_gets_reply() {
    let server = Server::start_with(Arc::new(Fake::default()), |c| {
        c.limit_recv.store(1024, Ordering::Relaxed)
    });
    // The client sends the whole (too big) body before reading and must still get the 400
    // (the server closes lingering; note that Linux loopback delivers it even without).
    let mut c = server.raw();
    let body = vec![b'x'; 4 * 1024 * 1024];
    let mut req = format!(
        "POST / HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(&body);
    let _ = c.send(&req);
    let text = c.read_to_close(WAIT).text();
    assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
    assert!(
        text.ends_with(r#"{"msg": "http request limit reached"}"#),
        "{text}"
    );
    drop(c);
    server.stop();
}

#[test]
fn limit_recv_chunked() {
    let server = Server::start_with(Arc::new(Fake::default()), |c| {
        c.limit_recv.store(100, Ordering::Relaxed)
    });
    // A small chunked body is accepted.
    let mut c = server.connect();
    c.send_bytes(b"POST / HTTP/1.1\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap();
    let r = c.read_response().unwrap();
    assert_eq!((r.status, r.text().as_str()), (200, "abcde"));
    // A chunked body growing past the limit is rejected without reading it all.
    c.send_bytes(
        b"POST / HTTP/1.1\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n",
    )
    .unwrap();
    let chunk = format!("40\r\n{}\r\n", "z".repeat(64));
    c.send_bytes(chunk.as_bytes()).unwrap();
    c.send_bytes(chunk.as_bytes()).unwrap();
    let r = c.read_response().unwrap();
    assert_error(&r, "http request limit reached");
    until_closed(&mut c);
    server.stop();
}

#[test]
fn invalid_utf8() {
    let server = Server::start(Arc::new(Fake::default()));
    let mut c = server.connect();
    let r = post(&mut c, Some("text/plain"), "/", b"select '\xff\xfe'");
    assert_error(&r, "invalid UTF-8 in request body");
    let r = post(&mut c, Some("text/csv"), "/a/b", b"\xc3");
    assert_error(&r, "invalid UTF-8 in request body");
    assert_eq!(sql(&mut c, "é").text(), "é");
    drop(c);
    server.stop();
}

/// The whole of a reply to a request that broke the protocol: a 400 with `{"msg": <msg>}`
/// that closes the connection.
fn closing_error(msg: &str) -> String {
    let body = amelie_http::error_body(msg);
    format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn garbage_gets_a_json_400_and_a_close() {
    let server = Server::start(Arc::new(Fake::default()));
    let malformed = closing_error(amelie_http::MSG_MALFORMED);
    for garbage in [
        &b"\x00\x01\x02garbage\r\n\r\n"[..],
        b"hello world\r\n\r\n",
        b"POST / HTTP/9.9\r\n\r\n",
        b"P\x00ST / HTTP/1.1\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"POST / HTTP/1.1\r\nbad header line\r\n\r\n",
    ] {
        let mut c = server.raw();
        c.send(garbage).unwrap();
        assert_eq!(raw_until_closed(&mut c), malformed, "{garbage:?}");
    }
    // after a good request on the same connection, and with its reply still to be read
    let mut c = server.raw();
    c.send(b"POST / HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhiGET\x00\r\n\r\n").unwrap();
    let text = raw_until_closed(&mut c);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.ends_with(&malformed), "{text}");
    // a broken chunk in the body: the handler answers
    let mut c = server.connect();
    c.send_bytes(
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\nzz\r\n",
    )
    .unwrap();
    let r = c.read_response().unwrap();
    assert_error(&r, amelie_http::MSG_MALFORMED_BODY);
    until_closed(&mut c);
    // a huge header block: never unbounded buffering
    let mut c = server.raw();
    let big = format!(
        "POST / HTTP/1.1\r\nX-Big: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let _ = c.send(big.as_bytes());
    assert_eq!(
        raw_until_closed(&mut c),
        closing_error(amelie_http::MSG_HEADER_LIMIT)
    );
    // The server still works.
    let mut c = server.connect();
    assert_eq!(sql(&mut c, "alive").text(), "alive");
    drop(c);
    server.stop();
}

#[test]
fn header_timeout_but_idle_keepalive_survives() {
    let server = Server::start_with(Arc::new(Fake::default()), |c| {
        c.header_read_timeout = Duration::from_millis(200)
    });
    // Slowloris: a partial head is dropped after the timeout.
    let mut slow = server.raw();
    slow.send(b"POST / HTTP/1.1\r\nContent-").unwrap();
    let started = std::time::Instant::now();
    let reply = raw_until_closed(&mut slow);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(reply, closing_error(amelie_http::MSG_HEADER_TIMEOUT));

    // An idle keep-alive connection is not timed out.
    let mut c = server.connect();
    assert_eq!(sql(&mut c, "count").status, 200);
    std::thread::sleep(Duration::from_millis(600));
    let r = sql(&mut c, "count");
    assert_eq!(r.status, 200);
    assert!(r.text().ends_with(", 2]"), "{r:?}");
    drop(c);
    server.stop();
}

#[test]
fn a_body_that_stops_coming_gets_a_json_400() {
    let server = Server::start_with(Arc::new(Fake::default()), |c| {
        c.body_read_timeout = Duration::from_millis(200)
    });
    let mut slow = server.connect();
    slow.send_bytes(
        b"POST / HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nabc",
    )
    .unwrap();
    let started = std::time::Instant::now();
    let r = slow.read_response().unwrap();
    assert_error(&r, amelie_http::MSG_BODY_TIMEOUT);
    assert_eq!(r.header("connection"), Some("close"));
    until_closed(&mut slow);
    assert!(started.elapsed() < Duration::from_secs(3));
    server.stop();
}

/// Waits until `pool`'s reserved bytes satisfy `f`.
fn pool_reaches(pool: &amelie_common::governor::MemoryPool, f: impl Fn(usize) -> bool) {
    let deadline = std::time::Instant::now() + WAIT;
    while !f(pool.used()) {
        assert!(
            std::time::Instant::now() < deadline,
            "pool: {}",
            pool.used()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn request_bodies_are_reserved_from_the_memory_pool() {
    use amelie_common::governor::{MemoryPool, SERVER_MEMORY_LIMIT};
    const K: usize = 1024;
    let pool = Arc::new(MemoryPool::new(300 * K as u64));
    let p = Arc::clone(&pool);
    let server = Server::start_with(Arc::new(Fake::default()), move |c| c.memory_pool = Some(p));
    // a body on its way holds what it declared
    let mut slow = server.connect();
    let head = format!(
        "POST / HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
        250 * K
    );
    slow.send_bytes(head.as_bytes()).unwrap();
    slow.send_bytes(&[b'x'; 1000]).unwrap();
    pool_reaches(&pool, |used| used >= 250 * K);
    // so a second large one does not fit
    let mut c = server.connect();
    let big = "y".repeat(100 * K);
    assert_error(&sql(&mut c, &big), SERVER_MEMORY_LIMIT);
    until_closed(&mut c);
    // bodies up to BODY_FREE reserve nothing and still run
    let mut c = server.connect();
    let small = "s".repeat(amelie_http::BODY_FREE);
    assert_eq!(sql(&mut c, &small).text(), small);
    // once the first has run, the second fits, and everything is given back
    slow.send_bytes(&vec![b'x'; 250 * K - 1000]).unwrap();
    assert_eq!(slow.read_response().unwrap().status, 200);
    assert_eq!(sql(&mut c, &big).text(), big);
    pool_reaches(&pool, |used| used == 0);
    drop((slow, c));
    server.stop();
}

#[test]
fn keepalive_shares_session() {
    let server = Server::start(Arc::new(Fake::default()));
    let mut a = server.connect();
    let mut b = server.connect();
    let a1 = sql(&mut a, "count").text();
    let a2 = sql(&mut a, "count").text();
    let b1 = sql(&mut b, "count").text();
    let parse = |s: &str| -> (u64, u64) {
        let s = s.trim_matches(|c| c == '[' || c == ']');
        let (x, y) = s.split_once(", ").unwrap();
        (x.parse().unwrap(), y.parse().unwrap())
    };
    let (ida1, n1) = parse(&a1);
    let (ida2, n2) = parse(&a2);
    let (idb, nb) = parse(&b1);
    assert_eq!(ida1, ida2);
    assert_eq!((n1, n2), (1, 2));
    assert_ne!(ida1, idb);
    assert_eq!(nb, 1);

    // Session state set by one request is seen by the next one on the same connection only.
    assert_eq!(sql(&mut a, "set tz UTC").status, 204);
    assert_eq!(sql(&mut a, "tz").text(), "Some(\"UTC\")");
    assert_eq!(sql(&mut b, "tz").text(), "None");

    // Pipelined requests on one connection.
    a.send_bytes(b"POST / HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\np1POST / HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\np2").unwrap();
    assert_eq!(a.read_response().unwrap().text(), "p1");
    assert_eq!(a.read_response().unwrap().text(), "p2");
    drop((a, b));
    server.stop();
}

#[test]
fn stats_are_counted() {
    let server = Server::start(Arc::new(Fake::default()));
    let mut c = server.connect();
    assert_eq!(sql(&mut c, "abc").text(), "abc");
    assert_eq!(sql(&mut c, "abc").text(), "abc");
    assert_eq!(server.stats.connections(), 1);
    assert_eq!(server.stats.connections_total(), 1);
    assert_eq!(server.stats.requests(), 2);
    assert!(server.stats.recv_bytes() > 100);
    assert!(server.stats.sent_bytes() > 50);
    drop(c);
    let stats = Arc::clone(&server.stats);
    server.stop();
    assert_eq!(stats.connections(), 0);
}

#[test]
fn graceful_shutdown_finishes_inflight() {
    let server = Server::start(Arc::new(Fake::default()));
    let addr = server.addr;
    let mut busy = server.connect();
    let mut idle = server.connect();
    assert_eq!(sql(&mut idle, "x").status, 200);
    busy.send_bytes(
        b"POST / HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nsleep",
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let stopped = std::thread::spawn(move || server.stop());
    // The in-flight request still gets its reply, then the connection is closed.
    let r = busy.read_response().unwrap();
    assert_eq!((r.status, r.text().as_str()), (200, "\"slept\""));
    until_closed(&mut busy);
    until_closed(&mut idle);
    stopped.join().unwrap();
    // No longer accepting.
    assert!(TcpStream::connect(addr).is_err());
}

#[test]
fn shutdown_timeout_drops_slow_requests() {
    struct Stuck;
    impl Backend for Stuck {
        async fn execute(&self, _s: &mut Session, _sql: String) -> Result<Option<String>, Error> {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(None)
        }
    }
    let server = Server::start_with(Arc::new(Stuck), |c| {
        c.shutdown_timeout = Duration::from_millis(200)
    });
    let mut c = server.connect();
    c.send_bytes(b"POST / HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 1\r\n\r\nx")
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let started = std::time::Instant::now();
    server.stop();
    assert!(started.elapsed() < Duration::from_secs(3));
    until_closed(&mut c);
}

#[test]
fn serve_function_and_multiple_listeners() {
    // `serve` with a fixed, already free port.
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = probe.local_addr().unwrap();
    drop(probe);
    let config = ServerConfig::new(vec![addr]);
    let rt = runtime();
    let (tx, rx) = oneshot::channel::<()>();
    let task = rt.spawn(amelie_http::serve(
        Arc::new(Fake::default()),
        config,
        async {
            let _ = rx.await;
        },
    ));
    let mut c = loop {
        if let Ok(c) = Client::connect_timeout(addr, WAIT) {
            break c;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(sql(&mut c, "hi").text(), "hi");
    drop(c);
    tx.send(()).unwrap();
    rt.block_on(async { tokio::time::timeout(WAIT, task).await })
        .unwrap()
        .unwrap()
        .unwrap();

    // Two listeners on one server.
    let config = ServerConfig::new(vec![
        "127.0.0.1:0".parse().unwrap(),
        "127.0.0.1:0".parse().unwrap(),
    ]);
    let listeners = rt.block_on(amelie_http::bind(config)).unwrap();
    let addrs = listeners.local_addrs();
    assert_eq!(addrs.len(), 2);
    let (tx, rx) = oneshot::channel::<()>();
    let task = rt.spawn(listeners.serve(Arc::new(Fake::default()), async {
        let _ = rx.await;
    }));
    for addr in addrs {
        let mut c = connect(addr);
        assert_eq!(sql(&mut c, "both").text(), "both");
    }
    tx.send(()).unwrap();
    rt.block_on(async { tokio::time::timeout(WAIT, task).await })
        .unwrap()
        .unwrap()
        .unwrap();
}

/// Counts the backups held by sessions: one is made by `Start`, dropped with the session.
struct Held(Arc<AtomicU64>);

impl Drop for Held {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A backend serving backups of files in a directory.
struct Files {
    dir: std::path::PathBuf,
    held: Arc<AtomicU64>,
}

impl Backend for Files {
    async fn execute(&self, _session: &mut Session, sql: String) -> Result<Option<String>, Error> {
        Ok(Some(sql))
    }

    async fn backup(
        &self,
        session: &mut Session,
        request: amelie_http::BackupRequest<'_>,
    ) -> Result<amelie_http::BackupReply, Error> {
        use amelie_http::{BackupReply, BackupRequest};
        match request {
            BackupRequest::Start => {
                self.held.fetch_add(1, Ordering::SeqCst);
                session.service = Some(Box::new(Held(self.held.clone())));
                Ok(BackupReply::State("{\"files\": []}".into()))
            }
            BackupRequest::File { path, size } => {
                if session.service.is_none() {
                    return Err(Error::new("no backup"));
                }
                let file = std::fs::File::open(self.dir.join(path))
                    .map_err(|e| Error::io(e.to_string()))?;
                let len = file.metadata().unwrap().len();
                Ok(BackupReply::File {
                    file,
                    size: size.unwrap_or(len),
                })
            }
        }
    }
}

#[test]
fn backup_service_routing_and_files() {
    let dir = std::env::temp_dir().join(format!("amelie-http-files-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let big: Vec<u8> = (0..700_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.join("big"), &big).unwrap();
    std::fs::write(dir.join("empty"), b"").unwrap();
    let held = Arc::new(AtomicU64::new(0));
    let server = Server::start(Arc::new(Files {
        dir: dir.clone(),
        held: held.clone(),
    }));
    let service = |c: &mut Client, headers: &[(&str, &str)]| {
        let mut r = Request::post("/");
        for (n, v) in headers {
            r = r.header(n, v);
        }
        c.request(&r).unwrap()
    };
    let mut c = server.connect();
    // the header decides, not the content type; unknown services are refused
    assert_error(
        &service(&mut c, &[("Am-Service", "other")]),
        "unsupported Am-Service 'other'",
    );
    // repl: its headers are checked, then the backend decides (the default refuses)
    assert_error(
        &service(&mut c, &[("Am-Service", "repl")]),
        amelie_http::MSG_REPL_ID,
    );
    assert_error(
        &service(&mut c, &[("Am-Service", "repl"), ("Am-Id", "p")]),
        amelie_http::MSG_REPL_LSN,
    );
    assert_error(
        &service(
            &mut c,
            &[("Am-Service", "repl"), ("Am-Id", "p"), ("Am-Lsn", "x")],
        ),
        amelie_http::MSG_REPL_LSN,
    );
    let mut r = Request::post("/");
    for (n, v) in [("Am-Service", "repl"), ("Am-Id", "p"), ("Am-Lsn", "1")] {
        r = r.header(n, v);
    }
    r = r.content_type("text/plain").body(b"abc");
    assert_error(&c.request(&r).unwrap(), amelie_http::MSG_REPL_CONTENT_TYPE);
    assert_error(
        &service(
            &mut c,
            &[("Am-Service", "repl"), ("Am-Id", "p"), ("Am-Lsn", "1")],
        ),
        amelie_http::MSG_REPL_UNSUPPORTED,
    );
    let r = post(&mut c, Some("text/plain"), "/", b"select 1");
    assert_eq!(r.text(), "select 1");
    let mut r = Request::post("/a/b");
    r = r.header("Am-Service", "backup");
    assert_error(&c.request(&r).unwrap(), amelie_http::MSG_UNSUPPORTED);
    assert_error(
        &service(&mut c, &[("Am-Service", "backup"), ("Am-File", "big")]),
        "no backup",
    );
    let r = service(&mut c, &[("Am-Service", "backup")]);
    assert_eq!((r.status, r.text().as_str()), (200, "{\"files\": []}"));
    assert_eq!(held.load(Ordering::SeqCst), 1);
    assert_error(
        &service(
            &mut c,
            &[
                ("Am-Service", "backup"),
                ("Am-File", "big"),
                ("Am-File-Size", "-1"),
            ],
        ),
        amelie_http::MSG_FILE_SIZE,
    );
    // a whole file in several chunks, a prefix, an empty file
    let r = service(&mut c, &[("Am-Service", "backup"), ("Am-File", "big")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert_eq!(r.header("content-length"), Some("700000"));
    assert!(r.body == big, "the file differs");
    let r = service(
        &mut c,
        &[
            ("Am-Service", "backup"),
            ("Am-File", "big"),
            ("Am-File-Size", "1000"),
        ],
    );
    assert_eq!((r.status, r.body.as_slice()), (200, &big[..1000]));
    let r = service(&mut c, &[("Am-Service", "backup"), ("Am-File", "empty")]);
    assert_eq!((r.status, r.header("content-length")), (200, Some("0")));
    assert!(r.body.is_empty());
    // the session keeps the backup between requests; closing the connection drops it
    drop(c);
    let deadline = std::time::Instant::now() + WAIT;
    while held.load(Ordering::SeqCst) != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the session was not dropped"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // a file shorter than announced: the connection is cut, never a short body
    let mut c = server.connect();
    assert_eq!(service(&mut c, &[("Am-Service", "backup")]).status, 200);
    c.send(
        &Request::post("/")
            .header("Am-Service", "backup")
            .header("Am-File", "big")
            .header("Am-File-Size", "800000"),
    )
    .unwrap();
    let rest = c.read_to_close(WAIT);
    assert!(rest.closed);
    let text = rest.bytes;
    let head_end = text.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(String::from_utf8_lossy(&text[..head_end]).contains("content-length: 800000"));
    assert!(text.len() - head_end < 800_000);
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A replica's backend: primary `p` may send bodies up to 1 MiB, whatever `limit_recv` is;
/// `repl` answers with the body's length as the LSN.
struct Replica;

impl Backend for Replica {
    async fn execute(&self, _session: &mut Session, sql: String) -> Result<Option<String>, Error> {
        Ok(Some(sql))
    }

    fn repl_limit_recv(&self, primary: &str) -> Option<u64> {
        (primary == "p").then_some(1024 * 1024)
    }

    async fn repl(
        &self,
        _session: &mut Session,
        request: amelie_http::ReplRequest<'_>,
    ) -> Result<amelie_http::ReplReply, Error> {
        Ok(amelie_http::ReplReply {
            id: "r".into(),
            lsn: request.body.len() as u64,
        })
    }
}

#[test]
fn repl_bodies_of_the_subscribed_primary_pass_limit_recv() {
    let server = Server::start_with(Arc::new(Replica), |c| {
        c.limit_recv.store(1000, Ordering::Relaxed)
    });
    let body = vec![7u8; 200_000];
    let repl = |c: &mut Client, primary: &str, body: &[u8]| {
        let mut r = Request::post("/");
        for (n, v) in [("Am-Service", "repl"), ("Am-Id", primary), ("Am-Lsn", "1")] {
            r = r.header(n, v);
        }
        c.request(&r.content_type("application/octet-stream").body(body))
            .unwrap()
    };
    // the primary the backend names: past limit_recv, up to the backend's limit
    let mut c = server.connect();
    let r = repl(&mut c, "p", &body);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("am-lsn"), Some("200000"));
    // the connection stays usable, and the backend's limit holds in turn
    let r = repl(&mut c, "p", &vec![7u8; 1024 * 1024]);
    assert_error(&r, amelie_http::MSG_LIMIT);
    until_closed(&mut c);
    // any other primary, and any other request, are held to limit_recv
    let mut c = server.connect();
    assert_error(&repl(&mut c, "q", &body), amelie_http::MSG_LIMIT);
    until_closed(&mut c);
    let mut c = server.connect();
    assert_error(&sql(&mut c, &"a".repeat(2000)), amelie_http::MSG_LIMIT);
    until_closed(&mut c);
    server.stop();
}
