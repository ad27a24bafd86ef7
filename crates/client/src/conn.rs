//! The HTTP/1.1 client: one keep-alive connection over TCP (plain or TLS) or a unix socket
//! (hyper's client connection on tokio), reconnecting when the server has closed it.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use amelie_common::{Error, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::remote::{Remote, Target};
use crate::tls::TlsClient;

/// How long opening a connection may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The error of a plain `http://` request that a TLS listener has refused: it answers a TLS
/// alert, not HTTP, and closes (see [`Heard::met_tls`]).
pub const MSG_TLS_PORT: &str =
    "request: connection closed by the server before a reply (is it a TLS port? use an https:// uri)";

/// A reply: the status and the body (as text; the server sends JSON).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    /// 200 or 204.
    pub fn is_success(&self) -> bool {
        self.status == 200 || self.status == 204
    }
}

/// A client of one server. Connects on the first request, keeps the connection open
/// between requests, and opens a new one when the server has closed it (after a 403, an
/// idle timeout or a restart).
pub struct Client {
    target: Target,
    /// `Bearer <token>`, when the remote has a token or a user and secret.
    auth: Option<HeaderValue>,
    /// An `https://` remote: TLS over the TCP connection.
    tls: Option<TlsClient>,
    sender: Option<SendRequest<Full<Bytes>>>,
    /// The first bytes the server sent on the connection of `sender`, when it is plain TCP.
    heard: Option<Heard>,
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Client {
    /// A client for `remote` (its target, token and TLS options are checked now, and the
    /// certificates loaded; no connection yet). A token signed from a user and secret is
    /// made once, valid for a year.
    pub fn new(remote: &Remote) -> Result<Client> {
        let target = remote.target()?;
        let auth = match remote.bearer(now_secs()) {
            Some(token) => Some(
                HeaderValue::from_str(&format!("Bearer {token}"))
                    .map_err(|_| Error::syntax("remote: the token holds invalid characters"))?,
            ),
            None => None,
        };
        let tls = match &target {
            Target::Tcp { host, .. } if remote.uses_tls() => Some(TlsClient::new(remote, host)?),
            _ => None,
        };
        Ok(Client {
            target,
            auth,
            tls,
            sender: None,
            heard: None,
        })
    }

    /// Where this client connects.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// How the load generator reaches the same server (`amelie bench`): the address
    /// resolved now, the same TLS configuration and token.
    pub fn load_connector(&self) -> Result<amelie_loadgen::Connector> {
        use std::net::ToSocketAddrs;
        let (endpoint, host) = match &self.target {
            Target::Tcp { host, port } => {
                let addr = (host.as_str(), *port)
                    .to_socket_addrs()
                    .map_err(|e| Error::io(format!("connect to {host}:{port}: {e}")))?
                    .next()
                    .ok_or_else(|| Error::io(format!("connect to {host}:{port}: no address")))?;
                let name = if host.contains(':') {
                    format!("[{host}]:{port}")
                } else {
                    format!("{host}:{port}")
                };
                (amelie_loadgen::Endpoint::Tcp(addr), name)
            }
            Target::Unix(path) => (
                amelie_loadgen::Endpoint::Unix(path.clone()),
                "localhost".to_string(),
            ),
        };
        let headers = match &self.auth {
            Some(auth) => vec![(
                "Authorization".to_string(),
                auth.to_str()
                    .map_err(|_| Error::syntax("remote: the token holds invalid characters"))?
                    .to_string(),
            )],
            None => Vec::new(),
        };
        Ok(amelie_loadgen::Connector {
            endpoint,
            tls: self.tls.as_ref().map(TlsClient::load_options),
            host,
            headers,
        })
    }

    /// Opens the connection now (requests open it when needed).
    pub async fn connect(&mut self) -> Result<()> {
        let (sender, heard) = self.open().await?;
        self.sender = Some(sender);
        self.heard = heard;
        Ok(())
    }

    /// A new connection, and what the server sends on it when it is plain TCP.
    async fn open(&self) -> Result<(SendRequest<Full<Bytes>>, Option<Heard>)> {
        let what = match &self.target {
            Target::Tcp { host, port } => format!("{host}:{port}"),
            Target::Unix(path) => path.display().to_string(),
        };
        let fail = |e: std::io::Error| Error::io(format!("connect to {what}: {e}"));
        let connect = async {
            match &self.target {
                Target::Tcp { host, port } => {
                    let stream = tokio::net::TcpStream::connect((host.as_str(), *port))
                        .await
                        .map_err(fail)?;
                    let _ = stream.set_nodelay(true);
                    match &self.tls {
                        None => {
                            let heard = Heard::default();
                            let sender = handshake(Listen::new(stream, &heard)).await?;
                            Ok((sender, Some(heard)))
                        }
                        Some(tls) => {
                            let stream = tls
                                .connect(stream)
                                .await
                                .map_err(|e| Error::io(format!("connect to {what}: tls: {e}")))?;
                            Ok((handshake(stream).await?, None))
                        }
                    }
                }
                Target::Unix(path) => {
                    let stream = tokio::net::UnixStream::connect(path).await.map_err(fail)?;
                    Ok((handshake(stream).await?, None))
                }
            }
        };
        tokio::time::timeout(CONNECT_TIMEOUT, connect)
            .await
            .map_err(|_| Error::io(format!("connect to {what}: timed out")))?
    }

    /// `POST /` of `sql` as `text/plain`.
    pub async fn sql(&mut self, sql: &str) -> Result<Reply> {
        self.request("/", "text/plain", Bytes::copy_from_slice(sql.as_bytes()))
            .await
    }

    /// `POST <path>` with `body` of `content_type`.
    pub async fn request(&mut self, path: &str, content_type: &str, body: Bytes) -> Result<Reply> {
        let (status, body) = self
            .request_bytes(path, Some(content_type), &[], body)
            .await?;
        Ok(Reply {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }

    /// [`Client::send`], then the whole reply: its status and body bytes.
    pub async fn request_bytes(
        &mut self,
        path: &str,
        content_type: Option<&str>,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<(u16, Bytes)> {
        let resp = self.send(path, content_type, headers, body).await?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| Error::io(format!("reply: {e}")))?
            .to_bytes();
        Ok((status, body))
    }

    /// `POST <path>` with `body` (of `content_type`, when given) and the extra `headers`;
    /// the reply's body is left to the caller to read (a backup file is streamed).
    pub async fn send(
        &mut self,
        path: &str,
        content_type: Option<&str>,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<hyper::Response<hyper::body::Incoming>> {
        let mut builder = Request::builder().method(Method::POST).uri(path);
        if let Some(content_type) = content_type {
            builder = builder.header(CONTENT_TYPE, content_type);
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        if let Some(auth) = &self.auth {
            builder = builder.header(AUTHORIZATION, auth.clone());
        }
        let mut req = builder
            .body(Full::new(body))
            .map_err(|e| Error::syntax(format!("request: {e}")))?;
        // A connection the server closed meanwhile gives the request back unsent: it is
        // then sent once more on a new connection. A request that was sent is never resent.
        for attempt in 0..2 {
            let reusable = match self.sender.as_mut() {
                Some(s) if !s.is_closed() => s.ready().await.is_ok(),
                _ => false,
            };
            if !reusable {
                let (sender, heard) = self.open().await?;
                self.sender = Some(sender);
                self.heard = heard;
            }
            let Some(sender) = self.sender.as_mut() else {
                return Err(Error::internal("request: no connection"));
            };
            match sender.try_send_request(req).await {
                Ok(resp) => return Ok(resp),
                Err(mut e) => {
                    self.sender = None;
                    let heard = self.heard.take();
                    match e.take_message() {
                        Some(unsent) if attempt == 0 => req = unsent,
                        _ => {
                            let e = e.into_error();
                            if heard.is_some_and(|h| h.met_tls(&e)) {
                                return Err(Error::io(MSG_TLS_PORT));
                            }
                            return Err(Error::io(format!("request: {e}")));
                        }
                    }
                }
            }
        }
        Err(Error::io("request: the connection was closed"))
    }
}

async fn handshake<S>(stream: S) -> Result<SendRequest<Full<Bytes>>>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| Error::io(format!("connect: {e}")))?;
    tokio::spawn(async move {
        // ends when the server closes the connection or the client is dropped
        let _ = conn.await;
    });
    Ok(sender)
}

/// The first bytes a server sent on a plain TCP connection (a couple: enough to tell a TLS
/// record from an HTTP reply), shared between the connection and its [`Client`].
#[derive(Clone, Default)]
struct Heard(Arc<Mutex<Vec<u8>>>);

/// How many of the first bytes [`Heard`] keeps.
const HEARD: usize = 2;

impl Heard {
    fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Whether a request that failed with `e` went to a TLS listener: the server answered
    /// with a TLS record (an alert, or any other: content type 20 to 24, major version 3)
    /// where an HTTP reply was due, or closed (or reset) the connection without a byte.
    fn met_tls(&self, e: &hyper::Error) -> bool {
        match self.bytes()[..] {
            [0x14..=0x18] | [0x14..=0x18, 0x03, ..] => true,
            [] => e.is_incomplete_message() || was_reset(e),
            _ => false,
        }
    }
}

/// Whether the cause of `e` is the connection reset or aborted by the server.
fn was_reset(e: &hyper::Error) -> bool {
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            return matches!(io.kind(), ConnectionReset | ConnectionAborted | BrokenPipe);
        }
        cause = c.source();
    }
    false
}

/// A plain TCP stream that keeps the first bytes it reads in a [`Heard`].
struct Listen<S> {
    inner: S,
    heard: Heard,
    /// `heard` holds all it keeps: reads no longer look.
    full: bool,
}

impl<S> Listen<S> {
    fn new(inner: S, heard: &Heard) -> Listen<S> {
        Listen {
            inner,
            heard: heard.clone(),
            full: false,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Listen<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let res = Pin::new(&mut this.inner).poll_read(cx, buf);
        let read = &buf.filled()[before..];
        if !this.full && !read.is_empty() {
            let mut head = this.heard.0.lock().unwrap_or_else(|e| e.into_inner());
            let take = read.len().min(HEARD - head.len());
            head.extend_from_slice(&read[..take]);
            this.full = head.len() == HEARD;
        }
        res
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Listen<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// A [`Client`] with a runtime of its own, for code that is not async (the console).
pub struct BlockingClient {
    rt: tokio::runtime::Runtime,
    client: Client,
}

impl BlockingClient {
    pub fn new(remote: &Remote) -> Result<BlockingClient> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::io(format!("runtime: {e}")))?;
        Ok(BlockingClient {
            rt,
            client: Client::new(remote)?,
        })
    }

    pub fn connect(&mut self) -> Result<()> {
        self.rt.block_on(self.client.connect())
    }

    /// See [`Client::load_connector`].
    pub fn load_connector(&self) -> Result<amelie_loadgen::Connector> {
        self.client.load_connector()
    }

    pub fn sql(&mut self, sql: &str) -> Result<Reply> {
        self.rt.block_on(self.client.sql(sql))
    }

    pub fn request(&mut self, path: &str, content_type: &str, body: Bytes) -> Result<Reply> {
        self.rt
            .block_on(self.client.request(path, content_type, body))
    }

    /// See [`Client::request_bytes`].
    pub fn request_bytes(
        &mut self,
        path: &str,
        content_type: Option<&str>,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<(u16, Bytes)> {
        self.rt
            .block_on(self.client.request_bytes(path, content_type, headers, body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server over a unix socket that answers each request with a fixed reply, then
    /// closes the connection after `per_conn` requests; it records the request heads.
    async fn serve(
        listener: tokio::net::UnixListener,
        per_conn: usize,
        heads: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    ) {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let heads = heads.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                for _ in 0..per_conn {
                    // read one request: head, then Content-Length bytes
                    let head_end = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        let mut chunk = [0u8; 1024];
                        match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length: ")
                                .map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap_or(0);
                    while buf.len() < head_end + len {
                        let mut chunk = [0u8; 1024];
                        match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let body = String::from_utf8_lossy(&buf[head_end..head_end + len]).to_string();
                    buf.drain(..head_end + len);
                    heads.lock().unwrap().push(head);
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/json\r\n\r\n{body}",
                        body.len()
                    );
                    if s.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    }

    #[test]
    fn keep_alive_reconnect_and_token() {
        let dir = std::env::temp_dir().join(format!("amelie-client-conn-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("s.sock");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let heads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        rt.block_on(async {
            let listener = tokio::net::UnixListener::bind(&sock).unwrap();
            tokio::spawn(serve(listener, 2, heads.clone()));
            let mut remote = Remote::new();
            remote.path = sock.display().to_string();
            remote.token = "abc".into();
            let mut c = Client::new(&remote).unwrap();
            for i in 0..5 {
                let r = c.sql(&format!("select {i}")).await.unwrap();
                assert_eq!(
                    r,
                    Reply {
                        status: 200,
                        body: format!("select {i}")
                    }
                );
            }
        });
        let heads = heads.lock().unwrap();
        assert_eq!(heads.len(), 5);
        for h in heads.iter() {
            let lower = h.to_ascii_lowercase();
            assert!(lower.starts_with("post / http/1.1\r\n"), "{h}");
            assert!(lower.contains("content-type: text/plain\r\n"), "{h}");
            assert!(h.contains("Bearer abc\r\n"), "{h}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A TCP server on 127.0.0.1 that reads one request's first bytes, answers `reply` and
    /// closes; its port.
    fn answer_once(reply: &'static [u8]) -> u16 {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 64];
            let _ = s.read(&mut buf);
            let _ = s.write_all(reply);
        });
        port
    }

    fn plain_error(port: u16) -> Error {
        let mut remote = Remote::new();
        remote.uri = format!("http://127.0.0.1:{port}");
        BlockingClient::new(&remote)
            .unwrap()
            .sql("select 1")
            .unwrap_err()
    }

    #[test]
    fn a_plain_request_to_a_tls_port_says_so() {
        // what rustls answers a plain HTTP request with: a fatal decode_error alert
        let e = plain_error(answer_once(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32]));
        assert_eq!(e.kind(), amelie_common::ErrorKind::Io);
        assert_eq!(e.msg(), MSG_TLS_PORT);
        // a server that closes without a byte
        assert_eq!(plain_error(answer_once(b"")).msg(), MSG_TLS_PORT);
        // something else that is not HTTP: hyper's own words
        let e = plain_error(answer_once(b"SSH-2.0-x\r\n"));
        assert!(e.msg().starts_with("request: "), "{e}");
        assert_ne!(e.msg(), MSG_TLS_PORT);
    }

    #[test]
    fn connect_errors_are_values() {
        let mut remote = Remote::new();
        remote.path = "/nonexistent/amelie-test.sock".into();
        let mut c = BlockingClient::new(&remote).unwrap();
        let e = c.sql("select 1").unwrap_err();
        assert_eq!(e.kind(), amelie_common::ErrorKind::Io);
        assert!(
            e.msg()
                .starts_with("connect to /nonexistent/amelie-test.sock: "),
            "{e}"
        );
        remote.token = "a\nb".into();
        assert!(BlockingClient::new(&remote).is_err());
    }
}
