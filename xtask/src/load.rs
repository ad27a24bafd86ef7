//! `bench load`: the workloads of `amelie bench` (../shared/spec/BENCH.md) against a server,
//! with the cost measures BENCH.md defines (server CPU and thread switches per operation over a
//! measured window, bytes per row).

use crate::args::LoadArgs;
use crate::http;
use crate::procfs;
use amelie_loadgen::requests::{self, ACCOUNTS_PER_BRANCH, TELLERS_PER_BRANCH};
use amelie_loadgen::{Connector, Load, LoadOptions, Workload, AGG_ROWS};
use amelie_testclient::Client;
use std::net::{SocketAddr, ToSocketAddrs};
use std::thread;
use std::time::{Duration, Instant};

fn exec(c: &mut Client, sql: &str) -> Result<(), String> {
    c.execute(sql).map(drop).map_err(|e| {
        format!(
            "setup: `{}`: {e}",
            sql.chars().take(120).collect::<String>()
        )
    })
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

fn query_scalar(c: &mut Client, sql: &str) -> Result<i64, String> {
    let r = c.execute(sql).map_err(|e| format!("`{sql}`: {e}"))?;
    parse_scalar(&r.body).ok_or_else(|| format!("`{sql}`: unexpected result {}", r.text()))
}

/// Creates the schema and drops the workload's tables, so a server can be reused.
fn reset(c: &mut Client, workload: Workload) -> Result<(), String> {
    exec(c, requests::CREATE_SCHEMA)?;
    for t in requests::tables(workload) {
        exec(c, &format!("drop table if exists {t}"))?;
    }
    Ok(())
}

/// BENCH.md's tpcb set-up: the four tables, then one `INSERT ... VALUES` request per row.
fn setup_tpcb(c: &mut Client, scale: i64) -> Result<(), String> {
    let started = Instant::now();
    for ddl in requests::TPCB_TABLES {
        exec(c, ddl)?;
    }
    let mut sql = Vec::with_capacity(256);
    for (table, count) in requests::tpcb_rows(scale) {
        for id in 0..count {
            requests::tpcb_row(&mut sql, table, id);
            let r = http::post(c, &sql).map_err(|e| format!("setup: {table} row {id}: {e}"))?;
            if !r.is_success() {
                return Err(format!(
                    "setup: `{}`: {}",
                    String::from_utf8_lossy(&sql),
                    r.error_message()
                ));
            }
        }
    }
    eprintln!(
        "xtask: loaded tpcb scale {scale} ({scale} branches, {} tellers, {} accounts), one request \
         per row, in {:.2}s",
        TELLERS_PER_BRANCH * scale,
        ACCOUNTS_PER_BRANCH * scale,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn setup(c: &mut Client, args: &LoadArgs) -> Result<(), String> {
    reset(c, args.workload)?;
    match args.workload {
        Workload::Tpcb | Workload::Select => setup_tpcb(c, args.scale as i64),
        Workload::Scan | Workload::Aggregate | Workload::Join => {
            exec(
                c,
                "create shared table __bench.groups (g int primary key, name text)",
            )?;
            let groups: Vec<String> = (0..100).map(|g| format!("({g}, 'group {g}')")).collect();
            exec(
                c,
                &format!("insert into __bench.groups values {}", groups.join(", ")),
            )?;
            exec(
                c,
                "create table __bench.agg (id int primary key serial, g int random (100), v int random (1000))",
            )?;
            let chunk = 50_000;
            for _ in 0..(AGG_ROWS * args.scale).div_ceil(chunk) {
                exec(c, &format!("insert into __bench.agg generate {chunk}"))?;
            }
            Ok(())
        }
        Workload::Insert | Workload::Upsert | Workload::Import | Workload::Resolved => exec(
            c,
            requests::create_test_table(args.workload).expect("a batch workload"),
        ),
        Workload::Memory => exec(c, requests::CREATE_MEM),
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// How the operations of the window are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpCount {
    /// `count(*)` of this table on the server, at both ends of the window.
    ServerRows(&'static str),
    /// Committed requests × this many rows.
    Client(usize),
}

fn op_count(args: &LoadArgs) -> OpCount {
    match args.workload {
        Workload::Tpcb => OpCount::ServerRows("__bench.history"),
        Workload::Insert | Workload::Import => OpCount::ServerRows("__bench.test"),
        // upsert adds no rows once its 100000 keys exist, resolved merges repeated keys: count
        // the rows written, as amelie bench does
        Workload::Upsert | Workload::Resolved => OpCount::Client(args.batch),
        Workload::Select | Workload::Scan | Workload::Aggregate | Workload::Join => {
            OpCount::Client(1)
        }
        Workload::Memory => unreachable!("the memory workload has no window"),
    }
}

/// One end of the measured window.
struct Mark {
    at: Instant,
    /// Committed requests so far (client side).
    ok: u64,
    proc: Option<procfs::Sample>,
    /// CPU ticks of this process (the client), to show what the client costs.
    client_ticks: Option<u64>,
    /// `count(*)` of the counted table.
    rows: Option<i64>,
}

/// Takes the server's numbers (CPU and switches, then the row count) and the client count.
fn mark(
    load: &Load,
    pid: Option<u32>,
    counter: &mut Option<(Client, &'static str)>,
    notes: &mut Vec<String>,
) -> Mark {
    let proc = pid.and_then(|pid| {
        procfs::sample(pid)
            .map_err(|e| notes.push(format!("cannot read /proc: {e}")))
            .ok()
    });
    let rows = counter.as_mut().and_then(|(c, table)| {
        query_scalar(c, &format!("select count(*) from {table}"))
            .map_err(|e| notes.push(format!("cannot count rows: {e}")))
            .ok()
    });
    let client_ticks = procfs::sample(std::process::id()).ok().map(|s| s.cpu_ticks);
    Mark {
        at: Instant::now(),
        proc,
        client_ticks,
        rows,
        ok: load.ok(),
    }
}

/// The figures of one run, as printed.
#[derive(Debug, Default, Clone, PartialEq)]
struct Figures {
    window_s: f64,
    tx: u64,
    tps: f64,
    rows_per_s: f64,
    /// Operations of the window (history rows, table rows, or client-side counts).
    ops: Option<u64>,
    cpu_us_per_tx: Option<f64>,
    cpu_us_per_1k_rows: Option<f64>,
    switches_per_tx: Option<f64>,
    switches_per_1k_rows: Option<f64>,
    /// CPU of the client process per committed request.
    client_cpu_us_per_tx: Option<f64>,
}

/// Turns the two marks into figures. `clk_tck` converts CPU ticks to seconds.
fn figures(args: &LoadArgs, start: &Mark, end: &Mark, clk_tck: u64) -> Figures {
    let window_s = end.at.duration_since(start.at).as_secs_f64().max(1e-9);
    let tx = end.ok - start.ok;
    let tps = tx as f64 / window_s;
    let rows_per_s = tps * args.workload.rows_per_tx(args.batch, args.scale) as f64;
    let ops = match op_count(args) {
        OpCount::ServerRows(_) => match (start.rows, end.rows) {
            (Some(a), Some(b)) => Some((b - a).max(0) as u64),
            _ => None,
        },
        OpCount::Client(rows) => Some(tx * rows as u64),
    };
    let (cpu_us, switches) = match (start.proc, end.proc) {
        (Some(a), Some(b)) => (
            Some((b.cpu_ticks - a.cpu_ticks) as f64 * 1e6 / clk_tck as f64),
            Some((b.switches - a.switches) as f64),
        ),
        _ => (None, None),
    };
    let per = |total: Option<f64>, n: Option<u64>, unit: f64| match (total, n) {
        (Some(t), Some(n)) if n > 0 => Some(t / n as f64 * unit),
        _ => None,
    };
    // "per transaction": per history row for tpcb (counted on the server), per committed
    // request otherwise; "per 1,000 rows" for the workloads that write batches
    let tx_count = if args.workload == Workload::Tpcb {
        ops
    } else {
        Some(tx)
    };
    let batch = args.workload.is_batch();
    Figures {
        window_s,
        tx,
        tps,
        rows_per_s,
        ops,
        cpu_us_per_tx: per(cpu_us, tx_count, 1.0),
        cpu_us_per_1k_rows: if batch {
            per(cpu_us, ops, 1000.0)
        } else {
            None
        },
        switches_per_tx: per(switches, tx_count, 1.0),
        switches_per_1k_rows: if batch {
            per(switches, ops, 1000.0)
        } else {
            None
        },
        client_cpu_us_per_tx: match (start.client_ticks, end.client_ticks) {
            (Some(a), Some(b)) => per(Some((b - a) as f64 * 1e6 / clk_tck as f64), Some(tx), 1.0),
            _ => None,
        },
    }
}

fn opt(v: Option<f64>, decimals: usize) -> String {
    match v {
        Some(v) => format!("{v:.decimals$}"),
        None => "na".to_string(),
    }
}

/// TPC-B invariant: every committed transaction added the same delta to one account, teller and
/// branch and wrote one history row, so the four sums agree and history has `tx` rows.
fn check_tpcb(addr: &str, tx: u64, exact_count: bool) -> Result<bool, String> {
    let mut c = http::connect(addr).map_err(|e| format!("{addr}: {e}"))?;
    let mut query = |sql: &str| query_scalar(&mut c, sql);
    let sums = [
        (
            "accounts",
            query("select sum(abalance) from __bench.accounts")?,
        ),
        (
            "tellers",
            query("select sum(tbalance) from __bench.tellers")?,
        ),
        (
            "branches",
            query("select sum(bbalance) from __bench.branches")?,
        ),
        ("history", query("select sum(delta) from __bench.history")?),
    ];
    let rows = query("select count(*) from __bench.history")?;
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

fn resolve(addr: &str) -> Result<SocketAddr, String> {
    addr.to_socket_addrs()
        .map_err(|e| format!("{addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("{addr}: no address"))
}

/// Runs the workload of `args` against `addr`; `pid` is the server's process, if known.
pub fn run(args: &LoadArgs, addr: &str, pid: Option<u32>) -> Result<(), String> {
    if args.workload == Workload::Memory {
        return memory(args, addr, pid);
    }
    let socket = resolve(addr)?;
    let mut setup_client = http::connect(addr).map_err(|e| format!("{addr}: {e}"))?;
    setup(&mut setup_client, args)?;
    drop(setup_client);

    let clk_tck = procfs::clk_tck();
    let mut notes = Vec::new();
    if pid.is_none() {
        notes.push(
            "server CPU and thread switches not measured: the server's pid is unknown (give --pid)"
                .to_string(),
        );
    }
    let mut counter = match op_count(args) {
        OpCount::ServerRows(table) => Some((
            http::connect(addr).map_err(|e| format!("{addr}: {e}"))?,
            table,
        )),
        OpCount::Client(_) => None,
    };

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut connector = Connector::tcp(socket);
    connector.host = addr.to_string();
    let opts = LoadOptions {
        workload: args.workload,
        threads: args.threads,
        clients: args.clients,
        scale: args.scale,
        batch: args.batch,
        seed,
    };
    let load = Load::start(&connector, &opts)?;
    eprintln!(
        "xtask: running {} with {} connections on {} client thread(s) for {}s \
         (window from {}s)",
        args.workload, args.clients, args.threads, args.seconds, args.warmup
    );

    let started = Instant::now();
    let warmup_at = started + Duration::from_secs_f64(args.warmup);
    let end_at = started + Duration::from_secs_f64(args.seconds);
    let rows_per_tx = args.workload.rows_per_tx(args.batch, args.scale) as f64;
    let mut start = None;
    let mut tick = 1;
    let (mut last_ok, mut last_failed) = (0, 0);
    let end = loop {
        let now = Instant::now();
        if start.is_none() && now >= warmup_at {
            let m = mark(&load, pid, &mut counter, &mut notes);
            load.measure();
            start = Some(Mark {
                at: Instant::now(),
                ok: load.ok(),
                ..m
            });
            continue;
        }
        if now >= end_at && start.is_some() {
            break mark(&load, pid, &mut counter, &mut notes);
        }
        if now >= started + Duration::from_secs(tick) {
            let (ok, failed) = (load.ok(), load.failed());
            eprintln!(
                "  [{tick:>4}s] {:>9} tx/s  {:>12.0} rows/s  {:>6} failed/s",
                ok - last_ok,
                (ok - last_ok) as f64 * rows_per_tx,
                failed - last_failed
            );
            (last_ok, last_failed) = (ok, failed);
            tick += 1;
            continue;
        }
        let next = [warmup_at, end_at, started + Duration::from_secs(tick)]
            .into_iter()
            .filter(|t| *t > now)
            .min()
            .unwrap_or(now);
        thread::sleep((next - now).min(Duration::from_millis(100)));
    };
    let stats = load.stop();
    let run_s = started.elapsed().as_secs_f64();
    let start = start.expect("the window started");
    drop(counter);

    let f = figures(args, &start, &end, clk_tck);
    let mut stats = stats;
    stats.latencies_us.sort_unstable();
    let lat = &stats.latencies_us;
    let (p50, p99) = (percentile(lat, 50.0), percentile(lat, 99.0));
    let max = lat.last().copied().unwrap_or(0);
    let errors: u64 = stats.errors.values().sum();

    println!(
        "workload {} | threads {} | clients {} | run {run_s:.2}s, window {:.2}s after {}s warm-up | {}",
        args.workload,
        args.threads,
        args.clients,
        f.window_s,
        args.warmup,
        if args.workload.is_batch() {
            format!("batch {}", args.batch)
        } else {
            format!("scale {}", args.scale)
        }
    );
    println!(
        "  committed   {} tx in the window ({} in the run), {:.1} tx/s, {:.0} rows/s",
        f.tx, stats.ok, f.tps, f.rows_per_s
    );
    println!("  latency us  p50 {p50}  p99 {p99}  max {max}");
    let ops_what = match op_count(args) {
        OpCount::ServerRows(table) => format!("rows added to {table}, counted on the server"),
        OpCount::Client(1) => "committed requests, counted by the client".to_string(),
        OpCount::Client(n) => format!("committed requests x {n} rows, counted by the client"),
    };
    println!(
        "  operations  {} ({ops_what})",
        f.ops.map_or("na".to_string(), |n| n.to_string())
    );
    println!(
        "  server CPU  {} us per tx, {} us per 1,000 rows (CLK_TCK {clk_tck})",
        opt(f.cpu_us_per_tx, 1),
        opt(f.cpu_us_per_1k_rows, 1)
    );
    println!(
        "  switches    {} per tx, {} per 1,000 rows",
        opt(f.switches_per_tx, 3),
        opt(f.switches_per_1k_rows, 2)
    );
    println!(
        "  client CPU  {} us per tx (this process, all threads)",
        opt(f.client_cpu_us_per_tx, 1)
    );
    println!("  conflicts   {}", stats.conflicts);
    println!("  errors      {errors}");
    let mut by_count: Vec<_> = stats.errors.iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (msg, n) in by_count {
        println!("    {n:>9}  {msg}");
    }
    for note in &notes {
        println!("  note        {note}");
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
        "bench: workload={} clients={} threads={} seconds={} tx={} tps={:.1} rows_per_s={:.1} \
         p50_us={p50} p99_us={p99} max_us={max} ops={} cpu_us_per_tx={} cpu_us_per_1k_rows={} \
         switches_per_tx={} switches_per_1k_rows={} errors={errors} conflicts={}{}",
        args.workload,
        args.clients,
        args.threads,
        args.seconds,
        f.tx,
        f.tps,
        f.rows_per_s,
        f.ops.map_or("na".to_string(), |n| n.to_string()),
        opt(f.cpu_us_per_tx, 1),
        opt(f.cpu_us_per_1k_rows, 1),
        opt(f.switches_per_tx, 3),
        opt(f.switches_per_1k_rows, 2),
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

/// Bytes per row: RSS growth of the server while `rows` generated rows go into `__bench.mem`,
/// 100000 per request.
fn memory(args: &LoadArgs, addr: &str, pid: Option<u32>) -> Result<(), String> {
    let pid = pid.ok_or("the memory workload needs the server's pid")?;
    let mut c = http::connect(addr).map_err(|e| format!("{addr}: {e}"))?;
    setup(&mut c, args)?;
    // let the set-up settle before the first reading
    thread::sleep(Duration::from_millis(500));
    let before = procfs::rss_kb(pid)?;
    let started = Instant::now();
    let mut left = args.rows;
    let mut sql = String::new();
    while left > 0 {
        let n = left.min(requests::MEMORY_CHUNK);
        sql.clear();
        sql.push_str("insert into __bench.mem generate ");
        sql.push_str(&n.to_string());
        exec(&mut c, &sql)?;
        left -= n;
    }
    let load_s = started.elapsed().as_secs_f64();
    thread::sleep(Duration::from_millis(500));
    let after = procfs::rss_kb(pid)?;
    let count = query_scalar(&mut c, "select count(*) from __bench.mem")?;
    let bytes_per_row = (after as f64 - before as f64) * 1024.0 / args.rows as f64;
    println!(
        "workload memory | {} rows in requests of {} | loaded in {load_s:.2}s ({:.0} rows/s)",
        args.rows,
        requests::MEMORY_CHUNK,
        args.rows as f64 / load_s
    );
    println!("  VmRSS       {before} kB before, {after} kB after (server pid {pid})");
    println!("  rows        {count} in __bench.mem");
    println!("  memory      {bytes_per_row:.1} bytes per row");
    println!(
        "bench: workload=memory rows={} rss_before_kb={before} rss_after_kb={after} \
         bytes_per_row={bytes_per_row:.1} seconds={load_s:.2}",
        args.rows
    );
    if count != args.rows as i64 {
        return Err(format!(
            "__bench.mem has {count} rows, expected {} (a fresh server, or a table of its own, \
             is needed)",
            args.rows
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&v, 100.0), 100);
        assert_eq!(percentile(&v, 0.0), 1);
        let v: Vec<u32> = (1..=1000).collect();
        assert_eq!(percentile(&v, 99.0), 990);
        assert_eq!(percentile(&v, 50.0), 500);
        assert_eq!(percentile(&[3, 9], 50.0), 3);
        assert_eq!(percentile(&[3, 9], 51.0), 9);
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

    fn marks(
        secs: f64,
        ok: (u64, u64),
        ticks: (u64, u64),
        switches: (u64, u64),
        rows: Option<(i64, i64)>,
    ) -> (Mark, Mark) {
        let t0 = Instant::now();
        let m = |at, ok, ticks, switches, rows| Mark {
            at,
            ok,
            proc: Some(procfs::Sample {
                cpu_ticks: ticks,
                switches,
            }),
            client_ticks: Some(ticks / 2),
            rows,
        };
        (
            m(t0, ok.0, ticks.0, switches.0, rows.map(|r| r.0)),
            m(
                t0 + Duration::from_secs_f64(secs),
                ok.1,
                ticks.1,
                switches.1,
                rows.map(|r| r.1),
            ),
        )
    }

    #[test]
    fn tpcb_figures_are_per_history_row() {
        let args = LoadArgs::default();
        // 2 s, 20,000 committed, 19,000 history rows counted, 150 ticks = 1.5 s CPU
        let (a, b) = marks(
            2.0,
            (1000, 21_000),
            (500, 650),
            (10, 38_010),
            Some((1000, 20_000)),
        );
        let f = figures(&args, &a, &b, 100);
        assert_eq!(f.tx, 20_000);
        assert!((f.tps - 10_000.0).abs() < 1e-6);
        assert_eq!(f.ops, Some(19_000));
        assert!((f.cpu_us_per_tx.unwrap() - 1.5e6 / 19_000.0).abs() < 1e-6);
        assert!((f.switches_per_tx.unwrap() - 2.0).abs() < 1e-9);
        assert_eq!(f.cpu_us_per_1k_rows, None);
        assert_eq!(f.switches_per_1k_rows, None);
        // the client's 75 ticks over 20,000 requests
        assert!((f.client_cpu_us_per_tx.unwrap() - 0.75e6 / 20_000.0).abs() < 1e-6);
    }

    #[test]
    fn insert_figures_are_per_server_row() {
        let args = LoadArgs {
            workload: Workload::Insert,
            ..LoadArgs::default()
        };
        // 4 s, 1,000 requests, 499,500 rows on the server, 400 ticks at CLK_TCK 1000 = 0.4 s
        let (a, b) = marks(4.0, (0, 1000), (0, 400), (0, 999), Some((500, 500_000)));
        let f = figures(&args, &a, &b, 1000);
        assert_eq!(f.ops, Some(499_500));
        assert!((f.rows_per_s - 125_000.0).abs() < 1e-6);
        assert!((f.cpu_us_per_tx.unwrap() - 400.0).abs() < 1e-9);
        assert!((f.cpu_us_per_1k_rows.unwrap() - 0.4e6 / 499.5).abs() < 1e-6);
        assert!((f.switches_per_1k_rows.unwrap() - 2.0).abs() < 1e-9);
        // no row count from the server: no per-row figures
        let (a, b) = marks(4.0, (0, 1000), (0, 400), (0, 999), None);
        let f = figures(&args, &a, &b, 1000);
        assert_eq!((f.ops, f.cpu_us_per_1k_rows), (None, None));
        assert!(f.cpu_us_per_tx.is_some());
    }

    #[test]
    fn upsert_counts_client_rows_and_no_pid_means_na() {
        let args = LoadArgs {
            workload: Workload::Upsert,
            batch: 100,
            ..LoadArgs::default()
        };
        assert_eq!(op_count(&args), OpCount::Client(100));
        let (mut a, mut b) = marks(1.0, (10, 60), (0, 50), (0, 0), None);
        let f = figures(&args, &a, &b, 100);
        assert_eq!(f.ops, Some(5000));
        assert!((f.cpu_us_per_1k_rows.unwrap() - 100_000.0).abs() < 1e-6);
        assert_eq!(f.switches_per_1k_rows, Some(0.0));
        a.proc = None;
        b.proc = None;
        let f = figures(&args, &a, &b, 100);
        assert_eq!((f.cpu_us_per_tx, f.switches_per_tx), (None, None));
        assert_eq!(opt(f.cpu_us_per_1k_rows, 1), "na");
        assert_eq!(opt(Some(2.25), 1), "2.2");
    }

    #[test]
    fn counted_tables() {
        let w = |workload| {
            op_count(&LoadArgs {
                workload,
                ..LoadArgs::default()
            })
        };
        assert_eq!(w(Workload::Tpcb), OpCount::ServerRows("__bench.history"));
        assert_eq!(w(Workload::Insert), OpCount::ServerRows("__bench.test"));
        assert_eq!(w(Workload::Import), OpCount::ServerRows("__bench.test"));
        assert_eq!(w(Workload::Resolved), OpCount::Client(500));
        assert_eq!(w(Workload::Select), OpCount::Client(1));
    }
}
