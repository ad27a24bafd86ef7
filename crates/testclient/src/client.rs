//! A blocking HTTP/1.1 keep-alive connection: one request, then its response, on one socket.
//! Reads go into the connection's own buffer and are parsed by [`crate::parse`], so bytes of a
//! next (pipelined) response stay for the next [`Client::read_response`].

use crate::encode::Request;
use crate::json_msg;
use crate::parse::{self, Framing, Head};
use crate::raw::{self, Drained, Wait};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Read and write timeout of a new connection: a hung server fails the caller instead of
/// hanging it.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Upper bound on the time to open a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const READ_CHUNK: usize = 16 * 1024;

/// One response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status line without its line end, e.g. `HTTP/1.1 200 OK`.
    pub status_line: String,
    pub status: u16,
    /// In the order received, names as sent.
    pub headers: Vec<(String, String)>,
    /// Decoded when chunked.
    pub body: Vec<u8>,
    /// The connection ends after this response (`Connection: close`, or an HTTP/1.0 reply).
    pub close: bool,
}

impl Response {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as (lossy) UTF-8.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `msg` of an error reply (`{"msg": "..."}`), else the status and the body.
    pub fn error_message(&self) -> String {
        if let Some(msg) = json_msg(&self.body) {
            return msg;
        }
        let body = self.text();
        let body = body.trim();
        if body.is_empty() {
            format!("HTTP {}", self.status)
        } else {
            format!("HTTP {}: {}", self.status, body)
        }
    }
}

/// One keep-alive connection.
pub struct Client {
    addr: SocketAddr,
    /// The `Host` header.
    host: String,
    timeout: Duration,
    stream: TcpStream,
    /// `input[..filled]` has arrived and is not yet consumed.
    input: Vec<u8>,
    filled: usize,
    /// Scratch for encoding requests.
    out: Vec<u8>,
    /// The last request sent was `HEAD` (its response has no body).
    head_request: bool,
}

impl Client {
    /// Connects to `addr` (`host:port`, resolved; the first address is used), which is also
    /// the `Host` header.
    pub fn connect(addr: &str) -> io::Result<Client> {
        let resolved = addr.to_socket_addrs()?.next().ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, format!("{addr}: no address"))
        })?;
        Client::open(resolved, addr.to_string(), DEFAULT_TIMEOUT)
    }

    /// Connects to `addr` with `timeout` for the reads and writes (and at most 5 s to connect).
    pub fn connect_timeout(addr: SocketAddr, timeout: Duration) -> io::Result<Client> {
        Client::open(addr, addr.to_string(), timeout)
    }

    /// Connects to `127.0.0.1:port`.
    pub fn local(port: u16) -> io::Result<Client> {
        Client::local_timeout(port, DEFAULT_TIMEOUT)
    }

    /// Connects to `127.0.0.1:port` with `timeout` for the reads and writes.
    pub fn local_timeout(port: u16, timeout: Duration) -> io::Result<Client> {
        Client::connect_timeout(SocketAddr::from(([127, 0, 0, 1], port)), timeout)
    }

    fn open(addr: SocketAddr, host: String, timeout: Duration) -> io::Result<Client> {
        let stream = Client::dial(addr, timeout)?;
        Ok(Client {
            addr,
            host,
            timeout,
            stream,
            input: vec![0; READ_CHUNK],
            filled: 0,
            out: Vec::with_capacity(1024),
            head_request: false,
        })
    }

    fn dial(addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        let stream = TcpStream::connect_timeout(&addr, timeout.min(CONNECT_TIMEOUT))?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    /// Replaces the connection with a fresh one to the same address (unread input is dropped).
    pub fn reconnect(&mut self) -> io::Result<()> {
        self.stream = Client::dial(self.addr, self.timeout)?;
        self.filled = 0;
        self.head_request = false;
        Ok(())
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// The read and write timeout from now on.
    pub fn set_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        self.timeout = timeout;
        self.stream.set_read_timeout(Some(timeout))?;
        self.stream.set_write_timeout(Some(timeout))
    }

    pub fn set_read_timeout(&self, timeout: Duration) -> io::Result<()> {
        self.stream.set_read_timeout(Some(timeout))
    }

    /// Writes raw bytes (a request in pieces, a malformed one, several pipelined ones).
    pub fn send_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    /// Sends one request without reading its response.
    pub fn send(&mut self, request: &Request) -> io::Result<()> {
        request.encode(&self.host, &mut self.out);
        self.head_request = request.method.eq_ignore_ascii_case("HEAD");
        self.stream.write_all(&self.out)?;
        self.stream.flush()
    }

    /// Sends one request and reads its response.
    pub fn request(&mut self, request: &Request) -> io::Result<Response> {
        self.send(request)?;
        self.read_response()
    }

    /// `POST /` of `sql` as `text/plain`: the status and the body.
    pub fn sql(&mut self, sql: &str) -> io::Result<(u16, String)> {
        let r = self.request(&Request::sql(sql))?;
        Ok((r.status, r.text()))
    }

    /// `POST /` of `sql`; any non-2xx reply is an error carrying the server's message. When
    /// the reply ends the connection (`Connection: close`, or a 403, which Amelie always
    /// closes), the next request goes on a fresh one.
    pub fn execute(&mut self, sql: &str) -> Result<Response, String> {
        let response = self
            .request(&Request::sql(sql))
            .map_err(|e| format!("{}: {e}", self.host))?;
        if response.close || response.status == 403 {
            self.reconnect()
                .map_err(|e| format!("{}: {e}", self.host))?;
        }
        if response.is_success() {
            Ok(response)
        } else {
            Err(response.error_message())
        }
    }

    /// Reads more input; `Ok(0)` at EOF.
    fn fill(&mut self) -> io::Result<usize> {
        if self.filled == self.input.len() {
            self.input.resize(self.input.len() * 2, 0);
        }
        loop {
            match self.stream.read(&mut self.input[self.filled..]) {
                Ok(n) => {
                    self.filled += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads one response. Errors: `UnexpectedEof` when the server closes before or inside
    /// it, `InvalidData` when it is malformed, `WouldBlock`/`TimedOut` on the read timeout.
    pub fn read_response(&mut self) -> io::Result<Response> {
        let eof = |what: &str| io::Error::new(io::ErrorKind::UnexpectedEof, what.to_string());
        let head: Head = loop {
            if let Some(head) = parse::parse_head(&self.input[..self.filled])? {
                break if self.head_request {
                    head.without_body()
                } else {
                    head
                };
            }
            if self.fill()? == 0 {
                return Err(if self.filled == 0 {
                    eof("connection closed before a response")
                } else {
                    eof("connection closed inside a response head")
                });
            }
        };
        let total = loop {
            if let Some(total) = parse::message_len(&self.input[..self.filled], &head)? {
                break total;
            }
            if self.fill()? == 0 {
                if head.framing == Framing::UntilClose {
                    break self.filled;
                }
                return Err(eof("connection closed inside a response body"));
            }
        };
        let message = &self.input[..total];
        let response = Response {
            status_line: String::from_utf8_lossy(parse::status_line_of(message)).into_owned(),
            status: head.status,
            headers: parse::headers(&message[..head.len])
                .map(|(n, v)| {
                    (
                        String::from_utf8_lossy(n).into_owned(),
                        String::from_utf8_lossy(v).into_owned(),
                    )
                })
                .collect(),
            body: parse::body(message, &head)?.into_owned(),
            close: head.close,
        };
        self.input.copy_within(total..self.filled, 0);
        self.filled -= total;
        Ok(response)
    }

    /// Whether the peer closes the connection (EOF or a reset) within `timeout`: false if
    /// data arrives (or is already buffered) or the time passes.
    pub fn is_closed_by_peer(&mut self, timeout: Duration) -> bool {
        if self.filled > 0 {
            return false;
        }
        let _ = self.set_read_timeout(timeout);
        let mut b = [0u8; 1];
        let closed = match self.stream.read(&mut b) {
            Ok(0) => true,
            Ok(_) => {
                self.input[0] = b[0];
                self.filled = 1;
                false
            }
            Err(e) => matches!(
                e.kind(),
                io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
            ),
        };
        let _ = self.set_read_timeout(self.timeout);
        closed
    }

    /// Everything not yet consumed plus whatever arrives until the peer closes or `timeout`
    /// passes (used after malformed input, to see the raw reply).
    pub fn read_to_close(&mut self, timeout: Duration) -> Drained {
        let buffered = self.input[..self.filled].to_vec();
        self.filled = 0;
        let d = raw::read(&mut self.stream, buffered, &Wait::close(timeout));
        let _ = self.set_read_timeout(self.timeout);
        d
    }

    /// The bytes of [`Client::read_to_close`].
    pub fn read_all(&mut self, timeout: Duration) -> Vec<u8> {
        self.read_to_close(timeout).bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;
    use std::thread::JoinHandle;

    /// A request as a fake server saw it.
    #[derive(Debug)]
    struct Seen {
        head: String,
        body: String,
    }

    fn read_request(r: &mut BufReader<TcpStream>) -> Option<Seen> {
        let mut head = String::new();
        let mut len = 0;
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).unwrap() == 0 {
                return None;
            }
            if let Some(v) = line.strip_prefix("Content-Length: ") {
                len = v.trim().parse().unwrap();
            }
            head.push_str(&line);
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0; len];
        r.read_exact(&mut body).unwrap();
        Some(Seen {
            head,
            body: String::from_utf8(body).unwrap(),
        })
    }

    /// A fake server: one connection per entry of `script`; on each, every request gets the
    /// next reply, written in pieces of `piece` bytes. After its last reply a connection is
    /// closed. Returns the requests per connection.
    fn fake(script: Vec<Vec<&'static [u8]>>, piece: usize) -> (u16, JoinHandle<Vec<Vec<Seen>>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let h = std::thread::spawn(move || {
            let mut all = Vec::new();
            for replies in script {
                let (s, _) = l.accept().unwrap();
                s.set_nodelay(true).unwrap();
                let mut r = BufReader::new(s);
                let mut seen = Vec::new();
                for reply in replies {
                    let Some(req) = read_request(&mut r) else {
                        break;
                    };
                    seen.push(req);
                    for p in reply.chunks(piece) {
                        r.get_mut().write_all(p).unwrap();
                        r.get_mut().flush().unwrap();
                    }
                }
                all.push(seen);
            }
            all
        });
        (port, h)
    }

    const OK: &[u8] =
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 3\r\n\r\n[1]";
    const NONE: &[u8] = b"HTTP/1.1 204 No Content\r\n\r\n";
    const CHUNKED: &[u8] =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n[1,\r\n3\r\n 2]\r\n0\r\n\r\n";
    const ERR: &[u8] = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 14\r\n\r\n{\"msg\": \"bad\"}";

    #[test]
    fn keep_alive_reuse_and_split_reads() {
        for piece in [1, 7, 1000] {
            let (port, h) = fake(vec![vec![OK, NONE, CHUNKED, ERR]], piece);
            let mut c = Client::local(port).unwrap();
            let r = c.sql("select 1").unwrap();
            assert_eq!(r, (200, "[1]".to_string()));
            let r = c.request(&Request::sql("x")).unwrap();
            assert_eq!((r.status, r.body.len(), r.close), (204, 0, false));
            let r = c
                .request(&Request::post("/s/t").content_type("text/csv").body(b"1, 2"))
                .unwrap();
            assert_eq!((r.status, r.text().as_str()), (200, "[1, 2]"));
            assert_eq!(r.header("transfer-encoding"), Some("chunked"));
            assert_eq!(c.execute("bad").unwrap_err(), "bad");
            drop(c);
            let seen = h.join().unwrap();
            assert_eq!(seen.len(), 1, "one connection for all four");
            let s = &seen[0];
            assert_eq!(s.len(), 4);
            assert!(s[0].head.starts_with(&format!(
                "POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: text/plain\r\nContent-Length: 8\r\n"
            )));
            assert_eq!(s[0].body, "select 1");
            assert!(s[2].head.starts_with("POST /s/t HTTP/1.1\r\n"));
            assert!(s[2].head.contains("\r\nContent-Type: text/csv\r\n"));
            assert_eq!(s[2].body, "1, 2");
        }
    }

    #[test]
    fn response_fields() {
        let (port, h) = fake(vec![vec![OK]], 1000);
        let mut c = Client::local(port).unwrap();
        let r = c
            .request(&Request::sql("q").authorization("Bearer t"))
            .unwrap();
        assert_eq!(r.status_line, "HTTP/1.1 200 OK");
        assert_eq!(
            r.headers,
            vec![
                ("Content-Type".to_string(), "application/json".to_string()),
                ("Content-Length".to_string(), "3".to_string())
            ]
        );
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("x-missing"), None);
        assert!(r.is_success());
        drop(c);
        let seen = h.join().unwrap();
        assert!(seen[0][0].head.contains("\r\nAuthorization: Bearer t\r\n"));
    }

    #[test]
    fn pipelined_responses_stay_buffered() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            s.write_all(&[OK, NONE, OK].concat()).unwrap();
            let mut rest = Vec::new();
            let _ = s.read_to_end(&mut rest);
        });
        let mut c = Client::local(port).unwrap();
        assert_eq!(c.read_response().unwrap().status, 200);
        assert_eq!(c.read_response().unwrap().status, 204);
        assert!(
            !c.is_closed_by_peer(Duration::from_millis(10)),
            "a reply is buffered"
        );
        assert_eq!(c.read_response().unwrap().body, b"[1]");
        drop(c);
        h.join().unwrap();
    }

    #[test]
    fn a_server_that_closes() {
        // Connection: close with the body up to EOF, then the peer is gone
        let (port, h) = fake(
            vec![vec![
                b"HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\nnope",
            ]],
            3,
        );
        let mut c = Client::local(port).unwrap();
        let r = c.request(&Request::new("GET", "/")).unwrap();
        assert_eq!((r.status, r.close, r.text().as_str()), (403, true, "nope"));
        assert_eq!(r.error_message(), "HTTP 403: nope");
        assert!(c.is_closed_by_peer(Duration::from_secs(5)));
        let err = c.read_response().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        h.join().unwrap();

        // closed in the middle of a body, and before any reply
        let (port, h) = fake(
            vec![
                vec![b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"],
                vec![],
            ],
            1000,
        );
        let mut c = Client::local(port).unwrap();
        let err = c.sql("x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert!(err.to_string().contains("inside a response body"), "{err}");
        let mut c = Client::local(port).unwrap();
        // the server may already be gone: then the write fails, or the read sees a reset
        let _ = c.send_bytes(b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
        let err = c.read_response().unwrap_err();
        assert!(
            matches!(
                err.kind(),
                io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
            ),
            "{err:?}"
        );
        h.join().unwrap();
    }

    #[test]
    fn execute_reconnects_after_close() {
        let (port, h) = fake(
            vec![
                vec![b"HTTP/1.1 403 Forbidden\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"],
                vec![OK],
            ],
            1000,
        );
        let mut c = Client::local(port).unwrap();
        assert_eq!(c.execute("a").unwrap_err(), "HTTP 403");
        assert_eq!(c.execute("b").unwrap().body, b"[1]");
        drop(c);
        let seen = h.join().unwrap();
        assert_eq!(
            (seen[0][0].body.as_str(), seen[1][0].body.as_str()),
            ("a", "b")
        );
    }

    #[test]
    fn head_responses_have_no_body() {
        let (port, h) = fake(
            vec![vec![b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n", OK]],
            1000,
        );
        let mut c = Client::local(port).unwrap();
        let r = c.request(&Request::new("HEAD", "/")).unwrap();
        assert_eq!((r.status, r.body.len()), (200, 0));
        assert_eq!(c.sql("x").unwrap().1, "[1]");
        drop(c);
        h.join().unwrap();
    }

    #[test]
    fn malformed_responses_are_errors() {
        for reply in [
            &b"SPDY/3 200 OK\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"\x00\x01\x02\r\n\r\n",
        ] {
            let (port, h) = fake(vec![vec![reply]], 1000);
            let mut c = Client::local(port).unwrap();
            let err = c.sql("x").unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
            drop(c);
            h.join().unwrap();
        }
    }

    #[test]
    fn timeouts() {
        // a server that never answers: the read times out instead of hanging
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut rest = Vec::new();
            let _ = s.read_to_end(&mut rest);
        });
        let mut c = Client::local_timeout(port, Duration::from_millis(100)).unwrap();
        let err = c.sql("x").unwrap_err();
        assert!(
            matches!(
                err.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ),
            "{err:?}"
        );
        assert!(!c.is_closed_by_peer(Duration::from_millis(50)));
        let d = c.read_to_close(Duration::from_millis(50));
        assert_eq!((d.bytes.len(), d.closed), (0, false));
        drop(c);
        h.join().unwrap();
        // nothing listens: connecting fails
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        assert!(Client::local(port).is_err());
        assert!(Client::connect("no-such-host.invalid:1").is_err());
    }

    #[test]
    fn read_to_close_keeps_buffered_bytes() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            s.write_all(&[OK, b"HTTP/1.1 400 Bad Request\r\n\r\ntail"].concat())
                .unwrap();
        });
        let mut c = Client::local(port).unwrap();
        assert_eq!(c.read_response().unwrap().status, 200);
        let d = c.read_to_close(Duration::from_secs(5));
        assert!(d.closed);
        assert_eq!(d.text(), "HTTP/1.1 400 Bad Request\r\n\r\ntail");
        h.join().unwrap();
    }

    #[test]
    fn error_messages() {
        let r = Response {
            status_line: String::new(),
            status: 400,
            body: br#"{"msg": "transaction conflict, abort"}"#.to_vec(),
            headers: Vec::new(),
            close: false,
        };
        assert_eq!(r.error_message(), "transaction conflict, abort");
        let r = Response {
            body: Vec::new(),
            status: 500,
            ..r
        };
        assert_eq!(r.error_message(), "HTTP 500");
    }
}
