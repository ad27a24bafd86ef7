//! Tokens of the Amelie dialect.
//!
//! `sqlparser`'s tokenizer does the character-level work under [`AmelieDialect`]; [`lex`] then
//! post-processes its output into our own small token stream:
//!
//! * `-` immediately followed by a number becomes a negative number literal (`2-1` is two
//!   operands, exactly like Amelie's lexer);
//! * `a.b.c` written without whitespace becomes one compound name, `t.*` a qualified star;
//! * numbers become `i64` (wrapping) or `f64`;
//! * strings are decoded here (the tokenizer runs with `unescape = false`) because Amelie's
//!   escape set differs from sqlparser's and Amelie has no `''` doubling;
//! * keywords are recognised case-insensitively with our own keyword table;
//! * everything Amelie's lexer would not produce becomes [`Tok::Other`], which no grammar rule
//!   accepts, so it surfaces as the natural parse error at that position.

use sqlparser::dialect::Dialect;
use sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer, Whitespace};

/// The `sqlparser` dialect used only for tokenizing: `'...'` and `"..."` are both string literals
/// (no quoted identifiers), identifiers are `[A-Za-z_][A-Za-z0-9_$]*`, backslash escapes keep a
/// string open.
#[derive(Debug, Default, Clone, Copy)]
pub struct AmelieDialect;

impl Dialect for AmelieDialect {
    fn is_identifier_start(&self, ch: char) -> bool {
        ch.is_ascii_alphabetic() || ch == '_'
    }

    fn is_identifier_part(&self, ch: char) -> bool {
        ch.is_ascii_alphanumeric() || ch == '_' || ch == '$'
    }

    fn is_delimited_identifier_start(&self, _ch: char) -> bool {
        false
    }

    fn supports_string_literal_backslash_escape(&self) -> bool {
        true
    }

    fn supports_national_string_literal(&self) -> bool {
        false
    }
}

macro_rules! keywords {
    ($($variant:ident = $text:literal,)*) => {
        /// Reserved words of the dialect (Amelie's full list, spec §2.1).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum Kw {
            $($variant,)*
        }

        impl Kw {
            /// Case-insensitive keyword lookup without allocating.
            pub(crate) fn lookup(word: &str) -> Option<Kw> {
                const MAX: usize = 24;
                let bytes = word.as_bytes();
                if bytes.len() < 2 || bytes.len() > MAX {
                    return None;
                }
                let mut buf = [0u8; MAX];
                for (dst, src) in buf.iter_mut().zip(bytes) {
                    *dst = src.to_ascii_lowercase();
                }
                // Identifiers are ASCII, so the lowered bytes are valid UTF-8.
                let lower = std::str::from_utf8(&buf[..bytes.len()]).ok()?;
                match lower {
                    $($text => Some(Kw::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

keywords! {
    Add = "add", Aggregate = "aggregate", All = "all", Alter = "alter", Always = "always",
    And = "and", Any = "any", As = "as", Asc = "asc", At = "at", Avg = "avg", Begin = "begin",
    Between = "between", By = "by", Cascade = "cascade", Case = "case",
    Checkpoint = "checkpoint", Column = "column", Commit = "commit", Compute = "compute",
    Conflict = "conflict", Count = "count", Create = "create",
    CurrentTimestamp = "current_timestamp", Debug = "debug", Default = "default",
    Delete = "delete", Desc = "desc", Distinct = "distinct", Distributed = "distributed",
    Do = "do", Drop = "drop", Else = "else", End = "end", Error = "error", Exists = "exists",
    Expire = "expire", Explain = "explain", Extended = "extended", Extract = "extract",
    False = "false", For = "for", Format = "format", From = "from", Function = "function",
    Generate = "generate", Generated = "generated", Group = "group", Having = "having",
    If = "if", In = "in", Include = "include", Index = "index", Inner = "inner",
    Insert = "insert", Interval = "interval", Into = "into", Is = "is", Join = "join",
    Key = "key", Left = "left", Like = "like", Limit = "limit", Local = "local",
    Logged = "logged", Max = "max", Min = "min", Node = "node", Not = "not",
    Nothing = "nothing", Null = "null", Offset = "offset", On = "on", Or = "or",
    Order = "order", Outer = "outer", Primary = "primary", Profile = "profile",
    Random = "random", Rename = "rename", Repl = "repl", Replace = "replace",
    Replica = "replica", Replication = "replication", Resolve = "resolve",
    Resolved = "resolved", Returning = "returning", Right = "right", Schema = "schema",
    Secret = "secret", Select = "select", SelfRef = "self", Serial = "serial", Set = "set",
    Shared = "shared", Show = "show", Start = "start", Stop = "stop", Stored = "stored",
    Subscribe = "subscribe", Sum = "sum", Switch = "switch", Table = "table", Then = "then",
    Timestamp = "timestamp", Timezone = "timezone", To = "to", Token = "token", True = "true",
    Truncate = "truncate", Unique = "unique", Unlogged = "unlogged", Unset = "unset",
    Unsubscribe = "unsubscribe", Update = "update", Uri = "uri", Use = "use", User = "user",
    Using = "using", Values = "values", Vector = "vector", View = "view", Watch = "watch",
    When = "when", Where = "where", With = "with", Workers = "workers",
}

/// Operators and punctuation Amelie's lexer produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum P {
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Comma,
    Semicolon,
    Dot,
    Colon,
    DoubleColon,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    Shl,
    Shr,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Concat,
    Pipe,
    Caret,
    Amp,
    Tilde,
    Arrow,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    /// End of input (always the last token of the stream).
    Eof,
    /// A single identifier or keyword, original spelling kept.
    Word(String, Option<Kw>),
    /// `a.b[.c...]` written without whitespace (at least two parts).
    Name(Vec<String>),
    /// `t.*` / `a.b.*`: the parts before the star.
    NameStar(Vec<String>),
    Int(i64),
    Double(f64),
    Str(String),
    P(P),
    /// Anything Amelie's lexer would not produce; never accepted by the grammar.
    Other,
    /// Where the tokenizer failed; the error is reported once the parser gets here.
    Error,
}

/// The token stream of one request.
pub(crate) struct Lexed {
    /// Tokens, always terminated by [`Tok::Eof`].
    pub toks: Vec<Tok>,
    /// Index of the [`Tok::Error`] token and the user-facing tokenizer error, if any.
    pub error: Option<(usize, &'static str)>,
}

/// Text up to this many bytes is tokenized in one piece; longer text piece by piece, so the
/// raw token buffer (about 90 bytes per token, whitespace included) stays small.
const PIECE: usize = 16 * 1024;
/// A raw token of a piece is kept only when it ends at least this many characters before the
/// piece's end. sqlparser looks at most a few characters past a token, so such a token is
/// exactly what tokenizing the whole text would have produced there.
const MARGIN: usize = 64;

/// Tokenizes `sql` with sqlparser and post-processes the result into Amelie tokens.
///
/// Long text is tokenized in pieces of about [`PIECE`] bytes. Each piece's tokens are turned
/// into Amelie tokens at once and its raw buffer is reused, so memory grows with the number of
/// Amelie tokens only (whitespace and comments cost nothing), not with sqlparser's one token
/// per whitespace character. A piece ends where the last raw token that ended [`MARGIN`]
/// characters before its end ended; the next piece starts there, with the two raw tokens
/// sqlparser uses as context (the previous token and the previous non-whitespace token) in
/// front of its buffer. The result is the same as tokenizing the whole text in one go.
pub(crate) fn lex(sql: &str) -> Lexed {
    lex_pieces(sql, PIECE)
}

/// [`lex`] with pieces of `piece_size` bytes (tests use small pieces).
fn lex_pieces(sql: &str, piece_size: usize) -> Lexed {
    let dialect = AmelieDialect;
    let mut raw: Vec<TokenWithSpan> = Vec::with_capacity(sql.len().min(piece_size) / 3 + 4);
    let mut toks = Vec::new();
    let mut post = Post {
        text: sql,
        line_starts: None,
        prev_operand: false,
        pending: Pending::None,
        too_deep: None,
    };
    // context tokens carried from one piece into the next
    let mut context: Vec<TokenWithSpan> = Vec::new();
    let mut pos: usize = 0;
    let mut size = piece_size;
    let result = loop {
        let mut end = pos.saturating_add(size).min(sql.len());
        while !sql.is_char_boundary(end) {
            end += 1;
        }
        let piece = &sql[pos..end];
        raw.clear();
        raw.extend(context.iter().cloned());
        let skip = raw.len();
        let result = Tokenizer::new(&dialect, piece)
            .with_unescape(false)
            .tokenize_with_location_into_buf(&mut raw);
        post.piece(piece);
        if end == sql.len() {
            if pos == 0 {
                // one piece: at most one token per raw token (growing a large vector
                // means page faults)
                toks.reserve(raw.len() + 2);
            }
            for t in raw.drain(skip..) {
                post.push(t.token, t.span.start, &mut toks);
            }
            break result;
        }
        let limit = location_before_end(piece, MARGIN);
        let take = raw[skip..]
            .iter()
            .take_while(|t| t.span.end <= limit)
            .count();
        if take == 0 {
            // a token (or an error) longer than the piece: try a longer piece
            size = size.saturating_mul(2);
            continue;
        }
        let last = skip + take - 1;
        let next = byte_offset(piece, raw[last].span.end);
        context.clear();
        if let Some(i) = raw[..last]
            .iter()
            .rposition(|t| !matches!(t.token, Token::Whitespace(_)))
            .filter(|_| matches!(raw[last].token, Token::Whitespace(_)))
        {
            context.push(raw[i].clone());
        }
        context.push(raw[last].clone());
        for t in raw.drain(skip..=last) {
            post.push(t.token, t.span.start, &mut toks);
        }
        pos += next;
        size = piece_size;
    };
    post.flush(&mut toks);
    // a name with too many parts became an error token
    let mut error = post.too_deep.map(|i| (i, NAME_TOO_DEEP));
    if let (Err(e), None) = (result, error) {
        // The buffer held every token before the failure; report it when parsing gets there.
        let msg = if e.message.starts_with("Unterminated string") {
            "unterminated string"
        } else {
            "bad token"
        };
        error = Some((toks.len(), msg));
        toks.push(Tok::Error);
    }
    toks.push(Tok::Eof);
    Lexed { toks, error }
}

/// The tokenizer location (1-based line, 1-based column in characters) of the character
/// `back` characters before the end of `text` (the start when `text` is shorter).
fn location_before_end(text: &str, back: usize) -> Location {
    let at = text
        .char_indices()
        .rev()
        .nth(back.saturating_sub(1))
        .map_or(0, |(i, _)| i);
    let head = &text[..at];
    let line_start = head.rfind('\n').map_or(0, |i| i + 1);
    let line = head.bytes().filter(|&b| b == b'\n').count() as u64 + 1;
    let column = head[line_start..].chars().count() as u64 + 1;
    Location { line, column }
}

/// The byte offset in `text` of a tokenizer location (the length of `text` for its end).
fn byte_offset(text: &str, loc: Location) -> usize {
    let mut line = 1;
    let mut start = 0;
    while line < loc.line {
        match text[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return text.len(),
        }
        line += 1;
    }
    let col = usize::try_from(loc.column.saturating_sub(1)).unwrap_or(usize::MAX);
    text[start..]
        .char_indices()
        .nth(col)
        .map_or(text.len(), |(i, _)| start + i)
}

/// A raw token whose meaning depends on the next one.
enum Pending {
    None,
    /// `-`: part of a number when a number is glued to it.
    Minus,
    /// A word that may start `a.b` or `t.*`.
    Word(String),
    /// Name parts followed by a `.` (a name part or `*` may follow).
    Dot(Vec<String>),
    /// `a.b[.c...]` so far (at least two parts).
    Name(Vec<String>),
}

/// The post-pass: raw tokens in, Amelie tokens out, one token at a time.
struct Post<'a> {
    /// The piece of text the current raw tokens come from (their locations are relative to it).
    text: &'a str,
    /// Byte offsets of the piece's line starts, built on first use (only needed to tell `!=`
    /// from `<>`).
    line_starts: Option<Vec<usize>>,
    /// Whether the previous raw token (with nothing in between) ends an operand; used to
    /// split `.5` after `]`, `)`, `}`, names and literals into `.` and `5`.
    prev_operand: bool,
    pending: Pending,
    /// Index of the first name with more than [`MAX_NAME_PARTS`] parts (its [`Tok::Error`]).
    too_deep: Option<usize>,
}

/// Most parts a compound name (`a.b.c`) may have. Each part after a column is one more level
/// of json field access, so this bounds how deep the names' consumers recurse and how deep a
/// json path (`UPDATE t SET j.a.b = ...`) can reach.
pub const MAX_NAME_PARTS: usize = 128;

/// The error for a name with more than [`MAX_NAME_PARTS`] parts (the parser's own text for
/// too deep nesting).
pub(crate) const NAME_TOO_DEEP: &str = "expression is too deeply nested";

/// Pushes the token of a name, or an error token (remembered in `too_deep` when it is the
/// first) for one with more than [`MAX_NAME_PARTS`] parts.
fn push_name(out: &mut Vec<Tok>, parts: Vec<String>, star: bool, too_deep: &mut Option<usize>) {
    if parts.len() > MAX_NAME_PARTS && too_deep.is_none() {
        *too_deep = Some(out.len());
    }
    out.push(name_tok(parts, star));
}

fn name_tok(mut parts: Vec<String>, star: bool) -> Tok {
    if parts.len() > MAX_NAME_PARTS {
        return Tok::Error;
    }
    match (parts.len(), star) {
        (1, false) => {
            let first = parts.pop().unwrap_or_default();
            let kw = Kw::lookup(&first);
            Tok::Word(first, kw)
        }
        (_, false) => Tok::Name(parts),
        (_, true) => Tok::NameStar(parts),
    }
}

impl<'a> Post<'a> {
    /// The following raw tokens come from `text`.
    fn piece(&mut self, text: &'a str) {
        self.text = text;
        self.line_starts = None;
    }

    /// One raw token at `loc` (in the current piece).
    #[inline]
    fn push(&mut self, tok: Token, loc: Location, out: &mut Vec<Tok>) {
        if matches!(self.pending, Pending::None) {
            return self.token(tok, loc, out);
        }
        let tok = match std::mem::replace(&mut self.pending, Pending::None) {
            Pending::None => tok,
            Pending::Minus => match tok {
                // `-` glued to a number is part of the number (Amelie lexer rule).
                Token::Number(s, false) if s.starts_with(|c: char| c.is_ascii_digit()) => {
                    out.push(number(&s, true));
                    self.prev_operand = true;
                    return;
                }
                tok => {
                    out.push(Tok::P(P::Minus));
                    self.prev_operand = false;
                    tok
                }
            },
            Pending::Word(first) => match tok {
                Token::Period => {
                    let mut parts = Vec::with_capacity(3);
                    parts.push(first);
                    self.pending = Pending::Dot(parts);
                    return;
                }
                tok => {
                    let kw = Kw::lookup(&first);
                    out.push(Tok::Word(first, kw));
                    self.prev_operand = true;
                    tok
                }
            },
            Pending::Dot(mut parts) => match tok {
                Token::Word(w) => {
                    parts.push(w.value);
                    self.pending = Pending::Name(parts);
                    return;
                }
                Token::Mul => {
                    push_name(out, parts, true, &mut self.too_deep);
                    self.prev_operand = true;
                    return;
                }
                tok => {
                    // the `.` does not belong to the name
                    push_name(out, parts, false, &mut self.too_deep);
                    out.push(Tok::P(P::Dot));
                    self.prev_operand = false;
                    tok
                }
            },
            Pending::Name(parts) => match tok {
                Token::Period => {
                    self.pending = Pending::Dot(parts);
                    return;
                }
                tok => {
                    push_name(out, parts, false, &mut self.too_deep);
                    self.prev_operand = true;
                    tok
                }
            },
        };
        self.token(tok, loc, out);
    }

    /// End of input: the pending token stands alone.
    fn flush(&mut self, out: &mut Vec<Tok>) {
        match std::mem::replace(&mut self.pending, Pending::None) {
            Pending::None => {}
            Pending::Minus => out.push(Tok::P(P::Minus)),
            Pending::Word(first) => push_name(out, vec![first], false, &mut self.too_deep),
            Pending::Dot(parts) => {
                push_name(out, parts, false, &mut self.too_deep);
                out.push(Tok::P(P::Dot));
            }
            Pending::Name(parts) => push_name(out, parts, false, &mut self.too_deep),
        }
    }

    /// A raw token with nothing pending.
    #[inline]
    fn token(&mut self, tok: Token, loc: Location, out: &mut Vec<Tok>) {
        let mut operand = false;
        match tok {
            Token::Whitespace(Whitespace::MultiLineComment(_)) => {
                // Amelie has no block comments: `/* x */` lexes as `/` `*` ..., which is
                // always a syntax error there. Keep it one.
                out.push(Tok::P(P::Slash));
                out.push(Tok::P(P::Star));
            }
            Token::Whitespace(_) => {}
            Token::Minus => {
                self.pending = Pending::Minus;
                return;
            }
            Token::Number(s, long) => {
                if long {
                    // `123L`: number followed by a name in Amelie.
                    out.push(Tok::Other);
                } else if let Some(rest) = s.strip_prefix('.').filter(|_| self.prev_operand) {
                    out.push(Tok::P(P::Dot));
                    out.push(number(rest, false));
                } else {
                    out.push(number(&s, false));
                }
                operand = true;
            }
            Token::Word(w) => {
                self.pending = Pending::Word(w.value);
                return;
            }
            Token::SingleQuotedString(s) => {
                decode_string(s, '\'', out);
                operand = true;
            }
            Token::DoubleQuotedString(s) => {
                decode_string(s, '"', out);
                operand = true;
            }
            Token::LParen => out.push(Tok::P(P::LParen)),
            Token::RParen => {
                out.push(Tok::P(P::RParen));
                operand = true;
            }
            Token::LBracket => out.push(Tok::P(P::LBracket)),
            Token::RBracket => {
                out.push(Tok::P(P::RBracket));
                operand = true;
            }
            Token::LBrace => out.push(Tok::P(P::LBrace)),
            Token::RBrace => {
                out.push(Tok::P(P::RBrace));
                operand = true;
            }
            Token::Comma => out.push(Tok::P(P::Comma)),
            Token::SemiColon => out.push(Tok::P(P::Semicolon)),
            Token::Period => out.push(Tok::P(P::Dot)),
            Token::Colon => out.push(Tok::P(P::Colon)),
            Token::DoubleColon => out.push(Tok::P(P::DoubleColon)),
            Token::Eq => out.push(Tok::P(P::Eq)),
            Token::Neq => {
                // sqlparser maps both `<>` and `!=` to Neq; Amelie only knows `<>`.
                if self.byte_at(loc) == Some(b'!') {
                    out.push(Tok::Other);
                } else {
                    out.push(Tok::P(P::NotEq));
                }
            }
            Token::Lt => out.push(Tok::P(P::Lt)),
            Token::LtEq => out.push(Tok::P(P::LtEq)),
            Token::Gt => out.push(Tok::P(P::Gt)),
            Token::GtEq => out.push(Tok::P(P::GtEq)),
            Token::ShiftLeft => out.push(Tok::P(P::Shl)),
            Token::ShiftRight => out.push(Tok::P(P::Shr)),
            Token::Plus => out.push(Tok::P(P::Plus)),
            Token::Mul => out.push(Tok::P(P::Star)),
            Token::Div => out.push(Tok::P(P::Slash)),
            Token::Mod => out.push(Tok::P(P::Percent)),
            Token::StringConcat => out.push(Tok::P(P::Concat)),
            Token::Pipe => out.push(Tok::P(P::Pipe)),
            Token::Caret => out.push(Tok::P(P::Caret)),
            Token::Ampersand => out.push(Tok::P(P::Amp)),
            Token::Tilde => out.push(Tok::P(P::Tilde)),
            Token::Arrow => out.push(Tok::P(P::Arrow)),
            // `x'..'`/`0x..` (hex literals), `$1`, `==`, `=>`, `:=`, stray characters, ...
            _ => out.push(Tok::Other),
        }
        self.prev_operand = operand;
    }

    /// The byte of the piece at a tokenizer location (line and column are 1-based, column
    /// counts characters, lines are split at `\n` like sqlparser does).
    fn byte_at(&mut self, loc: Location) -> Option<u8> {
        let sql = self.text;
        let starts = self.line_starts.get_or_insert_with(|| {
            std::iter::once(0)
                .chain(
                    sql.bytes()
                        .enumerate()
                        .filter(|(_, b)| *b == b'\n')
                        .map(|(i, _)| i + 1),
                )
                .collect()
        });
        let line_start = *starts.get(usize::try_from(loc.line).ok()?.checked_sub(1)?)?;
        let col = usize::try_from(loc.column).ok()?.checked_sub(1)?;
        let (off, _) = sql[line_start..].char_indices().nth(col)?;
        sql.as_bytes().get(line_start + off).copied()
    }
}

/// A number token: integers wrap around like Amelie's int64 parsing, anything with `.`/`e`
/// is a double.
pub(crate) fn number(s: &str, negative: bool) -> Tok {
    if s.bytes().any(|b| matches!(b, b'.' | b'e' | b'E')) {
        match s.parse::<f64>() {
            Ok(v) => Tok::Double(if negative { -v } else { v }),
            Err(_) => Tok::Other,
        }
    } else {
        let mut v: u64 = 0;
        for b in s.bytes() {
            if !b.is_ascii_digit() {
                return Tok::Other;
            }
            v = v.wrapping_mul(10).wrapping_add(u64::from(b - b'0'));
        }
        let v = v as i64;
        Tok::Int(if negative { v.wrapping_neg() } else { v })
    }
}

/// Decodes the raw content of a quoted string (as tokenized with `unescape = false`).
///
/// Backslash escapes `\\ \" \' \/ \n \r \t \b \f \v \a` are decoded; any other escaped
/// character keeps its backslash. sqlparser treats a doubled quote as an escaped quote, but
/// Amelie has no doubling: `'a''b'` is the two adjacent strings `'a'` and `'b'`, so an
/// unescaped quote in the raw content splits the token.
pub(crate) fn decode_string(raw: String, quote: char, out: &mut Vec<Tok>) {
    if !raw.contains(['\\', quote]) {
        out.push(Tok::Str(raw));
        return;
    }
    let mut s = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => s.push('\n'),
                Some('r') => s.push('\r'),
                Some('t') => s.push('\t'),
                Some('b') => s.push('\u{8}'),
                Some('f') => s.push('\u{c}'),
                Some('v') => s.push('\u{b}'),
                Some('a') => s.push('\u{7}'),
                Some(c @ ('\\' | '"' | '\'' | '/')) => s.push(c),
                Some(c) => {
                    s.push('\\');
                    s.push(c);
                }
                None => s.push('\\'),
            }
        } else if c == quote {
            // The first quote of a doubled pair: end this string, the next one starts after
            // the second quote.
            chars.next();
            out.push(Tok::Str(std::mem::take(&mut s)));
        } else {
            s.push(c);
        }
    }
    out.push(Tok::Str(s));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(sql: &str) -> Vec<Tok> {
        let mut l = lex(sql);
        assert!(l.error.is_none(), "{sql}: {:?}", l.error);
        l.toks.pop();
        l.toks
    }

    fn w(s: &str) -> Tok {
        Tok::Word(s.to_string(), Kw::lookup(s))
    }

    #[test]
    fn keywords() {
        assert_eq!(Kw::lookup("select"), Some(Kw::Select));
        assert_eq!(Kw::lookup("SeLeCt"), Some(Kw::Select));
        assert_eq!(Kw::lookup("CURRENT_TIMESTAMP"), Some(Kw::CurrentTimestamp));
        assert_eq!(Kw::lookup("_select"), None);
        assert_eq!(Kw::lookup("selects"), None);
        assert_eq!(Kw::lookup("x"), None);
        assert_eq!(Kw::lookup("a_very_long_identifier_name_here"), None);
    }

    #[test]
    fn negative_numbers() {
        assert_eq!(toks("2-1"), vec![Tok::Int(2), Tok::Int(-1)]);
        assert_eq!(toks("a-1"), vec![w("a"), Tok::Int(-1)]);
        assert_eq!(toks("a -1"), vec![w("a"), Tok::Int(-1)]);
        assert_eq!(toks("a - 1"), vec![w("a"), Tok::P(P::Minus), Tok::Int(1)]);
        assert_eq!(toks("a-b"), vec![w("a"), Tok::P(P::Minus), w("b")]);
        assert_eq!(toks("-1.5"), vec![Tok::Double(-1.5)]);
        assert_eq!(toks("- -1"), vec![Tok::P(P::Minus), Tok::Int(-1)]);
        assert_eq!(toks("x>=-1"), vec![w("x"), Tok::P(P::GtEq), Tok::Int(-1)]);
    }

    #[test]
    fn numbers() {
        assert_eq!(toks("18446744073709551615"), vec![Tok::Int(-1)]);
        assert_eq!(toks("9223372036854775807"), vec![Tok::Int(i64::MAX)]);
        assert_eq!(toks("-9223372036854775808"), vec![Tok::Int(i64::MIN)]);
        assert_eq!(
            toks("1e3 2.5 1. .5"),
            vec![
                Tok::Double(1000.0),
                Tok::Double(2.5),
                Tok::Double(1.0),
                Tok::Double(0.5)
            ]
        );
        assert_eq!(toks("123L"), vec![Tok::Other]);
    }

    #[test]
    fn names() {
        assert_eq!(toks("Abc"), vec![w("Abc")]);
        assert_eq!(toks("a$1_"), vec![w("a$1_")]);
        assert_eq!(
            toks("a.b.C"),
            vec![Tok::Name(vec!["a".into(), "b".into(), "C".into()])]
        );
        assert_eq!(toks("t.*"), vec![Tok::NameStar(vec!["t".into()])]);
        assert_eq!(
            toks("s.t.*"),
            vec![Tok::NameStar(vec!["s".into(), "t".into()])]
        );
        assert_eq!(toks("a .b"), vec![w("a"), Tok::P(P::Dot), w("b")]);
        assert_eq!(toks("a. b"), vec![w("a"), Tok::P(P::Dot), w("b")]);
        assert_eq!(
            toks("x.select"),
            vec![Tok::Name(vec!["x".into(), "select".into()])]
        );
        assert_eq!(
            toks("].0"),
            vec![Tok::P(P::RBracket), Tok::P(P::Dot), Tok::Int(0)]
        );
        assert_eq!(toks("a.5"), vec![w("a"), Tok::P(P::Dot), Tok::Int(5)]);
    }

    #[test]
    fn strings() {
        assert_eq!(
            toks("'a' \"b\""),
            vec![Tok::Str("a".into()), Tok::Str("b".into())]
        );
        assert_eq!(toks(r#""it's""#), vec![Tok::Str("it's".into())]);
        assert_eq!(toks(r#"'say "hi"'"#), vec![Tok::Str("say \"hi\"".into())]);
        assert_eq!(
            toks(r#"'a\nb\t\\\'\"\v\a\b\f\/\x'"#),
            vec![Tok::Str("a\nb\t\\'\"\u{b}\u{7}\u{8}\u{c}/\\x".into())]
        );
        assert_eq!(
            toks("'a''b'"),
            vec![Tok::Str("a".into()), Tok::Str("b".into())]
        );
        assert_eq!(toks("''''"), vec![Tok::Str("".into()), Tok::Str("".into())]);
        assert_eq!(toks("''"), vec![Tok::Str("".into())]);
        assert_eq!(toks("'é'"), vec![Tok::Str("é".into())]);
    }

    #[test]
    fn operators() {
        assert_eq!(
            toks(":: || <> <= >= << >> -> ~ ^ & | % / * + : ;"),
            [
                P::DoubleColon,
                P::Concat,
                P::NotEq,
                P::LtEq,
                P::GtEq,
                P::Shl,
                P::Shr,
                P::Arrow,
                P::Tilde,
                P::Caret,
                P::Amp,
                P::Pipe,
                P::Percent,
                P::Slash,
                P::Star,
                P::Plus,
                P::Colon,
                P::Semicolon
            ]
            .into_iter()
            .map(Tok::P)
            .collect::<Vec<_>>()
        );
        assert_eq!(toks("1 != 2"), vec![Tok::Int(1), Tok::Other, Tok::Int(2)]);
        assert_eq!(
            toks("é\n 1 <> 2"),
            vec![Tok::Other, Tok::Int(1), Tok::P(P::NotEq), Tok::Int(2)]
        );
        assert_eq!(
            toks("é\n é != 2"),
            vec![Tok::Other, Tok::Other, Tok::Other, Tok::Int(2)]
        );
        assert_eq!(toks("1 -- comment\n"), vec![Tok::Int(1)]);
        assert_eq!(
            toks("1 /* c */"),
            vec![Tok::Int(1), Tok::P(P::Slash), Tok::P(P::Star)]
        );
    }

    /// A small deterministic generator for the piece tests.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    fn same_tokens(sql: &str, piece: usize) {
        let whole = lex_pieces(sql, usize::MAX);
        let pieces = lex_pieces(sql, piece);
        assert_eq!(pieces.toks, whole.toks, "piece {piece}: {sql:?}");
        assert_eq!(pieces.error, whole.error, "piece {piece}: {sql:?}");
    }

    #[test]
    fn pieces_give_the_same_tokens() {
        const PARTS: &[&str] = &[
            " ",
            "  ",
            "\n",
            "\r\n",
            "\t",
            "select",
            "a",
            "a.b",
            "t.*",
            "s.t.*",
            "x.select",
            ".",
            "-",
            "-1",
            "- 1",
            "1",
            "2.5",
            "1e3",
            ".5",
            "]",
            ")",
            "(",
            "[",
            "{",
            "}",
            ",",
            ";",
            "'str ing'",
            "\"dq  str\"",
            "'a''b'",
            "'esc\\' x'",
            "-- comment  \n",
            "/* block  */",
            "!=",
            "<>",
            "<=",
            "::",
            "||",
            "->",
            "é",
            "日本",
            "x'ab'",
            "$1",
            "123L",
            "'unterminated",
            "\"also",
            "/* open",
            "ab$c_1",
            "*",
            "+",
            "=",
        ];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for round in 0..400 {
            let mut sql = String::new();
            let len = 20 + rng.next(400);
            for _ in 0..len {
                sql.push_str(PARTS[rng.next(PARTS.len())]);
                if rng.next(3) == 0 {
                    sql.push(' ');
                }
            }
            for piece in [1, 70, 100, 257] {
                same_tokens(&sql, piece);
            }
            if round % 50 == 0 {
                // long runs of whitespace and comments between tokens
                let spaced = sql.replace(' ', &" ".repeat(300));
                same_tokens(&spaced, 100);
            }
        }
    }

    #[test]
    fn long_tokens_cross_pieces() {
        let long_string = format!("select '{}' , 1", "x y ".repeat(5000));
        same_tokens(&long_string, 100);
        let long_name = format!("select {}.b from t", "a".repeat(10_000));
        same_tokens(&long_name, 100);
        let long_comment = format!("select 1 -- {}\n, 2", "c ".repeat(5000));
        same_tokens(&long_comment, 100);
        let open = format!("select 1 {} 'open", " ".repeat(5000));
        same_tokens(&open, 100);
        let bad = format!("select 1 {} /* open", " ".repeat(5000));
        same_tokens(&bad, 100);
        let chain = "a.".repeat(3000) + "b";
        same_tokens(&chain, 100);
    }

    #[test]
    fn whitespace_costs_no_tokens() {
        let sql = format!("select {} 1", " ".repeat(1 << 20));
        let l = lex(&sql);
        assert_eq!(l.toks, vec![w("select"), Tok::Int(1), Tok::Eof]);
        assert!(l.toks.capacity() < 64, "{}", l.toks.capacity());
    }

    #[test]
    fn errors() {
        let l = lex("select 'abc");
        assert_eq!(l.error, Some((1, "unterminated string")));
        assert_eq!(l.toks, vec![w("select"), Tok::Error, Tok::Eof]);
        let l = lex("select \"abc\\\"");
        assert_eq!(l.error, Some((1, "unterminated string")));
    }
}
