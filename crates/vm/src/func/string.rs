//! String functions (byte oriented): length/size, concat, lower, upper, substr, strpos,
//! replace, ltrim/rtrim/trim, like.

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
            _ => return Err(Error::new("concat(): string argument expected")),
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

fn substr(_: &Ctx, a: &[Value]) -> Result<Value> {
    let s = str_arg("substr", a, 0)?.as_bytes();
    let pos = super::int_arg("substr", a, 1)?;
    let oob = || Error::new("substr(): position is out of bounds");
    if pos < 1 || pos as u64 > s.len() as u64 {
        return Err(oob());
    }
    let start = (pos - 1) as usize;
    let end = match a.get(2) {
        None => s.len(),
        Some(_) => {
            let n = super::int_arg("substr", a, 2)?;
            if n < 0 || n as u64 > (s.len() - start) as u64 {
                return Err(oob());
            }
            start + n as usize
        }
    };
    Ok(Value::Str(
        String::from_utf8_lossy(&s[start..end]).into_owned().into(),
    ))
}

fn strpos(_: &Ctx, a: &[Value]) -> Result<Value> {
    let s = str_arg("strpos", a, 0)?;
    let sub = str_arg("strpos", a, 1)?;
    if sub.is_empty() {
        return Ok(Value::Int(0));
    }
    Ok(Value::Int(match s.find(sub) {
        Some(i) => i as i64 + 1,
        None => 0,
    }))
}

fn replace(_: &Ctx, a: &[Value]) -> Result<Value> {
    let s = str_arg("replace", a, 0)?;
    let from = str_arg("replace", a, 1)?;
    let to = str_arg("replace", a, 2)?;
    if from.is_empty() {
        return Err(Error::new("replace(): invalid from argument"));
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
    let set = set.as_bytes();
    let b = s.as_bytes();
    let (mut i, mut j) = (0, b.len());
    if left {
        while i < j && set.contains(&b[i]) {
            i += 1;
        }
    }
    if right {
        while j > i && set.contains(&b[j - 1]) {
            j -= 1;
        }
    }
    Ok(Value::Str(
        String::from_utf8_lossy(&b[i..j]).into_owned().into(),
    ))
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
            tz_offset: 0,
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
}
