//! Crypto / encoding / misc: random, random_uuid, md5, sha1, encode, decode, jwt, error.

use super::{arg_err, def, Ctx, Def};
use amelie_common::{Error, Json, Result, Value};
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// The token primitives live in `amelie_common::token` (the client signs tokens too).
pub use amelie_common::token::{
    b64url_decode_strict, b64url_encode, hmac_sha256, hmac_sha256_verify, jwt_encode,
};

pub const DEFS: &[Def] = &[
    def("error", 1, 1, false, error),
    def("random", 0, 0, false, random),
    def("random_uuid", 0, 0, false, random_uuid),
    def("md5", 1, 1, false, md5_fn),
    def("sha1", 1, 1, false, sha1_fn),
    def("encode", 2, 2, false, encode),
    def("decode", 2, 2, false, decode),
    def("jwt", 3, 3, false, jwt),
];

fn s_arg<'a>(f: &str, a: &'a [Value], i: usize) -> Result<&'a str> {
    match &a[i] {
        Value::Str(s) => Ok(s),
        v => Err(arg_err(f, i, "string", v)),
    }
}

fn error(_: &Ctx, a: &[Value]) -> Result<Value> {
    Err(Error::new(s_arg("error", a, 0)?.to_string()))
}

fn random(_: &Ctx, _: &[Value]) -> Result<Value> {
    Ok(Value::Int(amelie_common::random::random_i64()))
}

fn random_uuid(_: &Ctx, _: &[Value]) -> Result<Value> {
    Ok(Value::Str(amelie_common::random::uuid_v4().into()))
}

fn hex(b: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(b.len() * 2);
    for x in b {
        out.push(DIGITS[(x >> 4) as usize] as char);
        out.push(DIGITS[(x & 15) as usize] as char);
    }
    out
}

/// SHA-256 digest (RustCrypto `sha2`).
pub fn sha256(input: &[u8]) -> [u8; 32] {
    Sha256::digest(input).into()
}

fn md5_fn(_: &Ctx, a: &[Value]) -> Result<Value> {
    let s = s_arg("md5", a, 0)?;
    Ok(Value::Str(hex(&Md5::digest(s.as_bytes())).into()))
}

fn sha1_fn(_: &Ctx, a: &[Value]) -> Result<Value> {
    let s = s_arg("sha1", a, 0)?;
    Ok(Value::Str(hex(&Sha1::digest(s.as_bytes())).into()))
}

/// `decode()`'s tolerant decoders: padding optional, unused trailing bits ignored.
const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

fn codec(f: &str, a: &[Value]) -> Result<bool> {
    match s_arg(f, a, 1)? {
        "base64" => Ok(false),
        "base64url" => Ok(true),
        _ => Err(Error::unsupported(format!("{f}(): unsupported format"))),
    }
}

/// `encode(s, 'base64')` pads with `=`, `encode(s, 'base64url')` does not.
fn encode(_: &Ctx, a: &[Value]) -> Result<Value> {
    let s = s_arg("encode", a, 0)?;
    let out = if codec("encode", a)? {
        b64url_encode(s.as_bytes())
    } else {
        STANDARD.encode(s.as_bytes())
    };
    Ok(Value::Str(out.into()))
}

/// `decode(s, 'base64' | 'base64url')`: with or without padding; the text ends at the first
/// `=`; a character outside the alphabet is an error.
fn decode(_: &Ctx, a: &[Value]) -> Result<Value> {
    let s = s_arg("decode", a, 0)?;
    let engine = if codec("decode", a)? {
        &URL_SAFE_LENIENT
    } else {
        &STANDARD_LENIENT
    };
    let text = s.split('=').next().unwrap_or_default();
    let b = engine
        .decode(text)
        .map_err(|_| Error::syntax("decode(): failed to decode"))?;
    Ok(Value::Str(String::from_utf8_lossy(&b).into_owned().into()))
}

fn jwt_part(f: &str, a: &[Value], i: usize) -> Result<String> {
    match &a[i] {
        Value::Str(s) => Ok(s.to_string()),
        Value::Json(j) if matches!(**j, Json::Object(_)) => Ok(j.to_compact_string()),
        v => Err(arg_err(f, i, "json object", v)),
    }
}

fn jwt(_: &Ctx, a: &[Value]) -> Result<Value> {
    let h = jwt_part("jwt", a, 0)?;
    let p = jwt_part("jwt", a, 1)?;
    let secret = s_arg("jwt", a, 2)?;
    Ok(Value::Str(
        jwt_encode(h.as_bytes(), p.as_bytes(), secret.as_bytes()).into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md5(b: &[u8]) -> String {
        hex(&Md5::digest(b))
    }

    fn sha1(b: &[u8]) -> String {
        hex(&Sha1::digest(b))
    }

    #[test]
    fn digest_vectors() {
        // RFC 1321 appendix A.5
        assert_eq!(md5(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            md5(
                b"12345678901234567890123456789012345678901234567890123456789012345678901234567890"
            ),
            "57edf4a22be3c955ac49da2e2107b67a"
        );
        assert_eq!(md5(b"hello world"), "5eb63bbbe01eeed093cb22bb8f5acdc3");
        // FIPS 180 examples
        assert_eq!(sha1(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(sha1(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(
            sha1(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        );
        assert_eq!(
            sha1(b"hello world"),
            "2aae6c35c94fcfb415dbe95f408b9ce91ee846ed"
        );
        assert_eq!(
            hex(&sha256(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex(&sha256(
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
            )),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
    }

    #[test]
    fn hmac_vectors() {
        // RFC 4231 test cases 1, 2 and 6 (a key longer than the block)
        let cases: [(&[u8], &[u8], &str); 3] = [
            (
                &[0x0b; 20],
                b"Hi There",
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe",
                b"what do ya want for nothing?",
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First",
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
        ];
        for (key, msg, want) in cases {
            let tag = hmac_sha256(key, msg);
            assert_eq!(hex(&tag), want);
            assert!(hmac_sha256_verify(key, msg, &tag));
            let mut bad = tag;
            bad[31] ^= 1;
            assert!(!hmac_sha256_verify(key, msg, &bad));
            assert!(!hmac_sha256_verify(key, msg, &tag[..31]));
        }
        // the jwt() transcript of Amelie's fn_misc test
        assert_eq!(
            jwt_encode(br#"{"alg": "HS256", "typ": "JWT"}"#, b"{}", b"123"),
            "eyJhbGciOiAiSFMyNTYiLCAidHlwIjogIkpXVCJ9.e30.5gvar2OmXQKJ9rWze2UEo8BZidZjK5B4lMiCnvwZk_4"
        );
    }

    #[test]
    fn base64_forms() {
        let ctx_decode = |s: &str, f: &str| {
            let a = [Value::Str(s.into()), Value::Str(f.into())];
            match decode(
                &Ctx {
                    now: 0,
                    tz: amelie_common::Tz::UTC,
                },
                &a,
            ) {
                Ok(Value::Str(s)) => Ok(s.to_string()),
                Ok(v) => panic!("{v:?}"),
                Err(e) => Err(e.msg().to_string()),
            }
        };
        assert_eq!(STANDARD.encode(b"hello world"), "aGVsbG8gd29ybGQ=");
        assert_eq!(b64url_encode(b"<<???>>"), "PDw_Pz8-Pg");
        // decode(): padding optional, for both alphabets
        for (text, f) in [
            ("aGVsbG8gd29ybGQ=", "base64"),
            ("aGVsbG8gd29ybGQ", "base64"),
            ("aGVsbG8gd29ybGQ", "base64url"),
            ("aGVsbG8gd29ybGQ=", "base64url"),
        ] {
            assert_eq!(ctx_decode(text, f).unwrap(), "hello world", "{text} {f}");
        }
        assert_eq!(ctx_decode("PDw_Pz8-Pg", "base64url").unwrap(), "<<???>>");
        assert_eq!(ctx_decode("PDw/Pz8+Pg==", "base64").unwrap(), "<<???>>");
        for (text, f) in [
            ("PDw_Pz8-Pg", "base64"),
            ("PDw/Pz8+Pg", "base64url"),
            ("a b", "base64"),
        ] {
            assert_eq!(
                ctx_decode(text, f).unwrap_err(),
                "decode(): failed to decode",
                "{text} {f}"
            );
        }
        // token parts: strict
        assert_eq!(b64url_decode_strict("PDw_Pz8-Pg").unwrap(), b"<<???>>");
        for bad in [
            "PDw_Pz8-Pg==",
            "PDw/Pz8+Pg",
            "PDw_Pz8-Ph",
            "PDw_Pz8-Pg=AAAA",
            "P",
            " PDw",
        ] {
            assert!(b64url_decode_strict(bad).is_none(), "{bad}");
        }
    }
}
