//! Talking HTTP to the server: the client is the shared dev-only `amelie-testclient` (its
//! parser also drives the `bench load` event loop in `driver.rs`); here are only the
//! addressing of `--uri` and the timeout xtask uses.

use amelie_testclient::{Client, Request, Response};
use std::io;
use std::time::Duration;

/// How long a request may wait for its reply before it counts as an I/O error.
const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// A keep-alive connection to `addr` (`host:port`).
pub fn connect(addr: &str) -> io::Result<Client> {
    let mut c = Client::connect(addr)?;
    c.set_timeout(IO_TIMEOUT)?;
    Ok(c)
}

/// Posts one SQL request (`text/plain`) and reads its reply.
pub fn post(c: &mut Client, sql: &[u8]) -> io::Result<Response> {
    c.request(&Request::post("/").content_type("text/plain").body(sql))
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
