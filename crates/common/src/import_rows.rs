//! Row boundaries of an import body (spec §1.5), found without parsing it.
//!
//! The server reads a `text/csv` or `application/jsonl` body with the SQL lexer: newlines are
//! whitespace and rows are recognised by counting columns. A client that cuts a large file into
//! batches must still cut between rows, never inside a value. [`RowScanner`] does that with the
//! lexer's rules for what may hold a newline, byte by byte and with constant memory:
//!
//! * strings `'...'` and `"..."` (a backslash keeps the string open; no doubling is needed: a
//!   doubled quote closes one string and opens the next, which scans the same);
//! * `-- ...` comments to the end of the line, and `/* ... */` (the server refuses those, but
//!   its tokenizer reads one as a single token, so a quote inside opens no string);
//! * brackets `[ ]` and braces `{ }` (a JSON value spread over several lines).
//!
//! A row ends at a newline outside all of them, when the row holds something other than
//! whitespace and comments: one line is one row, except where a string, a comment or a bracket
//! goes on over the line end. Empty lines are no rows. The parser's tests check these
//! boundaries against the lexer (`amelie-parser`, `import.rs`).

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Plain,
    /// Inside a string opened by this quote.
    Quote(u8),
    /// After a backslash inside a string.
    Escape(u8),
    /// After a `-` that may open a `--` comment.
    Dash,
    LineComment,
    /// After a `/` that may open a `/*` comment.
    Slash,
    Block,
    /// After a `*` inside a block comment.
    BlockStar,
}

/// What is still open at the end of the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unclosed {
    String,
    Comment,
    Bracket,
}

/// The input ended inside a string, a block comment or brackets that opened on `line`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnclosedError {
    pub what: Unclosed,
    /// The 1-based line where it opened.
    pub line: u64,
}

impl fmt::Display for UnclosedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `unterminated string` is the lexer's own text
        f.write_str(match self.what {
            Unclosed::String => "unterminated string",
            Unclosed::Comment => "unterminated comment",
            Unclosed::Bracket => "'[' or '{' is not closed",
        })
    }
}

/// An incremental scanner of row boundaries: [`RowScanner::push`] every byte of the input in
/// order, then [`RowScanner::finish`].
#[derive(Clone, Debug)]
pub struct RowScanner {
    state: State,
    /// Open brackets and braces (a stray closing one is ignored).
    depth: u64,
    /// The current row holds a value (something other than whitespace and comments).
    content: bool,
    /// The 1-based line of the next byte.
    line: u64,
    /// Where the current row's first value starts.
    row_line: u64,
    /// Where the open string, comment or outermost bracket started.
    open_line: u64,
}

impl Default for RowScanner {
    fn default() -> Self {
        RowScanner::new()
    }
}

impl RowScanner {
    pub fn new() -> RowScanner {
        RowScanner {
            state: State::Plain,
            depth: 0,
            content: false,
            line: 1,
            row_line: 1,
            open_line: 1,
        }
    }

    /// A scanner whose next byte is on `line` (1-based).
    pub fn at_line(line: u64) -> RowScanner {
        RowScanner {
            line,
            row_line: line,
            open_line: line,
            ..RowScanner::new()
        }
    }

    /// The 1-based line of the next byte.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// The line where the current row starts (its first value), or the next line when the row
    /// is still empty.
    pub fn row_line(&self) -> u64 {
        if self.content {
            self.row_line
        } else {
            self.line
        }
    }

    /// Does the current (unfinished) row hold a value?
    pub fn has_content(&self) -> bool {
        self.content || self.state == State::Dash || self.state == State::Slash
    }

    #[inline]
    fn value(&mut self) {
        if !self.content {
            self.content = true;
            self.row_line = self.line;
        }
    }

    /// Scans one byte; true when it is the newline that ends a row.
    #[inline]
    pub fn push(&mut self, b: u8) -> bool {
        match self.state {
            State::Plain => self.plain(b),
            State::Quote(q) => {
                if b == b'\\' {
                    self.state = State::Escape(q);
                } else if b == q {
                    self.state = State::Plain;
                } else if b == b'\n' {
                    self.line += 1;
                }
                false
            }
            State::Escape(q) => {
                if b == b'\n' {
                    self.line += 1;
                }
                self.state = State::Quote(q);
                false
            }
            State::Dash => {
                if b == b'-' {
                    self.state = State::LineComment;
                    false
                } else {
                    // the `-` was a value (a minus sign)
                    self.value();
                    self.state = State::Plain;
                    self.plain(b)
                }
            }
            State::LineComment => {
                if b == b'\n' {
                    self.state = State::Plain;
                    self.plain(b)
                } else {
                    false
                }
            }
            State::Slash => {
                if b == b'*' {
                    self.state = State::Block;
                    self.open_line = self.line;
                    false
                } else {
                    self.value();
                    self.state = State::Plain;
                    self.plain(b)
                }
            }
            State::Block => {
                if b == b'*' {
                    self.state = State::BlockStar;
                } else if b == b'\n' {
                    self.line += 1;
                }
                false
            }
            State::BlockStar => {
                match b {
                    b'/' => self.state = State::Plain,
                    b'*' => {}
                    b'\n' => {
                        self.line += 1;
                        self.state = State::Block;
                    }
                    _ => self.state = State::Block,
                }
                false
            }
        }
    }

    #[inline]
    fn plain(&mut self, b: u8) -> bool {
        match b {
            b'\n' => {
                self.line += 1;
                if self.depth == 0 && self.content {
                    self.content = false;
                    return true;
                }
            }
            b' ' | b'\t' | b'\r' | 0x0b | 0x0c => {}
            b'\'' | b'"' => {
                self.value();
                self.open_line = self.line;
                self.state = State::Quote(b);
            }
            b'-' => self.state = State::Dash,
            b'/' => self.state = State::Slash,
            b'[' | b'{' => {
                self.value();
                if self.depth == 0 {
                    self.open_line = self.line;
                }
                self.depth += 1;
            }
            b']' | b'}' => {
                self.value();
                self.depth = self.depth.saturating_sub(1);
            }
            _ => self.value(),
        }
        false
    }

    /// Ends the input: true when a last row (without a newline after it) is pending, an error
    /// when a string, a block comment or a bracket is still open. The scanner starts over.
    pub fn finish(&mut self) -> Result<bool, UnclosedError> {
        let open = match self.state {
            State::Quote(_) | State::Escape(_) => Some(Unclosed::String),
            State::Block | State::BlockStar => Some(Unclosed::Comment),
            _ if self.depth > 0 => Some(Unclosed::Bracket),
            _ => None,
        };
        let pending = self.has_content();
        let line = self.open_line;
        *self = RowScanner::at_line(self.line);
        match open {
            Some(what) => Err(UnclosedError { what, line }),
            None => Ok(pending),
        }
    }
}

/// Splits a whole body into its rows: `(byte range, first line)` of each row (the range runs
/// from the end of the previous row, so it may start with empty lines or comments). Lines
/// count from `first_line`.
pub fn split_rows(
    body: &[u8],
    first_line: u64,
) -> Result<Vec<(std::ops::Range<usize>, u64)>, UnclosedError> {
    let mut scanner = RowScanner::at_line(first_line);
    let mut rows = Vec::new();
    let mut start = 0;
    let mut row_line = first_line;
    for (i, &b) in body.iter().enumerate() {
        if scanner.has_content() {
            row_line = scanner.row_line();
        }
        if scanner.push(b) {
            rows.push((start..i + 1, row_line));
            start = i + 1;
        }
    }
    if scanner.has_content() {
        row_line = scanner.row_line();
    }
    if scanner.finish()? {
        rows.push((start..body.len(), row_line));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows of `body` as text with their lines.
    fn rows(body: &str) -> Vec<(&str, u64)> {
        split_rows(body.as_bytes(), 1)
            .unwrap()
            .into_iter()
            .map(|(r, line)| (&body[r], line))
            .collect()
    }

    fn unclosed(body: &str) -> UnclosedError {
        split_rows(body.as_bytes(), 1).unwrap_err()
    }

    #[test]
    fn one_line_one_row() {
        assert_eq!(
            rows("1, 'a'\n2, 'b'\n3, 'c'"),
            vec![("1, 'a'\n", 1), ("2, 'b'\n", 2), ("3, 'c'", 3)]
        );
        assert_eq!(rows(""), vec![]);
        assert_eq!(rows("\n\n"), vec![]);
    }

    #[test]
    fn crlf_and_empty_lines() {
        assert_eq!(
            rows("1,'a'\r\n\r\n  \t\r\n2,'b'\r\n"),
            vec![("1,'a'\r\n", 1), ("\r\n  \t\r\n2,'b'\r\n", 4)]
        );
        // trailing empty lines belong to no row
        assert_eq!(rows("1\n\n\n"), vec![("1\n", 1)]);
    }

    #[test]
    fn strings_hold_newlines() {
        assert_eq!(
            rows("1, 'a\nb'\n2, \"c\n\nd\"\n3, 'e'"),
            vec![("1, 'a\nb'\n", 1), ("2, \"c\n\nd\"\n", 3), ("3, 'e'", 6)]
        );
        // a backslash keeps the string open; the other quote does not close it
        assert_eq!(
            rows("1, 'it\\'s\n\"x'\n2, \"\\\\\"\n"),
            vec![("1, 'it\\'s\n\"x'\n", 1), ("2, \"\\\\\"\n", 3)]
        );
        // doubled quotes: two strings, same boundaries
        assert_eq!(rows("'a''b'\n'c'"), vec![("'a''b'\n", 1), ("'c'", 2)]);
    }

    #[test]
    fn comments() {
        assert_eq!(
            rows("-- header, 'x\n1, -2 -- it's\n/* a\n'b */ 3\n/**/\n"),
            vec![
                ("-- header, 'x\n1, -2 -- it's\n", 2),
                ("/* a\n'b */ 3\n", 4)
            ]
        );
        // `-` and `/` alone are values
        assert_eq!(rows("-\n/\n"), vec![("-\n", 1), ("/\n", 2)]);
        assert_eq!(rows("1\n-"), vec![("1\n", 1), ("-", 2)]);
    }

    #[test]
    fn brackets_hold_newlines() {
        assert_eq!(
            rows("{\"a\": [1,\n2],\n\"b\": '}'\n}\n[3]\n"),
            vec![("{\"a\": [1,\n2],\n\"b\": '}'\n}\n", 1), ("[3]\n", 5)]
        );
        // a stray closing bracket is a value
        assert_eq!(rows("]\n1\n"), vec![("]\n", 1), ("1\n", 2)]);
    }

    #[test]
    fn unclosed_at_the_end() {
        assert_eq!(
            unclosed("1, 'a'\n2, 'b\n\n"),
            UnclosedError {
                what: Unclosed::String,
                line: 2
            }
        );
        assert_eq!(unclosed("1, 'a\\'").what, Unclosed::String);
        assert_eq!(unclosed("1\n/* x\n").line, 2);
        assert_eq!(unclosed("1\n/* x *").what, Unclosed::Comment);
        assert_eq!(
            unclosed("1\n2\n[[1],\n"),
            UnclosedError {
                what: Unclosed::Bracket,
                line: 3
            }
        );
        assert_eq!(unclosed("'").to_string(), "unterminated string");
    }

    #[test]
    fn pieces_give_the_same_rows() {
        // push byte by byte across any split: the scanner is incremental by construction;
        // finish starts over at the next line
        let mut s = RowScanner::new();
        let ends: Vec<bool> = b"1,'\n'\n2\n".iter().map(|&b| s.push(b)).collect();
        assert_eq!(ends.iter().filter(|e| **e).count(), 2);
        assert_eq!(s.finish(), Ok(false));
        assert_eq!(s.line(), 4);
        for b in b"x" {
            s.push(*b);
        }
        assert_eq!(s.row_line(), 4);
        assert_eq!(s.finish(), Ok(true));
    }

    #[test]
    fn any_bytes_never_panic() {
        const ALPHABET: &[u8] = b"'\"\\\n\r-/*[]{} a1";
        let mut seed = 7u64;
        for _ in 0..2000 {
            let mut body = Vec::new();
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            for _ in 0..(seed >> 58) {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                body.push(ALPHABET[(seed >> 33) as usize % ALPHABET.len()]);
            }
            let _ = split_rows(&body, 1);
        }
    }
}
