//! End-to-end tests of `amelie bench` against the real `amelie-server`: every type of
//! Amelie's benchmark for 2 s, over the repository's unix socket and over TCP, with Amelie's
//! output lines checked, `--init=false` on tables as they are, and the errors a user meets.
//! (Over TLS: `tls.rs`.)
//!
//! The harness (starting and stopping the server, running `amelie`) is `common/mod.rs`.

mod common;

use common::{amelie, free_port, tcp, Run, Server, TempDir};

/// The numbers of a finished run, after its lines were checked: `seconds` per-second lines
/// (each `N transactions/sec, X millions writes/sec (W)` with W = N x `writes_per_tx`, or
/// only `N transactions/sec` before any write), then the totals.
fn check_output(run: &Run, kind: &str, seconds: u64, clients: usize, writes_per_tx: u64) -> u64 {
    assert_eq!(
        run.code, 0,
        "stdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    let header = format!(
        "amelie benchmark.\n\ntype:    {kind}\ntime:    {seconds} sec\nthreads: 1\n\
         clients: {clients} ({clients} per thread)\nscale:   1\n\n"
    );
    let body = run
        .stdout
        .strip_prefix(&header)
        .unwrap_or_else(|| panic!("header of {kind}:\n{}", run.stdout));
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len() as u64, seconds + 3, "{}", run.stdout);
    let mut sum = 0;
    for line in &lines[..seconds as usize] {
        let (tx, rest) = line
            .split_once(" transactions/sec")
            .unwrap_or_else(|| panic!("a second's line: {line}"));
        let tx: u64 = tx.parse().unwrap();
        sum += tx;
        if !rest.is_empty() {
            let writes = tx * writes_per_tx;
            assert_eq!(
                rest,
                format!(
                    ", {:.2} millions writes/sec ({writes})",
                    writes as f64 / 1e6
                ),
                "{line}"
            );
        } else {
            assert_eq!(sum, 0, "writes are shown once any was counted: {line}");
        }
    }
    assert_eq!(lines[seconds as usize], "");
    let total: u64 = lines[seconds as usize + 1]
        .strip_prefix("transactions: ")
        .unwrap_or_else(|| panic!("{}", run.stdout))
        .parse()
        .unwrap();
    // the last replies may come in after the last second's line
    assert!(total > 0 && total >= sum, "{}", run.stdout);
    let writes = total * writes_per_tx;
    assert_eq!(
        lines[seconds as usize + 2],
        format!(
            "writes:       {:.2} millions writes ({writes})",
            writes as f64 / 1e6
        )
    );
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    total
}

#[test]
fn every_type_for_two_seconds() {
    let tmp = TempDir::new("bench");
    let repo = tmp.0.join("repo");
    let home = tmp.0.join("home");
    let port = free_port();
    let server = Server::start_listen(&repo, &format!("[{}]", tcp(port, false)));
    let repo_arg = server.repo_arg();
    for kind in ["insert", "upsert", "import", "resolved"] {
        let run = amelie(
            &home,
            &[
                "bench",
                &repo_arg,
                &format!("--type={kind}"),
                "--time=2",
                "--threads=1",
                "--clients=2",
                "--batch=100",
            ],
            "",
        );
        check_output(&run, kind, 2, 2, 100);
        // --init=true drops __bench at the end
        assert_eq!(
            server.sql("select count(*) from __bench.test"),
            None,
            "{kind} left __bench behind"
        );
    }

    // TPC-B over TCP: the set-up loads 100,011 rows one request per row, and each committed
    // transaction counts 4 writes
    let uri = format!("--uri=127.0.0.1:{port}");
    let run = amelie(
        &home,
        &[
            "bench",
            &uri,
            "--type=tpcb",
            "--time=2",
            "--threads=1",
            "--clients=4",
            "--init=true",
        ],
        "",
    );
    check_output(&run, "tpcb", 2, 4, 4);
    assert_eq!(server.sql("select count(*) from __bench.history"), None);
}

#[test]
fn init_false_runs_on_the_tables_as_they_are() {
    let tmp = TempDir::new("bench-noinit");
    let repo = tmp.0.join("repo");
    let home = tmp.0.join("home");
    let server = Server::start_listen(&repo, "[]");
    let repo_arg = server.repo_arg();
    server.sql("create schema __bench").unwrap();
    server
        .sql("create unlogged table __bench.test (id int primary key serial)")
        .unwrap();
    server.sql("insert into __bench.test generate 7").unwrap();
    let run = amelie(
        &home,
        &[
            "bench",
            &repo_arg,
            "--type=insert",
            "--init=false",
            "--time=1",
            "--threads=1",
            "--clients=1",
            "--batch=10",
        ],
        "",
    );
    let total = check_output(&run, "insert", 1, 1, 10);
    // the table stays, with the rows of before and the bench's
    let rows: u64 = server
        .sql("select count(*) from __bench.test")
        .unwrap()
        .trim_matches(|c| c == '[' || c == ']')
        .parse()
        .unwrap();
    assert_eq!(rows, 7 + total * 10);

    // --unlogged=true: the tables are created UNLOGGED (and dropped again at the end)
    let run = amelie(
        &home,
        &[
            "bench",
            &repo_arg,
            "--type=upsert",
            "--unlogged=true",
            "--time=1",
            "--threads=2",
            "--clients=2",
            "--batch=10",
        ],
        "",
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run
        .stdout
        .contains("threads: 2\nclients: 2 (1 per thread)\n"));
}

#[test]
fn errors_a_user_meets() {
    let tmp = TempDir::new("bench-errors");
    let repo = tmp.0.join("repo");
    let home = tmp.0.join("home");
    let server = Server::start_listen(&repo, "[]");
    let repo_arg = server.repo_arg();
    amelie(&home, &["bench", &repo_arg, "--type=select"], "")
        .expect_err("error: unknown benchmark type 'select'\n");
    amelie(&home, &["bench", &repo_arg, "--clients=0"], "")
        .expect_err("error: option 'clients': positive integer value expected\n");
    amelie(&home, &["bench", &repo_arg, "--frobnicate=1"], "")
        .expect_err("error: option 'frobnicate' is not found\n");
    // nothing listens on that port: no header, the connection error
    let port = free_port();
    let run = amelie(&home, &["bench", &format!("--uri=127.0.0.1:{port}")], "");
    assert_eq!(run.code, 1);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(
        run.stderr
            .starts_with(&format!("error: connect to 127.0.0.1:{port}: ")),
        "{}",
        run.stderr
    );
    // --init=false without the tables: every request fails, counted on stderr, exit 1
    let run = amelie(
        &home,
        &[
            "bench",
            &repo_arg,
            "--type=insert",
            "--init=false",
            "--time=1",
            "--threads=1",
            "--clients=1",
        ],
        "",
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout
            .ends_with("\ntransactions: 0\nwrites:       0.00 millions writes (0)\n"),
        "{}",
        run.stdout
    );
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert!(lines.len() == 2, "{}", run.stderr);
    assert!(lines[0].starts_with("errors: "), "{}", run.stderr);
    assert!(lines[0].contains(" x "), "{}", run.stderr);
    assert_eq!(lines[1], "error: bench: no transaction committed");
}
