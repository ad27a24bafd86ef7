//! SELECT compilation: program shapes and errors.

use crate::{compile, CompileCtx, Compiled};
use amelie_catalog::{Catalog, DdlOp, Node};
use amelie_common::Result;
use amelie_vm::{Op, Program};

fn catalog(sql: &str) -> Catalog {
    let mut c = Catalog::default();
    c.apply(&DdlOp::CreateNode(Node {
        uuid: "node-0".into(),
    }))
    .unwrap();
    let req = amelie_parser::parse(sql).unwrap();
    let Compiled::Ddl(op) = compile(&req, &c, &CompileCtx::default()).unwrap() else {
        panic!("ddl expected");
    };
    c.apply(&op).unwrap();
    c
}

fn program(c: &Catalog, sql: &str) -> Result<Program> {
    let req = amelie_parser::parse(sql)?;
    match compile(&req, c, &CompileCtx::default())? {
        Compiled::Program(p) => Ok(p.program),
        _ => Err(amelie_common::Error::new("program expected")),
    }
}

fn err(c: &Catalog, sql: &str) -> String {
    program(c, sql).unwrap_err().to_string()
}

/// A catalog with a distributed table `t` and shared tables `s` and `u`.
fn catalog2() -> Catalog {
    let mut c = catalog("create table t (id int primary key, g int)");
    for sql in [
        "create shared table s (g int primary key, name text)",
        "create shared table u (g int primary key)",
    ] {
        let req = amelie_parser::parse(sql).unwrap();
        let Compiled::Ddl(op) = compile(&req, &c, &CompileCtx::default()).unwrap() else {
            panic!("ddl expected");
        };
        c.apply(&op).unwrap();
    }
    c
}

fn sends(p: &Program) -> Vec<(u16, Vec<u16>)> {
    p.coordinator
        .iter()
        .filter_map(|op| match op {
            Op::Send { stmt, sets, .. } => Some((*stmt, sets.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn joins_with_one_distributed_table_run_on_its_nodes() {
    let c = catalog2();
    for sql in [
        "select t.id, s.name from t join s on t.g = s.g",
        "select s.name, t.id from s, u, t where t.g = s.g and u.g = s.g",
        "with c as (select g from s) select t.id from t join c on t.g = c.g",
        "select t.id from t join (select g from s) x on t.g = x.g",
    ] {
        let p = program(&c, sql).unwrap();
        // the shared/CTE sources are fetched or computed in the coordinator; the last
        // send runs the join over the distributed table and ships them
        let sends = sends(&p);
        let (_, sets) = sends.last().unwrap();
        assert!(!sets.is_empty(), "{sql}: {sends:?}");
        let loops = p
            .node
            .iter()
            .filter(|op| matches!(op, Op::SetLoop { .. } | Op::SetProbe { .. }))
            .count();
        assert_eq!(loops, sets.len(), "{sql}");
        // each of these has an equality with an enclosing source: a hash probe
        assert!(
            p.node.iter().any(|op| matches!(op, Op::SetProbe { .. })),
            "{sql}"
        );
        assert!(
            !p.coordinator
                .iter()
                .any(|op| matches!(op, Op::SetLoop { .. })),
            "{sql}: no coordinator loop"
        );
    }
    // shared tables only: the first one is scanned on its node
    let p = program(&c, "select s.name from s join u on s.g = u.g").unwrap();
    assert!(p.node.iter().any(|op| matches!(op, Op::SetProbe { .. })));
    assert!(!p
        .coordinator
        .iter()
        .any(|op| matches!(op, Op::SetLoop { .. })));
    // no table at all: the coordinator joins
    let p = program(
        &c,
        "with a as (select 1 as x), b as (select 1 as x) select a.x from a join b on a.x = b.x",
    )
    .unwrap();
    assert!(p
        .coordinator
        .iter()
        .any(|op| matches!(op, Op::SetLoop { .. })));
}

#[test]
fn uncorrelated_subqueries_travel_with_the_scan() {
    let c = catalog2();
    let p = program(&c, "select id from t where g in (select g from s)").unwrap();
    assert_eq!(sends(&p), vec![(0, vec![]), (1, vec![0])]);
    assert!(p.node.iter().any(|op| matches!(op, Op::SetAnyAll { .. })));
    let p = program(
        &c,
        "select g, count(*) from t where exists (select 1 from s) group by g",
    )
    .unwrap();
    assert!(p.node.iter().any(|op| matches!(op, Op::SetExists { .. })));
    assert!(p
        .node
        .iter()
        .any(|op| matches!(op, Op::GroupPartial { .. })));
    // correlated scalar and EXISTS subqueries are evaluated in place on the nodes, over
    // the shared table's rows shipped with the scan (a probe on the equality)
    for sql in [
        "select (select name from s where s.g = t.g) from t",
        "select id from t where exists (select 1 from s where s.g = t.g and s.name > 'a')",
        "select id, (select count(*) from s where t.g = s.g) from t",
    ] {
        let p = program(&c, sql).unwrap();
        assert!(
            p.node.iter().any(|op| matches!(op, Op::SetProbe { .. })),
            "{sql}"
        );
        assert_eq!(sends(&p).last().map(|(_, s)| s.len()), Some(1), "{sql}");
    }
    // correlated IN, or a correlated subquery in a grouped query: the distributed rows
    // are fetched and looped over in the coordinator
    let p = program(
        &c,
        "select g, count(*) from t where exists (select 1 from s where s.g = t.g) group by g",
    )
    .unwrap();
    assert!(p.node.iter().any(|op| matches!(op, Op::SetProbe { .. })));
    for sql in [
        "select id from t where g in (select g from s where s.name = t.id::string)",
        "select id, (select name from s where s.g > t.g limit 1) from t",
    ] {
        let p = program(&c, sql).unwrap();
        assert!(
            p.coordinator
                .iter()
                .any(|op| matches!(op, Op::SetLoop { .. })),
            "{sql}"
        );
    }
}

#[test]
fn order_limit_and_distinct_start_on_the_nodes() {
    let c = catalog2();
    let p = program(&c, "select id from t order by g desc limit 3 offset 2").unwrap();
    assert!(p
        .node
        .iter()
        .any(|op| matches!(op, Op::NodeSort { keys } if keys == &[(1, false)])));
    let top = p.node.iter().find_map(|op| match op {
        Op::NodeTop { limit, .. } => Some(*limit),
        _ => None,
    });
    assert!(top.is_some());
    assert!(p
        .coordinator
        .iter()
        .any(|op| matches!(op, Op::Limit { .. })));
    let p = program(&c, "select distinct g from t").unwrap();
    assert!(p
        .node
        .iter()
        .any(|op| matches!(op, Op::NodeDistinct { .. })));
    // a LIMIT that is not a constant stays in the coordinator
    let p = program(&c, "select id from t limit 1 + 1").unwrap();
    assert!(!p.node.iter().any(|op| matches!(op, Op::NodeTop { .. })));
}

#[test]
fn select_scans_only_a_bounded_key_range() {
    let c = catalog2();
    let p = program(&c, "select id from t where id > 5 and g = 1").unwrap();
    assert!(p.node.iter().any(|op| matches!(op, Op::ScanRange { .. })));
    let p = program(&c, "select count(*) from t where id between 1 and 9").unwrap();
    assert!(p.node.iter().any(|op| matches!(op, Op::ScanRange { .. })));
    // no bound on the key: a full scan; the whole key: a point lookup
    let p = program(&c, "select id from t where g > 5").unwrap();
    assert!(!p.node.iter().any(|op| matches!(op, Op::ScanRange { .. })));
    let p = program(&c, "select id from t where id = 5").unwrap();
    assert!(p
        .node
        .iter()
        .any(|op| matches!(op, Op::Scan { key: Some(_), .. })));
}

#[test]
fn independent_ctes_are_sent_together() {
    let c = catalog2();
    let p = program(
        &c,
        "with a as (select count(*) from t), b as (select id from t order by id limit 2) \
         select * from b",
    )
    .unwrap();
    let kinds: Vec<&str> = p
        .coordinator
        .iter()
        .filter_map(|op| match op {
            Op::Send { .. } => Some("send"),
            Op::Recv { .. } => Some("recv"),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, ["send", "send", "recv", "recv"]);
    // a CTE that reads an earlier one waits for it
    let p = program(
        &c,
        "with a as (select g from s), b as (select t.id from t join a on t.g = a.g) \
         select * from b",
    )
    .unwrap();
    let kinds: Vec<&str> = p
        .coordinator
        .iter()
        .filter_map(|op| match op {
            Op::Send { .. } => Some("send"),
            Op::Recv { .. } => Some("recv"),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, ["send", "recv", "send", "recv"]);
}

#[test]
fn subqueries_and_any_all_compile_to_set_ops() {
    let c = catalog("create shared table t (id int primary key, data int)");
    let p = program(&c, "select 1 = any(select id from t)").unwrap();
    assert!(p
        .coordinator
        .iter()
        .any(|op| matches!(op, Op::SetAnyAll { .. })));
    let p = program(&c, "select 1 >= all([1, 2])").unwrap();
    assert!(p
        .coordinator
        .iter()
        .any(|op| matches!(op, Op::AnyAll { .. })));
    // correlated over a shared table: evaluated in place on the node
    let p = program(&c, "select (select id from t where t.id = o.id) from t o").unwrap();
    assert!(p.node.iter().any(|op| matches!(op, Op::SetProbe { .. })));
    // with ORDER BY it runs once per outer row from the coordinator
    let p = program(
        &c,
        "select (select id from t where t.id > o.id order by id desc) from t o",
    )
    .unwrap();
    assert!(p
        .coordinator
        .iter()
        .any(|op| matches!(op, Op::OuterColumn { .. })));
    assert!(program(&c, "select * from (select id from t) x, t").is_ok());
    assert!(program(
        &c,
        "select id, count(*) from t group by 1 having count(*) > 1"
    )
    .is_ok());
}

#[test]
fn query_errors() {
    let c = catalog("create table t (id int primary key, data int)");
    assert_eq!(
        err(&c, "select self"),
        "unexpected <SELF> usage without lambda context"
    );
    assert_eq!(
        err(&c, "select * from (select 1)"),
        "FROM (SELECT) subquery must have an alias"
    );
    assert_eq!(
        err(&c, "select 1 in (select 1, 2)"),
        "IN: subquery must return one column"
    );
    assert_eq!(
        err(&c, "select 0 -> self + 1 from t"),
        "distributed operation with lambda is not supported"
    );
    assert_eq!(
        err(&c, "select * from t where id > 'x'"),
        "unsupported operation: <int> > <string>"
    );
    assert_eq!(
        err(&c, "select 1 -> 1"),
        "no targets to use with GROUP BY or aggregates"
    );
    assert_eq!(
        err(&c, "select (select id from t)"),
        "distributed table 'public.t' cannot be used in subquery"
    );
    assert_eq!(
        err(&c, "select * from t a join t b on a.id = b.id"),
        "FROM: only one distributed table can be part of JOIN"
    );
    assert_eq!(
        err(&c, "select * from t a left join t b on a.id = b.id"),
        "outer joins currently are not supported"
    );
}

#[test]
fn error_kinds() {
    use amelie_common::ErrorKind;
    let c = catalog("create table t (id int primary key, data int)");
    let kind = |sql: &str| {
        let req = amelie_parser::parse(sql).unwrap();
        compile(&req, &c, &CompileCtx::default())
            .err()
            .unwrap_or_else(|| panic!("{sql}: compiled"))
            .kind()
    };
    assert_eq!(kind("select * from nope"), ErrorKind::NotFound);
    assert_eq!(kind("select nope from t"), ErrorKind::NotFound);
    assert_eq!(kind("select nope(1)"), ErrorKind::NotFound);
    assert_eq!(
        kind("create table t (id int primary key)"),
        ErrorKind::AlreadyExists
    );
    assert_eq!(
        kind("create table nope.x (id int primary key)"),
        ErrorKind::NotFound
    );
    assert_eq!(kind("insert into t values (1, 2, 3)"), ErrorKind::Type);
    assert_eq!(kind("update t set id = 1"), ErrorKind::Constraint);
    assert_eq!(kind("select 0 -> self + 1 from t"), ErrorKind::Unsupported);
    assert_eq!(kind("select id from t order by 2"), ErrorKind::Type);
    // the kind does not change the text
    assert_eq!(
        err(&c, "select * from nope"),
        "<public.nope> relation not found"
    );
}

#[test]
fn an_aggregate_in_order_by_groups_the_query() {
    let c = catalog2();
    for sql in [
        "select 1 from t order by count(id)",
        "select 1 from s order by count(g)",
        "select count(*) from t order by sum(g)",
    ] {
        let p = program(&c, sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert!(
            p.coordinator
                .iter()
                .any(|op| matches!(op, Op::GroupAgg { keys: 0, .. })),
            "{sql}: one group expected"
        );
    }
    assert_eq!(
        err(&c, "select id from t order by count(id)"),
        "<t.id> column must appear in the GROUP BY clause or be used in an aggregate function"
    );
    assert_eq!(
        err(&c, "select 1 order by count(*)"),
        "no targets to use with GROUP BY or aggregates"
    );
}

#[test]
fn names_resolve_to_one_column_of_their_target() {
    let c = catalog2();
    assert_eq!(
        err(&c, "select * from t join s using (zz)"),
        "<t.zz> column not found"
    );
    assert_eq!(
        err(&c, "select * from t x join s y on x.g = y.zz"),
        "<y.zz> column not found"
    );
    let dup = "with c as (select 1 as a, 2 as a, 3 as b)";
    for (q, want) in [
        ("select * from c", Some("<c.a> column name is ambiguous")),
        ("select a from c", Some("<c.a> column name is ambiguous")),
        (
            "select z.a from c z",
            Some("<z.a> column name is ambiguous"),
        ),
        (
            "select c.a from c join s on true",
            Some("<c.a> column name is ambiguous"),
        ),
        (
            "select * from c join s on true",
            Some("<c.a> column name is ambiguous"),
        ),
        ("select b from c", None),
        ("select count(*) from c", None),
    ] {
        let sql = format!("{dup} {q}");
        match want {
            Some(want) => assert_eq!(err(&c, &sql), want, "{sql}"),
            None => assert!(program(&c, &sql).is_ok(), "{sql}"),
        }
    }
}
