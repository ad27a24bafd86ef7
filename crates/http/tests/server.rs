//! End-to-end tests: a real server on 127.0.0.1:0 with a fake backend, raw TCP clients.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use amelie_http::{Backend, Error, HttpStats, ServerConfig, Session};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
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
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    limit: Arc<AtomicU64>,
    stats: Arc<HttpStats>,
}

impl Server {
    async fn start<B: Backend>(backend: Arc<B>) -> Server {
        Self::start_with(backend, |_| {}).await
    }

    async fn start_with<B: Backend>(
        backend: Arc<B>,
        tune: impl FnOnce(&mut ServerConfig),
    ) -> Server {
        let mut config = ServerConfig::new(vec!["127.0.0.1:0".parse().unwrap()]);
        tune(&mut config);
        let limit = Arc::clone(&config.limit_recv);
        let stats = Arc::clone(&config.stats);
        let listeners = amelie_http::bind(config).await.unwrap();
        let addrs = listeners.local_addrs();
        assert_eq!(addrs.len(), 1);
        assert_ne!(addrs[0].port(), 0);
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(listeners.serve(backend, async {
            let _ = rx.await;
        }));
        Server {
            addr: addrs[0],
            stop: Some(tx),
            task: Some(task),
            limit,
            stats,
        }
    }

    async fn connect(&self) -> Client {
        Client::connect(self.addr).await
    }

    /// Signal shutdown and wait for `serve` to return.
    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        let task = self.task.take().unwrap();
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
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
    }
}

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Client {
        Client {
            stream: TcpStream::connect(addr).await.unwrap(),
            buf: Vec::new(),
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    async fn fill(&mut self) -> usize {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(WAIT, self.stream.read(&mut chunk))
            .await
            .expect("server did not answer in time")
            .unwrap_or(0);
        self.buf.extend_from_slice(&chunk[..n]);
        n
    }

    async fn response(&mut self) -> Resp {
        let head_end = loop {
            if let Some(pos) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break pos;
            }
            if self.fill().await == 0 {
                panic!(
                    "connection closed before a reply: {:?}",
                    String::from_utf8_lossy(&self.buf)
                );
            }
        };
        let head = String::from_utf8(self.buf[..head_end].to_vec()).unwrap();
        self.buf.drain(..head_end + 4);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap();
        let mut words = status_line.splitn(3, ' ');
        assert_eq!(words.next(), Some("HTTP/1.1"), "{status_line}");
        let status: u16 = words.next().unwrap().parse().unwrap();
        let headers: Vec<(String, String)> = lines
            .map(|l| {
                let (n, v) = l.split_once(": ").unwrap();
                (n.to_string(), v.to_string())
            })
            .collect();
        let len = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.parse::<usize>().unwrap())
            .unwrap_or(0);
        while self.buf.len() < len {
            assert!(self.fill().await > 0, "connection closed inside a body");
        }
        let body = String::from_utf8(self.buf.drain(..len).collect()).unwrap();
        Resp {
            status,
            headers,
            body,
        }
    }

    async fn request(&mut self, content_type: Option<&str>, url: &str, body: &[u8]) -> Resp {
        let mut req = format!("POST {url} HTTP/1.1\r\nHost: x\r\n");
        if let Some(ct) = content_type {
            req.push_str(&format!("Content-Type: {ct}\r\n"));
        }
        req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(body);
        self.send(&bytes).await;
        self.response().await
    }

    async fn sql(&mut self, sql: &str) -> Resp {
        self.request(Some("text/plain"), "/", sql.as_bytes()).await
    }

    /// The server closes the connection (EOF or reset) promptly.
    async fn expect_closed(&mut self) {
        let mut chunk = [0u8; 1024];
        loop {
            let n = tokio::time::timeout(WAIT, self.stream.read(&mut chunk))
                .await
                .expect("connection was not closed");
            match n {
                Ok(0) | Err(_) => return,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

fn assert_error(resp: &Resp, msg: &str) {
    assert_eq!(resp.status, 400, "{resp:?}");
    assert_eq!(resp.header("content-type"), Some("application/json"));
    assert_eq!(
        resp.body,
        amelie_http::error_body(msg),
        "unexpected error body"
    );
}

#[tokio::test]
async fn ok_reply_and_headers() {
    let server = Server::start(Arc::new(Fake::default())).await;
    let mut c = server.connect().await;
    let r = c.sql("[1, 2, 3]").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, "[1, 2, 3]");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("content-length"), Some("9"));
    let r = c.request(Some("application/sql"), "/", b"select").await;
    assert_eq!((r.status, r.body.as_str()), (200, "select"));
    drop(c);
    server.stop().await;
}

/// Read everything until the server closes the connection.
async fn raw_exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    stream.shutdown().await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut out))
        .await
        .expect("server did not close")
        .unwrap();
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn exact_wire_format() {
    let server = Server::start(Arc::new(Fake::default())).await;
    let post = |body: &str| {
        format!(
            "POST / HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    assert_eq!(
        raw_exchange(server.addr, post("[1]").as_bytes()).await,
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 3\r\n\r\n[1]"
    );
    assert_eq!(
        raw_exchange(server.addr, post("none").as_bytes()).await,
        "HTTP/1.1 204 No Content\r\n\r\n"
    );
    assert_eq!(
        raw_exchange(server.addr, post("err").as_bytes()).await,
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 43\r\n\r\n{\"msg\": \"bad \\\"thing\\\" \\\\ here\\nline\\ttab\"}"
    );
    assert_eq!(
        raw_exchange(server.addr, b"GET / HTTP/1.1\r\n\r\n").await,
        "HTTP/1.1 403 Forbidden\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
    );
    server.stop().await;
}

#[tokio::test]
async fn no_content() {
    let server = Server::start(Arc::new(Fake::default())).await;
    let mut c = server.connect().await;
    let r = c.sql("none").await;
    assert_eq!(r.status, 204);
    assert_eq!(r.body, "");
    assert_eq!(r.header("content-length"), None);
    assert_eq!(r.header("content-type"), None);
    // The connection is still usable.
    assert_eq!(c.sql("x").await.body, "x");
    drop(c);
    server.stop().await;
}

#[tokio::test]
async fn error_reply_is_escaped_json() {
    let server = Server::start(Arc::new(Fake::default())).await;
    let mut c = server.connect().await;
    let r = c.sql("err").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.body, r#"{"msg": "bad \"thing\" \\ here\nline\ttab"}"#);
    assert_eq!(
        r.header("content-length"),
        Some(r.body.len().to_string().as_str())
    );
    // Errors keep the connection open.
    assert_eq!(c.sql("y").await.body, "y");
    drop(c);
    server.stop().await;
}

#[tokio::test]
async fn non_post_is_forbidden_and_closed() {
    let server = Server::start(Arc::new(Fake::default())).await;
    for method in ["GET", "PUT", "DELETE", "HEAD", "OPTIONS"] {
        let mut c = server.connect().await;
        c.send(
            format!("{method} / HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n\r\n")
                .as_bytes(),
        )
        .await;
        let r = c.response().await;
        assert_eq!(r.status, 403, "{method}");
        assert_eq!(r.body, "");
        c.expect_closed().await;
    }
    server.stop().await;
}

#[tokio::test]
async fn content_type_rules() {
    let server = Server::start(Arc::new(Fake::default())).await;
    let mut c = server.connect().await;
    assert_error(
        &c.request(None, "/", b"select 1").await,
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
        let r = c.request(Some(ct), "/", b"select 1").await;
        assert_error(&r, "unsupported API operation");
    }
    // SQL endpoint URL must be exactly "/".
    for url in ["/x", "/?a=1", "//", "/public/t"] {
        let r = c.request(Some("text/plain"), url, b"select 1").await;
        assert_error(&r, "unsupported API operation");
    }
    // Still alive after all those errors.
    assert_eq!(c.sql("ok").await.body, "ok");
    drop(c);
    server.stop().await;
}

#[tokio::test]
async fn import_routing() {
    let backend = Arc::new(Fake::default());
    let server = Server::start(Arc::clone(&backend)).await;
    let mut c = server.connect().await;
    for ct in ["text/csv", "application/jsonl", "application/json"] {
        for url in ["/", "/public", "/public/", "//t", "/a/b/c", "/a/b/"] {
            let r = c.request(Some(ct), url, b"[1]").await;
            assert_error(&r, "unsupported URI path");
        }
    }
    let r = c
        .request(Some("text/csv"), "/public/t?columns=a,b", b"1, 2")
        .await;
    assert_eq!(r.status, 204, "{r:?}");
    let r = c.request(Some("application/json"), "/s/u", b"[[1]]").await;
    assert_eq!(r.status, 204, "{r:?}");
    let r = c
        .request(Some("application/jsonl"), "/s/missing", b"[1]")
        .await;
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
    server.stop().await;
}

#[tokio::test]
async fn default_import_is_unsupported() {
    let server = Server::start(Arc::new(SqlOnly)).await;
    let mut c = server.connect().await;
    let r = c.request(Some("text/csv"), "/public/t", b"1").await;
    assert_error(&r, "unsupported API operation");
    drop(c);
    server.stop().await;
}

#[tokio::test]
async fn limit_recv_by_content_length() {
    let server = Server::start_with(Arc::new(Fake::default()), |c| {
        c.limit_recv.store(100, Ordering::Relaxed)
    })
    .await;
    // Announce a huge body but never send it: the reply must come promptly.
    let mut c = server.connect().await;
    c.send(b"POST / HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 1000000000\r\n\r\n")
        .await;
    let r = c.response().await;
    assert_error(&r, "http request limit reached");
    c.expect_closed().await;

    // `>=`: exactly the limit is rejected, one less is fine.
    let mut c = server.connect().await;
    let r = c.sql(&"a".repeat(99)).await;
    assert_eq!(r.status, 200);
    let r = c.sql(&"a".repeat(100)).await;
    assert_error(&r, "http request limit reached");
    c.expect_closed().await;

    // The limit is read at every request.
    server.limit.store(1000, Ordering::Relaxed);
    let mut c = server.connect().await;
    assert_eq!(c.sql(&"a".repeat(500)).await.status, 200);
    drop(c);
    server.stop().await;
}

#[tokio::test]
async fn limit_recv_big_body_still_gets_reply() {
    let server = Server::start_with(Arc::new(Fake::default()), |c| {
        c.limit_recv.store(1024, Ordering::Relaxed)
    })
    .await;
    // The client sends the whole (too big) body before reading and must still get the 400
    // (the server closes lingering; note that Linux loopback delivers it even without).
    let mut c = server.connect().await;
    let body = vec![b'x'; 4 * 1024 * 1024];
    let mut req = format!(
        "POST / HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(&body);
    let _ = c.stream.write_all(&req).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(WAIT, c.stream.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
    assert!(
        text.ends_with(r#"{"msg": "http request limit reached"}"#),
        "{text}"
    );
    c.buf.clear();
    drop(c);
    server.stop().await;
}

#[tokio::test]
async fn limit_recv_chunked() {
    let server = Server::start_with(Arc::new(Fake::default()), |c| {
        c.limit_recv.store(100, Ordering::Relaxed)
    })
    .await;
    // A small chunked body is accepted.
    let mut c = server.connect().await;
    c.send(b"POST / HTTP/1.1\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
        .await;
    let r = c.response().await;
    assert_eq!((r.status, r.body.as_str()), (200, "abcde"));
    // A chunked body growing past the limit is rejected without reading it all.
    c.send(b"POST / HTTP/1.1\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n")
        .await;
    let chunk = format!("40\r\n{}\r\n", "z".repeat(64));
    c.send(chunk.as_bytes()).await;
    c.send(chunk.as_bytes()).await;
    let r = c.response().await;
    assert_error(&r, "http request limit reached");
    c.expect_closed().await;
    server.stop().await;
}

#[tokio::test]
async fn invalid_utf8() {
    let server = Server::start(Arc::new(Fake::default())).await;
    let mut c = server.connect().await;
    let r = c
        .request(Some("text/plain"), "/", b"select '\xff\xfe'")
        .await;
    assert_error(&r, "invalid UTF-8 in request body");
    let r = c.request(Some("text/csv"), "/a/b", b"\xc3").await;
    assert_error(&r, "invalid UTF-8 in request body");
    assert_eq!(c.sql("é").await.body, "é");
    drop(c);
    server.stop().await;
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

#[tokio::test]
async fn garbage_gets_a_json_400_and_a_close() {
    let server = Server::start(Arc::new(Fake::default())).await;
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
        let mut c = server.connect().await;
        c.send(garbage).await;
        c.expect_closed().await;
        assert_eq!(String::from_utf8_lossy(&c.buf), malformed, "{garbage:?}");
    }
    // after a good request on the same connection, and with its reply still to be read
    let mut c = server.connect().await;
    c.send(b"POST / HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhiGET\x00\r\n\r\n")
        .await;
    c.expect_closed().await;
    let text = String::from_utf8_lossy(&c.buf).to_string();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.ends_with(&malformed), "{text}");
    // a broken chunk in the body: the handler answers
    let mut c = server.connect().await;
    c.send(
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\nzz\r\n",
    )
    .await;
    let r = c.response().await;
    assert_error(&r, amelie_http::MSG_MALFORMED_BODY);
    c.expect_closed().await;
    // a huge header block: never unbounded buffering
    let mut c = server.connect().await;
    let big = format!(
        "POST / HTTP/1.1\r\nX-Big: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let _ = c.stream.write_all(big.as_bytes()).await;
    c.expect_closed().await;
    assert_eq!(
        String::from_utf8_lossy(&c.buf),
        closing_error(amelie_http::MSG_HEADER_LIMIT)
    );
    // The server still works.
    let mut c = server.connect().await;
    assert_eq!(c.sql("alive").await.body, "alive");
    drop(c);
    server.stop().await;
}

#[tokio::test]
async fn header_timeout_but_idle_keepalive_survives() {
    let server = Server::start_with(Arc::new(Fake::default()), |c| {
        c.header_read_timeout = Duration::from_millis(200)
    })
    .await;
    // Slowloris: a partial head is dropped after the timeout.
    let mut slow = server.connect().await;
    slow.send(b"POST / HTTP/1.1\r\nContent-").await;
    let started = std::time::Instant::now();
    slow.expect_closed().await;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(
        String::from_utf8_lossy(&slow.buf),
        closing_error(amelie_http::MSG_HEADER_TIMEOUT)
    );

    // An idle keep-alive connection is not timed out.
    let mut c = server.connect().await;
    assert_eq!(c.sql("count").await.status, 200);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let r = c.sql("count").await;
    assert_eq!(r.status, 200);
    assert!(r.body.ends_with(", 2]"), "{r:?}");
    drop(c);
    server.stop().await;
}

#[tokio::test]
async fn a_body_that_stops_coming_gets_a_json_400() {
    let server = Server::start_with(Arc::new(Fake::default()), |c| {
        c.body_read_timeout = Duration::from_millis(200)
    })
    .await;
    let mut slow = server.connect().await;
    slow.send(b"POST / HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nabc")
        .await;
    let started = std::time::Instant::now();
    let r = slow.response().await;
    assert_error(&r, amelie_http::MSG_BODY_TIMEOUT);
    assert_eq!(r.header("connection"), Some("close"));
    slow.expect_closed().await;
    assert!(started.elapsed() < Duration::from_secs(3));
    server.stop().await;
}

/// Waits until `pool`'s reserved bytes satisfy `f`.
async fn pool_reaches(pool: &amelie_common::governor::MemoryPool, f: impl Fn(usize) -> bool) {
    let deadline = std::time::Instant::now() + WAIT;
    while !f(pool.used()) {
        assert!(
            std::time::Instant::now() < deadline,
            "pool: {}",
            pool.used()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn request_bodies_are_reserved_from_the_memory_pool() {
    use amelie_common::governor::{MemoryPool, SERVER_MEMORY_LIMIT};
    const K: usize = 1024;
    let pool = Arc::new(MemoryPool::new(300 * K as u64));
    let p = Arc::clone(&pool);
    let server =
        Server::start_with(Arc::new(Fake::default()), move |c| c.memory_pool = Some(p)).await;
    // a body on its way holds what it declared
    let mut slow = server.connect().await;
    let head = format!(
        "POST / HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
        250 * K
    );
    slow.send(head.as_bytes()).await;
    slow.send(&[b'x'; 1000]).await;
    pool_reaches(&pool, |used| used >= 250 * K).await;
    // so a second large one does not fit
    let mut c = server.connect().await;
    let big = "y".repeat(100 * K);
    assert_error(&c.sql(&big).await, SERVER_MEMORY_LIMIT);
    c.expect_closed().await;
    // bodies up to BODY_FREE reserve nothing and still run
    let mut c = server.connect().await;
    let small = "s".repeat(amelie_http::BODY_FREE);
    assert_eq!(c.sql(&small).await.body, small);
    // once the first has run, the second fits, and everything is given back
    slow.send(&vec![b'x'; 250 * K - 1000]).await;
    assert_eq!(slow.response().await.status, 200);
    assert_eq!(c.sql(&big).await.body, big);
    pool_reaches(&pool, |used| used == 0).await;
    drop((slow, c));
    server.stop().await;
}

#[tokio::test]
async fn keepalive_shares_session() {
    let server = Server::start(Arc::new(Fake::default())).await;
    let mut a = server.connect().await;
    let mut b = server.connect().await;
    let a1 = a.sql("count").await.body;
    let a2 = a.sql("count").await.body;
    let b1 = b.sql("count").await.body;
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
    assert_eq!(a.sql("set tz UTC").await.status, 204);
    assert_eq!(a.sql("tz").await.body, "Some(\"UTC\")");
    assert_eq!(b.sql("tz").await.body, "None");

    // Pipelined requests on one connection.
    a.send(b"POST / HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\np1POST / HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\np2")
        .await;
    assert_eq!(a.response().await.body, "p1");
    assert_eq!(a.response().await.body, "p2");
    drop((a, b));
    server.stop().await;
}

#[tokio::test]
async fn stats_are_counted() {
    let server = Server::start(Arc::new(Fake::default())).await;
    let mut c = server.connect().await;
    assert_eq!(c.sql("abc").await.body, "abc");
    assert_eq!(c.sql("abc").await.body, "abc");
    assert_eq!(server.stats.connections(), 1);
    assert_eq!(server.stats.connections_total(), 1);
    assert_eq!(server.stats.requests(), 2);
    assert!(server.stats.recv_bytes() > 100);
    assert!(server.stats.sent_bytes() > 50);
    drop(c);
    let stats = Arc::clone(&server.stats);
    server.stop().await;
    assert_eq!(stats.connections(), 0);
}

#[tokio::test]
async fn graceful_shutdown_finishes_inflight() {
    let server = Server::start(Arc::new(Fake::default())).await;
    let addr = server.addr;
    let mut busy = server.connect().await;
    let mut idle = server.connect().await;
    assert_eq!(idle.sql("x").await.status, 200);
    busy.send(b"POST / HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nsleep")
        .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let stopped = tokio::spawn(server.stop());
    // The in-flight request still gets its reply, then the connection is closed.
    let r = busy.response().await;
    assert_eq!((r.status, r.body.as_str()), (200, "\"slept\""));
    busy.expect_closed().await;
    idle.expect_closed().await;
    tokio::time::timeout(Duration::from_secs(10), stopped)
        .await
        .unwrap()
        .unwrap();
    // No longer accepting.
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn shutdown_timeout_drops_slow_requests() {
    struct Stuck;
    impl Backend for Stuck {
        async fn execute(&self, _s: &mut Session, _sql: String) -> Result<Option<String>, Error> {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(None)
        }
    }
    let server = Server::start_with(Arc::new(Stuck), |c| {
        c.shutdown_timeout = Duration::from_millis(200)
    })
    .await;
    let mut c = server.connect().await;
    c.send(b"POST / HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 1\r\n\r\nx")
        .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = std::time::Instant::now();
    server.stop().await;
    assert!(started.elapsed() < Duration::from_secs(3));
    c.expect_closed().await;
}

#[tokio::test]
async fn serve_function_and_multiple_listeners() {
    // `serve` with a fixed, already free port.
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = probe.local_addr().unwrap();
    drop(probe);
    let config = ServerConfig::new(vec![addr]);
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(amelie_http::serve(
        Arc::new(Fake::default()),
        config,
        async {
            let _ = rx.await;
        },
    ));
    let mut c = loop {
        if let Ok(s) = TcpStream::connect(addr).await {
            break Client {
                stream: s,
                buf: Vec::new(),
            };
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(c.sql("hi").await.body, "hi");
    drop(c);
    tx.send(()).unwrap();
    tokio::time::timeout(WAIT, task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();

    // Two listeners on one server.
    let config = ServerConfig::new(vec![
        "127.0.0.1:0".parse().unwrap(),
        "127.0.0.1:0".parse().unwrap(),
    ]);
    let listeners = amelie_http::bind(config).await.unwrap();
    let addrs = listeners.local_addrs();
    assert_eq!(addrs.len(), 2);
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(listeners.serve(Arc::new(Fake::default()), async {
        let _ = rx.await;
    }));
    for addr in addrs {
        let mut c = Client::connect(addr).await;
        assert_eq!(c.sql("both").await.body, "both");
    }
    tx.send(()).unwrap();
    tokio::time::timeout(WAIT, task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
