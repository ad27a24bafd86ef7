//! End-to-end: a request's limits (`limit_memory`, `limit_time`, the string ceiling) and
//! its cancellation when the client goes away. Heavy requests end with a clear error, the
//! frontend keeps answering others meanwhile, and nothing of the failed work stays.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::*;

const MEMORY: &str = "request memory limit reached";
const TIME: &str = "request time limit reached";

/// A three-way cross join of a CTE over `t`: its rows are made by the coordinator.
const CROSS: &str = "with a as (select id from t) select x.id from a x, a y, a z limit 1";

fn server(name: &str) -> (TestDir, Server) {
    let dir = TestDir::new(name);
    let server = Server::start(&dir.repo(), &["--backends=2"]);
    server.exec("create table t (id int primary key serial)");
    server.exec("insert into t generate 300");
    (dir, server)
}

fn still_serving(server: &Server, rows: i64) {
    server.expect("select 1", 200, "[1]");
    server.expect("select count(*) from t", 200, &format!("[{rows}]"));
}

#[test]
fn coordinator_row_sets_are_bounded_and_others_are_answered_meanwhile() {
    let (_dir, server) = server("limits_memory");
    server.exec("set limit_memory to 20000000");
    // the cross join runs while another connection of the same frontend is answered
    let port = server.port;
    let heavy = std::thread::spawn(move || {
        let mut c = Client::local(port).expect("connect");
        c.sql(CROSS).expect("reply")
    });
    std::thread::sleep(Duration::from_millis(50));
    let started = Instant::now();
    server.expect("select 1", 200, "[1]");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "select 1 waited {:?} behind the heavy request",
        started.elapsed()
    );
    let (status, body) = heavy.join().unwrap();
    assert_eq!(
        (status, body.as_str()),
        (400, format!("{{\"msg\": \"{MEMORY}\"}}").as_str())
    );
    still_serving(&server, 300);
}

#[test]
fn node_outputs_and_inserts_are_bounded() {
    let (_dir, server) = server("limits_node");
    server.exec("insert into t generate 50000");
    server.exec("set limit_memory to 300000");
    // a scan's output on the nodes
    server.expect_error("select * from t", MEMORY);
    // rows made by the nodes (GENERATE into a table of two partitions): none stays
    server.expect_error("insert into t generate 500000", MEMORY);
    // rows made by the frontend (a shared table has one partition)
    server.exec("create shared table s (id int primary key serial)");
    server.expect_error("insert into s generate 500000", MEMORY);
    server.expect("select count(*) from s", 200, "[0]");
    // 0 lifts the limit
    server.exec("set limit_memory to 0");
    server.exec("insert into s generate 100000");
    server.expect("select count(*) from s", 200, "[100000]");
    still_serving(&server, 50300);
}

#[test]
fn a_request_past_its_time_limit_fails() {
    let (_dir, server) = server("limits_time");
    server.exec("set limit_time to 200");
    let started = Instant::now();
    server.expect_error(CROSS, TIME);
    assert!(started.elapsed() < Duration::from_secs(5));
    server.exec("set limit_time to 0");
    still_serving(&server, 300);
}

#[test]
fn a_request_whose_client_left_stops() {
    let (_dir, server) = server("limits_cancel");
    server.exec("insert into t generate 700");
    // unlimited, the cross join of 1,000 rows would run for minutes
    server.exec("set limit_memory to 0");
    {
        let mut c = Client::local(server.port).expect("connect");
        let body = CROSS.as_bytes();
        let head = format!(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let mut req = head.into_bytes();
        req.extend_from_slice(body);
        c.send_bytes(&req).unwrap();
        c.stream().flush().unwrap();
        std::thread::sleep(Duration::from_millis(300));
        // the client goes away
    }
    // a write behind it commits once the cancelled request stopped
    let started = Instant::now();
    server.exec("insert into t generate 1");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "a write waited {:?} behind a request whose client left",
        started.elapsed()
    );
    server.exec("set limit_memory to 1073741824");
    still_serving(&server, 1001);
}

#[test]
fn strings_have_a_ceiling() {
    let (_dir, server) = server("limits_string");
    let s = "a".repeat(1000);
    server.expect_error(
        &format!("select length(replace(replace('{s}', 'a', '{s}'), 'a', '{s}'))"),
        "string size limit reached",
    );
    server.expect(
        &format!("select length(replace('{s}', 'a', '{s}'))"),
        200,
        "[1000000]",
    );
    still_serving(&server, 300);
}

#[test]
fn a_failed_read_does_not_abort_the_writes_behind_it() {
    // a failing request that changed nothing fails alone: transactions behind it in the
    // global order commit
    let (_dir, server) = server("limits_alone");
    server.exec("set limit_memory to 20000000");
    let port = server.port;
    let heavy = std::thread::spawn(move || {
        let mut c = Client::local(port).expect("connect");
        c.sql(CROSS).expect("reply")
    });
    std::thread::sleep(Duration::from_millis(30));
    let writers: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = Client::local(port).expect("connect");
                c.sql("insert into t generate 10").expect("reply")
            })
        })
        .collect();
    let (status, body) = heavy.join().unwrap();
    assert_eq!(status, 400, "{body}");
    for w in writers {
        let (status, body) = w.join().unwrap();
        assert_eq!(status, 204, "a write behind a failed read: {body}");
    }
    still_serving(&server, 340);
}

#[test]
fn all_requests_together_stay_within_the_server_budget() {
    let (_dir, server) = server("limits_total");
    // no per-request budget; the server-wide one stops the cross join
    server.exec("set limit_memory to 0");
    server.exec("set limit_memory_total to 20000000");
    for _ in 0..3 {
        server.expect_error(CROSS, "server memory limit reached");
    }
    // every request gives its reservation back: a 90,000-row join (a few MB) run ten times
    // still fits in the 20 MB
    for _ in 0..10 {
        let body = server.query("with a as (select id from t) select x.id from a x, a y");
        assert_eq!(json(&body).as_array().map(Vec::len), Some(90_000));
    }
    // request bodies count too: a 600 KB statement does not fit in 500 KB
    server.exec("set limit_memory_total to 500000");
    let long = format!("select 1{}", " ".repeat(600_000));
    server.expect_error(&long, "server memory limit reached");
    server.exec("set limit_memory_total to 4294967296");
    server.expect(&long, 200, "[1]");
    server.exec("set limit_memory to 1073741824");
    still_serving(&server, 300);
}

#[test]
fn many_small_statements_are_bounded_like_one_large_one() {
    let (_dir, server) = server("limits_statements");
    server.exec("create table r (id int primary key, s text)");
    let s = "x".repeat(100_000);
    server.exec(&format!("insert into r values (1, '{s}')"));
    server.exec("set limit_memory to 2000000");
    // each update keeps the previous 100 KB image for the rollback: 100 of them are past
    // the budget, although no statement touches more than one row
    let updates = vec!["update r set s = s || 'y' where id = 1"; 100].join("; ");
    server.expect_error(&updates, MEMORY);
    server.expect("select length(s) from r", 200, "[100000]");
    // three fit
    let updates = ["update r set s = s || 'y' where id = 1"; 3].join("; ");
    server.exec(&updates);
    server.expect("select length(s) from r", 200, "[100003]");
    server.exec("set limit_memory to 1073741824");
    still_serving(&server, 300);
}

#[test]
fn changes_gathered_over_many_rounds_are_bounded() {
    let (_dir, server) = server("limits_rounds");
    server.exec("create table r (id int primary key)");
    // the 100 KB value is made on the node (a stored generated column): the coordinator
    // only ever holds one small row
    let mut value = "'xxxxxxxxxx'".to_string();
    for _ in 0..4 {
        value = format!("replace({value}, 'x', 'xxxxxxxxxx')");
    }
    server.exec(&format!(
        "create table big (id int primary key, s text as ({value}) stored)"
    ));
    server.exec("insert into r values (1)");
    server.exec("set limit_memory to 2000000");
    // each INSERT ... SELECT is its own round (its rows come from the coordinator) and adds
    // one 100 KB row on its node; the frontend keeps every round's changes until the
    // commit, and 25 of them are past the budget
    let copy = |n: i64| format!("insert into big select id + {n}, '' from r");
    let many: Vec<String> = (1..=25).map(copy).collect();
    server.expect_error(&many.join("; "), MEMORY);
    server.expect("select count(*) from big", 200, "[0]");
    let few: Vec<String> = (1..=3).map(copy).collect();
    server.exec(&few.join("; "));
    server.expect("select count(*) from big", 200, "[3]");
    server.exec("set limit_memory to 1073741824");
    still_serving(&server, 300);
}

#[test]
fn json_built_by_functions_has_a_ceiling() {
    let (_dir, server) = server("limits_json");
    server.exec("create table big (id int primary key, j json)");
    // a 1 MB JSON string in a row, then arrays of many copies of it
    let s = "x".repeat(1_000_000);
    server.exec(&format!("insert into big values (1, [\"{s}\"])"));
    let copies = |n: usize| vec!["j"; n].join(", ");
    server.expect_error(
        &format!("select [{}] from big", copies(100)),
        "json size limit reached",
    );
    server.expect_error(
        &format!("select append(j, {}) from big", copies(100)),
        "json size limit reached",
    );
    server.expect(
        &format!("select length([{}]) from big", copies(3)),
        200,
        "[3]",
    );
    still_serving(&server, 300);
}
