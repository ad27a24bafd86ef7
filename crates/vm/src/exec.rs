//! Expression semantics: operators over values (NULL propagation, truthiness, the type
//! matrix of Amelie) and the interpreter step shared by both sections.

use crate::func;
use crate::op::{BinOp, Op, UnOp};
use crate::program::{Env, Program};
use amelie_common::{Error, ErrorKind, Result, Type, Value};
use std::cmp::Ordering;

pub fn type_error(fname: &str, v: &Value) -> Error {
    Error::type_error(format!(
        "{fname}(): expected int or double for argument 0, but got {}",
        v.type_of().name()
    ))
}

fn unsupported(op: BinOp, a: &Value, b: &Value) -> Error {
    Error::with_kind(
        ErrorKind::UnsupportedOperation,
        format!(
            "unsupported operation: <{}> {} <{}>",
            a.type_of().name(),
            op.symbol(),
            b.type_of().name()
        ),
    )
}

fn as_num(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) | Value::Timestamp(i) => Some(*i),
        Value::Bool(b) => Some(*b as i64),
        _ => None,
    }
}

/// Compares two non-null values per the comparison matrix; None = unsupported pair.
fn compare(a: &Value, b: &Value, allow_json: bool) -> Option<Ordering> {
    use Value::*;
    match (a, b) {
        (Double(x), Double(y)) => x.partial_cmp(y),
        // Amelie quirk: double = bool works, bool = double does not
        (Bool(_), Double(_)) => None,
        (Double(x), y) => as_num(y).and_then(|y| x.partial_cmp(&(y as f64))),
        (x, Double(y)) => as_num(x).and_then(|x| (x as f64).partial_cmp(y)),
        (Str(x), Str(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (Interval(x), Interval(y)) => Some(x.cmp_parts(y)),
        (Json(x), Json(y)) if allow_json => Some(x.total_cmp(y)),
        (Vector(x), Vector(y)) => Some(amelie_common::value::cmp_vectors(x, y)),
        (x, y) => match (as_num(x), as_num(y)) {
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ => None,
        },
    }
}

pub(crate) fn like(s: &[u8], p: &[u8]) -> bool {
    // iterative matcher with backtracking for '%'
    let (mut si, mut pi) = (0usize, 0usize);
    let (mut star_p, mut star_s) = (None::<usize>, 0usize);
    while si < s.len() {
        if pi < p.len() {
            match p[pi] {
                b'%' => {
                    star_p = Some(pi);
                    star_s = si;
                    pi += 1;
                    continue;
                }
                b'_' => {
                    si += 1;
                    pi += 1;
                    continue;
                }
                b'\\' if pi + 1 < p.len() && p[pi + 1] == s[si] => {
                    si += 1;
                    pi += 2;
                    continue;
                }
                c if c != b'\\' && c == s[si] => {
                    si += 1;
                    pi += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star_p {
            Some(sp) => {
                star_s += 1;
                si = star_s;
                pi = sp + 1;
            }
            None => return false,
        }
    }
    // Amelie: once the string is exhausted, a pending '%' matches whatever pattern is left
    // ('' LIKE '%_' is true)
    pi == p.len() || p[pi] == b'%'
}

/// `t ± iv`: months first (day clamped to the month length), then days and microseconds.
pub fn ts_add(t: i64, iv: &amelie_common::Interval, sub: bool) -> Result<i64> {
    use amelie_common::time::{days_in_month, DateTime, Tz, US_PER_DAY};
    let overflow = || Error::type_error("timestamp overflow");
    let s: i64 = if sub { -1 } else { 1 };
    let mut r = t;
    if iv.months != 0 {
        let mut dt = DateTime::from_timestamp(r, Tz::UTC);
        let m = dt.year * 12 + (dt.month as i64 - 1) + s * iv.months as i64;
        dt.year = m.div_euclid(12);
        dt.month = (m.rem_euclid(12) + 1) as u32;
        if !(1970..=9999).contains(&dt.year) {
            return Err(overflow());
        }
        dt.day = dt.day.min(days_in_month(dt.year, dt.month));
        r = dt.to_timestamp(Tz::UTC);
    }
    let delta = (iv.days as i64)
        .checked_mul(US_PER_DAY)
        .and_then(|d| d.checked_add(iv.us))
        .and_then(|d| d.checked_mul(s))
        .ok_or_else(overflow)?;
    let r = r.checked_add(delta).ok_or_else(overflow)?;
    // years 1970 ..= 9999
    if !(0..253_402_300_800_000_000).contains(&r) {
        return Err(overflow());
    }
    Ok(r)
}

/// `x ± y` part by part; a part out of its range fails with `interval overflow` (both for
/// addition and subtraction).
pub fn interval_add(
    x: &amelie_common::Interval,
    y: &amelie_common::Interval,
    sub: bool,
) -> Result<amelie_common::Interval> {
    let overflow = || Error::type_error("interval overflow");
    let (months, days, us) = if sub {
        (
            x.months.checked_sub(y.months),
            x.days.checked_sub(y.days),
            x.us.checked_sub(y.us),
        )
    } else {
        (
            x.months.checked_add(y.months),
            x.days.checked_add(y.days),
            x.us.checked_add(y.us),
        )
    };
    Ok(amelie_common::Interval {
        months: months.ok_or_else(overflow)?,
        days: days.ok_or_else(overflow)?,
        us: us.ok_or_else(overflow)?,
    })
}

/// Applies a binary operator.
pub fn binary(op: BinOp, a: &Value, b: &Value) -> Result<Value> {
    use Value::*;
    match op {
        BinOp::And => {
            return Ok(if a.is_null() || b.is_null() {
                Null
            } else {
                Bool(a.is_true() && b.is_true())
            })
        }
        BinOp::Or => {
            return Ok(if a.is_null() && b.is_null() {
                Null
            } else {
                Bool(a.is_true() || b.is_true())
            })
        }
        _ => {}
    }
    if a.is_null() || b.is_null() {
        return Ok(Null);
    }
    let v = match op {
        BinOp::Eq | BinOp::NotEq => {
            let o = compare(a, b, true).ok_or_else(|| unsupported(op, a, b))?;
            Bool((o == Ordering::Equal) == (op == BinOp::Eq))
        }
        BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq => {
            let o = compare(a, b, false).ok_or_else(|| unsupported(op, a, b))?;
            Bool(match op {
                BinOp::Lt => o == Ordering::Less,
                BinOp::LtEq => o != Ordering::Greater,
                BinOp::Gt => o == Ordering::Greater,
                _ => o != Ordering::Less,
            })
        }
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => match (a, b) {
            (Timestamp(t), Interval(iv)) if matches!(op, BinOp::Add | BinOp::Sub) => {
                Timestamp(ts_add(*t, iv, op == BinOp::Sub)?)
            }
            (Interval(iv), Timestamp(t)) if op == BinOp::Add => Timestamp(ts_add(*t, iv, false)?),
            (Interval(x), Interval(y)) if matches!(op, BinOp::Add | BinOp::Sub) => {
                Interval(interval_add(x, y, op == BinOp::Sub)?)
            }
            (Vector(x), Vector(y)) if matches!(op, BinOp::Add | BinOp::Sub | BinOp::Mul) => {
                if x.len() != y.len() {
                    return Err(Error::type_error("vector sizes mismatch"));
                }
                Vector(
                    x.iter()
                        .zip(y.iter())
                        .map(|(p, q)| match op {
                            BinOp::Add => p + q,
                            BinOp::Sub => p - q,
                            _ => p * q,
                        })
                        .collect(),
                )
            }
            (Int(x), Int(y)) => Int(match op {
                BinOp::Add => x.wrapping_add(*y),
                BinOp::Sub => x.wrapping_sub(*y),
                BinOp::Mul => x.wrapping_mul(*y),
                BinOp::Div | BinOp::Mod if *y == 0 => {
                    return Err(Error::type_error("zero division"))
                }
                BinOp::Div => x.wrapping_div(*y),
                _ => x.wrapping_rem(*y),
            }),
            (Int(_) | Double(_), Int(_) | Double(_)) if op != BinOp::Mod => {
                let x = if let Int(x) = a {
                    *x as f64
                } else if let Double(x) = a {
                    *x
                } else {
                    0.0
                };
                let y = if let Int(y) = b {
                    *y as f64
                } else if let Double(y) = b {
                    *y
                } else {
                    0.0
                };
                Double(match op {
                    BinOp::Add => x + y,
                    BinOp::Sub => x - y,
                    BinOp::Mul => x * y,
                    _ if y == 0.0 => return Err(Error::type_error("zero division")),
                    _ => x / y,
                })
            }
            _ => return Err(unsupported(op, a, b)),
        },
        BinOp::Concat => match (a, b) {
            (Str(x), Str(y)) => {
                amelie_common::governor::check_string(x.len().saturating_add(y.len()))?;
                let mut s = String::with_capacity(x.len() + y.len());
                s.push_str(x);
                s.push_str(y);
                Str(s.into())
            }
            _ => return Err(unsupported(op, a, b)),
        },
        BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor | BinOp::Shl | BinOp::Shr => match (a, b) {
            (Int(x), Int(y)) => Int(match op {
                BinOp::BitAnd => x & y,
                BinOp::BitOr => x | y,
                BinOp::BitXor => x ^ y,
                BinOp::Shl => x.wrapping_shl(*y as u32),
                _ => x.wrapping_shr(*y as u32),
            }),
            _ => return Err(unsupported(op, a, b)),
        },
        BinOp::Like | BinOp::NotLike => match (a, b) {
            (Str(x), Str(y)) => Bool(like(x.as_bytes(), y.as_bytes()) == (op == BinOp::Like)),
            _ => return Err(unsupported(op, a, b)),
        },
        BinOp::And | BinOp::Or => unreachable!("handled above"),
    };
    Ok(v)
}

pub fn unary(op: UnOp, a: &Value) -> Result<Value> {
    Ok(match (op, a) {
        (UnOp::Not, Value::Null) => Value::Null,
        (UnOp::Not, v) => Value::Bool(!v.is_true()),
        (_, Value::Null) => Value::Null,
        (UnOp::Neg, Value::Int(i)) => Value::Int(i.wrapping_neg()),
        (UnOp::Neg, Value::Double(d)) => Value::Double(-d),
        (UnOp::BitNot, Value::Int(i)) => Value::Int(!i),
        (UnOp::Neg, v) => {
            return Err(Error::with_kind(
                ErrorKind::UnsupportedOperation,
                format!("unsupported operation: - <{}>", v.type_of().name()),
            ))
        }
        (UnOp::BitNot, v) => {
            return Err(Error::with_kind(
                ErrorKind::UnsupportedOperation,
                format!("unsupported operation: ~ <{}>", v.type_of().name()),
            ))
        }
    })
}

/// What an expression step did.
pub enum Flow {
    Next,
    Jump(usize),
    /// Not an expression op: the caller handles it.
    NotExpr,
}

/// The current row an expression reads with `Column`: values (coordinator sets, shipped
/// rows, an upsert's existing ++ new row) or a stored row read in place.
#[derive(Clone, Copy, Debug)]
pub enum RowRef<'a> {
    Values(&'a [Value]),
    Stored(&'a amelie_storage::Row),
    /// An upsert's existing row followed by the new (excluded) one.
    Pair(&'a amelie_storage::Row, &'a amelie_storage::Row),
}

impl RowRef<'_> {
    /// Column `col` (null past the end).
    #[inline]
    pub fn get(&self, col: usize) -> Value {
        match self {
            RowRef::Values(v) => v.get(col).cloned().unwrap_or(Value::Null),
            RowRef::Stored(r) => r.get(col),
            RowRef::Pair(a, b) => {
                let n = a.columns();
                if col < n {
                    a.get(col)
                } else {
                    b.get(col - n)
                }
            }
        }
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        match self {
            RowRef::Values(v) => v.len(),
            RowRef::Stored(r) => r.columns(),
            RowRef::Pair(a, b) => a.columns() + b.columns(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Executes one expression op over `regs`, with the current `row` for `Column`.
#[inline]
pub fn step(
    program: &Program,
    env: Env<'_>,
    op: &Op,
    regs: &mut [Value],
    row: Option<RowRef<'_>>,
) -> Result<Flow> {
    match op {
        Op::Const { dst, idx } => regs[*dst as usize] = program.consts[*idx as usize].clone(),
        Op::Param { dst, idx } => {
            regs[*dst as usize] = env.params.get(*idx as usize).cloned().unwrap_or_default()
        }
        Op::Column { dst, col } => {
            regs[*dst as usize] = row.map(|r| r.get(*col as usize)).unwrap_or(Value::Null)
        }
        Op::Move { dst, src } => regs[*dst as usize] = regs[*src as usize].clone(),
        Op::Binary { op, dst, a, b } => {
            regs[*dst as usize] = binary(*op, &regs[*a as usize], &regs[*b as usize])?
        }
        Op::Unary { op, dst, a } => regs[*dst as usize] = unary(*op, &regs[*a as usize])?,
        Op::IsNull { dst, a, negated } => {
            regs[*dst as usize] = Value::Bool(regs[*a as usize].is_null() != *negated)
        }
        Op::Call { func, dst, args, n } => {
            let a = *args as usize;
            let v = func::call(*func, &regs[a..a + *n as usize], env.now, program.tz)?;
            regs[*dst as usize] = v;
        }
        Op::CastColumn { reg, table, col } => {
            let (name, ty, not_null) = &program.tables[*table as usize].columns[*col as usize];
            let v = std::mem::take(&mut regs[*reg as usize]);
            regs[*reg as usize] = coerce_to_column(v, *ty, name, *not_null)?;
        }
        Op::CheckGenerated { reg, table, col } => {
            let t = &program.tables[*table as usize];
            let (name, ty, _) = &t.columns[*col as usize];
            check_generated(&regs[*reg as usize], *ty, &t.name, name)?;
        }
        Op::Jump { to } => return Ok(Flow::Jump(*to as usize)),
        Op::JumpIfNot { cond, to } => {
            if !regs[*cond as usize].is_true() {
                return Ok(Flow::Jump(*to as usize));
            }
        }
        _ => return Ok(Flow::NotExpr),
    }
    Ok(Flow::Next)
}

/// Checks the value a generated (STORED or RESOLVED) expression gave column `column` of
/// table `table` (of type `ty`): NULL or a value of the column's type, else `<t.c> column
/// generated expression type '<type>' does not match column type '<type>'`. A JSON column
/// takes any value (it is converted when stored).
pub fn check_generated(
    v: &Value,
    ty: amelie_common::ColumnType,
    table: &str,
    column: &str,
) -> Result<()> {
    let want = ty.runtime();
    let got = v.type_of();
    if got == Type::Null || got == want || want == Type::Json {
        return Ok(());
    }
    Err(Error::type_error(format!(
        "<{table}.{column}> column generated expression type '{}' does not match column type '{}'",
        got.name(),
        want.name()
    )))
}

/// Coerces `v` for storing into a column of type `ty` named `name` (`table.column` form is
/// not used: Amelie prints the bare column name). Ints wrap to the column width, an int into a
/// double column becomes a double and a double into an int column is truncated.
pub fn coerce_to_column(
    v: Value,
    ty: amelie_common::ColumnType,
    name: &str,
    not_null: bool,
) -> Result<Value> {
    use amelie_common::ColumnType as C;
    let bad = |ty: C| {
        Error::type_error(format!(
            "column <{name}> value expected to be '{}'",
            ty.runtime().name()
        ))
    };
    Ok(match (ty, v) {
        (_, Value::Null) => {
            if not_null {
                return Err(Error::constraint(format!(
                    "column <{name}> value cannot be NULL"
                )));
            }
            Value::Null
        }
        (C::Int8, Value::Int(i)) => Value::Int(i as i8 as i64),
        (C::Int16, Value::Int(i)) => Value::Int(i as i16 as i64),
        (C::Int32, Value::Int(i)) => Value::Int(i as i32 as i64),
        (C::Int64, Value::Int(i)) => Value::Int(i),
        (C::Int8 | C::Int16 | C::Int32 | C::Int64, Value::Double(d)) => {
            return coerce_to_column(Value::Int(d as i64), ty, name, not_null)
        }
        (C::Float, Value::Double(d)) => Value::Double(d as f32 as f64),
        (C::Double, Value::Double(d)) => Value::Double(d),
        (C::Float | C::Double, Value::Int(i)) => {
            return coerce_to_column(Value::Double(i as f64), ty, name, not_null)
        }
        (C::Bool, Value::Bool(b)) => Value::Bool(b),
        (C::Text, Value::Str(s)) => Value::Str(s),
        (C::Json, Value::Json(j)) => Value::Json(j),
        (C::Json, Value::Int(i)) => Value::Json(Box::new(amelie_common::Json::Int(i))),
        (C::Json, Value::Double(d)) => Value::Json(Box::new(amelie_common::Json::Double(d))),
        (C::Json, Value::Bool(b)) => Value::Json(Box::new(amelie_common::Json::Bool(b))),
        (C::Json, Value::Str(s)) => Value::Json(Box::new(amelie_common::Json::String(s.into()))),
        (C::Timestamp, Value::Timestamp(t)) => Value::Timestamp(t),
        (C::Timestamp, Value::Int(t)) => Value::Timestamp(t),
        (C::Timestamp, Value::Str(s)) => Value::Timestamp(
            amelie_common::time::parse_timestamp(&s, amelie_common::Tz::UTC)
                .map_err(|_| bad(ty))?,
        ),
        (C::Interval, Value::Interval(i)) => Value::Interval(i),
        (C::Interval, Value::Str(s)) => {
            Value::Interval(amelie_common::time::parse_interval(&s).map_err(|_| bad(ty))?)
        }
        (C::Vector, Value::Vector(v)) => Value::Vector(v),
        (C::Vector, Value::Json(j)) => match &*j {
            amelie_common::Json::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for x in items {
                    out.push(match *x {
                        amelie_common::Json::Int(i) => i as f32,
                        amelie_common::Json::Double(d) => d as f32,
                        _ => return Err(bad(ty)),
                    });
                }
                Value::Vector(out.into())
            }
            _ => return Err(bad(ty)),
        },
        (ty, _) => return Err(bad(ty)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_and_nulls() {
        assert_eq!(
            binary(BinOp::Add, &Value::Int(1), &Value::Int(2)).unwrap(),
            Value::Int(3)
        );
        assert_eq!(
            binary(BinOp::Div, &Value::Int(7), &Value::Int(2)).unwrap(),
            Value::Int(3)
        );
        assert_eq!(
            binary(BinOp::Add, &Value::Int(1), &Value::Null).unwrap(),
            Value::Null
        );
        let e = binary(BinOp::Div, &Value::Int(1), &Value::Int(0)).unwrap_err();
        assert_eq!(
            (e.kind(), e.msg()),
            (amelie_common::ErrorKind::Type, "zero division")
        );
        let e = binary(BinOp::Add, &Value::Int(1), &Value::str("a")).unwrap_err();
        assert_eq!(e.msg(), "unsupported operation: <int> + <string>");
        assert_eq!(e.kind(), ErrorKind::UnsupportedOperation);
        let e = binary(BinOp::Div, &Value::Int(1), &Value::Int(0)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Type);
        let e = unary(UnOp::Neg, &Value::str("a")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnsupportedOperation);
    }

    #[test]
    fn interval_overflow_is_reported_both_ways() {
        use amelie_common::Interval;
        let iv = |months: i32, days: i32, us: i64| Value::Interval(Interval { months, days, us });
        let err = |op, a: &Value, b: &Value| binary(op, a, b).unwrap_err().msg().to_string();
        let overflow = "interval overflow";
        assert_eq!(err(BinOp::Add, &iv(0, 0, i64::MAX), &iv(0, 0, 1)), overflow);
        assert_eq!(err(BinOp::Sub, &iv(0, 0, i64::MIN), &iv(0, 0, 1)), overflow);
        assert_eq!(err(BinOp::Add, &iv(i32::MAX, 0, 0), &iv(1, 0, 0)), overflow);
        assert_eq!(err(BinOp::Sub, &iv(i32::MIN, 0, 0), &iv(1, 0, 0)), overflow);
        assert_eq!(err(BinOp::Add, &iv(0, i32::MAX, 0), &iv(0, 1, 0)), overflow);
        assert_eq!(err(BinOp::Sub, &iv(0, 0, 0), &iv(0, 0, i64::MIN)), overflow);
        assert_eq!(
            binary(BinOp::Sub, &iv(1, 2, 3), &iv(1, 1, 1)).unwrap(),
            iv(0, 1, 2)
        );
        assert_eq!(
            binary(BinOp::Add, &iv(1, 2, 3), &iv(-1, -1, -1)).unwrap(),
            iv(0, 1, 2)
        );
    }

    #[test]
    fn time_and_vector_ops() {
        use amelie_common::time::parse_timestamp;
        use amelie_common::Interval;
        let t = parse_timestamp("2024-01-31 10:00:00", amelie_common::Tz::UTC).unwrap();
        let month = Value::Interval(Interval {
            months: 1,
            days: 0,
            us: 0,
        });
        let r = binary(BinOp::Add, &Value::Timestamp(t), &month).unwrap();
        let want = parse_timestamp("2024-02-29 10:00:00", amelie_common::Tz::UTC).unwrap();
        assert_eq!(r, Value::Timestamp(want));
        let e = binary(BinOp::Sub, &Value::Timestamp(0), &month).unwrap_err();
        assert_eq!(e.msg(), "timestamp overflow");
        assert!(binary(BinOp::Sub, &month, &Value::Timestamp(t)).is_err());
        let v = |x: &[f32]| Value::Vector(x.to_vec().into());
        assert_eq!(
            binary(BinOp::Mul, &v(&[1.0, 2.0]), &v(&[3.0, 4.0])).unwrap(),
            v(&[3.0, 8.0])
        );
        assert_eq!(
            binary(BinOp::Add, &v(&[1.0]), &v(&[1.0, 2.0]))
                .unwrap_err()
                .msg(),
            "vector sizes mismatch"
        );
        assert!(binary(BinOp::Eq, &Value::Bool(true), &Value::Double(1.0)).is_err());
        assert_eq!(
            binary(BinOp::Eq, &Value::Double(1.0), &Value::Bool(true)).unwrap(),
            Value::Bool(true)
        );
    }

    #[test]
    fn logic_truthiness() {
        assert_eq!(
            binary(BinOp::Or, &Value::Bool(false), &Value::Null).unwrap(),
            Value::Bool(false)
        );
        assert_eq!(
            binary(BinOp::And, &Value::Bool(true), &Value::Null).unwrap(),
            Value::Null
        );
        assert_eq!(
            binary(BinOp::And, &Value::Int(-1), &Value::Int(1)).unwrap(),
            Value::Bool(false)
        );
    }

    #[test]
    fn like_patterns() {
        assert!(like(b"hello", b"h%o"));
        assert!(like(b"hello", b"_ello"));
        assert!(!like(b"hello", b"h%x"));
        assert!(like(b"a%b", b"a\\%b"));
        assert!(like(b"", b"%_"));
        assert!(!like(b"abcd", b"abc%de"));
    }
}
