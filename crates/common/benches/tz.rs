//! Time-zone conversion: what a row costs when a timestamp meets a named zone.
//!
//! * `at_timezone_berlin`: the per-row work of `ts AT TIMEZONE 'Europe/Berlin'`
//!   (`at_timezone()` in the VM): resolve the name, take the offset at the instant, format.
//! * `format_session_zone`: printing a timestamp in a session zone set by `SET timezone`
//!   (a [`Tz::Zone`]), as every timestamp of a reply is printed.
//! * `parse_in_zone`: reading a zone-less literal in a named zone (`timestamp(s, zone)`).
//! * `unknown_zone`: looking up a name that is not in the tz database.

use std::hint::black_box;

use amelie_common::time::Tz;
use amelie_common::{format_timestamp, parse_timestamp};
use criterion::{criterion_group, criterion_main, Criterion};

fn bench_tz(c: &mut Criterion) {
    let ts = parse_timestamp("2024-07-29 18:40:19.5", Tz::UTC).expect("timestamp");
    let berlin = Tz::lookup("Europe/Berlin").expect("Europe/Berlin in the tz database");
    let mut group = c.benchmark_group("tz");
    group.bench_function("at_timezone_berlin", |b| {
        let mut out = String::with_capacity(64);
        b.iter(|| {
            out.clear();
            let z = Tz::lookup(black_box("Europe/Berlin")).expect("zone");
            format_timestamp(black_box(ts), z, &mut out);
            black_box(out.len())
        })
    });
    group.bench_function("format_session_zone", |b| {
        let mut out = String::with_capacity(64);
        b.iter(|| {
            out.clear();
            format_timestamp(black_box(ts), black_box(berlin), &mut out);
            black_box(out.len())
        })
    });
    group.bench_function("parse_in_zone", |b| {
        b.iter(|| {
            let z = Tz::lookup(black_box("Europe/Berlin")).expect("zone");
            parse_timestamp(black_box("2024-07-29 18:40:19"), z)
        })
    });
    group.bench_function("unknown_zone", |b| {
        b.iter(|| Tz::lookup(black_box("Mars/Olympus_Mons")))
    });
    group.finish();
}

criterion_group!(benches, bench_tz);
criterion_main!(benches);
