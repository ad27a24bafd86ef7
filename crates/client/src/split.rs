//! Pipe mode: cut SQL text into the requests the client sends one by one.
//!
//! Statements end at `;`. A `;` inside a string (`'...'` or `"..."`, where a backslash
//! keeps the string open) does not end one, and `-- ...` comments up to the end of the line
//! are dropped. A statement that starts with `BEGIN` opens a block that runs up to and
//! including the statement that ends with `COMMIT`: the block is one request (one
//! transaction). Empty statements are skipped.

/// An incremental splitter: feed it text in pieces of any size, collect the requests that
/// are complete, then call [`Splitter::finish`] for the rest.
#[derive(Debug, Default)]
pub struct Splitter {
    /// The statement being read (comments left out).
    current: String,
    /// The quote character of the string being read.
    quote: Option<char>,
    /// The previous character was a backslash inside a string.
    escape: bool,
    /// Inside a `--` comment.
    comment: bool,
    /// A `-` outside a string that may start a comment.
    dash: bool,
    /// An open `BEGIN` block: its statements so far.
    block: Option<String>,
    /// Requests complete but not taken yet.
    ready: Vec<String>,
}

/// The first or last word of a statement, lower-cased (letters only).
fn word(stmt: &str, last: bool) -> String {
    let mut words = stmt.split(|c: char| !c.is_ascii_alphabetic() && c != '_');
    let w = if last {
        words.rfind(|w| !w.is_empty())
    } else {
        words.find(|w| !w.is_empty())
    };
    w.unwrap_or("").to_ascii_lowercase()
}

/// Does the statement text start with a word (not inside a string)?
fn starts_with_word(stmt: &str, w: &str) -> bool {
    let head = stmt.trim_start();
    match (head.get(..w.len()), head.get(w.len()..)) {
        (Some(first), Some(rest)) => {
            first.eq_ignore_ascii_case(w)
                && !rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        }
        _ => false,
    }
}

/// Does the statement text end with a word?
fn ends_with_word(stmt: &str, w: &str) -> bool {
    let tail = stmt.trim_end();
    let Some(at) = tail.len().checked_sub(w.len()) else {
        return false;
    };
    match (tail.get(..at), tail.get(at..)) {
        (Some(rest), Some(last)) => {
            last.eq_ignore_ascii_case(w)
                && !rest.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        }
        _ => false,
    }
}

impl Splitter {
    pub fn new() -> Splitter {
        Splitter::default()
    }

    /// Reads `text`; returns the requests it completed.
    pub fn feed(&mut self, text: &str) -> Vec<String> {
        for c in text.chars() {
            self.push(c);
        }
        std::mem::take(&mut self.ready)
    }

    /// Ends the input: the requests it completes (a statement without `;`, a block without
    /// `COMMIT`, which the server then refuses).
    pub fn finish(&mut self) -> Vec<String> {
        if self.dash {
            self.dash = false;
            self.current.push('-');
        }
        self.end_statement();
        if let Some(block) = self.block.take() {
            self.ready.push(block);
        }
        self.quote = None;
        self.escape = false;
        self.comment = false;
        std::mem::take(&mut self.ready)
    }

    /// More input is needed to complete the text read so far: a string is open, or a
    /// `BEGIN` block whose statement so far does not end with `COMMIT`.
    pub fn is_open(&self) -> bool {
        if self.quote.is_some() {
            return true;
        }
        let pending = self.current.trim();
        let closes = ends_with_word(pending, "commit");
        if self.block.is_some() {
            return !closes;
        }
        starts_with_word(pending, "begin") && !closes
    }

    fn push(&mut self, c: char) {
        if self.comment {
            if c == '\n' {
                self.comment = false;
                self.current.push('\n');
            }
            return;
        }
        if let Some(q) = self.quote {
            self.current.push(c);
            if self.escape {
                self.escape = false;
            } else if c == '\\' {
                self.escape = true;
            } else if c == q {
                self.quote = None;
            }
            return;
        }
        if self.dash {
            self.dash = false;
            if c == '-' {
                self.comment = true;
                return;
            }
            self.current.push('-');
        }
        match c {
            '-' => self.dash = true,
            '\'' | '"' => {
                self.quote = Some(c);
                self.current.push(c);
            }
            ';' => self.end_statement(),
            c => self.current.push(c),
        }
    }

    fn end_statement(&mut self) {
        let stmt = self.current.trim().to_string();
        self.current.clear();
        if stmt.is_empty() {
            return;
        }
        if let Some(block) = self.block.as_mut() {
            block.push_str(";\n");
            block.push_str(&stmt);
            if ends_with_word(&stmt, "commit") || word(&stmt, false) == "commit" {
                let block = self.block.take().unwrap_or_default();
                self.ready.push(block);
            }
            return;
        }
        if starts_with_word(&stmt, "begin") && !ends_with_word(&stmt, "commit") {
            self.block = Some(stmt);
            return;
        }
        self.ready.push(stmt);
    }
}

/// Splits a whole text (see the module documentation).
pub fn split(text: &str) -> Vec<String> {
    let mut s = Splitter::new();
    let mut out = s.feed(text);
    out.extend(s.finish());
    out
}

/// Does `text` need more lines before it can be sent (an open string or `BEGIN` block)?
pub fn needs_more(text: &str) -> bool {
    let mut s = Splitter::new();
    s.feed(text);
    s.is_open()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_and_comments() {
        assert_eq!(split("select 1; select 2;"), vec!["select 1", "select 2"]);
        assert_eq!(split("select 1"), vec!["select 1"]);
        assert_eq!(split(" ;; ;\n"), Vec::<String>::new());
        assert_eq!(
            split("-- a comment; with a semicolon\nselect 1; -- trailing\nselect 2 -- x;\n;"),
            vec!["select 1", "select 2"]
        );
        assert_eq!(
            split("select 2-1; select -1"),
            vec!["select 2-1", "select -1"]
        );
        assert_eq!(split("select 1 -"), vec!["select 1 -"]);
    }

    #[test]
    fn strings_keep_semicolons() {
        assert_eq!(
            split("insert into t values ('a;b', \"c;d\"); select 'x -- y'"),
            vec!["insert into t values ('a;b', \"c;d\")", "select 'x -- y'"]
        );
        // a backslash keeps the string open
        assert_eq!(
            split(r"select 'it\'s; fine'; select 1"),
            vec![r"select 'it\'s; fine'", "select 1"]
        );
        assert_eq!(
            split(r#"select "a\\"; select 1"#),
            vec![r#"select "a\\""#, "select 1"]
        );
        // an unterminated string runs to the end
        assert_eq!(split("select 'a; b"), vec!["select 'a; b"]);
    }

    #[test]
    fn begin_commit_blocks() {
        assert_eq!(
            split("begin; insert into t values (1); insert into t values (2); commit; select 1;"),
            vec![
                "begin;\ninsert into t values (1);\ninsert into t values (2);\ncommit",
                "select 1"
            ]
        );
        assert_eq!(
            split("BEGIN\ninsert into t values (';commit;');\nCOMMIT;"),
            vec!["BEGIN\ninsert into t values (';commit;');\nCOMMIT"]
        );
        assert_eq!(
            split("begin commit; select 1"),
            vec!["begin commit", "select 1"]
        );
        // a block without COMMIT is sent at the end as it is
        assert_eq!(split("begin; select 1"), vec!["begin;\nselect 1"]);
        // `beginning` is not BEGIN
        assert_eq!(split("beginning; x"), vec!["beginning", "x"]);
    }

    #[test]
    fn incremental_feeding() {
        let text = "begin; insert into t values ('a;\nb'); commit; select 'x'; -- c\nselect 2";
        let whole = split(text);
        for size in 1..8 {
            let mut s = Splitter::new();
            let mut out = Vec::new();
            let chars: Vec<char> = text.chars().collect();
            for chunk in chars.chunks(size) {
                out.extend(s.feed(&chunk.iter().collect::<String>()));
            }
            out.extend(s.finish());
            assert_eq!(out, whole, "chunk size {size}");
        }
    }

    #[test]
    fn open_input() {
        assert!(needs_more("select 'a"));
        assert!(needs_more("begin; insert into t values (1);"));
        assert!(!needs_more("begin; insert into t values (1); commit"));
        assert!(!needs_more("select 1"));
        assert!(!needs_more("select 'a' -- '"));
        assert!(!needs_more("select 'ä';"));
        assert!(needs_more("begin"));
        assert!(!needs_more("begin commit"));
        assert!(!needs_more("äbc; ä"));
        assert!(!needs_more("begin; select 1; COMMIT ;"));
    }
}
