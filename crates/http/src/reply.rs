//! Reply construction: 200 / 204 / 400 / 403 and the `{"msg": ...}` error body.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONNECTION, CONTENT_TYPE};
use hyper::{Response, StatusCode};

pub(crate) type Reply = Response<Full<Bytes>>;

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
    let mut r = Response::new(Full::new(Bytes::from(body)));
    r.headers_mut().insert(CONTENT_TYPE, METRICS_TEXT);
    r
}

/// 200 with a JSON body (hyper adds `Content-Length`).
pub(crate) fn ok(body: String) -> Reply {
    json(StatusCode::OK, body)
}

/// 204, no body.
pub(crate) fn no_content() -> Reply {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::NO_CONTENT;
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
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::FORBIDDEN;
    r.headers_mut().insert(CONNECTION, CLOSE);
    r
}

fn json(status: StatusCode, body: String) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(body)));
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
