//! SQL transcript tests: every `tests/sql/**/*.sqlt` file is replayed against a fresh
//! `amelie-server` and each reply is compared with the expectation written under its statement.
//! The format is described in `tests/sql/README.md`.
//!
//! * `cargo test -p amelie-server --test transcripts` runs every file (in parallel, one server per
//!   file) and reports every mismatch as `file:line`.
//! * `AMELIE_TRANSCRIPT=<substring>` runs only the files whose path contains the substring.
//! * `AMELIE_BLESS=1` rewrites the expectations in place with the replies the server gave
//!   (files marked `@skip` are left alone); review the diff before committing it.
//! * `AMELIE_RUN_SKIPPED=1` also runs the files marked `@skip` (to check a fix of the server).

mod common;

use common::*;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const EXT: &str = "sqlt";

// ---------------------------------------------------------------------------------------------
// Format
// ---------------------------------------------------------------------------------------------

/// The expected reply of one statement.
#[derive(Debug, Clone, PartialEq)]
enum Expect {
    /// No expectation written yet (only allowed when blessing).
    Missing,
    /// `(204)`: 204 with an empty body.
    NoContent,
    /// `error: <msg>`: 400 with the body `{"msg": "<msg>"}`.
    Error(String),
    /// One or more lines starting with `[` or `{`: 200 with exactly these lines joined by `\n`.
    Body(String),
    /// `status <code>: <JSON string>`: any other status/body pair, byte-exact.
    Status(u16, String),
    /// `~ json`: 200 and a body that is valid JSON (contents not checked).
    AnyJson,
    /// `~ object`: 200 and a JSON object, bare or as the only element of the top-level array
    /// (how a one-value result such as EXPLAIN is wrapped).
    AnyObject,
    /// `~ any`: the reply is not checked at all (the statement must still get a reply).
    Any,
}

/// One reply from the server (or a transport failure).
#[derive(Debug, Clone, PartialEq)]
enum Reply {
    Http(u16, String),
    Transport(String),
}

/// One line-level element of a transcript file.
#[derive(Debug, Clone, PartialEq)]
enum Item {
    /// A comment, blank line or directive, kept verbatim.
    Verbatim(String),
    /// `@restart` / `@restart kill`: stop the server (SIGTERM, or SIGKILL) and start it again
    /// on the same repository.
    Restart { kill: bool },
    /// `@reconnect`: drop the connection and open a new one (a new session).
    Reconnect,
    /// A statement and its expectation (`line` is the 1-based line of the `>`).
    Case {
        line: usize,
        sql: String,
        expect: Expect,
        /// The expectation lines as written (kept when they still match while blessing).
        raw: Vec<String>,
    },
}

#[derive(Debug, Default)]
struct Transcript {
    /// `@server` arguments (override the harness defaults of the same name).
    server_args: Vec<String>,
    skip: Option<String>,
    items: Vec<Item>,
}

fn is_block_end(line: &str) -> bool {
    line.trim().is_empty()
        || line.starts_with('>')
        || line.starts_with("--")
        || line.starts_with('@')
}

fn parse_expect(lines: &[String]) -> Result<Expect, String> {
    let Some(first) = lines.first() else {
        return Ok(Expect::Missing);
    };
    let single = |what: &str| -> Result<(), String> {
        if lines.len() > 1 {
            Err(format!("`{what}` expectation must be a single line"))
        } else {
            Ok(())
        }
    };
    if first == "(204)" {
        single("(204)")?;
        return Ok(Expect::NoContent);
    }
    if let Some(msg) = first.strip_prefix("error: ") {
        single("error:")?;
        return Ok(Expect::Error(msg.to_string()));
    }
    if let Some(rest) = first.strip_prefix("status ") {
        single("status")?;
        let (code, body) = rest
            .split_once(": ")
            .ok_or_else(|| "expected `status <code>: <JSON string>`".to_string())?;
        let code: u16 = code
            .parse()
            .map_err(|_| format!("bad status code {code:?}"))?;
        let body: String = serde_json::from_str(body)
            .map_err(|e| format!("status body must be a JSON string: {e}"))?;
        return Ok(Expect::Status(code, body));
    }
    if let Some(m) = first.strip_prefix('~') {
        single("~")?;
        return match m.trim() {
            "json" => Ok(Expect::AnyJson),
            "object" => Ok(Expect::AnyObject),
            "any" => Ok(Expect::Any),
            other => Err(format!(
                "unknown matcher `~ {other}` (use `~ json`, `~ object` or `~ any`)"
            )),
        };
    }
    if first.starts_with('[') || first.starts_with('{') {
        return Ok(Expect::Body(lines.join("\n")));
    }
    Err(format!("unrecognised expectation {first:?}"))
}

fn parse(text: &str) -> Result<Transcript, Vec<(usize, String)>> {
    let lines: Vec<String> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l).to_string())
        .collect();
    // A final newline produces one empty trailing element; drop it.
    let n = if text.ends_with('\n') {
        lines.len() - 1
    } else {
        lines.len()
    };
    let mut t = Transcript::default();
    let mut errors = Vec::new();
    let mut seen_case = false;
    let mut i = 0;
    while i < n {
        let line = &lines[i];
        let lineno = i + 1;
        if let Some(sql) = line.strip_prefix('>') {
            let sql = sql.strip_prefix(' ').unwrap_or(sql).to_string();
            if sql.trim().is_empty() {
                errors.push((lineno, "empty statement".to_string()));
            }
            let mut j = i + 1;
            while j < n && !is_block_end(&lines[j]) {
                j += 1;
            }
            let raw: Vec<String> = lines[i + 1..j].to_vec();
            match parse_expect(&raw) {
                Ok(expect) => t.items.push(Item::Case {
                    line: lineno,
                    sql,
                    expect,
                    raw,
                }),
                Err(e) => errors.push((lineno + 1, e)),
            }
            seen_case = true;
            i = j;
            continue;
        }
        if let Some(d) = line.strip_prefix('@') {
            let (name, arg) = d.split_once(' ').unwrap_or((d, ""));
            let arg = arg.trim();
            match name {
                "server" => {
                    if seen_case {
                        errors.push((
                            lineno,
                            "@server must come before the first statement".into(),
                        ));
                    }
                    t.server_args
                        .extend(arg.split_whitespace().map(str::to_string));
                    t.items.push(Item::Verbatim(line.clone()));
                }
                "skip" => {
                    if arg.is_empty() {
                        errors.push((lineno, "@skip needs a reason".into()));
                    }
                    t.skip = Some(arg.to_string());
                    t.items.push(Item::Verbatim(line.clone()));
                }
                "restart" => match arg {
                    "" => t.items.push(Item::Restart { kill: false }),
                    "kill" => t.items.push(Item::Restart { kill: true }),
                    _ => errors.push((lineno, format!("bad @restart argument {arg:?}"))),
                },
                "reconnect" => t.items.push(Item::Reconnect),
                _ => errors.push((lineno, format!("unknown directive @{name}"))),
            }
            i += 1;
            continue;
        }
        if line.trim().is_empty() || line.starts_with("--") {
            t.items.push(Item::Verbatim(line.clone()));
            i += 1;
            continue;
        }
        errors.push((
            lineno,
            format!("unexpected line {line:?} (not after a statement)"),
        ));
        i += 1;
    }
    if errors.is_empty() {
        Ok(t)
    } else {
        Err(errors)
    }
}

fn matches(expect: &Expect, reply: &Reply) -> bool {
    let Reply::Http(status, body) = reply else {
        return false;
    };
    match expect {
        Expect::Missing => false,
        Expect::NoContent => *status == 204 && body.is_empty(),
        Expect::Error(msg) => *status == 400 && *body == error_body(msg),
        Expect::Body(b) => *status == 200 && body == b,
        Expect::Status(s, b) => status == s && body == b,
        Expect::AnyJson => {
            *status == 200 && serde_json::from_str::<serde_json::Value>(body).is_ok()
        }
        Expect::AnyObject => {
            *status == 200
                && match serde_json::from_str::<serde_json::Value>(body) {
                    Ok(serde_json::Value::Object(_)) => true,
                    Ok(serde_json::Value::Array(a)) => a.len() == 1 && a[0].is_object(),
                    _ => false,
                }
        }
        Expect::Any => true,
    }
}

/// The expectation lines that describe `reply` exactly.
fn render(reply: &Reply) -> Vec<String> {
    let (status, body) = match reply {
        Reply::Http(s, b) => (*s, b.as_str()),
        Reply::Transport(e) => return vec![format!("status 0: {}", json_string(e))],
    };
    if status == 204 && body.is_empty() {
        return vec!["(204)".into()];
    }
    if status == 400 {
        if let Ok(serde_json::Value::Object(o)) = serde_json::from_str::<serde_json::Value>(body) {
            if let Some(serde_json::Value::String(msg)) = o.get("msg") {
                if error_body(msg) == body && !msg.contains(['\n', '\r']) {
                    return vec![format!("error: {msg}")];
                }
            }
        }
    }
    if status == 200 && (body.starts_with('[') || body.starts_with('{')) {
        let lines: Vec<&str> = body.split('\n').collect();
        if lines.iter().all(|l| !is_block_end(l) && !l.contains('\r')) {
            return lines.into_iter().map(str::to_string).collect();
        }
    }
    vec![format!("status {status}: {}", json_string(body))]
}

fn describe(reply: &Reply) -> String {
    match reply {
        Reply::Http(s, b) => format!("{s} {b}"),
        Reply::Transport(e) => format!("transport error: {e}"),
    }
}

fn describe_expect(e: &Expect) -> String {
    match e {
        Expect::Missing => "(no expectation written)".into(),
        Expect::NoContent => "204".into(),
        Expect::Error(m) => format!("400 {}", error_body(m)),
        Expect::Body(b) => format!("200 {b}"),
        Expect::Status(s, b) => format!("{s} {b}"),
        Expect::AnyJson => "200 <any JSON>".into(),
        Expect::AnyObject => "200 <a JSON object, or [object]>".into(),
        Expect::Any => "<anything>".into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------------------------

/// `@post <content-type> <path> <body>` in place of a statement: a `POST` of `body` to `path`
/// (an import, say). In the body `\n` stands for a newline and `\\` for a backslash; the body
/// is the rest of the line and may be empty. Returns None for an SQL statement.
fn parse_post(line: &str) -> Option<Result<(String, String, String), String>> {
    let rest = line.strip_prefix("@post")?;
    let mut parts = rest.trim_start().splitn(3, ' ');
    let (Some(content_type), Some(path)) = (parts.next(), parts.next()) else {
        return Some(Err("@post needs <content-type> <path> [<body>]".to_string()));
    };
    if content_type.is_empty() || !path.starts_with('/') {
        return Some(Err("@post needs <content-type> <path> [<body>]".to_string()));
    }
    let mut body = String::new();
    let mut chars = parts.next().unwrap_or("").chars();
    while let Some(c) = chars.next() {
        match (c, chars.clone().next()) {
            ('\\', Some('n')) => {
                body.push('\n');
                chars.next();
            }
            ('\\', Some('\\')) => {
                body.push('\\');
                chars.next();
            }
            _ => body.push(c),
        }
    }
    Some(Ok((content_type.to_string(), path.to_string(), body)))
}

/// A running server plus the connection the transcript talks on.
struct Session {
    server: Server,
    args: Vec<String>,
    conn: Option<Client>,
}

impl Session {
    fn start(repo: &Path, args: Vec<String>) -> Session {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let server = Server::start(repo, &refs);
        Session {
            server,
            args,
            conn: None,
        }
    }

    fn request(&mut self, sql: &str) -> Reply {
        // One retry on a fresh connection: the previous reply may have closed the old one.
        for attempt in 0..2 {
            if self.conn.is_none() {
                match Client::local(self.server.port) {
                    Ok(c) => self.conn = Some(c),
                    Err(e) => return Reply::Transport(format!("connect: {e}")),
                }
            }
            let conn = self.conn.as_mut().expect("connection present");
            let post = match parse_post(sql) {
                Some(Ok(p)) => Some(p),
                Some(Err(e)) => return Reply::Transport(e),
                None => None,
            };
            let request = match &post {
                Some((content_type, path, body)) => Request::post(path)
                    .content_type(content_type)
                    .body(body.as_bytes()),
                None => Request::sql(sql),
            };
            match conn.request(&request) {
                Ok(r) => return Reply::Http(r.status, r.text()),
                Err(e) => {
                    self.conn = None;
                    if attempt == 1 || !self.server.is_running() {
                        return Reply::Transport(e.to_string());
                    }
                }
            }
        }
        Reply::Transport("unreachable".into())
    }

    fn restart(&mut self, kill: bool) {
        self.conn = None;
        if kill {
            self.server.kill9();
        } else {
            self.server.stop();
        }
        let refs: Vec<&str> = self.args.iter().map(String::as_str).collect();
        self.server = Server::start(&self.server.dir.clone(), &refs);
    }
}

struct Outcome {
    file: PathBuf,
    skipped: Option<String>,
    cases: usize,
    failures: Vec<String>,
    blessed: bool,
}

/// `path` relative to the package root (for messages).
fn shown(path: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    path.strip_prefix(root).unwrap_or(path).to_path_buf()
}

fn run_file(path: &Path, bless: bool, run_skipped: bool) -> Outcome {
    let mut out = Outcome {
        file: shown(path),
        skipped: None,
        cases: 0,
        failures: Vec::new(),
        blessed: false,
    };
    let shown = out.file.display().to_string();
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            out.failures.push(format!("{shown}: cannot read: {e}"));
            return out;
        }
    };
    let t = match parse(&text) {
        Ok(t) => t,
        Err(errs) => {
            for (line, e) in errs {
                out.failures.push(format!("{shown}:{line}: {e}"));
            }
            return out;
        }
    };
    if let Some(reason) = &t.skip {
        if !run_skipped {
            out.skipped = Some(reason.clone());
            return out;
        }
    }
    // Never rewrite a file whose expectations are known to disagree with the server.
    let bless = bless && t.skip.is_none();
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "t".into());
    let dir = TestDir::new(&format!("sqlt-{name}"));
    let mut session = Session::start(&dir.repo(), t.server_args.clone());
    let mut rewritten: Vec<String> = Vec::new();
    let mut changed = false;
    for item in &t.items {
        match item {
            Item::Verbatim(l) => rewritten.push(l.clone()),
            Item::Restart { kill } => {
                rewritten.push(if *kill {
                    "@restart kill".into()
                } else {
                    "@restart".into()
                });
                session.restart(*kill);
            }
            Item::Reconnect => {
                rewritten.push("@reconnect".into());
                session.conn = None;
            }
            Item::Case {
                line,
                sql,
                expect,
                raw,
            } => {
                out.cases += 1;
                rewritten.push(format!("> {sql}"));
                let reply = session.request(sql);
                if matches(expect, &reply) {
                    rewritten.extend(raw.iter().cloned());
                } else {
                    changed = true;
                    rewritten.extend(render(&reply));
                    if !bless {
                        out.failures.push(format!(
                            "{shown}:{line}: {sql}\n    expected: {}\n    got:      {}",
                            describe_expect(expect),
                            describe(&reply)
                        ));
                    }
                }
            }
        }
    }
    if bless && changed {
        let mut s = rewritten.join("\n");
        s.push('\n');
        match fs::write(path, s) {
            Ok(()) => out.blessed = true,
            Err(e) => out.failures.push(format!("{shown}: cannot rewrite: {e}")),
        }
    }
    out
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|x| x == EXT) {
            out.push(p);
        }
    }
}

#[test]
fn sql_transcripts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("sql");
    let mut files = Vec::new();
    collect(&root, &mut files);
    if let Ok(filter) = std::env::var("AMELIE_TRANSCRIPT") {
        files.retain(|f| f.to_string_lossy().contains(&filter));
    }
    assert!(
        !files.is_empty(),
        "no .{EXT} files under {}",
        root.display()
    );
    let flag = |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0");
    let bless = flag("AMELIE_BLESS");
    let run_skipped = flag("AMELIE_RUN_SKIPPED");

    let files = Arc::new(files);
    let next = Arc::new(AtomicUsize::new(0));
    let results = Arc::new(Mutex::new(Vec::new()));
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(4)
        .clamp(1, 8)
        .min(files.len());
    let handles: Vec<_> = (0..workers)
        .map(|_| {
            let (files, next, results) = (files.clone(), next.clone(), results.clone());
            std::thread::spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(f) = files.get(i) else { break };
                let f = f.clone();
                // A harness panic (server failed to start or stop) fails only this file.
                let o = std::panic::catch_unwind(|| run_file(&f, bless, run_skipped))
                    .unwrap_or_else(|e| {
                        let msg = e
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_else(|| "panic".into());
                        Outcome {
                            file: shown(&f),
                            skipped: None,
                            cases: 0,
                            failures: vec![format!(
                                "{}: harness failure: {msg}",
                                shown(&f).display()
                            )],
                            blessed: false,
                        }
                    });
                results.lock().unwrap_or_else(|e| e.into_inner()).push(o);
            })
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
    let mut results = std::mem::take(&mut *results.lock().unwrap_or_else(|e| e.into_inner()));
    results.sort_by(|a, b| a.file.cmp(&b.file));

    let mut report = String::new();
    let (mut cases, mut failed) = (0, 0);
    for o in &results {
        cases += o.cases;
        failed += o.failures.len();
        if let Some(r) = &o.skipped {
            let _ = writeln!(report, "skipped {}: {r}", o.file.display());
        }
        if o.blessed {
            let _ = writeln!(report, "blessed {}", o.file.display());
        }
        for f in &o.failures {
            let _ = writeln!(report, "{f}");
        }
    }
    let _ = writeln!(
        report,
        "transcripts: files={} cases={cases} mismatches={failed} skipped={}",
        results.len(),
        results.iter().filter(|o| o.skipped.is_some()).count()
    );
    eprintln!("{report}");
    assert!(failed == 0, "transcript mismatches:\n{report}");
}

// ---------------------------------------------------------------------------------------------
// Unit tests of the format
// ---------------------------------------------------------------------------------------------

#[test]
fn format_parses_every_expectation_kind() {
    let text = "-- c\n@server --backends=1\n> select 1\n[1]\n\n> create table t (id int primary key)\n(204)\n> select x\nerror: <x> column not found\n> select {\"a\": 1}\n[{\n  \"a\": 1\n}]\n> explain select 1\n~ json\n> explain select 0\n~ object\n> select 2\n~ any\n> select 3\nstatus 200: \"\"\n@restart kill\n@reconnect\n> select 4\n";
    let t = parse(text).expect("parses");
    assert_eq!(t.server_args, vec!["--backends=1".to_string()]);
    let expects: Vec<&Expect> = t
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Case { expect, .. } => Some(expect),
            _ => None,
        })
        .collect();
    assert_eq!(
        expects,
        vec![
            &Expect::Body("[1]".into()),
            &Expect::NoContent,
            &Expect::Error("<x> column not found".into()),
            &Expect::Body("[{\n  \"a\": 1\n}]".into()),
            &Expect::AnyJson,
            &Expect::AnyObject,
            &Expect::Any,
            &Expect::Status(200, String::new()),
            &Expect::Missing,
        ]
    );
    assert!(t.items.contains(&Item::Restart { kill: true }));
    assert!(t.items.contains(&Item::Reconnect));
}

#[test]
fn post_lines_name_a_content_type_a_path_and_a_body() {
    assert_eq!(parse_post("select 1"), None);
    assert_eq!(
        parse_post("@post text/csv /public/t?columns= 1, 2\\n3, 4\\\\n"),
        Some(Ok((
            "text/csv".to_string(),
            "/public/t?columns=".to_string(),
            "1, 2\n3, 4\\n".to_string()
        )))
    );
    assert_eq!(
        parse_post("@post application/json /public/t"),
        Some(Ok((
            "application/json".to_string(),
            "/public/t".to_string(),
            String::new()
        )))
    );
    assert!(matches!(parse_post("@post text/csv"), Some(Err(_))));
    assert!(matches!(parse_post("@post text/csv public"), Some(Err(_))));
}

#[test]
fn format_reports_bad_lines() {
    let errs = parse("select 1\n> select 1\nnope\n@bogus\n").unwrap_err();
    let lines: Vec<usize> = errs.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, vec![1, 3, 4]);
    assert!(parse("> select 1\n[1]\n@server --backends=1\n").is_err());
    assert!(parse("@skip\n").is_err());
}

#[test]
fn render_round_trips_through_parse() {
    let replies = [
        Reply::Http(204, String::new()),
        Reply::Http(400, error_body("table 't': not exists")),
        Reply::Http(400, error_body("two\nlines")),
        Reply::Http(200, "[[1, {\n  \"a\": \"x\"\n}]]".into()),
        Reply::Http(200, "[1]\n\n".into()),
        Reply::Http(200, String::new()),
        Reply::Http(403, String::new()),
    ];
    for r in replies {
        let lines = render(&r);
        let e = parse_expect(&lines).unwrap_or_else(|e| panic!("{lines:?}: {e}"));
        assert!(matches(&e, &r), "{r:?} rendered as {lines:?}");
    }
    assert!(!matches(&Expect::AnyJson, &Reply::Http(200, "nope".into())));
    assert!(matches(
        &Expect::AnyObject,
        &Reply::Http(200, "[{\"a\": 1}]".into())
    ));
    assert!(matches(&Expect::AnyObject, &Reply::Http(200, "{}".into())));
    assert!(!matches(
        &Expect::AnyObject,
        &Reply::Http(200, "[1]".into())
    ));
    assert!(!matches(
        &Expect::AnyObject,
        &Reply::Http(200, "[{}, {}]".into())
    ));
    assert!(!matches(&Expect::Any, &Reply::Transport("x".into())));
}
