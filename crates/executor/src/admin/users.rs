//! Users and tokens (spec §1.6, §2.10).
//!
//! Users live in the server configuration (`config.json`, hidden `users` variable), not in the
//! WAL: the executor reaches them through [`ConfigSource`]. Tokens are HS256 JWTs
//! signed with the user's secret; [`validate_token`] checks one for the HTTP front end.

use super::ConfigSource;
pub use super::User;
use crate::now_us;
use amelie_common::format::{encode_single, Format};
use amelie_common::{Error, Json, Result, Value};
use amelie_parser::Stmt;
use amelie_vm::func::{b64url_decode_strict, hmac_sha256_verify};

/// The token format (the header `CREATE TOKEN` emits and the token it signs) is shared with
/// the client: it lives in `amelie_common::token`.
pub use amelie_common::token::{make_token, JWT_HEADER};

/// The `SHOW USER` / `system.user()` form of a user (the secret is never shown).
fn user_obj(u: &User) -> Json {
    Json::Object(vec![("name".to_string(), Json::String(u.name.clone()))])
}

/// `SHOW USERS` / `system.users()`.
pub fn users_json(config: Option<&dyn ConfigSource>) -> Json {
    Json::Array(
        config
            .map(|c| c.users())
            .unwrap_or_default()
            .iter()
            .map(user_obj)
            .collect(),
    )
}

/// `SHOW USER name` / `system.user(name)`; `None` if there is no such user.
pub fn user_json(config: Option<&dyn ConfigSource>, name: &str) -> Option<Json> {
    config?
        .users()
        .iter()
        .find(|u| u.name == name)
        .map(user_obj)
}

/// Reads the `users` config value: `[{"name": "..", "secret": ".."}, ...]`. Malformed
/// entries are skipped.
pub fn users_from_json(v: &Json) -> Vec<User> {
    let Json::Array(items) = v else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| {
            let Json::Object(fields) = item else {
                return None;
            };
            let field = |k: &str| {
                fields
                    .iter()
                    .find(|(n, _)| n == k)
                    .and_then(|(_, v)| match v {
                        Json::String(s) => Some(s.clone()),
                        _ => None,
                    })
            };
            Some(User {
                name: field("name")?,
                secret: field("secret").unwrap_or_default(),
            })
        })
        .collect()
}

/// The `users` config value of a list of users.
pub fn users_to_json(users: &[User]) -> Json {
    Json::Array(
        users
            .iter()
            .map(|u| {
                Json::Object(vec![
                    ("name".to_string(), Json::String(u.name.clone())),
                    ("secret".to_string(), Json::String(u.secret.clone())),
                ])
            })
            .collect(),
    )
}

fn field<'a>(obj: &'a Json, key: &str) -> Option<&'a Json> {
    match obj {
        Json::Object(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
        _ => None,
    }
}

/// A base64url JSON part of a token, in the one canonical encoding of its bytes (see
/// [`b64url_decode_strict`]). Integers must fit int64 (no wrap-around: `exp` of 10^30 must
/// not become a small number).
fn decode_part(part: &str) -> Option<Json> {
    let bytes = b64url_decode_strict(part)?;
    Json::parse_checked(std::str::from_utf8(&bytes).ok()?).ok()
}

/// Latest accepted `iat`/`exp`: the year 9999 (the end of the timestamp range), in seconds.
pub const MAX_TOKEN_TIME: i64 = 253_402_300_799;

/// Validates a JWT against `users` at time `now` (seconds): exactly three parts, each in strict
/// base64url (URL-safe alphabet, no padding, canonical last character, nothing else), a header
/// with `"alg": "HS256"` and `"typ": "JWT"` (exact, case-sensitive), `sub` naming a user with a
/// secret, non-zero `iat <= exp`, `now < exp`, and a matching signature. Returns the user name
/// and the expiry on success. Any one token text is accepted in exactly one spelling, so a
/// blocklist of token texts cannot be bypassed by re-encoding a token.
pub fn validate_token(token: &str, users: &[User], now: i64) -> Option<(String, i64)> {
    let mut parts = token.split('.');
    let (h, p, sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header = decode_part(h)?;
    let is =
        |key: &str, want: &str| matches!(field(&header, key), Some(Json::String(s)) if s == want);
    if !is("alg", "HS256") || !is("typ", "JWT") {
        return None;
    }
    let payload = decode_part(p)?;
    let Some(Json::String(sub)) = field(&payload, "sub") else {
        return None;
    };
    // seconds since the epoch: positive and within the timestamp range
    let int = |key: &str| match field(&payload, key) {
        Some(Json::Int(v)) if (1..=MAX_TOKEN_TIME).contains(v) => Some(*v),
        _ => None,
    };
    let (iat, exp) = (int("iat")?, int("exp")?);
    if iat > exp || now >= exp {
        return None;
    }
    let user = users.iter().find(|u| u.name == *sub)?;
    if user.secret.is_empty() {
        return None;
    }
    let given = b64url_decode_strict(sig)?;
    let signed = &token[..h.len() + 1 + p.len()];
    // constant-time comparison (hmac's verify)
    hmac_sha256_verify(user.secret.as_bytes(), signed.as_bytes(), &given)
        .then(|| (sub.clone(), exp))
}

fn not_exists(name: &str) -> Error {
    Error::not_found(format!("user '{name}': not exists"))
}

/// The right to manage users. Amelie has no grants, so the right follows the listener: a
/// request on a listener without `auth` (`user` is `None`; whoever reaches that socket is
/// the operator) may create, alter and drop any user and create any user's token. A request
/// on an `auth` listener acts as the user its token names: it may change that user's own
/// secret (`ALTER USER <self> SECRET ..`) and create that user's own tokens, nothing else.
pub fn check_user_rights(stmt: &Stmt, user: Option<&str>) -> Result<()> {
    let Some(user) = user else {
        return Ok(());
    };
    let allowed = match stmt {
        Stmt::CreateUser { .. } | Stmt::DropUser { .. } => false,
        Stmt::AlterUser { name, .. } | Stmt::CreateToken { name, .. } => name == user,
        _ => true,
    };
    if allowed {
        Ok(())
    } else {
        Err(Error::auth(format!(
            "user '{user}': permission denied (users are managed on a listener without auth)"
        )))
    }
}

impl crate::Executor {
    fn users_source(&self) -> Result<std::sync::Arc<dyn ConfigSource>> {
        self.config_source
            .read()
            .clone()
            .ok_or_else(|| Error::unsupported("users are not available"))
    }

    /// The current users (empty without a config source).
    pub fn users(&self) -> Vec<User> {
        self.config_source
            .read()
            .as_ref()
            .map(|c| c.users())
            .unwrap_or_default()
    }

    /// Runs user and token statements; `None` for any other statement.
    pub(crate) fn user_stmt(
        &self,
        stmt: &Stmt,
        session: &crate::SessionCtx,
    ) -> Option<Result<Option<String>>> {
        if let Err(e) = check_user_rights(stmt, session.user.as_deref()) {
            return Some(Err(e));
        }
        Some(match stmt {
            Stmt::CreateUser {
                if_not_exists,
                name,
                secret,
            } => self.update_users(|users| {
                if users.iter().any(|u| u.name == *name) {
                    if *if_not_exists {
                        return Ok(());
                    }
                    return Err(Error::already_exists(format!(
                        "user '{name}': already exists"
                    )));
                }
                users.push(User {
                    name: name.clone(),
                    secret: secret.clone().unwrap_or_default(),
                });
                Ok(())
            }),
            Stmt::AlterUser { name, secret } => self.update_users(|users| {
                let u = users
                    .iter_mut()
                    .find(|u| u.name == *name)
                    .ok_or_else(|| not_exists(name))?;
                u.secret = secret.clone();
                Ok(())
            }),
            Stmt::DropUser { if_exists, name } => {
                self.update_users(|users| match users.iter().position(|u| u.name == *name) {
                    Some(i) => {
                        users.remove(i);
                        Ok(())
                    }
                    None if *if_exists => Ok(()),
                    None => Err(not_exists(name)),
                })
            }
            Stmt::CreateToken { name, expire } => {
                self.create_token(name, expire.as_deref(), session)
            }
            _ => return None,
        })
    }

    fn update_users(
        &self,
        mut f: impl FnMut(&mut Vec<User>) -> Result<()>,
    ) -> Result<Option<String>> {
        self.users_source()?.update_users(&mut f)?;
        Ok(None)
    }

    fn create_token(
        &self,
        name: &str,
        expire: Option<&str>,
        session: &crate::SessionCtx,
    ) -> Result<Option<String>> {
        let users = self.users_source()?.users();
        let user = users
            .iter()
            .find(|u| u.name == name)
            .ok_or_else(|| not_exists(name))?;
        if user.secret.is_empty() {
            return Err(Error::auth(format!("{name}: user has no secret")));
        }
        let iv = amelie_common::time::parse_interval(expire.unwrap_or("1 year"))?;
        let now = now_us();
        let exp = amelie_vm::exec::ts_add(now, &iv, false)?;
        let token = make_token(name, &user.secret, now / 1_000_000, exp / 1_000_000);
        let fmt = Format::parse(&self.format.read())?;
        let mut out = String::new();
        encode_single(
            "token",
            &Value::Str(token.into()),
            fmt,
            session.tz,
            &mut out,
        );
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use amelie_common::token::jwt_encode;

    fn users() -> Vec<User> {
        vec![
            User {
                name: "test".into(),
                secret: "abc".into(),
            },
            User {
                name: "nosecret".into(),
                secret: String::new(),
            },
        ]
    }

    #[test]
    fn token_round_trip() {
        let t = make_token("test", "abc", 100, 200);
        assert!(
            t.starts_with("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."),
            "{t}"
        );
        assert_eq!(
            validate_token(&t, &users(), 150),
            Some(("test".to_string(), 200))
        );
        // expired, not yet expired boundary, wrong secret, unknown user, no secret
        assert_eq!(validate_token(&t, &users(), 200), None);
        assert_eq!(
            validate_token(&make_token("test", "abd", 100, 200), &users(), 150),
            None
        );
        assert_eq!(
            validate_token(&make_token("x", "abc", 100, 200), &users(), 150),
            None
        );
        assert_eq!(
            validate_token(&make_token("nosecret", "", 100, 200), &users(), 150),
            None
        );
        // iat > exp, zero iat
        assert_eq!(
            validate_token(&make_token("test", "abc", 300, 200), &users(), 150),
            None
        );
        assert_eq!(
            validate_token(&make_token("test", "abc", 0, 200), &users(), 150),
            None
        );
        // `exp` out of range: not wrapped into a valid time, not accepted
        let forged = |payload: &str| jwt_encode(JWT_HEADER.as_bytes(), payload.as_bytes(), b"abc");
        let ok = forged(r#"{"sub": "test", "iat": 100, "exp": 200}"#);
        assert!(validate_token(&ok, &users(), 150).is_some());
        for payload in [
            r#"{"sub": "test", "iat": 100, "exp": 1000000000000000000000000000000}"#,
            r#"{"sub": "test", "iat": 100, "exp": 18446744073709551816}"#,
            r#"{"sub": "test", "iat": 100, "exp": 1e30}"#,
            r#"{"sub": "test", "iat": 100, "exp": 9223372036854775807}"#,
            r#"{"sub": "test", "iat": -5, "exp": 200}"#,
            r#"{"sub": "test", "iat": 100, "exp": "200"}"#,
        ] {
            assert_eq!(
                validate_token(&forged(payload), &users(), 150),
                None,
                "{payload}"
            );
        }
        // garbage
        for bad in ["", "a.b", "a.b.c", "a.b.c.d", "....", "eyJ.eyJ.x"] {
            assert_eq!(validate_token(bad, &users(), 150), None, "{bad}");
        }
        // a tampered signature
        let mut tampered = t.clone();
        tampered.pop();
        tampered.push(if t.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(validate_token(&tampered, &users(), 150), None);
    }

    /// Every other spelling of a valid token is rejected: trailing text after padding, the
    /// standard alphabet or padding in any part, a non-canonical last character, a header
    /// whose `alg`/`typ` differ in case, extra parts. Each one is validly signed or carries a
    /// valid signature, so only the strict decoding rejects it.
    #[test]
    fn malleable_tokens_rejected() {
        use base64::engine::general_purpose::{STANDARD, URL_SAFE};
        use base64::Engine as _;
        let t = make_token("test", "abc", 100, 200);
        assert!(validate_token(&t, &users(), 150).is_some());
        let parts: Vec<&str> = t.split('.').collect();
        let (h, p, sig) = (parts[0], parts[1], parts[2]);
        let sig_bytes = b64url_decode_strict(sig).unwrap();
        let signed =
            |header: &str, payload: &str| jwt_encode(header.as_bytes(), payload.as_bytes(), b"abc");
        // a signature whose 43rd character has non-zero unused bits (32 bytes = 42 chars + 4 bits)
        let last = sig.as_bytes()[42];
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let idx = alphabet.iter().position(|c| *c == last).unwrap();
        assert_eq!(idx & 3, 0, "{sig}");
        let noncanonical_sig = format!("{}{}", &sig[..42], alphabet[idx | 1] as char);
        // the same for the header: 27 bytes = 36 chars, no spare bits; the payload has some
        let payload = r#"{"sub": "test", "iat": 100, "exp": 200}"#;
        assert_eq!(payload.len() % 3, 0);
        let payload2 = r#"{"sub": "test", "iat": 100, "exp": 200} "#;
        let t2 = signed(JWT_HEADER, payload2);
        assert!(validate_token(&t2, &users(), 150).is_some());
        let p2 = t2.split('.').nth(1).unwrap();
        let p2_last = p2.as_bytes()[p2.len() - 1];
        let p2_idx = alphabet.iter().position(|c| *c == p2_last).unwrap();
        assert_ne!(p2.len() % 4, 0);
        let spare = if p2.len() % 4 == 2 { 15 } else { 3 };
        assert_eq!(p2_idx & spare, 0);
        let noncanonical_payload =
            format!("{}{}", &p2[..p2.len() - 1], alphabet[p2_idx | 1] as char);
        let bad = [
            // trailing text after padding, on any part
            format!("{t}=AAAA"),
            format!("{t}="),
            format!("{h}=AAAA.{p}.{sig}"),
            format!("{h}.{p}=.{sig}"),
            // the signature in standard base64 with padding, and url-safe with padding
            format!("{h}.{p}.{}", STANDARD.encode(&sig_bytes)),
            format!("{h}.{p}.{}", URL_SAFE.encode(&sig_bytes)),
            // a non-canonical last character of the signature and of the payload
            format!("{h}.{p}.{noncanonical_sig}"),
            t2.replacen(p2, &noncanonical_payload, 1),
            // lower-case alg / typ, validly signed
            signed(r#"{"alg":"hs256","typ":"JWT"}"#, payload),
            signed(r#"{"alg":"HS256","typ":"jwt"}"#, payload),
            signed(r#"{"alg":"Hs256","typ":"Jwt"}"#, payload),
            // another algorithm, a header without typ
            signed(r#"{"alg":"none","typ":"JWT"}"#, payload),
            signed(r#"{"alg":"HS256"}"#, payload),
            // extra parts, whitespace, an empty signature
            format!("{t}."),
            format!("{t}.x"),
            format!(" {t}"),
            format!("{t} "),
            format!("{h}.{p}."),
        ];
        for token in &bad {
            assert_eq!(validate_token(token, &users(), 150), None, "{token}");
        }
        // the header Amelie emits, and the same values with spaces (the jwt() function's
        // form), are accepted
        assert!(validate_token(
            &signed(r#"{"alg": "HS256", "typ": "JWT"}"#, payload),
            &users(),
            150
        )
        .is_some());
    }

    #[test]
    fn users_json_round_trip() {
        let j = users_to_json(&users());
        assert_eq!(users_from_json(&j), users());
        assert!(users_from_json(&Json::Int(1)).is_empty());
        let partial = Json::parse(r#"[{"name": "a"}, {"secret": "x"}, 1]"#).unwrap();
        assert_eq!(
            users_from_json(&partial),
            vec![User {
                name: "a".into(),
                secret: String::new()
            }]
        );
    }
}
