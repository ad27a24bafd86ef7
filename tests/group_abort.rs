//! End-to-end: group abort under concurrency. 16 clients run transfers between accounts on
//! 3 nodes; a quarter of them end with `select error("boom")` and must leave no trace, and
//! transactions in flight behind a failing one may be aborted with
//! `transaction conflict, abort`. Afterwards every balance equals the sum of the acknowledged
//! transfers exactly, and the total is unchanged.

mod common;

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::*;

const THREADS: usize = 16;
const ACCOUNTS: i64 = 50;
const INITIAL: i64 = 1000;
const CONFLICT: &str = "transaction conflict, abort";

#[test]
fn failing_transactions_leave_no_trace_under_concurrency() {
    let dir = TestDir::new("group_abort");
    let server = Server::start(&dir.repo(), &["--backends=3", "--frontends=2"]);
    server.exec("create table acc (id int primary key, balance int)");
    let rows: Vec<String> = (0..ACCOUNTS).map(|a| format!("({a}, {INITIAL})")).collect();
    server.exec(&format!("insert into acc values {}", rows.join(", ")));

    let port = server.port;
    let barrier = Arc::new(Barrier::new(THREADS));
    let deadline = Duration::from_secs(3);
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut conn = Client::local(port).expect("connect");
                let mut rng = Rng::new(t as u64 + 7);
                let mut applied = vec![0i64; ACCOUNTS as usize];
                let (mut ok, mut failed, mut conflicts) = (0u64, 0u64, 0u64);
                barrier.wait();
                let start = Instant::now();
                while start.elapsed() < deadline {
                    let from = (rng.next_u64() % ACCOUNTS as u64) as i64;
                    let to =
                        (from + 1 + (rng.next_u64() % (ACCOUNTS as u64 - 1)) as i64) % ACCOUNTS;
                    let amount = (rng.next_u64() % 100) as i64 + 1;
                    let fail = rng.next_u64().is_multiple_of(4);
                    let mut sql = format!(
                        "update acc set balance = balance - {amount} where id = {from}; \
                         update acc set balance = balance + {amount} where id = {to}"
                    );
                    if fail {
                        sql.push_str("; select error(\"boom\")");
                    }
                    let (status, body) = conn.sql(&sql).expect("request");
                    match status {
                        204 => {
                            assert!(!fail, "a failing transaction was acknowledged");
                            applied[from as usize] -= amount;
                            applied[to as usize] += amount;
                            ok += 1;
                        }
                        400 if fail && body == r#"{"msg": "boom"}"# => failed += 1,
                        400 if body == format!(r#"{{"msg": "{CONFLICT}"}}"#) => conflicts += 1,
                        _ => panic!("unexpected reply {status} {body} to {sql}"),
                    }
                }
                (applied, ok, failed, conflicts)
            })
        })
        .collect();

    let mut expected = vec![INITIAL; ACCOUNTS as usize];
    let (mut ok, mut failed) = (0, 0);
    for h in handles {
        let (applied, o, f, _c) = h.join().expect("client thread");
        for (e, a) in expected.iter_mut().zip(applied) {
            *e += a;
        }
        ok += o;
        failed += f;
    }
    assert!(
        ok > 0 && failed > 0,
        "both outcomes must occur (ok {ok}, failed {failed})"
    );
    let body = server.query("select balance from acc order by id");
    let got: Vec<i64> = serde_json::from_str(&body).expect("balances");
    assert_eq!(
        got, expected,
        "balances differ from the acknowledged transfers"
    );
    assert_eq!(got.iter().sum::<i64>(), INITIAL * ACCOUNTS);
}
