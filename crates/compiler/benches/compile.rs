//! Compiler cost: `amelie_compiler::compile` of an already parsed request against a one-node
//! catalog holding the TPC-B tables (plus `t`), for the TPC-B request and a 500-row INSERT.

use std::fmt::Write as _;
use std::hint::black_box;

use amelie_catalog::{Catalog, DdlOp, Node};
use amelie_compiler::{compile, CompileCtx, Compiled};
use criterion::{criterion_group, criterion_main, Criterion};

const TPCB: &str = "update __bench_accounts set abalance = abalance + 42 where aid = 1234; \
select abalance from __bench_accounts where aid = 1234; \
update __bench_tellers set tbalance = tbalance + 42 where tid = 7; \
update __bench_branches set bbalance = bbalance + 42 where bid = 1; \
insert into __bench_history values (987654, 7, 1, 1234, 42, '2024-01-01 00:00:00', '')";

const DDL: &[&str] = &[
    "create table __bench_branches (bid int primary key, bbalance int, filler text)",
    "create table __bench_tellers (tid int primary key, bid int, tbalance int, filler text)",
    "create table __bench_accounts (aid int primary key, bid int, abalance int, filler text)",
    "create table __bench_history (hid int primary key, tid int, bid int, aid int, \
     delta int, time timestamp, filler text)",
    "create table t (id int primary key, v int)",
];

fn catalog() -> Catalog {
    let mut catalog = Catalog::default();
    catalog
        .apply(&DdlOp::CreateNode(Node {
            uuid: "00000000-0000-0000-0000-000000000001".into(),
        }))
        .expect("create node");
    for sql in DDL {
        let req = amelie_parser::parse(sql).expect("parse DDL");
        match compile(&req, &catalog, &CompileCtx::default()).expect("compile DDL") {
            Compiled::Ddl(op) => catalog.apply(&op).expect("apply DDL"),
            other => panic!("expected DDL, got {other:?}"),
        }
    }
    catalog
}

fn insert_500() -> String {
    let mut sql = String::from("insert into t values ");
    for i in 0..500 {
        if i > 0 {
            sql.push_str(", ");
        }
        let _ = write!(sql, "({i}, {i})");
    }
    sql
}

fn bench_compile(c: &mut Criterion) {
    let catalog = catalog();
    let ctx = CompileCtx::default();
    let insert = insert_500();

    let mut group = c.benchmark_group("compile");
    for (name, sql) in [("tpcb", TPCB), ("insert_500", insert.as_str())] {
        let req = amelie_parser::parse(sql).expect("parse");
        assert!(matches!(
            compile(&req, &catalog, &ctx),
            Ok(Compiled::Program(_))
        ));
        group.bench_function(name, |b| {
            b.iter(|| compile(black_box(&req), black_box(&catalog), &ctx))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_compile);
criterion_main!(benches);
