//! One fused node round trip frontend -> compute node -> frontend, without tokio: a node
//! thread is started directly and each transaction is ONE `TxWork` message (first and last,
//! carrying the compiled point lookup); the reply closure hands the batch result back over a
//! `std::sync::mpsc` channel. Also the same with five requests in one message (the shape of
//! a TPC-B transaction on one node), the five requests run in place by the sender while the
//! node thread sleeps (`NodeHandle::run_or_wake`, light work) and a bare `NodeMsg::Sync`
//! round trip.

use std::hint::black_box;
use std::sync::{mpsc, Arc};

use amelie_catalog::{Catalog, DdlOp, Node};
use amelie_common::Value;
use amelie_compiler::{compile, CompileCtx, Compiled};
use amelie_node::{BatchError, BatchReply, NodeHandle, NodeMsg, NodeRequest, TxWork};
use amelie_vm::{Op, Program};
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
        Compiled::Program(p) => p.program,
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

type Reply = std::result::Result<BatchReply, BatchError>;

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
    let mut log = amelie_vm::ChangeLog::default();
    for i in 0..ROWS {
        log.put(
            partition,
            &amelie_storage::Row::encode(&[Value::Int(i), Value::Int(i)]),
        );
    }
    node.send(NodeMsg::Replay {
        changes: log.into_bytes(),
    })
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
    let params: Arc<[Value]> = program.bind(&[], 0);
    let (reply_tx, reply_rx) = mpsc::channel::<Reply>();
    let mut next_id = 0u64;
    let mut since_commit = 0u64;
    let mut round_trip = |requests: usize, in_place: bool| {
        next_id += 1;
        let gov = std::sync::Arc::new(amelie_common::Governor::unlimited());
        let reply = reply_tx.clone();
        let reqs = (0..requests)
            .map(|_| NodeRequest {
                program: program.clone(),
                stmt,
                entry,
                partition,
                logged,
                rows: Vec::new(),
                generate: None,
                sets: Vec::new(),
                params: params.clone(),
                now: 0,
                gov: gov.clone(),
                first: true,
                light: in_place,
            })
            .collect();
        node.send_quiet(NodeMsg::Tx(TxWork {
            id: next_id,
            first: true,
            last: true,
            reqs,
            apply: Vec::new(),
            reply: Some(Box::new(move |res| {
                let _ = reply.send(res);
            })),
        }))
        .expect("send");
        node.run_or_wake(in_place);
        let out = reply_rx.recv().expect("reply").expect("node result");
        since_commit += 1;
        if since_commit == COMMIT_EVERY {
            since_commit = 0;
            node.send(NodeMsg::Commit { upto: next_id })
                .expect("commit");
        }
        out
    };
    for in_place in [false, true] {
        let out = round_trip(1, in_place);
        assert_eq!(out.outputs.len(), 1);
        assert_eq!(out.outputs[0].rows.len(), 1);
    }

    let mut group = c.benchmark_group("dispatch");
    group.bench_function("fused_point_lookup", |b| {
        b.iter(|| black_box(round_trip(1, false)))
    });
    group.bench_function("fused_five_requests", |b| {
        b.iter(|| black_box(round_trip(5, false)))
    });
    group.bench_function("in_place_five_requests", |b| {
        b.iter(|| black_box(round_trip(5, true)))
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
