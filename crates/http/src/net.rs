//! Where the server listens: TCP addresses and unix sockets, behind one listener and one
//! stream type so that both kinds of connection go through the same connection handling
//! (limits, timeouts, the connection cap, the memory pool).

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

/// Mode of a unix socket file when the listener names none: owner only.
pub const DEFAULT_SOCKET_MODE: u32 = 0o700;

/// One place to listen on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A TCP address (port 0 picks a free port).
    Tcp(SocketAddr),
    /// A unix socket file, created with the permission bits `mode`. A stale socket file left
    /// by a server that was killed is replaced; a socket some process still accepts on is not.
    Unix { path: PathBuf, mode: u32 },
}

impl From<SocketAddr> for Endpoint {
    fn from(addr: SocketAddr) -> Self {
        Endpoint::Tcp(addr)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp(addr) => write!(f, "{addr}"),
            Endpoint::Unix { path, .. } => write!(f, "unix:{}", path.display()),
        }
    }
}

/// The other end of a connection, for log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    Tcp(SocketAddr),
    /// A client of a unix socket (such clients have no address of their own).
    Unix,
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Tcp(addr) => write!(f, "{addr}"),
            Peer::Unix => f.write_str("unix"),
        }
    }
}

/// A bound listening socket of the tokio runtime that serves it.
#[derive(Debug)]
pub(crate) enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

impl Listener {
    pub(crate) fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(Stream, Peer)>> {
        match self {
            Listener::Tcp(l) => l
                .poll_accept(cx)
                .map_ok(|(s, peer)| (Stream::Tcp(s), Peer::Tcp(peer))),
            Listener::Unix(l) => l
                .poll_accept(cx)
                .map_ok(|(s, _)| (Stream::Unix(s), Peer::Unix)),
        }
    }

    pub(crate) fn into_std(self) -> io::Result<StdListener> {
        Ok(match self {
            Listener::Tcp(l) => StdListener::Tcp(l.into_std()?),
            Listener::Unix(l) => StdListener::Unix(l.into_std()?),
        })
    }

    pub(crate) fn from_std(l: StdListener) -> io::Result<Listener> {
        Ok(match l {
            StdListener::Tcp(l) => {
                l.set_nonblocking(true)?;
                Listener::Tcp(TcpListener::from_std(l)?)
            }
            StdListener::Unix(l) => {
                l.set_nonblocking(true)?;
                Listener::Unix(UnixListener::from_std(l)?)
            }
        })
    }
}

/// A bound listening socket outside any runtime (see [`crate::Listeners::into_std`]); copies
/// made with [`StdListener::try_clone`] share the socket.
#[derive(Debug)]
pub enum StdListener {
    Tcp(std::net::TcpListener),
    Unix(std::os::unix::net::UnixListener),
}

impl StdListener {
    pub fn try_clone(&self) -> io::Result<StdListener> {
        Ok(match self {
            StdListener::Tcp(l) => StdListener::Tcp(l.try_clone()?),
            StdListener::Unix(l) => StdListener::Unix(l.try_clone()?),
        })
    }
}

/// Binds `endpoint`; a unix socket's path is recorded in `files` (removed when it drops).
pub(crate) async fn bind_endpoint(
    endpoint: &Endpoint,
    files: &mut SocketFiles,
) -> io::Result<Listener> {
    let err = |e: io::Error| io::Error::new(e.kind(), format!("listen {endpoint}: {e}"));
    match endpoint {
        Endpoint::Tcp(addr) => Ok(Listener::Tcp(TcpListener::bind(addr).await.map_err(err)?)),
        Endpoint::Unix { path, mode } => {
            clear_stale_socket(path).map_err(err)?;
            let listener = UnixListener::bind(path).map_err(err)?;
            files.paths.push(path.clone());
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(*mode)).map_err(err)?;
            Ok(Listener::Unix(listener))
        }
    }
}

/// Removes a socket file at `path` that nobody accepts on any more (a server that was
/// killed leaves its socket file behind). A live socket, or a file that is not a socket,
/// is an error.
fn clear_stale_socket(path: &Path) -> io::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.file_type().is_socket() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "the file exists and is not a socket",
        ));
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            "a server is listening on this socket",
        )),
        Err(_) => std::fs::remove_file(path),
    }
}

/// The unix socket files the server created; they are removed when this is dropped (at
/// shutdown, once no frontend accepts on them any more).
#[derive(Debug, Default)]
pub struct SocketFiles {
    paths: Vec<PathBuf>,
}

impl SocketFiles {
    /// The socket files, in `listen` order.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }
}

impl Drop for SocketFiles {
    fn drop(&mut self) {
        for p in &self.paths {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// An accepted connection: TCP or unix, or TLS over one of them (boxed: a TLS session is
/// large, and plain connections should not pay for its size).
#[derive(Debug)]
pub(crate) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
    Tls(Box<tokio_rustls::server::TlsStream<Stream>>),
}

impl Stream {
    /// Writes what the socket takes at once, without waiting. Over TLS the bytes are
    /// encrypted into the session and as much as the socket takes at once is sent.
    pub(crate) fn try_write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.try_write(buf),
            Stream::Unix(s) => s.try_write(buf),
            Stream::Tls(s) => {
                // a waker that does nothing: a socket that is not writable now is not
                // waited for (the bytes are then dropped with the connection)
                let mut cx = Context::from_waker(std::task::Waker::noop());
                let mut s = Pin::new(&mut **s);
                match s.as_mut().poll_write(&mut cx, buf) {
                    Poll::Ready(Ok(n)) => {
                        let _ = s.poll_flush(&mut cx);
                        Ok(n)
                    }
                    Poll::Ready(Err(e)) => Err(e),
                    Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
                }
            }
        }
    }

    pub(crate) fn set_nodelay(&self) {
        match self {
            Stream::Tcp(s) => {
                let _ = s.set_nodelay(true);
            }
            Stream::Unix(_) => {}
            Stream::Tls(s) => s.get_ref().0.set_nodelay(),
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Unix(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(&mut **s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Unix(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(&mut **s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Unix(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(&mut **s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Tcp(s) => s.is_write_vectored(),
            Stream::Unix(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Unix(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(&mut **s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Unix(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(&mut **s).poll_shutdown(cx),
        }
    }
}

/// Splits the authority of a uri (`host`, `host:port`, `[v6]`, `[v6]:port`) into the host
/// (without brackets) and the port text, if any. The error is the reason, for the caller's
/// message. The host may come back empty; the port is not parsed.
pub fn split_authority(authority: &str) -> Result<(&str, Option<&str>), &'static str> {
    if let Some(r) = authority.strip_prefix('[') {
        let (host, after) = r.split_once(']').ok_or("']' expected")?;
        match after {
            "" => Ok((host, None)),
            p => Ok((host, Some(p.strip_prefix(':').ok_or("':' expected")?))),
        }
    } else {
        Ok(match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("amelie-http-net-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn stale_socket_is_replaced_live_one_is_not() {
        let dir = tmp("stale");
        let path = dir.join("s.sock");
        // a socket file nobody accepts on (its listener is gone)
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let endpoint = Endpoint::Unix {
                path: path.clone(),
                mode: 0o700,
            };
            let mut files = SocketFiles::default();
            let live = bind_endpoint(&endpoint, &mut files).await.unwrap();
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700);
            // a second server on the same live socket is refused
            let mut other = SocketFiles::default();
            let e = bind_endpoint(&endpoint, &mut other).await.unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::AddrInUse, "{e}");
            drop(other);
            assert!(path.exists());
            drop(live);
            drop(files);
            assert!(!path.exists());
        });
        // a regular file is never removed
        std::fs::write(&path, "x").unwrap();
        let mut files = SocketFiles::default();
        let e = rt
            .block_on(bind_endpoint(
                &Endpoint::Unix {
                    path: path.clone(),
                    mode: 0o700,
                },
                &mut files,
            ))
            .unwrap_err();
        assert!(e.to_string().contains("not a socket"), "{e}");
        assert!(path.is_file());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn authorities_split() {
        assert_eq!(split_authority("h:1"), Ok(("h", Some("1"))));
        assert_eq!(split_authority("h"), Ok(("h", None)));
        assert_eq!(split_authority("[::1]:5"), Ok(("::1", Some("5"))));
        assert_eq!(split_authority("[::1]"), Ok(("::1", None)));
        assert_eq!(split_authority(":7"), Ok(("", Some("7"))));
        assert_eq!(split_authority("[::1"), Err("']' expected"));
        assert_eq!(split_authority("[::1]5"), Err("':' expected"));
    }
}
