//! Builtin functions, resolved by name at compile time. One file per family; each family
//! exports a table of [`Def`]s and the registry concatenates them.

mod cast;
mod json;
mod math;
mod misc;
mod null;
mod regexp;
mod string;
mod time;
mod vector;

/// Digests and base64 shared with token authentication (`CREATE TOKEN`, HTTP `Authorization`).
pub use misc::{
    b64url_decode_strict, b64url_encode, hmac_sha256, hmac_sha256_verify, jwt_encode, sha256,
};

use amelie_common::{Error, Json, Result, Tz, Value};
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// Request-level context visible to functions.
pub struct Ctx {
    /// Request start time (µs since the epoch).
    pub now: i64,
    /// Session time zone.
    pub tz: Tz,
}

pub type Handler = fn(&Ctx, &[Value]) -> Result<Value>;

/// One builtin: its name (without schema), accepted argument counts and behaviour.
pub struct Def {
    pub name: &'static str,
    pub min: usize,
    /// `usize::MAX`: variadic.
    pub max: usize,
    /// Return null without calling when the first argument is null.
    pub null_first: bool,
    pub f: Handler,
}

pub const VARIADIC: usize = usize::MAX;

pub const fn def(name: &'static str, min: usize, max: usize, null_first: bool, f: Handler) -> Def {
    Def {
        name,
        min,
        max,
        null_first,
        f,
    }
}

fn registry() -> &'static [&'static Def] {
    static REG: OnceLock<Vec<&'static Def>> = OnceLock::new();
    REG.get_or_init(|| {
        let mut v = Vec::new();
        for fam in [
            cast::DEFS,
            string::DEFS,
            regexp::DEFS,
            json::DEFS,
            math::DEFS,
            null::DEFS,
            time::DEFS,
            vector::DEFS,
            misc::DEFS,
        ] {
            v.extend(fam.iter());
        }
        v
    })
}

/// A builtin function: an index into the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FuncId(pub u16);

impl FuncId {
    /// Looks up `[schema.]name` (case-insensitive); the default schema is `public`.
    pub fn lookup(schema: Option<&str>, name: &str) -> Option<FuncId> {
        if schema.is_some() && !schema.is_some_and(|s| s.eq_ignore_ascii_case("public")) {
            return None;
        }
        registry()
            .iter()
            .position(|d| d.name.eq_ignore_ascii_case(name))
            .map(|i| FuncId(i as u16))
    }

    fn def(self) -> Option<&'static Def> {
        registry().get(self.0 as usize).copied()
    }

    pub fn name(self) -> &'static str {
        self.def().map(|d| d.name).unwrap_or("?")
    }

    /// Expected argument count (None: variable).
    pub fn arity(self) -> Option<usize> {
        self.def().and_then(|d| (d.min == d.max).then_some(d.min))
    }
}

/// Error for a wrong argument type: `f(): expected T for argument I, but got U`.
pub fn arg_err(f: &str, idx: usize, want: &str, got: &Value) -> Error {
    Error::type_error(format!(
        "{f}(): expected {want} for argument {idx}, but got {}",
        got.type_of().name()
    ))
}

/// Calls `f` over `args`. `now` is the request start time.
pub fn call(f: FuncId, args: &[Value], now: i64, tz: Tz) -> Result<Value> {
    let Some(d) = f.def() else {
        return Err(Error::not_found("function not found"));
    };
    f.check_arity(args.len())?;
    if d.null_first && args.first().is_some_and(|a| a.is_null()) {
        return Ok(Value::Null);
    }
    (d.f)(&Ctx { now, tz }, args)
}

impl FuncId {
    /// Errors unless `n` arguments are accepted (also checked while compiling a call).
    pub fn check_arity(self, n: usize) -> Result<()> {
        let Some(d) = self.def() else {
            return Err(Error::not_found("function not found"));
        };
        let args = n;
        if args < d.min || args > d.max {
            if d.min == d.max {
                return Err(Error::type_error(format!(
                    "{}(): expected {} arguments, but got {}",
                    d.name, d.min, args
                )));
            }
            return Err(Error::type_error(format!(
                "{}(): unexpected number of arguments",
                d.name
            )));
        }
        Ok(())
    }
}

/// Converts any value to JSON (timestamps/intervals become strings, vectors arrays).
pub fn to_json(v: &Value, tz: Tz) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::Int(*i),
        Value::Double(d) => Json::Double(*d),
        Value::Str(s) => Json::String(s.to_string()),
        Value::Json(j) => (**j).clone(),
        Value::Timestamp(t) => {
            let mut s = String::new();
            amelie_common::format_timestamp(*t, tz, &mut s);
            Json::String(s)
        }
        Value::Interval(iv) => {
            let mut s = String::new();
            amelie_common::format_interval(iv, &mut s);
            Json::String(s)
        }
        Value::Vector(x) => Json::Array(x.iter().map(|f| Json::Double(*f as f64)).collect()),
    }
}

/// String argument `idx` or a type error.
pub fn str_arg<'a>(f: &str, args: &'a [Value], idx: usize) -> Result<&'a str> {
    match args.get(idx) {
        Some(Value::Str(s)) => Ok(s),
        Some(v) => Err(arg_err(f, idx, "string", v)),
        None => Err(Error::type_error(format!(
            "{f}(): unexpected number of arguments"
        ))),
    }
}

/// Int argument `idx` or a type error.
pub fn int_arg(f: &str, args: &[Value], idx: usize) -> Result<i64> {
    match args.get(idx) {
        Some(Value::Int(i)) => Ok(*i),
        Some(v) => Err(arg_err(f, idx, "int", v)),
        None => Err(Error::type_error(format!(
            "{f}(): unexpected number of arguments"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_and_arity() {
        let f = FuncId::lookup(None, "UPPER").unwrap();
        assert_eq!(f.name(), "upper");
        assert_eq!(
            call(f, &[Value::str("ab")], 0, Tz::UTC).unwrap(),
            Value::str("AB")
        );
        assert!(FuncId::lookup(Some("x"), "upper").is_none());
        let e = call(f, &[], 0, Tz::UTC).unwrap_err();
        assert_eq!(e.msg(), "upper(): expected 1 arguments, but got 0");
        assert_eq!(e.kind(), amelie_common::ErrorKind::Type);
    }
}
