//! Casting functions: type, int, bool, double, string, json, json_import, interval,
//! timestamp, vector.

use super::{def, to_json, Ctx, Def, VARIADIC};
use amelie_common::{Error, Json, Result, Tz, Value};

pub const DEFS: &[Def] = &[
    def("type", 1, 1, false, type_),
    def("int", 1, 1, true, int),
    def("bool", 1, 1, true, bool_),
    def("double", 1, 1, true, double),
    def("string", 1, 1, true, string),
    def("json", 1, 1, true, json),
    def("json_import", 1, 1, true, json_import),
    def("interval", 1, 1, true, interval),
    def("timestamp", 1, 2, true, timestamp),
    def("vector", 1, VARIADIC, true, super::vector::vector),
];

/// `f(type): operation type is not supported`.
pub fn not_supported(f: &str, v: &Value) -> Error {
    Error::unsupported(format!(
        "{f}({}): operation type is not supported",
        v.type_of().name()
    ))
}

fn type_(_: &Ctx, a: &[Value]) -> Result<Value> {
    Ok(Value::str(a[0].type_of().name()))
}

fn parse_int(s: &str) -> Result<i64> {
    s.trim()
        .parse::<i64>()
        .map_err(|_| Error::type_error("int(): failed to cast string"))
}

fn int(_: &Ctx, a: &[Value]) -> Result<Value> {
    Ok(Value::Int(match &a[0] {
        Value::Int(i) | Value::Timestamp(i) => *i,
        Value::Double(d) => *d as i64,
        Value::Bool(b) => *b as i64,
        Value::Str(s) => parse_int(s)?,
        Value::Json(j) => match &**j {
            Json::Int(i) => *i,
            Json::Double(d) => *d as i64,
            Json::Bool(b) => *b as i64,
            Json::String(s) => parse_int(s)?,
            Json::Null => return Ok(Value::Null),
            _ => return Err(not_supported("int", &a[0])),
        },
        v => return Err(not_supported("int", v)),
    }))
}

fn bool_(_: &Ctx, a: &[Value]) -> Result<Value> {
    Ok(Value::Bool(match &a[0] {
        Value::Json(j) => match &**j {
            Json::Int(i) => *i > 0,
            Json::Double(d) => *d > 0.0,
            Json::Bool(b) => *b,
            Json::String(s) => !s.is_empty(),
            Json::Null => return Ok(Value::Null),
            _ => return Err(not_supported("bool", &a[0])),
        },
        Value::Vector(_) => return Err(not_supported("bool", &a[0])),
        v => v.is_true(),
    }))
}

fn double(_: &Ctx, a: &[Value]) -> Result<Value> {
    let parse = |s: &str| {
        s.trim()
            .parse::<f64>()
            .map_err(|_| Error::type_error("double(): failed to cast string"))
    };
    Ok(Value::Double(match &a[0] {
        Value::Int(i) | Value::Timestamp(i) => *i as f64,
        Value::Double(d) => *d,
        Value::Bool(b) => *b as i64 as f64,
        Value::Str(s) => parse(s)?,
        Value::Json(j) => match &**j {
            Json::Int(i) => *i as f64,
            Json::Double(d) => *d,
            Json::Bool(b) => *b as i64 as f64,
            Json::String(s) => parse(s)?,
            Json::Null => return Ok(Value::Null),
            _ => return Err(not_supported("double", &a[0])),
        },
        v => return Err(not_supported("double", v)),
    }))
}

/// Text form of a value as `string()` produces it.
pub fn to_text(v: &Value, tz: Tz) -> String {
    let mut out = String::new();
    match v {
        Value::Str(s) => out.push_str(s),
        Value::Timestamp(t) => amelie_common::format_timestamp(*t, tz, &mut out),
        Value::Interval(iv) => amelie_common::format_interval(iv, &mut out),
        other => amelie_common::format::write_value(other, &mut out, false, 0, tz),
    }
    out
}

fn string(c: &Ctx, a: &[Value]) -> Result<Value> {
    Ok(Value::Str(to_text(&a[0], c.tz).into()))
}

fn json(c: &Ctx, a: &[Value]) -> Result<Value> {
    Ok(Value::Json(Box::new(to_json(&a[0], c.tz))))
}

fn json_import(_: &Ctx, a: &[Value]) -> Result<Value> {
    match &a[0] {
        Value::Str(s) => Ok(Value::Json(Box::new(Json::parse_raw(s)?))),
        v => Err(not_supported("json_import", v)),
    }
}

fn interval(_: &Ctx, a: &[Value]) -> Result<Value> {
    match &a[0] {
        Value::Str(s) => Ok(Value::Interval(amelie_common::parse_interval(s)?)),
        Value::Interval(i) => Ok(Value::Interval(*i)),
        v => Err(not_supported("interval", v)),
    }
}

fn timestamp(c: &Ctx, a: &[Value]) -> Result<Value> {
    match &a[0] {
        Value::Str(s) => {
            let tz = match a.get(1) {
                None => c.tz,
                Some(Value::Str(z)) => Tz::lookup(z).ok_or_else(|| {
                    Error::not_found(format!("timestamp(): failed to find timezone '{z}'"))
                })?,
                Some(v) => return Err(super::arg_err("timestamp", 1, "string", v)),
            };
            Ok(Value::Timestamp(amelie_common::parse_timestamp(s, tz)?))
        }
        Value::Int(i) => Ok(Value::Timestamp(*i)),
        Value::Timestamp(t) => Ok(Value::Timestamp(*t)),
        v => Err(not_supported("timestamp", v)),
    }
}
