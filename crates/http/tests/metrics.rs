//! `GET /metrics` on the wire: off it is refused like any GET, on it answers the Prometheus
//! text format with the HTTP counters and the backend's lines, and an `auth` listener wants
//! a token for it as for any request.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use amelie_http::{Backend, Endpoint, Error, ServerConfig, Session};
use amelie_testclient::{Client, Request, Response};
use tokio::runtime::Runtime;

const WAIT: Duration = Duration::from_secs(5);

struct Fake;

impl Backend for Fake {
    async fn execute(&self, _session: &mut Session, sql: String) -> Result<Option<String>, Error> {
        match sql.as_str() {
            "err" => Err(Error::new("bad")),
            "none" => Ok(None),
            _ => Ok(Some(sql)),
        }
    }

    fn authenticate(&self, token: &str) -> bool {
        token == "good"
    }

    fn metrics(&self, out: &mut String) {
        out.push_str("# TYPE fake_backend gauge\nfake_backend 7\n");
    }
}

/// A server on its own runtime (dropped with it): one open listener and, with `auth`, a
/// second one that requires a token.
struct Server {
    addrs: Vec<SocketAddr>,
    _rt: Runtime,
}

fn start(metrics: bool, auth: bool) -> Server {
    let mut listen = vec![Endpoint::Tcp("127.0.0.1:0".parse().unwrap())];
    if auth {
        listen.push(Endpoint::Tcp("127.0.0.1:0".parse().unwrap()));
    }
    let mut config = ServerConfig::with_endpoints(listen);
    config.metrics = metrics;
    config.auth = vec![false, true];
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listeners = rt.block_on(amelie_http::bind(config)).unwrap();
    let addrs = listeners.local_addrs();
    rt.spawn(listeners.serve(Arc::new(Fake), std::future::pending()));
    Server { addrs, _rt: rt }
}

/// `GET path`; also whether the reply closes the connection.
fn get(addr: SocketAddr, path: &str, authorization: Option<&str>) -> (Response, bool) {
    let mut c = Client::connect_timeout(addr, WAIT).unwrap();
    let mut r = Request::new("GET", path);
    if let Some(a) = authorization {
        r = r.authorization(a);
    }
    let reply = c.request(&r).unwrap();
    let closed = reply.close;
    (reply, closed)
}

fn sql(addr: SocketAddr, text: &str) -> u16 {
    let mut c = Client::connect_timeout(addr, WAIT).unwrap();
    c.request(&Request::sql(text)).unwrap().status
}

/// The value of the sample line `name` (labels included) of a metrics text.
fn value(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn off_it_is_an_unknown_get() {
    let s = start(false, false);
    let (metrics, closed) = get(s.addrs[0], "/metrics", None);
    let (other, other_closed) = get(s.addrs[0], "/nothing", None);
    assert_eq!(metrics.status, 403);
    assert_eq!(
        (metrics.status_line, metrics.headers, metrics.body),
        (other.status_line, other.headers, other.body)
    );
    assert!(closed && other_closed);
}

#[test]
fn on_it_counts_replies_and_adds_the_backend() {
    let s = start(true, false);
    let a = s.addrs[0];
    assert_eq!(sql(a, "x"), 200);
    assert_eq!(sql(a, "none"), 204);
    assert_eq!(sql(a, "err"), 400);
    let (r, closed) = get(a, "/metrics", None);
    assert_eq!(r.status, 200);
    assert!(!closed, "a metrics reply keeps the connection");
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let t = r.text();
    assert_eq!(
        value(&t, "amelie_http_requests_total{code=\"2xx\"}"),
        Some(2.0),
        "{t}"
    );
    assert_eq!(
        value(&t, "amelie_http_requests_total{code=\"4xx\"}"),
        Some(1.0)
    );
    assert_eq!(
        value(&t, "amelie_http_requests_total{code=\"5xx\"}"),
        Some(0.0)
    );
    assert_eq!(
        value(&t, "amelie_http_request_duration_seconds_count"),
        Some(3.0)
    );
    assert_eq!(value(&t, "amelie_connections_total"), Some(4.0));
    // this one at least (the closing of the others may not have been seen yet)
    assert!(value(&t, "amelie_connections").unwrap() >= 1.0);
    assert!(value(&t, "amelie_recv_bytes_total").unwrap() > 0.0);
    assert_eq!(value(&t, "fake_backend"), Some(7.0));
    assert!(t.contains("# TYPE amelie_http_request_duration_seconds histogram\n"));
    // other paths and methods are still refused
    assert_eq!(get(a, "/metric", None).0.status, 403);
    let mut c = Client::connect_timeout(a, WAIT).unwrap();
    assert_eq!(c.request(&Request::post("/metrics")).unwrap().status, 400);
}

#[test]
fn an_auth_listener_wants_a_token() {
    let s = start(true, true);
    let (open, auth) = (s.addrs[0], s.addrs[1]);
    assert_eq!(get(open, "/metrics", None).0.status, 200);
    assert_eq!(get(open, "/metrics", Some("Bearer bad")).0.status, 403);
    let (r, closed) = get(auth, "/metrics", None);
    assert_eq!((r.status, closed), (403, true));
    assert_eq!(get(auth, "/metrics", Some("Bearer bad")).0.status, 403);
    assert_eq!(get(auth, "/metrics", Some("Bearer good")).0.status, 200);
}
