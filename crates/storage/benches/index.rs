//! Partition index and row costs for N = 100k rows `[Int(i), Int(i)]` keyed on column 0, for
//! both the tree and the hash index: insert (sequential and random keys), point lookup, full
//! scan, replace of existing rows (logged, as an UPDATE does); and row encoding and column
//! access; and the cost of a flood of keys made to collide in a hash index against random keys.

use std::hint::black_box;

use amelie_common::{FastState, IndexKind, Value};
use amelie_storage::{Partition, Row, UndoLog};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

const N: i64 = 100_000;

fn row(i: i64) -> Row {
    Row::encode(&[Value::Int(i), Value::Int(i)])
}

/// A permutation of 0..N.
fn scattered(i: i64) -> i64 {
    (i * 7919) % N
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
        for (order, f) in [("seq", (|i| i) as fn(i64) -> i64), ("random", scattered)] {
            group.bench_function(format!("{}_{order}", kind_name(kind)), |b| {
                b.iter_batched(
                    || (0..N).map(|i| row(f(i))).collect::<Vec<_>>(),
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
                p.row_key(&row(scattered(i)), &mut k);
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
                black_box(&p).scan(|k, _| {
                    n += k.len();
                    true
                });
                assert_eq!(n, 9 * N as usize);
                n
            })
        });
    }
    group.finish();
}

fn bench_replace(c: &mut Criterion) {
    let mut group = c.benchmark_group("index/replace_100k");
    group.throughput(Throughput::Elements(N as u64));
    group.sample_size(10);
    for kind in [IndexKind::Tree, IndexKind::Hash] {
        let mut p = fill(kind);
        let mut undo = UndoLog::default();
        group.bench_function(kind_name(kind), |b| {
            b.iter_batched(
                || {
                    (0..N)
                        .map(|i| Row::encode(&[Value::Int(scattered(i)), Value::Int(-i)]))
                        .collect::<Vec<_>>()
                },
                |rows| {
                    let mut key = Vec::with_capacity(16);
                    for r in rows {
                        p.row_key(&r, &mut key);
                        p.put(&key, r, Some(&mut undo));
                    }
                    // commit: the previous images go
                    undo.clear();
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

fn bench_row(c: &mut Criterion) {
    let mut group = c.benchmark_group("row");
    group.throughput(Throughput::Elements(1));
    let one = [Value::Int(1_234_567)];
    group.bench_function("encode_1_int", |b| b.iter(|| Row::encode(black_box(&one))));
    let tpcb = [
        Value::Int(42_000),
        Value::Int(0),
        Value::Int(-1234),
        Value::str(&" ".repeat(84)),
    ];
    group.bench_function("encode_tpcb_account", |b| {
        b.iter(|| Row::encode(black_box(&tpcb)))
    });
    let r = Row::encode(&tpcb);
    group.bench_function("get_ref_col2", |b| {
        b.iter(|| black_box(&r).get_ref(black_box(2)).is_null())
    });
    group.bench_function("get_col3_str", |b| {
        b.iter(|| black_box(&r).get(black_box(3)))
    });
    group.bench_function("to_values", |b| b.iter(|| black_box(&r).to_values()));
    let mut key = Vec::with_capacity(16);
    group.bench_function("encode_key_int", |b| {
        b.iter(|| {
            key.clear();
            black_box(&r).encode_key(black_box(&[0]), &mut key);
            key.len()
        })
    });
    let mut other = Vec::new();
    amelie_storage::encode_key(&[Value::Int(42_001)], &mut other);
    group.bench_function("cmp_key_int", |b| {
        b.iter(|| black_box(&r).cmp_key(black_box(&[0]), black_box(&other)))
    });
    group.finish();
}

/// The hash a client can compute for itself: the hash function with a seed it knows. A hash
/// index seeds itself at random, so this is the client's best guess.
fn attacker_hash(key: &[u8]) -> u64 {
    thread_local!(static KNOWN: FastState = FastState::with_known_seed(0));
    KNOWN.with(|h| h.hash_bytes(key))
}

/// `n` rows whose keys agree in the low `bits` bits of `attacker_hash`.
fn flood_rows(n: usize, bits: u32) -> Vec<Row> {
    let mask = (1u64 << bits) - 1;
    let mut out = Vec::with_capacity(n);
    let mut key = Vec::with_capacity(16);
    let mut i = 0i64;
    while out.len() < n {
        key.clear();
        amelie_storage::encode_key(&[Value::Int(i)], &mut key);
        if attacker_hash(&key) & mask == 0 {
            out.push(row(i));
        }
        i += 1;
    }
    out
}

fn bench_flood(c: &mut Criterion) {
    // 8192 rows fill a table of 16384 buckets: the low 14 bits pick a bucket
    const ROWS: usize = 8192;
    let flood = flood_rows(ROWS, 14);
    let random: Vec<Row> = (0..ROWS as i64)
        .map(|i| row((i * 0x9e37_79b9) & 0x7fff_ffff))
        .collect();
    let mut group = c.benchmark_group("index/hash_flood_8k");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.sample_size(20);
    for (name, rows) in [("colliding", &flood), ("random", &random)] {
        group.bench_function(name, |b| {
            b.iter_batched(
                || rows.clone(),
                |rows| {
                    let mut p = Partition::new(1, 1, IndexKind::Hash, &[0]);
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

criterion_group!(
    benches,
    bench_flood,
    bench_insert,
    bench_get,
    bench_scan,
    bench_replace,
    bench_row
);
criterion_main!(benches);
