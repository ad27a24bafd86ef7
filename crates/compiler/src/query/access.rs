//! Table access: how a scan reads a table, decided from its filter before any code is
//! emitted ([`access`]): a point lookup when the filter fixes every primary-key column with
//! `=` (possibly among other AND-ed conditions), a key range when it bounds a key prefix,
//! else a full scan.

use crate::builder::Builder;
use crate::expr::{const_value, Scope};
use amelie_catalog::Table;
use amelie_common::{Error, ErrorKind, Result, Value};
use amelie_parser::{BinaryOp, Expr};

/// How a scan reads its table.
pub(crate) enum Access {
    /// One row: the primary-key values in key order (the request goes to one partition).
    Point(Vec<KeyValue>),
    /// The rows between two encoded primary keys, in key order (every partition).
    Range(KeyBound, KeyBound),
    /// Every row (every partition).
    Full,
}

/// Decides the [`Access`] of a scan over `table` with `filter` (refusing comparisons of key
/// columns with constants of incomparable types first).
pub(crate) fn access(
    b: &Builder,
    table: &Table,
    scope: &Scope,
    filter: Option<&Expr>,
) -> Result<Access> {
    if let Some(f) = filter {
        check_key_types(b, table, scope, f)?;
    }
    if let Some(values) = point_lookup(b, table, scope, filter)? {
        return Ok(Access::Point(values));
    }
    Ok(match key_range(b, table, scope, filter)? {
        Some((from, to)) => Access::Range(from, to),
        None => Access::Full,
    })
}

pub(crate) fn conjuncts<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
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

/// One primary-key value of a point lookup.
#[derive(Clone, Debug)]
pub enum KeyValue {
    /// A constant (already in the key column's form).
    Const(Value),
    /// A literal of the request, bound for each execution (`int32`: the column is int32).
    Lit { ord: u32, int32: bool },
}

/// Returns the primary-key values (in key order) when `filter` pins the whole key.
pub fn point_lookup(
    b: &Builder,
    table: &Table,
    scope: &Scope,
    filter: Option<&Expr>,
) -> Result<Option<Vec<KeyValue>>> {
    let Some(filter) = filter else {
        return Ok(None);
    };
    let mut cs = Vec::new();
    conjuncts(filter, &mut cs);
    let keys = &table.primary().keys;
    let mut values: Vec<Option<KeyValue>> = vec![None; keys.len()];
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
            let ty = table.columns[col].ty;
            if let Expr::Param(p) = &**val {
                // the value is bound when the program runs; only its type decides here
                if matches!(
                    (ty.runtime(), p.ty()),
                    (amelie_common::Type::Int, amelie_common::Type::Int)
                        | (amelie_common::Type::String, amelie_common::Type::String)
                ) {
                    values[pos] = Some(KeyValue::Lit {
                        ord: p.ord(),
                        int32: ty == amelie_common::ColumnType::Int32,
                    });
                }
                continue;
            }
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
                values[pos] = Some(KeyValue::Const(v));
            }
        }
    }
    Ok(values.into_iter().collect())
}

/// An encoded primary-key bound (`bool`: inclusive).
pub type KeyBound = Option<(Box<[u8]>, bool)>;

/// Keys never continue with this byte after a complete column encoding (column tags are
/// `0..=3`), so `prefix ++ [0xFF]` is above every key that starts with `prefix`.
const AFTER: u8 = 0xFF;

/// The constant of `v` when it can be compared with key column `col` in key encoding.
fn key_const(b: &Builder, table: &Table, col: usize, v: &Expr) -> Result<Option<Value>> {
    let Some(v) = const_value(v, b)? else {
        return Ok(None);
    };
    let ok = matches!(
        (table.columns[col].ty.runtime(), &v),
        (amelie_common::Type::Int, Value::Int(_))
            | (amelie_common::Type::String, Value::Str(_))
            | (amelie_common::Type::Timestamp, Value::Timestamp(_))
    );
    Ok(ok.then_some(v))
}

/// A key range for `filter` when it does not pin the whole key (see [`point_lookup`]) but
/// fixes a key prefix with `=` and/or bounds the next key column with `<, <=, >, >=` or
/// `BETWEEN`. The range only narrows the scan: the scan body still evaluates the filter.
pub fn key_range(
    b: &Builder,
    table: &Table,
    scope: &Scope,
    filter: Option<&Expr>,
) -> Result<Option<(KeyBound, KeyBound)>> {
    let Some(filter) = filter else {
        return Ok(None);
    };
    let mut cs = Vec::new();
    conjuncts(filter, &mut cs);
    let column_of = |e: &Expr| -> Option<usize> {
        let Expr::Name(parts) = e else { return None };
        scope.column(parts).ok()
    };
    let mut prefix = Vec::new();
    let mut lower: Option<(Value, bool)> = None;
    let mut upper: Option<(Value, bool)> = None;
    let mut fixed = 0;
    for &key in &table.primary().keys {
        let mut eq = None;
        for c in &cs {
            let (op, col, val) = match c {
                Expr::Binary { op, left, right } => match (column_of(left), column_of(right)) {
                    (Some(col), _) => (*op, col, &**right),
                    (None, Some(col)) => {
                        let flipped = match op {
                            BinaryOp::Lt => BinaryOp::Gt,
                            BinaryOp::LtEq => BinaryOp::GtEq,
                            BinaryOp::Gt => BinaryOp::Lt,
                            BinaryOp::GtEq => BinaryOp::LtEq,
                            other => *other,
                        };
                        (flipped, col, &**left)
                    }
                    _ => continue,
                },
                Expr::Between {
                    expr,
                    low,
                    high,
                    negated: false,
                } if column_of(expr) == Some(key) => {
                    if lower.is_none() {
                        lower = key_const(b, table, key, low)?.map(|v| (v, true));
                    }
                    if upper.is_none() {
                        upper = key_const(b, table, key, high)?.map(|v| (v, true));
                    }
                    continue;
                }
                _ => continue,
            };
            if col != key {
                continue;
            }
            let Some(v) = key_const(b, table, key, val)? else {
                continue;
            };
            match op {
                BinaryOp::Eq => eq = Some(v),
                BinaryOp::Gt if lower.is_none() => lower = Some((v, false)),
                BinaryOp::GtEq if lower.is_none() => lower = Some((v, true)),
                BinaryOp::Lt if upper.is_none() => upper = Some((v, false)),
                BinaryOp::LtEq if upper.is_none() => upper = Some((v, true)),
                _ => {}
            }
        }
        match eq {
            Some(v) => {
                amelie_vm::node_exec::encode_key(std::slice::from_ref(&v), &mut prefix);
                fixed += 1;
                lower = None;
                upper = None;
            }
            None => break,
        }
    }
    if fixed == 0 && lower.is_none() && upper.is_none() {
        return Ok(None);
    }
    let bound = |v: Option<(Value, bool)>, low: bool| -> (Box<[u8]>, bool) {
        let mut k = prefix.clone();
        match v {
            Some((v, inclusive)) => {
                amelie_vm::node_exec::encode_key(std::slice::from_ref(&v), &mut k);
                // `> v` and `<= v` must step over every key that continues after `v`
                if inclusive != low {
                    k.push(AFTER);
                }
                (k.into_boxed_slice(), low || inclusive)
            }
            None => {
                if !low {
                    k.push(AFTER);
                }
                (k.into_boxed_slice(), true)
            }
        }
    };
    let from = (fixed > 0 || lower.is_some()).then(|| bound(lower, true));
    let to = (fixed > 0 || upper.is_some()).then(|| bound(upper, false));
    Ok(Some((from, to)))
}

/// Comparisons of a primary-key column with a constant of an incomparable type are rejected
/// when planning (as Amelie does), even if the table is empty.
fn check_key_types(b: &Builder, t: &Table, scope: &Scope, filter: &Expr) -> Result<()> {
    use amelie_common::Type;
    use amelie_parser::BinaryOp as B;
    let group = |ty: Type| match ty {
        Type::Int | Type::Double | Type::Bool | Type::Timestamp => Some(0),
        Type::String => Some(1),
        _ => None,
    };
    let mut stack = vec![filter];
    while let Some(e) = stack.pop() {
        let Expr::Binary { op, left, right } = e else {
            continue;
        };
        let symbol = match op {
            B::And => {
                stack.push(left);
                stack.push(right);
                continue;
            }
            B::Eq | B::NotEq => "=",
            B::Lt => "<",
            B::LtEq => "<=",
            B::Gt => ">",
            B::GtEq => ">=",
            _ => continue,
        };
        let side = |x: &Expr| -> Result<Option<Type>> {
            if let Expr::Name(parts) = x {
                if let Ok(col) = scope.column(parts) {
                    if t.is_key(col) {
                        return Ok(Some(t.columns[col].ty.runtime()));
                    }
                }
                return Ok(None);
            }
            crate::expr::const_type(x, b)
        };
        let key_left = matches!(&**left, Expr::Name(_));
        let key_right = matches!(&**right, Expr::Name(_));
        if key_left == key_right {
            continue;
        }
        let (Some(l), Some(r)) = (side(left)?, side(right)?) else {
            continue;
        };
        if let (Some(x), Some(y)) = (group(l), group(r)) {
            if x != y {
                return Err(Error::with_kind(
                    ErrorKind::UnsupportedOperation,
                    format!(
                        "unsupported operation: <{}> {symbol} <{}>",
                        l.name(),
                        r.name()
                    ),
                ));
            }
        }
    }
    Ok(())
}
