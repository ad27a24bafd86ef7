//! End-to-end: `GET /metrics` of a real server (`--metrics=true`) in the Prometheus text
//! format, its counters moving with the requests; off (the default) the path answers like
//! any unknown GET. And the per-thread CPU of `SHOW STATUS`.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use amelie_testclient::Request;
use common::*;

/// Samples of a metrics text: `name{labels}` → value. Checks the format on the way: every
/// line is a comment (`# HELP` / `# TYPE`) or `name[{labels}] value`, and every sample's
/// metric has a `# TYPE` line before it.
fn parse(text: &str) -> HashMap<String, f64> {
    let mut typed = Vec::new();
    let mut out = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut w = rest.split(' ');
            let (Some(name), Some(kind)) = (w.next(), w.next()) else {
                panic!("bad TYPE line {line:?}");
            };
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            typed.push(name.to_string());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (key, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line:?}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line:?}"));
        let name = key.split('{').next().unwrap();
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| typed.iter().any(|t| t == f))
            })
            .unwrap_or(name);
        assert!(typed.iter().any(|t| t == family), "no TYPE for {line}");
        out.insert(key.to_string(), value);
    }
    out
}

fn scrape(s: &Server) -> HashMap<String, f64> {
    let r = s
        .conn()
        .request(&Request::new("GET", "/metrics"))
        .expect("GET /metrics");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    parse(&r.text())
}

#[test]
fn metrics_count_requests_transactions_and_wal() {
    let dir = TestDir::new("metrics_on");
    let s = Server::start(&dir.repo(), &["--metrics=true"]);
    let before = scrape(&s);
    s.exec("create table t (id int primary key, v int)");
    for i in 0..20 {
        s.exec(&format!("insert into t values ({i}, {i})"));
    }
    s.expect_error(
        "insert into t values (1, 1)",
        "index 'primary': unique key constraint violation",
    );
    s.expect("select count(*) from t", 200, "[20]");
    let after = scrape(&s);
    let moved =
        |k: &str| after.get(k).copied().unwrap_or(-1.0) - before.get(k).copied().unwrap_or(0.0);
    assert!(
        moved("amelie_http_requests_total{code=\"2xx\"}") >= 22.0,
        "{after:?}"
    );
    assert!(moved("amelie_http_requests_total{code=\"4xx\"}") >= 1.0);
    assert!(moved("amelie_http_request_duration_seconds_count") >= 23.0);
    assert!(moved("amelie_transactions_total") >= 21.0);
    assert!(moved("amelie_commits_total") >= 20.0);
    assert!(moved("amelie_aborts_total") >= 1.0);
    assert!(moved("amelie_wal_bytes_total") > 0.0);
    assert!(moved("amelie_wal_writes_total") >= 20.0);
    assert!(moved("amelie_group_commit_transactions_count") >= 1.0);
    assert!(moved("amelie_connections_total") >= 23.0);
    assert!(after["amelie_connections"] >= 1.0);
    assert!(after["amelie_lsn"] >= 21.0);
    // one queue gauge per compute node (3 in the tests)
    let queues = after
        .keys()
        .filter(|k| k.starts_with("amelie_node_queue_depth{node=\""))
        .count();
    assert_eq!(queues, 3, "{after:?}");
    // fsyncs: the default does not sync on write
    assert!(after.contains_key("amelie_wal_fsyncs_total"));
    // no backup runs
    assert_eq!(after.get("amelie_wal_slots"), Some(&0.0));
}

#[test]
fn metrics_off_is_an_unknown_path() {
    let dir = TestDir::new("metrics_off");
    let s = Server::start(&dir.repo(), &[]);
    // (not half-closed: the server takes a half-close for a client gone away)
    let get = |path: &str| {
        let mut c = s.conn();
        let r = c.request(&Request::new("GET", path)).expect("GET");
        (r.status_line, r.headers, r.body, r.close)
    };
    let metrics = get("/metrics");
    assert_eq!(metrics, get("/nothing"));
    assert_eq!(metrics.0, "HTTP/1.1 403 Forbidden");
    assert!(metrics.3, "the connection closes");
    // and the option is not in SHOW ALL
    assert!(!s.query("show all format 'json'").contains("\"metrics\":"));
}

#[test]
fn show_status_samples_thread_cpu() {
    let dir = TestDir::new("status_cpu");
    let s = Server::start(&dir.repo(), &["--frontends=2"]);
    // the first sample is taken at start, the load is then refreshed every second
    std::thread::sleep(Duration::from_millis(1300));
    let status = json(&s.query("show status format 'json'"));
    let process = &status[0]["process"];
    let frontends = process["cpu_frontends"].as_array().expect("cpu_frontends");
    let backends = process["cpu_backends"].as_array().expect("cpu_backends");
    assert_eq!(frontends.len(), 2, "{process}");
    assert_eq!(backends.len(), 3, "{process}");
    for v in frontends.iter().chain(backends) {
        let v = v.as_i64().expect("an integer");
        assert!((0..=100).contains(&v), "{process}");
    }
    let cpu = process["cpu"].as_i64().expect("cpu");
    assert!((0..=100).contains(&cpu));
}
