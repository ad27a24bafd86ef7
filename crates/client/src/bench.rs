//! `amelie bench`: Amelie's built-in benchmarks (`--type=tpcb|insert|upsert|import|resolved`)
//! with its options and its output lines (`../shared/spec/BENCH.md`), so scripts that read
//! them keep working. The requests come from `amelie-loadgen`, the same load generator
//! `cargo xtask bench load` measures the server with; the set-up goes over the console's
//! client, one request per row as Amelie's client does it.

use std::io::Write;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use amelie_common::{Error, Result};
use amelie_loadgen::requests;
use amelie_loadgen::{Load, LoadOptions, ThreadStats, Workload};
use serde_json::Value;

use crate::conn::BlockingClient;
use crate::remote::{Opt, Remote};

/// The options of `bench` (besides the client options), with Amelie's defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BenchOptions {
    pub workload: Workload,
    pub threads: usize,
    pub clients: usize,
    /// Seconds of load.
    pub time: u64,
    pub scale: usize,
    pub batch: usize,
    /// Drop and create `__bench` (and load TPC-B) first, drop it at the end.
    pub init: bool,
    /// Create the tables `UNLOGGED`.
    pub unlogged: bool,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            workload: Workload::Tpcb,
            threads: 4,
            clients: 12,
            time: 10,
            scale: 1,
            batch: 500,
            init: true,
            unlogged: false,
        }
    }
}

impl BenchOptions {
    /// The names `bench` takes itself.
    pub fn is_option(name: &str) -> bool {
        matches!(
            name,
            "type" | "threads" | "clients" | "time" | "scale" | "batch" | "init" | "unlogged"
        )
    }

    pub fn from_options(options: &[Opt]) -> Result<BenchOptions> {
        let mut b = BenchOptions::default();
        for o in options {
            let positive = || {
                let n = match &o.value {
                    Value::Number(n) => n.as_u64(),
                    Value::String(s) => s.parse::<u64>().ok(),
                    _ => None,
                };
                match n {
                    Some(n) if n > 0 => Ok(n),
                    _ => Err(Error::type_error(format!(
                        "option '{}': positive integer value expected",
                        o.name
                    ))),
                }
            };
            let flag = || match &o.value {
                Value::Bool(v) => Ok(*v),
                Value::String(s) if s == "true" => Ok(true),
                Value::String(s) if s == "false" => Ok(false),
                _ => Err(Error::type_error(format!(
                    "option '{}': bool value expected",
                    o.name
                ))),
            };
            match o.name.as_str() {
                "type" => {
                    let name = match &o.value {
                        Value::String(s) => s.as_str(),
                        _ => return Err(Error::type_error("option 'type': string value expected")),
                    };
                    b.workload = Workload::AMELIE
                        .into_iter()
                        .find(|w| w.name() == name)
                        .ok_or_else(|| {
                            Error::not_found(format!("unknown benchmark type '{name}'"))
                        })?;
                }
                "threads" => b.threads = positive()? as usize,
                "clients" => b.clients = positive()? as usize,
                "time" => b.time = positive()?,
                "scale" => b.scale = positive()? as usize,
                "batch" => b.batch = positive()? as usize,
                "init" => b.init = flag()?,
                "unlogged" => b.unlogged = flag()?,
                _ => {}
            }
        }
        Ok(b)
    }

    /// Threads actually started: never more than the connections.
    fn threads(&self) -> usize {
        self.threads.min(self.clients)
    }
}

/// The header Amelie's benchmark prints before it starts.
pub fn header(opts: &BenchOptions) -> String {
    let threads = opts.threads();
    let (low, high) = (opts.clients / threads, opts.clients.div_ceil(threads));
    let per = if low == high {
        format!("{low}")
    } else {
        format!("{low}-{high}")
    };
    format!(
        "amelie benchmark.\n\ntype:    {}\ntime:    {} sec\nthreads: {threads}\nclients: {} ({per} per thread)\nscale:   {}\n\n",
        opts.workload, opts.time, opts.clients, opts.scale
    )
}

/// One line a second: `N transactions/sec, X millions writes/sec (n)`, or only the first
/// part while no write has been counted yet (`counted`: any so far, this second or before).
pub fn second_line(tx: u64, writes: u64, counted: bool) -> String {
    if counted {
        format!(
            "{tx} transactions/sec, {:.2} millions writes/sec ({writes})",
            writes as f64 / 1e6
        )
    } else {
        format!("{tx} transactions/sec")
    }
}

/// The report at the end.
pub fn totals(tx: u64, writes: u64) -> String {
    format!(
        "\ntransactions: {tx}\nwrites:       {:.2} millions writes ({writes})\n",
        writes as f64 / 1e6
    )
}

fn exec(client: &mut BlockingClient, sql: &str) -> Result<()> {
    let reply = client.sql(sql)?;
    if reply.is_success() {
        return Ok(());
    }
    let msg = match reply.status {
        403 => "403 Forbidden".to_string(),
        _ => amelie_loadgen::wire::json_msg(reply.body.as_bytes()).unwrap_or(reply.body),
    };
    Err(Error::new(format!("bench: {sql}: {msg}")))
}

/// Drops `__bench`, creates it and the workload's tables, and loads TPC-B's rows one request
/// per row (BENCH.md).
fn prepare(client: &mut BlockingClient, opts: &BenchOptions) -> Result<()> {
    exec(client, "drop schema if exists __bench cascade")?;
    exec(client, "create schema __bench")?;
    for ddl in requests::create_tables(opts.workload, opts.unlogged) {
        exec(client, &ddl)?;
    }
    if opts.workload == Workload::Tpcb {
        let scale = opts.scale as i64;
        let mut sql = Vec::with_capacity(256);
        for (table, count) in requests::tpcb_rows(scale) {
            for id in 0..count {
                requests::tpcb_row(&mut sql, table, id);
                exec(client, std::str::from_utf8(&sql).expect("ASCII text"))?;
            }
        }
    }
    Ok(())
}

/// What a run did.
#[derive(Debug)]
pub struct Outcome {
    pub transactions: u64,
    pub writes: u64,
    pub stats: ThreadStats,
}

/// Runs the benchmark against `remote`, printing Amelie's lines to `out`.
pub fn run(remote: &Remote, opts: &BenchOptions, out: &mut impl Write) -> Result<Outcome> {
    let io = |e: std::io::Error| Error::io(format!("output: {e}"));
    let mut client = BlockingClient::new(remote)?;
    client.connect()?;
    let connector = client.load_connector()?;
    out.write_all(header(opts).as_bytes()).map_err(io)?;
    out.flush().map_err(io)?;
    if opts.init {
        prepare(&mut client, opts)?;
    }
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    let load_opts = LoadOptions {
        workload: opts.workload,
        threads: opts.threads(),
        clients: opts.clients,
        scale: opts.scale,
        batch: opts.batch,
        seed,
    };
    let writes_per_tx = opts.workload.writes_per_tx(opts.batch);
    let load = Load::start(&connector, &load_opts).map_err(|e| Error::io(format!("bench: {e}")))?;
    load.measure();
    let started = Instant::now();
    let mut last = 0;
    for second in 1..=opts.time {
        let at = started + Duration::from_secs(second);
        let now = Instant::now();
        if at > now {
            thread::sleep(at - now);
        }
        let ok = load.ok();
        let tx = ok - last;
        last = ok;
        let line = second_line(tx, tx * writes_per_tx, ok * writes_per_tx > 0);
        writeln!(out, "{line}").map_err(io)?;
        out.flush().map_err(io)?;
    }
    let stats = load.stop();
    if opts.init {
        // the connection may have idled out during the run: the client opens a new one
        exec(&mut client, "drop schema if exists __bench cascade")?;
    }
    let transactions = stats.ok;
    let writes = transactions * writes_per_tx;
    out.write_all(totals(transactions, writes).as_bytes())
        .map_err(io)?;
    out.flush().map_err(io)?;
    Ok(Outcome {
        transactions,
        writes,
        stats,
    })
}

/// The failures of a run, for standard error: conflicts, then each error message with its
/// count, most frequent first.
pub fn failures(stats: &ThreadStats) -> Vec<String> {
    let mut lines = Vec::new();
    if stats.conflicts > 0 {
        lines.push(format!("conflicts: {}", stats.conflicts));
    }
    let mut errors: Vec<_> = stats.errors.iter().collect();
    errors.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (msg, n) in errors {
        lines.push(format!("errors: {n} x {msg}"));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn opts(list: &[(&str, Value)]) -> Result<BenchOptions> {
        let options: Vec<Opt> = list
            .iter()
            .map(|(n, v)| Opt {
                name: n.to_string(),
                value: v.clone(),
            })
            .collect();
        BenchOptions::from_options(&options)
    }

    #[test]
    fn options_and_defaults() {
        let d = opts(&[]).unwrap();
        assert_eq!(d, BenchOptions::default());
        assert_eq!(
            (d.workload, d.threads, d.clients, d.time, d.scale, d.batch),
            (Workload::Tpcb, 4, 12, 10, 1, 500)
        );
        assert!(d.init && !d.unlogged);
        let o = opts(&[
            ("type", json!("upsert")),
            ("threads", json!("2")),
            ("clients", json!(5)),
            ("time", json!("3")),
            ("batch", json!("100")),
            ("init", json!("false")),
            ("unlogged", json!(true)),
        ])
        .unwrap();
        assert_eq!(o.workload, Workload::Upsert);
        assert_eq!((o.threads, o.clients, o.time, o.batch), (2, 5, 3, 100));
        assert!(!o.init && o.unlogged);
        for w in Workload::AMELIE {
            assert_eq!(opts(&[("type", json!(w.name()))]).unwrap().workload, w);
        }
        let err = |list: &[(&str, Value)]| opts(list).unwrap_err().msg().to_string();
        assert_eq!(
            err(&[("type", json!("select"))]),
            "unknown benchmark type 'select'"
        );
        assert_eq!(
            err(&[("clients", json!("0"))]),
            "option 'clients': positive integer value expected"
        );
        assert_eq!(
            err(&[("time", json!("x"))]),
            "option 'time': positive integer value expected"
        );
        assert_eq!(
            err(&[("init", json!("maybe"))]),
            "option 'init': bool value expected"
        );
        assert!(BenchOptions::is_option("unlogged") && !BenchOptions::is_option("uri"));
    }

    #[test]
    fn amelie_lines() {
        let o = BenchOptions::default();
        assert_eq!(
            header(&o),
            "amelie benchmark.\n\ntype:    tpcb\ntime:    10 sec\nthreads: 4\n\
             clients: 12 (3 per thread)\nscale:   1\n\n"
        );
        let o = BenchOptions {
            clients: 2,
            ..BenchOptions::default()
        };
        assert!(header(&o).contains("threads: 2\nclients: 2 (1 per thread)\n"));
        let o = BenchOptions {
            clients: 10,
            ..BenchOptions::default()
        };
        assert!(header(&o).contains("clients: 10 (2-3 per thread)\n"));
        assert_eq!(
            second_line(31000, 124000, true),
            "31000 transactions/sec, 0.12 millions writes/sec (124000)"
        );
        assert_eq!(second_line(0, 0, false), "0 transactions/sec");
        assert_eq!(
            second_line(0, 0, true),
            "0 transactions/sec, 0.00 millions writes/sec (0)"
        );
        assert_eq!(
            totals(310000, 155000000),
            "\ntransactions: 310000\nwrites:       155.00 millions writes (155000000)\n"
        );
    }

    #[test]
    fn failures_are_listed() {
        let mut s = ThreadStats {
            conflicts: 2,
            ..ThreadStats::default()
        };
        s.errors.insert("b".into(), 1);
        s.errors.insert("a".into(), 3);
        assert_eq!(
            failures(&s),
            vec!["conflicts: 2", "errors: 3 x a", "errors: 1 x b"]
        );
        assert!(failures(&ThreadStats::default()).is_empty());
    }
}
