//! Reply construction: 200 / 204 / 400 / 403 and the `{"msg": ...}` error body.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body, Frame, SizeHint};
use hyper::header::{HeaderValue, CONNECTION, CONTENT_TYPE};
use hyper::{Response, StatusCode};

pub(crate) type Reply = Response<ReplyBody>;

/// The body of a reply: a whole buffer, or a file streamed in chunks (a backup file).
pub(crate) enum ReplyBody {
    Full(Full<Bytes>),
    File(FileBody),
}

impl ReplyBody {
    fn full(bytes: impl Into<Bytes>) -> ReplyBody {
        ReplyBody::Full(Full::new(bytes.into()))
    }
}

impl Body for ReplyBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        match self.get_mut() {
            ReplyBody::Full(full) => Pin::new(full)
                .poll_frame(cx)
                .map_err(|never| match never {}),
            ReplyBody::File(file) => file.poll_chunk(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ReplyBody::Full(full) => full.is_end_stream(),
            ReplyBody::File(file) => file.remaining == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ReplyBody::Full(full) => full.size_hint(),
            ReplyBody::File(file) => SizeHint::with_exact(file.remaining),
        }
    }
}

/// Bytes of a file read at a time.
const FILE_CHUNK: usize = 256 * 1024;

/// The first `size` bytes of a file, read by a blocking task (the frontend's runtime never
/// waits for the disk) and handed over in chunks of [`FILE_CHUNK`]; at most two chunks wait.
/// A file shorter than `size` ends the body with an error, so the connection is cut rather
/// than a short body sent under a longer `Content-Length`.
pub(crate) struct FileBody {
    rx: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
    remaining: u64,
}

impl FileBody {
    pub(crate) fn new(file: std::fs::File, size: u64) -> FileBody {
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        if size > 0 {
            tokio::task::spawn_blocking(move || read_chunks(file, size, tx));
        }
        FileBody {
            rx,
            remaining: size,
        }
    }

    fn poll_chunk(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        match self.rx.poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(chunk))) => {
                self.remaining = self.remaining.saturating_sub(chunk.len() as u64);
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
            Poll::Ready(Some(Err(e))) => {
                self.remaining = 0;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                self.remaining = 0;
                Poll::Ready(Some(Err(std::io::Error::other("file reader stopped"))))
            }
        }
    }
}

/// The blocking side of [`FileBody`]: stops at `size` bytes, at the end of the file (an
/// error) or when the body is gone (the client closed the connection).
fn read_chunks(
    mut file: std::fs::File,
    size: u64,
    tx: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
) {
    use std::io::Read;
    let mut left = size;
    while left > 0 {
        let want = usize::try_from(left).unwrap_or(FILE_CHUNK).min(FILE_CHUNK);
        let mut buf = vec![0u8; want];
        let mut got = 0;
        let mut failure = None;
        while got < want {
            match file.read(&mut buf[got..]) {
                Ok(0) => {
                    failure = Some(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the file is shorter than announced",
                    ));
                    break;
                }
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        if got > 0 {
            buf.truncate(got);
            if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                return;
            }
            left -= got as u64;
        }
        if let Some(e) = failure {
            let _ = tx.blocking_send(Err(e));
            return;
        }
    }
}

const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");
const CLOSE: HeaderValue = HeaderValue::from_static("close");

/// Append `text` JSON-escaped (without quotes) to `out`: only `"`, `\` and the control
/// characters `\b \f \n \r \t` are escaped, everything else is copied as is.
pub fn escape_json_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
}

/// The body of an error reply: `{"msg": "<text>"}`.
pub fn error_body(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len() + 12);
    out.push_str("{\"msg\": \"");
    escape_json_into(&mut out, msg);
    out.push_str("\"}");
    out
}

/// The bytes of a 400 `{"msg": "<msg>"}` that closes the connection, for the places that
/// write to the socket without hyper.
pub(crate) fn raw_error_close(msg: &str) -> Vec<u8> {
    raw_reply_close("400 Bad Request", msg)
}

/// The bytes of a `<status>` reply with `{"msg": "<msg>"}` that closes the connection.
pub(crate) fn raw_reply_close(status: &str, msg: &str) -> Vec<u8> {
    let body = error_body(msg);
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The content type of the Prometheus text exposition format.
const METRICS_TEXT: HeaderValue =
    HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8");

/// 200 with the text of `GET /metrics`.
pub(crate) fn metrics(body: String) -> Reply {
    let mut r = Response::new(ReplyBody::full(body));
    r.headers_mut().insert(CONTENT_TYPE, METRICS_TEXT);
    r
}

/// 200 with a JSON body (hyper adds `Content-Length`).
pub(crate) fn ok(body: String) -> Reply {
    json(StatusCode::OK, body)
}

/// 204, no body.
pub(crate) fn no_content() -> Reply {
    let mut r = Response::new(ReplyBody::full(Bytes::new()));
    *r.status_mut() = StatusCode::NO_CONTENT;
    r
}

/// The content type of a backup file.
const OCTET_STREAM: HeaderValue = HeaderValue::from_static("application/octet-stream");

/// 200 `application/octet-stream` with the first `size` bytes of `file` (hyper sets
/// `Content-Length` from the exact size).
pub(crate) fn file(file: std::fs::File, size: u64) -> Reply {
    let mut r = Response::new(ReplyBody::File(FileBody::new(file, size)));
    r.headers_mut().insert(CONTENT_TYPE, OCTET_STREAM);
    r
}

/// 200 without a body, with the `Am-Id` and `Am-Lsn` of a replication reply.
pub(crate) fn repl(id: &str, lsn: u64) -> Reply {
    let mut r = Response::new(ReplyBody::full(Bytes::new()));
    if let Ok(v) = HeaderValue::from_str(id) {
        r.headers_mut().insert(crate::HEADER_ID, v);
    }
    r.headers_mut()
        .insert(crate::HEADER_LSN, HeaderValue::from(lsn));
    r
}

/// 400 `{"msg": "<msg>"}`.
pub(crate) fn error(msg: &str) -> Reply {
    json(StatusCode::BAD_REQUEST, error_body(msg))
}

/// 400 `{"msg": "<msg>"}`, then close the connection.
pub(crate) fn error_close(msg: &str) -> Reply {
    let mut r = error(msg);
    r.headers_mut().insert(CONNECTION, CLOSE);
    r
}

/// 403 without body, then close the connection.
pub(crate) fn forbidden() -> Reply {
    let mut r = Response::new(ReplyBody::full(Bytes::new()));
    *r.status_mut() = StatusCode::FORBIDDEN;
    r.headers_mut().insert(CONNECTION, CLOSE);
    r
}

fn json(status: StatusCode, body: String) -> Reply {
    let mut r = Response::new(ReplyBody::full(body));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, APPLICATION_JSON);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape() {
        assert_eq!(error_body("plain"), r#"{"msg": "plain"}"#);
        assert_eq!(
            error_body("a\"b\\c\nd\re\tf\u{8}g\u{c}h"),
            r#"{"msg": "a\"b\\c\nd\re\tf\bg\fh"}"#
        );
        // Other control characters and non-ASCII text are copied as is.
        assert_eq!(error_body("\u{1}é/"), "{\"msg\": \"\u{1}é/\"}");
        assert_eq!(error_body(""), r#"{"msg": ""}"#);
    }
}
