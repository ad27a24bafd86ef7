//! HS256 JSON web tokens (spec §1.6): the encoding the server validates and the one the
//! client mints from `--user`/`--secret`, so both sides share one implementation.
//!
//! A token is `b64url(header).b64url(payload).b64url(HMAC-SHA256 of the first two)`, each
//! part in base64url without padding.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::Json;

/// The JWT header `CREATE TOKEN` and the client emit.
pub const JWT_HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// Lifetime of a token minted by the client from a user and secret: one year.
pub const CLIENT_TOKEN_SECS: i64 = 365 * 24 * 60 * 60;

fn hmac_of(key: &[u8], msg: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length (longer keys are hashed): this cannot fail
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC accepts a key of any length");
    mac.update(msg);
    mac
}

/// HMAC-SHA256 of `msg` under `key` (RustCrypto `hmac`).
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    hmac_of(key, msg).finalize().into_bytes().into()
}

/// True when `tag` is the HMAC-SHA256 of `msg` under `key`; compared in constant time.
pub fn hmac_sha256_verify(key: &[u8], msg: &[u8], tag: &[u8]) -> bool {
    hmac_of(key, msg).verify_slice(tag).is_ok()
}

/// base64url without padding, as in tokens (`jwt()`, `CREATE TOKEN`, `encode(s, 'base64url')`).
pub fn b64url_encode(input: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(input)
}

/// Strict base64url for token parts: the URL-safe alphabet, no padding, no other character,
/// and only the canonical encoding (unused bits of the last character must be zero). Each byte
/// string has exactly one accepted text, so a token cannot be altered and stay valid.
pub fn b64url_decode_strict(input: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(input).ok()
}

/// An HS256 token: `b64url(header).b64url(payload).b64url(HMAC-SHA256 of the first two)`.
pub fn jwt_encode(header: &[u8], payload: &[u8], secret: &[u8]) -> String {
    let mut out = b64url_encode(header);
    out.push('.');
    out.push_str(&b64url_encode(payload));
    let sig = hmac_sha256(secret, out.as_bytes());
    out.push('.');
    out.push_str(&b64url_encode(&sig));
    out
}

/// A signed token for `user`, issued at `iat` and expiring at `exp` (seconds since the
/// epoch), with the payload `{"sub": <user>, "iat": <iat>, "exp": <exp>}`.
pub fn make_token(user: &str, secret: &str, iat: i64, exp: i64) -> String {
    let payload = format!(
        r#"{{"sub": {}, "iat": {iat}, "exp": {exp}}}"#,
        Json::String(user.to_string()).to_compact_string()
    );
    jwt_encode(JWT_HEADER.as_bytes(), payload.as_bytes(), secret.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwt_of_amelie_transcript() {
        // the jwt() transcript of Amelie's fn_misc test
        assert_eq!(
            jwt_encode(br#"{"alg": "HS256", "typ": "JWT"}"#, b"{}", b"123"),
            "eyJhbGciOiAiSFMyNTYiLCAidHlwIjogIkpXVCJ9.e30.5gvar2OmXQKJ9rWze2UEo8BZidZjK5B4lMiCnvwZk_4"
        );
    }

    #[test]
    fn made_tokens_carry_the_user() {
        let t = make_token("a\"b", "s", 10, 20);
        let mut parts = t.split('.');
        let header = b64url_decode_strict(parts.next().unwrap()).unwrap();
        assert_eq!(header, JWT_HEADER.as_bytes());
        let payload = b64url_decode_strict(parts.next().unwrap()).unwrap();
        assert_eq!(payload, br#"{"sub": "a\"b", "iat": 10, "exp": 20}"#);
        let sig = b64url_decode_strict(parts.next().unwrap()).unwrap();
        let signed = &t[..t.rfind('.').unwrap()];
        assert!(hmac_sha256_verify(b"s", signed.as_bytes(), &sig));
        assert!(!hmac_sha256_verify(b"t", signed.as_bytes(), &sig));
    }
}
