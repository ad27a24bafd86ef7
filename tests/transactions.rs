//! End-to-end: a request is one atomic transaction (spec §2.2, §5.1) — any error leaves no
//! trace on any node (distributed and shared tables, 3 backends), BEGIN/COMMIT framing and its
//! errors, only the last statement's result is returned, utility statements stand alone.

mod common;

use common::*;

const DUP: &str = "index 'primary': unique key constraint violation";

#[test]
fn duplicate_key_in_multi_row_insert_leaves_nothing() {
    let dir = TestDir::new("tx-dup");
    let mut s = Server::start(&dir.repo(), &["--backends=3"]);
    s.exec("create table t (id int primary key)");
    s.exec("create shared table s (id int primary key)");

    for table in ["t", "s"] {
        s.expect_error(&format!("insert into {table} values (1),(2),(1)"), DUP);
        s.expect(&format!("select count(*) from {table}"), 200, "[0]");

        // Many rows spread over all nodes, duplicate at the very end.
        let mut rows: Vec<String> = (1..=200).map(|i| format!("({i})")).collect();
        rows.push("(137)".into());
        s.expect_error(
            &format!("insert into {table} values {}", rows.join(", ")),
            DUP,
        );
        s.expect(&format!("select count(*) from {table}"), 200, "[0]");

        // Duplicate of an existing row: the new rows of the request are rolled back.
        s.exec(&format!("insert into {table} values (10)"));
        s.expect_error(&format!("insert into {table} values (11), (12), (10)"), DUP);
        s.expect(&format!("select id from {table} order by id"), 200, "[10]");

        // Duplicate across two statements of one request.
        s.expect_error(
            &format!("insert into {table} values (20), (21); insert into {table} values (21)"),
            DUP,
        );
        s.expect(&format!("select id from {table} order by id"), 200, "[10]");

        // A later, valid request is unaffected.
        s.exec(&format!("insert into {table} values (11), (12)"));
        s.expect(
            &format!("select id from {table} order by id"),
            200,
            "[10, 11, 12]",
        );
    }
    s.stop();
}

#[test]
fn error_in_last_statement_aborts_the_request() {
    let dir = TestDir::new("tx-error");
    let mut s = Server::start(&dir.repo(), &["--backends=3"]);
    s.exec("create table t (id int primary key, v int)");
    s.exec("create shared table s (id int primary key, v int)");

    s.expect_error(
        "insert into t values (5, 0); select error(\"abort\")",
        "abort",
    );
    s.expect("select count(*) from t", 200, "[0]");
    s.expect_error(
        "insert into s values (5, 0); select error('abort')",
        "abort",
    );
    s.expect("select count(*) from s", 200, "[0]");

    let rows: Vec<String> = (1..=30).map(|i| format!("({i}, {i})")).collect();
    s.exec(&format!("insert into t values {}", rows.join(", ")));
    s.exec(&format!("insert into s values {}", rows.join(", ")));

    for table in ["t", "s"] {
        // delete / update / insert followed by an error: nothing changes.
        s.expect_error(
            &format!("delete from {table}; select error('abort')"),
            "abort",
        );
        s.expect(
            &format!("select count(*), sum(v) from {table}"),
            200,
            "[[30, 465]]",
        );
        s.expect_error(
            &format!("update {table} set v = v + 1; select error('abort')"),
            "abort",
        );
        s.expect(
            &format!("select count(*), sum(v) from {table}"),
            200,
            "[[30, 465]]",
        );
        s.expect_error(
            &format!(
                "insert into {table} values (100, 1); update {table} set v = v + 1 where id = 3; \
                 delete from {table} where id = 4; select error('abort')"
            ),
            "abort",
        );
        s.expect(
            &format!("select count(*), sum(v) from {table}"),
            200,
            "[[30, 465]]",
        );
        s.expect(&format!("select v from {table} where id = 3"), 200, "[3]");
        // Update of every row then a duplicate key error.
        s.expect_error(
            &format!("update {table} set v = v + 1; insert into {table} values (1, 0)"),
            DUP,
        );
        s.expect(
            &format!("select count(*), sum(v) from {table}"),
            200,
            "[[30, 465]]",
        );
    }

    // Statements over two tables: both are rolled back.
    s.expect_error(
        "insert into t values (1000, 0); insert into s values (1000, 0); select error('x')",
        "x",
    );
    s.expect("select count(*) from t where id = 1000", 200, "[0]");
    s.expect("select count(*) from s where id = 1000", 200, "[0]");
    s.stop();
}

#[test]
fn begin_commit_framing() {
    let dir = TestDir::new("tx-begin");
    let mut s = Server::start(&dir.repo(), &["--backends=3"]);
    s.exec("create table t (id int primary key)");

    s.exec("begin; insert into t values (1), (2); commit");
    s.expect("select count(*) from t", 200, "[2]");
    s.exec("begin; insert into t values (3); insert into t values (4); commit;");
    s.expect("select id from t order by id", 200, "[1, 2, 3, 4]");
    s.expect("begin; select 1; commit", 200, "[1]");
    s.exec("begin; commit");
    s.exec("begin commit");

    // An error inside the block aborts it.
    s.expect_error(
        "begin; insert into t values (5); select error(\"abort\"); commit",
        "abort",
    );
    s.expect("select count(*) from t", 200, "[4]");

    // Framing errors (spec §2.2).
    s.expect_error("commit", "unexpected COMMIT operation");
    s.expect_error(
        "begin; insert into t values (6)",
        "COMMIT expected at the end of transaction",
    );
    s.expect_error(
        "insert into t values (7); begin",
        "unexpected BEGIN operation",
    );
    s.expect_error(
        "begin; insert into t values (8); commit; select 1",
        "unexpected statement after COMMIT",
    );
    s.expect("select count(*) from t", 200, "[4]");
    s.stop();
}

#[test]
fn only_the_last_statement_returns_a_result() {
    let dir = TestDir::new("tx-last");
    let mut s = Server::start(&dir.repo(), &["--backends=3"]);
    s.exec("create table t (id int primary key)");

    s.expect("select 1; select 2", 200, "[2]");
    s.expect("select 1;", 200, "[1]");
    s.expect("select 1; ; select 3", 200, "[3]");
    // DML last: 204 even though an earlier SELECT produced rows.
    s.exec("select 1; insert into t values (7)");
    // A later statement sees the earlier writes of the same transaction.
    s.expect(
        "insert into t values (8), (9); select count(*) from t",
        200,
        "[3]",
    );
    s.expect(
        "delete from t where id = 7; select id from t order by id",
        200,
        "[8, 9]",
    );
    s.expect("select id from t order by id", 200, "[8, 9]");
    s.stop();
}

#[test]
fn utility_statements_must_be_alone() {
    let dir = TestDir::new("tx-utility");
    let mut s = Server::start(&dir.repo(), &["--backends=3"]);
    let msg = "CTE and multi-statement utility commands are not supported";
    s.expect_error("create table x (id int primary key); select 1", msg);
    s.expect_error("select 1; create table x (id int primary key)", msg);
    s.expect_error("select * from x", "<public.x> relation not found");
    s.exec("create table x (id int primary key)");
    s.expect_error("insert into x values (1); drop table x", msg);
    s.expect("select count(*) from x", 200, "[0]");
    s.stop();
}
