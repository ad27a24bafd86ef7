//! Builtin functions, resolved by name at compile time.

use crate::exec::type_error;
use amelie_common::{Error, Result, Value};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FuncId {
    Error,
    Type,
    Int,
    Double,
    Bool,
    String,
    Length,
    Upper,
    Lower,
    Abs,
    Coalesce,
    Now,
}

impl FuncId {
    /// Looks up `[schema.]name`; the default schema is `public`.
    pub fn lookup(schema: Option<&str>, name: &str) -> Option<FuncId> {
        if !matches!(schema, None | Some("public")) {
            return None;
        }
        Some(match name {
            "error" => FuncId::Error,
            "type" => FuncId::Type,
            "int" => FuncId::Int,
            "double" => FuncId::Double,
            "bool" => FuncId::Bool,
            "string" => FuncId::String,
            "length" | "size" => FuncId::Length,
            "upper" => FuncId::Upper,
            "lower" => FuncId::Lower,
            "abs" => FuncId::Abs,
            "coalesce" => FuncId::Coalesce,
            "now" => FuncId::Now,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            FuncId::Error => "public.error",
            FuncId::Type => "public.type",
            FuncId::Int => "public.int",
            FuncId::Double => "public.double",
            FuncId::Bool => "public.bool",
            FuncId::String => "public.string",
            FuncId::Length => "public.length",
            FuncId::Upper => "public.upper",
            FuncId::Lower => "public.lower",
            FuncId::Abs => "public.abs",
            FuncId::Coalesce => "public.coalesce",
            FuncId::Now => "public.now",
        }
    }

    /// Expected argument count (None: variadic).
    pub fn arity(self) -> Option<usize> {
        match self {
            FuncId::Coalesce => None,
            FuncId::Now => Some(0),
            _ => Some(1),
        }
    }
}

fn short(f: FuncId) -> &'static str {
    f.name().trim_start_matches("public.")
}

/// Calls `f` over `args`. `now` is the request start time.
pub fn call(f: FuncId, args: &[Value], now: i64, tz_offset: i32) -> Result<Value> {
    if let Some(n) = f.arity() {
        if args.len() != n {
            return Err(Error::new(format!(
                "{}(): expected {} argument{}, but got {}",
                short(f),
                n,
                if n == 1 { "" } else { "s" },
                args.len()
            )));
        }
    }
    let arg_err = |idx: usize, want: &str, got: &Value| {
        Error::new(format!(
            "{}(): expected {} for argument {}, but got {}",
            short(f),
            want,
            idx,
            got.type_of().name()
        ))
    };
    Ok(match f {
        FuncId::Error => match &args[0] {
            Value::Str(s) => return Err(Error::new(s.to_string())),
            other => return Err(arg_err(0, "string", other)),
        },
        FuncId::Type => Value::str(args[0].type_of().name()),
        FuncId::Now => Value::Timestamp(now),
        FuncId::Coalesce => args
            .iter()
            .find(|v| !v.is_null())
            .cloned()
            .unwrap_or(Value::Null),
        _ if args[0].is_null() => Value::Null,
        FuncId::Int => match &args[0] {
            Value::Int(i) | Value::Timestamp(i) => Value::Int(*i),
            Value::Double(d) => Value::Int(*d as i64),
            Value::Bool(b) => Value::Int(*b as i64),
            Value::Str(s) => Value::Int(
                s.trim()
                    .parse::<i64>()
                    .map_err(|_| Error::new("int(): failed to cast string"))?,
            ),
            other => return Err(arg_err(0, "int", other)),
        },
        FuncId::Double => match &args[0] {
            Value::Int(i) | Value::Timestamp(i) => Value::Double(*i as f64),
            Value::Double(d) => Value::Double(*d),
            Value::Bool(b) => Value::Double(*b as i64 as f64),
            Value::Str(s) => Value::Double(
                s.trim()
                    .parse::<f64>()
                    .map_err(|_| Error::new("double(): failed to cast string"))?,
            ),
            other => return Err(arg_err(0, "double", other)),
        },
        FuncId::Bool => Value::Bool(args[0].is_true()),
        FuncId::String => match &args[0] {
            Value::Str(s) => Value::Str(s.clone()),
            other => {
                let mut out = String::new();
                amelie_common::format::write_value(other, &mut out, false, 0, tz_offset);
                if let Value::Timestamp(_) | Value::Interval(_) = other {
                    // write_value quotes text; strip the quotes for a string result
                    out = out.trim_matches('"').to_string();
                }
                Value::Str(out.into())
            }
        },
        FuncId::Length => match &args[0] {
            Value::Str(s) => Value::Int(s.len() as i64),
            Value::Vector(v) => Value::Int(v.len() as i64),
            Value::Json(j) => Value::Int(match &**j {
                amelie_common::Json::Array(a) => a.len() as i64,
                amelie_common::Json::Object(o) => o.len() as i64,
                amelie_common::Json::String(s) => s.len() as i64,
                _ => return Err(arg_err(0, "string", &args[0])),
            }),
            other => return Err(arg_err(0, "string", other)),
        },
        FuncId::Upper => match &args[0] {
            Value::Str(s) => Value::Str(s.to_ascii_uppercase().into()),
            other => return Err(arg_err(0, "string", other)),
        },
        FuncId::Lower => match &args[0] {
            Value::Str(s) => Value::Str(s.to_ascii_lowercase().into()),
            other => return Err(arg_err(0, "string", other)),
        },
        FuncId::Abs => match &args[0] {
            Value::Int(i) => Value::Int(i.wrapping_abs()),
            Value::Double(d) => Value::Double(d.abs()),
            other => return Err(type_error("abs", other)),
        },
    })
}
