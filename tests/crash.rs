//! End-to-end crash test: bank transfers between 1,000 accounts plus inserts of unique ids by
//! 16 clients, `kill -9` at a random moment, restart, repeat. After every restart: every
//! acknowledged insert is present, no transfer is half-applied (the bank total is unchanged),
//! and every other iteration takes a CHECKPOINT in the middle of the load. CI runs a reduced
//! form (3 iterations); `AMELIE_CRASH_ITERATIONS=20` runs the full one.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;

const CLIENTS: usize = 16;
const ACCOUNTS: i64 = 1000;
const INITIAL: i64 = 1000;

fn iterations() -> usize {
    std::env::var("AMELIE_CRASH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

fn start(dir: &std::path::Path) -> Server {
    Server::start(
        dir,
        &["--backends=2", "--frontends=2", "--wal_sync_on_write=true"],
    )
}

#[test]
fn kill_9_under_load_loses_no_acknowledged_write() {
    let dir = TestDir::new("crash");
    let mut server = start(&dir.repo());
    server.exec("create table acc (id int primary key, balance int)");
    server.exec("create table ins (id bigint primary key, client int)");
    let rows: Vec<String> = (0..ACCOUNTS).map(|a| format!("({a}, {INITIAL})")).collect();
    server.exec(&format!("insert into acc values {}", rows.join(", ")));

    let acked: Arc<Mutex<HashSet<i64>>> = Arc::default();
    let mut rng = Rng::new(42);
    for iteration in 0..iterations() {
        let stop = Arc::new(AtomicBool::new(false));
        let port = server.port;
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let (stop, acked) = (stop.clone(), acked.clone());
                std::thread::spawn(move || {
                    let mut rng = Rng::new((iteration * 100 + c) as u64 + 1);
                    let Ok(mut conn) = Client::local(port) else {
                        return;
                    };
                    let mut k = 0i64;
                    while !stop.load(Ordering::Relaxed) {
                        if rng.next_u64().is_multiple_of(2) {
                            let from = (rng.next_u64() % ACCOUNTS as u64) as i64;
                            let to = (from + 1) % ACCOUNTS;
                            let x = (rng.next_u64() % 50) as i64 + 1;
                            let sql = format!(
                                "update acc set balance = balance - {x} where id = {from}; \
                                 update acc set balance = balance + {x} where id = {to}"
                            );
                            if conn.sql(&sql).is_err() {
                                return;
                            }
                        } else {
                            let id = ((iteration * CLIENTS + c) as i64) * 1_000_000 + k;
                            k += 1;
                            match conn.sql(&format!("insert into ins values ({id}, {c})")) {
                                Ok((204, _)) => {
                                    acked.lock().expect("acked").insert(id);
                                }
                                Ok((status, body)) => panic!("insert failed: {status} {body}"),
                                Err(_) => return,
                            }
                        }
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(200 + rng.next_u64() % 400));
        if iteration % 2 == 1 {
            let (status, body) = server.post("checkpoint");
            assert_eq!(status, 204, "checkpoint failed: {body}");
            std::thread::sleep(Duration::from_millis(50 + rng.next_u64() % 200));
        }
        server.kill9();
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            c.join().expect("client thread");
        }

        server = start(&dir.repo());
        let total: Vec<i64> =
            serde_json::from_str(&server.query("select sum(balance) from acc")).expect("sum");
        assert_eq!(
            total,
            vec![ACCOUNTS * INITIAL],
            "iteration {iteration}: bank total changed"
        );
        let ids: Vec<i64> = serde_json::from_str(&server.query("select id from ins")).expect("ids");
        let present: HashSet<i64> = ids.into_iter().collect();
        let acked = acked.lock().expect("acked");
        let missing: Vec<&i64> = acked.iter().filter(|id| !present.contains(id)).collect();
        assert!(
            missing.is_empty(),
            "iteration {iteration}: {} acknowledged inserts lost, e.g. {:?}",
            missing.len(),
            missing.iter().take(5).collect::<Vec<_>>()
        );
        assert!(!acked.is_empty(), "the load must have inserted something");
        eprintln!(
            "crash: iteration {iteration}: {} acknowledged inserts so far, total ok",
            acked.len()
        );
    }
    server.stop();
}
