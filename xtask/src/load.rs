//! `bench load`: drives the HTTP SQL endpoint with N keep-alive clients for S seconds.

use crate::args::{LoadArgs, Workload, UPSERT_KEYS};
use crate::http::Client;
use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

const CONFLICT: &str = "transaction conflict, abort";
/// Rows per INSERT statement while loading the tpcb tables.
const LOAD_CHUNK: i64 = 500;
const ACCOUNTS_PER_BRANCH: i64 = 100_000;
const TELLERS_PER_BRANCH: i64 = 10;
/// History ids are `client * HID_STRIDE + counter`, insert ids `client * ID_STRIDE + counter`.
const HID_STRIDE: u64 = 1_000_000_000;
const ID_STRIDE: u64 = 1_000_000_000_000;
const TPCB_TABLES: [&str; 4] = [
    "__bench_history",
    "__bench_accounts",
    "__bench_tellers",
    "__bench_branches",
];

/// xorshift64* — small, fast, good enough to pick keys.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // splitmix64 scrambles small seeds into a non-zero state
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        ((self.next() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
}

fn push_int(buf: &mut Vec<u8>, v: i64) {
    if v < 0 {
        buf.push(b'-');
    }
    let mut n = v.unsigned_abs();
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

/// Builds the request bodies of one client.
struct Generator {
    workload: Workload,
    rng: Rng,
    client: u64,
    counter: u64,
    scale: i64,
    batch: usize,
    /// upsert: `stamps[k] == stamp` marks key k as used in the current statement
    stamps: Vec<u32>,
    stamp: u32,
}

impl Generator {
    fn new(args: &LoadArgs, client: u64, seed: u64) -> Generator {
        Generator {
            workload: args.workload,
            rng: Rng::new(seed),
            client,
            counter: 0,
            scale: args.scale as i64,
            batch: args.batch,
            stamps: if args.workload == Workload::Upsert {
                vec![0; UPSERT_KEYS]
            } else {
                Vec::new()
            },
            stamp: 0,
        }
    }

    fn build(&mut self, buf: &mut Vec<u8>) {
        buf.clear();
        match self.workload {
            Workload::Tpcb => self.tpcb(buf),
            Workload::Select => {
                let aid = self.rng.range(1, ACCOUNTS_PER_BRANCH * self.scale);
                buf.extend_from_slice(b"select * from __bench_accounts where aid = ");
                push_int(buf, aid);
            }
            Workload::Scan => {
                buf.extend_from_slice(b"select count(*), sum(v) from __bench_agg where v > 500");
            }
            Workload::Aggregate => {
                buf.extend_from_slice(b"select g, count(*), sum(v) from __bench_agg group by g");
            }
            Workload::Join => {
                buf.extend_from_slice(
                    b"select s.name, count(*), sum(a.v) from __bench_agg a \
                      join __bench_groups s on a.g = s.g group by s.name",
                );
            }
            Workload::Insert => {
                buf.extend_from_slice(b"insert into __bench_insert values ");
                for i in 0..self.batch {
                    if i > 0 {
                        buf.push(b',');
                    }
                    buf.push(b'(');
                    push_int(buf, (self.client * ID_STRIDE + self.counter) as i64);
                    buf.extend_from_slice(b", ");
                    push_int(buf, self.rng.below(1_000_000) as i64);
                    buf.push(b')');
                    self.counter += 1;
                }
            }
            Workload::Upsert => {
                self.stamp = self.stamp.wrapping_add(1);
                if self.stamp == 0 {
                    self.stamps.fill(0);
                    self.stamp = 1;
                }
                buf.extend_from_slice(b"insert into __bench_upsert values ");
                for i in 0..self.batch {
                    let key = loop {
                        let k = self.rng.below(UPSERT_KEYS as u64) as usize;
                        if self.stamps[k] != self.stamp {
                            self.stamps[k] = self.stamp;
                            break k;
                        }
                    };
                    if i > 0 {
                        buf.push(b',');
                    }
                    buf.push(b'(');
                    push_int(buf, key as i64);
                    buf.extend_from_slice(b", 1)");
                }
                buf.extend_from_slice(b" on conflict do update set hits = hits + 1");
            }
        }
    }

    fn tpcb(&mut self, buf: &mut Vec<u8>) {
        let aid = self.rng.range(1, ACCOUNTS_PER_BRANCH * self.scale);
        let tid = self.rng.range(1, TELLERS_PER_BRANCH * self.scale);
        let bid = self.rng.range(1, self.scale);
        let delta = self.rng.range(-5000, 5000);
        let hid = (self.client * HID_STRIDE + self.counter) as i64;
        self.counter += 1;
        // `x + -5` is `x`, `+`, literal `-5`: the space after `+` keeps it from lexing as `x+-5`.
        buf.extend_from_slice(b"update __bench_accounts set abalance = abalance + ");
        push_int(buf, delta);
        buf.extend_from_slice(b" where aid = ");
        push_int(buf, aid);
        buf.extend_from_slice(b"; select abalance from __bench_accounts where aid = ");
        push_int(buf, aid);
        buf.extend_from_slice(b"; update __bench_tellers set tbalance = tbalance + ");
        push_int(buf, delta);
        buf.extend_from_slice(b" where tid = ");
        push_int(buf, tid);
        buf.extend_from_slice(b"; update __bench_branches set bbalance = bbalance + ");
        push_int(buf, delta);
        buf.extend_from_slice(b" where bid = ");
        push_int(buf, bid);
        buf.extend_from_slice(b"; insert into __bench_history values (");
        for (i, v) in [hid, tid, bid, aid, delta].into_iter().enumerate() {
            if i > 0 {
                buf.extend_from_slice(b", ");
            }
            push_int(buf, v);
        }
        buf.extend_from_slice(b", '2024-01-01 00:00:00', '')");
    }
}

fn exec(c: &mut Client, sql: &str) -> Result<(), String> {
    c.execute(sql).map(drop).map_err(|e| {
        format!(
            "setup: `{}`: {e}",
            sql.chars().take(120).collect::<String>()
        )
    })
}

/// Inserts rows `1..=count` of `table`, LOAD_CHUNK rows per statement.
fn load_rows(
    c: &mut Client,
    table: &str,
    count: i64,
    row: impl Fn(&mut Vec<u8>, i64),
) -> Result<(), String> {
    let mut sql = Vec::with_capacity(64 * LOAD_CHUNK as usize);
    let mut first = 1;
    while first <= count {
        let last = (first + LOAD_CHUNK - 1).min(count);
        sql.clear();
        write!(sql, "insert into {table} values ").unwrap();
        for id in first..=last {
            if id > first {
                sql.push(b',');
            }
            sql.push(b'(');
            row(&mut sql, id);
            sql.push(b')');
        }
        exec(c, std::str::from_utf8(&sql).unwrap())?;
        first = last + 1;
    }
    Ok(())
}

fn setup_tpcb(c: &mut Client, scale: i64) -> Result<(), String> {
    let started = Instant::now();
    for t in TPCB_TABLES {
        exec(c, &format!("drop table if exists {t}"))?;
    }
    exec(
        c,
        "create table __bench_branches (bid int primary key, bbalance int, filler text)",
    )?;
    exec(
        c,
        "create table __bench_tellers (tid int primary key, bid int, tbalance int, filler text)",
    )?;
    exec(
        c,
        "create table __bench_accounts (aid int primary key, bid int, abalance int, filler text)",
    )?;
    // Amelie would use `hid int primary key serial`; clients generate unique ids instead.
    exec(
        c,
        "create table __bench_history (hid int primary key, tid int, bid int, aid int, \
         delta int, time timestamp, filler text)",
    )?;
    load_rows(c, "__bench_branches", scale, |b, id| {
        push_int(b, id);
        b.extend_from_slice(b", 0, ''");
    })?;
    load_rows(c, "__bench_tellers", TELLERS_PER_BRANCH * scale, |b, id| {
        push_int(b, id);
        b.extend_from_slice(b", ");
        push_int(b, (id - 1) / TELLERS_PER_BRANCH + 1);
        b.extend_from_slice(b", 0, ''");
    })?;
    load_rows(
        c,
        "__bench_accounts",
        ACCOUNTS_PER_BRANCH * scale,
        |b, id| {
            push_int(b, id);
            b.extend_from_slice(b", ");
            push_int(b, (id - 1) / ACCOUNTS_PER_BRANCH + 1);
            b.extend_from_slice(b", 0, ''");
        },
    )?;
    eprintln!(
        "xtask: loaded tpcb scale {scale} ({} branches, {} tellers, {} accounts) in {:.2}s",
        scale,
        TELLERS_PER_BRANCH * scale,
        ACCOUNTS_PER_BRANCH * scale,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn setup(c: &mut Client, args: &LoadArgs) -> Result<(), String> {
    match args.workload {
        Workload::Tpcb | Workload::Select => setup_tpcb(c, args.scale as i64),
        Workload::Scan | Workload::Aggregate | Workload::Join => {
            exec(c, "drop table if exists __bench_groups")?;
            exec(
                c,
                "create shared table __bench_groups (g int primary key, name text)",
            )?;
            let groups: Vec<String> = (0..100).map(|g| format!("({g}, 'group {g}')")).collect();
            exec(
                c,
                &format!("insert into __bench_groups values {}", groups.join(", ")),
            )?;
            exec(c, "drop table if exists __bench_agg")?;
            exec(
                c,
                "create table __bench_agg (id int primary key serial, g int random (100), v int random (1000))",
            )?;
            let chunk = 50_000;
            for _ in 0..(crate::args::AGG_ROWS * args.scale).div_ceil(chunk) {
                exec(c, &format!("insert into __bench_agg generate {chunk}"))?;
            }
            Ok(())
        }
        Workload::Insert => {
            exec(c, "drop table if exists __bench_insert")?;
            exec(
                c,
                "create table __bench_insert (id int primary key, data int)",
            )
        }
        Workload::Upsert => {
            exec(c, "drop table if exists __bench_upsert")?;
            exec(
                c,
                "create table __bench_upsert (id int primary key, hits int) with (type = 'hash')",
            )
        }
    }
}

#[derive(Default)]
struct Stats {
    ok: u64,
    conflicts: u64,
    /// successful transactions only
    latencies_us: Vec<u32>,
    errors: HashMap<String, u64>,
    /// an I/O error happened, so a request's outcome is unknown
    io_errors: bool,
    /// from the common start to this client's last reply (the max over clients after merge)
    elapsed: Duration,
}

impl Stats {
    fn merge(&mut self, other: Stats) {
        self.ok += other.ok;
        self.conflicts += other.conflicts;
        self.latencies_us.extend(other.latencies_us);
        for (msg, n) in other.errors {
            *self.errors.entry(msg).or_default() += n;
        }
        self.io_errors |= other.io_errors;
        self.elapsed = self.elapsed.max(other.elapsed);
    }
}

/// Counters the progress reporter reads while the clients run.
#[derive(Default)]
struct Progress {
    ok: AtomicU64,
    failed: AtomicU64,
}

fn client_loop(
    mut client: Client,
    mut generator: Generator,
    duration: Duration,
    barrier: &Barrier,
    progress: &Progress,
) -> Stats {
    let mut stats = Stats::default();
    let mut body = Vec::with_capacity(64 * 1024);
    barrier.wait();
    let started = Instant::now();
    let deadline = started + duration;
    while Instant::now() < deadline {
        generator.build(&mut body);
        let t0 = Instant::now();
        match client.post(&body) {
            Ok(r) if r.is_success() => {
                let us = t0.elapsed().as_micros().min(u32::MAX as u128) as u32;
                stats.latencies_us.push(us);
                stats.ok += 1;
                progress.ok.fetch_add(1, Ordering::Relaxed);
            }
            Ok(r) => {
                let msg = r.error_message();
                if msg == CONFLICT {
                    stats.conflicts += 1;
                } else {
                    *stats.errors.entry(msg).or_default() += 1;
                }
                progress.failed.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                stats.io_errors = true;
                *stats.errors.entry(format!("io: {e}")).or_default() += 1;
                progress.failed.fetch_add(1, Ordering::Relaxed);
                if let Err(e) = client.reconnect() {
                    *stats
                        .errors
                        .entry(format!("io: reconnect failed, client stopped: {e}"))
                        .or_default() += 1;
                    break;
                }
            }
        }
    }
    stats.elapsed = started.elapsed();
    stats
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// A single integer from a one-row, one-column result such as `[42]` or `[\n  42\n]`.
fn parse_scalar(body: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(body).ok()?;
    let inner: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '[' && *c != ']')
        .collect();
    if inner == "null" {
        return Some(0);
    }
    inner.parse().ok()
}

/// TPC-B invariant: every committed transaction added the same delta to one account, teller and
/// branch and wrote one history row, so the four sums agree and history has `tx` rows.
fn check_tpcb(addr: &str, tx: u64, exact_count: bool) -> Result<bool, String> {
    let mut c = Client::connect(addr).map_err(|e| format!("{addr}: {e}"))?;
    let mut query = |sql: &str| -> Result<i64, String> {
        let r = c.execute(sql).map_err(|e| format!("`{sql}`: {e}"))?;
        parse_scalar(&r.body).ok_or_else(|| format!("`{sql}`: unexpected result {}", r.body_text()))
    };
    let sums = [
        (
            "accounts",
            query("select sum(abalance) from __bench_accounts")?,
        ),
        (
            "tellers",
            query("select sum(tbalance) from __bench_tellers")?,
        ),
        (
            "branches",
            query("select sum(bbalance) from __bench_branches")?,
        ),
        ("history", query("select sum(delta) from __bench_history")?),
    ];
    let rows = query("select count(*) from __bench_history")?;
    let sums_ok = sums.iter().all(|(_, s)| *s == sums[0].1);
    let rows_ok = !exact_count || rows as u64 == tx;
    let listed: Vec<String> = sums.iter().map(|(t, s)| format!("{t} {s}")).collect();
    println!(
        "  check       sums: {}; history rows {rows} (committed tx {tx}{}) -> {}",
        listed.join(", "),
        if exact_count {
            ""
        } else {
            ", I/O errors: not compared"
        },
        if sums_ok && rows_ok { "ok" } else { "MISMATCH" }
    );
    Ok(sums_ok && rows_ok)
}

pub fn run(args: &LoadArgs, addr: &str) -> Result<(), String> {
    let mut setup_client = Client::connect(addr).map_err(|e| format!("{addr}: {e}"))?;
    setup(&mut setup_client, args)?;
    drop(setup_client);

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut clients = Vec::with_capacity(args.clients);
    for id in 0..args.clients {
        let c = Client::connect(addr).map_err(|e| format!("client {id}: {addr}: {e}"))?;
        clients.push(c);
    }
    let duration = Duration::from_secs_f64(args.seconds);
    let barrier = Arc::new(Barrier::new(args.clients + 1));
    let progress = Arc::new(Progress::default());
    let handles: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(id, client)| {
            let generator = Generator::new(args, id as u64, seed ^ ((id as u64) << 48));
            let (barrier, progress) = (barrier.clone(), progress.clone());
            thread::Builder::new()
                .name(format!("bench-client-{id}"))
                .spawn(move || client_loop(client, generator, duration, &barrier, &progress))
                .expect("spawn client thread")
        })
        .collect();

    eprintln!(
        "xtask: running {} with {} clients for {}s",
        args.workload, args.clients, args.seconds
    );
    barrier.wait();
    let started = Instant::now();
    let (mut last_ok, mut last_failed) = (0, 0);
    let mut tick = 1;
    while !handles.iter().all(|h| h.is_finished()) {
        let next = started + Duration::from_secs(tick);
        let now = Instant::now();
        if now < next {
            thread::sleep((next - now).min(Duration::from_millis(50)));
            continue;
        }
        let ok = progress.ok.load(Ordering::Relaxed);
        let failed = progress.failed.load(Ordering::Relaxed);
        eprintln!(
            "  [{tick:>4}s] {:>9} tx/s  {:>6} failed/s",
            ok - last_ok,
            failed - last_failed
        );
        (last_ok, last_failed) = (ok, failed);
        tick += 1;
    }
    let mut stats = Stats::default();
    for h in handles {
        stats.merge(
            h.join()
                .map_err(|_| "a client thread panicked".to_string())?,
        );
    }
    let elapsed = stats.elapsed.as_secs_f64();

    stats.latencies_us.sort_unstable();
    let lat = &stats.latencies_us;
    let (p50, p99) = (percentile(lat, 50.0), percentile(lat, 99.0));
    let max = lat.last().copied().unwrap_or(0);
    let tps = stats.ok as f64 / elapsed;
    let rows_per_s = tps * args.workload.rows_per_tx(args.batch) as f64;
    let errors: u64 = stats.errors.values().sum();

    println!(
        "workload {} | clients {} | {:.2}s{}",
        args.workload,
        args.clients,
        elapsed,
        match args.workload {
            Workload::Tpcb
            | Workload::Select
            | Workload::Scan
            | Workload::Aggregate
            | Workload::Join => format!(" | scale {}", args.scale),
            Workload::Insert | Workload::Upsert => format!(" | batch {}", args.batch),
        }
    );
    println!("  committed   {} tx, {tps:.1} tx/s", stats.ok);
    if matches!(
        args.workload,
        Workload::Insert | Workload::Upsert | Workload::Scan | Workload::Aggregate | Workload::Join
    ) {
        println!("  rows        {rows_per_s:.0} rows/s");
    }
    println!("  latency us  p50 {p50}  p99 {p99}  max {max}");
    println!("  conflicts   {}", stats.conflicts);
    println!("  errors      {errors}");
    let mut by_count: Vec<_> = stats.errors.iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (msg, n) in by_count {
        println!("    {n:>9}  {msg}");
    }

    let check = if args.workload == Workload::Tpcb {
        match check_tpcb(addr, stats.ok, !stats.io_errors) {
            Ok(true) => Some("ok"),
            Ok(false) => Some("fail"),
            Err(e) => {
                println!("  check       skipped: {e}");
                Some("skipped")
            }
        }
    } else {
        None
    };

    println!(
        "bench: workload={} clients={} seconds={} tx={} tps={tps:.1} rows_per_s={rows_per_s:.1} \
         p50_us={p50} p99_us={p99} max_us={max} errors={errors} conflicts={}{}",
        args.workload,
        args.clients,
        args.seconds,
        stats.ok,
        stats.conflicts,
        check.map(|c| format!(" check={c}")).unwrap_or_default()
    );
    if stats.ok == 0 {
        return Err("no transaction committed".to_string());
    }
    if check == Some("fail") {
        return Err("tpcb consistency check failed".to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(g: &mut Generator) -> String {
        let mut buf = Vec::new();
        g.build(&mut buf);
        String::from_utf8(buf).unwrap()
    }

    fn args(workload: Workload, batch: usize) -> LoadArgs {
        LoadArgs {
            workload,
            batch,
            ..LoadArgs::default()
        }
    }

    #[test]
    fn ints() {
        for v in [0, 7, -1, -5000, 123456789, i64::MAX, i64::MIN] {
            let mut b = Vec::new();
            push_int(&mut b, v);
            assert_eq!(String::from_utf8(b).unwrap(), v.to_string());
        }
    }

    #[test]
    fn rng_ranges() {
        let mut r = Rng::new(0);
        let mut seen = [false; 11];
        for _ in 0..10_000 {
            let v = r.range(-5, 5);
            assert!((-5..=5).contains(&v));
            seen[(v + 5) as usize] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }

    #[test]
    fn tpcb_text() {
        let mut g = Generator::new(&args(Workload::Tpcb, 1), 3, 1);
        let sql = text(&mut g);
        assert!(sql.starts_with("update __bench_accounts set abalance = abalance + "));
        assert!(sql.contains("insert into __bench_history values (3000000000, "));
        assert!(sql.ends_with(", '2024-01-01 00:00:00', '')"));
        assert_eq!(sql.matches("; ").count(), 4);
        assert!(!sql.contains("+-") && !sql.contains("--"));
        assert!(text(&mut g).contains("values (3000000001, "));
    }

    #[test]
    fn insert_text() {
        let mut g = Generator::new(&args(Workload::Insert, 3), 2, 1);
        let sql = text(&mut g);
        assert!(sql.starts_with("insert into __bench_insert values (2000000000000, "));
        assert_eq!(sql.matches('(').count(), 3);
        assert!(text(&mut g).contains("(2000000000003, "));
    }

    #[test]
    fn upsert_keys_distinct() {
        let mut g = Generator::new(&args(Workload::Upsert, 2000), 0, 9);
        for _ in 0..3 {
            let sql = text(&mut g);
            let body = sql
                .strip_prefix("insert into __bench_upsert values ")
                .unwrap()
                .strip_suffix(" on conflict do update set hits = hits + 1")
                .unwrap();
            let keys: std::collections::HashSet<u64> = body
                .split("),(")
                .map(|row| {
                    let row = row.trim_matches(|c| c == '(' || c == ')');
                    row.split_once(", ").unwrap().0.parse().unwrap()
                })
                .collect();
            assert_eq!(keys.len(), 2000);
            assert!(keys.iter().all(|k| *k < UPSERT_KEYS as u64));
        }
    }

    #[test]
    fn percentiles() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&v, 100.0), 100);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(percentile(&[], 50.0), 0);
    }

    #[test]
    fn scalars() {
        assert_eq!(parse_scalar(b"[42]"), Some(42));
        assert_eq!(parse_scalar(b"[\n  -3\n]\n"), Some(-3));
        assert_eq!(parse_scalar(b"[null]"), Some(0));
        assert_eq!(parse_scalar(b"[1, 2]"), None);
        assert_eq!(parse_scalar(b"{\"sum\": 1}"), None);
    }
}
