//! A tiny blocking HTTP/1.1 keep-alive client for Amelie's SQL endpoint (`POST /`, text/plain).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Upper bound on the status line plus headers of one response.
const MAX_HEAD: usize = 64 * 1024;
/// How long a request may wait for its reply before it counts as an I/O error.
const IO_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
    /// The server announced `Connection: close`.
    pub close: bool,
}

impl Response {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `msg` of an error reply (`{"msg": "..."}`), else a description of the status and body.
    pub fn error_message(&self) -> String {
        if let Some(msg) = json_msg(&self.body) {
            return msg;
        }
        let body = self.body_text();
        let body = body.trim();
        if body.is_empty() {
            format!("HTTP {}", self.status)
        } else {
            format!("HTTP {}: {}", self.status, body)
        }
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Reads one line ending in `\n` (without it, and without a trailing `\r`).
fn read_line<R: BufRead>(r: &mut R, line: &mut Vec<u8>, head: &mut usize) -> io::Result<()> {
    line.clear();
    let limit = (MAX_HEAD - *head) as u64 + 1;
    let n = r.by_ref().take(limit).read_until(b'\n', line)?;
    *head += n;
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed by server",
        ));
    }
    if *head > MAX_HEAD {
        return Err(invalid("response header too large".to_string()));
    }
    if line.last() != Some(&b'\n') {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed inside a response header",
        ));
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(())
}

/// `Content-Length`, `Transfer-Encoding` and `Connection` of a response head, line by line.
#[derive(Default)]
struct HeadFields {
    content_length: Option<usize>,
    close: bool,
}

impl HeadFields {
    /// One header line, without its line end.
    fn line(&mut self, line: &[u8]) -> io::Result<()> {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return Err(invalid(format!(
                "malformed header line '{}'",
                String::from_utf8_lossy(line)
            )));
        };
        let name = line[..colon].trim_ascii();
        let value = line[colon + 1..].trim_ascii();
        if name.eq_ignore_ascii_case(b"content-length") {
            let n = std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.parse::<usize>().ok())
                .ok_or_else(|| {
                    invalid(format!(
                        "bad Content-Length '{}'",
                        String::from_utf8_lossy(value)
                    ))
                })?;
            self.content_length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding")
            && !value.eq_ignore_ascii_case(b"identity")
        {
            return Err(invalid(format!(
                "unsupported Transfer-Encoding '{}'",
                String::from_utf8_lossy(value)
            )));
        } else if name.eq_ignore_ascii_case(b"connection") {
            self.close = value.eq_ignore_ascii_case(b"close");
        }
        Ok(())
    }
}

/// Statuses whose responses never carry a body, whatever their headers say.
fn has_no_body(status: u16) -> bool {
    status == 204 || status == 304 || (100..200).contains(&status)
}

/// The status line and headers of a response, as found by [`parse_head`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    /// Bytes of the status line and headers, the blank line included.
    pub len: usize,
    /// Bytes of body after the head: `Content-Length`, 0 without one and for 204/304/1xx.
    pub body_len: usize,
    /// The server announced `Connection: close`.
    pub close: bool,
}

impl Head {
    /// Bytes of the whole response.
    pub fn total(&self) -> usize {
        self.len + self.body_len
    }
}

/// Parses the response head at the start of `buf`, which may hold only part of it (a
/// non-blocking read): `Ok(None)` until the blank line that ends the head has arrived.
/// The body is complete once `buf.len() >= head.total()`.
pub fn parse_head(buf: &[u8]) -> io::Result<Option<Head>> {
    let mut fields = HeadFields::default();
    let mut status = None;
    let mut start = 0;
    loop {
        let Some(nl) = buf[start..].iter().position(|&b| b == b'\n') else {
            if buf.len() > MAX_HEAD {
                return Err(invalid("response header too large".to_string()));
            }
            return Ok(None);
        };
        let end = start + nl + 1;
        if end > MAX_HEAD {
            return Err(invalid("response header too large".to_string()));
        }
        let mut line = &buf[start..start + nl];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        start = end;
        match status {
            None => status = Some(parse_status_line(line)?),
            Some(status) if line.is_empty() => {
                let body_len = if has_no_body(status) {
                    0
                } else {
                    fields.content_length.unwrap_or(0)
                };
                return Ok(Some(Head {
                    status,
                    len: end,
                    body_len,
                    close: fields.close,
                }));
            }
            Some(_) => fields.line(line)?,
        }
    }
}

/// Parses one response: status line, headers, then a `Content-Length` body
/// (or, without one, an empty body — or everything up to EOF on `Connection: close`).
pub fn read_response<R: BufRead>(r: &mut R) -> io::Result<Response> {
    let mut line = Vec::with_capacity(64);
    let mut head = 0;
    read_line(r, &mut line, &mut head)?;
    let status = parse_status_line(&line)?;

    let mut fields = HeadFields::default();
    loop {
        read_line(r, &mut line, &mut head)?;
        if line.is_empty() {
            break;
        }
        fields.line(&line)?;
    }
    let close = fields.close;

    let mut body = Vec::new();
    match fields.content_length {
        _ if has_no_body(status) => {}
        Some(n) => {
            body.resize(n, 0);
            r.read_exact(&mut body).map_err(|e| {
                if e.kind() == io::ErrorKind::UnexpectedEof {
                    io::Error::new(e.kind(), "connection closed inside a response body")
                } else {
                    e
                }
            })?;
        }
        None if close => {
            r.read_to_end(&mut body)?;
        }
        None => {}
    }
    Ok(Response {
        status,
        body,
        close,
    })
}

fn parse_status_line(line: &[u8]) -> io::Result<u16> {
    let text = String::from_utf8_lossy(line);
    let mut parts = text.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    let code = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") || code.len() != 3 {
        return Err(invalid(format!("malformed status line '{text}'")));
    }
    code.parse::<u16>()
        .map_err(|_| invalid(format!("malformed status line '{text}'")))
}

/// Turns `http://host:port[/]` (scheme optional, port defaults to 3485) into `host:port`.
pub fn parse_uri(uri: &str) -> Result<String, String> {
    let rest = if let Some(r) = uri.strip_prefix("http://") {
        r
    } else if uri.contains("://") {
        return Err(format!("{uri}: only http:// is supported"));
    } else {
        uri
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if !(path.is_empty() || path == "/") {
        return Err(format!("{uri}: SQL is always posted to '/', give no path"));
    }
    if authority.is_empty() || authority.starts_with(':') {
        return Err(format!("{uri}: missing host"));
    }
    // `[::1]:3485` or `host:3485`; a bare IPv6 address needs brackets.
    let port_sep = match authority.rfind(']') {
        Some(close) => authority[close..].find(':').map(|i| close + i),
        None => authority.rfind(':'),
    };
    match port_sep {
        Some(i) => {
            let port = &authority[i + 1..];
            if port.parse::<u16>().is_err() {
                return Err(format!("{uri}: bad port '{port}'"));
            }
            Ok(authority.to_string())
        }
        None => Ok(format!("{authority}:3485")),
    }
}

/// The `msg` string of a body that is exactly a JSON object `{"msg": "..."}`.
pub fn json_msg(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let mut p = JsonCursor {
        s: text.as_bytes(),
        i: 0,
    };
    p.ws();
    p.eat(b'{')?;
    p.ws();
    if p.string()? != "msg" {
        return None;
    }
    p.ws();
    p.eat(b':')?;
    p.ws();
    let msg = p.string()?;
    p.ws();
    p.eat(b'}')?;
    p.ws();
    (p.i == p.s.len()).then_some(msg)
}

struct JsonCursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl JsonCursor<'_> {
    fn ws(&mut self) {
        while matches!(self.s.get(self.i), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.s.get(self.i) == Some(&c)).then(|| self.i += 1)
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.s.get(self.i..self.i + 4)?;
        self.i += 4;
        u32::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
    }

    fn string(&mut self) -> Option<String> {
        self.eat(b'"')?;
        let mut out = Vec::new();
        loop {
            let c = *self.s.get(self.i)?;
            self.i += 1;
            match c {
                b'"' => return String::from_utf8(out).ok(),
                b'\\' => {
                    let e = *self.s.get(self.i)?;
                    self.i += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                self.eat(b'\\')?;
                                self.eat(b'u')?;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return None;
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            char::from_u32(code)?
                        }
                        _ => return None,
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                _ => out.push(c),
            }
        }
    }
}

/// One keep-alive connection to the server.
pub struct Client {
    addr: String,
    conn: BufReader<TcpStream>,
    request: Vec<u8>,
}

impl Client {
    pub fn connect(addr: &str) -> io::Result<Client> {
        let conn = Self::open(addr)?;
        Ok(Client {
            addr: addr.to_string(),
            conn,
            request: Vec::with_capacity(4096),
        })
    }

    fn open(addr: &str) -> io::Result<BufReader<TcpStream>> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        Ok(BufReader::with_capacity(16 * 1024, stream))
    }

    /// Replaces the connection with a fresh one (after an I/O error or `Connection: close`).
    pub fn reconnect(&mut self) -> io::Result<()> {
        self.conn = Self::open(&self.addr)?;
        Ok(())
    }

    /// Posts one SQL transaction and reads its reply.
    pub fn post(&mut self, sql: &[u8]) -> io::Result<Response> {
        self.request.clear();
        write!(
            self.request,
            "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            sql.len()
        )?;
        self.request.extend_from_slice(sql);
        self.conn.get_mut().write_all(&self.request)?;
        let response = read_response(&mut self.conn)?;
        // A 403 (or anything with Connection: close) ends the connection on the server side.
        if response.close || response.status == 403 {
            self.reconnect()?;
        }
        Ok(response)
    }

    /// Posts `sql` and turns any non-2xx reply into an error carrying the server's message.
    pub fn execute(&mut self, sql: &str) -> Result<Response, String> {
        let response = self
            .post(sql.as_bytes())
            .map_err(|e| format!("{}: {e}", self.addr))?;
        if response.is_success() {
            Ok(response)
        } else {
            Err(response.error_message())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn parse_all(bytes: &[u8]) -> Vec<io::Result<Response>> {
        let mut r = Cursor::new(bytes.to_vec());
        let mut out = Vec::new();
        while (r.position() as usize) < bytes.len() {
            let res = read_response(&mut r);
            let stop = res.is_err();
            out.push(res);
            if stop {
                break;
            }
        }
        out
    }

    #[test]
    fn ok_with_body() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nContent-Type: application/json\r\n\r\n[1, 2]\n";
        let r = read_response(&mut Cursor::new(&raw[..])).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, b"[1, 2]\n");
        assert!(r.is_success());
        assert!(!r.close);
    }

    #[test]
    fn keep_alive_sequence() {
        let raw = b"HTTP/1.1 204 No Content\r\n\r\n\
HTTP/1.1 400 Bad Request\r\nContent-Length: 45\r\nContent-Type: application/json\r\n\r\n{\"msg\": \"table 'x': not exists \\\"q\\\" \\u00e9\"}\
HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\n[1]";
        let rs: Vec<Response> = parse_all(raw).into_iter().map(Result::unwrap).collect();
        assert_eq!(rs.len(), 3);
        assert_eq!(rs[0].status, 204);
        assert!(rs[0].body.is_empty());
        assert_eq!(rs[1].status, 400);
        assert!(!rs[1].is_success());
        assert_eq!(rs[1].error_message(), "table 'x': not exists \"q\" é");
        assert_eq!(rs[2].status, 200);
        assert_eq!(rs[2].body, b"[1]");
    }

    #[test]
    fn bare_lf_and_header_spacing() {
        let raw = b"HTTP/1.1 200 OK\nContent-Length:2\n\nok";
        let r = read_response(&mut Cursor::new(&raw[..])).unwrap();
        assert_eq!(r.body, b"ok");
    }

    #[test]
    fn no_content_length() {
        // keep-alive without a length: empty body, the next response follows
        let raw = b"HTTP/1.1 200 OK\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
        let rs = parse_all(raw);
        assert_eq!(rs.len(), 2);
        assert!(rs[0].as_ref().unwrap().body.is_empty());
        // Connection: close without a length: body runs to EOF
        let raw = b"HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\nnope";
        let r = read_response(&mut Cursor::new(&raw[..])).unwrap();
        assert_eq!(
            (r.status, r.close, r.body_text().as_str()),
            (403, true, "nope")
        );
        assert_eq!(r.error_message(), "HTTP 403: nope");
    }

    #[test]
    fn no_body_statuses_ignore_length() {
        let raw = b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n";
        let r = read_response(&mut Cursor::new(&raw[..])).unwrap();
        assert!(r.body.is_empty());
        assert_eq!(r.error_message(), "HTTP 204");
    }

    #[test]
    fn malformed() {
        let cases: [&[u8]; 8] = [
            b"",
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
            b"HTTP/1.1 200 OK\r\nContent-Le",
            b"SPDY/3 200 OK\r\n\r\n",
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        ];
        for raw in cases {
            assert!(
                read_response(&mut Cursor::new(raw)).is_err(),
                "accepted {:?}",
                String::from_utf8_lossy(raw)
            );
        }
        let eof = read_response(&mut Cursor::new(&b""[..])).unwrap_err();
        assert_eq!(eof.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn header_limit() {
        let mut raw = b"HTTP/1.1 200 OK\r\n".to_vec();
        while raw.len() <= MAX_HEAD {
            raw.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        raw.extend_from_slice(b"\r\n");
        let err = read_response(&mut Cursor::new(raw)).unwrap_err();
        assert!(err.to_string().contains("too large"));
    }

    #[test]
    fn head_arrives_in_pieces() {
        let raw: &[u8] =
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nContent-Length: 7\r\n\r\n[1, 2]\n";
        let head_len = raw.len() - 7;
        // every prefix shorter than the head is "not yet"; from there the head is known
        for cut in 0..=raw.len() {
            match parse_head(&raw[..cut]).unwrap() {
                None => assert!(cut < head_len, "head not found at {cut}"),
                Some(h) => {
                    assert!(cut >= head_len, "head found too early at {cut}");
                    assert_eq!(
                        h,
                        Head {
                            status: 200,
                            len: head_len,
                            body_len: 7,
                            close: false
                        }
                    );
                    assert_eq!(h.total(), raw.len());
                    // the body is complete only once all of it is there
                    assert_eq!(cut >= h.total(), cut == raw.len());
                }
            }
        }
    }

    #[test]
    fn head_204_and_lengths() {
        let h = parse_head(b"HTTP/1.1 204 No Content\r\ndate: Sun\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!((h.status, h.body_len, h.total()), (204, 0, 38));
        // 204 has no body even if a length is given; 200 without a length has none either
        let h = parse_head(b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(h.body_len, 0);
        let h = parse_head(b"HTTP/1.1 200 OK\n\n").unwrap().unwrap();
        assert_eq!((h.len, h.body_len), (17, 0));
        let h = parse_head(b"HTTP/1.1 400 Bad Request\r\nContent-Length:  14 \r\nConnection: close\r\n\r\n{\"msg\": \"bad\"}")
            .unwrap()
            .unwrap();
        assert_eq!((h.status, h.body_len, h.close), (400, 14, true));
        // two responses back to back: the first head ends where it ends
        let two = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n[1]HTTP/1.1 204 No Content\r\n\r\n";
        let h = parse_head(two).unwrap().unwrap();
        assert_eq!(&two[h.len..h.total()], b"[1]");
        let h2 = parse_head(&two[h.total()..]).unwrap().unwrap();
        assert_eq!((h2.status, h2.total()), (204, two.len() - h.total()));
    }

    #[test]
    fn head_errors() {
        for raw in [
            &b"SPDY/3 200 OK\r\n\r\n"[..],
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        ] {
            assert!(
                parse_head(raw).is_err(),
                "accepted {:?}",
                String::from_utf8_lossy(raw)
            );
        }
        // a bad status line is an error as soon as its line is complete
        assert!(parse_head(b"HTTP/1.1 2000 OK\r\n").is_err());
        assert_eq!(parse_head(b"HTTP/1.1 200").unwrap(), None);
        let mut huge = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        huge.resize(MAX_HEAD + 10, b'a');
        assert!(parse_head(&huge).is_err());
    }

    #[test]
    fn msg_extraction() {
        assert_eq!(json_msg(br#"{"msg": "a"}"#).as_deref(), Some("a"));
        assert_eq!(
            json_msg(b" {\"msg\":\"x\\ny\"} \n").as_deref(),
            Some("x\ny")
        );
        assert_eq!(
            json_msg(br#"{"msg": "\ud83d\ude00 \/ \\"}"#).as_deref(),
            Some("😀 / \\")
        );
        assert_eq!(json_msg(br#"{"msg": "a", "x": 1}"#), None);
        assert_eq!(json_msg(br#"{"other": "a"}"#), None);
        assert_eq!(json_msg(br#"{"msg": "unterminated}"#), None);
        assert_eq!(json_msg(br#"[1]"#), None);
        let r = Response {
            status: 400,
            body: br#"{"msg": "transaction conflict, abort"}"#.to_vec(),
            close: false,
        };
        assert_eq!(r.error_message(), "transaction conflict, abort");
    }

    #[test]
    fn uris() {
        assert_eq!(
            parse_uri("http://127.0.0.1:3485").unwrap(),
            "127.0.0.1:3485"
        );
        assert_eq!(parse_uri("http://127.0.0.1:9/").unwrap(), "127.0.0.1:9");
        assert_eq!(parse_uri("localhost").unwrap(), "localhost:3485");
        assert_eq!(parse_uri("http://[::1]:80").unwrap(), "[::1]:80");
        assert_eq!(parse_uri("http://[::1]").unwrap(), "[::1]:3485");
        assert!(parse_uri("https://h:1").is_err());
        assert!(parse_uri("http://h:1/x").is_err());
        assert!(parse_uri("http://h:99999").is_err());
        assert!(parse_uri("http://:80").is_err());
        assert!(parse_uri("").is_err());
    }

    #[test]
    fn client_round_trip() {
        use std::net::TcpListener;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut r = BufReader::new(stream);
            let mut seen = Vec::new();
            for reply in [
                &b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n[1]"[..],
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 14\r\n\r\n{\"msg\": \"bad\"}",
            ] {
                let mut head = String::new();
                let mut len = 0;
                loop {
                    let mut line = String::new();
                    r.read_line(&mut line).unwrap();
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
                seen.push((head, String::from_utf8(body).unwrap()));
                r.get_mut().write_all(reply).unwrap();
            }
            seen
        });
        let mut c = Client::connect(&addr).unwrap();
        assert_eq!(c.execute("select 1").unwrap().body, b"[1]");
        assert_eq!(c.execute("select x").unwrap_err(), "bad");
        let seen = server.join().unwrap();
        assert!(seen[0].0.starts_with("POST / HTTP/1.1\r\n"));
        assert!(seen[0].0.contains("\r\nContent-Type: text/plain\r\n"));
        assert!(seen[0].0.contains("\r\nContent-Length: 8\r\n"));
        assert_eq!(seen[0].1, "select 1");
        assert_eq!(seen[1].1, "select x");
    }
}
