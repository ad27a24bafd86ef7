//! End-to-end: the first core of SQL on a server with 3 backends — CREATE [SHARED] TABLE
//! (single and compound keys, tree and hash primary index), multi-row INSERT, SELECT with
//! WHERE / ORDER BY / LIMIT / OFFSET and aggregates, UPDATE, DELETE, DROP TABLE, EXPLAIN,
//! result encoding (§1.4: bare values, row arrays, `json-obj`, default `json-pretty`, `%g`
//! doubles, timestamps) and the partition order of un-ordered SELECTs (§5.2).

mod common;

use common::*;

const NAMES: [&str; 10] = [
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
];

/// `create table t (...)` plus ids 1..=10: name = english word, score = id * 0.5,
/// ok = id is even, doc = {"a": id}, ts = 2024-01-<id> 12:00:00 UTC.
fn create_t(s: &Server) {
    s.exec(
        "create table t (id int primary key, name text, score double, ok bool, doc json, ts timestamp)",
    );
    let rows: Vec<String> = (1..=10)
        .map(|i| {
            format!(
                "({i}, '{}', {:.1}, {}, {{\"a\": {i}}}, '2024-01-{i:02} 12:00:00')",
                NAMES[i - 1],
                i as f64 * 0.5,
                i % 2 == 0
            )
        })
        .collect();
    s.exec(&format!("insert into t values {}", rows.join(", ")));
}

#[test]
fn distributed_table_crud() {
    let dir = TestDir::new("sql-dist");
    let mut s = Server::start(&dir.repo(), &["--backends=3"]);
    create_t(&s);

    // Every row comes back (from all three nodes).
    let mut ids = int_list(&s.query("select id from t"));
    ids.sort();
    assert_eq!(ids, (1..=10).collect::<Vec<i64>>());
    s.expect("select count(*) from t", 200, "[10]");

    // ORDER BY / LIMIT / OFFSET.
    s.expect(
        "select id from t order by id",
        200,
        "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]",
    );
    s.expect(
        "select id from t order by id desc limit 3",
        200,
        "[10, 9, 8]",
    );
    s.expect(
        "select id from t order by id limit 3 offset 2",
        200,
        "[3, 4, 5]",
    );
    s.expect(
        "select name from t order by name limit 2",
        200,
        "[\"eight\", \"five\"]",
    );

    // WHERE.
    s.expect(
        "select id from t where score > 3.0 order by id",
        200,
        "[7, 8, 9, 10]",
    );
    s.expect(
        "select id, name from t where ok = true and id < 5 order by id",
        200,
        "[[2, \"two\"], [4, \"four\"]]",
    );
    s.expect("select id from t where name = 'seven'", 200, "[7]");

    // Point lookups on the primary key.
    s.expect("select name from t where id = 5", 200, "[\"five\"]");
    s.expect("select name from t where id = 42", 200, "[]");

    // Whole rows: compact and the default pretty format.
    s.expect(
        "select * format 'json' from t where id = 1",
        200,
        "[[1, \"one\", 0.5, false, {\"a\": 1}, \"2024-01-01 12:00:00+00\"]]",
    );
    s.expect(
        "select * from t where id = 2",
        200,
        "[[2, \"two\", 1, true, {\n  \"a\": 2\n}, \"2024-01-02 12:00:00+00\"]]",
    );
    s.expect("select doc from t where id = 1", 200, "[{\n  \"a\": 1\n}]");
    s.expect(
        "select ts from t where id = 3",
        200,
        "[\"2024-01-03 12:00:00+00\"]",
    );
    s.expect("select ok from t where id = 3", 200, "[false]");

    // FORMAT 'json-obj' (right after the select list).
    s.expect(
        "select id format 'json-obj' from t order by id limit 3",
        200,
        "[{\"id\": 1}, {\"id\": 2}, {\"id\": 3}]",
    );
    s.expect(
        "select id, name format 'json-obj' from t where id = 2",
        200,
        "[{\"id\": 2, \"name\": \"two\"}]",
    );

    // Aggregates: avg(int) is integer division; doubles print with %g.
    s.expect(
        "select count(*), sum(id), avg(id), min(id), max(id) from t",
        200,
        "[[10, 55, 5, 1, 10]]",
    );
    s.expect(
        "select sum(score), avg(score), min(score), max(score) from t",
        200,
        "[[27.5, 2.75, 0.5, 5]]",
    );
    s.expect("select avg(id) from t where id > 6", 200, "[8]");
    s.expect("select count(*) from t where ok = true", 200, "[5]");

    // UPDATE.
    s.exec("update t set name = 'updated', score = score + 1.0 where id <= 3");
    s.expect(
        "select id, name, score from t where id <= 4 order by id",
        200,
        "[[1, \"updated\", 1.5], [2, \"updated\", 2], [3, \"updated\", 2.5], [4, \"four\", 2]]",
    );
    s.exec("update t set doc = {\"b\": [1, 2]} where id = 5");
    s.expect(
        "select doc format 'json' from t where id = 5",
        200,
        "[{\"b\": [1, 2]}]",
    );
    s.expect(
        "select doc format 'json' from t where id = 6",
        200,
        "[{\"a\": 6}]",
    );

    // Duplicate key against an existing row.
    s.expect_error(
        "insert into t values (1, 'dup', 0.0, true, null, null)",
        "index 'primary': unique key constraint violation",
    );
    s.expect("select name from t where id = 1", 200, "[\"updated\"]");

    // DELETE.
    s.exec("delete from t where id > 8");
    s.expect("select count(*) from t", 200, "[8]");
    s.exec("delete from t where id = 2");
    s.expect("select id from t order by id", 200, "[1, 3, 4, 5, 6, 7, 8]");
    s.exec("delete from t");
    s.expect("select count(*) from t", 200, "[0]");
    s.expect("select sum(id) from t", 200, "[null]");
    s.expect("select id from t", 200, "[]");

    // The table is usable again after being emptied.
    s.exec("insert into t values (100, 'x', 1.0, true, [1, 2], '2024-02-01 00:00:00')");
    s.expect("select doc from t", 200, "[[1, 2]]");
    s.stop();
}

#[test]
fn shared_table_crud() {
    let dir = TestDir::new("sql-shared");
    let mut s = Server::start(&dir.repo(), &["--backends=3"]);
    s.exec("create shared table s (id int primary key, v text, n int)");
    s.exec("insert into s values (3, 'c', 30), (1, 'a', 10), (2, 'b', 20)");
    // One partition, tree index: key order even without ORDER BY.
    s.expect("select id from s", 200, "[1, 2, 3]");
    s.expect(
        "select * from s order by id desc",
        200,
        "[[3, \"c\", 30], [2, \"b\", 20], [1, \"a\", 10]]",
    );
    s.expect("select v from s where id = 2", 200, "[\"b\"]");
    s.expect(
        "select count(*), sum(n), avg(n), min(n), max(n) from s",
        200,
        "[[3, 60, 20, 10, 30]]",
    );
    s.expect(
        "select id from s where n >= 20 order by id limit 1 offset 1",
        200,
        "[3]",
    );
    s.exec("update s set n = n + 1 where id = 2");
    s.expect("select n from s where id = 2", 200, "[21]");
    s.exec("update s set v = 'z'");
    s.expect("select v from s", 200, "[\"z\", \"z\", \"z\"]");
    s.exec("delete from s where id = 1");
    s.expect("select id from s", 200, "[2, 3]");
    s.expect_error(
        "insert into s values (2, 'dup', 0)",
        "index 'primary': unique key constraint violation",
    );
    s.expect("select id, n from s", 200, "[[2, 21], [3, 30]]");
    s.stop();
}

#[test]
fn compound_primary_key() {
    let dir = TestDir::new("sql-compound");
    let mut s = Server::start(&dir.repo(), &["--backends=3"]);
    s.exec("create table ck (a int, b text, c bigint, primary key (a, b))");
    s.exec("insert into ck values (1, 'x', 10), (1, 'y', 11), (2, 'x', 12), (2, 'a', 13)");
    s.exec("insert into ck values (3, 'z', 9000000000)");
    s.expect("select c from ck where a = 1 and b = 'y'", 200, "[11]");
    s.expect(
        "select c from ck where a = 3 and b = 'z'",
        200,
        "[9000000000]",
    );
    s.expect("select c from ck where a = 1 and b = 'nope'", 200, "[]");
    s.expect(
        "select a, b, c from ck where a < 3 order by a, b",
        200,
        "[[1, \"x\", 10], [1, \"y\", 11], [2, \"a\", 13], [2, \"x\", 12]]",
    );
    // Same `a`, different `b` is a different key; same (a, b) conflicts.
    s.expect_error(
        "insert into ck values (1, 'x', 99)",
        "index 'primary': unique key constraint violation",
    );
    s.exec("insert into ck values (1, 'z', 99)");
    s.expect("select count(*) from ck", 200, "[6]");
    s.exec("update ck set c = c + 100 where a = 2");
    s.expect("select c from ck where a = 2 order by b", 200, "[113, 112]");
    s.exec("delete from ck where a = 1 and b = 'x'");
    s.expect(
        "select b from ck where a = 1 order by b",
        200,
        "[\"y\", \"z\"]",
    );
    s.expect("select sum(c) from ck", 200, "[9000000335]");
    s.stop();
}

#[test]
fn hash_primary_index() {
    let dir = TestDir::new("sql-hash");
    let mut s = Server::start(&dir.repo(), &["--backends=3"]);
    s.exec("create table h (id int primary key, v int) with (type = 'hash')");
    let rows: Vec<String> = (1..=20).map(|i| format!("({i}, {})", i * 10)).collect();
    s.exec(&format!("insert into h values {}", rows.join(", ")));
    s.expect("select count(*) from h", 200, "[20]");
    s.expect("select v from h where id = 7", 200, "[70]");
    s.expect("select v from h where id = 70", 200, "[]");
    s.expect(
        "select id from h order by id limit 5",
        200,
        "[1, 2, 3, 4, 5]",
    );
    s.expect(
        "select id from h where v > 150 order by id desc",
        200,
        "[20, 19, 18, 17, 16]",
    );
    s.expect(
        "select sum(v), min(v), max(v) from h",
        200,
        "[[2100, 10, 200]]",
    );
    s.exec("update h set v = v + 1 where id = 7");
    s.expect("select v from h where id = 7", 200, "[71]");
    s.expect_error(
        "insert into h values (7, 0)",
        "index 'primary': unique key constraint violation",
    );
    s.exec("delete from h where id > 10");
    s.expect("select count(*) from h", 200, "[10]");
    let mut ids = int_list(&s.query("select id from h"));
    ids.sort();
    assert_eq!(ids, (1..=10).collect::<Vec<i64>>());
    s.stop();
}

#[test]
fn drop_table_and_ddl_errors() {
    let dir = TestDir::new("sql-drop");
    let mut s = Server::start(&dir.repo(), &["--backends=3"]);
    s.exec("create table t (id int primary key)");
    s.expect_error(
        "create table t (id int primary key)",
        "table 't': already exists",
    );
    s.exec("insert into t values (1), (2)");
    s.exec("drop table t");
    s.expect_error("select * from t", "<public.t> relation not found");
    s.expect_error("insert into t values (3)", "<public.t> relation not found");
    s.expect_error("drop table t", "table 't': not exists");
    s.exec("drop table if exists t");
    // A new table with the same name starts empty.
    s.exec("create table t (id int primary key, v text)");
    s.expect("select count(*) from t", 200, "[0]");
    s.exec("create table if not exists t (id int primary key)");
    s.expect_error("create table nokey (id int)", "primary key is not defined");
    s.stop();
}

/// EXPLAIN returns (without executing) `{"bytecode": {"coordinator": {...}, "node": {...}}}`,
/// which as a non-array value is wrapped in `[...]` (spec §1.4, §2.15).
#[test]
fn explain_shows_coordinator_and_node_sections() {
    let dir = TestDir::new("sql-explain");
    let mut s = Server::start(&dir.repo(), &["--backends=3"]);
    s.exec("create table t (id int primary key, v int)");

    let bytecode = |sql: &str| -> serde_json::Map<String, serde_json::Value> {
        let body = s.query(sql);
        let v = json(&body);
        let arr = v
            .as_array()
            .unwrap_or_else(|| panic!("{sql}: expected [{{...}}]: {body}"));
        assert_eq!(arr.len(), 1, "{sql}: {body}");
        let obj = arr[0]
            .as_object()
            .unwrap_or_else(|| panic!("{sql}: {body}"));
        obj.get("bytecode")
            .and_then(|b| b.as_object())
            .unwrap_or_else(|| panic!("{sql}: no bytecode object: {body}"))
            .clone()
    };

    let b = bytecode("explain select id from t where id = 5");
    let coord = b
        .get("coordinator")
        .and_then(|c| c.as_object())
        .expect("coordinator");
    assert!(!coord.is_empty());
    let node = b
        .get("node")
        .and_then(|c| c.as_object())
        .expect("node section for a table query");
    assert!(!node.is_empty());
    // Keys are 2-digit op positions, values are strings.
    for (k, v) in coord.iter().chain(node.iter()) {
        assert!(
            k.len() >= 2 && k.chars().all(|c| c.is_ascii_digit()),
            "key {k}"
        );
        assert!(v.is_string(), "op {v}");
    }

    let b = bytecode("explain select 1");
    assert!(b.contains_key("coordinator"));

    let b = bytecode("explain insert into t values (1, 1)");
    assert!(b.contains_key("coordinator"));
    assert!(b.contains_key("node"));
    // EXPLAIN does not execute.
    s.expect("select count(*) from t", 200, "[0]");
    s.stop();
}

#[test]
fn value_encoding() {
    let dir = TestDir::new("sql-encoding");
    let mut s = Server::start(&dir.repo(), &["--backends=1"]);
    s.expect("select 123", 200, "[123]");
    s.expect("select 1, 2", 200, "[[1, 2]]");
    s.expect("select 123 format 'json-obj'", 200, "[{\"col1\": 123}]");
    s.expect(
        "select 1.5, 3.0, 100000000.0, true, null",
        200,
        "[[1.5, 3, 1e+08, true, null]]",
    );
    s.expect("select 'a\"b'", 200, "[\"a\\\"b\"]");
    s.expect("select [1, 2, 3]", 200, "[[1, 2, 3]]");
    s.expect(
        "select {\"a\": 1, \"b\": [1, 2]}",
        200,
        "[{\n  \"a\": 1,\n  \"b\": [1, 2]\n}]",
    );
    s.expect(
        "select {\"a\": {\"b\": 1}}",
        200,
        "[{\n  \"a\": {\n    \"b\": 1\n  }\n}]",
    );
    s.expect(
        "select {\"a\": {\"b\": 1}} format 'json'",
        200,
        "[{\"a\": {\"b\": 1}}]",
    );
    s.expect("select {}", 200, "[{}]");
    s.stop();
}

// ---------------------------------------------------------------------------------------------
// Partition order of un-ordered SELECTs (§5.2)
// ---------------------------------------------------------------------------------------------

/// MurmurHash3 x86 32-bit.
fn murmur3_32(data: &[u8], seed: u32) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mut h = seed;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h ^= k;
        h = h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        let mut k = 0u32;
        for (i, b) in tail.iter().enumerate() {
            k |= (*b as u32) << (8 * i);
        }
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h ^= k;
    }
    h ^= data.len() as u32;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^= h >> 16;
    h
}

/// The compute node (0-based) that owns an int primary key with `nodes` backends.
fn node_of_int_key(key: i64, nodes: u32) -> u32 {
    let slot = murmur3_32(&key.to_le_bytes(), 0) % 8096;
    let per = 8096 / nodes;
    (slot / per).min(nodes - 1)
}

#[test]
fn murmur3_reference_values() {
    assert_eq!(murmur3_32(b"", 0), 0);
    assert_eq!(murmur3_32(b"foo", 0) as i32, -156908512);
    assert_eq!(
        murmur3_32(b"The quick brown fox jumps over the lazy dog", 0),
        0x2e4f_f723
    );
}

#[test]
fn unordered_select_follows_partition_order() {
    let dir = TestDir::new("sql-order");
    let mut s = Server::start(&dir.repo(), &["--backends=3"]);
    s.exec("create table t (id int primary key)");
    let ids: Vec<i64> = (0..60).rev().collect();
    let values: Vec<String> = ids.iter().map(|i| format!("({i})")).collect();
    s.exec(&format!("insert into t values {}", values.join(", ")));

    // Partitions concatenated in node order, each in key order.
    let mut expected: Vec<i64> = ids.clone();
    expected.sort_by_key(|&id| (node_of_int_key(id, 3), id));
    let nodes_used: std::collections::BTreeSet<u32> =
        ids.iter().map(|&id| node_of_int_key(id, 3)).collect();
    assert_eq!(nodes_used.len(), 3, "test data should span all nodes");
    assert_eq!(int_list(&s.query("select id from t")), expected);
    s.stop();
}
