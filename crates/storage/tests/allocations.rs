//! Allocations on the hot paths, counted by a global allocator wrapper: none in get, scan,
//! range scan and key comparison; none besides occasional leaf/table growth in put of a new
//! key; none at all in a replace, with undo logging included.

mod counting;

use amelie_common::{IndexKind, Value};
use amelie_storage::{Partition, Row, UndoLog};
use std::ops::Bound;

#[global_allocator]
static ALLOC: counting::Counting = counting::Counting;

const N: i64 = 100_000;

fn allocs() -> usize {
    counting::snapshot().2
}

fn rows(from: i64, n: i64, v: i64) -> Vec<Row> {
    (from..from + n)
        .map(|i| Row::encode(&[Value::Int(i), Value::Int(v), Value::str("some text")]))
        .collect()
}

fn check(kind: IndexKind) {
    let mut p = Partition::new(1, 1, kind, &[0]);
    let mut key = Vec::with_capacity(64);
    let mut undo = UndoLog::default();
    // warm the undo log up to its steady-state size, then reuse it
    for r in rows(-N, N, 0) {
        p.row_key(&r, &mut key);
        p.put(&key, r, Some(&mut undo));
    }
    undo.clear();

    // put of new keys, logged
    let new_rows = rows(0, N, 0);
    let before = allocs();
    for r in new_rows {
        p.row_key(&r, &mut key);
        p.put(&key, r, Some(&mut undo));
    }
    let put_allocs = allocs() - before;
    undo.clear();

    // replace of existing keys (update), logged
    let updates = rows(0, N, 1);
    let before = allocs();
    for r in updates {
        p.row_key(&r, &mut key);
        p.put(&key, r, Some(&mut undo));
    }
    let replace_allocs = allocs() - before;
    undo.clear();

    // reads
    let (mut a, mut b) = (Vec::with_capacity(16), Vec::with_capacity(16));
    amelie_storage::encode_key(&[Value::Int(10)], &mut a);
    amelie_storage::encode_key(&[Value::Int(5000)], &mut b);
    let before = allocs();
    let mut found = 0;
    for i in 0..N {
        key.clear();
        amelie_storage::encode_key(&[Value::Int((i * 7919) % N)], &mut key);
        found += p.get(&key).is_some() as usize;
    }
    let mut seen = 0;
    p.scan(|_, _| {
        seen += 1;
        true
    });
    let mut ranged = 0;
    p.scan_range(Bound::Excluded(&a), Bound::Included(&b), |_, _| {
        ranged += 1;
        true
    });
    let read_allocs = allocs() - before;
    assert_eq!(found, N as usize);
    assert_eq!(seen, 2 * N as usize);
    assert_eq!(ranged, 4990);

    println!(
        "{kind:?}: {put_allocs} allocations for {N} logged puts of new keys, \
         {replace_allocs} for {N} logged replaces, {read_allocs} for {N} gets + scans"
    );
    match kind {
        // a leaf and its separator every 128 ascending rows, and the separator map's nodes
        IndexKind::Tree => assert!(put_allocs <= 2 * (N as usize / 128) * 11 / 10 + 16),
        // table growth only
        IndexKind::Hash => assert!(put_allocs <= 4, "{put_allocs}"),
    }
    assert_eq!(replace_allocs, 0);
    assert_eq!(read_allocs, 0);
}

#[test]
fn hot_paths_do_not_allocate() {
    check(IndexKind::Tree);
    check(IndexKind::Hash);
}
