//! End-to-end tests of `amelie import` against the real `amelie-server` (started over the
//! repository's unix socket and a TCP port): a generated CSV file (`AMELIE_IMPORT_TEST_MB`
//! megabytes, default 50, as issue 17 asks; docs/architecture/client.md gives its figures), a
//! JSONL file, standard input, and errors named by file and line.
//!
//! The harness (starting and stopping the server, running `amelie`) is `common/mod.rs`.

mod common;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use common::{amelie_cmd, free_port, run, tcp, Run, Server, TempDir};

/// Runs `amelie import <args>` (with `AMELIE_HOME` in `<dir>/home`) feeding `stdin`.
fn import(dir: &Path, args: &[&str], stdin: &[u8]) -> Run {
    let mut cmd = amelie_cmd(&dir.join("home"), &["import"]);
    cmd.args(args);
    run(cmd, stdin)
}

/// A server on `<dir>/repo` listening on a TCP port too (returned) with the table `t`.
fn setup(tag: &str) -> (TempDir, Server, u16) {
    let dir = TempDir::new(tag);
    let port = free_port();
    let server = Server::start_listen(&dir.0.join("repo"), &format!("[{}]", tcp(port, false)));
    server
        .sql("create table t (id int primary key, name text, data json)")
        .expect("create table");
    (dir, server, port)
}

/// `select count(*)` of `table`.
fn count(server: &Server, table: &str) -> u64 {
    let body = server
        .sql(&format!("select count(*) from {table}"))
        .expect("count");
    body.trim_matches(|c| c == '[' || c == ']')
        .parse()
        .unwrap_or_else(|_| panic!("count: {body}"))
}

/// Writes a CSV of about `bytes` bytes (some strings hold newlines, commas and quotes; CRLF
/// line ends on every third row); returns its rows.
fn write_csv(path: &Path, bytes: u64) -> u64 {
    let mut f = std::io::BufWriter::new(fs::File::create(path).unwrap());
    let (mut rows, mut written) = (0u64, 0u64);
    while written < bytes {
        let line = match rows % 3 {
            0 => format!("{rows}, 'name {rows}, with a comma', [1, 2, {rows}]\n"),
            1 => format!("{rows}, \"two\nlines 'quoted' \\\" {rows}\", {{\"a\": {rows}}}\n"),
            _ => format!("{rows}, 'it\\'s row {rows}', null\r\n"),
        };
        f.write_all(line.as_bytes()).unwrap();
        written += line.len() as u64;
        rows += 1;
    }
    f.flush().unwrap();
    rows
}

#[test]
fn csv_and_jsonl_files() {
    let (dir, server, _) = setup("import-files");
    let mb: u64 = std::env::var("AMELIE_IMPORT_TEST_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let csv = dir.0.join("data.csv");
    let csv_rows = write_csv(&csv, mb << 20);
    let jsonl = dir.0.join("more.jsonl");
    let mut text = String::new();
    for i in 0..3000 {
        text.push_str(&format!(
            "{{\"id\": {}, \"name\": \"j{i}\", \"data\": {{\"x\":\n[{i}]}}}}\n",
            10_000_000 + i
        ));
        text.push_str(&format!("[{}, 'a\\nb', null]\r\n\n", 20_000_000 + i));
    }
    fs::write(&jsonl, text).unwrap();
    let repo = dir.0.join("repo");
    let start = Instant::now();
    let run = import(
        &dir.0,
        &[
            repo.to_str().unwrap(),
            "t",
            csv.to_str().unwrap(),
            jsonl.to_str().unwrap(),
        ],
        b"",
    );
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let total = csv_rows + 6000;
    assert!(
        run.stdout.starts_with(&format!("imported {total} rows, ")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.trim_end().ends_with(", 0 errors"),
        "{}",
        run.stdout
    );
    // not a terminal: no progress line
    assert_eq!(run.stderr, "");
    assert_eq!(count(&server, "t"), total);
    eprintln!(
        "imported {mb} MiB, {total} rows in {secs:.2} s ({:.0} rows/s)",
        total as f64 / secs
    );
    let quoted = server
        .sql("select name from t where id = 1")
        .expect("select");
    assert_eq!(quoted, "[\"two\\nlines 'quoted' \\\" 1\"]");
}

#[test]
fn errors_name_the_file_and_line() {
    let (dir, server, port) = setup("import-errors");
    let uri = format!("--uri=127.0.0.1:{port}");
    let mut text = String::new();
    for i in 0..250 {
        if i == 137 {
            text.push_str("x137, 'bad', null\n");
        } else {
            text.push_str(&format!("{i}, 'row\n{i}', null\n"));
        }
    }
    let bad = dir.0.join("bad.csv");
    fs::write(&bad, &text).unwrap();
    // one client: the rows before the failing one are in, none after
    let run = import(
        &dir.0,
        &[
            &uri,
            "--clients=1",
            "--batch=50",
            "t",
            bad.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(
        run.stderr,
        format!(
            "error: {}:275: column <id> value expected to be 'int'\n",
            bad.display()
        )
    );
    assert!(run.stdout.ends_with(", 1 errors\n"), "{}", run.stdout);
    assert_eq!(count(&server, "t"), 137);

    // a unique key violation found with many clients: every batch in flight may fail, the
    // messages come in file order
    let run = import(&dir.0, &[&uri, "t", bad.to_str().unwrap()], b"");
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.starts_with(&format!(
            "error: {}:1: index 'primary': unique key constraint violation\n",
            bad.display()
        )),
        "{}",
        run.stderr
    );

    // an unterminated string at the end of a file: found before sending it
    let open = dir.0.join("open.csv");
    fs::write(&open, "1000, 'a', null\n1001, 'b\n\n").unwrap();
    let run = import(&dir.0, &[&uri, "t", open.to_str().unwrap()], b"");
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        format!("error: {}:2: unterminated string\n", open.display())
    );

    // formats
    let json = dir.0.join("x.json");
    fs::write(&json, "[]").unwrap();
    let run = import(&dir.0, &[&uri, "t", json.to_str().unwrap()], b"");
    run.expect_err("error: unknown import format 'json'\n");
    let run = import(&dir.0, &[&uri, "t"], b"1, 'a', null\n");
    run.expect_err("error: import: reading standard input needs --format=csv or --format=jsonl\n");
    let missing = dir.0.join("missing.csv");
    let run = import(&dir.0, &[&uri, "t", missing.to_str().unwrap()], b"");
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .starts_with(&format!("error: {}: ", missing.display())),
        "{}",
        run.stderr
    );
    let run = import(&dir.0, &[&uri, "nope", bad.to_str().unwrap()], b"");
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains(":1: "), "{}", run.stderr);
}

#[test]
fn stdin_with_a_format() {
    let (dir, server, _) = setup("import-stdin");
    let repo = dir.0.join("repo");
    let mut text = String::new();
    for i in 0..1234 {
        text.push_str(&format!("{{\"id\": {i}, \"name\": \"s{i}\"}}\n"));
    }
    let run = import(
        &dir.0,
        &[
            repo.to_str().unwrap(),
            "--format=jsonl",
            "--batch=100",
            "--clients=3",
            "public.t",
        ],
        text.as_bytes(),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.starts_with("imported 1234 rows, "),
        "{}",
        run.stdout
    );
    assert_eq!(count(&server, "t"), 1234);
    // --debug=0: nothing printed
    let run = import(
        &dir.0,
        &[repo.to_str().unwrap(), "--debug=0", "--format=csv", "t"],
        b"5000, 'a', null\n5001, 'b', null",
    );
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (0, "", "")
    );
    assert_eq!(count(&server, "t"), 1236);
}
