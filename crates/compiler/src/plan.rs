//! Access planning: a point lookup when the filter fixes every primary-key column to a
//! constant with `=` (possibly among other AND-ed conditions).

use crate::builder::Builder;
use crate::expr::{const_value, Scope};
use amelie_catalog::Table;
use amelie_common::{Result, Value};
use amelie_parser::{BinaryOp, Expr};

fn conjuncts<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
    match e {
        Expr::Binary {
            op: BinaryOp::And,
            left,
            right,
        } => {
            conjuncts(left, out);
            conjuncts(right, out);
        }
        other => out.push(other),
    }
}

/// Returns the primary-key values (in key order) when `filter` pins the whole key.
pub fn point_lookup(
    b: &Builder,
    table: &Table,
    scope: &Scope,
    filter: Option<&Expr>,
) -> Result<Option<Vec<Value>>> {
    let Some(filter) = filter else {
        return Ok(None);
    };
    let mut cs = Vec::new();
    conjuncts(filter, &mut cs);
    let keys = &table.primary().keys;
    let mut values: Vec<Option<Value>> = vec![None; keys.len()];
    for c in cs {
        let Expr::Binary {
            op: BinaryOp::Eq,
            left,
            right,
        } = c
        else {
            continue;
        };
        for (name, val) in [(left, right), (right, left)] {
            let Expr::Name(parts) = &**name else { continue };
            let Ok(col) = scope.column(parts) else {
                continue;
            };
            let Some(pos) = keys.iter().position(|k| *k == col) else {
                continue;
            };
            let Some(v) = const_value(val, b)? else {
                continue;
            };
            let ok = matches!(
                (table.columns[col].ty.runtime(), &v),
                (amelie_common::Type::Int, Value::Int(_))
                    | (amelie_common::Type::String, Value::Str(_))
                    | (amelie_common::Type::Timestamp, Value::Timestamp(_))
            );
            if ok {
                let v = match (table.columns[col].ty, v) {
                    (amelie_common::ColumnType::Int32, Value::Int(i)) => {
                        Value::Int(i as i32 as i64)
                    }
                    (_, v) => v,
                };
                values[pos] = Some(v);
            }
        }
    }
    Ok(values.into_iter().collect())
}
