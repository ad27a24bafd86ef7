//! Expressions: precedence climbing over Amelie's priority table (spec §2.4), low → high:
//!
//! | prio | operators |
//! |---|---|
//! | 1 | `OR` |
//! | 2 | `AND` |
//! | 3 | `=` `<>` `IS [NOT] NULL` `[NOT] LIKE` |
//! | 4 | `<` `<=` `>` `>=` `[NOT] BETWEEN` `[NOT] IN` `AT TIMEZONE` |
//! | 5 | `\|` |
//! | 6 | `^` |
//! | 7 | `&` |
//! | 8 | `<<` `>>` |
//! | 9 | `+` `-` `\|\|` |
//! | 10 | `*` `/` `%` |
//! | 11 | unary `-` `~` `NOT` |
//! | 12 | postfix `[idx]` `.name` `::func(args)` |

use crate::ast::*;
use crate::lexer::{Kw, Tok, P};
use crate::parser::{Parser, MAX_DEPTH, MAX_HEIGHT};
use amelie_common::ErrorKind;
use amelie_common::{Json, Result};

/// An infix operator found at the current position.
#[derive(Clone, Copy)]
enum Infix {
    Binary(BinaryOp),
    Is,
    Between { negated: bool },
    In { negated: bool },
    AtTimezone,
    Lambda,
}

impl Parser {
    /// A full expression.
    ///
    /// Besides the expression this leaves its tree height in `self.h` and folds it into
    /// `self.max_h`, the running maximum of the node being built around it (see
    /// [`Parser::open_node`]). Heights are bounded by [`MAX_HEIGHT`] so that consumers (and
    /// `Drop`) can recurse over any tree the parser returns; a long flat chain like
    /// `1 + 1 + ...` would otherwise build an arbitrarily deep left spine.
    pub(crate) fn expr(&mut self) -> Result<Expr> {
        let e = self.binary(1)?;
        self.max_h = self.max_h.max(self.h);
        Ok(e)
    }

    /// Records the height of the expression just built.
    fn set_h(&mut self, h: u32) -> Result<()> {
        self.h = h;
        if h > MAX_HEIGHT {
            return self.fail_kind(ErrorKind::LimitReached, "expression is too deeply nested");
        }
        Ok(())
    }

    /// Starts a node with several children parsed by [`Parser::expr`]; returns the enclosing
    /// node's running maximum, to be passed to [`Parser::close_node`].
    fn open_node(&mut self) -> u32 {
        std::mem::take(&mut self.max_h)
    }

    /// Finishes a node: one above its highest child (`other` = a child parsed otherwise).
    fn close_node(&mut self, saved: u32, other: u32) -> Result<()> {
        let h = self.max_h.max(other) + 1;
        self.max_h = saved;
        self.set_h(h)
    }

    pub(crate) fn expr_list(&mut self) -> Result<Vec<Expr>> {
        let mut list = vec![self.expr()?];
        while self.accept_p(P::Comma) {
            self.list_item(list.len())?;
            list.push(self.expr()?);
        }
        Ok(list)
    }

    /// The infix operator at the current position: (operator, priority, tokens it spans).
    fn infix(&self) -> Option<(Infix, u8, usize)> {
        use BinaryOp as B;
        let bin = |op, prio| Some((Infix::Binary(op), prio, 1));
        match self.peek() {
            Tok::P(p) => match p {
                P::Eq => bin(B::Eq, 3),
                P::NotEq => bin(B::NotEq, 3),
                P::Lt => bin(B::Lt, 4),
                P::LtEq => bin(B::LtEq, 4),
                P::Gt => bin(B::Gt, 4),
                P::GtEq => bin(B::GtEq, 4),
                P::Pipe => bin(B::BitOr, 5),
                P::Caret => bin(B::BitXor, 6),
                P::Amp => bin(B::BitAnd, 7),
                P::Shl => bin(B::Shl, 8),
                P::Shr => bin(B::Shr, 8),
                P::Plus => bin(B::Add, 9),
                P::Minus => bin(B::Sub, 9),
                P::Concat => bin(B::Concat, 9),
                P::Star => bin(B::Mul, 10),
                P::Slash => bin(B::Div, 10),
                P::Percent => bin(B::Mod, 10),
                P::Arrow => Some((Infix::Lambda, 1, 1)),
                _ => None,
            },
            Tok::Word(_, Some(kw)) => match kw {
                Kw::Or => bin(B::Or, 1),
                Kw::And => bin(B::And, 2),
                Kw::Like => bin(B::Like, 3),
                Kw::Is => Some((Infix::Is, 3, 1)),
                Kw::Between => Some((Infix::Between { negated: false }, 4, 1)),
                Kw::In => Some((Infix::In { negated: false }, 4, 1)),
                Kw::At if self.is_kw_at(1, Kw::Timezone) => Some((Infix::AtTimezone, 4, 2)),
                Kw::Not => match self.peek_at(1) {
                    Tok::Word(_, Some(Kw::Like)) => Some((Infix::Binary(B::NotLike), 3, 2)),
                    Tok::Word(_, Some(Kw::Between)) => {
                        Some((Infix::Between { negated: true }, 4, 2))
                    }
                    Tok::Word(_, Some(Kw::In)) => Some((Infix::In { negated: true }, 4, 2)),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        }
    }

    /// Binary operators of priority >= `min`, left-associative.
    ///
    /// This and the other functions on the recursion path (`unary`, `postfix`, `primary`) keep
    /// their bodies small and push the work into non-inlined helpers, so that every nesting
    /// level costs little stack even in debug builds.
    fn binary(&mut self, min: u8) -> Result<Expr> {
        let mut lhs = self.unary()?;
        while let Some((op, prio, len)) = self.infix() {
            if prio < min {
                break;
            }
            for _ in 0..len {
                self.advance();
            }
            let lh = self.h;
            lhs = self.infix_rest(op, prio, lhs, lh)?;
        }
        Ok(lhs)
    }

    /// The right side of an infix operator whose tokens were consumed.
    #[inline(never)]
    fn infix_rest(&mut self, op: Infix, prio: u8, lhs: Expr, lh: u32) -> Result<Expr> {
        Ok(match op {
            Infix::Binary(op) if is_cmp(op) && self.any_all_next() => self.any_all(op, lhs, lh)?,
            Infix::Binary(op) => {
                let rhs = self.binary(prio + 1)?;
                self.set_h(lh.max(self.h) + 1)?;
                Expr::Binary {
                    op,
                    left: Box::new(lhs),
                    right: Box::new(rhs),
                }
            }
            Infix::Is => {
                let negated = self.accept_kw(Kw::Not);
                if !self.accept_kw(Kw::Null) {
                    // Amelie parses the right side as an expression first, so a missing
                    // operand is `bad expression`, a non-NULL one this error.
                    self.unary()?;
                    return self.fail("IS [NOT] <NULL> expected");
                }
                self.set_h(lh + 1)?;
                Expr::IsNull {
                    expr: Box::new(lhs),
                    negated,
                }
            }
            Infix::Between { negated } => {
                let low = self.between_const()?;
                if !self.accept_kw(Kw::And) {
                    return self.fail("BETWEEN expr <AND> expected");
                }
                let high = self.between_const()?;
                self.set_h(lh + 1)?;
                Expr::Between {
                    expr: Box::new(lhs),
                    low: Box::new(low),
                    high: Box::new(high),
                    negated,
                }
            }
            Infix::In { negated } => {
                if !self.accept_p(P::LParen) {
                    return self.fail("IN <(> expected");
                }
                let saved = self.open_node();
                let list = self.list_until(P::RParen, "expected ')'", true)?;
                self.close_node(saved, lh)?;
                Expr::In {
                    expr: Box::new(lhs),
                    list,
                    negated,
                }
            }
            Infix::Lambda => {
                let rhs = self.binary(prio + 1)?;
                self.set_h(lh.max(self.h) + 1)?;
                Expr::Lambda {
                    seed: Box::new(lhs),
                    expr: Box::new(rhs),
                }
            }
            Infix::AtTimezone => {
                let zone = self.binary(prio + 1)?;
                self.set_h(lh.max(self.h) + 1)?;
                Expr::Function {
                    schema: None,
                    name: "at_timezone".to_string(),
                    args: vec![lhs, zone],
                }
            }
        })
    }

    /// Whether `ANY (` / `ALL (` follows a comparison operator.
    fn any_all_next(&self) -> bool {
        matches!(self.peek(), Tok::Word(_, Some(Kw::Any | Kw::All)))
            && matches!(self.peek_at(1), Tok::P(P::LParen))
    }

    /// `op ANY|ALL (expr | SELECT ...)`, the operator already consumed.
    #[inline(never)]
    fn any_all(&mut self, op: BinaryOp, lhs: Expr, lh: u32) -> Result<Expr> {
        let all = self.is_kw(Kw::All);
        self.advance();
        self.advance();
        let saved = self.open_node();
        let right = self.expr()?;
        self.expect_p(P::RParen, "expected ')'")?;
        self.close_node(saved, lh)?;
        Ok(Expr::AnyAll {
            left: Box::new(lhs),
            op,
            all,
            right: Box::new(right),
        })
    }

    /// `BETWEEN` bounds are literal constants in Amelie.
    fn between_const(&mut self) -> Result<Expr> {
        match self.peek() {
            Tok::Int(_) | Tok::Double(_) | Tok::Str(_) => self.primary(),
            Tok::Word(_, Some(Kw::Timestamp | Kw::Interval))
                if matches!(self.peek_at(1), Tok::Str(_)) =>
            {
                self.typed_literal()
            }
            _ => self.fail("error BETWEEN const value expected"),
        }
    }

    /// Comma-separated expressions up to the closing `close` (which may come right away).
    /// (`capped`: at most [`crate::parser::MAX_LIST`] items)
    fn list_until(&mut self, close: P, msg: &str, capped: bool) -> Result<Vec<Expr>> {
        let mut list = Vec::new();
        if self.accept_p(close) {
            return Ok(list);
        }
        loop {
            if capped {
                self.list_item(list.len())?;
            }
            list.push(self.expr()?);
            if self.accept_p(P::Comma) {
                continue;
            }
            self.expect_p(close, msg)?;
            return Ok(list);
        }
    }

    /// Unary operators, then postfix. Every nesting level passes through here, so this is
    /// where the nesting limits are enforced.
    fn unary(&mut self) -> Result<Expr> {
        self.depth += 1;
        if self.depth > MAX_DEPTH || self.stack_exhausted() {
            return self.fail_kind(ErrorKind::LimitReached, "expression is too deeply nested");
        }
        let result = match self.peek() {
            Tok::P(P::Minus) => self.unary_op(UnaryOp::Neg),
            Tok::P(P::Tilde) => self.unary_op(UnaryOp::BitNot),
            // Amelie rejects an array constructor right after NOT (`select not []`).
            Tok::Word(_, Some(Kw::Not)) if matches!(self.peek_at(1), Tok::P(P::LBracket)) => {
                self.advance();
                self.bad_expression()
            }
            Tok::Word(_, Some(Kw::Not)) => self.unary_op(UnaryOp::Not),
            _ => self.postfix(),
        };
        self.depth -= 1;
        result
    }

    #[inline(never)]
    fn unary_op(&mut self, op: UnaryOp) -> Result<Expr> {
        self.advance();
        let expr = self.unary()?;
        self.set_h(self.h + 1)?;
        Ok(Expr::Unary {
            op,
            expr: Box::new(expr),
        })
    }

    /// A primary expression followed by `[idx]`, `.name` and `::func(args)`.
    fn postfix(&mut self) -> Result<Expr> {
        let mut e = self.primary()?;
        while matches!(self.peek(), Tok::P(P::LBracket | P::Dot | P::DoubleColon)) {
            e = self.postfix_op(e)?;
        }
        Ok(e)
    }

    #[inline(never)]
    fn postfix_op(&mut self, e: Expr) -> Result<Expr> {
        let eh = self.h;
        let (e, levels) = match self.take() {
            Tok::P(P::LBracket) => {
                let index = self.expr()?;
                self.expect_p(P::RBracket, "expected ']'")?;
                self.set_h(eh.max(self.h) + 1)?;
                return Ok(Expr::Index {
                    expr: Box::new(e),
                    index: Box::new(index),
                });
            }
            Tok::P(P::Dot) => match self.take() {
                Tok::Word(name, _) => (field(e, name), 1),
                Tok::Name(parts) => {
                    let levels = parts.len() as u32;
                    (parts.into_iter().fold(e, field), levels)
                }
                Tok::Str(name) => (
                    Expr::Field {
                        expr: Box::new(e),
                        name,
                    },
                    1,
                ),
                _ => return self.fail("bad '.' expression"),
            },
            _ => return self.method(e, eh),
        };
        // A name stays a leaf; otherwise each field access is one more level.
        let h = if matches!(e, Expr::Name(_)) {
            1
        } else {
            eh + levels
        };
        self.set_h(h)?;
        Ok(e)
    }

    /// `expr::[schema.]name[(args)]` = `[schema.]name(expr, args)`; keywords are plain names
    /// after `::`.
    fn method(&mut self, first: Expr, first_h: u32) -> Result<Expr> {
        let (schema, name) = match self.peek() {
            Tok::Word(..) => {
                let name = self.take_kw_name();
                (None, name)
            }
            Tok::Name(parts) if parts.len() == 2 => {
                let mut parts = self.take_parts();
                let name = parts.pop().unwrap_or_default();
                (parts.pop(), name)
            }
            Tok::Name(parts) => {
                return self.fail(format!("{}(): bad function call", parts.join(".")));
            }
            _ => return self.fail("bad '::' expression"),
        };
        let mut args = vec![first];
        let saved = self.open_node();
        if self.accept_p(P::LParen) {
            self.call_args(&mut args)?;
        }
        self.close_node(saved, first_h)?;
        Ok(Expr::Function { schema, name, args })
    }

    /// Arguments after `(` up to and including `)`.
    fn call_args(&mut self, args: &mut Vec<Expr>) -> Result<()> {
        if self.accept_p(P::RParen) {
            return Ok(());
        }
        loop {
            self.list_item(args.len())?;
            args.push(self.expr()?);
            if self.accept_p(P::Comma) {
                continue;
            }
            return self.expect_p(P::RParen, "expected ')'");
        }
    }

    /// `[schema.]name(args)` with the name consumed and `(` current.
    fn call(&mut self, schema: Option<String>, name: String) -> Result<Expr> {
        self.advance(); // (
        let mut args = Vec::new();
        let saved = self.open_node();
        self.call_args(&mut args)?;
        self.close_node(saved, 0)?;
        Ok(Expr::Function { schema, name, args })
    }

    fn primary(&mut self) -> Result<Expr> {
        match self.peek() {
            Tok::Int(_) | Tok::Double(_) | Tok::Str(_) => Ok(self.literal()),
            Tok::P(P::LParen) => self.parenthesized(),
            Tok::P(P::LBracket) | Tok::P(P::LBrace) => self.constructor(),
            Tok::Name(_) | Tok::Word(_, None) => self.name_or_call(),
            Tok::Word(_, Some(kw)) => self.keyword_primary(*kw),
            _ => self.bad_expression(),
        }
    }

    /// The current number or string token as an expression (in params mode: a parameter
    /// referring to the literal).
    fn literal(&mut self) -> Expr {
        self.h = 1;
        if self.params_mode() {
            if let Some(o) = self.literal_ord() {
                self.skip_param();
                let value = self.params[o as usize].clone();
                return Expr::Param(ParamRef::new(o, value));
            }
        }
        match self.take() {
            Tok::Int(v) => Expr::Int(v),
            Tok::Double(v) => Expr::Double(v),
            Tok::Str(s) => Expr::String(s),
            _ => Expr::Null,
        }
    }

    #[inline(never)]
    fn parenthesized(&mut self) -> Result<Expr> {
        self.advance();
        let e = self.expr()?;
        self.expect_p(P::RParen, "expected ')'")?;
        Ok(e)
    }

    /// A (compound) name, or a function call `[schema.]name(args)`.
    #[inline(never)]
    fn name_or_call(&mut self) -> Result<Expr> {
        let call = self.is_call();
        if let Tok::Name(parts) = self.peek() {
            if call && parts.len() > 2 {
                return self.fail(format!("{}(): bad function call", parts.join(".")));
            }
        }
        self.h = 1;
        match (self.take(), call) {
            (Tok::Word(name, _), false) => Ok(Expr::Name(vec![name])),
            (Tok::Name(parts), false) => Ok(Expr::Name(parts)),
            (Tok::Word(name, _), true) => self.call(None, name),
            (Tok::Name(mut parts), true) => {
                let name = parts.pop().unwrap_or_default();
                self.call(parts.pop(), name)
            }
            _ => self.bad_expression(),
        }
    }

    /// Whether the token after the current one is `(`.
    fn is_call(&self) -> bool {
        matches!(self.peek_at(1), Tok::P(P::LParen))
    }

    fn keyword_primary(&mut self, kw: Kw) -> Result<Expr> {
        self.h = 1;
        let e = match kw {
            Kw::Null => Expr::Null,
            Kw::True => Expr::Bool(true),
            Kw::False => Expr::Bool(false),
            Kw::CurrentTimestamp => Expr::CurrentTimestamp,
            Kw::SelfRef => {
                let name = self.take_kw_name();
                return Ok(Expr::Name(vec![name]));
            }
            Kw::Timestamp | Kw::Interval if matches!(self.peek_at(1), Tok::Str(_)) => {
                return self.typed_literal();
            }
            Kw::Vector if matches!(self.peek_at(1), Tok::P(P::LBracket)) => {
                let name = self.take_kw_name();
                let array = self.constructor()?;
                self.set_h(self.h + 1)?;
                return Ok(Expr::Function {
                    schema: None,
                    name,
                    args: vec![array],
                });
            }
            Kw::Extract if self.is_call() => return self.extract(),
            // Keywords that are still callable as functions.
            Kw::Set
            | Kw::Unset
            | Kw::Random
            | Kw::Serial
            | Kw::Replace
            | Kw::Error
            | Kw::Timestamp
            | Kw::Interval
                if self.is_call() =>
            {
                let name = self.take_kw_name();
                return self.call(None, name);
            }
            Kw::Count | Kw::Sum | Kw::Avg | Kw::Min | Kw::Max if self.is_call() => {
                return self.aggregate(kw);
            }
            Kw::Case => return self.case(),
            Kw::Exists => return self.exists(),
            Kw::Select => {
                let saved = self.open_node();
                let select = self.select()?;
                self.close_node(saved, 0)?;
                return Ok(Expr::Subquery(Box::new(select)));
            }
            _ => return self.bad_expression(),
        };
        self.advance();
        Ok(e)
    }

    /// `TIMESTAMP 'text'` / `INTERVAL 'text'` (current token is the keyword, a string follows).
    pub(crate) fn typed_literal(&mut self) -> Result<Expr> {
        let is_timestamp = self.is_kw(Kw::Timestamp);
        self.advance();
        let text = self.take_string().unwrap_or_default();
        self.h = 1;
        Ok(if is_timestamp {
            Expr::Timestamp(text)
        } else {
            Expr::Interval(text)
        })
    }

    /// `EXTRACT(field FROM expr)` (field a name or a string) = `extract('field', expr)`;
    /// otherwise a normal call.
    fn extract(&mut self) -> Result<Expr> {
        if matches!(self.peek_at(2), Tok::Word(..) | Tok::Str(_)) && self.is_kw_at(3, Kw::From) {
            let name = self.take_kw_name();
            self.advance(); // (
            let field = match self.take() {
                Tok::Word(s, _) | Tok::Str(s) => s,
                _ => String::new(),
            };
            self.advance(); // FROM
            let saved = self.open_node();
            let expr = self.expr()?;
            self.expect_p(P::RParen, "expected ')'")?;
            self.close_node(saved, 1)?;
            return Ok(Expr::Function {
                schema: None,
                name,
                args: vec![Expr::String(field), expr],
            });
        }
        let name = self.take_kw_name();
        self.call(None, name)
    }

    /// `count(*)`, `count([DISTINCT] e)`, `sum/avg/min/max([DISTINCT] e)`.
    fn aggregate(&mut self, kw: Kw) -> Result<Expr> {
        let func = match kw {
            Kw::Count => AggFunc::Count,
            Kw::Sum => AggFunc::Sum,
            Kw::Avg => AggFunc::Avg,
            Kw::Min => AggFunc::Min,
            _ => AggFunc::Max,
        };
        self.advance(); // name
        self.advance(); // (
        if func == AggFunc::Count && self.is_p(P::Star) {
            self.advance();
            self.expect_p(P::RParen, "expected ')'")?;
            self.h = 1;
            return Ok(Expr::Aggregate {
                func,
                arg: None,
                distinct: false,
            });
        }
        let distinct = self.accept_kw(Kw::Distinct);
        let saved = self.open_node();
        let arg = self.expr()?;
        self.expect_p(P::RParen, "expected ')'")?;
        self.close_node(saved, 0)?;
        Ok(Expr::Aggregate {
            func,
            arg: Some(Box::new(arg)),
            distinct,
        })
    }

    /// `CASE [expr] WHEN .. THEN .. [...] [ELSE ..] END`
    fn case(&mut self) -> Result<Expr> {
        self.advance();
        let saved = self.open_node();
        let operand = if matches!(self.peek_kw(), Some(Kw::When | Kw::Else | Kw::End)) {
            None
        } else {
            Some(Box::new(self.expr()?))
        };
        let mut whens = Vec::new();
        let mut else_ = None;
        loop {
            if self.accept_kw(Kw::When) {
                let cond = self.expr()?;
                if !self.accept_kw(Kw::Then) {
                    return self.fail("CASE WHEN expr <THEN> expected");
                }
                let result = self.expr()?;
                whens.push((cond, result));
            } else if self.accept_kw(Kw::Else) {
                if else_.is_some() {
                    return self.fail("CASE ELSE redefined");
                }
                else_ = Some(Box::new(self.expr()?));
            } else if self.is_kw(Kw::End) {
                if whens.is_empty() && else_.is_none() {
                    return self.fail("CASE <WHEN|ELSE> expected");
                }
                self.advance();
                self.close_node(saved, 0)?;
                return Ok(Expr::Case {
                    operand,
                    whens,
                    else_,
                });
            } else {
                return self.fail("CASE <expr> expected");
            }
        }
    }

    /// `EXISTS (SELECT ...)`
    fn exists(&mut self) -> Result<Expr> {
        self.advance();
        if !self.accept_p(P::LParen) {
            return self.fail("EXISTS <(> expected");
        }
        if !self.is_kw(Kw::Select) {
            return self.fail("EXISTS (<SELECT> expected");
        }
        let saved = self.open_node();
        let select = self.select()?;
        self.expect_p(P::RParen, "expected ')'")?;
        self.close_node(saved, 0)?;
        Ok(Expr::Exists(Box::new(select)))
    }

    /// `[e, ...]` or `{k: v, ...}`; constant-only constructors become [`Expr::JsonLiteral`].
    pub(crate) fn constructor(&mut self) -> Result<Expr> {
        let saved = self.open_node();
        if self.accept_p(P::LBracket) {
            // (a constant array is one literal, of any length)
            let mut elems = self.list_until(P::RBracket, "expected ']'", false)?;
            self.close_node(saved, 0)?;
            if elems
                .iter()
                .all(|e| is_const(e) || matches!(e, Expr::Param(_)))
            {
                self.bake_all(&mut elems);
                return Ok(Expr::JsonLiteral(Json::Array(
                    elems.into_iter().map(into_json).collect(),
                )));
            }
            self.list_item(elems.len().saturating_sub(1))?;
            return Ok(Expr::Array(elems));
        }
        if !self.accept_p(P::LBrace) {
            return self.bad_expression();
        }
        let mut members = Vec::new();
        if !self.accept_p(P::RBrace) {
            loop {
                let key = self.expr()?;
                if !self.accept_p(P::Colon) {
                    return self.fail("{}: {name <:>} expected");
                }
                let value = self.expr()?;
                members.push((key, value));
                if self.accept_p(P::Comma) {
                    continue;
                }
                self.expect_p(P::RBrace, "expected '}'")?;
                break;
            }
        }
        self.close_node(saved, 0)?;
        let is_key = |k: &Expr| match k {
            Expr::String(_) => true,
            Expr::Param(x) => x.ty() == amelie_common::Type::String,
            _ => false,
        };
        if members
            .iter()
            .all(|(k, v)| is_key(k) && (is_const(v) || matches!(v, Expr::Param(_))))
        {
            for (k, v) in members.iter_mut() {
                if let Expr::Param(x) = k {
                    *k = self.bake(x.ord());
                }
                if let Expr::Param(x) = v {
                    *v = self.bake(x.ord());
                }
            }
            let object = members
                .into_iter()
                .map(|(k, v)| (json_key(k), into_json(v)))
                .collect();
            return Ok(Expr::JsonLiteral(Json::Object(object)));
        }
        self.list_item(members.len().saturating_sub(1))?;
        Ok(Expr::Object(members))
    }

    /// Replaces every top-level [`Expr::Param`] of `list` by its literal (the parser folds
    /// the list into a constant).
    fn bake_all(&mut self, list: &mut [Expr]) {
        for e in list.iter_mut() {
            if let Expr::Param(x) = e {
                *e = self.bake(x.ord());
            }
        }
    }

    /// Whether the current token can start an INSERT value.
    pub(crate) fn starts_value(&self) -> bool {
        match self.peek() {
            Tok::Int(_) | Tok::Double(_) | Tok::Str(_) => true,
            Tok::P(P::LBracket | P::LBrace) => true,
            Tok::Word(_, Some(kw)) => matches!(
                kw,
                Kw::Null
                    | Kw::True
                    | Kw::False
                    | Kw::Default
                    | Kw::CurrentTimestamp
                    | Kw::Timestamp
                    | Kw::Interval
                    | Kw::Vector
            ),
            _ => false,
        }
    }

    /// One INSERT VALUES item: a literal, DEFAULT, a JSON constructor, `TIMESTAMP '..'`,
    /// `INTERVAL '..'`, `CURRENT_TIMESTAMP` or `VECTOR [..]` (Amelie takes no expressions here).
    pub(crate) fn value(&mut self) -> Result<Expr> {
        match self.peek() {
            Tok::Int(_) | Tok::Double(_) | Tok::Str(_) | Tok::P(P::LBracket | P::LBrace) => {
                self.primary()
            }
            Tok::Word(_, Some(Kw::Default)) => {
                self.advance();
                self.h = 1;
                Ok(Expr::Default)
            }
            Tok::Word(_, Some(Kw::Null | Kw::True | Kw::False | Kw::CurrentTimestamp)) => {
                self.primary()
            }
            Tok::Word(_, Some(Kw::Timestamp | Kw::Interval))
                if matches!(self.peek_at(1), Tok::Str(_)) =>
            {
                self.typed_literal()
            }
            Tok::Word(_, Some(Kw::Vector)) if matches!(self.peek_at(1), Tok::P(P::LBracket)) => {
                self.primary()
            }
            _ => self.bad_expression(),
        }
    }
}

/// `e.name`: extends a name (`a.b` + `.c` = `a.b.c`), otherwise a field access.
fn is_cmp(op: BinaryOp) -> bool {
    use BinaryOp as B;
    matches!(op, B::Eq | B::NotEq | B::Lt | B::LtEq | B::Gt | B::GtEq)
}

fn field(e: Expr, name: String) -> Expr {
    match e {
        Expr::Name(mut parts) => {
            parts.push(name);
            Expr::Name(parts)
        }
        e => Expr::Field {
            expr: Box::new(e),
            name,
        },
    }
}

fn is_const(e: &Expr) -> bool {
    matches!(
        e,
        Expr::Null
            | Expr::Bool(_)
            | Expr::Int(_)
            | Expr::Double(_)
            | Expr::String(_)
            | Expr::Timestamp(_)
            | Expr::Interval(_)
            | Expr::JsonLiteral(_)
    )
}

fn json_key(e: Expr) -> String {
    match e {
        Expr::String(s) => s,
        _ => String::new(),
    }
}

/// Converts a constant (see [`is_const`]); timestamp/interval literals keep their text.
fn into_json(e: Expr) -> Json {
    match e {
        Expr::Bool(b) => Json::Bool(b),
        Expr::Int(v) => Json::Int(v),
        Expr::Double(v) => Json::Double(v),
        Expr::String(s) | Expr::Timestamp(s) | Expr::Interval(s) => Json::String(s),
        Expr::JsonLiteral(j) => j,
        _ => Json::Null,
    }
}
