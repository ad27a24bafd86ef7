//! Expression compilation into register code.

use crate::builder::{Builder, Sec};
use amelie_catalog::Table;
use amelie_common::{Error, ErrorKind, Json, Result, Value};
use amelie_parser::{AggFunc, BinaryOp, Expr, UnaryOp, Walk};
use amelie_vm::func::FuncId;
use amelie_vm::program::Bind;
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
    /// Resolves a compound name: the first part is the target when it names it, then the
    /// column; the remaining parts are a JSON path into the column.
    pub fn column_path<'p>(&self, parts: &'p [String]) -> Result<(usize, &'p [String])> {
        if let (Some(t), [q, c, rest @ ..]) = (self.table, parts) {
            let own = self.alias.unwrap_or(&t.name);
            if q == own || *q == t.name {
                if let Some(col) = unique_column(t, own, c)? {
                    return Ok((col, rest));
                }
                return Err(Error::not_found(format!(
                    "<{}> column not found",
                    parts.join(".")
                )));
            }
            if let Some(col) = unique_column(t, own, q)? {
                return Ok((col, &parts[1..]));
            }
        }
        Ok((self.column(parts)?, &[]))
    }

    /// Resolves a (possibly qualified) column name to its ordinal.
    pub fn column(&self, parts: &[String]) -> Result<usize> {
        let full = parts.join(".");
        let Some(t) = self.table else {
            return Err(Error::not_found(format!("<{full}> column not found")));
        };
        let col = match parts {
            [c] => c,
            [q, c] if Some(q.as_str()) == self.alias || *q == t.name => c,
            [q, _] => return Err(Error::not_found(format!("<{q}> target not found"))),
            _ => return Err(Error::not_found(format!("<{full}> column not found"))),
        };
        unique_column(t, self.alias.unwrap_or(&t.name), col)?
            .ok_or_else(|| Error::not_found(format!("<{full}> column not found")))
    }
}

/// The ordinal of column `name` of `t` (None when it has none), refusing a name two columns
/// share: the rows of a statement set (a CTE or FROM subquery whose select list repeats a
/// name) cannot say which one is meant: `<target.name> column name is ambiguous`, with the
/// target as the query names it. Catalog tables never repeat a name.
pub(crate) fn unique_column(t: &Table, target: &str, name: &str) -> Result<Option<usize>> {
    let Some(col) = t.column(name) else {
        return Ok(None);
    };
    if t.id == PSEUDO_TABLE_ID && t.columns[col + 1..].iter().any(|c| c.name == name) {
        return Err(Error::not_found(format!(
            "<{target}.{name}> column name is ambiguous"
        )));
    }
    Ok(Some(col))
}

/// The id of the pseudo tables describing statement sets (FROM subqueries, CTEs, function
/// rows, joins): their column types are unknown.
pub(crate) const PSEUDO_TABLE_ID: u64 = u64::MAX;

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

/// Collects aggregate expressions (in order of appearance, without duplicates). Not looked
/// into (as ever): the arguments of an aggregate, lambdas, `ANY`/`ALL`, `[]` indexes, field
/// accesses and object constructors; an aggregate there compiles to the error "aggregate
/// functions are not allowed here".
pub fn collect_aggs<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
    e.walk(&mut |x| match x {
        Expr::Aggregate { .. } => {
            if !out.contains(&x) {
                out.push(x);
            }
            Walk::Skip
        }
        Expr::Lambda { .. }
        | Expr::AnyAll { .. }
        | Expr::Index { .. }
        | Expr::Field { .. }
        | Expr::Object(_) => Walk::Skip,
        _ => Walk::Descend,
    });
}

/// The value of a literal expression: literals, typed literals, `CURRENT_TIMESTAMP`
/// (`now`), arrays of literals (a JSON array) and a negated number (None: not a literal).
/// `param` gives the value of an [`Expr::Param`]. Shared by compile-time folding and by the
/// rows of INSERT VALUES, which are built for each execution.
pub(crate) fn literal_value(
    e: &Expr,
    tz_offset: amelie_common::Tz,
    now: &dyn Fn() -> i64,
    param: &dyn Fn(&amelie_parser::ParamRef) -> Value,
) -> Result<Option<Value>> {
    Ok(Some(match e {
        Expr::Param(p) => param(p),
        Expr::Null => Value::Null,
        Expr::Bool(v) => Value::Bool(*v),
        Expr::Int(v) => Value::Int(*v),
        Expr::Double(v) => Value::Double(*v),
        Expr::String(s) => Value::Str(s.as_str().into()),
        Expr::JsonLiteral(j) => Value::Json(Box::new(j.clone())),
        Expr::Timestamp(s) => Value::Timestamp(amelie_common::time::parse_timestamp(s, tz_offset)?),
        Expr::Interval(s) => Value::Interval(amelie_common::time::parse_interval(s)?),
        Expr::CurrentTimestamp => Value::Timestamp(now()),
        Expr::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for i in items {
                match literal_value(i, tz_offset, now, param)? {
                    Some(v) => out.push(amelie_vm::func::to_json(&v, tz_offset)),
                    None => return Ok(None),
                }
            }
            Value::Json(Box::new(Json::Array(out)))
        }
        Expr::Unary {
            op: UnaryOp::Neg,
            expr,
        } => match literal_value(expr, tz_offset, now, param)? {
            Some(Value::Int(i)) => Value::Int(i.wrapping_neg()),
            Some(Value::Double(d)) => Value::Double(-d),
            _ => return Ok(None),
        },
        _ => return Ok(None),
    }))
}

/// Evaluates a constant expression at compile time (None: not a constant). Literal values
/// read here are baked into the program (see [`amelie_parser::ParamRef`]); the request time
/// and `system.*` values make it volatile.
pub fn const_value(e: &Expr, b: &Builder) -> Result<Option<Value>> {
    let now = || {
        b.set_volatile();
        b.now
    };
    let param = |p: &amelie_parser::ParamRef| p.value().clone();
    if let Some(v) = literal_value(e, b.p.tz, &now, &param)? {
        return Ok(Some(v));
    }
    Ok(Some(match e {
        Expr::Function { schema, name, args }
            if schema.as_deref() == Some("system") && b.system.is_some() =>
        {
            if let Some(n) = b.system.as_ref().and_then(|s| s.arity(name)) {
                if args.len() != n {
                    return Err(amelie_common::Error::type_error(format!(
                        "{name}(): expected {n} arguments, but got {}",
                        args.len()
                    )));
                }
            }
            let mut vals = Vec::with_capacity(args.len());
            for a in args {
                match const_value(a, b)? {
                    Some(v) => vals.push(v),
                    None => return Ok(None),
                }
            }
            b.set_volatile();
            match b.system.as_ref().and_then(|s| s.call(name, &vals)) {
                Some(v) => v?,
                None => return Ok(None),
            }
        }
        // serial(schema, table): the table's next SERIAL value (answered by the same catalog
        // snapshot as the system.* functions)
        Expr::Function { schema, name, args }
            if matches!(schema.as_deref(), None | Some("public"))
                && name == "serial"
                && args.len() == 2
                && b.system.is_some() =>
        {
            let mut vals = Vec::with_capacity(2);
            for a in args {
                match const_value(a, b)? {
                    Some(v) => vals.push(v),
                    None => return Ok(None),
                }
            }
            b.set_volatile();
            match b.system.as_ref().and_then(|s| s.call("$serial", &vals)) {
                Some(v) => v?,
                None => return Ok(None),
            }
        }
        _ => return Ok(None),
    }))
}

/// The type of a constant expression, without baking a literal's value into the program
/// (the cache key holds every literal's type).
pub(crate) fn const_type(e: &Expr, b: &Builder) -> Result<Option<amelie_common::Type>> {
    if let Expr::Param(p) = e {
        return Ok(Some(p.ty()));
    }
    Ok(const_value(e, b)?.map(|v| v.type_of()))
}

/// An integer literal as `Expr::Int` (its value baked): ORDER BY / GROUP BY positions.
pub(crate) fn position_literal(e: &Expr) -> std::borrow::Cow<'_, Expr> {
    match e {
        Expr::Param(p) if p.ty() == amelie_common::Type::Int => match p.value() {
            Value::Int(i) => std::borrow::Cow::Owned(Expr::Int(*i)),
            _ => std::borrow::Cow::Borrowed(e),
        },
        _ => std::borrow::Cow::Borrowed(e),
    }
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
    match e {
        // literals and the request time are bound for each execution
        Expr::Param(p) => return Ok(b.load_param(sec, Bind::Lit(p.ord()))),
        Expr::CurrentTimestamp => return Ok(b.load_param(sec, Bind::Now)),
        _ => {}
    }
    if let Some(v) = const_value(e, b)? {
        return Ok(b.load_const(sec, v));
    }
    Ok(match e {
        Expr::Name(parts) => {
            if scope.aggs.is_some() {
                let full = match (parts.len(), scope.alias) {
                    (1, Some(target)) => format!("{target}.{}", parts[0]),
                    _ => parts.join("."),
                };
                return Err(Error::type_error(format!(
                    "<{full}> column must appear in the GROUP BY clause or be used in an aggregate function"
                )));
            }
            if parts.len() >= 2
                && parts[0].eq_ignore_ascii_case("excluded")
                && scope.column_path(parts).is_err()
            {
                // outside of ON CONFLICT DO UPDATE: an error once a row is evaluated
                let msg = b.load_const(sec, Value::str("unexpected EXCLUDED usage"));
                return call_internal(b, sec, "error", &[msg]);
            }
            let (col, path) = scope.column_path(parts).map_err(|e| {
                if parts.len() == 1 && parts[0].eq_ignore_ascii_case("self") {
                    Error::syntax("unexpected <SELF> usage without lambda context")
                } else {
                    e
                }
            })?;
            // in the coordinator, columns are read from the row of the current set loop
            if sec == Sec::Coordinator && scope.table.is_none() {
                return Err(Error::not_found(format!(
                    "<{}> column not found",
                    parts.join(".")
                )));
            }
            let mut dst = b.regs(sec, 1);
            b.emit(
                sec,
                Op::Column {
                    dst,
                    col: col as u16,
                },
            );
            for name in path {
                let k = b.load_const(sec, Value::str(name));
                dst = call_internal(b, sec, "$field", &[dst, k])?;
            }
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
            static_check(*op, left, right, scope)?;
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
            let acc = in_list(b, sec, inner, list, scope)?;
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
                    None => name.clone(),
                };
                Error::not_found(format!("{full}(): function not found"))
            })?;
            f.check_arity(args.len())?;
            let regs: Vec<Reg> = args
                .iter()
                .map(|a| expr(b, sec, a, scope))
                .collect::<Result<_>>()?;
            call_func(b, sec, f, &regs)
        }
        Expr::Case {
            operand,
            whens,
            else_,
        } => {
            case_types(whens, else_.as_deref())?;
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
            return Err(Error::unsupported(
                "aggregate functions are not allowed here",
            ));
        }
        Expr::Array(items) if items.is_empty() => {
            b.load_const(sec, Value::Json(Box::new(Json::Array(vec![]))))
        }
        Expr::Array(items) => {
            let regs = items
                .iter()
                .map(|a| expr(b, sec, a, scope))
                .collect::<Result<Vec<_>>>()?;
            call_internal(b, sec, "$array", &regs)?
        }
        Expr::Object(members) => {
            let mut regs = Vec::with_capacity(members.len() * 2);
            for (k, v) in members {
                regs.push(expr(b, sec, k, scope)?);
                regs.push(expr(b, sec, v, scope)?);
            }
            call_internal(b, sec, "$object", &regs)?
        }
        Expr::Index { expr: e, index } => {
            let a = expr(b, sec, e, scope)?;
            let i = expr(b, sec, index, scope)?;
            call_internal(b, sec, "$index", &[a, i])?
        }
        Expr::Field { expr: e, name } => {
            let a = expr(b, sec, e, scope)?;
            let k = b.load_const(sec, Value::str(name));
            call_internal(b, sec, "$field", &[a, k])?
        }
        Expr::Default => return Err(Error::unsupported("DEFAULT is not allowed here")),
        Expr::Subquery(sel) | Expr::Exists(sel)
            if sec == Sec::Node && b.node_inline.iter().any(|i| i.sel == **sel) =>
        {
            let emit = b.inline_emit;
            emit(b, sel, matches!(e, Expr::Exists(_)))?
        }
        Expr::Subquery(sel) => {
            let stmt = subquery_stmt(b, sec, sel)?;
            if b.p.stmts[stmt as usize].columns.len() > 1 {
                return Err(Error::type_error("subquery must return only one column"));
            }
            let dst = b.regs(sec, 1);
            b.emit(sec, Op::SetScalar { stmt, dst });
            dst
        }
        Expr::Exists(sel) => {
            let stmt = subquery_stmt(b, sec, sel)?;
            let dst = b.regs(sec, 1);
            b.emit(sec, Op::SetExists { stmt, dst });
            dst
        }
        Expr::AnyAll {
            left,
            op,
            all,
            right,
        } => {
            let a = expr(b, sec, left, scope)?;
            let dst = b.regs(sec, 1);
            let op = binop(*op);
            if let Expr::Subquery(sel) = &**right {
                let stmt = subquery_stmt(b, sec, sel)?;
                b.emit(
                    sec,
                    Op::SetAnyAll {
                        stmt,
                        op,
                        all: *all,
                        dst,
                        a,
                    },
                );
            } else {
                let r = expr(b, sec, right, scope)?;
                b.emit(
                    sec,
                    Op::AnyAll {
                        op,
                        all: *all,
                        dst,
                        a,
                        b: r,
                    },
                );
            }
            dst
        }
        _ => return Err(Error::unsupported("this expression is not supported yet")),
    })
}

/// The statement holding the rows of an already compiled subquery (see `query::subquery`).
/// In node code only the statements of [`Builder::node_sets`] are readable (they are shipped
/// with the `Send`).
fn subquery_stmt(b: &mut Builder, sec: Sec, sel: &amelie_parser::Select) -> Result<u16> {
    match b.subq.iter().rev().find(|(k, _)| k == sel).map(|(_, s)| *s) {
        Some(stmt) if sec == Sec::Coordinator => Ok(stmt),
        Some(stmt) if b.node_sets.contains(&stmt) => {
            b.use_set(stmt);
            Ok(stmt)
        }
        _ => Err(Error::unsupported("subqueries are not supported here")),
    }
}

/// `a IN (items)` with SQL null semantics; bare subquery items contribute their rows.
fn in_list(b: &mut Builder, sec: Sec, inner: &Expr, list: &[Expr], scope: &Scope) -> Result<Reg> {
    let a = expr(b, sec, inner, scope)?;
    let mut values = Vec::new();
    let mut subs = Vec::new();
    for item in list {
        match item {
            Expr::Subquery(sel) => {
                let stmt = subquery_stmt(b, sec, sel)?;
                if b.p.stmts[stmt as usize].columns.len() != 1 {
                    return Err(Error::type_error("IN: subquery must return one column"));
                }
                subs.push(stmt)
            }
            e => values.push(expr(b, sec, e, scope)?),
        }
    }
    let mut parts = Vec::new();
    let n = values.len() as u16;
    let start = b.consecutive(sec, &values);
    let dst = b.regs(sec, 1);
    b.emit(sec, Op::InList { dst, a, start, n });
    parts.push(dst);
    for stmt in subs {
        let dst = b.regs(sec, 1);
        b.emit(
            sec,
            Op::SetAnyAll {
                stmt,
                op: BinOp::Eq,
                all: false,
                dst,
                a,
            },
        );
        parts.push(dst);
    }
    if let [one] = parts.as_slice() {
        return Ok(*one);
    }
    // combine the partial results: true if any is true, else null if any is null
    let t = b.load_const(sec, Value::Bool(true));
    let n = parts.len() as u16;
    let start = b.consecutive(sec, &parts);
    let dst = b.regs(sec, 1);
    b.emit(
        sec,
        Op::InList {
            dst,
            a: t,
            start,
            n,
        },
    );
    Ok(dst)
}

/// Emits a call of the builtin `name` over the registers `regs` (copied to consecutive ones).
pub fn call_func(b: &mut Builder, sec: Sec, f: FuncId, regs: &[Reg]) -> Reg {
    let start = b.consecutive(sec, regs);
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

/// Calls one of the internal operator functions (`$index`, `$field`, `$array`, `$object`).
fn call_internal(b: &mut Builder, sec: Sec, name: &str, regs: &[Reg]) -> Result<Reg> {
    let f = FuncId::lookup(None, name)
        .ok_or_else(|| Error::not_found(format!("{name}(): function not found")))?;
    Ok(call_func(b, sec, f, regs))
}

/// CASE results that are literals must all have one type (null aside).
fn case_types(whens: &[(Expr, Expr)], else_: Option<&Expr>) -> Result<()> {
    let lit = |e: &Expr| -> Option<u8> {
        Some(match e {
            Expr::Param(p) => match p.ty() {
                amelie_common::Type::Int => 2,
                amelie_common::Type::Double => 3,
                _ => 4,
            },
            Expr::Bool(_) => 1,
            Expr::Int(_) => 2,
            Expr::Double(_) => 3,
            Expr::String(_) => 4,
            Expr::JsonLiteral(_) => 5,
            Expr::Timestamp(_) | Expr::CurrentTimestamp => 6,
            Expr::Interval(_) => 7,
            _ => return None,
        })
    };
    let mut seen = None;
    for e in whens.iter().map(|(_, t)| t).chain(else_) {
        if let Some(t) = lit(e) {
            if seen.is_some_and(|s| s != t) {
                return Err(Error::type_error("CASE expr types must match"));
            }
            seen = Some(t);
        }
    }
    Ok(())
}

/// A representative value of the type an expression is known to have at compile time
/// (literals and plain column references), None when unknown or null.
fn static_value(e: &Expr, scope: &Scope) -> Option<Value> {
    use amelie_common::Type;
    Some(match e {
        Expr::Param(p) => match p.ty() {
            Type::Int => Value::Int(1),
            Type::Double => Value::Double(1.0),
            _ => Value::str("a"),
        },
        Expr::Int(_) => Value::Int(1),
        Expr::Double(_) => Value::Double(1.0),
        Expr::String(_) => Value::str("a"),
        Expr::Bool(_) => Value::Bool(true),
        Expr::Timestamp(_) | Expr::CurrentTimestamp => Value::Timestamp(1),
        Expr::Interval(_) => Value::Interval(amelie_common::Interval {
            months: 0,
            days: 1,
            us: 0,
        }),
        Expr::JsonLiteral(_) | Expr::Object(_) => Value::Json(Box::new(Json::Null)),
        Expr::Name(parts)
            if scope.aggs.is_none()
                && !parts.iter().any(|p| p.eq_ignore_ascii_case("self"))
                && !parts
                    .first()
                    .is_some_and(|p| p.eq_ignore_ascii_case("excluded")) =>
        {
            let t = scope.table?;
            if t.id == PSEUDO_TABLE_ID {
                // rows of a subquery / CTE / function: column types are not known
                return None;
            }
            let (col, path) = scope.column_path(parts).ok()?;
            if !path.is_empty() {
                return None;
            }
            match t.columns.get(col)?.ty.runtime() {
                Type::Int => Value::Int(1),
                Type::Double => Value::Double(1.0),
                Type::String => Value::str("a"),
                Type::Bool => Value::Bool(true),
                Type::Json => Value::Json(Box::new(Json::Null)),
                Type::Timestamp => Value::Timestamp(1),
                Type::Interval => Value::Interval(amelie_common::Interval {
                    months: 0,
                    days: 1,
                    us: 0,
                }),
                Type::Vector => Value::Vector(vec![1.0].into()),
                Type::Null => return None,
            }
        }
        _ => return None,
    })
}

/// Operand types known at compile time must be supported by the operator (Amelie types
/// expressions while compiling: `id > 'x'` fails even over an empty table).
fn static_check(op: BinaryOp, left: &Expr, right: &Expr, scope: &Scope) -> Result<()> {
    if matches!(op, BinaryOp::And | BinaryOp::Or) {
        return Ok(());
    }
    let (Some(a), Some(c)) = (static_value(left, scope), static_value(right, scope)) else {
        return Ok(());
    };
    match amelie_vm::exec::binary(binop(op), &a, &c) {
        Err(e) if e.kind() == ErrorKind::UnsupportedOperation => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod static_tests {
    use super::*;

    #[test]
    fn literal_operands_are_type_checked() {
        let s = Scope::default();
        let e =
            static_check(BinaryOp::Gt, &Expr::Int(1), &Expr::String("x".into()), &s).unwrap_err();
        assert_eq!(e.msg(), "unsupported operation: <int> > <string>");
        assert!(static_check(BinaryOp::Add, &Expr::Int(1), &Expr::Double(2.0), &s).is_ok());
        assert!(static_check(BinaryOp::Div, &Expr::Int(1), &Expr::Int(0), &s).is_ok());
        assert!(case_types(
            &[(Expr::Int(1), Expr::Int(1))],
            Some(&Expr::String("else".into()))
        )
        .is_err());
    }
}
