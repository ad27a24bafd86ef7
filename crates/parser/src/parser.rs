//! Recursive-descent parser: the `Parser` and its token helpers, request framing and the
//! statement dispatch. The statements themselves: `select.rs` (SELECT, FROM, WITH),
//! `dml.rs` (INSERT/UPDATE/DELETE), `table.rs` (CREATE/DROP, CREATE TABLE), `ddl.rs`,
//! `user.rs`, `node.rs`; expressions are in `expr.rs`.

use crate::ast::*;
use crate::lexer::{lex, Kw, Tok, P};
use amelie_common::{Error, ErrorKind, Result, Value};

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
        return Err(Error::syntax(msg));
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
            return self.fail_kind(
                ErrorKind::LimitReached,
                format!("too many items in one list (the limit is {MAX_LIST})"),
            );
        }
        Ok(())
    }

    /// A parse error ([`ErrorKind::Syntax`]) at the current position. If the parser has reached the place where the
    /// tokenizer failed, that error wins (Amelie's lexer is lazy, so it reports the first
    /// problem in reading order).
    pub(crate) fn fail<T>(&self, msg: impl Into<String>) -> Result<T> {
        self.fail_kind(ErrorKind::Syntax, msg)
    }

    /// [`Parser::fail`] with an error of the given kind (a lexer error past this point is
    /// reported instead, as always, with its own kind).
    pub(crate) fn fail_kind<T>(&self, kind: ErrorKind, msg: impl Into<String>) -> Result<T> {
        if let Some((at, lex_msg)) = self.lex_error {
            if self.pos >= at {
                return Err(Error::syntax(lex_msg));
            }
        }
        Err(Error::with_kind(kind, msg))
    }

    /// Text where an expression was expected is not one: `bad expression`
    /// ([`ErrorKind::BadExpression`]).
    pub(crate) fn bad_expression<T>(&self) -> Result<T> {
        self.fail_kind(ErrorKind::BadExpression, "bad expression")
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

    /// A copy of the tokens from the current one up to the parenthesis (bracket, brace) that
    /// closes the current nesting level, or the end.
    pub(crate) fn span_to_close(&self) -> Vec<Tok> {
        let start = self.pos;
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
        self.toks
            .get(start..end)
            .map(<[Tok]>::to_vec)
            .unwrap_or_default()
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
                        return self.fail_kind(
                            ErrorKind::LimitReached,
                            format!(
                            "too many statements in one request (the limit is {MAX_STATEMENTS})"
                        ),
                        );
                    }
                    stmts.push(self.stmt()?);
                    // a statement ends with `;` or the request (also before COMMIT)
                    if !matches!(self.peek(), Tok::Eof | Tok::P(P::Semicolon)) {
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
            return self.fail_kind(
                ErrorKind::Unsupported,
                "CTE and multi-statement utility commands are not supported",
            );
        }
        Ok(Request {
            explain,
            stmts,
            ..Request::default()
        })
    }

    pub(crate) fn stmt(&mut self) -> Result<Stmt> {
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
            Some(Kw::Start | Kw::Stop) => self.repl_ctl(),
            Some(Kw::Subscribe | Kw::Unsubscribe) => self.subscribe(),
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
        return Err(Error::syntax(msg));
    }
    Ok(e)
}
