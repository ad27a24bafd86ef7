//! String functions: length/size, concat, lower, upper, substr, strpos, replace,
//! ltrim/rtrim/trim, like. `length` counts bytes (as Amelie does); `substr` and `strpos` count
//! characters and trimming removes whole characters, so no result splits a UTF-8 sequence.

use super::{arg_err, def, str_arg, Ctx, Def, VARIADIC};
use amelie_common::governor::check_string;
use amelie_common::{Error, Json, Result, Value};

pub const DEFS: &[Def] = &[
    def("length", 1, 1, true, length),
    def("size", 1, 1, true, length),
    def("concat", 0, VARIADIC, false, concat),
    def("lower", 1, 1, true, lower),
    def("upper", 1, 1, true, upper),
    def("substr", 2, 3, true, substr),
    def("strpos", 2, 2, true, strpos),
    def("replace", 3, 3, true, replace),
    def("ltrim", 1, 2, true, ltrim),
    def("rtrim", 1, 2, true, rtrim),
    def("trim", 1, 2, true, trim),
    def("like", 2, 2, true, like),
];

fn length(_: &Ctx, a: &[Value]) -> Result<Value> {
    Ok(Value::Int(match &a[0] {
        Value::Str(s) => s.len() as i64,
        Value::Vector(v) => v.len() as i64,
        Value::Json(j) => match &**j {
            Json::Array(x) => x.len() as i64,
            Json::Object(o) => o.len() as i64,
            Json::String(s) => s.len() as i64,
            _ => return Err(arg_err("length", 0, "string", &a[0])),
        },
        other => return Err(arg_err("length", 0, "string", other)),
    }))
}

fn concat(_: &Ctx, a: &[Value]) -> Result<Value> {
    let mut out = String::new();
    for v in a {
        match v {
            Value::Null => {}
            Value::Str(s) => {
                check_string(out.len().saturating_add(s.len()))?;
                out.push_str(s)
            }
            _ => return Err(Error::type_error("concat(): string argument expected")),
        }
    }
    Ok(Value::Str(out.into()))
}

fn lower(_: &Ctx, a: &[Value]) -> Result<Value> {
    Ok(Value::Str(
        str_arg("lower", a, 0)?.to_ascii_lowercase().into(),
    ))
}

fn upper(_: &Ctx, a: &[Value]) -> Result<Value> {
    Ok(Value::Str(
        str_arg("upper", a, 0)?.to_ascii_uppercase().into(),
    ))
}

/// `substr(s, pos[, count])`: positions and counts are in characters (1-based), so the
/// result never splits a UTF-8 sequence.
fn substr(_: &Ctx, a: &[Value]) -> Result<Value> {
    let s = str_arg("substr", a, 0)?;
    let pos = super::int_arg("substr", a, 1)?;
    let count = match a.get(2) {
        None => None,
        Some(_) => Some(super::int_arg("substr", a, 2)?),
    };
    let oob = || Error::type_error("substr(): position is out of bounds");
    let chars = if s.is_ascii() {
        s.len()
    } else {
        s.chars().count()
    };
    if pos < 1 || pos as u64 > chars as u64 {
        return Err(oob());
    }
    let first = (pos - 1) as usize;
    let n = match count {
        None => chars - first,
        Some(n) if n < 0 || n as u64 > (chars - first) as u64 => return Err(oob()),
        Some(n) => n as usize,
    };
    let part = if s.is_ascii() {
        &s[first..first + n]
    } else {
        let start = char_offset(s, first);
        let end = start + char_offset(&s[start..], n);
        &s[start..end]
    };
    Ok(Value::Str(part.into()))
}

/// The byte offset of character `n` of `s` (`s.len()` past its end).
fn char_offset(s: &str, n: usize) -> usize {
    s.char_indices().nth(n).map_or(s.len(), |(i, _)| i)
}

/// `strpos(s, sub)`: the 1-based character position of the first `sub` in `s`, 0 if none.
fn strpos(_: &Ctx, a: &[Value]) -> Result<Value> {
    let s = str_arg("strpos", a, 0)?;
    let sub = str_arg("strpos", a, 1)?;
    if sub.is_empty() {
        return Ok(Value::Int(0));
    }
    Ok(Value::Int(match s.find(sub) {
        Some(i) => s[..i].chars().count() as i64 + 1,
        None => 0,
    }))
}

fn replace(_: &Ctx, a: &[Value]) -> Result<Value> {
    let s = str_arg("replace", a, 0)?;
    let from = str_arg("replace", a, 1)?;
    let to = str_arg("replace", a, 2)?;
    if from.is_empty() {
        return Err(Error::type_error("replace(): invalid from argument"));
    }
    if to.len() > from.len() {
        let grows = s
            .matches(from)
            .count()
            .saturating_mul(to.len() - from.len());
        check_string(s.len().saturating_add(grows))?;
    }
    Ok(Value::Str(s.replace(from, to).into()))
}

const WS: &str = " \t\x0b\n\x0c";

fn trim_impl(f: &str, a: &[Value], left: bool, right: bool) -> Result<Value> {
    let s = str_arg(f, a, 0)?;
    let set = match a.get(1) {
        None => WS,
        Some(_) => str_arg(f, a, 1)?,
    };
    // characters of `set`, so a multi-byte character is trimmed whole or not at all
    let trimmed = match (left, right) {
        (true, true) => s.trim_matches(|c| set.contains(c)),
        (true, false) => s.trim_start_matches(|c| set.contains(c)),
        (false, true) => s.trim_end_matches(|c| set.contains(c)),
        (false, false) => s,
    };
    Ok(Value::Str(trimmed.into()))
}

fn ltrim(_: &Ctx, a: &[Value]) -> Result<Value> {
    trim_impl("ltrim", a, true, false)
}

fn rtrim(_: &Ctx, a: &[Value]) -> Result<Value> {
    trim_impl("rtrim", a, false, true)
}

fn trim(_: &Ctx, a: &[Value]) -> Result<Value> {
    trim_impl("trim", a, true, true)
}

fn like(_: &Ctx, a: &[Value]) -> Result<Value> {
    let s = str_arg("like", a, 0)?;
    let p = str_arg("like", a, 1)?;
    Ok(Value::Bool(crate::exec::like(s.as_bytes(), p.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c() -> Ctx {
        Ctx {
            now: 0,
            tz: amelie_common::Tz::UTC,
        }
    }

    #[test]
    fn substr_and_trim() {
        let a = [Value::str("hello"), Value::Int(2), Value::Int(3)];
        assert_eq!(substr(&c(), &a).unwrap(), Value::str("ell"));
        let a = [Value::str("  123  "), Value::str(" 13")];
        assert_eq!(trim(&c(), &a).unwrap(), Value::str("2"));
        assert!(substr(&c(), &[Value::str("hi"), Value::Int(3)]).is_err());
    }

    #[test]
    fn utf8_is_counted_in_characters() {
        let sub = |s: &str, p: i64, n: Option<i64>| {
            let mut a = vec![Value::str(s), Value::Int(p)];
            a.extend(n.map(Value::Int));
            substr(&c(), &a).map_err(|e| e.msg().to_string())
        };
        assert_eq!(sub("héllo", 2, Some(1)), Ok(Value::str("é")));
        assert_eq!(sub("héllo", 2, Some(3)), Ok(Value::str("éll")));
        assert_eq!(sub("héllo", 5, None), Ok(Value::str("o")));
        assert_eq!(sub("日本語", 3, Some(1)), Ok(Value::str("語")));
        assert_eq!(sub("日本語", 1, Some(0)), Ok(Value::str("")));
        let oob = Err("substr(): position is out of bounds".to_string());
        assert_eq!(sub("日本語", 4, None), oob);
        assert_eq!(sub("日本語", 2, Some(3)), oob);
        assert_eq!(sub("héllo", 0, None), oob);
        let pos = |s: &str, x: &str| strpos(&c(), &[Value::str(s), Value::str(x)]).unwrap();
        assert_eq!(pos("héllo", "l"), Value::Int(3));
        assert_eq!(pos("日本語", "語"), Value::Int(3));
        assert_eq!(pos("abc", "c"), Value::Int(3));
        assert_eq!(pos("abc", "x"), Value::Int(0));
        let t = |s: &str, set: &str| trim(&c(), &[Value::str(s), Value::str(set)]).unwrap();
        assert_eq!(t("éxé", "è"), Value::str("éxé"));
        assert_eq!(t("éxé", "é"), Value::str("x"));
        assert_eq!(t("  a  ", " "), Value::str("a"));
    }
}
