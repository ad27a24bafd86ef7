//! End-to-end: users, tokens and authentication (spec §1.6, §2.10): CREATE/ALTER/DROP USER,
//! SHOW USERS / USER, `system.users()` / `system.user()`, persistence in `config.json` across
//! restarts, CREATE TOKEN, and `Authorization: Bearer <JWT>` on listeners with and without
//! `"auth": true`.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;

/// `["<string>"]` → the string.
fn single_string(body: &str) -> String {
    match json(body) {
        serde_json::Value::Array(a) if a.len() == 1 => a[0]
            .as_str()
            .unwrap_or_else(|| panic!("string expected in {body}"))
            .to_string(),
        _ => panic!("one-element array expected: {body}"),
    }
}

/// Decodes a base64url text with the server's own `decode()` (also exercises it).
fn b64url_decode(server: &Server, text: &str) -> String {
    single_string(&server.query(&format!(
        "select decode('{text}', 'base64url') format 'json'"
    )))
}

fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[test]
fn user_statements_show_and_persistence() {
    let dir = TestDir::new("users");
    let mut s = Server::start(&dir.repo(), &[]);
    s.expect("show users format 'json'", 200, "[]");
    s.expect("select system.users() format 'json'", 200, "[[]]");
    s.exec("create user test");
    s.expect_error("create user test", "user 'test': already exists");
    s.exec("create user if not exists test");
    s.exec("create user other secret 'xyz'");
    s.expect(
        "show users format 'json'",
        200,
        r#"[{"name": "test"}, {"name": "other"}]"#,
    );
    s.expect("show user test format 'json'", 200, r#"[{"name": "test"}]"#);
    s.expect("show user unknown format 'json'", 200, "[null]");
    s.expect(
        "select system.user('other') format 'json'",
        200,
        r#"[{"name": "other"}]"#,
    );
    s.expect("select system.user('nope') format 'json'", 200, "[null]");
    s.expect(
        "select name format 'json' from system.users()",
        200,
        r#"["test", "other"]"#,
    );
    s.exec("alter user test secret 'abc'");
    s.expect_error("alter user nope secret 'abc'", "user 'nope': not exists");
    s.expect_error("drop user nope", "user 'nope': not exists");
    s.exec("drop user if exists nope");
    s.exec("drop user other");
    s.expect("show users format 'json'", 200, r#"[{"name": "test"}]"#);
    // users are utility statements: alone in a request
    let (status, _) = s.post("create user a; select 1");
    assert_eq!(status, 400);
    // secrets are stored in config.json and never shown
    let config = fs::read_to_string(dir.repo().join("config.json")).expect("config.json");
    assert!(config.contains("\"secret\": \"abc\""), "{config}");
    assert!(!s.query("show users").contains("abc"));
    s.stop();

    let mut s = Server::start(&dir.repo(), &[]);
    s.expect("show users format 'json'", 200, r#"[{"name": "test"}]"#);
    // the secret survived: a token can be created
    assert!(single_string(&s.query("create token test")).starts_with("eyJ"));
    s.stop();
}

#[test]
fn create_token() {
    let dir = TestDir::new("tokens");
    let mut s = Server::start(&dir.repo(), &[]);
    s.expect_error("create token nope", "user 'nope': not exists");
    s.exec("create user test");
    s.expect_error("create token test", "test: user has no secret");
    s.exec("alter user test secret 'abc'");
    let before = now_s();
    let token = single_string(&s.query("create token test expire '1 hour'"));
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    assert_eq!(
        b64url_decode(&s, parts[0]),
        r#"{"alg":"HS256","typ":"JWT"}"#
    );
    let payload_text = b64url_decode(&s, parts[1]);
    let payload = json(&payload_text);
    assert_eq!(payload["sub"], "test");
    let iat = payload["iat"].as_i64().expect("iat");
    let exp = payload["exp"].as_i64().expect("exp");
    assert!(iat >= before - 1 && iat <= now_s() + 1, "{payload_text}");
    assert_eq!(exp - iat, 3600, "{payload_text}");
    // the signature is HMAC-SHA256 with the user's secret, the same as jwt()
    let again = single_string(&s.query(&format!(
        "select jwt('{{\"alg\":\"HS256\",\"typ\":\"JWT\"}}', '{}', 'abc') format 'json'",
        payload_text.replace('\'', "''")
    )));
    assert_eq!(again, token);
    // default expiry: one year
    let token = single_string(&s.query("create token test"));
    let payload = json(&b64url_decode(&s, token.split('.').nth(1).unwrap_or("")));
    let days =
        (payload["exp"].as_i64().unwrap_or(0) - payload["iat"].as_i64().unwrap_or(0)) / 86400;
    assert!(days == 365 || days == 366, "{payload}");
    assert_eq!(s.post("create token test expire 'abc'").0, 400);
    s.stop();
}

/// A server with an open listener and an `"auth": true` listener (the test harness only
/// knows one port, so this test starts the binary itself).
struct AuthServer {
    child: Option<Child>,
    open: u16,
    auth: u16,
}

impl AuthServer {
    fn start(repo: &Path, logs: &Path) -> AuthServer {
        let (open, auth) = (free_port(), free_port());
        let listen = format!(
            "--listen=[{{\"host\": \"127.0.0.1\", \"port\": {open}}}, \
             {{\"host\": \"127.0.0.1\", \"port\": {auth}, \"auth\": true}}]"
        );
        let child = Command::new(BIN)
            .arg("start")
            .arg(repo)
            .args([
                listen.as_str(),
                "--backends=1",
                "--frontends=1",
                "--log_to_stdout=false",
            ])
            .stdin(Stdio::null())
            .stdout(fs::File::create(logs.join("auth.stdout")).expect("stdout file"))
            .stderr(fs::File::create(logs.join("auth.stderr")).expect("stderr file"))
            .spawn()
            .expect("spawn amelie-server");
        let server = AuthServer {
            child: Some(child),
            open,
            auth,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok((200, _)) = Client::local_timeout(open, Duration::from_secs(2))
                .and_then(|mut c| c.sql("select 1"))
            {
                return server;
            }
            assert!(Instant::now() < deadline, "server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `POST /` of `sql` with an optional raw `Authorization` header value.
    fn post(&self, port: u16, authorization: Option<&str>, sql: &str) -> (Response, bool) {
        let mut c = Client::local(port).expect("connect");
        let mut head =
            format!("POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: text/plain\r\n");
        if let Some(a) = authorization {
            head.push_str(&format!("Authorization: {a}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", sql.len()));
        c.send_bytes(format!("{head}{sql}").as_bytes())
            .expect("send");
        let r = c.read_response().expect("response");
        let closed = r.status != 403 || c.is_closed_by_peer(Duration::from_secs(5));
        (r, closed)
    }

    fn status(&self, port: u16, token: Option<&str>) -> u16 {
        let header = token.map(|t| format!("Bearer {t}"));
        let (r, closed) = self.post(port, header.as_deref(), "select 1");
        assert!(closed, "403 must close the connection");
        if r.status == 200 {
            assert_eq!(r.text(), "[1]");
        }
        r.status
    }

    fn sql(&self, sql: &str) -> String {
        let (r, _) = self.post(self.open, None, sql);
        assert!(
            r.status == 200 || r.status == 204,
            "{sql}: {} {}",
            r.status,
            r.text()
        );
        r.text()
    }
}

impl Drop for AuthServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[test]
fn bearer_authentication() {
    let dir = TestDir::new("auth");
    let s = AuthServer::start(&dir.repo(), dir.path());
    s.sql("create user test secret 'abc'");
    s.sql("create user other secret 'xyz'");
    let token = single_string(&s.sql("create token test"));

    // auth listener: no header → 403 and close; a valid token → 200
    assert_eq!(s.status(s.auth, None), 403);
    assert_eq!(s.status(s.auth, Some(&token)), 200);
    // open listener: no header is trusted, a header is validated anyway
    assert_eq!(s.status(s.open, None), 200);
    assert_eq!(s.status(s.open, Some(&token)), 200);
    assert_eq!(s.status(s.open, Some("garbage")), 403);

    // the prefix must be exactly "Bearer "
    let (r, _) = s.post(s.auth, Some(&format!("bearer {token}")), "select 1");
    assert_eq!(r.status, 403);
    let (r, _) = s.post(s.auth, Some(&token), "select 1");
    assert_eq!(r.status, 403);

    // tampered signature / payload
    let mut bad = token.clone();
    bad.push('x');
    assert_eq!(s.status(s.auth, Some(&bad)), 403);
    let parts: Vec<&str> = token.split('.').collect();
    let other_payload = single_string(&s.sql(
        "select encode('{\"sub\": \"other\", \"iat\": 1, \"exp\": 99999999999}', 'base64url') format 'json'",
    ));
    let forged = format!("{}.{}.{}", parts[0], other_payload, parts[2]);
    assert_eq!(s.status(s.auth, Some(&forged)), 403);

    // tokens built with jwt(): iat/exp rules
    let now = now_s();
    let jwt = |payload: String, secret: &str| {
        single_string(&s.sql(&format!(
            "select jwt({{\"alg\": \"HS256\", \"typ\": \"JWT\"}}, {payload}, '{secret}') format 'json'"
        )))
    };
    let ok = jwt(
        format!(r#"{{"sub": "other", "iat": {now}, "exp": {}}}"#, now + 60),
        "xyz",
    );
    assert_eq!(s.status(s.auth, Some(&ok)), 200);
    let wrong_secret = jwt(
        format!(r#"{{"sub": "other", "iat": {now}, "exp": {}}}"#, now + 60),
        "abc",
    );
    assert_eq!(s.status(s.auth, Some(&wrong_secret)), 403);
    let expired = jwt(
        format!(
            r#"{{"sub": "other", "iat": {}, "exp": {}}}"#,
            now - 60,
            now - 1
        ),
        "xyz",
    );
    assert_eq!(s.status(s.auth, Some(&expired)), 403);
    let reversed = jwt(
        format!(r#"{{"sub": "other", "iat": {}, "exp": {now}}}"#, now + 60),
        "xyz",
    );
    assert_eq!(s.status(s.auth, Some(&reversed)), 403);
    let no_iat = jwt(format!(r#"{{"sub": "other", "exp": {}}}"#, now + 60), "xyz");
    assert_eq!(s.status(s.auth, Some(&no_iat)), 403);
    let unknown = jwt(
        format!(r#"{{"sub": "nobody", "iat": {now}, "exp": {}}}"#, now + 60),
        "xyz",
    );
    assert_eq!(s.status(s.auth, Some(&unknown)), 403);
    let lower = single_string(&s.sql(&format!(
        "select jwt({{\"alg\": \"hs256\", \"typ\": \"jwt\"}}, {{\"sub\": \"other\", \"iat\": {now}, \"exp\": {}}}, 'xyz') format 'json'",
        now + 60
    )));
    // the header values are compared exactly (Amelie ignores their case; a second spelling of
    // a token would get around a blocklist of token texts, docs/decisions.md §18)
    assert_eq!(s.status(s.auth, Some(&lower)), 403);
    let exact = single_string(&s.sql(&format!(
        "select jwt({{\"alg\": \"HS256\", \"typ\": \"JWT\"}}, {{\"sub\": \"other\", \"iat\": {now}, \"exp\": {}}}, 'xyz') format 'json'",
        now + 60
    )));
    assert_eq!(s.status(s.auth, Some(&exact)), 200);
    // the same token with trailing text after padding, or its signature in standard base64
    // with padding: rejected like any bad token
    assert_eq!(s.status(s.auth, Some(&format!("{exact}=AAAA"))), 403);
    let (signed, sig) = exact.rsplit_once('.').unwrap();
    let standard = format!("{signed}.{}=", sig.replace('-', "+").replace('_', "/"));
    assert_eq!(s.status(s.auth, Some(&standard)), 403);

    // a changed secret invalidates old tokens; a dropped user too
    s.sql("alter user test secret 'changed'");
    assert_eq!(s.status(s.auth, Some(&token)), 403);
    let token = single_string(&s.sql("create token test"));
    assert_eq!(s.status(s.auth, Some(&token)), 200);
    s.sql("drop user test");
    assert_eq!(s.status(s.auth, Some(&token)), 403);
}
