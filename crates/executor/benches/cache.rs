//! The program cache on the TPC-B request of `../shared/spec/BENCH.md`: a hit (fingerprint of
//! the text, lookup, validation of the entry) against what a miss costs (parse with
//! parameters and compile).

use std::hint::black_box;
use std::sync::Arc;

use amelie_catalog::{Catalog, DdlOp, Node};
use amelie_common::Value;
use amelie_compiler::{compile, CompileCtx, Compiled};
use amelie_executor::cache::{insert, lookup, Prepared};
use criterion::{criterion_group, criterion_main, Criterion};

const SETUP: [&str; 5] = [
    "create schema __bench",
    "create table __bench.branches (bid int primary key, bbalance int, filler text) with (type = \"hash\")",
    "create table __bench.tellers (tid int primary key, bid int, tbalance int, filler text) with (type = \"hash\")",
    "create table __bench.accounts (aid int primary key, bid int, abalance int, filler text) with (type = \"hash\")",
    "create table __bench.history (tid int, bid int, aid int, delta int, time timestamp, seq int primary key serial, filler text)",
];

fn tpcb(a: i64, t: i64, d: i64) -> String {
    format!(
        "UPDATE __bench.accounts SET abalance = abalance + {d} WHERE aid = {a};\
         SELECT abalance FROM __bench.accounts WHERE aid = {a};\
         UPDATE __bench.tellers SET tbalance = tbalance + {d} WHERE tid = {t};\
         UPDATE __bench.branches SET bbalance = bbalance + {d} WHERE bid = 0;\
         INSERT INTO __bench.history (tid, bid, aid, delta, time, filler) VALUES ({t}, 0, {a}, {d}, current_timestamp, '{}');",
        " ".repeat(50)
    )
}

fn catalog() -> Catalog {
    let mut catalog = Catalog::default();
    catalog
        .apply(&DdlOp::CreateNode(Node {
            uuid: "00000000-0000-0000-0000-000000000001".into(),
        }))
        .expect("create node");
    for sql in SETUP {
        let req = amelie_parser::parse(sql).expect("parse DDL");
        match compile(&req, &catalog, &CompileCtx::default()).expect("compile DDL") {
            Compiled::Ddl(DdlOp::CreateTable(mut t)) => {
                t.id = catalog.next_table_id;
                t.partitions = catalog.plan_partitions(t.shared).expect("partitions");
                catalog.apply(&DdlOp::CreateTable(t)).expect("apply")
            }
            Compiled::Ddl(op) => catalog.apply(&op).expect("apply DDL"),
            other => panic!("expected DDL, got {other:?}"),
        }
    }
    catalog
}

fn bench_cache(c: &mut Criterion) {
    let catalog = Arc::new(catalog());
    let first = tpcb(1, 2, 3);
    let req = amelie_parser::parse_params(&first).expect("parse");
    let Compiled::Program(plan) = compile(&req, &catalog, &CompileCtx::default()).expect("compile")
    else {
        panic!("program expected");
    };
    assert!(!plan.volatile && plan.baked.is_empty(), "{:?}", plan.baked);
    let (mut key, mut lits) = (Vec::new(), Vec::new());
    assert!(amelie_parser::fingerprint(&first, &mut key, &mut lits));
    let prepared = Arc::new(Prepared {
        program: Arc::new(plan.program),
        inserts: plan.inserts,
        effect: req.effect(),
    });
    insert(
        &key,
        &catalog,
        amelie_common::Tz::UTC,
        &plan.baked,
        &lits,
        prepared,
    );

    let other = tpcb(99_999, 7, -4_999);
    let mut group = c.benchmark_group("program_cache");
    group.bench_function("tpcb_hit", |b| {
        b.iter(|| {
            let mut key = Vec::new();
            let mut lits: Vec<Value> = Vec::new();
            assert!(amelie_parser::fingerprint(
                black_box(&other),
                &mut key,
                &mut lits
            ));
            black_box(lookup(&key, &catalog, amelie_common::Tz::UTC, &lits).expect("hit"))
        })
    });
    group.bench_function("tpcb_miss_parse_compile", |b| {
        b.iter(|| {
            let req = amelie_parser::parse_params(black_box(&other)).expect("parse");
            black_box(compile(&req, &catalog, &CompileCtx::default()).expect("compile"))
        })
    });
    group.finish();
}

criterion_group!(benches, bench_cache);
criterion_main!(benches);
