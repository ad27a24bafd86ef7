//! Expression compilation into register code.

use crate::builder::{Builder, Sec};
use amelie_catalog::Table;
use amelie_common::{Error, Json, Result, Value};
use amelie_parser::{AggFunc, BinaryOp, Expr, UnaryOp};
use amelie_vm::func::FuncId;
use amelie_vm::{AggKind, BinOp, Op, Reg, UnOp};

/// What names resolve against.
#[derive(Clone, Copy, Default)]
pub struct Scope<'a> {
    /// The table whose current row `Column` reads (node section only).
    pub table: Option<&'a Table>,
    pub alias: Option<&'a str>,
    /// Coordinator aggregate mode: aggregate expressions and the registers of their results.
    pub aggs: Option<(&'a [Expr], Reg)>,
}

impl Scope<'_> {
    /// Resolves a (possibly qualified) column name to its ordinal.
    pub fn column(&self, parts: &[String]) -> Result<usize> {
        let full = parts.join(".");
        let Some(t) = self.table else {
            return Err(Error::new(format!("<{full}> column not found")));
        };
        let col = match parts {
            [c] => c,
            [q, c] if Some(q.as_str()) == self.alias || *q == t.name => c,
            [q, _] => return Err(Error::new(format!("<{q}> target not found"))),
            _ => return Err(Error::new(format!("<{full}> column not found"))),
        };
        t.column(col)
            .ok_or_else(|| Error::new(format!("<{full}> column not found")))
    }
}

pub fn agg_kind(func: AggFunc, star: bool) -> AggKind {
    match func {
        AggFunc::Count if star => AggKind::CountStar,
        AggFunc::Count => AggKind::Count,
        AggFunc::Sum => AggKind::Sum,
        AggFunc::Avg => AggKind::Avg,
        AggFunc::Min => AggKind::Min,
        AggFunc::Max => AggKind::Max,
    }
}

/// Collects aggregate expressions (in order of appearance, without duplicates).
pub fn collect_aggs<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
    match e {
        Expr::Aggregate { .. } => {
            if !out.contains(&e) {
                out.push(e)
            }
        }
        Expr::Unary { expr, .. } | Expr::IsNull { expr, .. } => collect_aggs(expr, out),
        Expr::Binary { left, right, .. } => {
            collect_aggs(left, out);
            collect_aggs(right, out);
        }
        Expr::Between {
            expr, low, high, ..
        } => {
            collect_aggs(expr, out);
            collect_aggs(low, out);
            collect_aggs(high, out);
        }
        Expr::In { expr, list, .. } => {
            collect_aggs(expr, out);
            list.iter().for_each(|x| collect_aggs(x, out));
        }
        Expr::Function { args, .. } | Expr::Array(args) => {
            args.iter().for_each(|x| collect_aggs(x, out))
        }
        Expr::Case {
            operand,
            whens,
            else_,
        } => {
            if let Some(o) = operand {
                collect_aggs(o, out);
            }
            for (w, t) in whens {
                collect_aggs(w, out);
                collect_aggs(t, out);
            }
            if let Some(e) = else_ {
                collect_aggs(e, out);
            }
        }
        _ => {}
    }
}

/// Evaluates a constant literal expression at compile time (None: not a constant).
pub fn const_value(e: &Expr, b: &Builder) -> Result<Option<Value>> {
    Ok(Some(match e {
        Expr::Null => Value::Null,
        Expr::Bool(v) => Value::Bool(*v),
        Expr::Int(v) => Value::Int(*v),
        Expr::Double(v) => Value::Double(*v),
        Expr::String(s) => Value::Str(s.as_str().into()),
        Expr::JsonLiteral(j) => Value::Json(Box::new(j.clone())),
        Expr::Timestamp(s) => {
            Value::Timestamp(amelie_common::time::parse_timestamp(s, b.p.tz_offset)?)
        }
        Expr::Interval(s) => Value::Interval(amelie_common::time::parse_interval(s)?),
        Expr::CurrentTimestamp => Value::Timestamp(b.p.now),
        Expr::Unary {
            op: UnaryOp::Neg,
            expr,
        } => match const_value(expr, b)? {
            Some(Value::Int(i)) => Value::Int(i.wrapping_neg()),
            Some(Value::Double(d)) => Value::Double(-d),
            _ => return Ok(None),
        },
        _ => return Ok(None),
    }))
}

fn binop(op: BinaryOp) -> BinOp {
    match op {
        BinaryOp::Or => BinOp::Or,
        BinaryOp::And => BinOp::And,
        BinaryOp::Eq => BinOp::Eq,
        BinaryOp::NotEq => BinOp::NotEq,
        BinaryOp::Lt => BinOp::Lt,
        BinaryOp::LtEq => BinOp::LtEq,
        BinaryOp::Gt => BinOp::Gt,
        BinaryOp::GtEq => BinOp::GtEq,
        BinaryOp::BitOr => BinOp::BitOr,
        BinaryOp::BitXor => BinOp::BitXor,
        BinaryOp::BitAnd => BinOp::BitAnd,
        BinaryOp::Shl => BinOp::Shl,
        BinaryOp::Shr => BinOp::Shr,
        BinaryOp::Add => BinOp::Add,
        BinaryOp::Sub => BinOp::Sub,
        BinaryOp::Concat => BinOp::Concat,
        BinaryOp::Mul => BinOp::Mul,
        BinaryOp::Div => BinOp::Div,
        BinaryOp::Mod => BinOp::Mod,
        BinaryOp::Like => BinOp::Like,
        BinaryOp::NotLike => BinOp::NotLike,
    }
}

fn bin(b: &mut Builder, sec: Sec, op: BinOp, a: Reg, c: Reg) -> Reg {
    let dst = b.regs(sec, 1);
    b.emit(sec, Op::Binary { op, dst, a, b: c });
    dst
}

/// Compiles `e` in section `sec`, returning the register holding its value.
pub fn expr(b: &mut Builder, sec: Sec, e: &Expr, scope: &Scope) -> Result<Reg> {
    if let Some((aggs, start)) = scope.aggs {
        if let Some(i) = aggs.iter().position(|a| a == e) {
            return Ok(start + i as Reg);
        }
    }
    if let Some(v) = const_value(e, b)? {
        return Ok(b.load_const(sec, v));
    }
    Ok(match e {
        Expr::Name(parts) => {
            if scope.aggs.is_some() {
                let full = parts.join(".");
                return Err(Error::new(format!(
                    "<{full}> column must appear in the GROUP BY clause or be used in an aggregate function"
                )));
            }
            let col = scope.column(parts)?;
            if sec == Sec::Coordinator {
                return Err(Error::new(format!(
                    "<{}> column not found",
                    parts.join(".")
                )));
            }
            let dst = b.regs(sec, 1);
            b.emit(
                sec,
                Op::Column {
                    dst,
                    col: col as u16,
                },
            );
            dst
        }
        Expr::Unary { op, expr: inner } => {
            let a = expr(b, sec, inner, scope)?;
            let dst = b.regs(sec, 1);
            let op = match op {
                UnaryOp::Neg => UnOp::Neg,
                UnaryOp::Not => UnOp::Not,
                UnaryOp::BitNot => UnOp::BitNot,
            };
            b.emit(sec, Op::Unary { op, dst, a });
            dst
        }
        Expr::Binary { op, left, right } => {
            let l = expr(b, sec, left, scope)?;
            let r = expr(b, sec, right, scope)?;
            bin(b, sec, binop(*op), l, r)
        }
        Expr::IsNull {
            expr: inner,
            negated,
        } => {
            let a = expr(b, sec, inner, scope)?;
            let dst = b.regs(sec, 1);
            b.emit(
                sec,
                Op::IsNull {
                    dst,
                    a,
                    negated: *negated,
                },
            );
            dst
        }
        Expr::Between {
            expr: inner,
            low,
            high,
            negated,
        } => {
            let a = expr(b, sec, inner, scope)?;
            let lo = expr(b, sec, low, scope)?;
            let hi = expr(b, sec, high, scope)?;
            let x = bin(b, sec, BinOp::GtEq, a, lo);
            let y = bin(b, sec, BinOp::LtEq, a, hi);
            let r = bin(b, sec, BinOp::And, x, y);
            if *negated {
                let dst = b.regs(sec, 1);
                b.emit(
                    sec,
                    Op::Unary {
                        op: UnOp::Not,
                        dst,
                        a: r,
                    },
                );
                dst
            } else {
                r
            }
        }
        Expr::In {
            expr: inner,
            list,
            negated,
        } => {
            let a = expr(b, sec, inner, scope)?;
            let mut acc = b.load_const(sec, Value::Bool(false));
            for item in list {
                let v = expr(b, sec, item, scope)?;
                let eq = bin(b, sec, BinOp::Eq, a, v);
                acc = bin(b, sec, BinOp::Or, acc, eq);
            }
            if *negated {
                let dst = b.regs(sec, 1);
                b.emit(
                    sec,
                    Op::Unary {
                        op: UnOp::Not,
                        dst,
                        a: acc,
                    },
                );
                dst
            } else {
                acc
            }
        }
        Expr::Function { schema, name, args } => {
            let f = FuncId::lookup(schema.as_deref(), name).ok_or_else(|| {
                let full = match schema {
                    Some(s) => format!("{s}.{name}"),
                    None => format!("public.{name}"),
                };
                Error::new(format!("{full}(): function not found"))
            })?;
            let regs: Vec<Reg> = args
                .iter()
                .map(|a| expr(b, sec, a, scope))
                .collect::<Result<_>>()?;
            let start = b.regs(sec, regs.len().max(1) as u16);
            for (i, r) in regs.iter().enumerate() {
                b.emit(
                    sec,
                    Op::Move {
                        dst: start + i as Reg,
                        src: *r,
                    },
                );
            }
            let dst = b.regs(sec, 1);
            b.emit(
                sec,
                Op::Call {
                    func: f,
                    dst,
                    args: start,
                    n: regs.len() as u16,
                },
            );
            dst
        }
        Expr::Case {
            operand,
            whens,
            else_,
        } => {
            let dst = b.regs(sec, 1);
            let op_reg = match operand {
                Some(o) => Some(expr(b, sec, o, scope)?),
                None => None,
            };
            let mut to_end = Vec::new();
            for (w, t) in whens {
                let mut cond = expr(b, sec, w, scope)?;
                if let Some(o) = op_reg {
                    cond = bin(b, sec, BinOp::Eq, o, cond);
                }
                let jump = b.emit(sec, Op::JumpIfNot { cond, to: 0 });
                let v = expr(b, sec, t, scope)?;
                b.emit(sec, Op::Move { dst, src: v });
                to_end.push(b.emit(sec, Op::Jump { to: 0 }));
                let next = b.pc(sec) as u32;
                if let Op::JumpIfNot { to, .. } = &mut b.code(sec)[jump] {
                    *to = next;
                }
            }
            let v = match else_ {
                Some(e) => expr(b, sec, e, scope)?,
                None => b.load_const(sec, Value::Null),
            };
            b.emit(sec, Op::Move { dst, src: v });
            let end = b.pc(sec) as u32;
            for j in to_end {
                if let Op::Jump { to } = &mut b.code(sec)[j] {
                    *to = end;
                }
            }
            dst
        }
        Expr::Aggregate { .. } => {
            return Err(Error::new("aggregate functions are not allowed here"));
        }
        Expr::Array(items) if items.is_empty() => {
            b.load_const(sec, Value::Json(Box::new(Json::Array(vec![]))))
        }
        Expr::Default => return Err(Error::new("DEFAULT is not allowed here")),
        Expr::Subquery(_) | Expr::Exists(_) => {
            return Err(Error::new("subqueries are not supported yet"))
        }
        _ => return Err(Error::new("this expression is not supported yet")),
    })
}
