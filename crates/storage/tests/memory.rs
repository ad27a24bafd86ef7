//! Bytes per row of 2,000,000 single-int rows (`id int primary key`, sequential ids), counted
//! by a global allocator wrapper, for the tree and the hash index.

mod counting;

use amelie_common::{IndexKind, Value};
use amelie_storage::{Partition, Row};

#[global_allocator]
static ALLOC: counting::Counting = counting::Counting;

const N: usize = 2_000_000;

/// (bytes per row as requested, in mimalloc size classes).
fn bytes_per_row(kind: IndexKind) -> (f64, f64) {
    let (live0, class0, _) = counting::snapshot();
    let mut p = Partition::new(1, 1, kind, &[0]);
    let mut key = Vec::with_capacity(16);
    for id in 1..=N as i64 {
        let row = Row::encode(&[Value::Int(id)]);
        p.row_key(&row, &mut key);
        p.put(&key, row, None);
    }
    drop(key);
    assert_eq!(p.len(), N);
    let (live1, class1, _) = counting::snapshot();
    let r = (
        (live1 - live0) as f64 / N as f64,
        (class1 - class0) as f64 / N as f64,
    );
    drop(p);
    let (live2, _, _) = counting::snapshot();
    // (the test harness may hold a few allocations of its own meanwhile)
    assert!(
        live2.abs_diff(live0) < 64 * 1024,
        "dropping the partition frees everything: {live0} -> {live2}"
    );
    r
}

#[test]
fn bytes_per_single_int_row() {
    assert_eq!(counting::size_class(7), 8);
    assert_eq!(counting::size_class(65), 80);
    assert_eq!(counting::size_class(1024), 1024);
    let tree = bytes_per_row(IndexKind::Tree);
    let hash = bytes_per_row(IndexKind::Hash);
    println!(
        "2M single-int rows: tree {:.2} B/row requested ({:.2} in size classes), \
         hash {:.2} B/row requested ({:.2} in size classes)",
        tree.0, tree.1, hash.0, hash.1
    );
    assert!(tree.0 <= 40.0 && tree.1 <= 40.0, "tree: {tree:?}");
    assert!(hash.0 <= 40.0 && hash.1 <= 40.0, "hash: {hash:?}");
}
