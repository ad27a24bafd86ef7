//! End-to-end: the same data queried on 1, 2 and 3 compute nodes gives the same multiset of
//! rows for every query shape (filters, point lookups, aggregates, GROUP BY, ORDER BY + LIMIT,
//! DISTINCT, joins with a shared table, subqueries over shared tables).

mod common;

use common::*;

const QUERIES: &[&str] = &[
    "select * from t",
    "select id, v from t where v > 500",
    "select * from t where id = 77",
    "select count(*), sum(v), min(v), max(v), avg(v) from t",
    "select g, count(*), sum(v) from t group by g",
    "select g, count(*) from t group by g having count(*) > 25",
    "select id from t order by v desc, id limit 10 offset 5",
    "select distinct g from t",
    "select t.id, s.name from t, s where t.g = s.g and t.v < 100",
    "select id from t where g in (select g from s where name = 'g3')",
    "select count(*) from t where v between 100 and 200",
    // joins on the nodes: distributed table first or inner, CTE and subquery sources
    "select s.name, t.id from s join t on t.g = s.g where t.v > 900",
    "with c as (select g from s where g < 3) select t.id, c.g from t join c on t.g = c.g",
    "select t.id, x.name from t join (select g, name from s) x on t.g = x.g where t.id < 40",
    "select t.id, s.name from t join s on t.g = s.g order by t.v, t.id limit 7 offset 3",
    "select distinct s.name from t join s on t.g = s.g where t.v < 50",
    "select s.name, count(*), sum(t.v) from t join s on t.g = s.g group by s.name",
    "select count(*), max(t.v) from s, t where t.g = s.g and s.g > 2",
    // uncorrelated subqueries shipped to the nodes
    "select id, (select count(*) from s) from t where v < 30",
    "select g, count(*) from t where exists (select 1 from s where g = 2) group by g",
    "select count(*) from t where g not in (select g from s where g > 4)",
    // correlated subqueries evaluated on the nodes
    "select id, (select name from s where s.g = t.g) from t where v < 200",
    "select count(*) from t where exists (select 1 from s where s.g = t.g and s.name <> 'g2')",
    "select g, count(*) from t where not exists (select 1 from s where s.g = t.g + 3) group by g",
    // per-node sort/limit/distinct
    "select distinct g from t where v < 500",
    "select id, v from t order by v desc, id limit 5",
    // independent CTEs in flight together
    "with a as (select count(*) from t), b as (select max(v) from t) select * from a, b",
];

fn load(s: &Server) {
    s.exec("create table t (id int primary key, g int, v int)");
    s.exec("create shared table s (g int primary key, name text)");
    let rows: Vec<String> = (0..300)
        .map(|i| format!("({i}, {}, {})", i % 7, (i * 37) % 1000))
        .collect();
    s.exec(&format!("insert into t values {}", rows.join(", ")));
    let rows: Vec<String> = (0..7).map(|g| format!("({g}, 'g{g}')")).collect();
    s.exec(&format!("insert into s values {}", rows.join(", ")));
}

/// The result of `q` as a list of row texts in compact JSON: sorted (a multiset), except for
/// ORDER BY queries whose order must match too.
fn multiset(s: &Server, q: &str) -> Vec<String> {
    let body = s.query(q);
    let v: serde_json::Value = serde_json::from_str(&body).expect("json result");
    let mut rows: Vec<String> = v
        .as_array()
        .expect("array result")
        .iter()
        .map(|r| r.to_string())
        .collect();
    if !q.contains("order by") {
        rows.sort();
    }
    rows
}

#[test]
fn one_two_and_three_nodes_return_the_same_rows() {
    let mut results: Vec<Vec<Vec<String>>> = Vec::new();
    for nodes in 1..=3 {
        let dir = TestDir::new(&format!("multinode{nodes}"));
        let mut s = Server::start(&dir.repo(), &[&format!("--backends={nodes}")]);
        load(&s);
        results.push(QUERIES.iter().map(|q| multiset(&s, q)).collect());
        s.stop();
    }
    for (i, q) in QUERIES.iter().enumerate() {
        assert!(!results[0][i].is_empty(), "{q}: no rows");
        assert_eq!(results[0][i], results[1][i], "{q}: 1 vs 2 nodes");
        assert_eq!(results[0][i], results[2][i], "{q}: 1 vs 3 nodes");
    }
    assert_eq!(results[0][6].len(), 10, "LIMIT 10 OFFSET 5");
    assert_eq!(results[0][14].len(), 7, "join LIMIT 7 OFFSET 3");
}
