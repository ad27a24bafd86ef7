//! The fuzz targets: each takes arbitrary bytes and must return (no panic, no hang, bounded
//! memory); a failed check is a panic with a message saying what was wrong.

use crate::server;
use amelie_catalog::{Catalog, DdlOp, Node};
use amelie_common::{Json, Value};
use amelie_compiler::{compile, CompileCtx, Compiled};
use amelie_parser::{parse_import, ImportColumn, ImportFormat, ImportSpec};
use amelie_storage::Row;
use std::path::{Component, Path};
use std::sync::OnceLock;
use std::time::Duration;

/// The catalog the `sql` target compiles against: nodes, a distributed and shared tables.
pub fn catalog() -> &'static Catalog {
    static C: OnceLock<Catalog> = OnceLock::new();
    C.get_or_init(|| {
        let mut c = Catalog::default();
        for n in 0..2 {
            c.apply(&DdlOp::CreateNode(Node {
                uuid: format!("node-{n}"),
            }))
            .expect("create node");
        }
        for q in server::SETUP.iter().take(5) {
            let req = amelie_parser::parse(q).expect("setup parses");
            if let Ok(Compiled::Ddl(op)) = compile(&req, &c, &CompileCtx::default()) {
                c.apply(&op).expect("setup applies");
            }
        }
        c
    })
}

/// Lexer, parser (both modes), program-cache fingerprint and compiler; nothing is run.
pub fn sql(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut key = Vec::new();
    let mut lits = Vec::new();
    let _ = amelie_parser::fingerprint(&text, &mut key, &mut lits);
    let ctx = CompileCtx::default();
    if let Ok(req) = amelie_parser::parse(&text) {
        let _ = compile(&req, catalog(), &ctx);
    }
    if let Ok(req) = amelie_parser::parse_params(&text) {
        let _ = compile(&req, catalog(), &ctx);
    }
    let _ = amelie_parser::parse_expr(&text);
}

/// JSON text: both parsers; what parses writes back (compact and pretty) as text that parses
/// to a value writing the same text again; the value survives the row encoding.
pub fn json(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for raw in [false, true] {
        let parsed = if raw {
            Json::parse_raw(&text)
        } else {
            Json::parse(&text)
        };
        let Ok(v) = parsed else { continue };
        let compact = v.to_compact_string();
        let again = Json::parse(&compact)
            .unwrap_or_else(|e| panic!("written json does not parse: {e}: {compact:?}"));
        // doubles are written like `%g` (6 digits; `-0` reads back as the integer 0), so the
        // text is stable from the second write on
        let compact2 = again.to_compact_string();
        let compact3 = Json::parse(&compact2)
            .unwrap_or_else(|e| panic!("written json does not parse: {e}: {compact2:?}"))
            .to_compact_string();
        assert_eq!(compact2, compact3, "json write/parse/write differs");
        let mut pretty = String::new();
        v.write_pretty(&mut pretty, 0);
        let p = Json::parse(&pretty)
            .unwrap_or_else(|e| panic!("pretty json does not parse: {e}: {pretty:?}"));
        assert_eq!(p.to_compact_string(), compact2, "pretty json differs");
        let row = Row::encode(&[Value::Json(Box::new(v.clone())), Value::Int(1)]);
        let (back, n) = Row::from_encoded(row.as_bytes())
            .unwrap_or_else(|e| panic!("row with json does not validate: {e}"));
        assert_eq!(n, row.as_bytes().len());
        match back.get(0) {
            Value::Json(j) => assert_eq!(j.to_compact_string(), compact, "row json differs"),
            other => panic!("row json came back as {other:?}"),
        }
    }
}

const IMPORT_COLUMNS: &[ImportColumn<'static>] = &[
    ImportColumn {
        name: "id",
        ty: "int",
    },
    ImportColumn {
        name: "a",
        ty: "int",
    },
    ImportColumn {
        name: "b",
        ty: "text",
    },
    ImportColumn {
        name: "j",
        ty: "json",
    },
    ImportColumn {
        name: "ts",
        ty: "timestamp",
    },
];

/// Import bodies: byte 0 chooses the format, byte 1 the `?columns=` list, the rest is the body.
pub fn import(data: &[u8]) {
    let (format, list) = import_header(data);
    let body = String::from_utf8_lossy(data.get(2..).unwrap_or_default());
    let lists: [&[usize]; 4] = [&[0, 1, 2, 3, 4], &[0], &[3, 0], &[]];
    let spec = ImportSpec {
        format,
        columns: IMPORT_COLUMNS,
        list: list.map(|i| lists[i]),
    };
    if let Ok(rows) = parse_import(&body, spec) {
        assert!(rows.len() <= body.len(), "more rows than bytes");
    }
}

/// (format, index of the column list) of an `import` input.
pub fn import_header(data: &[u8]) -> (ImportFormat, Option<usize>) {
    let format = match data.first().copied().unwrap_or(0) % 3 {
        0 => ImportFormat::Csv,
        1 => ImportFormat::Json,
        _ => ImportFormat::Jsonl,
    };
    let list = match data.get(1).copied().unwrap_or(0) % 5 {
        4 => None,
        i => Some(i as usize),
    };
    (format, list)
}

/// Words that make a request change the server for good (config, users, nodes): such inputs
/// go to a scratch server instead of the shared one, which must stay usable for the rest of
/// the run.
const HTTP_SKIP: &[&str] = &[
    "set",
    "user",
    "node",
    "__fuzz",
    "checkpoint",
    "shutdown",
    "alter",
];

/// Whether the `http` target keeps this input away from the shared server (see
/// [`HTTP_SKIP`]).
pub fn http_skips(data: &[u8]) -> bool {
    let text = String::from_utf8_lossy(data).to_ascii_lowercase();
    text.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .any(|w| HTTP_SKIP.contains(&w))
}

static HTTP_RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Raw bytes as one HTTP connection to the in-process server; the server must then still
/// answer a query on a table (the compute nodes are alive) within 10 s.
pub fn http(data: &[u8]) {
    // one input in eight leaves at once (cancellation), the others wait for their replies
    let half_close = crate::runner::hash(data).is_multiple_of(8);
    if http_skips(data) {
        scratch(data, half_close);
        return;
    }
    let s = server::shared();
    let _ = server::raw(s.port, data, half_close, Duration::from_secs(10));
    let n = HTTP_RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if n % 500 == 499 {
        // keep the tables small over a long run
        for q in ["truncate t", "truncate s", "truncate u"] {
            let _ = server::sql(s.port, q, Duration::from_secs(10));
        }
    }
    if let Err(answer) = health(s.port) {
        panic!("server is not healthy after the input: {answer}");
    }
}

/// The health query after an input: a table on the compute nodes answers `[3]` within 10 s.
/// Err: what came instead.
fn health(port: u16) -> Result<(), String> {
    match server::sql(
        port,
        "select count(*) from __fuzz.h",
        Duration::from_secs(10),
    ) {
        Ok((200, body)) if body == "[3]" => Ok(()),
        other => Err(format!("{other:?}")),
    }
}

/// The server for inputs that may change a server for good (see [`HTTP_SKIP`]).
static SCRATCH: std::sync::Mutex<Option<server::Server>> = std::sync::Mutex::new(None);

/// Starts of the scratch server, for the runner's report.
pub static SCRATCH_STARTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// An input with [`HTTP_SKIP`] words, on the scratch server. Such an input may leave the
/// server unable to answer the health query for good reasons (a tiny `limit_recv`, an
/// altered table): then it is stopped and the next such input gets a fresh one. Panics are
/// caught by the runner's hook as for the shared server, and a server that hangs keeps
/// `stop` from returning, which the watchdog reports.
fn scratch(data: &[u8], half_close: bool) {
    let mut slot = SCRATCH.lock().unwrap_or_else(|p| p.into_inner());
    let s = slot.get_or_insert_with(|| {
        SCRATCH_STARTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        server::start_with_setup(&server::temp_dir("scratch"))
    });
    let _ = server::raw(s.port, data, half_close, Duration::from_secs(10));
    if health(s.port).is_err() {
        if let Some(s) = slot.take() {
            s.stop();
        }
    }
}

/// A `wal` input: a little archive of repository files, each `name_len u16 LE, name,
/// data_len u32 LE, data`. Names are relative paths (`wal/…wal`, `<lsn>/catalog.snap`,
/// `<lsn>/<id>.part`).
pub fn decode_files(data: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 2 <= data.len() && out.len() < 64 {
        let n = u16::from_le_bytes([data[at], data[at + 1]]) as usize;
        at += 2;
        let Some(name) = data.get(at..at + n) else {
            break;
        };
        at += n;
        let Some(len) = data.get(at..at + 4) else {
            break;
        };
        let len = u32::from_le_bytes(len.try_into().unwrap_or([0; 4])) as usize;
        at += 4;
        let len = len.min(data.len() - at);
        out.push((
            String::from_utf8_lossy(name).into_owned(),
            data[at..at + len].to_vec(),
        ));
        at += len;
    }
    out
}

pub fn encode_files(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in files {
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(data);
    }
    out
}

/// A relative path of at most two plain components (no `..`, no root).
fn safe_name(name: &str) -> bool {
    let p = Path::new(name);
    let parts: Vec<_> = p.components().collect();
    !parts.is_empty()
        && parts.len() <= 2
        && parts.iter().all(|c| matches!(c, Component::Normal(_)))
        && name.len() < 128
}

/// WAL and checkpoint loading: the files are written into a fresh repository directory and
/// the executor opens it (WAL recovery, checkpoint load, replay), then shuts down. Every
/// valid record body and every row in it is also decoded directly.
pub fn wal(data: &[u8]) {
    let files = decode_files(data);
    for (_, bytes) in &files {
        decode_records(bytes);
    }
    let dir = server::temp_dir("wal");
    let _ = std::fs::create_dir_all(dir.join("wal"));
    for (name, bytes) in &files {
        if !safe_name(name) {
            continue;
        }
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let _ = std::fs::write(&path, bytes);
    }
    let config = amelie_executor::ExecutorConfig {
        wal: amelie_wal::WalConfig::new(dir.join("wal")),
        format: "json".into(),
        limit_send: 0,
        dir: Some(dir.clone()),
    };
    let opened = amelie_executor::Executor::open(config);
    drop(opened);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Walks the records of a WAL file image and decodes each body and the rows in it.
fn decode_records(bytes: &[u8]) {
    let mut at = amelie_wal::format::FILE_HEADER_SIZE.min(bytes.len());
    while let Ok((rec, n)) = amelie_wal::format::parse_record(&bytes[at..]) {
        at += n;
        if let Ok(amelie_executor::wal_body::WalBody::Changes(c)) =
            amelie_executor::wal_body::WalBody::decode(rec.body)
        {
            let _ = Row::from_encoded(&c);
        }
    }
    let _ = amelie_wal::format::find_valid_record(bytes, 0, 0);
    let _ = Row::from_encoded(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_round_trip_and_names_are_checked() {
        let files = vec![
            ("wal/00000000000000000001.wal".to_string(), vec![1, 2, 3]),
            ("5/catalog.snap".to_string(), vec![]),
        ];
        assert_eq!(decode_files(&encode_files(&files)), files);
        assert!(decode_files(&[0xff]).is_empty());
        assert!(safe_name("5/catalog.snap"));
        assert!(!safe_name("../x"));
        assert!(!safe_name("/etc/passwd"));
        assert!(!safe_name("a/b/c"));
    }

    #[test]
    fn http_skip_words() {
        assert!(http_skips(b"SET limit_recv TO 5"));
        assert!(http_skips(b"drop user x"));
        assert!(!http_skips(b"select settings from t"));
    }

    fn post(sql: &str) -> Vec<u8> {
        format!(
            "POST / HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{sql}",
            sql.len()
        )
        .into_bytes()
    }

    #[test]
    fn inputs_that_change_a_server_go_to_a_scratch_one() {
        let starts = || SCRATCH_STARTS.load(std::sync::atomic::Ordering::Relaxed);
        let running = || SCRATCH.lock().unwrap().is_some();
        let before = starts();
        // this one leaves the scratch server unable to answer: it is stopped
        http(&post("SET limit_recv TO 5"));
        assert_eq!((starts(), running()), (before + 1, false));
        // these leave it healthy: it stays for the next one
        http(&post("create user fz; checkpoint; show nodes"));
        http(&post("alter user fz rotate; show users"));
        assert_eq!((starts(), running()), (before + 2, true));
        // the shared server saw none of them
        let s = server::shared();
        let answer = server::sql(s.port, "show users", Duration::from_secs(10)).unwrap();
        assert_eq!(answer, (200, "[]".to_string()));
    }

    #[test]
    fn cheap_targets_accept_simple_inputs() {
        sql(b"select id, j.a from t where a > 1");
        json(b"{\"a\": [1, 2.5, \"x\", null, true]}");
        import(b"\x00\x04 1, 2, 'x', {}, '2024-01-01 00:00:00'");
    }
}
