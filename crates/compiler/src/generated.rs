//! Generated columns: `AS (expr) STORED` (computed over the proposed row on every insert) and
//! `AS (expr) RESOLVED` (on a primary-key conflict, computed over the existing row).
//!
//! The catalog keeps each expression as SQL text; it is re-parsed here when a statement is
//! compiled.

use crate::builder::{Builder, CompileCtx, Sec};
use crate::expr::{expr, Scope};
use amelie_catalog::Table;
use amelie_common::{Error, Result, Type, Value};
use amelie_parser::Expr;
use amelie_vm::exec::{step, Flow};
use amelie_vm::{Env, Program, Reg};

/// Whether `e` contains a subquery (not allowed in a generated column expression).
pub fn has_subquery(e: &Expr) -> bool {
    e.any(|x| matches!(x, Expr::Subquery(_) | Expr::Exists(_)))
}

/// Parses the stored text of a generated expression.
pub fn parse(text: &str) -> Result<Expr> {
    let e = amelie_parser::parse_expr(text)?;
    if has_subquery(&e) {
        return Err(Error::internal("unexpected subquery"));
    }
    Ok(e)
}

/// A sample value of a column type, for the DDL-time type check.
fn sample(ty: Type) -> Value {
    match ty {
        Type::Bool => Value::Bool(true),
        Type::Int => Value::Int(1),
        Type::Double => Value::Double(1.0),
        Type::String => Value::str("a"),
        Type::Timestamp => Value::Timestamp(0),
        Type::Interval => Value::Interval(Default::default()),
        _ => Value::Null,
    }
}

/// Checks a generated expression for column `col` of `t` (CREATE TABLE, ALTER TABLE SET
/// COLUMN): it parses, has no subquery and resolves its names. A RESOLVED expression may not be
/// on a key column. Its type is not checked here but by every INSERT that computes it
/// ([`check_types`], [`amelie_vm::exec::check_generated`]), as in Amelie.
pub fn check(t: &Table, col: usize, text: &str, resolved: bool) -> Result<()> {
    if resolved && t.is_key(col) {
        let name = t.columns.get(col).map(|c| c.name.as_str()).unwrap_or("");
        return Err(Error::unsupported(format!(
            "<{}.{name}> key column cannot be RESOLVED",
            t.name
        )));
    }
    let e = parse(text)?;
    let mut ev = Evaluator::new(&CompileCtx::default());
    ev.add(t, &e)?;
    Ok(())
}

/// The compile-time type check of an INSERT into `t`: each STORED expression (and each
/// RESOLVED one when the insert resolves conflicts), evaluated over a row of sample values
/// of the column types, must give NULL or its column's type. So a mismatch fails the
/// statement whatever its rows (also none); the rows' own values are checked again as they
/// are computed.
pub fn check_types(t: &Table, resolve: bool) -> Result<()> {
    let mut ev = Evaluator::new(&CompileCtx::default());
    let mut exprs = Vec::new();
    for (i, c) in t.columns.iter().enumerate() {
        let text = match (&c.gen.stored, &c.gen.resolved) {
            (Some(text), _) => text,
            (None, Some(text)) if resolve => text,
            _ => continue,
        };
        exprs.push((i, ev.add(t, &parse(text)?)?));
    }
    if exprs.is_empty() {
        return Ok(());
    }
    let row: Vec<Value> = t.columns.iter().map(|c| sample(c.ty.runtime())).collect();
    let params = ev.params(0);
    for (col, reg) in exprs {
        let env = Env {
            params: &params,
            now: 0,
        };
        // (an evaluation error over made-up values says nothing about the expression)
        let Ok(v) = ev.eval(&row, reg, env) else {
            continue;
        };
        let c = &t.columns[col];
        amelie_vm::exec::check_generated(&v, c.ty, &t.name, &c.name)?;
    }
    Ok(())
}

/// Expressions compiled into a private program and evaluated at compile time over a row
/// (the `Column` ops read the row).
pub struct Evaluator {
    b: Builder,
    /// For each expression: the code range and its result register.
    exprs: Vec<(usize, usize, Reg)>,
}

impl Evaluator {
    pub fn new(ctx: &CompileCtx) -> Evaluator {
        Evaluator {
            b: Builder::new(ctx),
            exprs: Vec::new(),
        }
    }

    /// Compiles `e` over the columns of `t`; returns its index.
    pub fn add(&mut self, t: &Table, e: &Expr) -> Result<Reg> {
        let scope = Scope {
            table: Some(t),
            alias: None,
            aggs: None,
        };
        let start = self.b.pc(Sec::Node);
        let r = expr(&mut self.b, Sec::Node, e, &scope)?;
        if !self.b.p.stmts.is_empty() {
            return Err(Error::internal("unexpected subquery"));
        }
        let end = self.b.pc(Sec::Node);
        self.exprs.push((start, end, r));
        Ok((self.exprs.len() - 1) as Reg)
    }

    /// The parameter values of an evaluation at time `now` (the expressions come from the
    /// catalog, so their only parameter is the time).
    pub fn params(&self, now: i64) -> Vec<Value> {
        self.b.p.bind(&[], now)
    }

    /// Evaluates expression `i` over `row`.
    pub fn eval(&self, row: &[Value], i: Reg, env: Env<'_>) -> Result<Value> {
        let Some(&(start, end, r)) = self.exprs.get(i as usize) else {
            return Ok(Value::Null);
        };
        let p: &Program = &self.b.p;
        let mut regs = vec![Value::Null; p.node_regs as usize];
        let mut pc = start;
        while pc < end {
            let Some(op) = p.node.get(pc) else { break };
            match step(p, env, op, &mut regs, Some(amelie_vm::RowRef::Values(row)))? {
                Flow::Next => pc += 1,
                Flow::Jump(to) => pc = to,
                Flow::NotExpr => return Err(Error::internal("unexpected subquery")),
            }
        }
        Ok(regs.get(r as usize).cloned().unwrap_or_default())
    }
}

/// The STORED columns of `t` compiled for compile-time evaluation (None: there are none).
pub struct Stored {
    ev: Evaluator,
    /// Column ordinal and expression index.
    cols: Vec<(usize, Reg)>,
    /// The table's name and its columns' names and types (for the type check).
    table: String,
    columns: Vec<(String, amelie_common::ColumnType)>,
}

impl Stored {
    pub fn new(t: &Table, tz_offset: amelie_common::Tz) -> Result<Option<Stored>> {
        if t.columns.iter().all(|c| c.gen.stored.is_none()) {
            return Ok(None);
        }
        let ctx = CompileCtx {
            now: 0,
            tz_offset,
            system: None,
        };
        let mut ev = Evaluator::new(&ctx);
        let mut cols = Vec::new();
        for (i, c) in t.columns.iter().enumerate() {
            if let Some(text) = &c.gen.stored {
                let e = parse(text)?;
                cols.push((i, ev.add(t, &e)?));
            }
        }
        Ok(Some(Stored {
            ev,
            cols,
            table: t.name.clone(),
            columns: t.columns.iter().map(|c| (c.name.clone(), c.ty)).collect(),
        }))
    }

    pub fn is_stored(&self, col: usize) -> bool {
        self.cols.iter().any(|(c, _)| *c == col)
    }

    /// The parameters of evaluations at time `now` (see [`Stored::apply`]).
    pub fn params(&self, now: i64) -> Vec<Value> {
        self.ev.params(now)
    }

    /// Computes every stored column over the proposed `row` (all expressions see the
    /// pre-generation values), then stores the results. `params` are [`Stored::params`] of
    /// the same `now`.
    pub fn apply(&self, row: &mut [Value], params: &[Value], now: i64) -> Result<()> {
        let env = Env { params, now };
        let mut out = Vec::with_capacity(self.cols.len());
        for (c, i) in &self.cols {
            let v = self.ev.eval(row, *i, env)?;
            if let Some((name, ty)) = self.columns.get(*c) {
                amelie_vm::exec::check_generated(&v, *ty, &self.table, name)?;
            }
            out.push((*c, v));
        }
        for (c, v) in out {
            if let Some(slot) = row.get_mut(c) {
                *slot = v;
            }
        }
        Ok(())
    }
}

/// The RESOLVED columns of `t`: (column ordinal, parsed expression).
pub fn resolved(t: &Table) -> Result<Vec<(usize, Expr)>> {
    let mut out = Vec::new();
    for (i, c) in t.columns.iter().enumerate() {
        if let Some(text) = &c.gen.resolved {
            out.push((i, parse(text)?));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subqueries_are_found() {
        let e = amelie_parser::parse_expr("1 + (select 1)").unwrap();
        assert!(has_subquery(&e));
        let e = amelie_parser::parse_expr("a + f(b, [1, 2])").unwrap();
        assert!(!has_subquery(&e));
        assert_eq!(
            parse("1 + (select 1)").unwrap_err().to_string(),
            "unexpected subquery"
        );
    }
}
