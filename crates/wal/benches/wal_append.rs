//! Group-commit append throughput: `write_batch` of 1 and 32 records of 100 bytes, no fsync.

use std::hint::black_box;
use std::path::PathBuf;

use amelie_wal::{Wal, WalConfig};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn scratch_dir(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    std::env::temp_dir().join(format!(
        "amelie-wal-bench-{name}-{}-{nanos}",
        std::process::id()
    ))
}

fn bench_batch(c: &mut Criterion, records: usize) {
    let dir = scratch_dir(&format!("batch{records}"));
    let config = WalConfig {
        dir: dir.clone(),
        rotate_wm: 64 * 1024 * 1024,
        sync_on_rotate: false,
        sync_on_write: false,
    };
    let (mut wal, _) = Wal::open(config).expect("open wal");
    let body = [0x5au8; 100];
    let mut batch: Vec<(u64, u32, &[u8])> = Vec::with_capacity(records);
    let mut lsn = wal.last_lsn();

    let mut group = c.benchmark_group("wal_append");
    group.throughput(Throughput::Elements(records as u64));
    group.bench_function(format!("write_batch/{records}x100B"), |b| {
        b.iter(|| {
            batch.clear();
            for _ in 0..records {
                lsn += 1;
                batch.push((lsn, 1, &body[..]));
            }
            wal.write_batch(black_box(&batch)).expect("write_batch");
            // Keep the log from growing without bound over long runs.
            if wal.file_infos().len() > 4 {
                wal.remove_below(lsn).expect("remove_below");
            }
        })
    });
    group.finish();
    drop(wal);
    let _ = std::fs::remove_dir_all(&dir);
}

fn wal_append(c: &mut Criterion) {
    bench_batch(c, 1);
    bench_batch(c, 32);
}

criterion_group!(benches, wal_append);
criterion_main!(benches);
