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

/// Tokenizes `sql` with sqlparser and post-processes the result into Amelie tokens.
pub(crate) fn lex(sql: &str) -> Lexed {
    let dialect = AmelieDialect;
    let mut raw: Vec<TokenWithSpan> = Vec::with_capacity(sql.len() / 3 + 4);
    let result = Tokenizer::new(&dialect, sql)
        .with_unescape(false)
        .tokenize_with_location_into_buf(&mut raw);
    // upper bound (every raw token kept): growing a large token vector means page faults
    let mut toks = Vec::with_capacity(raw.len() + 2);
    let mut post = Post {
        sql,
        line_starts: None,
        error: None,
    };
    post.run(raw, &mut toks);
    let mut error = post.error;
    if let (Err(e), None) = (result, error) {
        // The buffer holds every token before the failure; report it when parsing gets there.
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

/// Most parts a compound name (`a.b.c`) may have. Each part after a column is one more level
/// of json field access, so this bounds how deep the names' consumers recurse and how deep a
/// json path (`UPDATE t SET j.a.b = ...`) can reach.
pub const MAX_NAME_PARTS: usize = 128;

/// The error for a name with more than [`MAX_NAME_PARTS`] parts (the parser's own text for
/// too deep nesting).
pub(crate) const NAME_TOO_DEEP: &str = "expression is too deeply nested";

struct Post<'a> {
    sql: &'a str,
    /// The first name that had too many parts: index of its [`Tok::Error`] and the message.
    error: Option<(usize, &'static str)>,
    /// Byte offsets of line starts, built on first use (only needed to tell `!=` from `<>`).
    line_starts: Option<Vec<usize>>,
}

impl Post<'_> {
    fn run(&mut self, mut raw: Vec<TokenWithSpan>, out: &mut Vec<Tok>) {
        let n = raw.len();
        // Whether the previous raw token (with nothing in between) ends an operand; used to
        // split `.5` after `]`, `)`, `}`, names and literals into `.` and `5`.
        let mut prev_operand = false;
        let mut i = 0;
        while i < n {
            let tok = std::mem::replace(&mut raw[i].token, Token::EOF);
            let loc = raw[i].span.start;
            i += 1;
            let mut operand = false;
            match tok {
                Token::Whitespace(Whitespace::MultiLineComment(_)) => {
                    // Amelie has no block comments: `/* x */` lexes as `/` `*` ..., which is
                    // always a syntax error there. Keep it one.
                    out.push(Tok::P(P::Slash));
                    out.push(Tok::P(P::Star));
                }
                Token::Whitespace(_) => {}
                Token::Minus => match raw.get(i).map(|t| &t.token) {
                    // `-` glued to a number is part of the number (Amelie lexer rule).
                    Some(Token::Number(s, false))
                        if s.starts_with(|c: char| c.is_ascii_digit()) =>
                    {
                        out.push(number(s, true));
                        i += 1;
                        operand = true;
                    }
                    _ => out.push(Tok::P(P::Minus)),
                },
                Token::Number(s, long) => {
                    if long {
                        // `123L`: number followed by a name in Amelie.
                        out.push(Tok::Other);
                    } else if let Some(rest) = s.strip_prefix('.').filter(|_| prev_operand) {
                        out.push(Tok::P(P::Dot));
                        out.push(number(rest, false));
                    } else {
                        out.push(number(&s, false));
                    }
                    operand = true;
                }
                Token::Word(w) => {
                    i = self.name(w.value, &mut raw, i, out);
                    operand = true;
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
            prev_operand = operand;
        }
    }

    /// Collects `word(.word)*[.*]` written without whitespace into one token; returns the
    /// index of the next unprocessed raw token.
    fn name(
        &mut self,
        first: String,
        raw: &mut [TokenWithSpan],
        mut i: usize,
        out: &mut Vec<Tok>,
    ) -> usize {
        let mut parts: Vec<String> = Vec::new();
        let mut star = false;
        while matches!(raw.get(i).map(|t| &t.token), Some(Token::Period)) {
            match raw.get_mut(i + 1).map(|t| &mut t.token) {
                Some(Token::Word(w)) => {
                    if parts.is_empty() {
                        parts.reserve(3);
                        parts.push(String::new());
                    }
                    parts.push(std::mem::take(&mut w.value));
                    i += 2;
                }
                Some(Token::Mul) => {
                    star = true;
                    i += 2;
                    break;
                }
                _ => break,
            }
        }
        if parts.is_empty() {
            if star {
                out.push(Tok::NameStar(vec![first]));
            } else {
                let kw = Kw::lookup(&first);
                out.push(Tok::Word(first, kw));
            }
        } else if parts.len() > MAX_NAME_PARTS {
            if self.error.is_none() {
                self.error = Some((out.len(), NAME_TOO_DEEP));
            }
            out.push(Tok::Error);
        } else {
            parts[0] = first;
            out.push(if star {
                Tok::NameStar(parts)
            } else {
                Tok::Name(parts)
            });
        }
        i
    }

    /// The byte of the source at a tokenizer location (line and column are 1-based, column
    /// counts characters, lines are split at `\n` like sqlparser does).
    fn byte_at(&mut self, loc: Location) -> Option<u8> {
        let sql = self.sql;
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

    #[test]
    fn errors() {
        let l = lex("select 'abc");
        assert_eq!(l.error, Some((1, "unterminated string")));
        assert_eq!(l.toks, vec![w("select"), Tok::Error, Tok::Eof]);
        let l = lex("select \"abc\\\"");
        assert_eq!(l.error, Some((1, "unterminated string")));
    }
}
