//! Vector functions: vector(json), cos_distance.

use super::{arg_err, def, Ctx, Def};
use amelie_common::{Error, Json, Result, Value};

pub const DEFS: &[Def] = &[def("cos_distance", 2, 2, true, cos_distance)];

pub fn vector(_: &Ctx, a: &[Value]) -> Result<Value> {
    let bad = || Error::type_error("vector(): json array int or real values expected");
    match &a[0] {
        Value::Vector(v) => Ok(Value::Vector(v.clone())),
        Value::Json(j) => match &**j {
            Json::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for x in items {
                    out.push(match x {
                        Json::Int(i) => *i as f32,
                        Json::Double(d) => *d as f32,
                        _ => return Err(bad()),
                    });
                }
                Ok(Value::Vector(out.into()))
            }
            _ => Err(bad()),
        },
        v => Err(super::cast::not_supported("vector", v)),
    }
}

fn cos_distance(_: &Ctx, a: &[Value]) -> Result<Value> {
    let x = match &a[0] {
        Value::Vector(v) => v,
        v => return Err(arg_err("cos_distance", 0, "vector", v)),
    };
    let y = match &a[1] {
        Value::Vector(v) => v,
        Value::Null => return Ok(Value::Null),
        v => return Err(arg_err("cos_distance", 1, "vector", v)),
    };
    if x.len() != y.len() {
        return Err(Error::type_error(
            "cos_distance(): vector sizes does not match",
        ));
    }
    let (mut dot, mut nx, mut ny) = (0f64, 0f64, 0f64);
    for (p, q) in x.iter().zip(y.iter()) {
        dot += *p as f64 * *q as f64;
        nx += *p as f64 * *p as f64;
        ny += *q as f64 * *q as f64;
    }
    let sim = dot / (nx.sqrt() * ny.sqrt());
    let d = 1.0 - sim;
    Ok(Value::Double(if d.is_nan() {
        1.0
    } else {
        d.clamp(0.0, 2.0)
    }))
}
