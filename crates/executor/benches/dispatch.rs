//! One dispatch round trip frontend -> compute node -> frontend, without tokio: a node thread
//! is started directly, a transaction is opened with `Begin`, one `TxMsg::Run` of a compiled
//! point lookup is sent followed by `End`, and the reply closure hands the result back over a
//! `std::sync::mpsc` channel. Also a bare `NodeMsg::Sync` round trip.

use std::hint::black_box;
use std::sync::{mpsc, Arc};

use amelie_catalog::{Catalog, DdlOp, Node};
use amelie_common::{Result, Value};
use amelie_compiler::{compile, CompileCtx, Compiled};
use amelie_node::{NodeHandle, NodeMsg, NodeRequest, TxMsg};
use amelie_vm::{Change, NodeOutput, Op, Program};
use criterion::{criterion_group, criterion_main, Criterion};

const UUID: &str = "00000000-0000-0000-0000-000000000001";
const ROWS: i64 = 1_000;
/// Send a `Commit` every this many transactions so the node's pending undo logs stay bounded.
const COMMIT_EVERY: u64 = 1024;

fn catalog() -> Catalog {
    let mut catalog = Catalog::default();
    catalog
        .apply(&DdlOp::CreateNode(Node { uuid: UUID.into() }))
        .expect("create node");
    let req =
        amelie_parser::parse("create table t (id int primary key, v int)").expect("parse DDL");
    match compile(&req, &catalog, &CompileCtx::default()).expect("compile DDL") {
        Compiled::Ddl(op) => catalog.apply(&op).expect("apply DDL"),
        other => panic!("expected DDL, got {other:?}"),
    }
    catalog
}

fn point_lookup(catalog: &Catalog) -> (Arc<Program>, usize, usize) {
    let req = amelie_parser::parse("select id from t where id = 1").expect("parse");
    let program = match compile(&req, catalog, &CompileCtx::default()).expect("compile") {
        Compiled::Program(p) => p,
        other => panic!("expected a program, got {other:?}"),
    };
    let (stmt, entry) = program
        .coordinator
        .iter()
        .find_map(|op| match op {
            Op::Send { stmt, entry, .. } => Some((*stmt as usize, *entry as usize)),
            _ => None,
        })
        .expect("program has a Send");
    (Arc::new(program), stmt, entry)
}

type Reply = Result<(NodeOutput, Vec<Change>)>;

fn bench_dispatch(c: &mut Criterion) {
    let catalog = catalog();
    let table = catalog.table("public", "t").expect("table t").clone();
    let partition = table.partitions[0].id;
    let logged = !table.unlogged;
    let node = NodeHandle::start(UUID.into());
    node.call(|done| NodeMsg::CreatePartition {
        id: partition,
        table_id: table.id,
        kind: table.primary().kind,
        keys: table.primary().keys.clone(),
        done,
    })
    .expect("create partition");
    let rows: Vec<_> = (0..ROWS)
        .map(|i| amelie_vm::Change::Put {
            partition,
            row: vec![Value::Int(i), Value::Int(i)].into_boxed_slice(),
        })
        .collect();
    node.send(NodeMsg::Replay { changes: rows })
        .expect("replay");
    assert_eq!(
        node.call(|done| NodeMsg::Count {
            id: partition,
            done
        })
        .expect("count"),
        ROWS as usize
    );

    let (program, stmt, entry) = point_lookup(&catalog);
    let (reply_tx, reply_rx) = mpsc::channel::<Reply>();
    let mut next_id = 0u64;
    let mut since_commit = 0u64;
    let mut round_trip = || {
        next_id += 1;
        let (tx, rx) = crossbeam_channel::unbounded();
        node.send(NodeMsg::Begin { id: next_id, rx })
            .expect("begin");
        let reply = reply_tx.clone();
        tx.send(TxMsg::Run(NodeRequest {
            program: program.clone(),
            stmt,
            entry,
            partition,
            logged,
            rows: Vec::new(),
            sets: Vec::new(),
            reply: Box::new(move |res| {
                let _ = reply.send(res);
            }),
        }))
        .expect("run");
        tx.send(TxMsg::End).expect("end");
        let (out, _changes) = reply_rx.recv().expect("reply").expect("node result");
        since_commit += 1;
        if since_commit == COMMIT_EVERY {
            since_commit = 0;
            node.send(NodeMsg::Commit { upto: next_id })
                .expect("commit");
        }
        out
    };
    let out = round_trip();
    assert_eq!(out.rows.len(), 1);

    let mut group = c.benchmark_group("dispatch");
    group.bench_function("begin_run_end_point_lookup", |b| {
        b.iter(|| black_box(round_trip()))
    });
    group.bench_function("sync_round_trip", |b| {
        b.iter(|| node.call(|done| NodeMsg::Sync { done }).expect("sync"))
    });
    group.finish();
    node.send(NodeMsg::Commit { upto: next_id })
        .expect("commit");
}

criterion_group!(benches, bench_dispatch);
criterion_main!(benches);
