//! Partition index costs for N = 100k rows `[Int(i), Int(i)]` keyed on column 0, for both the
//! tree and the hash index: bulk insert, point lookup and a full scan.

use std::hint::black_box;

use amelie_common::{IndexKind, Value};
use amelie_storage::{Partition, Row};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

const N: i64 = 100_000;

fn row(i: i64) -> Row {
    vec![Value::Int(i), Value::Int(i)].into_boxed_slice()
}

fn fill(kind: IndexKind) -> Partition {
    let mut p = Partition::new(1, 1, kind, &[0]);
    let mut key = Vec::with_capacity(16);
    for i in 0..N {
        let r = row(i);
        p.row_key(&r, &mut key);
        p.put(&key, r, None);
    }
    p
}

fn kind_name(kind: IndexKind) -> &'static str {
    match kind {
        IndexKind::Tree => "tree",
        IndexKind::Hash => "hash",
    }
}

fn bench_insert(c: &mut Criterion) {
    let mut group = c.benchmark_group("index/insert_100k");
    group.throughput(Throughput::Elements(N as u64));
    group.sample_size(10);
    for kind in [IndexKind::Tree, IndexKind::Hash] {
        group.bench_function(kind_name(kind), |b| {
            b.iter_batched(
                || (0..N).map(row).collect::<Vec<_>>(),
                |rows| {
                    let mut p = Partition::new(1, 1, kind, &[0]);
                    let mut key = Vec::with_capacity(16);
                    for r in rows {
                        p.row_key(&r, &mut key);
                        p.put(&key, r, None);
                    }
                    p
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

fn bench_get(c: &mut Criterion) {
    let mut group = c.benchmark_group("index/get");
    group.throughput(Throughput::Elements(1));
    for kind in [IndexKind::Tree, IndexKind::Hash] {
        let p = fill(kind);
        // Pre-encoded keys in a scattered order, so lookups do not walk the index sequentially.
        let keys: Vec<Vec<u8>> = (0..N)
            .map(|i| {
                let mut k = Vec::new();
                p.row_key(&row((i * 7919) % N), &mut k);
                k
            })
            .collect();
        let mut i = 0usize;
        group.bench_function(kind_name(kind), |b| {
            b.iter(|| {
                let k = &keys[i];
                i = (i + 1) % keys.len();
                black_box(p.get(black_box(k))).is_some()
            })
        });
    }
    group.finish();
}

fn bench_scan(c: &mut Criterion) {
    let mut group = c.benchmark_group("index/scan_100k");
    group.throughput(Throughput::Elements(N as u64));
    for kind in [IndexKind::Tree, IndexKind::Hash] {
        let p = fill(kind);
        group.bench_function(kind_name(kind), |b| {
            b.iter(|| {
                let mut n = 0usize;
                black_box(&p).scan(|_, _| {
                    n += 1;
                    true
                });
                assert_eq!(n, N as usize);
                n
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_insert, bench_get, bench_scan);
criterion_main!(benches);
