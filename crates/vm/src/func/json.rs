//! JSON functions: append/push_back, push, pop, pop_back, put, remove, set, unset, has.

use super::{def, int_arg, str_arg, to_json, Ctx, Def, VARIADIC};
use amelie_common::governor::check_json_parts;
use amelie_common::{Error, ErrorKind, Json, Result, Value};

pub const DEFS: &[Def] = &[
    def("append", 0, VARIADIC, false, append),
    def("push_back", 0, VARIADIC, false, push_back),
    def("push", 0, VARIADIC, false, push),
    def("pop", 1, 1, true, pop),
    def("pop_back", 1, 1, true, pop_back),
    def("put", 3, 3, true, put),
    def("remove", 2, 2, true, remove),
    def("set", 3, 3, true, set),
    def("unset", 2, 2, true, unset),
    def("has", 2, 2, true, has),
    // internal: operators compiled into calls (names not writable in SQL)
    def("$index", 2, 2, false, op_index),
    def("$field", 2, 2, false, op_field),
    def("$array", 0, VARIADIC, false, op_array),
    def("$object", 0, VARIADIC, false, op_object),
];

fn unsupported_idx(a: &Value, b: &Value) -> Error {
    Error::with_kind(
        ErrorKind::UnsupportedOperation,
        format!(
            "unsupported operation: <{}> [] <{}>",
            a.type_of().name(),
            b.type_of().name()
        ),
    )
}

/// `a[b]`: json[int], json[string], vector[int].
fn op_index(_: &Ctx, a: &[Value]) -> Result<Value> {
    let (x, i) = (&a[0], &a[1]);
    match (x, i) {
        (Value::Null, _) | (_, Value::Null) => Ok(Value::Null),
        (Value::Json(j), Value::Int(n)) => match &**j {
            Json::Array(items) => Ok(usize::try_from(*n)
                .ok()
                .and_then(|n| items.get(n))
                .map(|v| Value::Json(Box::new(v.clone())))
                .unwrap_or(Value::Null)),
            Json::Null => Ok(Value::Null),
            _ => Err(Error::type_error("[]: array expected")),
        },
        (Value::Json(j), Value::Str(k)) => field_of(j, k),
        (Value::Vector(v), Value::Int(n)) => usize::try_from(*n)
            .ok()
            .and_then(|n| v.get(n))
            .map(|f| Value::Double(*f as f64))
            .ok_or_else(|| Error::type_error("[]: vector index is out of bounds")),
        _ => Err(unsupported_idx(x, i)),
    }
}

fn field_of(j: &Json, k: &str) -> Result<Value> {
    match j {
        Json::Object(m) => Ok(m
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| Value::Json(Box::new(v.clone())))
            .unwrap_or(Value::Null)),
        Json::Null => Ok(Value::Null),
        _ => Err(Error::type_error("[]: object expected")),
    }
}

/// `a.name` (the name passed as a string).
fn op_field(_: &Ctx, a: &[Value]) -> Result<Value> {
    match (&a[0], &a[1]) {
        (Value::Null, _) => Ok(Value::Null),
        (Value::Json(j), Value::Str(k)) => field_of(j, k),
        _ => Err(Error::type_error("[]: object expected")),
    }
}

fn op_array(c: &Ctx, a: &[Value]) -> Result<Value> {
    check_json_parts(a)?;
    checked(Json::Array(a.iter().map(|v| to_json(v, c.tz)).collect()))
}

/// A json value the functions built, refused when nested deeper than
/// [`amelie_common::json::MAX_DEPTH`] (so no function result is deeper than what may be
/// stored).
fn checked(j: Json) -> Result<Value> {
    j.check_depth()?;
    Ok(Value::Json(Box::new(j)))
}

fn op_object(c: &Ctx, a: &[Value]) -> Result<Value> {
    check_json_parts(a)?;
    let mut m = Vec::with_capacity(a.len() / 2);
    for kv in a.chunks(2) {
        let k = match &kv[0] {
            Value::Str(s) => s.to_string(),
            _ => return Err(Error::syntax("{}: {name <:>} expected")),
        };
        let v = kv.get(1).map(|v| to_json(v, c.tz)).unwrap_or(Json::Null);
        m.push((k, v));
    }
    checked(Json::Object(m))
}

fn array(f: &str, v: &Value) -> Result<Vec<Json>> {
    match v {
        Value::Json(j) => match &**j {
            Json::Array(a) => Ok(a.clone()),
            _ => Err(Error::type_error(format!("{f}(): json array expected"))),
        },
        _ => Err(Error::type_error(format!("{f}(): json array expected"))),
    }
}

fn object(f: &str, v: &Value) -> Result<Json> {
    match v {
        Value::Json(j) if matches!(**j, Json::Object(_)) => Ok((**j).clone()),
        _ => Err(Error::syntax(format!("{f}(): json object expected"))),
    }
}

fn arr(v: Vec<Json>) -> Value {
    Value::Json(Box::new(Json::Array(v)))
}

fn append_impl(f: &str, c: &Ctx, a: &[Value]) -> Result<Value> {
    if a.len() < 2 {
        return Err(Error::type_error(format!(
            "{f}(): expected two or more arguments"
        )));
    }
    if a[0].is_null() {
        return Ok(Value::Null);
    }
    check_json_parts(a)?;
    let mut v = array(f, &a[0])?;
    v.extend(a[1..].iter().map(|x| to_json(x, c.tz)));
    checked(Json::Array(v))
}

fn append(c: &Ctx, a: &[Value]) -> Result<Value> {
    append_impl("append", c, a)
}

fn push_back(c: &Ctx, a: &[Value]) -> Result<Value> {
    append_impl("push_back", c, a)
}

fn push(c: &Ctx, a: &[Value]) -> Result<Value> {
    if a.len() < 2 {
        return Err(Error::type_error("push(): expected two or more arguments"));
    }
    if a[0].is_null() {
        return Ok(Value::Null);
    }
    check_json_parts(a)?;
    let old = array("push", &a[0])?;
    let mut v: Vec<Json> = a[1..].iter().map(|x| to_json(x, c.tz)).collect();
    v.extend(old);
    checked(Json::Array(v))
}

fn pop(_: &Ctx, a: &[Value]) -> Result<Value> {
    let mut v = array("pop", &a[0])?;
    if !v.is_empty() {
        v.remove(0);
    }
    Ok(arr(v))
}

fn pop_back(_: &Ctx, a: &[Value]) -> Result<Value> {
    let mut v = array("pop_back", &a[0])?;
    v.pop();
    Ok(arr(v))
}

fn index(f: &str, a: &[Value], len: usize) -> Result<usize> {
    let i = int_arg(f, a, 1)?;
    if i < 0 || i as u64 >= len as u64 {
        return Err(Error::type_error(format!(
            "{f}: array index {i} is out of bounds"
        )));
    }
    Ok(i as usize)
}

fn put(c: &Ctx, a: &[Value]) -> Result<Value> {
    check_json_parts(a)?;
    let mut v = array("put", &a[0])?;
    let i = index("put", a, v.len())?;
    v[i] = to_json(&a[2], c.tz);
    checked(Json::Array(v))
}

fn remove(_: &Ctx, a: &[Value]) -> Result<Value> {
    let mut v = array("remove", &a[0])?;
    let i = index("remove", a, v.len())?;
    v.remove(i);
    Ok(arr(v))
}

fn path<'a>(f: &str, a: &'a [Value]) -> Result<Vec<&'a str>> {
    let p = str_arg(f, a, 1)?;
    // (a path reaches one level deeper per part: no deeper than a value may nest)
    if p.bytes().filter(|&b| b == b'.').count() >= amelie_common::json::MAX_DEPTH {
        return Err(amelie_common::json::too_deep());
    }
    let parts: Vec<&str> = p.split('.').collect();
    if parts.iter().any(|s| s.trim().is_empty()) {
        return Err(Error::syntax("set: incorrect path"));
    }
    Ok(parts)
}

/// Sets `path` in `j`. Returns whether the leaf key had to be inserted. Amelie quirk: when a
/// nested leaf is inserted, each enclosing object also gets `(its key, v)` appended
/// (`{"n": {}}` set `n.l` = 1 gives `{"n": {"l": 1}, "n": 1}`).
fn set_path(j: &mut Json, path: &[&str], v: Json) -> bool {
    if !matches!(j, Json::Object(_)) {
        *j = Json::Object(vec![]);
    }
    let Json::Object(members) = j else {
        return false;
    };
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let pos = members.iter().position(|(k, _)| k == first);
    if rest.is_empty() {
        return match pos {
            Some(p) => {
                members[p].1 = v;
                false
            }
            None => {
                members.push((first.to_string(), v));
                true
            }
        };
    }
    let p = match pos {
        Some(p) => p,
        None => {
            members.push((first.to_string(), Json::Object(vec![])));
            members.len() - 1
        }
    };
    let inserted = set_path(&mut members[p].1, rest, v.clone());
    if inserted {
        members.push((first.to_string(), v));
    }
    inserted
}

fn set(c: &Ctx, a: &[Value]) -> Result<Value> {
    check_json_parts(a)?;
    let mut o = object("set", &a[0])?;
    let p = path("set", a)?;
    set_path(&mut o, &p, to_json(&a[2], c.tz));
    checked(o)
}

fn unset_path(j: &mut Json, path: &[&str]) {
    let Json::Object(members) = j else {
        return;
    };
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    let Some(p) = members.iter().position(|(k, _)| k == first) else {
        return;
    };
    if rest.is_empty() {
        members.remove(p);
    } else {
        unset_path(&mut members[p].1, rest);
    }
}

fn unset(_: &Ctx, a: &[Value]) -> Result<Value> {
    let mut o = object("unset", &a[0])?;
    let p = path("unset", a)?;
    unset_path(&mut o, &p);
    Ok(Value::Json(Box::new(o)))
}

fn has(_: &Ctx, a: &[Value]) -> Result<Value> {
    let o = object("has", &a[0])?;
    let p = path("has", a)?;
    let mut cur = &o;
    for k in p {
        match cur {
            Json::Object(m) => match m.iter().find(|(n, _)| n == k) {
                Some((_, v)) => cur = v,
                None => return Ok(Value::Bool(false)),
            },
            _ => return Ok(Value::Bool(false)),
        }
    }
    Ok(Value::Bool(true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_nested() {
        let c = Ctx {
            now: 0,
            tz: amelie_common::Tz::UTC,
        };
        let o = Value::Json(Box::new(Json::parse(r#"{"a": {"b": 0}}"#).unwrap()));
        let r = set(&c, &[o, Value::str("a.b"), Value::Int(1)]).unwrap();
        let Value::Json(j) = r else { panic!() };
        assert_eq!(j.to_compact_string(), "{\"a\": {\"b\": 1}}");
        let o = Value::Json(Box::new(Json::parse(r#"{"n": {}}"#).unwrap()));
        let r = set(&c, &[o, Value::str("n.l"), Value::Int(1)]).unwrap();
        let Value::Json(j) = r else { panic!() };
        assert_eq!(j.to_compact_string(), "{\"n\": {\"l\": 1}, \"n\": 1}");
    }

    #[test]
    fn results_are_at_most_max_depth() {
        use amelie_common::json::MAX_DEPTH;
        let c = Ctx {
            now: 0,
            tz: amelie_common::Tz::UTC,
        };
        let deep = |d: usize| {
            let text = format!("{}{}", "[".repeat(d), "]".repeat(d));
            Value::Json(Box::new(Json::parse(&text).unwrap()))
        };
        let too_deep = "json nesting is too deep";
        assert!(op_array(&c, &[deep(MAX_DEPTH - 1)]).is_ok());
        assert_eq!(
            op_array(&c, &[deep(MAX_DEPTH)]).unwrap_err().msg(),
            too_deep
        );
        let obj = [Value::str("k"), deep(MAX_DEPTH)];
        assert_eq!(op_object(&c, &obj).unwrap_err().msg(), too_deep);
        let app = [deep(1), deep(MAX_DEPTH)];
        assert_eq!(append(&c, &app).unwrap_err().msg(), too_deep);
        let path = |n: usize| Value::str(&vec!["a"; n].join("."));
        let empty = || Value::Json(Box::new(Json::Object(Vec::new())));
        assert!(set(&c, &[empty(), path(MAX_DEPTH), Value::Int(1)]).is_ok());
        for n in [MAX_DEPTH + 1, 30_000] {
            let r = set(&c, &[empty(), path(n), Value::Int(1)]);
            assert_eq!(r.unwrap_err().msg(), too_deep);
        }
        let r = set(&c, &[empty(), path(2), deep(MAX_DEPTH)]);
        assert_eq!(r.unwrap_err().msg(), too_deep);
        assert!(unset(&c, &[empty(), path(30_000)]).is_err());
        assert!(has(&c, &[empty(), path(30_000)]).is_err());
    }
}
