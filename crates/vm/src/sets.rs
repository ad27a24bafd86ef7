//! Expressions over the rows of an earlier statement (scalar subquery, EXISTS, `x IN
//! (SELECT ...)`, `x op ANY|ALL (SELECT ...)`), shared by the coordinator and the nodes. On
//! a node the rows are the sets shipped with the request.

use crate::coord::any_all;
use crate::op::{BinOp, Op};
use crate::Tuple;
use amelie_common::{FastMap, FastSet, Result, Type, Value};

/// Where statement row sets are read from.
pub trait SetSource {
    /// The rows of statement `stmt` (empty when it has none).
    fn rows(&self, stmt: usize) -> &[Tuple];
}

impl SetSource for Vec<Vec<Tuple>> {
    fn rows(&self, stmt: usize) -> &[Tuple] {
        self.get(stmt).map(|v| v.as_slice()).unwrap_or(&[])
    }
}

/// The first-column values of a set, when they all have one hashable type.
pub struct InCache {
    values: FastSet<Value>,
    has_null: bool,
    ty: Option<Type>,
}

impl InCache {
    fn build(rows: &[Tuple]) -> InCache {
        let mut c = InCache {
            values: FastSet::with_capacity_and_hasher(rows.len(), Default::default()),
            has_null: false,
            ty: None,
        };
        let mut mixed = false;
        for row in rows {
            match row.first() {
                None | Some(Value::Null) => c.has_null = true,
                Some(v) => {
                    let t = v.type_of();
                    if c.ty.is_some_and(|x| x != t) {
                        mixed = true;
                    }
                    c.ty = Some(t);
                    c.values.insert(v.clone());
                }
            }
        }
        if mixed {
            c.ty = None;
        }
        c
    }

    /// `a IN (set)`, when hashing gives the SQL answer: `a` and every non-null value of the
    /// set have the same int/string/timestamp type. None: compare one by one.
    fn lookup(&self, a: &Value) -> Option<Value> {
        let ty = a.type_of();
        if !matches!(ty, Type::Int | Type::String | Type::Timestamp) {
            return None;
        }
        if !(self.ty == Some(ty) || (self.ty.is_none() && self.values.is_empty())) {
            return None;
        }
        Some(if self.values.contains(a) {
            Value::Bool(true)
        } else if self.has_null {
            Value::Null
        } else {
            Value::Bool(false)
        })
    }
}

/// Hash sets of statement rows for `IN`, built on first use. The owner drops a statement's
/// entry whenever its rows change.
#[derive(Default)]
pub struct InCaches {
    by_stmt: FastMap<usize, InCache>,
}

impl InCaches {
    pub fn invalidate(&mut self, stmt: usize) {
        self.by_stmt.remove(&stmt);
    }
}

/// Evaluates `op` when it is one of the set expressions; returns false otherwise.
pub fn set_expr<S: SetSource + ?Sized>(
    op: &Op,
    regs: &mut [Value],
    sets: &S,
    cache: &mut InCaches,
) -> Result<bool> {
    match op {
        Op::SetAnyAll {
            stmt,
            op,
            all,
            dst,
            a,
        } => {
            let s = *stmt as usize;
            let rows = sets.rows(s);
            let fast = if *op == BinOp::Eq && !*all {
                cache
                    .by_stmt
                    .entry(s)
                    .or_insert_with(|| InCache::build(rows))
                    .lookup(&regs[*a as usize])
            } else {
                None
            };
            regs[*dst as usize] = match fast {
                Some(v) => v,
                None => {
                    let items = rows
                        .iter()
                        .map(|r| r.first().cloned().unwrap_or(Value::Null));
                    any_all(*op, *all, &regs[*a as usize], items)?
                }
            };
        }
        Op::SetScalar { stmt, dst } => {
            regs[*dst as usize] = sets
                .rows(*stmt as usize)
                .first()
                .and_then(|r| r.first().cloned())
                .unwrap_or(Value::Null);
        }
        Op::SetExists { stmt, dst } => {
            regs[*dst as usize] = Value::Bool(!sets.rows(*stmt as usize).is_empty());
        }
        _ => return Ok(false),
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(vals: &[Value]) -> Vec<Tuple> {
        vals.iter()
            .map(|v| vec![v.clone()].into_boxed_slice())
            .collect()
    }

    fn in_set(set: Vec<Tuple>, a: Value) -> Value {
        let sets: Vec<Vec<Tuple>> = vec![set];
        let mut regs = vec![a, Value::Null];
        let op = Op::SetAnyAll {
            stmt: 0,
            op: BinOp::Eq,
            all: false,
            dst: 1,
            a: 0,
        };
        let mut cache = InCaches::default();
        assert!(set_expr(&op, &mut regs, &sets, &mut cache).unwrap());
        regs[1].clone()
    }

    #[test]
    fn in_subquery_hash_path_keeps_sql_null_semantics() {
        let ints = rows(&[Value::Int(1), Value::Int(2)]);
        assert_eq!(in_set(ints.clone(), Value::Int(2)), Value::Bool(true));
        assert_eq!(in_set(ints, Value::Int(3)), Value::Bool(false));
        let with_null = rows(&[Value::Int(1), Value::Null]);
        assert_eq!(in_set(with_null, Value::Int(3)), Value::Null);
        // int against double compares by value, not by hash
        let doubles = rows(&[Value::Double(2.0)]);
        assert_eq!(in_set(doubles, Value::Int(2)), Value::Bool(true));
        assert_eq!(in_set(Vec::new(), Value::Int(2)), Value::Bool(false));
    }
}
