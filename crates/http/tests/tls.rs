//! TLS listeners: a real server on 127.0.0.1:0 with a certificate made at test time
//! (rcgen), spoken to with rustls' blocking client over std sockets. Requests over TLS,
//! keep-alive, the header timeout inside TLS, and the failures that must only close the
//! connection: a plain HTTP client, garbage, a client that does not trust the certificate,
//! a client that says nothing.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use amelie_http::{Backend, Error, HttpStats, ServerConfig, Session, TlsServer};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::runtime::Runtime;
use tokio::sync::oneshot;

const WAIT: Duration = Duration::from_secs(5);
const HEADER_TIMEOUT: Duration = Duration::from_millis(400);

struct Echo;

impl Backend for Echo {
    async fn execute(&self, session: &mut Session, sql: String) -> Result<Option<String>, Error> {
        Ok(Some(format!("[{}, {:?}]", session.id, sql)))
    }
}

/// A CA and a server certificate it signed, for `localhost` and 127.0.0.1.
struct Pki {
    ca_der: CertificateDer<'static>,
    cert_pem: String,
    key_pem: String,
}

fn pki() -> Pki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    Pki {
        ca_der: ca.der().clone(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

struct Server {
    addr: SocketAddr,
    stats: Arc<HttpStats>,
    rt: Option<Runtime>,
    stop: Option<oneshot::Sender<()>>,
}

impl Server {
    fn start(pki: &Pki) -> Server {
        Self::start_with(pki, |_| {})
    }

    fn start_with(pki: &Pki, tune: impl FnOnce(&mut ServerConfig)) -> Server {
        let mut config = ServerConfig::new(vec!["127.0.0.1:0".parse().unwrap()]);
        config.tls = vec![true];
        config.tls_server =
            Some(TlsServer::from_pem(pki.cert_pem.as_bytes(), pki.key_pem.as_bytes()).unwrap());
        config.header_read_timeout = HEADER_TIMEOUT;
        tune(&mut config);
        let stats = Arc::clone(&config.stats);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listeners = rt.block_on(amelie_http::bind(config)).unwrap();
        let addr = listeners.local_addrs()[0];
        let (tx, rx) = oneshot::channel::<()>();
        rt.spawn(listeners.serve(Arc::new(Echo), async {
            let _ = rx.await;
        }));
        Server {
            addr,
            stats,
            rt: Some(rt),
            stop: Some(tx),
        }
    }

    /// Waits until every connection is closed.
    fn wait_no_connections(&self) {
        let deadline = Instant::now() + WAIT;
        while self.stats.connections() != 0 {
            assert!(Instant::now() < deadline, "connections left open");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop.take().unwrap().send(());
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(WAIT);
        }
    }
}

#[allow(deprecated)]
fn client_config(ca: &CertificateDer<'static>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

fn tls_connect(addr: SocketAddr, ca: &CertificateDer<'static>, name: &str) -> Tls {
    let conn = rustls::ClientConnection::new(
        client_config(ca),
        ServerName::try_from(name.to_string()).unwrap(),
    )
    .unwrap();
    let sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(WAIT)).unwrap();
    rustls::StreamOwned::new(conn, sock)
}

fn request(body: &str) -> String {
    format!(
        "POST / HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Reads one reply (head and `content-length` body).
fn read_reply(s: &mut impl Read) -> std::io::Result<String> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    s.read_exact(&mut body)?;
    buf.extend_from_slice(&body);
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Reads until the server closes the connection (an error counts as closed).
fn read_to_close(s: &mut impl Read) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
}

fn works(server: &Server, pki: &Pki) {
    let mut s = tls_connect(server.addr, &pki.ca_der, "localhost");
    s.write_all(request("one").as_bytes()).unwrap();
    let r = read_reply(&mut s).unwrap();
    assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
    assert!(r.ends_with("\"one\"]"), "{r}");
}

#[test]
fn requests_over_tls_with_keep_alive() {
    let pki = pki();
    let server = Server::start(&pki);
    // by IP address too (the certificate names 127.0.0.1)
    for name in ["localhost", "127.0.0.1"] {
        let mut s = tls_connect(server.addr, &pki.ca_der, name);
        let mut ids = Vec::new();
        for body in ["a", "b"] {
            s.write_all(request(body).as_bytes()).unwrap();
            let r = read_reply(&mut s).unwrap();
            assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
            assert!(r.ends_with(&format!("\"{body}\"]")), "{r}");
            ids.push(
                r.rsplit_once('[')
                    .unwrap()
                    .1
                    .split(',')
                    .next()
                    .unwrap()
                    .to_string(),
            );
        }
        // one connection, one session
        assert_eq!(ids[0], ids[1]);
    }
    // the counters see the plaintext
    assert!(server.stats.requests() >= 4);
}

#[test]
fn plain_http_and_garbage_only_close_the_connection() {
    let pki = pki();
    let server = Server::start(&pki);
    let hello_cut: &[u8] = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
    let huge_record: &[u8] = b"\x16\x03\x01\xff\xff";
    for bytes in [
        request("select 1").as_bytes(),
        b"\x00\x01\x02\x03garbage\r\n\r\n",
        hello_cut,
        huge_record,
    ] {
        let mut s = TcpStream::connect(server.addr).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        let started = Instant::now();
        let _ = s.write_all(bytes);
        let got = read_to_close(&mut s);
        // never an HTTP reply in the clear; closed at the latest by the header timeout
        assert!(!got.starts_with(b"HTTP/"), "{got:?}");
        assert!(started.elapsed() < WAIT, "not closed");
    }
    server.wait_no_connections();
    works(&server, &pki);
}

#[test]
fn a_silent_client_is_closed_by_the_header_timeout() {
    let pki = pki();
    let server = Server::start(&pki);
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let started = Instant::now();
    let got = read_to_close(&mut s);
    let waited = started.elapsed();
    assert!(got.is_empty(), "{got:?}");
    assert!(
        waited >= HEADER_TIMEOUT - Duration::from_millis(50),
        "{waited:?}"
    );
    assert!(waited < WAIT, "{waited:?}");
    server.wait_no_connections();
    works(&server, &pki);
}

#[test]
fn an_unfinished_head_inside_tls_gets_the_timeout_reply() {
    let pki = pki();
    let server = Server::start(&pki);
    let mut s = tls_connect(server.addr, &pki.ca_der, "localhost");
    s.write_all(b"POST / HTTP/1.1\r\nContent-").unwrap();
    let got = String::from_utf8_lossy(&read_to_close(&mut s)).into_owned();
    assert!(got.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{got}");
    assert!(
        got.ends_with("{\"msg\": \"HTTP request header read timeout\"}"),
        "{got}"
    );
    works(&server, &pki);
}

#[test]
fn a_client_that_does_not_trust_the_certificate_fails() {
    let pki = pki();
    let server = Server::start(&pki);
    let other = pki_other();
    let mut s = tls_connect(server.addr, &other, "localhost");
    let e = s.write_all(request("x").as_bytes()).and_then(|_| s.flush());
    let e = match e {
        Err(e) => e,
        Ok(()) => read_reply(&mut s).unwrap_err(),
    };
    // (another CA of the same name: the signature does not check out)
    assert!(e.to_string().contains("invalid peer certificate"), "{e}");
    // a name the certificate does not have
    let mut s = tls_connect(server.addr, &pki.ca_der, "example.com");
    let e = s
        .write_all(request("x").as_bytes())
        .and_then(|_| read_reply(&mut s).map(|_| ()))
        .unwrap_err();
    assert!(e.to_string().contains("not valid for name"), "{e}");
    server.wait_no_connections();
    works(&server, &pki);
}

#[test]
fn a_handshake_holds_a_connection_slot_until_a_newcomer_needs_it() {
    let pki = pki();
    let server = Server::start_with(&pki, |c| {
        c.max_connections = 1;
        c.header_read_timeout = WAIT * 4;
    });
    // a client that connects and stays silent: in its handshake, idle, at the cap
    let mut silent = TcpStream::connect(server.addr).unwrap();
    silent.set_read_timeout(Some(WAIT)).unwrap();
    let deadline = Instant::now() + WAIT;
    while server.stats.connections() != 1 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
    // a newcomer makes it go, long before its header timeout
    let started = Instant::now();
    works(&server, &pki);
    assert!(read_to_close(&mut silent).is_empty());
    assert!(started.elapsed() < WAIT, "{:?}", started.elapsed());
}

fn pki_other() -> CertificateDer<'static> {
    pki().ca_der
}

#[test]
fn a_tls_listener_needs_a_certificate() {
    let mut config = ServerConfig::new(vec!["127.0.0.1:0".parse().unwrap()]);
    config.tls = vec![true];
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let e = rt.block_on(amelie_http::bind(config)).unwrap_err();
    assert_eq!(e.to_string(), amelie_http::MSG_TLS_NO_CERT);
}
