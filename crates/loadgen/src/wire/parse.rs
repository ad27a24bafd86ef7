//! An incremental parser of one HTTP/1.1 response at the start of a byte buffer. It allocates
//! nothing (errors aside): a reader appends what arrives and asks again, so the same code
//! serves a blocking reader and a non-blocking event loop.
//!
//! ```text
//! parse_head(buf)          -> None until the blank line that ends the head, then a Head
//! message_len(buf, &head)  -> None until the whole body is in, then the bytes of the message
//! body(&buf[..len], &head) -> the body (borrowed; decoded into a Vec only when chunked)
//! ```

use std::borrow::Cow;
use std::io;

/// Upper bound on the status line plus headers of one response.
pub const MAX_HEAD: usize = 64 * 1024;

/// How the body of a response is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body: 1xx, 204, 304 (whatever the headers say).
    Empty,
    /// `Content-Length` bytes.
    Length(usize),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Neither: the body runs until the server closes the connection.
    UntilClose,
}

/// The status line and headers of a response, as found by [`parse_head`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    /// Bytes of the status line and headers, the blank line included.
    pub len: usize,
    pub framing: Framing,
    /// The connection ends after this response (`Connection: close`, or HTTP/1.0 without
    /// `Connection: keep-alive`).
    pub close: bool,
}

impl Head {
    /// The same head for a response to `HEAD`, which never has a body.
    pub fn without_body(mut self) -> Head {
        self.framing = Framing::Empty;
        self
    }
}

pub(crate) fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

fn lossy(b: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(b)
}

/// The next line of `buf` from `start`: `(line without its end, index after the '\n')`.
fn line_at(buf: &[u8], start: usize) -> Option<(&[u8], usize)> {
    let nl = buf[start..].iter().position(|&b| b == b'\n')?;
    let line = &buf[start..start + nl];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Some((line, start + nl + 1))
}

/// `HTTP/1.x NNN reason`: the status code and whether the version is 1.0.
fn status_line(line: &[u8]) -> io::Result<(u16, bool)> {
    let bad = || invalid(format!("malformed status line '{}'", lossy(line)));
    let mut parts = line.splitn(3, |&b| b == b' ');
    let version = parts.next().unwrap_or(b"");
    let code = parts.next().unwrap_or(b"");
    if !matches!(version, b"HTTP/1.1" | b"HTTP/1.0")
        || code.len() != 3
        || !code.iter().all(u8::is_ascii_digit)
    {
        return Err(bad());
    }
    let status = code.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    if status < 100 {
        return Err(bad());
    }
    Ok((status, version == b"HTTP/1.0"))
}

/// Whether a comma-separated header value holds `token` (case-insensitive).
fn has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

fn parse_decimal(value: &[u8]) -> Option<usize> {
    if value.is_empty() || value.len() > 18 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        value
            .iter()
            .fold(0usize, |n, d| n * 10 + usize::from(d - b'0')),
    )
}

/// Parses the response head at the start of `buf`, which may hold only part of it:
/// `Ok(None)` until the blank line that ends the head has arrived. A head that is malformed
/// or larger than [`MAX_HEAD`] is an `InvalidData` error as soon as that is known.
pub fn parse_head(buf: &[u8]) -> io::Result<Option<Head>> {
    let too_large = || invalid("response header too large".to_string());
    let Some((first, mut at)) = line_at(buf, 0) else {
        return if buf.len() > MAX_HEAD {
            Err(too_large())
        } else {
            Ok(None)
        };
    };
    let (status, http10) = status_line(first)?;
    let mut length: Option<usize> = None;
    let mut chunked = false;
    let mut close = http10;
    loop {
        if at > MAX_HEAD {
            return Err(too_large());
        }
        let Some((line, next)) = line_at(buf, at) else {
            return if buf.len() > MAX_HEAD {
                Err(too_large())
            } else {
                Ok(None)
            };
        };
        if next > MAX_HEAD {
            return Err(too_large());
        }
        at = next;
        if line.is_empty() {
            break;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return Err(invalid(format!("malformed header line '{}'", lossy(line))));
        };
        let name = line[..colon].trim_ascii();
        let value = line[colon + 1..].trim_ascii();
        if name.is_empty() || name.iter().any(|b| b.is_ascii_whitespace()) {
            return Err(invalid(format!("malformed header line '{}'", lossy(line))));
        }
        if name.eq_ignore_ascii_case(b"content-length") {
            let n = parse_decimal(value)
                .ok_or_else(|| invalid(format!("bad Content-Length '{}'", lossy(value))))?;
            if length.is_some_and(|m| m != n) {
                return Err(invalid("conflicting Content-Length headers".to_string()));
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            let last = value
                .rsplit(|&b| b == b',')
                .next()
                .unwrap_or(b"")
                .trim_ascii();
            if last.eq_ignore_ascii_case(b"chunked") {
                chunked = true;
            } else if !last.eq_ignore_ascii_case(b"identity") {
                return Err(invalid(format!(
                    "unsupported Transfer-Encoding '{}'",
                    lossy(value)
                )));
            }
        } else if name.eq_ignore_ascii_case(b"connection") {
            if has_token(value, b"close") {
                close = true;
            } else if has_token(value, b"keep-alive") {
                close = false;
            }
        }
    }
    let framing = match (status, chunked, length) {
        (100..=199 | 204 | 304, _, _) => Framing::Empty,
        (_, true, _) => Framing::Chunked,
        (_, false, Some(n)) => Framing::Length(n),
        (_, false, None) => Framing::UntilClose,
    };
    Ok(Some(Head {
        status,
        len: at,
        framing,
        close,
    }))
}

/// Walks the chunked body at the start of `buf`, handing each piece of data to `data`.
/// `Ok(Some(n))`: the body (last chunk and trailers included) is `buf[..n]`; `Ok(None)`: not
/// all of it has arrived.
fn walk_chunks(buf: &[u8], mut data: impl FnMut(&[u8])) -> io::Result<Option<usize>> {
    let mut at = 0;
    loop {
        let Some((line, next)) = line_at(buf, at) else {
            return Ok(None);
        };
        let digits = line
            .split(|&b| b == b';')
            .next()
            .unwrap_or(b"")
            .trim_ascii();
        let bad = || invalid(format!("bad chunk size line '{}'", lossy(line)));
        if digits.is_empty() || digits.len() > 15 || !digits.iter().all(u8::is_ascii_hexdigit) {
            return Err(bad());
        }
        let size = digits.iter().fold(0usize, |n, &d| {
            n * 16 + (d as char).to_digit(16).unwrap_or(0) as usize
        });
        at = next;
        if size == 0 {
            // trailer lines, up to the blank line
            loop {
                let Some((line, next)) = line_at(buf, at) else {
                    return Ok(None);
                };
                at = next;
                if line.is_empty() {
                    return Ok(Some(at));
                }
            }
        }
        if buf.len() < at + size {
            return Ok(None);
        }
        let end = at + size;
        match &buf[end..] {
            [b'\r', b'\n', ..] => at = end + 2,
            [b'\n', ..] => at = end + 1,
            [] | [b'\r'] => return Ok(None),
            _ => return Err(invalid("chunk data not followed by CRLF".to_string())),
        }
        data(&buf[end - size..end]);
    }
}

/// The bytes of the whole response at the start of `buf` (head included) once all of it has
/// arrived, else `None`. A response delimited by the end of the connection
/// ([`Framing::UntilClose`]) is never complete here: it is `buf` once the reader sees EOF.
pub fn message_len(buf: &[u8], head: &Head) -> io::Result<Option<usize>> {
    Ok(match head.framing {
        Framing::Empty => Some(head.len),
        Framing::Length(n) => Some(head.len + n).filter(|&total| buf.len() >= total),
        Framing::Chunked => walk_chunks(&buf[head.len..], |_| {})?.map(|n| head.len + n),
        Framing::UntilClose => None,
    })
}

/// The body of the complete response `message` (exactly the bytes [`message_len`] counted, or
/// all of them for [`Framing::UntilClose`]): borrowed, except a chunked body, which is decoded.
pub fn body<'a>(message: &'a [u8], head: &Head) -> io::Result<Cow<'a, [u8]>> {
    let rest = &message[head.len.min(message.len())..];
    Ok(match head.framing {
        Framing::Empty => Cow::Borrowed(&[]),
        Framing::Length(n) => Cow::Borrowed(&rest[..n.min(rest.len())]),
        Framing::UntilClose => Cow::Borrowed(rest),
        Framing::Chunked => {
            let mut out = Vec::new();
            match walk_chunks(rest, |d| out.extend_from_slice(d))? {
                Some(_) => Cow::Owned(out),
                None => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "incomplete chunked body",
                    ))
                }
            }
        }
    })
}

/// The status line of a head (without its line end).
pub fn status_line_of(head_bytes: &[u8]) -> &[u8] {
    line_at(head_bytes, 0).map_or(head_bytes, |(l, _)| l)
}

/// The header lines of a head that [`parse_head`] accepted, as trimmed `(name, value)`.
pub fn headers(head_bytes: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let mut at = line_at(head_bytes, 0).map_or(head_bytes.len(), |(_, next)| next);
    std::iter::from_fn(move || {
        let (line, next) = line_at(head_bytes, at)?;
        at = next;
        if line.is_empty() {
            return None;
        }
        let colon = line.iter().position(|&b| b == b':')?;
        Some((line[..colon].trim_ascii(), line[colon + 1..].trim_ascii()))
    })
}

/// Whether `bytes` begins with at least one whole response (used to stop reading raw replies).
/// Bytes that do not parse as a response count as whole: nothing more will make them one.
pub fn has_whole_response(bytes: &[u8]) -> bool {
    match parse_head(bytes) {
        Ok(Some(head)) => !matches!(message_len(bytes, &head), Ok(None)),
        Ok(None) => false,
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(raw: &[u8]) -> Head {
        parse_head(raw).unwrap().unwrap()
    }

    /// Parses a whole response from `raw`; `eof` says the connection ended after it.
    fn whole(raw: &[u8]) -> (Head, Vec<u8>, usize) {
        let h = head(raw);
        let n = message_len(raw, &h).unwrap().unwrap_or(raw.len());
        let b = body(&raw[..n], &h).unwrap().into_owned();
        (h, b, n)
    }

    #[test]
    fn content_length() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nContent-Type: application/json\r\n\r\n[1, 2]\n";
        let (h, b, n) = whole(raw);
        assert_eq!(h.status, 200);
        assert_eq!(h.framing, Framing::Length(7));
        assert!(!h.close);
        assert_eq!(b, b"[1, 2]\n");
        assert_eq!(n, raw.len());
        let names: Vec<_> = headers(&raw[..h.len]).map(|(n, _)| lossy(n)).collect();
        assert_eq!(names, ["Content-Length", "Content-Type"]);
        assert_eq!(status_line_of(raw), b"HTTP/1.1 200 OK");
    }

    #[test]
    fn every_split_point() {
        // the head, then the body, arriving one byte at a time: never an error, never early
        for raw in [
            &b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello"[..],
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2;x=y\r\nlo\r\n0\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\n\r\n",
        ] {
            for cut in 0..raw.len() {
                let part = &raw[..cut];
                if let Some(h) = parse_head(part).unwrap() {
                    assert_eq!(message_len(part, &h).unwrap(), None, "{cut}");
                }
                assert!(!has_whole_response(part));
            }
            let (_, b, n) = whole(raw);
            assert_eq!(n, raw.len());
            assert!(b.is_empty() || b == b"hello");
            assert!(has_whole_response(raw));
        }
    }

    #[test]
    fn chunked() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n4\r\nWiki\r\nB\r\npedia in \r\n\r\n0\r\nX-Trailer: 1\r\n\r\nHTTP/1.1 204";
        let (h, b, n) = whole(raw);
        assert_eq!(h.framing, Framing::Chunked);
        assert_eq!(b, b"Wikipedia in \r\n");
        assert_eq!(&raw[n..], b"HTTP/1.1 204");
        // bare LF and upper-case hex
        let raw = b"HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n1F\n0123456789abcdef0123456789abcde\n0\n\n";
        let (_, b, n) = whole(raw);
        assert_eq!(b.len(), 31);
        assert_eq!(n, raw.len());
        // Transfer-Encoding wins over Content-Length
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n";
        assert_eq!(whole(raw).1, b"x");
    }

    #[test]
    fn chunked_errors() {
        for raw in [
            &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"[..],
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
        ] {
            let h = head(raw);
            assert!(message_len(raw, &h).is_err(), "{}", lossy(raw));
            assert!(has_whole_response(raw));
        }
        // an incomplete chunked body cannot be decoded
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab";
        let err = body(raw, &head(raw)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn framing_rules() {
        assert_eq!(
            head(b"HTTP/1.1 204 No Content\r\n\r\n").framing,
            Framing::Empty
        );
        // no body for 204/304/1xx even with a length
        for s in ["204 No Content", "304 Not Modified", "100 Continue"] {
            let raw = format!("HTTP/1.1 {s}\r\nContent-Length: 5\r\n\r\n");
            assert_eq!(head(raw.as_bytes()).framing, Framing::Empty, "{s}");
        }
        let h = head(b"HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\nnope");
        assert_eq!((h.framing, h.close), (Framing::UntilClose, true));
        assert_eq!(message_len(b"", &h).unwrap(), None);
        let raw = b"HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\nnope";
        assert_eq!(&*body(raw, &h).unwrap(), b"nope");
        // HTTP/1.0 closes unless told otherwise
        assert!(head(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").close);
        assert!(
            !head(b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n").close
        );
        assert!(
            head(b"HTTP/1.1 200 OK\r\nConnection: upgrade, Close\r\nContent-Length: 0\r\n\r\n")
                .close
        );
        // spacing, bare LF, a repeated equal length
        let h = head(b"HTTP/1.1 400 Bad Request\nContent-Length:  14 \nContent-Length: 14\n\n");
        assert_eq!((h.status, h.framing), (400, Framing::Length(14)));
        assert_eq!(head(b"HTTP/1.1 200 OK\n\n").len, 17);
        assert_eq!(
            head(b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n").status,
            200
        );
        assert_eq!(
            head(b"HTTP/1.1 200 OK\r\nX: a\r\n\r\n")
                .without_body()
                .framing,
            Framing::Empty
        );
    }

    #[test]
    fn back_to_back() {
        let two = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n[1]HTTP/1.1 204 No Content\r\n\r\n";
        let (_, b, n) = whole(two);
        assert_eq!(b, b"[1]");
        let (h2, _, n2) = whole(&two[n..]);
        assert_eq!((h2.status, n + n2), (204, two.len()));
    }

    #[test]
    fn malformed_heads_are_errors() {
        for raw in [
            &b"SPDY/3 200 OK\r\n\r\n"[..],
            b"HTTP/2 200 OK\r\n\r\n",
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"HTTP/1.1 20x OK\r\n\r\n",
            b"HTTP/1.1 099 Low\r\n\r\n",
            b"\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
            b"HTTP/1.1 200 OK\r\n: no name\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nbad name: x\r\n\r\n",
            b"\xff\xfe\x00garbage\n",
        ] {
            assert!(parse_head(raw).is_err(), "accepted {:?}", lossy(raw));
            assert!(has_whole_response(raw));
        }
        // a bad status line is an error as soon as its line is complete
        assert!(parse_head(b"HTTP/1.1 2000 OK\r\n").is_err());
        assert_eq!(parse_head(b"HTTP/1.1 200").unwrap(), None);
        assert_eq!(parse_head(b"").unwrap(), None);
    }

    #[test]
    fn head_size_limit() {
        let mut huge = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        huge.resize(MAX_HEAD + 10, b'a');
        assert!(parse_head(&huge).is_err());
        let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
        while many.len() <= MAX_HEAD {
            many.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        let err = parse_head(&many).unwrap_err();
        assert!(err.to_string().contains("too large"), "{err}");
        many.extend_from_slice(b"\r\n");
        assert!(parse_head(&many).is_err());
    }
}
