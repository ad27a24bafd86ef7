//! Soak test: 32 clients for a minute against one server, three of every four sending valid
//! transactions (bank transfers between 1,000 accounts, inserts of unique ids, reads), one
//! of every four sending hostile requests (memory bombs, huge strings, deep names, paths and
//! values, more columns and statements than the compiler counts, malformed HTTP and JSON,
//! clients that leave mid-request). Then the
//! server is stopped and started again.
//!
//! It checks that every hostile request is answered with a clear error (or the connection is
//! refused cleanly), that valid transactions keep committing meanwhile (a valid write may
//! only fail because a failed write before it in the global order aborted it), that the
//! bank total never changes, that every acknowledged insert survives the restart, and that
//! the server's resident memory stays under [`RSS_BOUND`].
//!
//! `AMELIE_SOAK_SECONDS` sets the duration (default 60).

mod common;

use std::collections::HashSet;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

const CLIENTS: usize = 32;
const ACCOUNTS: i64 = 1000;
const INITIAL: i64 = 1000;

/// Per-request and server-wide memory budgets the soak runs with.
const LIMIT_MEMORY: u64 = 64 << 20;
const LIMIT_MEMORY_TOTAL: u64 = 256 << 20;

/// Resident memory the server must stay under: the server-wide budget, plus what requests
/// keep outside it (request bodies up to `limit_recv`, replies, parse trees), plus the
/// tables and the allocator's slack.
const RSS_BOUND: u64 = 1 << 30;

/// The error a valid transaction may get: a write before it in the global order failed.
const ABORTED: &str = "transaction conflict, abort";

fn seconds() -> u64 {
    std::env::var("AMELIE_SOAK_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60)
}

fn start(dir: &std::path::Path) -> Server {
    let memory = format!("--limit_memory={LIMIT_MEMORY}");
    let total = format!("--limit_memory_total={LIMIT_MEMORY_TOTAL}");
    Server::start(dir, &["--backends=2", "--frontends=2", &memory, &total])
}

/// One hostile request: the bytes to send on a fresh connection, and whether the client
/// leaves before the answer.
struct Hostile {
    name: &'static str,
    raw: Vec<u8>,
    leave: bool,
    /// The right answer when it is not an error.
    value: Option<&'static str>,
}

fn post(sql: &str) -> Vec<u8> {
    post_bytes("/", "text/plain", sql.as_bytes())
}

fn post_bytes(path: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    req
}

fn hostile_requests() -> Vec<Hostile> {
    let s1000 = "a".repeat(1000);
    let cross = "with a as (select id from junk) select x.id from a x, a y, a z";
    let h = |name, raw| Hostile {
        name,
        raw,
        leave: false,
        value: None,
    };
    vec![
        // case 4: memory without bound, and work that outlives its client
        h("cross join", post(cross)),
        h("generate", post("insert into junk generate 100000000")),
        h(
            "string bomb",
            post(&format!(
                "select length(replace(replace('{s1000}', 'a', '{s1000}'), 'a', '{s1000}'))"
            )),
        ),
        Hostile {
            name: "client leaves",
            raw: post(cross),
            leave: true,
            value: None,
        },
        // case 6: a parse over a megabyte of blanks
        Hostile {
            value: Some("[1]"),
            ..h(
                "blanks",
                post(&format!("select 1{}", " ".repeat(1_000_000))),
            )
        },
        // oversized body
        h("oversized", post(&"x".repeat(2 << 20))),
        // bad SQL, bad JSON, bad HTTP
        h("bad sql", post("selec 1 from from")),
        h(
            "bad json",
            post_bytes("/v1/db/public/acc", "application/json", b"[[1, 2], [3"),
        ),
        h("bad http", b"POST / HTTP/1.1\r\nContent-Length: zz\r\n\r\n".to_vec()),
        h(
            "bad chunk",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n"
                .to_vec(),
        ),
        // cases 1-3: deep names, paths and values, and more than the compiler can count
        h(
            "deep update path",
            post(&format!("update tj set j.{} = 1", vec!["a"; 20_000].join("."))),
        ),
        h(
            "deep field access",
            post(&format!("select {{\"a\":1}}.{}", vec!["a"; 60_000].join("."))),
        ),
        h(
            "deep set path",
            post(&format!("select set({{}}, '{}', 1)", vec!["a"; 30_000].join("."))),
        ),
        h(
            "deep value",
            post(&format!("select {}1{}", "[".repeat(12_501), "]".repeat(12_501))),
        ),
        h(
            "wrap",
            post(&format!("update tj set j = [{}j{}]", "[".repeat(300), "]".repeat(300))),
        ),
        h(
            "many columns",
            post(&format!("select {} from junk", vec!["id"; 32_768].join(", "))),
        ),
        h(
            "many constants",
            post(&format!("select {}", vec!["1"; 40_000].join(", "))),
        ),
        h("many statements", post(&"select 1;".repeat(100_000))),
        // a duplicate key: the failing write aborts those behind it in the global order
        h("duplicate", post("insert into acc values (1, 0)")),
    ]
}

/// Sends one hostile request; panics unless it is answered with a 4xx carrying a message or
/// the connection is closed without an answer where that is the right outcome.
fn send_hostile(port: u16, req: &Hostile) {
    let Ok(mut conn) = Client::local(port) else {
        return;
    };
    if conn.send_bytes(&req.raw).is_err() {
        return; // the server closed an oversized body early
    }
    if req.leave {
        std::thread::sleep(Duration::from_millis(20));
        return;
    }
    let _ = conn.stream().flush();
    match conn.read_response() {
        Ok(r) => {
            let body = r.text();
            if let Some(value) = req.value {
                // a body past 64 KiB reserves its size from the server's pool, which the
                // memory bombs of the other hostile clients may hold at that moment
                let pool_full =
                    r.status == 400 && body == error_body("server memory limit reached");
                assert!(
                    (r.status, body.as_str()) == (200, value) || pool_full,
                    "{}: answered {} {body}",
                    req.name,
                    r.status
                );
                return;
            }
            assert!(
                (400..500).contains(&r.status),
                "{}: answered {} {body}",
                req.name,
                r.status
            );
            // malformed HTTP too: hyper's own empty 400 gets a message (crates/http/src/io.rs)
            assert!(
                r.status != 400 || body.starts_with("{\"msg\": "),
                "{}: a 400 without a message: {body}",
                req.name
            );
        }
        Err(e) => {
            // only a body past the limit may be cut off by the close
            assert!(req.name == "oversized", "{}: no answer ({e})", req.name);
        }
    }
}

#[derive(Default)]
struct Tally {
    valid: AtomicU64,
    aborted: AtomicU64,
    hostile: AtomicU64,
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

// A debug build is an order of magnitude slower: its heavy requests hold the global order for
// seconds. CI runs this in release (`cargo xtask soak`, `.ci/run`).
#[cfg_attr(debug_assertions, ignore = "run in release: cargo xtask soak")]
#[test]
fn valid_and_hostile_clients_for_a_minute_then_a_restart() {
    let dir = TestDir::new("soak");
    let mut server = start(&dir.repo());
    server.exec("create table acc (id int primary key, balance int)");
    server.exec("create table ins (id bigint primary key, client int)");
    server.exec("create table junk (id int primary key serial)");
    server.exec("create table tj (id int primary key, j json)");
    server.exec("insert into tj values (1, {\"a\": 1})");
    server.exec("insert into junk generate 400");
    let rows: Vec<String> = (0..ACCOUNTS).map(|a| format!("({a}, {INITIAL})")).collect();
    server.exec(&format!("insert into acc values {}", rows.join(", ")));

    let acked: Arc<Mutex<HashSet<i64>>> = Arc::default();
    let tally: Arc<Tally> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let hostile = Arc::new(hostile_requests());
    let port = server.port;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (stop, acked, tally, hostile) =
                (stop.clone(), acked.clone(), tally.clone(), hostile.clone());
            std::thread::spawn(move || {
                let mut rng = Rng::new(c as u64 + 7);
                if c % 4 == 3 {
                    let mut i = c;
                    while !stop.load(Ordering::Relaxed) {
                        send_hostile(port, &hostile[i % hostile.len()]);
                        tally.hostile.fetch_add(1, Ordering::Relaxed);
                        i += 1 + (rng.next_u64() % 3) as usize;
                    }
                    return;
                }
                let mut conn = Client::local(port).expect("connect");
                let mut k = 0i64;
                while !stop.load(Ordering::Relaxed) {
                    let pick = rng.next_u64() % 10;
                    let (sql, id) = if pick < 5 {
                        let from = (rng.next_u64() % ACCOUNTS as u64) as i64;
                        let to = (from + 1 + (rng.next_u64() % 10) as i64) % ACCOUNTS;
                        let x = (rng.next_u64() % 50) as i64 + 1;
                        (
                            format!(
                                "update acc set balance = balance - {x} where id = {from}; \
                                 update acc set balance = balance + {x} where id = {to}"
                            ),
                            None,
                        )
                    } else if pick < 9 {
                        let id = c as i64 * 1_000_000_000 + k;
                        k += 1;
                        (format!("insert into ins values ({id}, {c})"), Some(id))
                    } else {
                        ("select sum(balance) from acc".to_string(), None)
                    };
                    let (status, body) = conn
                        .sql(&sql)
                        .unwrap_or_else(|e| panic!("client {c}: {sql}: no answer: {e}"));
                    match status {
                        200 if id.is_none() && sql.starts_with("select") => {
                            assert_eq!(
                                body,
                                format!("[{}]", ACCOUNTS * INITIAL),
                                "bank total changed"
                            );
                        }
                        204 => {
                            if let Some(id) = id {
                                acked.lock().expect("acked").insert(id);
                            }
                        }
                        400 if body.contains(ABORTED) => {
                            tally.aborted.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                        _ => panic!("client {c}: {sql}: {status} {body}"),
                    }
                    tally.valid.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();

    let pid = server.pid();
    let started = Instant::now();
    let mut rss_max = 0;
    let mut last_valid = 0;
    let mut stalled_for = Duration::ZERO;
    while started.elapsed() < Duration::from_secs(seconds()) {
        std::thread::sleep(Duration::from_millis(250));
        rss_max = rss_max.max(rss_kib(pid, "VmRSS:"));
        // valid work keeps being answered: never a whole 10 s without an answer
        let valid = tally.valid.load(Ordering::Relaxed) + tally.aborted.load(Ordering::Relaxed);
        if valid == last_valid {
            stalled_for += Duration::from_millis(250);
            assert!(
                stalled_for < Duration::from_secs(10),
                "no valid transaction answered for 10 s"
            );
        } else {
            stalled_for = Duration::ZERO;
        }
        last_valid = valid;
        if clients.iter().any(|c| c.is_finished()) {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().expect("client thread");
    }
    server.assert_running();
    let hwm = rss_kib(pid, "VmHWM:");
    eprintln!(
        "soak: {:?}: {} valid transactions, {} aborted by a failed write before them, \
         {} hostile requests; RSS max sampled {} MiB, high-water mark {} MiB (bound {} MiB)",
        started.elapsed(),
        tally.valid.load(Ordering::Relaxed),
        tally.aborted.load(Ordering::Relaxed),
        tally.hostile.load(Ordering::Relaxed),
        rss_max / 1024,
        hwm / 1024,
        RSS_BOUND >> 20
    );
    assert!(
        hwm * 1024 < RSS_BOUND,
        "resident memory reached {} MiB",
        hwm / 1024
    );
    assert!(tally.valid.load(Ordering::Relaxed) > 0);
    assert!(tally.hostile.load(Ordering::Relaxed) > 0);
    // nothing of the failed hostile writes stayed
    server.expect("select count(*) from junk", 200, "[400]");

    server.stop();
    let server = start(&dir.repo());
    server.expect(
        "select sum(balance) from acc",
        200,
        &format!("[{}]", ACCOUNTS * INITIAL),
    );
    let ids: Vec<i64> = serde_json::from_str(&server.query("select id from ins")).expect("ids");
    let present: HashSet<i64> = ids.into_iter().collect();
    let acked = acked.lock().expect("acked");
    let missing = acked.iter().filter(|id| !present.contains(id)).count();
    assert_eq!(missing, 0, "acknowledged inserts lost after the restart");
    assert!(!acked.is_empty());
    server.expect("select count(*) from junk", 200, "[400]");
    server.expect("select j.a from tj", 200, "[1]");
}
