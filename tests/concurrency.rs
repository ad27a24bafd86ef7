//! End-to-end: 32 concurrent keep-alive clients for a bounded time (5 s by default,
//! `AMELIE_E2E_SECONDS` overrides) mixing single-row inserts with unique ids and TPC-B style
//! transactions. The only error allowed is `transaction conflict, abort` (counted). Afterwards:
//! every acknowledged insert is present and no aborted one is, every balance equals the sum of
//! the acknowledged deltas (accounts, tellers, branches, history), the server still answers,
//! and the same holds after a restart.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::*;

const THREADS: usize = 32;
const ACCOUNTS: i64 = 1000;
const TELLERS: i64 = 40;
const BRANCHES: i64 = 4;
/// Ids of thread `t` are `t * ID_SPACE + k`.
const ID_SPACE: i64 = 1_000_000;
const CONFLICT: &str = "transaction conflict, abort";

fn run_seconds() -> u64 {
    std::env::var("AMELIE_E2E_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
}

#[derive(Clone, Copy, Debug)]
struct Tx {
    hid: i64,
    aid: i64,
    tid: i64,
    bid: i64,
    delta: i64,
}

#[derive(Default)]
struct Outcome {
    inserts: Vec<i64>,
    txs: Vec<Tx>,
    conflicts: u64,
    errors: Vec<String>,
}

fn setup(s: &Server) {
    s.exec("create table accounts (aid int primary key, bid int, abalance int)");
    s.exec("create table tellers (tid int primary key, bid int, tbalance int)");
    s.exec("create shared table branches (bid int primary key, bbalance int)");
    s.exec("create table history (hid int primary key, aid int, tid int, bid int, delta int)");
    s.exec("create table ins (id int primary key, t int)");
    let rows: Vec<String> = (1..=ACCOUNTS)
        .map(|a| format!("({a}, {}, 0)", (a - 1) % BRANCHES + 1))
        .collect();
    s.exec(&format!("insert into accounts values {}", rows.join(", ")));
    let rows: Vec<String> = (1..=TELLERS)
        .map(|t| format!("({t}, {}, 0)", (t - 1) % BRANCHES + 1))
        .collect();
    s.exec(&format!("insert into tellers values {}", rows.join(", ")));
    let rows: Vec<String> = (1..=BRANCHES).map(|b| format!("({b}, 0)")).collect();
    s.exec(&format!("insert into branches values {}", rows.join(", ")));
}

fn worker(port: u16, t: usize, deadline: Instant, barrier: Arc<Barrier>) -> Outcome {
    let mut out = Outcome::default();
    let mut rng = Rng::new(0x5eed + t as u64);
    let mut conn = match Client::local(port) {
        Ok(c) => c,
        Err(e) => {
            out.errors.push(format!("thread {t}: connect: {e}"));
            barrier.wait();
            return out;
        }
    };
    barrier.wait();
    let mut k: i64 = 0;
    while Instant::now() < deadline {
        k += 1;
        let id = t as i64 * ID_SPACE + k;
        let is_insert = rng.next_u64().is_multiple_of(2);
        let (sql, tx) = if is_insert {
            (format!("insert into ins values ({id}, {t})"), None)
        } else {
            let aid = rng.range(1, ACCOUNTS);
            let tid = rng.range(1, TELLERS);
            let bid = (tid - 1) % BRANCHES + 1;
            let delta = rng.range(-99, 99);
            // Binary `+` always has spaces around it; a negative delta is `x + -5`.
            let sql = format!(
                "begin; \
                 update accounts set abalance = abalance + {delta} where aid = {aid}; \
                 select abalance from accounts where aid = {aid}; \
                 update tellers set tbalance = tbalance + {delta} where tid = {tid}; \
                 update branches set bbalance = bbalance + {delta} where bid = {bid}; \
                 insert into history values ({id}, {aid}, {tid}, {bid}, {delta}); \
                 commit"
            );
            (
                sql,
                Some(Tx {
                    hid: id,
                    aid,
                    tid,
                    bid,
                    delta,
                }),
            )
        };
        match conn.sql(&sql) {
            Ok((204, body)) if body.is_empty() => match tx {
                Some(tx) => out.txs.push(tx),
                None => out.inserts.push(id),
            },
            Ok((400, body)) if body == error_body(CONFLICT) => out.conflicts += 1,
            Ok((status, body)) => {
                out.errors
                    .push(format!("thread {t}: {sql}\n  -> {status} {body}"));
                if out.errors.len() > 5 {
                    break;
                }
            }
            Err(e) => {
                // The outcome of this request is unknown; the test fails anyway.
                out.errors
                    .push(format!("thread {t}: {sql}\n  -> i/o error {e}"));
                break;
            }
        }
    }
    out
}

/// Expected balance per id from the acknowledged transactions.
fn balances(txs: &[Tx], key: impl Fn(&Tx) -> i64, ids: impl Iterator<Item = i64>) -> String {
    let mut m: BTreeMap<i64, i64> = ids.map(|i| (i, 0)).collect();
    for tx in txs {
        *m.get_mut(&key(tx)).expect("id in range") += tx.delta;
    }
    let rows: Vec<String> = m.iter().map(|(id, b)| format!("[{id}, {b}]")).collect();
    format!("[{}]", rows.join(", "))
}

fn verify(s: &Server, outcomes: &[Outcome]) {
    s.expect("select 1", 200, "[1]");

    // Inserts: exactly the acknowledged ids, per thread.
    let total_inserts: usize = outcomes.iter().map(|o| o.inserts.len()).sum();
    s.expect(
        "select count(*) from ins",
        200,
        &format!("[{total_inserts}]"),
    );
    for (t, o) in outcomes.iter().enumerate() {
        let lo = t as i64 * ID_SPACE;
        let got = int_list(&s.query(&format!(
            "select id from ins where id >= {lo} and id < {} order by id",
            lo + ID_SPACE
        )));
        assert_eq!(
            got, o.inserts,
            "thread {t}: acknowledged inserts vs table ins"
        );
    }

    // TPC-B: history holds exactly the acknowledged transactions.
    let txs: Vec<Tx> = outcomes
        .iter()
        .flat_map(|o| o.txs.iter().copied())
        .collect();
    let total_delta: i64 = txs.iter().map(|t| t.delta).sum();
    s.expect(
        "select count(*) from history",
        200,
        &format!("[{}]", txs.len()),
    );
    if !txs.is_empty() {
        s.expect(
            "select sum(delta) from history",
            200,
            &format!("[{total_delta}]"),
        );
    }
    for (t, o) in outcomes.iter().enumerate() {
        let lo = t as i64 * ID_SPACE;
        let got = int_list(&s.query(&format!(
            "select hid from history where hid >= {lo} and hid < {} order by hid",
            lo + ID_SPACE
        )));
        let want: Vec<i64> = o.txs.iter().map(|t| t.hid).collect();
        assert_eq!(
            got, want,
            "thread {t}: acknowledged transactions vs history"
        );
    }

    // Balances: totals and per row.
    for (table, col) in [
        ("accounts", "abalance"),
        ("tellers", "tbalance"),
        ("branches", "bbalance"),
    ] {
        s.expect(
            &format!("select sum({col}) from {table}"),
            200,
            &format!("[{total_delta}]"),
        );
    }
    s.expect(
        "select aid, abalance from accounts order by aid",
        200,
        &balances(&txs, |t| t.aid, 1..=ACCOUNTS),
    );
    s.expect(
        "select tid, tbalance from tellers order by tid",
        200,
        &balances(&txs, |t| t.tid, 1..=TELLERS),
    );
    s.expect(
        "select bid, bbalance from branches order by bid",
        200,
        &balances(&txs, |t| t.bid, 1..=BRANCHES),
    );
}

#[test]
fn concurrent_inserts_and_tpcb() {
    let dir = TestDir::new("concurrency");
    let repo = dir.repo();
    let args = ["--backends=3", "--frontends=2"];
    let mut s = Server::start(&repo, &args);
    setup(&s);

    let seconds = run_seconds();
    let barrier = Arc::new(Barrier::new(THREADS + 1));
    // Deadline counted from when all threads are connected.
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds) + Duration::from_millis(500);
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let b = barrier.clone();
            let port = s.port;
            std::thread::spawn(move || worker(port, t, deadline, b))
        })
        .collect();
    barrier.wait();
    let outcomes: Vec<Outcome> = handles
        .into_iter()
        .map(|h| h.join().expect("client thread panicked"))
        .collect();
    let elapsed = start.elapsed();

    let errors: Vec<&String> = outcomes.iter().flat_map(|o| o.errors.iter()).collect();
    let inserts: usize = outcomes.iter().map(|o| o.inserts.len()).sum();
    let txs: usize = outcomes.iter().map(|o| o.txs.len()).sum();
    let conflicts: u64 = outcomes.iter().map(|o| o.conflicts).sum();
    eprintln!(
        "concurrency: {THREADS} clients, {:.1}s: {inserts} inserts, {txs} tpcb transactions, \
         {conflicts} conflicts ({:.0} req/s)",
        elapsed.as_secs_f64(),
        (inserts + txs + conflicts as usize) as f64 / elapsed.as_secs_f64()
    );
    s.assert_running();
    assert!(
        errors.is_empty(),
        "{} unexpected errors, first ones:\n{}",
        errors.len(),
        errors
            .iter()
            .take(10)
            .map(|e| e.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(inserts > 0, "no insert was acknowledged");
    assert!(txs > 0, "no TPC-B transaction was acknowledged");

    verify(&s, &outcomes);
    s.stop();

    // Everything acknowledged survives a restart.
    let mut s = Server::start(&repo, &args);
    verify(&s, &outcomes);
    s.stop();
}
