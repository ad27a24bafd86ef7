//! End-to-end: generated columns (`AS (expr) STORED | RESOLVED`): STORED over VALUES,
//! GENERATE and INSERT ... SELECT, RESOLVED counters (implicit and ON CONFLICT DO RESOLVE),
//! DDL errors, the INSERT-time type check, SHOW output, ALTER TABLE SET/UNSET and persistence
//! across a restart.

mod common;

use common::*;

#[test]
fn generated_columns() {
    let dir = TestDir::new("generated");
    let repo = dir.repo();
    let mut s = Server::start(&repo, &["--backends=2"]);

    // STORED: over the proposed values, its own provided value included
    s.exec("create table t (id int primary key, a int default 0, b int as (a * 2) stored, data int default 0 as (data + 1) stored)");
    s.exec("insert into t (id, a) values (1, 5)");
    s.exec("insert into t (id, a, b, data) values (2, 7, 100, 42)");
    s.expect(
        "select * from t where id >= 1 order by id",
        200,
        "[[1, 5, 10, 1], [2, 7, 14, 43]]",
    );
    s.exec("create table src (id int primary key, a int)");
    s.exec("insert into src values (10, 3), (11, 4)");
    s.exec("insert into t select id, a, 0, 0 from src");
    s.expect(
        "select * from t where id >= 10 order by id",
        200,
        "[[10, 3, 6, 1], [11, 4, 8, 1]]",
    );

    // GENERATE
    s.exec("create table g (id int serial primary key, x int as (id * 10) stored)");
    s.exec("insert into g generate 2");
    s.expect("select * from g order by id", 200, "[[0, 0], [1, 10]]");

    // a STORED key column
    s.exec("create table k (a int, id int as (a + 100) stored primary key)");
    s.exec("insert into k (a) values (1), (2)");
    s.expect("select id from k order by id", 200, "[101, 102]");

    // DDL errors (the type of the expression is checked by the INSERT that computes it)
    s.exec("create table e (id int primary key, a int as ('x') stored)");
    s.expect_error(
        "insert into e (id) values (1)",
        "<e.a> column generated expression type 'string' does not match column type 'int'",
    );
    s.exec("drop table e");
    s.expect_error(
        "create table e (id int primary key, a int as ((select 1)) stored)",
        "unexpected subquery",
    );

    // RESOLVED: counters, implicit DO RESOLVE
    s.exec("create table hits (id int primary key, hits int default 1 as (hits + 1) resolved)");
    s.exec("insert into hits (id) values (1)");
    s.exec("insert into hits (id) values (1)");
    s.exec("insert into hits (id) values (1), (2)");
    s.exec("insert into hits (id) values (1) on conflict do resolve");
    s.expect("select * from hits order by id", 200, "[[1, 4], [2, 1]]");
    s.expect(
        "insert into hits (id) values (2) on conflict do resolve returning *",
        200,
        "[[2, 2]]",
    );
    s.exec("insert into hits (id) values (2) on conflict do nothing");
    s.expect_error(
        "create table e (id int primary key as (1) resolved)",
        "<e.id> key column cannot be RESOLVED",
    );
    s.expect_error(
        "insert into hits (id) values (1) on conflict do error",
        "unique key constraint violation",
    );

    // SHOW output carries the expression text
    let show = s.query("select system.table('hits').columns");
    assert!(show.contains("\"as_resolved\": \"hits + 1\""), "{show}");
    let show = s.query("show tables extended");
    assert!(show.contains("\"as_stored\": \"a * 2\""), "{show}");

    // ALTER TABLE SET/UNSET
    s.exec("alter table hits unset column hits resolved");
    s.expect_error(
        "insert into hits (id) values (2)",
        "index 'primary': unique key constraint violation",
    );
    s.exec("alter table hits set column hits as (hits + 10) resolved");
    s.exec("insert into hits (id) values (2)");
    s.expect("select * from hits where id = 2", 200, "[[2, 12]]");

    // import: STORED computed, RESOLVED upsert
    s.exec("create table imp (id int primary key, v int as (id * 3) stored, n int default 1 as (n + 1) resolved)");
    for _ in 0..2 {
        let r = s.post_with(Some("text/csv"), "/public/imp", b"1, 0, 1\n2, 0, 1\n");
        assert_eq!(r.status, 204, "{}", r.text());
    }
    s.expect(
        "select * from imp order by id",
        200,
        "[[1, 3, 2], [2, 6, 2]]",
    );

    // restart: the expressions come back from the WAL
    s.stop();
    let mut s = Server::start(&repo, &["--backends=2"]);
    s.exec("insert into hits (id) values (2)");
    s.expect("select * from hits where id = 2", 200, "[[2, 22]]");
    s.exec("insert into t (id, a) values (3, 4)");
    s.expect("select b, data from t where id = 3", 200, "[[8, 1]]");
    s.stop();
}
