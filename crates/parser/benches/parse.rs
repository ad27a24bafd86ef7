//! Parser throughput: `amelie_parser::parse` on a trivial query, the TPC-B request body and a
//! 500-row multi-VALUES INSERT.

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const SELECT_1: &str = "select 1";

const TPCB: &str = "update __bench_accounts set abalance = abalance + 42 where aid = 1234; \
select abalance from __bench_accounts where aid = 1234; \
update __bench_tellers set tbalance = tbalance + 42 where tid = 7; \
update __bench_branches set bbalance = bbalance + 42 where bid = 1; \
insert into __bench_history values (987654, 7, 1, 1234, 42, '2024-01-01 00:00:00', '')";

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

fn bench_parse(c: &mut Criterion) {
    let insert = insert_500();
    let cases: [(&str, &str); 3] = [
        ("select_1", SELECT_1),
        ("tpcb", TPCB),
        ("insert_500", &insert),
    ];
    for (_, sql) in &cases {
        amelie_parser::parse(sql).expect("bench SQL must parse");
    }

    let mut group = c.benchmark_group("parse");
    for (name, sql) in cases {
        group.throughput(Throughput::Bytes(sql.len() as u64));
        group.bench_function(name, |b| b.iter(|| amelie_parser::parse(black_box(sql))));
    }
    group.finish();
}

criterion_group!(benches, bench_parse);
criterion_main!(benches);
