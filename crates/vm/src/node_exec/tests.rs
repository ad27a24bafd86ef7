//! Tests of node code.

use super::*;
use crate::op::{BinOp, Conflict};
use amelie_common::IndexKind;

fn row(a: i64, b: i64) -> Row {
    Row::encode(&[Value::Int(a), Value::Int(b)])
}

fn batch(rows: Vec<Row>) -> Vec<u8> {
    let mut out = Vec::new();
    for r in rows {
        out.extend_from_slice(r.as_bytes());
    }
    out
}

fn run(p: &Program, part: &mut Partition, input: Vec<Row>) -> Result<Vec<Tuple>> {
    let mut undo = UndoLog::default();
    let mut changes = ChangeLog::default();
    let ctx = NodeCtx {
        partition: part,
        undo: &mut undo,
        changes: &mut changes,
        logged: true,
        sets: &[],
        env: Env::EMPTY,
        gov: None,
        held: &mut 0,
        first: true,
        regs: &mut Vec::new(),
    };
    Ok(run_node(p, 0, 0, InsertRows::Encoded(&batch(input)), ctx)?.rows)
}

/// `insert .. on conflict do update set v = v + excluded.v returning *`
fn upsert(mode: Conflict, unique: Vec<(String, u16)>) -> Program {
    Program {
        node: vec![
            Op::Upsert {
                table: 0,
                mode,
                end: 7,
                unique,
            },
            Op::Column { dst: 0, col: 1 },
            Op::Column { dst: 1, col: 3 },
            Op::Binary {
                op: BinOp::Add,
                dst: 4,
                a: 0,
                b: 1,
            },
            Op::Column { dst: 3, col: 0 },
            Op::Move { dst: 4, src: 4 },
            Op::StageUpdate { start: 3 },
            Op::ReturnRows { end: 9 },
            Op::Emit { start: 3, n: 0 },
            Op::Ret,
        ],
        node_regs: 8,
        ..Program::default()
    }
}

#[test]
fn upsert_modes_and_returning() {
    let mut part = Partition::new(1, 1, IndexKind::Tree, &[0]);
    let p = upsert(Conflict::Update, Vec::new());
    run(&p, &mut part, vec![row(1, 10), row(2, 5), row(1, 1)]).unwrap();
    assert_eq!(
        part.get(&{
            let mut k = Vec::new();
            encode_key(&[Value::Int(1)], &mut k);
            k
        }),
        Some(&row(1, 11))
    );
    let out = run(&p, &mut part, vec![row(2, 1)]).unwrap();
    assert_eq!(out.len(), 1);
    let e = run(
        &upsert(Conflict::Primary, Vec::new()),
        &mut part,
        vec![row(2, 0)],
    );
    assert_eq!(
        e.unwrap_err().to_string(),
        "index 'primary': unique key constraint violation"
    );
    let e = run(
        &upsert(Conflict::Error, Vec::new()),
        &mut part,
        vec![row(2, 0)],
    );
    assert_eq!(
        e.unwrap_err().to_string(),
        "unique key constraint violation"
    );
    let out = run(
        &upsert(Conflict::Nothing, Vec::new()),
        &mut part,
        vec![row(2, 0)],
    );
    assert_eq!(out.unwrap().len(), 1);
    part.create_secondary(&[1], true);
    let uniq = vec![("i".to_string(), 0u16)];
    let e = run(
        &upsert(Conflict::Primary, uniq.clone()),
        &mut part,
        vec![row(3, 6)],
    );
    assert_eq!(
        e.unwrap_err().to_string(),
        "index 'i': unique key constraint violation"
    );
    assert!(run(&upsert(Conflict::Primary, uniq), &mut part, vec![row(3, 7)]).is_ok());
}

#[test]
fn generate_rows_replaces_each_input_row() {
    // b = a + a, then insert
    let p = Program {
        node: vec![
            Op::GenerateRows { end: 5 },
            Op::Column { dst: 0, col: 0 },
            Op::Binary {
                op: BinOp::Add,
                dst: 3,
                a: 0,
                b: 0,
            },
            Op::Column { dst: 2, col: 0 },
            Op::StageUpdate { start: 2 },
            Op::Upsert {
                table: 0,
                mode: Conflict::Primary,
                end: 6,
                unique: Vec::new(),
            },
            Op::Ret,
        ],
        node_regs: 4,
        ..Program::default()
    };
    let mut part = Partition::new(1, 1, IndexKind::Tree, &[0]);
    run(&p, &mut part, vec![row(1, 0), row(2, 0)]).unwrap();
    let mut k = Vec::new();
    encode_key(&[Value::Int(2)], &mut k);
    assert_eq!(part.get(&k), Some(&row(2, 4)));
}

/// For each partition row `a`: the rows of shipped set 0 whose column 0 equals `a`
/// (`set_probe`), emitted as `[set.col1, a]`.
fn probe_program() -> Program {
    Program {
        node: vec![
            Op::Scan {
                table: 0,
                key: None,
                key_len: 0,
                end: 7,
            },
            Op::Column { dst: 0, col: 0 },
            Op::SetProbe {
                stmt: 0,
                col: 0,
                key: 0,
                end: 7,
            },
            Op::OuterColumn {
                dst: 1,
                depth: 0,
                col: 1,
            },
            Op::Column { dst: 2, col: 0 },
            Op::Emit { start: 1, n: 2 },
            Op::SetNext { body: 3 },
            Op::Ret,
        ],
        node_regs: 3,
        ..Program::default()
    }
}

fn run_with_set(p: &Program, part: &mut Partition, set: Vec<Tuple>) -> Vec<Tuple> {
    let mut undo = UndoLog::default();
    let mut changes = ChangeLog::default();
    let sets = vec![(0u16, Arc::new(set))];
    let ctx = NodeCtx {
        partition: part,
        undo: &mut undo,
        changes: &mut changes,
        logged: true,
        sets: &sets,
        env: Env::EMPTY,
        gov: None,
        held: &mut 0,
        first: true,
        regs: &mut Vec::new(),
    };
    run_node(p, 0, 0, InsertRows::Encoded(&[]), ctx)
        .unwrap()
        .rows
}

#[test]
fn set_probe_visits_matching_rows_in_set_order() {
    let mut part = Partition::new(1, 1, IndexKind::Tree, &[0]);
    for i in 1..=3 {
        let mut k = Vec::new();
        encode_key(&[Value::Int(i)], &mut k);
        part.put(&k, Row::encode(&[Value::Int(i)]), None);
    }
    let r = |a: Value, b: &str| vec![a, Value::str(b)].into_boxed_slice();
    let set = vec![
        r(Value::Int(1), "x"),
        r(Value::Null, "n"),
        r(Value::Int(2), "z"),
        r(Value::Int(1), "y"),
    ];
    let out = run_with_set(&probe_program(), &mut part, set);
    let got: Vec<(Value, Value)> = out.iter().map(|r| (r[0].clone(), r[1].clone())).collect();
    assert_eq!(
        got,
        vec![
            (Value::str("x"), Value::Int(1)),
            (Value::str("y"), Value::Int(1)),
            (Value::str("z"), Value::Int(2)),
        ]
    );
    // a column of mixed types cannot be hashed: every row is visited (the filter, absent
    // here, would decide)
    let mixed = vec![r(Value::Int(1), "x"), r(Value::str("1"), "s")];
    assert_eq!(run_with_set(&probe_program(), &mut part, mixed).len(), 6);
    // an empty set or an all-NULL column: nothing
    assert!(run_with_set(&probe_program(), &mut part, Vec::new()).is_empty());
    let nulls = vec![r(Value::Null, "n")];
    assert!(run_with_set(&probe_program(), &mut part, nulls).is_empty());
}

#[test]
fn range_scan_visits_only_the_range() {
    let mut part = Partition::new(1, 1, IndexKind::Tree, &[0]);
    for i in 0..10 {
        let mut k = Vec::new();
        encode_key(&[Value::Int(i)], &mut k);
        part.put(&k, row(i, i), None);
    }
    let key = |i: i64| {
        let mut k = Vec::new();
        encode_key(&[Value::Int(i)], &mut k);
        k.into_boxed_slice()
    };
    let p = Program {
        node: vec![
            Op::ScanRange {
                table: 0,
                from: Some((key(3), false)),
                to: Some((key(6), true)),
                end: 3,
            },
            Op::Column { dst: 0, col: 0 },
            Op::Emit { start: 0, n: 1 },
            Op::Ret,
        ],
        node_regs: 2,
        ..Program::default()
    };
    let out = run(&p, &mut part, Vec::new()).unwrap();
    let ids: Vec<Value> = out.iter().map(|r| r[0].clone()).collect();
    assert_eq!(ids, vec![Value::Int(4), Value::Int(5), Value::Int(6)]);
    // inverted and empty ranges visit nothing (and must not panic)
    for (from, to) in [
        ((6, true), (3, true)),
        ((3, false), (3, true)),
        ((3, false), (3, false)),
    ] {
        let mut p = p.clone();
        p.node[0] = Op::ScanRange {
            table: 0,
            from: Some((key(from.0), from.1)),
            to: Some((key(to.0), to.1)),
            end: 3,
        };
        assert!(run(&p, &mut part, Vec::new()).unwrap().is_empty());
    }
}
