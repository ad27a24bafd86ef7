//! Math functions.

use super::{arg_err, def, Ctx, Def, VARIADIC};
use amelie_common::{Error, Result, Value};

pub const DEFS: &[Def] = &[
    def("abs", 1, 1, false, abs),
    def("fabs", 1, 1, false, fabs),
    def("round", 1, 1, false, round),
    def("sign", 1, 1, false, sign),
    def("ceil", 1, 1, false, ceil),
    def("floor", 1, 1, false, floor),
    def("exp", 1, 1, false, exp),
    def("mod", 2, 2, false, mod_),
    def("fmod", 2, 2, false, fmod),
    def("pow", 2, 2, false, pow),
    def("fpow", 2, 2, false, fpow),
    def("trunc", 1, 1, false, trunc),
    def("pi", 0, 0, false, pi),
    def("sqrt", 1, 1, false, sqrt),
    def("acos", 1, 1, false, acos),
    def("acosh", 1, 1, false, acosh),
    def("asin", 1, 1, false, asin),
    def("asinh", 1, 1, false, asinh),
    def("atan", 1, 1, false, atan),
    def("atanh", 1, 1, false, atanh),
    def("atan2", 2, 2, false, atan2),
    def("cos", 1, 1, false, cos),
    def("cosh", 1, 1, false, cosh),
    def("sin", 1, 1, false, sin),
    def("sinh", 1, 1, false, sinh),
    def("tan", 1, 1, false, tan),
    def("tanh", 1, 1, false, tanh),
    def("ln", 1, 1, false, ln),
    def("log", 1, 1, false, log10),
    def("log10", 1, 1, false, log10),
    def("log2", 1, 1, false, log2),
    def("greatest", 0, VARIADIC, false, greatest),
    def("least", 0, VARIADIC, false, least),
];

fn dbl(f: &str, a: &[Value], i: usize) -> Result<f64> {
    match &a[i] {
        Value::Double(d) => Ok(*d),
        v => Err(arg_err(f, i, "double", v)),
    }
}

fn num(f: &str, a: &[Value], i: usize) -> Result<f64> {
    match &a[i] {
        Value::Double(d) => Ok(*d),
        Value::Int(x) => Ok(*x as f64),
        v => Err(arg_err(f, i, "double", v)),
    }
}

fn checked(f: &str, r: f64) -> Result<Value> {
    if r.is_nan() {
        return Err(Error::type_error(format!("{f}(): operation failed")));
    }
    Ok(Value::Double(r))
}

fn abs(_: &Ctx, a: &[Value]) -> Result<Value> {
    match &a[0] {
        Value::Int(i) => Ok(Value::Int(i.wrapping_abs())),
        Value::Double(d) => Ok(Value::Double(d.abs())),
        v => Err(arg_err("abs", 0, "int", v)),
    }
}

fn fabs(_: &Ctx, a: &[Value]) -> Result<Value> {
    Ok(Value::Double(dbl("fabs", a, 0)?.abs()))
}

fn round(_: &Ctx, a: &[Value]) -> Result<Value> {
    match &a[0] {
        Value::Int(i) => Ok(Value::Int(*i)),
        _ => Ok(Value::Int(dbl("round", a, 0)?.round() as i64)),
    }
}

fn sign(_: &Ctx, a: &[Value]) -> Result<Value> {
    match &a[0] {
        Value::Int(i) => Ok(Value::Int(i.signum())),
        Value::Double(d) => Ok(Value::Int(if *d > 0.0 {
            1
        } else if *d < 0.0 {
            -1
        } else {
            0
        })),
        v => Err(arg_err("sign", 0, "int", v)),
    }
}

macro_rules! unary_dbl {
    ($name:ident, $s:literal, $e:expr) => {
        fn $name(_: &Ctx, a: &[Value]) -> Result<Value> {
            let f: fn(f64) -> f64 = $e;
            checked($s, f(dbl($s, a, 0)?))
        }
    };
}

macro_rules! unary_num {
    ($name:ident, $s:literal, $e:expr) => {
        fn $name(_: &Ctx, a: &[Value]) -> Result<Value> {
            let f: fn(f64) -> f64 = $e;
            checked($s, f(num($s, a, 0)?))
        }
    };
}

unary_dbl!(ceil, "ceil", f64::ceil);
unary_dbl!(floor, "floor", f64::floor);
unary_dbl!(exp, "exp", f64::exp);
unary_num!(sqrt, "sqrt", f64::sqrt);
unary_num!(acos, "acos", f64::acos);
unary_num!(acosh, "acosh", f64::acosh);
unary_num!(asin, "asin", f64::asin);
unary_num!(asinh, "asinh", f64::asinh);
unary_num!(atan, "atan", f64::atan);
unary_num!(atanh, "atanh", f64::atanh);
unary_num!(cos, "cos", f64::cos);
unary_num!(cosh, "cosh", f64::cosh);
unary_num!(sin, "sin", f64::sin);
unary_num!(sinh, "sinh", f64::sinh);
unary_num!(tan, "tan", f64::tan);
unary_num!(tanh, "tanh", f64::tanh);
unary_num!(ln, "ln", f64::ln);
unary_num!(log10, "log", f64::log10);
unary_num!(log2, "log2", f64::log2);

fn trunc(_: &Ctx, a: &[Value]) -> Result<Value> {
    match &a[0] {
        Value::Int(i) => Ok(Value::Int(*i)),
        _ => Ok(Value::Int(dbl("trunc", a, 0)?.trunc() as i64)),
    }
}

fn mod_(_: &Ctx, a: &[Value]) -> Result<Value> {
    let x = super::int_arg("mod", a, 0)?;
    let y = super::int_arg("mod", a, 1)?;
    if y == 0 {
        return Err(Error::type_error("zero division"));
    }
    Ok(Value::Int(x.wrapping_rem(y)))
}

fn fmod(_: &Ctx, a: &[Value]) -> Result<Value> {
    let x = num("fmod", a, 0)?;
    let y = num("fmod", a, 1)?;
    checked("fmod", x % y)
}

fn pow(_: &Ctx, a: &[Value]) -> Result<Value> {
    let x = super::int_arg("pow", a, 0)?;
    let y = super::int_arg("pow", a, 1)?;
    Ok(Value::Int((x as f64).powf(y as f64) as i64))
}

fn fpow(_: &Ctx, a: &[Value]) -> Result<Value> {
    checked("fpow", num("fpow", a, 0)?.powf(num("fpow", a, 1)?))
}

fn atan2(_: &Ctx, a: &[Value]) -> Result<Value> {
    checked("atan2", num("atan2", a, 0)?.atan2(num("atan2", a, 1)?))
}

fn pi(_: &Ctx, _: &[Value]) -> Result<Value> {
    Ok(Value::Double(std::f64::consts::PI))
}

fn extreme(f: &str, a: &[Value], want: std::cmp::Ordering) -> Result<Value> {
    let mut best: Option<&Value> = None;
    for v in a.iter().filter(|v| !v.is_null()) {
        match best {
            None => best = Some(v),
            Some(b) => {
                if b.type_of() != v.type_of() {
                    return Err(Error::type_error(format!(
                        "public.{f}(): arguments types mismatch"
                    )));
                }
                if v.total_cmp(b) == want {
                    best = Some(v);
                }
            }
        }
    }
    Ok(best.cloned().unwrap_or(Value::Null))
}

fn greatest(_: &Ctx, a: &[Value]) -> Result<Value> {
    extreme("greatest", a, std::cmp::Ordering::Greater)
}

fn least(_: &Ctx, a: &[Value]) -> Result<Value> {
    extreme("least", a, std::cmp::Ordering::Less)
}
