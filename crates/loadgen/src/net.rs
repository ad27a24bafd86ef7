//! Where the load goes: a TCP address or a unix socket, plain or TLS, and the headers every
//! request carries. [`Io`] is one non-blocking connection of the event loop; with TLS it is a
//! rustls client connection over the socket, driven by the loop's readiness events.

use crate::wire::encode;
use mio::event::Source;
use mio::{Interest, Registry, Token};
use rustls::pki_types::ServerName;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// The server's socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Tcp(SocketAddr),
    /// A unix socket file (e.g. `<repo>/amelie.sock`).
    Unix(PathBuf),
}

/// TLS over the endpoint: the client configuration (trusted roots, client certificate) and
/// the name the server's certificate must carry.
#[derive(Debug, Clone)]
pub struct TlsOptions {
    pub config: Arc<rustls::ClientConfig>,
    pub server_name: ServerName<'static>,
}

/// How to open a connection and what every request carries besides its body.
#[derive(Debug, Clone)]
pub struct Connector {
    pub endpoint: Endpoint,
    pub tls: Option<TlsOptions>,
    /// The `Host` header.
    pub host: String,
    /// Headers sent with every request after `Host`, e.g. `Authorization: Bearer ...`.
    pub headers: Vec<(String, String)>,
}

impl Connector {
    /// Plain TCP to `addr`, `Host: addr`, no other header.
    pub fn tcp(addr: SocketAddr) -> Connector {
        Connector {
            endpoint: Endpoint::Tcp(addr),
            tls: None,
            host: addr.to_string(),
            headers: Vec::new(),
        }
    }

    /// `POST <path> HTTP/1.1`, `Host`, the connector's headers, `Content-Type` and the name
    /// `Content-Length` (each request completes it with [`encode::frame`]).
    pub fn request_prefix(&self, path: &str, content_type: &str) -> Vec<u8> {
        let mut headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        headers.push(("Content-Type", content_type));
        encode::prefix("POST", path, &self.host, &headers)
    }

    /// Opens a non-blocking connection (the TLS handshake runs as the loop reads and writes).
    pub(crate) fn open(&self) -> io::Result<Io> {
        let sock = match &self.endpoint {
            Endpoint::Tcp(addr) => {
                let s = std::net::TcpStream::connect(addr)?;
                s.set_nodelay(true)?;
                s.set_nonblocking(true)?;
                Sock::Tcp(mio::net::TcpStream::from_std(s))
            }
            Endpoint::Unix(path) => {
                let s = std::os::unix::net::UnixStream::connect(path)?;
                s.set_nonblocking(true)?;
                Sock::Unix(mio::net::UnixStream::from_std(s))
            }
        };
        let tls = match &self.tls {
            None => None,
            Some(t) => {
                let conn = rustls::ClientConnection::new(t.config.clone(), t.server_name.clone())
                    .map_err(|e| io::Error::other(format!("tls: {e}")))?;
                Some(Box::new(conn))
            }
        };
        Ok(Io { sock, tls })
    }

    /// Where the connections go, for messages.
    pub fn describe(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        match &self.endpoint {
            Endpoint::Tcp(addr) => format!("{scheme}://{addr}"),
            Endpoint::Unix(path) => format!("unix socket {}", path.display()),
        }
    }
}

pub(crate) enum Sock {
    Tcp(mio::net::TcpStream),
    Unix(mio::net::UnixStream),
}

impl Read for Sock {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Sock::Tcp(s) => s.read(buf),
            Sock::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Sock {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sock::Tcp(s) => s.write(buf),
            Sock::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One connection of the event loop.
pub(crate) struct Io {
    sock: Sock,
    tls: Option<Box<rustls::ClientConnection>>,
}

fn tls_error(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("tls: {e}"))
}

impl Io {
    pub(crate) fn register(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        let interest = Interest::READABLE | Interest::WRITABLE;
        match &mut self.sock {
            Sock::Tcp(s) => s.register(registry, token, interest),
            Sock::Unix(s) => s.register(registry, token, interest),
        }
    }

    pub(crate) fn deregister(&mut self, registry: &Registry) {
        let _ = match &mut self.sock {
            Sock::Tcp(s) => s.deregister(registry),
            Sock::Unix(s) => s.deregister(registry),
        };
    }

    /// A plain socket is empty after a short read, so the read that would only say
    /// `WouldBlock` can be saved; TLS must read on until `WouldBlock`.
    pub(crate) fn short_read_drains(&self) -> bool {
        self.tls.is_none()
    }

    /// Sends TLS records rustls has ready, until done or the socket is full.
    pub(crate) fn flush_tls(&mut self) -> io::Result<()> {
        let Some(tls) = self.tls.as_mut() else {
            return Ok(());
        };
        while tls.wants_write() {
            match tls.write_tls(&mut self.sock) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Writes (part of) `data`: the number of bytes taken, or `WouldBlock`.
    pub(crate) fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.tls.is_none() {
            return self.sock.write(data);
        }
        self.flush_tls()?;
        let tls = self.tls.as_mut().expect("a TLS connection");
        // before the handshake ends rustls keeps the plaintext and sends it afterwards
        let n = tls.writer().write(data)?;
        self.flush_tls()?;
        if n == 0 && !data.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }

    /// Reads what has arrived: `Ok(0)` at the end of the connection, `WouldBlock` when there
    /// is nothing more for now.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.tls.is_none() {
            return self.sock.read(buf);
        }
        loop {
            let tls = self.tls.as_mut().expect("a TLS connection");
            match tls.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            match tls.read_tls(&mut self.sock) {
                Ok(0) => return Ok(0),
                Ok(_) => {
                    let state = tls.process_new_packets();
                    // an alert for the server goes out before the error is reported
                    let flushed = self.flush_tls();
                    state.map_err(tls_error)?;
                    flushed?;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Load, LoadOptions, Workload};
    use std::io::{BufRead, BufReader};
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    /// Answers every request on `stream` with `200 []` until the client goes; records the
    /// `Authorization` headers it saw.
    fn serve(stream: impl Read + Write, seen: Arc<Mutex<Vec<String>>>) {
        let mut r = BufReader::new(stream);
        loop {
            let mut len = 0;
            loop {
                let mut line = String::new();
                match r.read_line(&mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length: ") {
                    len = v.trim().parse().unwrap();
                }
                if let Some(v) = line.strip_prefix("Authorization: ") {
                    seen.lock().unwrap().push(v.trim().to_string());
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; len];
            if r.read_exact(&mut body).is_err() {
                return;
            }
            let s = r.get_mut();
            if s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]")
                .and_then(|()| s.flush())
                .is_err()
            {
                return;
            }
        }
    }

    /// Runs 2 connections of the insert workload until 100 replies are in.
    fn run_load(connector: &Connector) -> crate::ThreadStats {
        let opts = LoadOptions {
            workload: Workload::Insert,
            threads: 1,
            clients: 2,
            scale: 1,
            batch: 10,
            seed: 1,
        };
        let load = Load::start(connector, &opts).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while load.ok() < 100 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        load.stop()
    }

    #[test]
    fn unix_socket_with_a_token() {
        let dir = std::env::temp_dir().join(format!("loadgen-unix-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("amelie.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let seen = s2.clone();
                std::thread::spawn(move || serve(stream.unwrap(), seen));
            }
        });
        let connector = Connector {
            endpoint: Endpoint::Unix(path.clone()),
            tls: None,
            host: "localhost".into(),
            headers: vec![("Authorization".into(), "Bearer abc".into())],
        };
        assert!(connector.describe().starts_with("unix socket "));
        let stats = run_load(&connector);
        assert!(stats.ok >= 100, "{stats:?}");
        assert!(stats.errors.is_empty(), "{:?}", stats.errors);
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len() as u64, stats.ok);
        assert!(seen.iter().all(|v| v == "Bearer abc"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// *ring*, as the server and the client use it (decision 27).
    #[allow(deprecated)]
    fn provider() -> Arc<rustls::crypto::CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    #[test]
    fn tls_over_tcp() {
        let rcgen::CertifiedKey { cert, signing_key } =
            rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let cert_der = cert.der().clone();
        let key = rustls::pki_types::PrivateKeyDer::try_from(signing_key.serialize_der()).unwrap();
        let server_config = Arc::new(
            rustls::ServerConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(vec![cert_der.clone()], key)
                .unwrap(),
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let conn = rustls::ServerConnection::new(server_config.clone()).unwrap();
                let tls = rustls::StreamOwned::new(conn, stream.unwrap());
                let seen = s2.clone();
                std::thread::spawn(move || serve(tls, seen));
            }
        });
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert_der).unwrap();
        let client_config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut connector = Connector::tcp(addr);
        connector.tls = Some(TlsOptions {
            config: Arc::new(client_config),
            server_name: ServerName::try_from("localhost").unwrap(),
        });
        assert!(connector.describe().starts_with("https://127.0.0.1:"));
        let stats = run_load(&connector);
        assert!(stats.ok >= 100, "{stats:?}");
        assert!(stats.errors.is_empty(), "{:?}", stats.errors);
        assert!(!stats.io_errors);

        // a name the certificate does not carry: every connection fails, and says why
        connector.tls.as_mut().unwrap().server_name = ServerName::try_from("other").unwrap();
        let opts = LoadOptions {
            workload: Workload::Insert,
            threads: 1,
            clients: 1,
            scale: 1,
            batch: 1,
            seed: 1,
        };
        let load = Load::start(&connector, &opts).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while load.failed() == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let stats = load.stop();
        assert_eq!(stats.ok, 0);
        assert!(
            stats
                .errors
                .keys()
                .any(|m| m.contains("tls: invalid peer certificate")),
            "{:?}",
            stats.errors
        );
    }
}
