//! Request building. Every request is `METHOD path HTTP/1.1`, `Host`, the caller's headers in
//! order, `Content-Length`, the blank line and the body. A loop that sends the same head many
//! times builds it once with [`prefix`] and then only appends each body with [`frame`].

/// One request (borrowing its parts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub headers: Vec<(&'a str, &'a str)>,
    pub body: &'a [u8],
}

impl<'a> Request<'a> {
    pub fn new(method: &'a str, path: &'a str) -> Request<'a> {
        Request {
            method,
            path,
            headers: Vec::new(),
            body: b"",
        }
    }

    pub fn post(path: &'a str) -> Request<'a> {
        Request::new("POST", path)
    }

    /// `POST /` with `Content-Type: text/plain`: one SQL request.
    pub fn sql(text: &'a str) -> Request<'a> {
        Request::post("/")
            .content_type("text/plain")
            .body(text.as_bytes())
    }

    pub fn header(mut self, name: &'a str, value: &'a str) -> Request<'a> {
        self.headers.push((name, value));
        self
    }

    pub fn content_type(self, value: &'a str) -> Request<'a> {
        self.header("Content-Type", value)
    }

    /// `Authorization: <value>` (e.g. `Bearer <token>`).
    pub fn authorization(self, value: &'a str) -> Request<'a> {
        self.header("Authorization", value)
    }

    pub fn body(mut self, body: &'a [u8]) -> Request<'a> {
        self.body = body;
        self
    }

    /// The whole request, for `Host: host`, in `out` (cleared first).
    pub fn encode(&self, host: &str, out: &mut Vec<u8>) {
        out.clear();
        push_prefix(out, self.method, self.path, host, &self.headers);
        push_length_and_body(out, self.body);
    }
}

fn push_prefix(out: &mut Vec<u8>, method: &str, path: &str, host: &str, headers: &[(&str, &str)]) {
    for part in [method, " ", path, " HTTP/1.1\r\nHost: ", host, "\r\n"] {
        out.extend_from_slice(part.as_bytes());
    }
    for (name, value) in headers {
        for part in [name, ": ", value, "\r\n"] {
            out.extend_from_slice(part.as_bytes());
        }
    }
    out.extend_from_slice(b"Content-Length: ");
}

fn push_length_and_body(out: &mut Vec<u8>, body: &[u8]) {
    push_decimal(out, body.len());
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(body);
}

/// A request head up to the value of `Content-Length`, to be completed by [`frame`].
pub fn prefix(method: &str, path: &str, host: &str, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    push_prefix(&mut out, method, path, host, headers);
    out
}

/// Writes a whole request in `out` (cleared first): `prefix` (see [`prefix`]), the length of
/// `body`, the blank line and `body`. Allocates only when `out` must grow.
pub fn frame(out: &mut Vec<u8>, prefix: &[u8], body: &[u8]) {
    out.clear();
    out.extend_from_slice(prefix);
    push_length_and_body(out, body);
}

/// Appends `n` in decimal.
pub fn push_decimal(out: &mut Vec<u8>, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests() {
        let mut out = Vec::new();
        Request::sql("select 1").encode("h:1", &mut out);
        assert_eq!(
            out,
            b"POST / HTTP/1.1\r\nHost: h:1\r\nContent-Type: text/plain\r\nContent-Length: 8\r\n\r\nselect 1"
        );
        Request::new("GET", "/x?y")
            .authorization("Bearer t")
            .header("X-A", "b")
            .encode("h", &mut out);
        assert_eq!(
            out,
            b"GET /x?y HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer t\r\nX-A: b\r\nContent-Length: 0\r\n\r\n"
        );
    }

    #[test]
    fn prefix_and_frame_match_encode() {
        let p = prefix("POST", "/s/t", "h:1", &[("Content-Type", "text/csv")]);
        let mut framed = Vec::new();
        let mut encoded = Vec::new();
        for body in [&b""[..], b"1, 2", &[b'x'; 12345]] {
            frame(&mut framed, &p, body);
            Request::post("/s/t")
                .content_type("text/csv")
                .body(body)
                .encode("h:1", &mut encoded);
            assert_eq!(framed, encoded);
        }
        assert!(framed.starts_with(b"POST /s/t HTTP/1.1\r\nHost: h:1\r\nContent-Type: text/csv\r\nContent-Length: 12345\r\n\r\nxx"));
    }

    #[test]
    fn decimals() {
        for n in [0, 7, 10, 99, 12345, usize::MAX] {
            let mut out = b"=".to_vec();
            push_decimal(&mut out, n);
            assert_eq!(out, format!("={n}").into_bytes());
        }
    }
}
