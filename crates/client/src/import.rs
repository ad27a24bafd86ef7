//! `amelie import` (spec §4.1): bulk import of CSV or JSONL files (or standard input) into a
//! table, in batches of rows sent over several connections at once.
//!
//! The reader (the calling thread) streams every input through a fixed-size buffer into a
//! [`Batcher`], which cuts it into batches of at most `batch` rows at the row boundaries of
//! [`amelie_common::import_rows`] (a batch also ends before its body passes [`BATCH_BYTES`],
//! under the server's default `limit_recv` of 1 MiB). Batches go through a bounded channel to
//! `clients` tasks, each with its own keep-alive connection, that `POST /<schema>/<table>` them
//! as `text/csv` or `application/jsonl`: at most `2 * clients` batches wait in memory. Every
//! batch is one transaction on the server; batches may commit in any order.
//!
//! The first batch the server refuses stops the import: no further batch is sent, the ones
//! already sent are waited for. To name the failing row, the rows of a refused batch are then
//! sent one by one until one fails (the rows before it are imported: with `--clients=1` the
//! table ends up holding exactly the rows before the failing one). A local problem (an
//! unterminated string at the end of a file, an unreadable file) stops the import the same way.
//! Any error makes the exit status 1.

use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use amelie_common::import_rows::{split_rows, RowScanner};
use amelie_common::{Error, Result};
use bytes::Bytes;
use serde_json::Value;

use crate::conn::{Client, Reply};
use crate::remote::{Opt, Remote};

/// `--clients`: connections (and requests in flight).
pub const DEFAULT_CLIENTS: usize = 12;
/// `--batch`: rows per request.
pub const DEFAULT_BATCH: usize = 500;
/// A batch ends at the first row end that takes its body to this size.
pub const BATCH_BYTES: usize = 512 * 1024;
/// A single row longer than this is refused without sending it (an unterminated string or
/// bracket would otherwise take the rest of the file into one row).
pub const MAX_ROW: usize = 64 * 1024 * 1024;
/// The read buffer of every input.
const READ_BUFFER: usize = 256 * 1024;
/// How often the progress line is redrawn.
const TICK: Duration = Duration::from_millis(200);

/// The format of an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Jsonl,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv",
            Format::Jsonl => "application/jsonl",
        }
    }

    /// A format by name; `json` is known to Amelie but refused for import, like any other.
    fn by_name(name: &str) -> Result<Format> {
        match name {
            "csv" => Ok(Format::Csv),
            "jsonl" => Ok(Format::Jsonl),
            _ => Err(Error::unsupported(format!(
                "unknown import format '{name}'"
            ))),
        }
    }

    /// `--format=auto`: the format of a file from its extension.
    pub fn guess(path: &Path) -> Result<Format> {
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if matches!(ext, "csv" | "jsonl" | "json") => Format::by_name(ext),
            _ => Err(Error::unsupported(format!(
                "import: cannot guess the format of '{}' (use --format=csv or --format=jsonl)",
                path.display()
            ))),
        }
    }
}

/// Where rows come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Stdin,
    File(PathBuf),
}

impl Source {
    /// How messages name it.
    pub fn name(&self) -> String {
        match self {
            Source::Stdin => "stdin".to_string(),
            Source::File(p) => p.display().to_string(),
        }
    }
}

/// What `amelie import` was asked to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportOptions {
    /// `/<schema>/<table>`.
    pub path: String,
    pub clients: usize,
    pub batch: usize,
    /// Every input with its format.
    pub sources: Vec<(Source, Format)>,
}

fn positive(o: &Opt) -> Result<usize> {
    let n = match &o.value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse::<u64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if n > 0 && n <= 1_000_000 => Ok(n as usize),
        _ => Err(Error::type_error(format!(
            "option '{}': positive integer expected",
            o.name
        ))),
    }
}

/// Is `name` an option of `import` (besides the remote's)?
pub fn is_option(name: &str) -> bool {
    matches!(name, "format" | "clients" | "batch")
}

/// `[schema.]table` as the request path.
fn table_path(name: &str) -> Result<String> {
    let (schema, table) = name.split_once('.').unwrap_or(("public", name));
    let ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$')
    };
    if !ok(schema) || !ok(table) {
        return Err(Error::syntax(format!(
            "import: invalid table name '{name}'"
        )));
    }
    Ok(format!("/{schema}/{table}"))
}

impl ImportOptions {
    /// From the import options (`format`, `clients`, `batch`), the table and the files (none:
    /// standard input, which needs an explicit format).
    pub fn new(options: &[Opt], table: &str, files: &[String]) -> Result<ImportOptions> {
        let mut format = "auto".to_string();
        let mut clients = DEFAULT_CLIENTS;
        let mut batch = DEFAULT_BATCH;
        for o in options {
            match o.name.as_str() {
                "format" => match &o.value {
                    Value::String(s) => format = s.clone(),
                    _ => return Err(Error::type_error("option 'format': string value expected")),
                },
                "clients" => clients = positive(o)?,
                "batch" => batch = positive(o)?,
                other => return Err(Error::not_found(format!("option '{other}' is not found"))),
            }
        }
        let fixed = match format.as_str() {
            "auto" => None,
            name => Some(Format::by_name(name)?),
        };
        let mut sources = Vec::new();
        if files.is_empty() {
            let format = fixed.ok_or_else(|| {
                Error::syntax("import: reading standard input needs --format=csv or --format=jsonl")
            })?;
            sources.push((Source::Stdin, format));
        }
        for f in files {
            let path = PathBuf::from(f);
            let format = match fixed {
                Some(format) => format,
                None => Format::guess(&path)?,
            };
            sources.push((Source::File(path), format));
        }
        Ok(ImportOptions {
            path: table_path(table)?,
            clients,
            batch,
            sources,
        })
    }
}

/// A batch of rows: one request.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    /// Index of its source.
    pub source: usize,
    /// The line of the first byte of `body` (1-based).
    pub first_line: u64,
    pub rows: u64,
    pub body: Bytes,
}

/// Cuts one input into batches, reading it through a fixed-size buffer: memory stays within a
/// batch plus the buffer (a row longer than [`MAX_ROW`] is an error).
pub struct Batcher<R> {
    input: R,
    name: String,
    source: usize,
    scanner: RowScanner,
    max_rows: u64,
    max_bytes: usize,
    max_row: usize,
    buf: Vec<u8>,
    rows: u64,
    first_line: u64,
    done: bool,
}

impl<R: BufRead> Batcher<R> {
    /// Batches of at most `batch` rows (and about [`BATCH_BYTES`]) of `input`, named `name`
    /// in messages.
    pub fn new(input: R, name: &str, source: usize, batch: usize) -> Batcher<R> {
        Batcher {
            input,
            name: name.to_string(),
            source,
            scanner: RowScanner::new(),
            max_rows: batch.max(1) as u64,
            max_bytes: BATCH_BYTES,
            max_row: MAX_ROW,
            buf: Vec::new(),
            rows: 0,
            first_line: 1,
            done: false,
        }
    }

    fn take(&mut self) -> Option<Batch> {
        let rows = std::mem::take(&mut self.rows);
        let first_line = std::mem::replace(&mut self.first_line, self.scanner.line());
        if rows == 0 {
            self.buf.clear();
            return None;
        }
        let capacity = self.buf.len();
        let body = std::mem::replace(&mut self.buf, Vec::with_capacity(capacity));
        Some(Batch {
            source: self.source,
            first_line,
            rows,
            body: Bytes::from(body),
        })
    }

    /// The next batch, `None` at the end of the input.
    pub fn next_batch(&mut self) -> Result<Option<Batch>> {
        if self.done {
            return Ok(None);
        }
        loop {
            let chunk = match self.input.fill_buf() {
                Ok(chunk) => chunk,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.done = true;
                    return Err(Error::io(format!("{}: {e}", self.name)));
                }
            };
            if chunk.is_empty() {
                self.done = true;
                match self.scanner.finish() {
                    Ok(true) => self.rows += 1,
                    Ok(false) => {}
                    Err(e) => {
                        return Err(Error::syntax(format!("{}:{}: {e}", self.name, e.line)));
                    }
                }
                return Ok(self.take());
            }
            let mut cut = None;
            for (i, &b) in chunk.iter().enumerate() {
                if self.scanner.push(b) {
                    self.rows += 1;
                    if self.rows >= self.max_rows || self.buf.len() + i + 1 >= self.max_bytes {
                        cut = Some(i + 1);
                        break;
                    }
                }
            }
            let n = cut.unwrap_or(chunk.len());
            self.buf.extend_from_slice(&chunk[..n]);
            self.input.consume(n);
            if cut.is_some() {
                return Ok(self.take());
            }
            if self.buf.len() > self.max_row {
                self.done = true;
                return Err(Error::limit_reached(format!(
                    "{}:{}: row longer than {} MiB (an unterminated string or bracket?)",
                    self.name,
                    self.scanner.row_line(),
                    self.max_row >> 20
                )));
            }
        }
    }
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    /// Rows the server accepted.
    pub rows: u64,
    /// Bytes of the accepted batches.
    pub bytes: u64,
    pub secs: f64,
    /// Refused batches and local errors.
    pub errors: u64,
    /// The messages of the errors, each naming a file and a line where it can.
    pub messages: Vec<String>,
}

impl Summary {
    /// The closing line: rows, bytes, seconds, rows/s, MiB/s, errors.
    pub fn line(&self) -> String {
        let secs = self.secs.max(1e-6);
        let mib = self.bytes as f64 / (1024.0 * 1024.0);
        format!(
            "imported {} rows, {:.1} MiB in {:.2} s: {:.0} rows/s, {:.1} MiB/s, {} errors",
            self.rows,
            mib,
            self.secs,
            self.rows as f64 / secs,
            mib / secs,
            self.errors
        )
    }
}

/// A batch the server did not take: its reply, or the transport error.
struct Failed {
    batch: Batch,
    outcome: std::result::Result<Reply, Error>,
}

#[derive(Default)]
struct Shared {
    rows: AtomicU64,
    bytes: AtomicU64,
    errors: AtomicU64,
    stop: AtomicBool,
    failed: Mutex<Vec<Failed>>,
}

/// The message of an error reply: the `msg` of `{"msg": "..."}`, else the status and body.
pub fn reply_message(reply: &Reply) -> String {
    if reply.status == 403 {
        return "403 Forbidden".to_string();
    }
    if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(&reply.body) {
        if let Some(Value::String(msg)) = map.get("msg") {
            return msg.clone();
        }
    }
    if reply.body.is_empty() {
        format!("{} (no body)", reply.status)
    } else {
        format!("{}: {}", reply.status, reply.body.trim_end())
    }
}

fn lock_failed(shared: &Shared) -> std::sync::MutexGuard<'_, Vec<Failed>> {
    shared.failed.lock().unwrap_or_else(|p| p.into_inner())
}

async fn worker(
    client: &mut Client,
    rx: Arc<tokio::sync::Mutex<tokio::sync::mpsc::Receiver<Batch>>>,
    shared: Arc<Shared>,
    path: Arc<str>,
    types: Arc<[&'static str]>,
    bar: indicatif::ProgressBar,
) {
    loop {
        let next = rx.lock().await.recv().await;
        let Some(batch) = next else {
            return;
        };
        if shared.stop.load(Ordering::Relaxed) {
            // stopped: the rest of the queue is dropped unsent
            continue;
        }
        let content_type = types.get(batch.source).copied().unwrap_or("text/csv");
        let len = batch.body.len() as u64;
        let outcome = client
            .request(&path, content_type, batch.body.clone())
            .await;
        match outcome {
            Ok(reply) if reply.is_success() => {
                shared.rows.fetch_add(batch.rows, Ordering::Relaxed);
                shared.bytes.fetch_add(len, Ordering::Relaxed);
                bar.inc(len);
            }
            outcome => {
                shared.errors.fetch_add(1, Ordering::Relaxed);
                shared.stop.store(true, Ordering::Relaxed);
                lock_failed(&shared).push(Failed { batch, outcome });
            }
        }
    }
}

/// The progress line's text.
fn progress_text(shared: &Shared, elapsed: f64) -> String {
    let rows = shared.rows.load(Ordering::Relaxed);
    let bytes = shared.bytes.load(Ordering::Relaxed) as f64 / (1024.0 * 1024.0);
    let secs = elapsed.max(1e-3);
    format!(
        "{bytes:.1} MiB, {:.1} MiB/s, {rows} rows, {:.0} rows/s, {} errors",
        bytes / secs,
        rows as f64 / secs,
        shared.errors.load(Ordering::Relaxed)
    )
}

/// The progress line: percent when every input's size is known; hidden when stderr is not a
/// terminal or `show` is false.
fn progress_bar(total: Option<u64>, show: bool) -> indicatif::ProgressBar {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    if !show || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let (bar, template) = match total {
        Some(total) => (ProgressBar::new(total), "{percent:>3}% {msg}"),
        None => (ProgressBar::no_length(), "{spinner} {msg}"),
    };
    bar.set_draw_target(ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}

/// Finds the failing row of a refused batch by sending its rows one by one; the message names
/// the file and the line.
async fn locate(
    client: &mut Client,
    opts: &ImportOptions,
    shared: &Shared,
    failed: Failed,
) -> String {
    let batch = failed.batch;
    let (source, format) = &opts.sources[batch.source];
    let name = source.name();
    let rows = split_rows(&batch.body, batch.first_line).unwrap_or_default();
    let first = rows.first().map_or(batch.first_line, |r| r.1);
    let last = rows.last().map_or(batch.first_line, |r| r.1);
    let lines = if first == last {
        format!("{name}:{first}")
    } else {
        format!("{name}:{first}-{last}")
    };
    let reply = match failed.outcome {
        Ok(reply) => reply,
        Err(e) => return format!("{lines}: {e}"),
    };
    let msg = reply_message(&reply);
    // only a refused body (400) says something about its rows
    if reply.status != 400 || rows.len() < 2 {
        return format!("{lines}: {msg}");
    }
    for (range, line) in rows {
        let body = batch.body.slice(range);
        let len = body.len() as u64;
        match client
            .request(&opts.path, format.content_type(), body)
            .await
        {
            Ok(r) if r.is_success() => {
                shared.rows.fetch_add(1, Ordering::Relaxed);
                shared.bytes.fetch_add(len, Ordering::Relaxed);
            }
            Ok(r) => return format!("{name}:{line}: {}", reply_message(&r)),
            Err(e) => return format!("{name}:{line}: {e}"),
        }
    }
    format!("{lines}: {msg} (then every row of the batch was accepted alone)")
}

/// Runs an import against `remote`; `show` allows the progress line (on a terminal only).
/// Connection failures before anything is sent are errors; everything after that is counted
/// in the summary (`errors`, `messages`).
pub fn run(remote: &Remote, opts: &ImportOptions, show: bool) -> Result<Summary> {
    let start = Instant::now();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(opts.clients.clamp(1, 2))
        .enable_all()
        .build()
        .map_err(|e| Error::io(format!("runtime: {e}")))?;
    let mut clients = Vec::with_capacity(opts.clients);
    for _ in 0..opts.clients {
        let mut client = Client::new(remote)?;
        rt.block_on(client.connect())?;
        clients.push(client);
    }
    let total = opts
        .sources
        .iter()
        .map(|(s, _)| match s {
            Source::Stdin => None,
            Source::File(p) => std::fs::metadata(p)
                .ok()
                .filter(|m| m.is_file())
                .map(|m| m.len()),
        })
        .sum::<Option<u64>>();
    let bar = progress_bar(total, show);
    let shared = Arc::new(Shared::default());
    let (tx, rx) = tokio::sync::mpsc::channel::<Batch>(opts.clients * 2);
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let path: Arc<str> = Arc::from(opts.path.as_str());
    let types: Arc<[&'static str]> = opts.sources.iter().map(|(_, f)| f.content_type()).collect();
    let mut workers = Vec::with_capacity(opts.clients);
    for mut client in clients {
        let (rx, shared, path, types, bar) = (
            rx.clone(),
            shared.clone(),
            path.clone(),
            types.clone(),
            bar.clone(),
        );
        workers.push(rt.spawn(async move {
            worker(&mut client, rx, shared, path, types, bar).await;
            client
        }));
    }
    let ticker = {
        let (shared, bar) = (shared.clone(), bar.clone());
        rt.spawn(async move {
            loop {
                bar.set_message(progress_text(&shared, start.elapsed().as_secs_f64()));
                bar.tick();
                tokio::time::sleep(TICK).await;
            }
        })
    };

    let mut local: Option<Error> = None;
    'sources: for (i, (source, _)) in opts.sources.iter().enumerate() {
        let name = source.name();
        let input: Box<dyn std::io::Read> = match source {
            Source::Stdin => Box::new(std::io::stdin()),
            Source::File(p) => match File::open(p) {
                Ok(f) => Box::new(f),
                Err(e) => {
                    local = Some(Error::io(format!("{name}: {e}")));
                    break;
                }
            },
        };
        let mut batcher = Batcher::new(
            BufReader::with_capacity(READ_BUFFER, input),
            &name,
            i,
            opts.batch,
        );
        loop {
            if shared.stop.load(Ordering::Relaxed) {
                break 'sources;
            }
            match batcher.next_batch() {
                Ok(Some(batch)) => {
                    if tx.blocking_send(batch).is_err() {
                        break 'sources;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    local = Some(e);
                    break 'sources;
                }
            }
        }
    }
    if local.is_some() {
        shared.stop.store(true, Ordering::Relaxed);
    }
    drop(tx);
    // a client is kept for locating failing rows afterwards
    let mut spare = None;
    for w in workers {
        if let Ok(client) = rt.block_on(w) {
            spare.get_or_insert(client);
        }
    }
    ticker.abort();
    let mut messages = Vec::new();
    let mut failed = std::mem::take(&mut *lock_failed(&shared));
    failed.sort_by_key(|f| (f.batch.source, f.batch.first_line));
    if !failed.is_empty() {
        let mut client = match spare {
            Some(client) => client,
            None => Client::new(remote)?,
        };
        for f in failed {
            messages.push(rt.block_on(locate(&mut client, opts, &shared, f)));
        }
    }
    if let Some(e) = local {
        shared.errors.fetch_add(1, Ordering::Relaxed);
        messages.push(e.msg().to_string());
    }
    if let Some(total) = total {
        if messages.is_empty() {
            bar.set_position(total);
        }
    }
    bar.set_message(progress_text(&shared, start.elapsed().as_secs_f64()));
    bar.finish();
    Ok(Summary {
        rows: shared.rows.load(Ordering::Relaxed),
        bytes: shared.bytes.load(Ordering::Relaxed),
        secs: start.elapsed().as_secs_f64(),
        errors: shared.errors.load(Ordering::Relaxed),
        messages,
    })
}

/// Prints the summary (unless quiet) and the errors; the exit status.
pub fn report(summary: &Summary, quiet: bool, out: &mut impl Write, err: &mut impl Write) -> i32 {
    for m in &summary.messages {
        let _ = writeln!(err, "error: {m}");
    }
    if !quiet {
        let _ = writeln!(out, "{}", summary.line());
    }
    i32::from(summary.errors > 0 || !summary.messages.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opt(name: &str, value: &str) -> Opt {
        Opt {
            name: name.into(),
            value: Value::String(value.into()),
        }
    }

    /// Batches of `text` read through a tiny buffer (so rows cross reads): (first line, rows,
    /// body).
    fn batches(text: &str, batch: usize) -> Result<Vec<(u64, u64, String)>> {
        let input = BufReader::with_capacity(3, text.as_bytes());
        let mut b = Batcher::new(input, "f.csv", 0, batch);
        let mut out = Vec::new();
        while let Some(x) = b.next_batch()? {
            out.push((
                x.first_line,
                x.rows,
                String::from_utf8(x.body.to_vec()).unwrap(),
            ));
        }
        assert_eq!(b.next_batch().unwrap(), None);
        Ok(out)
    }

    #[test]
    fn batches_of_rows() {
        assert_eq!(
            batches("1\n2\n3\n4\n5", 2).unwrap(),
            vec![
                (1, 2, "1\n2\n".into()),
                (3, 2, "3\n4\n".into()),
                (5, 1, "5".into())
            ]
        );
        assert_eq!(batches("", 2).unwrap(), vec![]);
        assert_eq!(batches("\n\r\n  \n", 2).unwrap(), vec![]);
    }

    #[test]
    fn quotes_crlf_and_empty_lines() {
        let text = "1, 'a\r\nb'\r\n\r\n2, \"x\\\"\n\"\r\n3, 'c'\r\n\r\n\r\n";
        assert_eq!(
            batches(text, 2).unwrap(),
            vec![
                (1, 2, "1, 'a\r\nb'\r\n\r\n2, \"x\\\"\n\"\r\n".into()),
                // trailing empty lines are whitespace in the last batch
                (6, 1, "3, 'c'\r\n\r\n\r\n".into())
            ]
        );
        // the last line without a newline is a row, also after a quoted newline
        assert_eq!(
            batches("1\n'a\nb'", 5).unwrap(),
            vec![(1, 2, "1\n'a\nb'".into())]
        );
        // JSONL values over several lines are one row
        assert_eq!(
            batches("{\"a\":\n[1,\n2]}\n{}\n", 1).unwrap(),
            vec![(1, 1, "{\"a\":\n[1,\n2]}\n".into()), (4, 1, "{}\n".into())]
        );
    }

    #[test]
    fn local_errors_name_the_line() {
        let e = batches("1\n2\n3, 'x\n4\n", 10).unwrap_err();
        assert_eq!(e.msg(), "f.csv:3: unterminated string");
        let e = batches("1\n[2,\n", 1).unwrap_err();
        assert_eq!(e.msg(), "f.csv:2: '[' or '{' is not closed");
        let mut b = Batcher::new(BufReader::with_capacity(4, &b"1\n'abcdefgh"[..]), "f", 0, 1);
        b.max_row = 4;
        assert!(b.next_batch().unwrap().is_some());
        let e = b.next_batch().unwrap_err();
        assert_eq!(
            (e.kind(), e.msg()),
            (
                amelie_common::ErrorKind::LimitReached,
                "f:2: row longer than 0 MiB (an unterminated string or bracket?)"
            )
        );
        assert_eq!(b.next_batch().unwrap(), None);
    }

    #[test]
    fn a_batch_ends_at_its_byte_limit() {
        let mut b = Batcher::new(BufReader::new(&b"aaaa\nbb\ncc\nd\n"[..]), "f", 0, 100);
        b.max_bytes = 6;
        let mut sizes = Vec::new();
        while let Some(x) = b.next_batch().unwrap() {
            sizes.push((x.first_line, x.rows, x.body.len()));
        }
        assert_eq!(sizes, vec![(1, 2, 8), (3, 2, 5)]);
    }

    #[test]
    fn options_formats_and_tables() {
        let o = ImportOptions::new(&[], "t", &["a.csv".into(), "b.jsonl".into()]).unwrap();
        assert_eq!(o.path, "/public/t");
        assert_eq!((o.clients, o.batch), (DEFAULT_CLIENTS, DEFAULT_BATCH));
        assert_eq!(
            o.sources,
            vec![
                (Source::File("a.csv".into()), Format::Csv),
                (Source::File("b.jsonl".into()), Format::Jsonl)
            ]
        );
        let o = ImportOptions::new(
            &[
                opt("format", "jsonl"),
                opt("clients", "3"),
                opt("batch", "7"),
            ],
            "s.t",
            &[],
        )
        .unwrap();
        assert_eq!((o.path.as_str(), o.clients, o.batch), ("/s/t", 3, 7));
        assert_eq!(o.sources, vec![(Source::Stdin, Format::Jsonl)]);
        let err = |options: &[Opt], table: &str, files: &[&str]| {
            let files: Vec<String> = files.iter().map(|f| f.to_string()).collect();
            ImportOptions::new(options, table, &files)
                .unwrap_err()
                .msg()
                .to_string()
        };
        assert_eq!(err(&[], "t", &["x.json"]), "unknown import format 'json'");
        assert_eq!(
            err(&[opt("format", "json")], "t", &["x.csv"]),
            "unknown import format 'json'"
        );
        assert_eq!(
            err(&[], "t", &["x.txt"]),
            "import: cannot guess the format of 'x.txt' (use --format=csv or --format=jsonl)"
        );
        assert_eq!(
            err(&[], "t", &[]),
            "import: reading standard input needs --format=csv or --format=jsonl"
        );
        assert_eq!(
            err(&[opt("clients", "0")], "t", &["a.csv"]),
            "option 'clients': positive integer expected"
        );
        assert_eq!(
            err(&[opt("batch", "x")], "t", &["a.csv"]),
            "option 'batch': positive integer expected"
        );
        for bad in ["", ".t", "s.", "a/b", "t?x", "a b"] {
            assert_eq!(
                err(&[], bad, &["a.csv"]),
                format!("import: invalid table name '{bad}'")
            );
        }
    }

    #[test]
    fn reply_messages() {
        let r = |status, body: &str| Reply {
            status,
            body: body.into(),
        };
        assert_eq!(reply_message(&r(400, "{\"msg\": \"bad\"}")), "bad");
        assert_eq!(reply_message(&r(403, "")), "403 Forbidden");
        assert_eq!(reply_message(&r(500, "")), "500 (no body)");
        assert_eq!(reply_message(&r(413, "big\n")), "413: big");
    }

    #[test]
    fn summary_and_exit_status() {
        let mut s = Summary {
            rows: 1000,
            bytes: 2 * 1024 * 1024,
            secs: 2.0,
            ..Summary::default()
        };
        assert_eq!(
            s.line(),
            "imported 1000 rows, 2.0 MiB in 2.00 s: 500 rows/s, 1.0 MiB/s, 0 errors"
        );
        let (mut out, mut err) = (Vec::new(), Vec::new());
        assert_eq!(report(&s, false, &mut out, &mut err), 0);
        assert!(err.is_empty());
        s.errors = 1;
        s.messages.push("f.csv:3: x".into());
        let (mut out, mut err) = (Vec::new(), Vec::new());
        assert_eq!(report(&s, true, &mut out, &mut err), 1);
        assert!(out.is_empty());
        assert_eq!(err, b"error: f.csv:3: x\n");
    }
}
