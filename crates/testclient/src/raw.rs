//! A plain socket for tests that send bytes no client would (malformed requests, slow or
//! partial ones) and look at the raw reply. Nothing here parses requests; replies are only
//! looked at to notice that a whole one has arrived ([`Wait::quiet`]).

use crate::parse::has_whole_response;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// What arrived until the reading stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Drained {
    pub bytes: Vec<u8>,
    /// The peer closed the connection (EOF, reset or another read error), as opposed to the
    /// reading stopping on a timeout or a quiet line.
    pub closed: bool,
}

impl Drained {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

/// When [`RawConn::read`] stops.
#[derive(Debug, Clone, Copy)]
pub struct Wait {
    /// Stop after this long in any case.
    pub timeout: Duration,
    /// Stop once a whole response has arrived and nothing more has come for this long.
    pub quiet: Option<Duration>,
    /// Half-close the connection when nothing at all has arrived after this long.
    pub half_close_after: Option<Duration>,
    /// Keep at most this many bytes (the rest is read and dropped).
    pub max_bytes: usize,
}

impl Wait {
    /// Read until the peer closes, or `timeout`.
    pub fn close(timeout: Duration) -> Wait {
        Wait {
            timeout,
            quiet: None,
            half_close_after: None,
            max_bytes: usize::MAX,
        }
    }
}

/// One connection that sends raw bytes.
pub struct RawConn {
    stream: TcpStream,
}

impl RawConn {
    pub fn connect(addr: SocketAddr) -> io::Result<RawConn> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_nodelay(true)?;
        stream.set_write_timeout(Some(crate::DEFAULT_TIMEOUT))?;
        Ok(RawConn { stream })
    }

    /// A connection to `127.0.0.1:port`.
    pub fn local(port: u16) -> io::Result<RawConn> {
        RawConn::connect(SocketAddr::from(([127, 0, 0, 1], port)))
    }

    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    /// No more bytes from this side (the peer reads EOF).
    pub fn half_close(&self) -> io::Result<()> {
        self.stream.shutdown(Shutdown::Write)
    }

    /// Reads until the peer closes or `timeout` passes.
    pub fn read_to_close(&mut self, timeout: Duration) -> Drained {
        read(&mut self.stream, Vec::new(), &Wait::close(timeout))
    }

    /// Reads as `wait` says.
    pub fn read(&mut self, wait: &Wait) -> Drained {
        read(&mut self.stream, Vec::new(), wait)
    }
}

/// Sends `bytes` on a new connection to `addr`, half-closes it and reads until the peer closes
/// or `timeout` passes. A failed write is not an error: the peer may close early on purpose.
///
/// Meant for malformed input, which the server answers as soon as it reads it. A client that
/// half-closes has gone away as far as the server is concerned, so a *valid* request sent this
/// way may be dropped without a reply: for those, read the reply before half-closing
/// ([`RawConn::read`] with [`Wait::quiet`]).
pub fn exchange(addr: SocketAddr, bytes: &[u8], timeout: Duration) -> io::Result<Drained> {
    let mut c = RawConn::connect(addr)?;
    let _ = c.send(bytes);
    let _ = c.half_close();
    Ok(c.read_to_close(timeout))
}

/// How long one read waits when [`Wait`] needs to look at the clock between reads.
const TICK: Duration = Duration::from_millis(5);

/// Reads from `stream` after the bytes already in `out`, as `wait` says. Leaves the stream's
/// read timeout changed.
pub(crate) fn read(stream: &mut TcpStream, mut out: Vec<u8>, wait: &Wait) -> Drained {
    let start = Instant::now();
    let deadline = start + wait.timeout;
    let ticking = wait.quiet.is_some() || wait.half_close_after.is_some();
    let mut last_data = start;
    let mut half_closed = false;
    let mut buf = [0u8; 16 * 1024];
    loop {
        let now = Instant::now();
        if let Some(after) = wait.half_close_after {
            if !half_closed && out.is_empty() && now - start >= after {
                let _ = stream.shutdown(Shutdown::Write);
                half_closed = true;
            }
        }
        if now >= deadline {
            return Drained {
                bytes: out,
                closed: false,
            };
        }
        let left = deadline - now;
        let _ = stream.set_read_timeout(Some(if ticking { TICK.min(left) } else { left }));
        match stream.read(&mut buf) {
            Ok(0) => {
                return Drained {
                    bytes: out,
                    closed: true,
                }
            }
            Ok(n) => {
                let keep = n.min(wait.max_bytes.saturating_sub(out.len()));
                out.extend_from_slice(&buf[..keep]);
                last_data = Instant::now();
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(_) => {
                return Drained {
                    bytes: out,
                    closed: true,
                }
            }
        }
        if let Some(quiet) = wait.quiet {
            if last_data.elapsed() > quiet && has_whole_response(&out) {
                return Drained {
                    bytes: out,
                    closed: false,
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A server that reads `n` bytes, answers `reply` and then closes or keeps the connection.
    fn server(
        n: usize,
        reply: &'static [u8],
        close: bool,
    ) -> (SocketAddr, std::thread::JoinHandle<Vec<u8>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut got = vec![0; n];
            s.read_exact(&mut got).unwrap();
            s.write_all(reply).unwrap();
            if !close {
                // wait for the client to go away
                let mut rest = Vec::new();
                let _ = s.read_to_end(&mut rest);
            }
            got
        });
        (addr, h)
    }

    #[test]
    fn exchange_reads_until_close() {
        let (addr, h) = server(5, b"HTTP/1.1 400 Bad Request\r\n\r\nwhatever", true);
        let d = exchange(addr, b"\x00\x01bad", Duration::from_secs(5)).unwrap();
        assert!(d.closed);
        assert_eq!(d.text(), "HTTP/1.1 400 Bad Request\r\n\r\nwhatever");
        assert_eq!(h.join().unwrap(), b"\x00\x01bad");
    }

    #[test]
    fn timeout_when_the_peer_stays() {
        let (addr, h) = server(1, b"partial", false);
        let mut c = RawConn::connect(addr).unwrap();
        c.send(b"x").unwrap();
        let t = Instant::now();
        let d = c.read_to_close(Duration::from_millis(200));
        assert!(t.elapsed() >= Duration::from_millis(200));
        assert_eq!((d.bytes.as_slice(), d.closed), (&b"partial"[..], false));
        drop(c);
        h.join().unwrap();
    }

    #[test]
    fn quiet_after_a_whole_reply() {
        let (addr, h) = server(1, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false);
        let mut c = RawConn::connect(addr).unwrap();
        c.send(b"x").unwrap();
        let t = Instant::now();
        let d = c.read(&Wait {
            timeout: Duration::from_secs(10),
            quiet: Some(Duration::from_millis(10)),
            half_close_after: None,
            max_bytes: usize::MAX,
        });
        assert!(t.elapsed() < Duration::from_secs(5));
        assert!(!d.closed);
        assert_eq!(d.text(), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        drop(c);
        h.join().unwrap();
    }

    #[test]
    fn max_bytes_keeps_the_start() {
        let (addr, h) = server(1, b"HTTP/1.1 200 OK\r\n\r\n", true);
        let mut c = RawConn::connect(addr).unwrap();
        c.send(b"x").unwrap();
        let d = c.read(&Wait {
            max_bytes: 4,
            ..Wait::close(Duration::from_secs(10))
        });
        assert_eq!((d.bytes.as_slice(), d.closed), (&b"HTTP"[..], true));
        h.join().unwrap();
    }

    #[test]
    fn half_close_when_nothing_comes() {
        // the server answers only once the client half-closes (it reads to EOF first)
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut got = Vec::new();
            s.read_to_end(&mut got).unwrap();
            s.write_all(b"bye").unwrap();
        });
        let mut c = RawConn::connect(addr).unwrap();
        c.send(b"hello").unwrap();
        let d = c.read(&Wait {
            timeout: Duration::from_secs(10),
            quiet: None,
            half_close_after: Some(Duration::from_millis(50)),
            max_bytes: usize::MAX,
        });
        assert_eq!((d.bytes.as_slice(), d.closed), (&b"bye"[..], true));
        h.join().unwrap();
    }
}
