//! VM costs: the node section of compiled queries over a 100k-row partition (a filtered
//! aggregate scan and a primary-key point lookup), plus micro benches of `exec::binary` and of
//! the `regexp_*` functions on a typical pattern (compiled once, then served from the cache).

use std::hint::black_box;

use amelie_catalog::{Catalog, DdlOp, Node, Table};
use amelie_common::Value;
use amelie_compiler::{compile, CompileCtx, Compiled};
use amelie_storage::{Partition, UndoLog};
use amelie_vm::{run_node, BinOp, NodeCtx, Op, Program};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const N: i64 = 100_000;

fn catalog() -> Catalog {
    let mut catalog = Catalog::default();
    catalog
        .apply(&DdlOp::CreateNode(Node {
            uuid: "00000000-0000-0000-0000-000000000001".into(),
        }))
        .expect("create node");
    let req =
        amelie_parser::parse("create table t (id int primary key, v int)").expect("parse DDL");
    match compile(&req, &catalog, &CompileCtx::default()).expect("compile DDL") {
        Compiled::Ddl(op) => catalog.apply(&op).expect("apply DDL"),
        other => panic!("expected DDL, got {other:?}"),
    }
    catalog
}

fn program(catalog: &Catalog, sql: &str) -> Program {
    let req = amelie_parser::parse(sql).expect("parse");
    match compile(&req, catalog, &CompileCtx::default()).expect("compile") {
        Compiled::Program(p) => p.program,
        other => panic!("expected a program, got {other:?}"),
    }
}

/// `(stmt, entry)` of the first `Send` of the coordinator section.
fn first_send(p: &Program) -> (usize, usize) {
    p.coordinator
        .iter()
        .find_map(|op| match op {
            Op::Send { stmt, entry, .. } => Some((*stmt as usize, *entry as usize)),
            _ => None,
        })
        .expect("program has a Send")
}

fn partition(t: &Table) -> Partition {
    let mut p = Partition::new(
        t.partitions[0].id,
        t.id,
        t.primary().kind,
        &t.primary().keys,
    );
    let mut key = Vec::with_capacity(16);
    for i in 0..N {
        let row = amelie_storage::Row::encode(&[Value::Int(i), Value::Int(i)]);
        p.row_key(&row, &mut key);
        p.put(&key, row, None);
    }
    p
}

fn bench_node(c: &mut Criterion) {
    let catalog = catalog();
    let table = catalog.table("public", "t").expect("table t").clone();
    let mut part = partition(&table);
    let mut undo = UndoLog::default();
    let mut changes = amelie_vm::ChangeLog::default();

    // (name, query, output rows, first partition of its dispatch)
    let group_by = "select v % 1000, count(*), sum(v) from t group by 1";
    let cases = [
        (
            "agg_scan_100k",
            "select count(*), sum(v) from t where v > 10",
            1usize,
            true,
        ),
        (
            "point_lookup",
            "select id from t where id = 5",
            1usize,
            true,
        ),
        // partial GROUP BY into 1,000 groups: in first-appearance order (the first
        // partition) and in grouping slot order (any other)
        ("group_by_100k", group_by, 1000, true),
        ("group_by_slot_order_100k", group_by, 1000, false),
    ];
    let mut group = c.benchmark_group("vm/run_node");
    for (name, sql, expect_rows, first) in cases {
        let program = program(&catalog, sql);
        let (stmt, entry) = first_send(&program);
        let params: Vec<Value> = program.bind(&[], 0);
        let mut regs = Vec::new();
        let mut run = || {
            let ctx = NodeCtx {
                partition: &mut part,
                undo: &mut undo,
                changes: &mut changes,
                logged: true,
                sets: &[],
                env: amelie_vm::Env {
                    params: &params,
                    now: 0,
                },
                gov: None,
                held: &mut 0,
                first,
                regs: &mut regs,
            };
            run_node(
                black_box(&program),
                stmt,
                entry,
                amelie_vm::InsertRows::Encoded(&[]),
                ctx,
            )
            .expect("run_node")
        };
        let out = run();
        assert_eq!(out.rows.len(), expect_rows, "{sql}: {:?}", out.rows);
        if name != "point_lookup" {
            group.throughput(Throughput::Elements(N as u64));
        } else {
            group.throughput(Throughput::Elements(1));
        }
        group.bench_function(name, |b| b.iter(&mut run));
    }
    group.finish();
}

fn bench_binary(c: &mut Criterion) {
    let mut group = c.benchmark_group("vm/binary");
    let (a, b) = (Value::Int(40), Value::Int(2));
    group.bench_function("add_int", |bench| {
        bench.iter(|| amelie_vm::exec::binary(BinOp::Add, black_box(&a), black_box(&b)))
    });
    let (x, y) = (Value::Double(40.5), Value::Int(2));
    group.bench_function("add_double_int", |bench| {
        bench.iter(|| amelie_vm::exec::binary(BinOp::Add, black_box(&x), black_box(&y)))
    });
    group.bench_function("gt_int", |bench| {
        bench.iter(|| amelie_vm::exec::binary(BinOp::Gt, black_box(&a), black_box(&b)))
    });
    group.finish();
}

fn bench_regexp(c: &mut Criterion) {
    use amelie_vm::func::{call, FuncId};
    let like = FuncId::lookup(None, "regexp_like").expect("regexp_like");
    let replace = FuncId::lookup(None, "regexp_replace").expect("regexp_replace");
    // an e-mail address pattern over a short line of text, as a WHERE filter would see it
    let pattern = Value::Str("[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,}".into());
    let text = Value::Str("contact: john.smith@example.com, phone 555-0100".into());
    let like_args = [text.clone(), pattern.clone()];
    let replace_args = [text, pattern, Value::Str("<email>".into())];
    assert_eq!(
        call(like, &like_args, 0, amelie_common::Tz::UTC).expect("regexp_like"),
        Value::Bool(true)
    );
    assert_eq!(
        call(replace, &replace_args, 0, amelie_common::Tz::UTC).expect("regexp_replace"),
        Value::Str("contact: <email>, phone 555-0100".into())
    );
    let mut group = c.benchmark_group("vm/regexp");
    group.throughput(Throughput::Elements(1));
    group.bench_function("regexp_like_email", |b| {
        b.iter(|| call(like, black_box(&like_args), 0, amelie_common::Tz::UTC))
    });
    group.bench_function("regexp_replace_email", |b| {
        b.iter(|| call(replace, black_box(&replace_args), 0, amelie_common::Tz::UTC))
    });
    group.finish();
}

criterion_group!(benches, bench_node, bench_binary, bench_regexp);
criterion_main!(benches);
