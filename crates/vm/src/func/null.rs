//! NULL functions: coalesce, nullif.

use super::{def, Ctx, Def, VARIADIC};
use amelie_common::{Error, Result, Value};

pub const DEFS: &[Def] = &[
    def("coalesce", 0, VARIADIC, false, coalesce),
    def("nullif", 2, 2, false, nullif),
];

fn same_types(f: &str, a: &[Value]) -> Result<()> {
    let mut t = None;
    for v in a.iter().filter(|v| !v.is_null()) {
        match t {
            None => t = Some(v.type_of()),
            Some(x) if x != v.type_of() => {
                return Err(Error::type_error(format!(
                    "public.{f}(): arguments types mismatch"
                )))
            }
            _ => {}
        }
    }
    Ok(())
}

fn coalesce(_: &Ctx, a: &[Value]) -> Result<Value> {
    same_types("coalesce", a)?;
    Ok(a.iter()
        .find(|v| !v.is_null())
        .cloned()
        .unwrap_or(Value::Null))
}

fn nullif(_: &Ctx, a: &[Value]) -> Result<Value> {
    same_types("nullif", a)?;
    if a[0].is_null() || a[1].is_null() {
        return Ok(a[0].clone());
    }
    Ok(if a[0].total_cmp(&a[1]) == std::cmp::Ordering::Equal {
        Value::Null
    } else {
        a[0].clone()
    })
}
