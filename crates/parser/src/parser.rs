//! Recursive-descent parser: request framing and statements (expressions are in `expr.rs`).

use crate::ast::*;
use crate::lexer::{lex, Kw, Tok, P};
use amelie_common::{ColumnType, Error, Result, Type, Value};

/// Maximum nesting of expressions/subqueries; deeper input is rejected instead of risking a
/// stack overflow.
pub(crate) const MAX_DEPTH: u32 = 128;

/// Most items of one list: select items, function arguments, `IN (...)`, array and object
/// constructors, GROUP BY and ORDER BY. Longer lists are refused (each item costs registers,
/// which the compiler counts in 16 bits).
pub const MAX_LIST: usize = 8192;

/// Most statements in one request.
pub const MAX_STATEMENTS: usize = 8192;

/// Maximum height of an expression tree (nested nodes, including subqueries' expressions).
pub(crate) const MAX_HEIGHT: u32 = 512;

/// Stack the parser may use below its entry point. Nesting that would need more is rejected
/// like too deep nesting; this matters for debug builds, whose frames are several times larger.
/// Callers should run `parse` on a thread with at least 2 MiB of stack (the Rust and tokio
/// defaults).
const STACK_BUDGET: usize = 768 * 1024;

/// An address inside the caller's stack frame.
#[inline(always)]
fn stack_pointer() -> usize {
    let probe = 0u8;
    std::hint::black_box(&probe) as *const u8 as usize
}

static EOF: Tok = Tok::Eof;

pub(crate) struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    pub(crate) depth: u32,
    /// Height of the expression parsed last (see `Parser::expr`).
    pub(crate) h: u32,
    /// Running maximum of child heights of the node being built.
    pub(crate) max_h: u32,
    stack_base: usize,
    lex_error: Option<(usize, &'static str)>,
    /// Literals become [`Expr::Param`] (see [`crate::parse_params`]).
    params_mode: bool,
    /// Per token: its literal position, or [`NOT_LITERAL`] (params mode only).
    ords: Vec<u32>,
    /// Literal values and whether the parser used each one itself (params mode only).
    pub(crate) params: Vec<Value>,
    pub(crate) baked: Vec<bool>,
}

const NOT_LITERAL: u32 = u32::MAX;

/// Parses one request body into statements; with `params_mode` number and string literals
/// in expressions become [`Expr::Param`].
pub(crate) fn parse_request(sql: &str, params_mode: bool) -> Result<Request> {
    let mut p = Parser::with_mode(sql, params_mode);
    let mut request = p.request()?;
    // Unreachable in practice (an error token is never accepted), but never let a tokenizer
    // error slip through.
    if let Some((_, msg)) = p.lex_error {
        return Err(Error::new(msg));
    }
    request.params = std::mem::take(&mut p.params);
    request.baked = std::mem::take(&mut p.baked);
    Ok(request)
}

// Token access helpers.
impl Parser {
    /// A parser over `src`'s tokens (used by `import.rs`, which drives it itself).
    pub(crate) fn new(src: &str) -> Parser {
        Parser::with_mode(src, false)
    }

    fn with_mode(src: &str, params_mode: bool) -> Parser {
        let lexed = lex(src);
        let mut ords = Vec::new();
        let mut params = Vec::new();
        if params_mode {
            ords.reserve(lexed.toks.len());
            for t in &lexed.toks {
                let v = match t {
                    Tok::Int(v) => Value::Int(*v),
                    Tok::Double(v) => Value::Double(*v),
                    Tok::Str(s) => Value::Str(s.as_str().into()),
                    _ => {
                        ords.push(NOT_LITERAL);
                        continue;
                    }
                };
                ords.push(params.len() as u32);
                params.push(v);
            }
        }
        let baked = vec![false; params.len()];
        Parser {
            toks: lexed.toks,
            pos: 0,
            depth: 0,
            h: 0,
            max_h: 0,
            stack_base: stack_pointer(),
            lex_error: lexed.error,
            params_mode,
            ords,
            params,
            baked,
        }
    }

    /// The literal position of the current token, when it is a literal (params mode).
    #[inline]
    pub(crate) fn literal_ord(&self) -> Option<u32> {
        self.ords
            .get(self.pos)
            .copied()
            .filter(|&o| o != NOT_LITERAL)
    }

    /// Whether literals become [`Expr::Param`].
    #[inline]
    pub(crate) fn params_mode(&self) -> bool {
        self.params_mode
    }

    /// Moves past the current literal token without marking it used by the parser.
    #[inline]
    pub(crate) fn skip_param(&mut self) {
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
    }

    /// The literal value behind `Expr::Param(i)`, marked as used by the parser itself.
    pub(crate) fn bake(&mut self, i: u32) -> Expr {
        let i = i as usize;
        if let Some(b) = self.baked.get_mut(i) {
            *b = true;
        }
        match self.params.get(i) {
            Some(Value::Int(v)) => Expr::Int(*v),
            Some(Value::Double(v)) => Expr::Double(*v),
            Some(Value::Str(s)) => Expr::String(s.to_string()),
            _ => Expr::Null,
        }
    }

    #[inline]
    pub(crate) fn peek(&self) -> &Tok {
        &self.toks[self.pos]
    }

    #[inline]
    pub(crate) fn peek_at(&self, n: usize) -> &Tok {
        self.toks.get(self.pos + n).unwrap_or(&EOF)
    }

    /// Whether parsing has used up its stack budget.
    #[inline]
    pub(crate) fn stack_exhausted(&self) -> bool {
        stack_pointer().abs_diff(self.stack_base) > STACK_BUDGET
    }

    /// Moves past the current token. A literal moved past this way (or by [`Parser::take`])
    /// has been looked at by the parser itself: it is marked as baked into the parse.
    #[inline]
    pub(crate) fn advance(&mut self) {
        if let Some(o) = self.literal_ord() {
            self.baked[o as usize] = true;
        }
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
    }

    /// Moves the current token out (leaving `Eof` behind) and advances.
    #[inline]
    pub(crate) fn take(&mut self) -> Tok {
        let t = std::mem::replace(&mut self.toks[self.pos], Tok::Eof);
        self.advance();
        t
    }

    #[inline]
    pub(crate) fn is_kw(&self, kw: Kw) -> bool {
        matches!(self.peek(), Tok::Word(_, Some(k)) if *k == kw)
    }

    #[inline]
    pub(crate) fn is_kw_at(&self, n: usize, kw: Kw) -> bool {
        matches!(self.peek_at(n), Tok::Word(_, Some(k)) if *k == kw)
    }

    #[inline]
    pub(crate) fn peek_kw(&self) -> Option<Kw> {
        match self.peek() {
            Tok::Word(_, kw) => *kw,
            _ => None,
        }
    }

    #[inline]
    pub(crate) fn accept_kw(&mut self, kw: Kw) -> bool {
        let yes = self.is_kw(kw);
        if yes {
            self.advance();
        }
        yes
    }

    #[inline]
    pub(crate) fn is_p(&self, p: P) -> bool {
        matches!(self.peek(), Tok::P(x) if *x == p)
    }

    #[inline]
    pub(crate) fn accept_p(&mut self, p: P) -> bool {
        let yes = self.is_p(p);
        if yes {
            self.advance();
        }
        yes
    }

    pub(crate) fn expect_p(&mut self, p: P, msg: &str) -> Result<()> {
        if self.accept_p(p) {
            Ok(())
        } else {
            self.fail(msg)
        }
    }

    /// Refuses a list that already has `len` items, at most [`MAX_LIST`] are allowed.
    #[inline]
    pub(crate) fn list_item(&self, len: usize) -> Result<()> {
        if len >= MAX_LIST {
            return self.fail(format!(
                "too many items in one list (the limit is {MAX_LIST})"
            ));
        }
        Ok(())
    }

    /// A parse error at the current position. If the parser has reached the place where the
    /// tokenizer failed, that error wins (Amelie's lexer is lazy, so it reports the first
    /// problem in reading order).
    pub(crate) fn fail<T>(&self, msg: impl Into<String>) -> Result<T> {
        if let Some((at, lex_msg)) = self.lex_error {
            if self.pos >= at {
                return Err(Error::new(lex_msg));
            }
        }
        Err(Error::new(msg))
    }

    /// Takes the current word as a name; keywords (case-insensitive) come out lowercase, so
    /// `TIMESTAMP('..')`, `EXTRACT(..)` and `x::Set(..)` name `timestamp`, `extract`, `set`.
    pub(crate) fn take_kw_name(&mut self) -> String {
        match self.take() {
            Tok::Word(mut s, kw) => {
                if kw.is_some() {
                    s.make_ascii_lowercase();
                }
                s
            }
            _ => String::new(),
        }
    }

    /// Takes the current token's name parts (of a word, compound name or `t.*`).
    pub(crate) fn take_parts(&mut self) -> Vec<String> {
        match self.take() {
            Tok::Name(parts) | Tok::NameStar(parts) => parts,
            Tok::Word(s, _) => vec![s],
            _ => Vec::new(),
        }
    }

    /// Takes a plain (non-keyword) identifier.
    pub(crate) fn take_ident(&mut self) -> Option<String> {
        if matches!(self.peek(), Tok::Word(_, None)) {
            if let Tok::Word(s, _) = self.take() {
                return Some(s);
            }
        }
        None
    }

    /// Takes a string literal.
    pub(crate) fn take_string(&mut self) -> Option<String> {
        if matches!(self.peek(), Tok::Str(_)) {
            if let Tok::Str(s) = self.take() {
                return Some(s);
            }
        }
        None
    }

    /// `[schema.]name`
    pub(crate) fn object_name(&mut self, msg: &str) -> Result<ObjectName> {
        match self.peek() {
            Tok::Word(_, None) => {
                let name = self.take_ident().unwrap_or_default();
                Ok(ObjectName { schema: None, name })
            }
            Tok::Name(parts) if parts.len() == 2 => {
                let mut parts = self.take_parts();
                let name = parts.pop().unwrap_or_default();
                let schema = parts.pop();
                Ok(ObjectName { schema, name })
            }
            _ => self.fail(msg),
        }
    }

    /// FROM and WHERE: the targets and the filter (join conditions AND the WHERE condition).
    #[inline(never)]
    fn select_sources(&mut self) -> Result<(Vec<FromItem>, Option<Expr>)> {
        let (from, on) = self.select_from()?;
        let filter = match (on, self.where_clause()?) {
            (Some(on), Some(w)) => Some(Expr::Binary {
                op: BinaryOp::And,
                left: Box::new(on),
                right: Box::new(w),
            }),
            (on, w) => on.or(w),
        };
        Ok((from, filter))
    }

    /// `[FROM target {, target | [INNER] JOIN target {ON expr | USING (col)}} ...]`: the
    /// targets and the AND of the join conditions.
    #[inline(never)]
    fn select_from(&mut self) -> Result<(Vec<FromItem>, Option<Expr>)> {
        let mut from: Vec<FromItem> = Vec::new();
        let mut on: Option<Expr> = None;
        if !self.accept_kw(Kw::From) {
            return Ok((from, on));
        }
        from.push(self.select_target()?);
        loop {
            if self.accept_p(P::Comma) {
                from.push(self.select_target()?);
                continue;
            }
            let outer = matches!(self.peek_kw(), Some(Kw::Left | Kw::Right));
            if outer {
                self.advance();
                self.accept_kw(Kw::Outer);
            } else if self.accept_kw(Kw::Inner) {
                if !self.is_kw(Kw::Join) {
                    return self.fail("INNER <JOIN> expected");
                }
            } else if !self.is_kw(Kw::Join) {
                break;
            }
            if !self.accept_kw(Kw::Join) {
                return self.fail("<JOIN> expected");
            }
            if outer {
                return self.fail("outer joins currently are not supported");
            }
            let prev = from
                .last()
                .map(|f| f.alias.clone().unwrap_or_else(|| f.table.name.clone()))
                .unwrap_or_default();
            let target = self.select_target()?;
            let this = target
                .alias
                .clone()
                .unwrap_or_else(|| target.table.name.clone());
            from.push(target);
            let cond = if self.accept_kw(Kw::On) {
                self.expr()?
            } else if self.accept_kw(Kw::Using) {
                self.expect_p(P::LParen, "USING <(> expected")?;
                let Some(col) = self.take_ident() else {
                    return self.fail("USING (<name> expected");
                };
                self.expect_p(P::RParen, "expected ')'")?;
                Expr::Binary {
                    op: BinaryOp::Eq,
                    left: Box::new(Expr::Name(vec![prev, col.clone()])),
                    right: Box::new(Expr::Name(vec![this, col])),
                }
            } else {
                return self.fail("JOIN <ON> or <USING> expected");
            };
            on = Some(match on {
                Some(prev) => Expr::Binary {
                    op: BinaryOp::And,
                    left: Box::new(prev),
                    right: Box::new(cond),
                },
                None => cond,
            });
        }
        Ok((from, on))
    }

    /// `WITH name [(col, ...)] AS (stmt) [, ...] [main statement]`.
    #[inline(never)]
    fn with(&mut self) -> Result<Stmt> {
        self.advance();
        let mut ctes = Vec::new();
        loop {
            let Some(name) = self.take_ident() else {
                return self.fail("WITH <name> expected");
            };
            let mut columns = Vec::new();
            if self.accept_p(P::LParen) {
                loop {
                    match self.take_ident() {
                        Some(c) => columns.push(c),
                        None => return self.fail("WITH name (<name> expected"),
                    }
                    if self.accept_p(P::Comma) {
                        continue;
                    }
                    self.expect_p(P::RParen, "expected ')'")?;
                    break;
                }
            }
            if !self.accept_kw(Kw::As) {
                return self.fail("WITH name <AS> expected");
            }
            if !self.accept_p(P::LParen) {
                return self.fail("WITH name AS <(> expected");
            }
            let stmt = match self.peek_kw() {
                Some(Kw::Select | Kw::Insert | Kw::Update | Kw::Delete) => self.stmt()?,
                _ => return self.fail("WITH name AS (<SELECT|INSERT|UPDATE|DELETE> expected"),
            };
            self.expect_p(P::RParen, "expected ')'")?;
            ctes.push(Cte {
                name,
                columns,
                stmt: Box::new(stmt),
            });
            if !self.accept_p(P::Comma) {
                break;
            }
        }
        let main = match self.peek_kw() {
            Some(Kw::Select | Kw::Insert | Kw::Update | Kw::Delete) => Some(Box::new(self.stmt()?)),
            _ => None,
        };
        Ok(Stmt::With { ctes, main })
    }

    /// One FROM target: `[schema.]table [alias]` or `(SELECT ...) alias`.
    #[inline(never)]
    fn select_target(&mut self) -> Result<FromItem> {
        if self.is_p(P::LParen) && matches!(self.peek_at(1), Tok::Word(_, Some(Kw::Select))) {
            self.advance();
            let sub = self.select()?;
            self.expect_p(P::RParen, "expected ')'")?;
            let alias = self.alias()?;
            let table = ObjectName {
                schema: None,
                name: alias.clone().unwrap_or_default(),
            };
            return Ok(FromItem {
                table,
                alias,
                subquery: Some(Box::new(sub)),
                use_index: None,
                function: None,
            });
        }
        if matches!(self.peek(), Tok::Word(_, None) | Tok::Name(_))
            && matches!(self.peek_at(1), Tok::P(P::LParen))
        {
            let call = self.expr()?;
            let name = match &call {
                Expr::Function { name, .. } => name.clone(),
                _ => String::new(),
            };
            let alias = self.alias()?;
            return Ok(FromItem {
                table: ObjectName { schema: None, name },
                alias,
                subquery: None,
                use_index: None,
                function: Some(call),
            });
        }
        let table = self.object_name("FROM target name expected")?;
        let alias = self.alias()?;
        let mut use_index = None;
        if self.accept_kw(Kw::Use) {
            if !self.accept_kw(Kw::Index) {
                return self.fail("USE <INDEX> expected");
            }
            if !self.accept_p(P::LParen) {
                return self.fail("USE INDEX <(> expected");
            }
            match self.take_ident() {
                Some(name) => use_index = Some(name),
                None => return self.fail("USE INDEX (<name> expected"),
            }
            self.expect_p(P::RParen, "expected ')'")?;
        }
        Ok(FromItem {
            table,
            alias,
            subquery: None,
            use_index,
            function: None,
        })
    }

    /// `[AS] alias` after a table or expression; without AS only a plain identifier counts.
    pub(crate) fn alias(&mut self) -> Result<Option<String>> {
        if self.accept_kw(Kw::As) {
            if let Tok::Word(..) = self.peek() {
                if let Tok::Word(s, _) = self.take() {
                    return Ok(Some(s));
                }
            }
            return self.fail("AS <label> expected");
        }
        Ok(self.take_ident())
    }
}

// Request framing.
impl Parser {
    fn request(&mut self) -> Result<Request> {
        let explain = self.accept_kw(Kw::Explain);
        let begin = self.accept_kw(Kw::Begin);
        if begin {
            self.accept_p(P::Semicolon);
        }
        let mut committed = false;
        let mut stmts = Vec::new();
        loop {
            match self.peek() {
                Tok::Eof => break,
                Tok::P(P::Semicolon) => self.advance(),
                Tok::Word(_, Some(Kw::Begin)) => return self.fail("unexpected BEGIN operation"),
                Tok::Word(_, Some(Kw::Commit)) => {
                    if !begin {
                        return self.fail("unexpected COMMIT operation");
                    }
                    self.advance();
                    while self.accept_p(P::Semicolon) {}
                    if !matches!(self.peek(), Tok::Eof) {
                        return self.fail("unexpected statement after COMMIT");
                    }
                    committed = true;
                    break;
                }
                _ => {
                    if stmts.len() >= MAX_STATEMENTS {
                        return self.fail(format!(
                            "too many statements in one request (the limit is {MAX_STATEMENTS})"
                        ));
                    }
                    stmts.push(self.stmt()?);
                    if !matches!(
                        self.peek(),
                        Tok::Eof | Tok::P(P::Semicolon) | Tok::Word(_, Some(Kw::Commit))
                    ) {
                        return self.fail("unexpected token at the end of statement");
                    }
                }
            }
        }
        if begin && !committed {
            return self.fail("COMMIT expected at the end of transaction");
        }
        if explain && stmts.is_empty() {
            return self.fail("EXPLAIN without command");
        }
        if stmts.len() > 1 && stmts.iter().any(Stmt::is_utility) {
            return self.fail("CTE and multi-statement utility commands are not supported");
        }
        Ok(Request {
            explain,
            stmts,
            ..Request::default()
        })
    }

    fn stmt(&mut self) -> Result<Stmt> {
        match self.peek_kw() {
            Some(Kw::Select) => Ok(Stmt::Select(Box::new(self.select()?))),
            Some(Kw::With) => self.with(),
            Some(Kw::Insert) => Ok(Stmt::Insert(self.insert()?)),
            Some(Kw::Update) => Ok(Stmt::Update(self.update()?)),
            Some(Kw::Delete) => Ok(Stmt::Delete(self.delete()?)),
            Some(Kw::Create | Kw::Drop | Kw::Alter)
                if self.is_kw_at(1, Kw::User) || self.is_kw_at(1, Kw::Token) =>
            {
                self.user_stmt()
            }
            Some(Kw::Create | Kw::Drop) if self.at_node_stmt() => self.node_stmt(),
            Some(Kw::Watch) => self.watch(),
            Some(Kw::Create) => self.create(),
            Some(Kw::Drop) => self.drop(),
            Some(Kw::Alter) => self.alter(),
            Some(Kw::Truncate) => self.truncate(),
            Some(Kw::Checkpoint) => self.checkpoint(),
            Some(Kw::Show) => self.show(),
            Some(Kw::Set) => self.set(),
            _ => self.fail("unexpected statement"),
        }
    }
}

// SELECT.
impl Parser {
    /// `SELECT ...` (current token is SELECT).
    pub(crate) fn select(&mut self) -> Result<Select> {
        self.advance();
        let distinct = self.accept_kw(Kw::Distinct);
        let items = self.select_items()?;
        let format = self.format()?;
        let (from, filter) = self.select_sources()?;
        let mut group_by = Vec::new();
        if self.accept_kw(Kw::Group) {
            if !self.accept_kw(Kw::By) {
                return self.fail("GROUP <BY> expected");
            }
            group_by = self.expr_list()?;
        }
        let having = if self.accept_kw(Kw::Having) {
            Some(self.expr()?)
        } else {
            None
        };
        let mut order_by = Vec::new();
        if self.accept_kw(Kw::Order) {
            if !self.accept_kw(Kw::By) {
                return self.fail("ORDER <BY> expected");
            }
            loop {
                let expr = self.expr()?;
                let asc = if self.accept_kw(Kw::Desc) {
                    false
                } else {
                    self.accept_kw(Kw::Asc);
                    true
                };
                self.list_item(order_by.len())?;
                order_by.push(OrderBy { expr, asc });
                if !self.accept_p(P::Comma) {
                    break;
                }
            }
        }
        let limit = if self.accept_kw(Kw::Limit) {
            Some(self.expr()?)
        } else {
            None
        };
        let offset = if self.accept_kw(Kw::Offset) {
            Some(self.expr()?)
        } else {
            None
        };
        Ok(Select {
            distinct,
            items,
            format,
            from,
            filter,
            group_by,
            having,
            order_by,
            limit,
            offset,
        })
    }

    fn select_items(&mut self) -> Result<Vec<SelectItem>> {
        let mut items = Vec::new();
        loop {
            let item = match self.peek() {
                Tok::P(P::Star) => {
                    self.advance();
                    SelectItem::Wildcard
                }
                Tok::NameStar(_) => {
                    let parts = self.take_parts();
                    SelectItem::QualifiedWildcard(parts.join("."))
                }
                _ => {
                    let expr = self.expr()?;
                    let alias = self.alias()?;
                    SelectItem::Expr { expr, alias }
                }
            };
            self.list_item(items.len())?;
            items.push(item);
            if !self.accept_p(P::Comma) {
                return Ok(items);
            }
        }
    }

    fn format(&mut self) -> Result<Option<String>> {
        if !self.accept_kw(Kw::Format) {
            return Ok(None);
        }
        match self.take_string() {
            Some(s) => Ok(Some(s)),
            None => self.fail("FORMAT <string> expected"),
        }
    }

    fn where_clause(&mut self) -> Result<Option<Expr>> {
        if self.accept_kw(Kw::Where) {
            Ok(Some(self.expr()?))
        } else {
            Ok(None)
        }
    }

    fn returning(&mut self) -> Result<Option<Returning>> {
        if !self.accept_kw(Kw::Returning) {
            return Ok(None);
        }
        let items = self.select_items()?;
        let format = self.format()?;
        Ok(Some(Returning { items, format }))
    }
}

// DML.
impl Parser {
    fn insert(&mut self) -> Result<Insert> {
        self.advance();
        if !self.accept_kw(Kw::Into) {
            return self.fail("INSERT <INTO> expected");
        }
        let table = self.object_name("FROM target name expected")?;
        let mut columns = None;
        if self.accept_p(P::LParen) {
            let mut list = Vec::new();
            if !self.accept_p(P::RParen) {
                loop {
                    match self.take_ident() {
                        Some(name) => list.push(name),
                        None => return self.fail("INSERT INTO name (<name> expected"),
                    }
                    if self.accept_p(P::Comma) {
                        continue;
                    }
                    self.expect_p(P::RParen, "expected ')'")?;
                    break;
                }
            }
            columns = Some(list);
        }
        let source = match self.peek_kw() {
            Some(Kw::Values) => {
                self.advance();
                let width = columns.as_ref().map(Vec::len);
                InsertSource::Values(self.values(width)?)
            }
            Some(Kw::Generate) => {
                self.advance();
                match self.peek() {
                    Tok::Int(n) if *n < 0 => {
                        return self.fail("GENERATE <count> must not be negative")
                    }
                    Tok::Int(n) => {
                        let n = *n;
                        self.advance();
                        InsertSource::Generate(n)
                    }
                    _ => return self.fail("GENERATE <count> expected"),
                }
            }
            Some(Kw::Select) => {
                if columns.is_some() {
                    return self.fail("INSERT SELECT using column list is not supported");
                }
                InsertSource::Select(Box::new(self.select()?))
            }
            _ => return self.fail("INSERT INTO <VALUES | SELECT> expected"),
        };
        let on_conflict = self.on_conflict()?;
        let returning = self.returning()?;
        Ok(Insert {
            table,
            columns,
            source,
            on_conflict,
            returning,
        })
    }

    /// `(v, ...)[, (v, ...) ...]` — values are literals; the comma between values is optional
    /// (as in Amelie). With an explicit column list of `width` columns, a row may not hold more
    /// values (Amelie then expects the `)`); fewer is left to the compiler, like all row width
    /// checks against the table (`row has incorrect number of columns`).
    fn values(&mut self, width: Option<usize>) -> Result<Vec<Vec<Expr>>> {
        let mut rows = Vec::new();
        loop {
            self.expect_p(P::LParen, "expected '('")?;
            let mut row = Vec::new();
            if width == Some(0) {
                self.expect_p(P::RParen, "expected ')'")?;
            } else if !self.accept_p(P::RParen) {
                loop {
                    row.push(self.value()?);
                    if Some(row.len()) == width {
                        self.expect_p(P::RParen, "expected ')'")?;
                        break;
                    }
                    if self.accept_p(P::Comma) {
                        continue;
                    }
                    if self.accept_p(P::RParen) {
                        break;
                    }
                    if self.starts_value() {
                        continue;
                    }
                    return self.fail("expected ')'");
                }
            }
            rows.push(row);
            if !self.accept_p(P::Comma) {
                return Ok(rows);
            }
        }
    }

    fn on_conflict(&mut self) -> Result<Option<OnConflict>> {
        if !self.accept_kw(Kw::On) {
            return Ok(None);
        }
        if !self.accept_kw(Kw::Conflict) {
            return self.fail("INSERT VALUES ON <CONFLICT> expected");
        }
        if !self.accept_kw(Kw::Do) {
            return self.fail("INSERT VALUES ON CONFLICT <DO> expected");
        }
        let action =
            match self.peek_kw() {
                Some(Kw::Nothing) => OnConflict::Nothing,
                Some(Kw::Error) => OnConflict::Error,
                Some(Kw::Resolve) => OnConflict::Resolve,
                Some(Kw::Update) => {
                    self.advance();
                    if !self.accept_kw(Kw::Set) {
                        return self.fail("UPDATE <SET> expected");
                    }
                    let set = self.assignments()?;
                    let filter = self.where_clause()?;
                    return Ok(Some(OnConflict::Update { set, filter }));
                }
                _ => return self.fail(
                    "INSERT VALUES ON CONFLICT DO <NOTHING | ERROR | UPDATE | RESOLVE> expected",
                ),
            };
        self.advance();
        Ok(Some(action))
    }

    /// `col[.path] = expr | DEFAULT, ...`
    fn assignments(&mut self) -> Result<Vec<Assignment>> {
        let mut set = Vec::new();
        loop {
            let (column, path) = match self.peek() {
                Tok::Word(_, None) => (self.take_ident().unwrap_or_default(), Vec::new()),
                Tok::Name(_) => {
                    let mut parts = self.take_parts();
                    let path = parts.split_off(1);
                    (parts.pop().unwrap_or_default(), path)
                }
                _ => return self.fail("UPDATE name SET <name> expected"),
            };
            if !self.accept_p(P::Eq) {
                return self.fail("UPDATE name SET column <=> expected");
            }
            let value = if self.is_kw(Kw::Default) {
                if !path.is_empty() {
                    return self.fail("UPDATE DEFAULT cannot be used this way");
                }
                self.advance();
                None
            } else {
                Some(self.expr()?)
            };
            set.push(Assignment {
                column,
                path,
                value,
            });
            if !self.accept_p(P::Comma) {
                return Ok(set);
            }
        }
    }

    fn update(&mut self) -> Result<Update> {
        self.advance();
        let table = self.object_name("FROM target name expected")?;
        let alias = self.alias()?;
        if !self.accept_kw(Kw::Set) {
            return self.fail("UPDATE <SET> expected");
        }
        let set = self.assignments()?;
        let filter = self.where_clause()?;
        let returning = self.returning()?;
        Ok(Update {
            table,
            alias,
            set,
            filter,
            returning,
        })
    }

    fn delete(&mut self) -> Result<Delete> {
        self.advance();
        if !self.accept_kw(Kw::From) {
            return self.fail("DELETE <FROM> expected");
        }
        let table = self.object_name("FROM target name expected")?;
        let alias = self.alias()?;
        let filter = self.where_clause()?;
        let returning = self.returning()?;
        Ok(Delete {
            table,
            alias,
            filter,
            returning,
        })
    }
}

// DDL.
impl Parser {
    fn create(&mut self) -> Result<Stmt> {
        self.advance();
        if self.accept_kw(Kw::Unique) {
            if self.is_kw(Kw::Index) {
                return self.create_index(true);
            }
            return self.fail("CREATE UNIQUE <INDEX> expected");
        }
        if self.is_kw(Kw::Index) {
            return self.create_index(false);
        }
        if self.is_kw(Kw::Schema) {
            return self.create_schema();
        }
        let unlogged = self.accept_kw(Kw::Unlogged);
        let shared = if self.accept_kw(Kw::Shared) {
            true
        } else {
            self.accept_kw(Kw::Distributed);
            false
        };
        match self.peek_kw() {
            Some(Kw::Table) => Ok(Stmt::CreateTable(self.create_table(unlogged, shared)?)),
            Some(kw @ (Kw::User | Kw::Replica | Kw::Node)) => {
                self.fail(format!("CREATE {} is not supported", kw_upper(kw)))
            }
            _ => self.fail("CREATE <USER|REPLICA|NODE|SCHEMA|TABLE|INDEX> expected"),
        }
    }

    fn drop(&mut self) -> Result<Stmt> {
        self.advance();
        match self.peek_kw() {
            Some(Kw::Table) => {
                self.advance();
                let if_exists = self.if_exists()?;
                let name = self.object_name("DROP TABLE <name> expected")?;
                Ok(Stmt::DropTable { if_exists, name })
            }
            Some(Kw::Schema) => self.drop_schema(),
            Some(Kw::Index) => self.drop_index(),
            Some(kw @ (Kw::User | Kw::Replica | Kw::Node)) => {
                self.fail(format!("DROP {} is not supported", kw_upper(kw)))
            }
            _ => self.fail("DROP <USER|REPLICA|NODE|SCHEMA|TABLE|INDEX> expected"),
        }
    }

    pub(crate) fn if_not_exists(&mut self) -> Result<bool> {
        if !self.accept_kw(Kw::If) {
            return Ok(false);
        }
        if !self.accept_kw(Kw::Not) {
            return self.fail("IF <NOT> EXISTS expected");
        }
        if !self.accept_kw(Kw::Exists) {
            return self.fail("IF NOT <EXISTS> expected");
        }
        Ok(true)
    }

    pub(crate) fn if_exists(&mut self) -> Result<bool> {
        if !self.accept_kw(Kw::If) {
            return Ok(false);
        }
        if !self.accept_kw(Kw::Exists) {
            return self.fail("IF <EXISTS> expected");
        }
        Ok(true)
    }

    /// `TABLE [IF NOT EXISTS] name (columns..., [PRIMARY KEY (..)]) [WITH (type = '..')]`
    fn create_table(&mut self, unlogged: bool, shared: bool) -> Result<CreateTable> {
        self.advance();
        let if_not_exists = self.if_not_exists()?;
        let name = self.object_name("CREATE TABLE <name> expected")?;
        self.expect_p(P::LParen, "CREATE TABLE name <(> expected")?;
        let mut columns: Vec<ColumnDef> = Vec::new();
        let mut primary_key: Vec<String> = Vec::new();
        loop {
            if self.accept_kw(Kw::Primary) {
                if !self.accept_kw(Kw::Key) {
                    return self.fail("PRIMARY <KEY> expected");
                }
                self.expect_p(P::LParen, "KEY <(> expected")?;
                loop {
                    let Some(key) = self.take_ident() else {
                        return self.fail("KEY (<name> expected");
                    };
                    let Some(column) = columns.iter_mut().find(|c| c.name == key) else {
                        return self.fail(format!("<{key}> column does not exists"));
                    };
                    column.primary_key = true;
                    if !primary_key.contains(&key) {
                        primary_key.push(key);
                    }
                    if self.accept_p(P::Comma) {
                        continue;
                    }
                    self.expect_p(P::RParen, "KEY (name <,)> expected")?;
                    break;
                }
            } else {
                let Some(col) = self.take_ident() else {
                    return self.fail("(<name> expected");
                };
                if columns.iter().any(|c| c.name == col) {
                    return self.fail(format!("<{col}> column redefined"));
                }
                let ty = match self.peek() {
                    Tok::Word(t, _) => match ColumnType::parse(t) {
                        Some(ty) => ty,
                        None => return self.fail(format!("{col} <{t}> unrecognized column type")),
                    },
                    _ => return self.fail(format!("{col} <> unrecognized column type")),
                };
                self.advance();
                let column = self.column_constraints(col, ty)?;
                if column.primary_key {
                    primary_key.push(column.name.clone());
                }
                columns.push(column);
            }
            if self.accept_p(P::Comma) {
                continue;
            }
            self.expect_p(P::RParen, "CREATE TABLE name (name type <,)> expected")?;
            break;
        }
        if primary_key.is_empty() {
            return self.fail("primary key is not defined");
        }
        for column in columns.iter_mut().filter(|c| c.primary_key) {
            if !column.ty.can_be_key() {
                return self.fail(format!(
                    "<{}> column key can be text, int32, int64 or timestamp",
                    column.name
                ));
            }
            column.not_null = true;
        }
        let index_type = self.table_with()?;
        Ok(CreateTable {
            if_not_exists,
            shared,
            unlogged,
            name,
            columns,
            primary_key,
            index_type,
        })
    }

    pub(crate) fn column_constraints(&mut self, name: String, ty: ColumnType) -> Result<ColumnDef> {
        let mut c = ColumnDef {
            name,
            ty,
            not_null: false,
            default: None,
            serial: false,
            random: None,
            primary_key: false,
            stored: None,
            resolved: None,
        };
        loop {
            match self.peek_kw() {
                Some(Kw::Not) => {
                    self.advance();
                    if !self.accept_kw(Kw::Null) {
                        return self.fail("NOT <NULL> expected");
                    }
                    c.not_null = true;
                }
                Some(Kw::Default) => {
                    self.advance();
                    if matches!(
                        ty,
                        ColumnType::Timestamp | ColumnType::Interval | ColumnType::Vector
                    ) {
                        return self
                            .fail(format!("DEFAULT for column <{}> is not supported", c.name));
                    }
                    let value = self.expr()?;
                    match const_default(value, ty) {
                        Some(v) => c.default = Some(v),
                        None => {
                            return self.fail(format!(
                                "column <{}> DEFAULT value must be a const and match the column type <{}>",
                                c.name,
                                ty.runtime().name()
                            ))
                        }
                    }
                }
                Some(Kw::Serial) => {
                    self.advance();
                    if !matches!(ty, ColumnType::Int32 | ColumnType::Int64) {
                        return self
                            .fail(format!("SERIAL column <{}> must be int or int64", c.name));
                    }
                    c.serial = true;
                }
                Some(Kw::Random) => {
                    self.advance();
                    if !matches!(ty, ColumnType::Int32 | ColumnType::Int64) {
                        return self
                            .fail(format!("RANDOM column <{}> must be int or int64", c.name));
                    }
                    let mut modulo = None;
                    if self.accept_p(P::LParen) {
                        match self.peek() {
                            Tok::Int(n) if *n != 0 => modulo = Some(*n),
                            _ => return self.fail("RANDOM (<integer> expected"),
                        }
                        self.advance();
                        self.expect_p(P::RParen, "RANDOM (integer <)> expected")?;
                    }
                    c.random = Some(modulo);
                }
                Some(Kw::Primary) => {
                    self.advance();
                    if !self.accept_kw(Kw::Key) {
                        return self.fail("PRIMARY <KEY> expected");
                    }
                    if c.primary_key {
                        return self.fail("PRIMARY KEY defined twice");
                    }
                    c.primary_key = true;
                }
                Some(Kw::Generated | Kw::As) => {
                    if self.accept_kw(Kw::Generated) {
                        let always = matches!(self.peek(), Tok::Word(w, _) if w.eq_ignore_ascii_case("always"));
                        if !always {
                            return self.fail("GENERATED <ALWAYS> expected");
                        }
                        self.advance();
                    }
                    if !self.accept_kw(Kw::As) {
                        return self.fail("GENERATED ALWAYS <AS> expected");
                    }
                    let text = self.generated_expr()?;
                    if self.accept_kw(Kw::Stored) {
                        c.stored = Some(text);
                    } else if self.accept_kw(Kw::Resolved) {
                        c.resolved = Some(text);
                    } else {
                        return self.fail("AS (expr) <STORED | RESOLVED> expected");
                    }
                }
                _ => return Ok(c),
            }
        }
    }

    /// `(expr)` of a generated column: parses the expression and returns its source text,
    /// rendered from its tokens (re-parsed by [`crate::parse_expr`] when compiling).
    pub(crate) fn generated_expr(&mut self) -> Result<String> {
        self.expect_p(P::LParen, "AS <(> expected")?;
        let start = self.pos;
        // (the expression parser moves tokens out, so copy its span first: up to the
        // matching parenthesis)
        let mut depth = 0usize;
        let mut end = start;
        while let Some(t) = self.toks.get(end) {
            match t {
                Tok::P(P::LParen | P::LBracket | P::LBrace) => depth += 1,
                Tok::P(P::RParen | P::RBracket | P::RBrace) => {
                    if depth == 0 {
                        break;
                    }
                    depth -= 1;
                }
                Tok::Eof => break,
                _ => {}
            }
            end += 1;
        }
        let span: Vec<Tok> = self
            .toks
            .get(start..end)
            .map(<[Tok]>::to_vec)
            .unwrap_or_default();
        self.expr()?;
        self.expect_p(P::RParen, "AS (expr <)> expected")?;
        Ok(toks_text(&span))
    }

    /// `[WITH (type = 'tree' | 'hash')]`
    pub(crate) fn table_with(&mut self) -> Result<Option<String>> {
        if !self.accept_kw(Kw::With) {
            return Ok(None);
        }
        self.expect_p(P::LParen, "WITH <(> expected")?;
        let mut index_type;
        loop {
            let Tok::Word(param, _) = self.peek() else {
                return self.fail("WITH (<name> expected");
            };
            if !param.eq_ignore_ascii_case("type") {
                return self.fail(format!("WITH: <{param}> unrecognized parameter"));
            }
            self.advance();
            self.expect_p(P::Eq, "WITH (type <=> expected")?;
            let Some(ty) = self.take_string() else {
                return self.fail("WITH (type = <string>) expected");
            };
            if ty.eq_ignore_ascii_case("tree") || ty.eq_ignore_ascii_case("hash") {
                index_type = Some(ty.to_ascii_lowercase());
            } else {
                return self.fail("WITH: unknown primary index type");
            }
            if self.accept_p(P::Comma) {
                continue;
            }
            self.expect_p(P::RParen, "WITH (name = value <,)> expected")?;
            return Ok(index_type);
        }
    }
}

/// SQL text of a token run: tokens separated by single spaces, except around parentheses,
/// brackets, commas, dots and `::` (`f(a, b)`, `x.y`, `1::string`).
pub(crate) fn toks_text(toks: &[Tok]) -> String {
    let mut out = String::new();
    let mut glue = true;
    for (i, t) in toks.iter().enumerate() {
        let text = match t {
            Tok::Eof | Tok::Other | Tok::Error => continue,
            Tok::Word(w, _) => w.clone(),
            Tok::Name(parts) => parts.join("."),
            Tok::NameStar(parts) => format!("{}.*", parts.join(".")),
            Tok::Int(n) => n.to_string(),
            Tok::Double(d) => format!("{d:?}"),
            Tok::Str(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
            Tok::P(p) => p_text(*p).to_string(),
        };
        let tight_before = matches!(
            t,
            Tok::P(P::RParen | P::RBracket | P::RBrace | P::Comma | P::Dot | P::DoubleColon)
        ) || (matches!(t, Tok::P(P::LParen | P::LBracket))
            && matches!(
                toks.get(i.wrapping_sub(1)),
                Some(Tok::Word(..) | Tok::Name(_))
            ));
        if !glue && !tight_before {
            out.push(' ');
        }
        out.push_str(&text);
        // (a unary minus sticks to its operand: `-1`, `(-a)`)
        let unary = matches!(t, Tok::P(P::Minus))
            && match i.checked_sub(1).and_then(|j| toks.get(j)) {
                None => true,
                Some(Tok::P(p)) => !matches!(p, P::RParen | P::RBracket | P::RBrace),
                Some(Tok::Word(_, Some(_))) => true,
                Some(_) => false,
            };
        glue = unary
            || matches!(
                t,
                Tok::P(P::LParen | P::LBracket | P::LBrace | P::Dot | P::DoubleColon)
            );
    }
    out
}

fn p_text(p: P) -> &'static str {
    match p {
        P::LParen => "(",
        P::RParen => ")",
        P::LBracket => "[",
        P::RBracket => "]",
        P::LBrace => "{",
        P::RBrace => "}",
        P::Comma => ",",
        P::Semicolon => ";",
        P::Dot => ".",
        P::Colon => ":",
        P::DoubleColon => "::",
        P::Eq => "=",
        P::NotEq => "<>",
        P::Lt => "<",
        P::LtEq => "<=",
        P::Gt => ">",
        P::GtEq => ">=",
        P::Shl => "<<",
        P::Shr => ">>",
        P::Plus => "+",
        P::Minus => "-",
        P::Star => "*",
        P::Slash => "/",
        P::Percent => "%",
        P::Concat => "||",
        P::Pipe => "|",
        P::Caret => "^",
        P::Amp => "&",
        P::Tilde => "~",
        P::Arrow => "->",
    }
}

/// Parses one standalone expression (the stored text of a generated column).
pub(crate) fn parse_expr(text: &str) -> Result<Expr> {
    let mut p = Parser::new(text);
    let e = p.expr()?;
    if !matches!(p.peek(), Tok::Eof) {
        return p.fail("unexpected token after the expression");
    }
    if let Some((_, msg)) = p.lex_error {
        return Err(Error::new(msg));
    }
    Ok(e)
}

fn kw_upper(kw: Kw) -> &'static str {
    match kw {
        Kw::User => "USER",
        Kw::Replica => "REPLICA",
        Kw::Node => "NODE",
        Kw::Schema => "SCHEMA",
        Kw::Index => "INDEX",
        _ => "",
    }
}

/// A column DEFAULT must be a constant of the column's type (any JSON constant for json;
/// an int is accepted for float/double and converted). NULL is allowed.
fn const_default(value: Expr, ty: ColumnType) -> Option<Expr> {
    let ok = match (&value, ty.runtime()) {
        (Expr::Null, _) => true,
        (Expr::Bool(_), Type::Bool) => true,
        (Expr::Int(_), Type::Int) => true,
        (Expr::Int(v), Type::Double) => return Some(Expr::Double(*v as f64)),
        (Expr::Double(_), Type::Double) => true,
        (Expr::String(_), Type::String) => true,
        (
            Expr::Bool(_) | Expr::Int(_) | Expr::Double(_) | Expr::String(_) | Expr::JsonLiteral(_),
            Type::Json,
        ) => true,
        _ => false,
    };
    ok.then_some(value)
}
