//! The JSON forms of catalog objects shown by `SHOW` and `system.*()`: schemas, tables (with
//! their columns, indexes and partitions) and values.

use amelie_catalog::{Column, IndexDef, Schema, Table};
use amelie_common::{ColumnType, IndexKind, Json, Value};

pub(crate) fn obj(fields: Vec<(&str, Json)>) -> Json {
    Json::Object(
        fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

pub(crate) fn s(v: &str) -> Json {
    Json::String(v.to_string())
}

/// Runtime type code of a column type (bool 1 … vector 8).
pub fn type_code(ty: ColumnType) -> i64 {
    match ty {
        ColumnType::Bool => 1,
        ColumnType::Int8 | ColumnType::Int16 | ColumnType::Int32 | ColumnType::Int64 => 2,
        ColumnType::Float | ColumnType::Double => 3,
        ColumnType::Text => 4,
        ColumnType::Json => 5,
        ColumnType::Timestamp => 6,
        ColumnType::Interval => 7,
        ColumnType::Vector => 8,
    }
}

pub fn value_json(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::Int(*i),
        Value::Double(d) => Json::Double(*d),
        Value::Str(x) => Json::String(x.to_string()),
        Value::Json(j) => (**j).clone(),
        Value::Vector(v) => Json::Array(v.iter().map(|f| Json::Double(*f as f64)).collect()),
        Value::Timestamp(_) | Value::Interval(_) => Json::Null,
    }
}

pub fn schema_json(sc: &Schema, extended: bool) -> Json {
    let mut f = vec![("name", s(&sc.name)), ("system", Json::Bool(sc.system))];
    if extended {
        f.push(("create", Json::Bool(sc.create)));
    }
    obj(f)
}

fn column_json(c: &Column) -> Json {
    obj(vec![
        ("name", s(&c.name)),
        ("type", Json::Int(type_code(c.ty))),
        ("type_size", Json::Int(c.ty.size())),
        (
            "constraints",
            obj(vec![
                ("not_null", Json::Bool(c.not_null)),
                ("serial", Json::Bool(c.serial)),
                ("random", Json::Bool(c.random.is_some())),
                ("random_modulo", Json::Int(c.random.unwrap_or(i64::MAX))),
                ("as_stored", s(c.gen.stored.as_deref().unwrap_or(""))),
                ("as_resolved", s(c.gen.resolved.as_deref().unwrap_or(""))),
                (
                    "default",
                    c.default.as_ref().map(value_json).unwrap_or(Json::Null),
                ),
            ]),
        ),
    ])
}

pub fn index_json(i: &IndexDef) -> Json {
    obj(vec![
        ("name", s(&i.name)),
        (
            "type",
            Json::Int(match i.kind {
                IndexKind::Hash => 1,
                IndexKind::Tree => 2,
            }),
        ),
        ("unique", Json::Bool(i.unique)),
        ("primary", Json::Bool(i.primary)),
        (
            "keys",
            Json::Array(
                i.keys
                    .iter()
                    .map(|k| obj(vec![("column", Json::Int(*k as i64))]))
                    .collect(),
            ),
        ),
    ])
}

pub fn table_json(t: &Table, extended: bool) -> Json {
    let mut f = vec![
        ("schema", s(&t.schema)),
        ("name", s(&t.name)),
        ("shared", Json::Bool(t.shared)),
        ("unlogged", Json::Bool(t.unlogged)),
    ];
    if extended {
        f.push((
            "columns",
            Json::Array(t.columns.iter().map(column_json).collect()),
        ));
        f.push((
            "indexes",
            Json::Array(t.indexes.iter().map(index_json).collect()),
        ));
        f.push((
            "partitions",
            Json::Array(
                t.partitions
                    .iter()
                    .map(|p| {
                        obj(vec![
                            ("id", Json::Int(p.id as i64)),
                            ("node", s(&p.node)),
                            ("min", Json::Int(p.min as i64)),
                            ("max", Json::Int(p.max as i64)),
                        ])
                    })
                    .collect(),
            ),
        ));
    }
    obj(f)
}

/// `[schema.]name` text → (schema, name).
pub fn split_name(text: &str) -> (String, String) {
    match text.split_once('.') {
        Some((a, b)) => (a.to_string(), b.to_string()),
        None => ("public".to_string(), text.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_types() {
        assert_eq!(split_name("a.b"), ("a".to_string(), "b".to_string()));
        assert_eq!(split_name("b"), ("public".to_string(), "b".to_string()));
        assert_eq!(type_code(ColumnType::Vector), 8);
        assert_eq!(type_code(ColumnType::Int8), 2);
    }
}
