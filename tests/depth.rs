//! End-to-end: hostile depth and size (issue 13, points 1-3). Deeply nested names, paths and
//! json values, and statements that need more registers, columns or statements than the
//! compiler can count, are answered with a clear 400 `{"msg": ...}` (or the right value); the
//! server keeps answering `select 1` and table queries afterwards, and restarts with every
//! acknowledged row.

mod common;

use common::*;

/// `Server::post` without the whole (huge) request in its failure message.
#[track_caller]
fn post(s: &Server, sql: &str) -> (u16, String) {
    let head: String = sql.chars().take(60).collect();
    s.conn()
        .sql(sql)
        .unwrap_or_else(|e| panic!("request {head}... failed: {e}\nstderr:\n{}", s.stderr()))
}

/// `post` that must answer 400 with a `{"msg": ...}` body; returns the body.
#[track_caller]
fn refused(s: &Server, sql: &str) -> String {
    let (status, body) = post(s, sql);
    let head: String = sql.chars().take(60).collect();
    assert_eq!(status, 400, "request: {head}...\nbody: {body}");
    assert!(
        body.starts_with("{\"msg\": \""),
        "request: {head}...\nbody: {body}"
    );
    body
}

/// The server is up: `select 1` and a table query answer.
#[track_caller]
fn healthy(s: &mut Server, table_count: &str) {
    s.assert_running();
    s.expect("select 1", 200, "[1]");
    s.expect("select count(*) from t", 200, table_count);
}

fn setup(s: &Server) {
    s.exec("create table t (id int primary key, v int)");
    s.exec("insert into t values (1, 10), (2, 20), (3, 30)");
}

fn repeat_joined(part: &str, n: usize, sep: &str) -> String {
    vec![part; n].join(sep)
}

#[test]
fn deep_update_path_then_checkpoint_and_restart() {
    let dir = TestDir::new("depth-update");
    let repo = dir.repo();
    let mut s = Server::start(&repo, &[]);
    setup(&s);
    s.exec("create table tj (id int primary key, j json)");
    s.exec("insert into tj values (1, {})");
    for parts in [8_000, 20_000] {
        let sql = format!("update tj set j.{} = 1", repeat_joined("a", parts, "."));
        let body = refused(&s, &sql);
        assert!(body.contains("too deep"), "{body}");
        healthy(&mut s, "[3]");
    }
    // a path within the limit still works
    s.exec("update tj set j.a.b = 1");
    s.expect("select j.a.b from tj", 200, "[1]");
    // repeated wrapping cannot grow a stored value past the limit either
    s.exec("update tj set j = [1]");
    let mut refused_at = None;
    for i in 0..300 {
        let (status, body) = post(&s, "update tj set j = [j]");
        if status != 204 {
            assert_eq!(status, 400, "{body}");
            assert!(body.contains("too deep"), "{body}");
            refused_at = Some(i);
            break;
        }
    }
    assert!(refused_at.is_some(), "wrapping was never refused");
    s.exec("checkpoint");
    s.stop();
    let mut s = Server::start(&repo, &[]);
    healthy(&mut s, "[3]");
    s.expect("select count(*) from tj", 200, "[1]");
    s.stop();
}

#[test]
fn deep_fields_paths_and_values_are_refused() {
    let dir = TestDir::new("depth-json");
    let repo = dir.repo();
    let mut s = Server::start(&repo, &[]);
    setup(&s);
    // `.a` 60,000 times after a json literal
    refused(
        &s,
        &format!("select {{\"a\":1}}.{}", repeat_joined("a", 60_000, ".")),
    );
    healthy(&mut s, "[3]");
    // a 30,000-part path string
    let body = refused(
        &s,
        &format!("select set({{}}, '{}', 1)", repeat_joined("a", 30_000, ".")),
    );
    assert!(body.contains("too deep"), "{body}");
    healthy(&mut s, "[3]");
    // a path within the limit
    s.expect("select set({}, 'a.b', 1).a.b", 200, "[1]");
    // a 12,001-deep value wrapped 500 more times: as a literal, as json text, and by calls
    let depth = 12_501;
    refused(
        &s,
        &format!("select {}1{}", "[".repeat(depth), "]".repeat(depth)),
    );
    healthy(&mut s, "[3]");
    refused(
        &s,
        &format!(
            "select json_import('{}1{}')",
            "[".repeat(depth),
            "]".repeat(depth)
        ),
    );
    healthy(&mut s, "[3]");
    refused(
        &s,
        &format!(
            "select {}[]{}",
            "append([], ".repeat(depth),
            ")".repeat(depth)
        ),
    );
    healthy(&mut s, "[3]");
    // deep json through the import path: refused, nothing inserted
    s.exec("create table ti (id int primary key, j json)");
    let deep = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
    for (ct, body) in [
        ("application/jsonl", format!("[1, {deep}]")),
        ("application/json", format!("[[1, {deep}]]")),
    ] {
        let r = s.post_with(Some(ct), "/public/ti", body.as_bytes());
        assert_eq!(r.status, 400, "{ct}: {}", r.text());
        assert!(r.text().starts_with("{\"msg\": \""), "{ct}: {}", r.text());
        healthy(&mut s, "[3]");
    }
    // json within the limit imports
    let ok = format!("[1, {}1{}]", "[".repeat(100), "]".repeat(100));
    let r = s.post_with(Some("application/jsonl"), "/public/ti", ok.as_bytes());
    assert_eq!(r.status, 204, "{}", r.text());
    s.expect("select count(*) from ti", 200, "[1]");
    // a long dotted column name
    refused(
        &s,
        &format!("select t.{} from t", repeat_joined("v", 60_000, ".")),
    );
    healthy(&mut s, "[3]");
    s.stop();
    let mut s = Server::start(&repo, &[]);
    healthy(&mut s, "[3]");
    s.expect("select count(*) from ti", 200, "[1]");
    s.stop();
}

#[test]
fn compiler_counters_are_checked() {
    let dir = TestDir::new("depth-counters");
    let repo = dir.repo();
    let mut s = Server::start(&repo, &[]);
    setup(&s);
    // 32,768 output columns
    let body = refused(
        &s,
        &format!("select {} from t", repeat_joined("v", 32_768, ", ")),
    );
    assert!(body.contains("too many"), "{body}");
    healthy(&mut s, "[3]");
    // a 33,000-item IN list
    let list: Vec<String> = (0..33_000).map(|i| i.to_string()).collect();
    let sql = format!("select count(*) from t where v in ({})", list.join(", "));
    let (status, body) = post(&s, &sql);
    assert!(
        (status, body.as_str()) == (200, "[3]") || (status == 400 && body.contains("too many")),
        "{status} {body}"
    );
    healthy(&mut s, "[3]");
    // 40,000 constant columns
    let body = refused(&s, &format!("select {}", repeat_joined("1", 40_000, ", ")));
    assert!(body.contains("too many"), "{body}");
    healthy(&mut s, "[3]");
    // lists within the limit, but more registers than a program can address in total
    let wide = format!("select {} from t;", repeat_joined("v", 8_000, ", "));
    let body = refused(&s, &wide.repeat(12));
    assert!(body.contains("too many expressions"), "{body}");
    healthy(&mut s, "[3]");
    // 100,000 statements in one request
    let body = refused(&s, &"select 1;".repeat(100_000));
    assert!(body.contains("too many"), "{body}");
    healthy(&mut s, "[3]");
    s.exec("insert into t values (4, 40)");
    s.stop();
    let mut s = Server::start(&repo, &[]);
    healthy(&mut s, "[4]");
    s.stop();
}
