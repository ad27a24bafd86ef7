//! Command-line parsing for `cargo xtask`.

use std::fmt;

pub const USAGE: &str = "\
usage: cargo xtask <command> [args]

commands:
  ci                       fmt check, clippy (-D warnings), cargo test --workspace
  crash [N]                kill -9 crash test with N iterations (default 20)
  soak [SECONDS]           valid and hostile clients against a release server, then a
                           restart (default 60 s; tests/soak.rs)
  conformance [groups...]  build the release server and run ../shared/conformance/run
                           on it (groups: expr functions ddl dml query, or test files;
                           `-- -v` etc. are passed to the runner)
  bench                    cargo bench --workspace (criterion micro-benchmarks)
  bench micro [filter...]  cargo bench --workspace -- [filter...]
  bench load [options]     HTTP load test against a server, the workloads of
                           `amelie bench` (../shared/spec/BENCH.md)
  fuzz <target|all> [options]
                           build the release fuzz runner (crates/fuzz) and fuzz a target
                           (sql json import http wal) for --seconds each; a crashed runner is
                           restarted and its input kept in target/fuzz/<target>/ (docs/fuzzing.md)
  fuzz replay <target> <file>...
                           run saved inputs once

fuzz options:
  --seconds N      length of the run per target (default 60)
  --seed S         first seed; a restarted runner continues with S+1, ... (default 1)
  --max-depth D    deepest nesting generated (default 20000)
  --max-len B      longest input in bytes (default 65536; wal 1 MiB)
  --timeout S      per-input time bound in seconds (default 20)
  --max-mem MiB    per-input growth of live memory (default 512)

bench load options:
  --workload W     (or --type) one of                             (default tpcb)
                     tpcb      BENCH.md TPC-B: five statements per request
                     insert    insert into __bench.test generate <batch>
                     upsert    ... generate <batch> on conflict do update set data = data + 1
                     import    POST /__bench/test?columns= with <batch> empty JSON rows
                     resolved  generate <batch> into a table with a RESOLVED column
                     select    point select on the tpcb accounts
                     scan | aggregate | join   analytic queries over 1M rows x scale
                     memory    RSS growth per row for --rows generated rows (no clients)
  --threads N      client threads, each one event loop over its connections (default 1)
  --clients N      keep-alive connections in all, spread over the threads (default 8)
  --seconds S      (or --time) length of the run, may be fractional (default 10)
  --warmup S       seconds before the measured window starts      (default 1)
  --batch N        rows per request for insert/upsert/import/resolved (default 500)
  --scale N        tpcb/select scale: N branches, 10N tellers, 100000N accounts;
                   scan/aggregate/join: 1M rows x N                (default 1)
  --rows N         memory: rows to generate, 100000 per request    (default 2000000)
  --uri URI        use a running server, e.g. http://127.0.0.1:3485; without it a
                   release server is built and started on a free port in a tmpdir
  --pid P          with --uri: the server's pid, for the CPU, thread-switch and
                   memory measures (without it they are skipped; memory needs it)
  --backends N     backends of the started server                  (default 1)
  --frontends N    frontends of the started server                 (default 1)
  --server-arg A   extra argument for the started server (repeatable), e.g.
                   --server-arg=--wal_sync_on_write=false
  --server-bin P   start this server binary instead of building amelie-server
                   (e.g. a reference Amelie build, for comparison)
  --keep           keep the started server's directory (and its log)

Measured window: from --warmup seconds after the start to the end of the run; tx, tps and
the latencies cover it. Server CPU (utime+stime from /proc/<pid>/stat) and thread switches
(voluntary + nonvoluntary over /proc/<pid>/task/*/status) are divided by the operations of
the window, counted on the server where BENCH.md says so: history rows (tpcb: `per tx` is
per history row), rows added to __bench.test (insert, import); upsert and resolved count
committed requests x batch (they add fewer rows than they write). `per 1,000 rows` is given
for the batch workloads.

The last line printed by `bench load` is machine-readable:
  bench: workload=.. clients=.. threads=.. seconds=.. tx=.. tps=.. rows_per_s=.. p50_us=..
         p99_us=.. max_us=.. ops=.. cpu_us_per_tx=.. cpu_us_per_1k_rows=.. switches_per_tx=..
         switches_per_1k_rows=.. errors=.. conflicts=.. [check=ok|fail|skipped]
  (a measure that was not taken is `na`); for memory:
  bench: workload=memory rows=.. rss_before_kb=.. rss_after_kb=.. bytes_per_row=.. seconds=..
";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// BENCH.md's TPC-B request: five statements, one history row per transaction.
    Tpcb,
    /// `insert into __bench.test generate <batch>` into a serial key.
    Insert,
    /// `... generate <batch> on conflict do update set data = data + 1` over 100000 random keys.
    Upsert,
    /// `POST /__bench/test?columns=` with `<batch>` empty JSON rows.
    Import,
    /// `generate <batch>` into a table with a stored and a RESOLVED generated column.
    Resolved,
    /// Point select on the tpcb accounts.
    Select,
    /// `select count(*), sum(v) ... where v > 500` over 1M rows × scale (pushdown of filters
    /// and partial aggregates).
    Scan,
    /// `select g, count(*), sum(v) ... group by g` over 1M rows × scale (partial GROUP BY).
    Aggregate,
    /// GROUP BY over the 1M-row table joined with a 100-row shared table.
    Join,
    /// Bytes of RSS per generated row (no clients, no window).
    Memory,
}

/// Rows per scale unit of the scan/aggregate table.
pub const AGG_ROWS: usize = 1_000_000;

pub const WORKLOADS: [Workload; 10] = [
    Workload::Tpcb,
    Workload::Insert,
    Workload::Upsert,
    Workload::Import,
    Workload::Resolved,
    Workload::Select,
    Workload::Scan,
    Workload::Aggregate,
    Workload::Join,
    Workload::Memory,
];

impl Workload {
    pub fn name(self) -> &'static str {
        match self {
            Workload::Tpcb => "tpcb",
            Workload::Insert => "insert",
            Workload::Upsert => "upsert",
            Workload::Import => "import",
            Workload::Resolved => "resolved",
            Workload::Select => "select",
            Workload::Scan => "scan",
            Workload::Aggregate => "aggregate",
            Workload::Join => "join",
            Workload::Memory => "memory",
        }
    }

    fn parse(s: &str) -> Result<Workload, String> {
        WORKLOADS
            .into_iter()
            .find(|w| w.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = WORKLOADS.iter().map(|w| w.name()).collect();
                format!("unknown workload '{s}' (expected {})", names.join(", "))
            })
    }

    /// The workloads whose requests write `--batch` rows each.
    pub fn is_batch(self) -> bool {
        matches!(
            self,
            Workload::Insert | Workload::Upsert | Workload::Import | Workload::Resolved
        )
    }

    /// Rows written or read by one transaction, for the rows/s figure.
    pub fn rows_per_tx(self, batch: usize, scale: usize) -> usize {
        match self {
            Workload::Insert | Workload::Upsert | Workload::Import | Workload::Resolved => batch,
            Workload::Tpcb | Workload::Select | Workload::Memory => 1,
            Workload::Scan | Workload::Aggregate | Workload::Join => AGG_ROWS * scale,
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LoadArgs {
    pub workload: Workload,
    pub threads: usize,
    /// Connections in all, spread over the threads.
    pub clients: usize,
    /// Length of the run, warm-up included.
    pub seconds: f64,
    pub warmup: f64,
    pub uri: Option<String>,
    pub pid: Option<u32>,
    pub batch: usize,
    pub scale: usize,
    pub rows: usize,
    pub backends: usize,
    pub frontends: usize,
    pub keep: bool,
    pub server_args: Vec<String>,
    pub server_bin: Option<String>,
}

impl Default for LoadArgs {
    fn default() -> Self {
        LoadArgs {
            workload: Workload::Tpcb,
            threads: 1,
            clients: 8,
            seconds: 10.0,
            warmup: 1.0,
            uri: None,
            pid: None,
            batch: 500,
            scale: 1,
            rows: 2_000_000,
            backends: 1,
            frontends: 1,
            keep: false,
            server_args: Vec::new(),
            server_bin: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Help,
    Ci,
    Conformance(Vec<String>),
    /// The long crash test: `cargo test --test crash` with N kill -9 iterations (default 20).
    Crash(usize),
    /// The soak test in release: `cargo test --release --test soak`, for N seconds.
    Soak(u64),
    /// `bench` without a subcommand: micro-benchmarks, then a hint about `bench load`.
    Bench,
    BenchMicro(Vec<String>),
    BenchLoad(LoadArgs),
    Fuzz(FuzzArgs),
    FuzzReplay(String, Vec<String>),
}

pub const FUZZ_TARGETS: [&str; 5] = ["sql", "json", "import", "http", "wal"];

#[derive(Debug, Clone, PartialEq)]
pub struct FuzzArgs {
    pub targets: Vec<String>,
    pub seconds: f64,
    pub seed: u64,
    /// `--max-depth`, `--max-len`, `--timeout`, `--max-mem` passed on to the runner.
    pub runner_args: Vec<String>,
}

pub fn parse_fuzz_args(args: &[String]) -> Result<Command, String> {
    let Some(first) = args.first() else {
        return Err("fuzz: target expected (sql json import http wal all, or replay)".into());
    };
    if first == "replay" {
        let target = args.get(1).ok_or("fuzz replay: target expected")?;
        if !FUZZ_TARGETS.contains(&target.as_str()) {
            return Err(format!("fuzz replay: unknown target '{target}'"));
        }
        return Ok(Command::FuzzReplay(target.clone(), args[2..].to_vec()));
    }
    let targets = if first == "all" {
        FUZZ_TARGETS.iter().map(|t| t.to_string()).collect()
    } else if FUZZ_TARGETS.contains(&first.as_str()) {
        vec![first.clone()]
    } else {
        return Err(format!(
            "fuzz: unknown target '{first}' (expected {} or all)",
            FUZZ_TARGETS.join(", ")
        ));
    };
    let mut out = FuzzArgs {
        targets,
        seconds: 60.0,
        seed: 1,
        runner_args: Vec::new(),
    };
    let mut i = 1;
    while i < args.len() {
        let arg = &args[i];
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (arg.as_str(), None),
        };
        let value = match inline {
            Some(v) => v,
            None => {
                i += 1;
                args.get(i)
                    .cloned()
                    .ok_or_else(|| format!("{name}: missing value"))?
            }
        };
        i += 1;
        match name {
            "--seconds" => out.seconds = parse_seconds("seconds", &value, false)?,
            "--seed" => {
                out.seed = value
                    .parse()
                    .map_err(|_| format!("--seed: expected an integer, got '{value}'"))?
            }
            "--max-depth" | "--max-len" | "--max-mem" => {
                parse_count(&name[2..], &value, 0)?;
                out.runner_args.extend([name.to_string(), value]);
            }
            "--timeout" => {
                parse_seconds("timeout", &value, false)?;
                out.runner_args.extend([name.to_string(), value]);
            }
            _ => return Err(format!("fuzz: unknown option '{name}'")),
        }
    }
    Ok(Command::Fuzz(out))
}

pub fn parse_command(args: &[String]) -> Result<Command, String> {
    let Some(first) = args.first() else {
        return Ok(Command::Help);
    };
    let rest = &args[1..];
    match first.as_str() {
        "help" | "-h" | "--help" => Ok(Command::Help),
        "ci" => match rest.first() {
            None => Ok(Command::Ci),
            Some(a) => Err(format!("ci: unexpected argument '{a}'")),
        },
        "conformance" => Ok(Command::Conformance(rest.to_vec())),
        "crash" => match rest.first() {
            None => Ok(Command::Crash(20)),
            Some(n) => n
                .parse()
                .map(Command::Crash)
                .map_err(|_| format!("crash: iteration count expected, got '{n}'")),
        },
        "soak" => match rest.first() {
            None => Ok(Command::Soak(60)),
            Some(n) => n
                .parse()
                .map(Command::Soak)
                .map_err(|_| format!("soak: seconds expected, got '{n}'")),
        },
        "bench" => match rest.first().map(String::as_str) {
            None => Ok(Command::Bench),
            Some("micro") => Ok(Command::BenchMicro(rest[1..].to_vec())),
            Some("load") => parse_load_args(&rest[1..]).map(Command::BenchLoad),
            Some(a) => Err(format!(
                "bench: unknown subcommand '{a}' (expected micro or load)"
            )),
        },
        "fuzz" => parse_fuzz_args(rest),
        other => Err(format!("unknown command '{other}'")),
    }
}

fn parse_count(name: &str, value: &str, min: usize) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(n) if n >= min => Ok(n),
        _ => Err(format!(
            "--{name}: expected an integer >= {min}, got '{value}'"
        )),
    }
}

fn parse_seconds(name: &str, value: &str, zero_ok: bool) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(s) if s.is_finite() && (s > 0.0 || (zero_ok && s == 0.0)) => Ok(s),
        _ => Err(format!(
            "--{name}: expected a {} number, got '{value}'",
            if zero_ok { "non-negative" } else { "positive" }
        )),
    }
}

pub fn parse_load_args(args: &[String]) -> Result<LoadArgs, String> {
    let mut out = LoadArgs::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        let Some(opt) = arg.strip_prefix("--") else {
            return Err(format!("bench load: unexpected argument '{arg}'"));
        };
        let (name, inline) = match opt.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (opt, None),
        };
        if name == "keep" {
            if inline.is_some() {
                return Err("--keep takes no value".to_string());
            }
            out.keep = true;
            continue;
        }
        let value = match inline {
            Some(v) => v,
            None => {
                let Some(v) = args.get(i) else {
                    return Err(format!("--{name}: missing value"));
                };
                i += 1;
                v.clone()
            }
        };
        match name {
            "workload" | "type" => out.workload = Workload::parse(&value)?,
            "threads" => out.threads = parse_count(name, &value, 1)?,
            "clients" => out.clients = parse_count(name, &value, 1)?,
            "seconds" | "time" => out.seconds = parse_seconds(name, &value, false)?,
            "warmup" => out.warmup = parse_seconds(name, &value, true)?,
            "uri" => out.uri = Some(value),
            "pid" => {
                out.pid = Some(
                    value
                        .parse::<u32>()
                        .ok()
                        .filter(|p| *p > 0)
                        .ok_or_else(|| format!("--pid: expected a process id, got '{value}'"))?,
                )
            }
            "batch" => out.batch = parse_count(name, &value, 1)?,
            "scale" => out.scale = parse_count(name, &value, 1)?,
            "rows" => out.rows = parse_count(name, &value, 1)?,
            "backends" => out.backends = parse_count(name, &value, 0)?,
            "frontends" => out.frontends = parse_count(name, &value, 1)?,
            "server-arg" => out.server_args.push(value),
            "server-bin" => out.server_bin = Some(value),
            _ => return Err(format!("bench load: unknown option '--{name}'")),
        }
    }
    if out.clients < out.threads {
        return Err(format!(
            "--clients ({}) must be at least --threads ({}): every thread drives one or more connections",
            out.clients, out.threads
        ));
    }
    if out.workload != Workload::Memory && out.warmup >= out.seconds {
        return Err(format!(
            "--warmup ({}) must be shorter than --seconds ({}): the measured window is what remains",
            out.warmup, out.seconds
        ));
    }
    if out.uri.is_some() {
        let server_only = [
            (out.backends != 1, "--backends"),
            (out.frontends != 1, "--frontends"),
            (out.keep, "--keep"),
            (!out.server_args.is_empty(), "--server-arg"),
            (out.server_bin.is_some(), "--server-bin"),
        ];
        if let Some((_, name)) = server_only.iter().find(|(set, _)| *set) {
            return Err(format!(
                "{name} applies to the server started by bench load; it cannot be used with --uri"
            ));
        }
        if out.workload == Workload::Memory && out.pid.is_none() {
            return Err("--workload memory with --uri needs --pid (the server's RSS)".to_string());
        }
    } else if out.pid.is_some() {
        return Err(
            "--pid names the server given by --uri; a started server's pid is known".to_string(),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    fn load(s: &str) -> Result<LoadArgs, String> {
        parse_load_args(&argv(s))
    }

    #[test]
    fn fuzz_args() {
        let Command::Fuzz(a) = parse_command(&argv("fuzz all --seconds 5 --max-depth=50")).unwrap()
        else {
            panic!("fuzz expected");
        };
        assert_eq!(a.targets.len(), 5);
        assert_eq!((a.seconds, a.seed), (5.0, 1));
        assert_eq!(a.runner_args, argv("--max-depth 50"));
        let Command::Fuzz(a) = parse_command(&argv("fuzz sql --seed 9")).unwrap() else {
            panic!("fuzz expected");
        };
        assert_eq!(
            (a.targets, a.seconds, a.seed),
            (vec!["sql".to_string()], 60.0, 9)
        );
        assert_eq!(
            parse_command(&argv("fuzz replay wal a b")).unwrap(),
            Command::FuzzReplay("wal".into(), argv("a b"))
        );
        assert!(parse_command(&argv("fuzz nope")).is_err());
        assert!(parse_command(&argv("fuzz sql --seconds")).is_err());
        assert!(parse_command(&argv("fuzz sql --bogus 1")).is_err());
    }

    #[test]
    fn defaults() {
        let a = load("").unwrap();
        assert_eq!(a, LoadArgs::default());
        assert_eq!(a.workload, Workload::Tpcb);
        assert_eq!(
            (a.threads, a.clients, a.seconds, a.warmup),
            (1, 8, 10.0, 1.0)
        );
        assert_eq!((a.backends, a.frontends, a.batch, a.scale), (1, 1, 500, 1));
        assert_eq!(a.rows, 2_000_000);
        assert_eq!((a.uri.as_deref(), a.pid), (None, None));
    }

    #[test]
    fn all_options_both_spellings() {
        let a = load(
            "--workload upsert --clients=16 --seconds 2.5 --batch=100 --scale 3 --threads 2 \
             --warmup=0.5 --rows 5000000 \
             --backends=4 --frontends 2 --keep --server-arg=--wal_sync_on_write=false",
        )
        .unwrap();
        assert_eq!(a.workload, Workload::Upsert);
        assert_eq!(a.clients, 16);
        assert_eq!(a.threads, 2);
        assert_eq!(a.seconds, 2.5);
        assert_eq!(a.warmup, 0.5);
        assert_eq!(a.batch, 100);
        assert_eq!(a.scale, 3);
        assert_eq!(a.rows, 5_000_000);
        assert_eq!(a.backends, 4);
        assert_eq!(a.frontends, 2);
        assert!(a.keep);
        assert_eq!(a.server_args, vec!["--wal_sync_on_write=false".to_string()]);
        assert_eq!(a.uri, None);
        // amelie bench's spellings
        let b = load("--type resolved --time 3 --warmup 0").unwrap();
        assert_eq!(
            (b.workload, b.seconds, b.warmup),
            (Workload::Resolved, 3.0, 0.0)
        );
    }

    #[test]
    fn every_workload_by_name() {
        for w in WORKLOADS {
            assert_eq!(load(&format!("--type {w}")).unwrap().workload, w);
        }
        assert!(load("--type Tpcb").is_err());
    }

    #[test]
    fn uri_and_pid() {
        let a = load("--uri http://127.0.0.1:3485 --workload select --pid 42").unwrap();
        assert_eq!(a.uri.as_deref(), Some("http://127.0.0.1:3485"));
        assert_eq!(a.pid, Some(42));
        assert_eq!(a.workload, Workload::Select);
        assert!(load("--uri=http://h:1 --backends 2").is_err());
        assert!(load("--uri=http://h:1 --keep").is_err());
        assert!(load("--uri=http://h:1 --server-bin=/bin/x").is_err());
        assert!(load("--pid 42").unwrap_err().contains("--uri"));
        assert!(load("--uri=http://h:1 --pid 0").is_err());
        assert!(load("--uri=http://h:1 --pid x").is_err());
        assert!(load("--uri=http://h:1 --workload memory")
            .unwrap_err()
            .contains("--pid"));
        assert!(load("--uri=http://h:1 --workload memory --pid 7").is_ok());
        assert_eq!(
            load("--server-bin /opt/amelie")
                .unwrap()
                .server_bin
                .as_deref(),
            Some("/opt/amelie")
        );
    }

    #[test]
    fn errors() {
        assert!(load("--workload tpcc").is_err());
        assert!(load("--clients 0").is_err());
        assert!(load("--clients -1").is_err());
        assert!(load("--threads 0").is_err());
        assert!(load("--threads 4 --clients 2")
            .unwrap_err()
            .contains("--threads"));
        assert!(load("--threads 2 --clients 2").is_ok());
        assert!(load("--clients").unwrap_err().contains("missing value"));
        assert!(load("--seconds 0").is_err());
        assert!(load("--seconds nan").is_err());
        assert!(load("--warmup -1").is_err());
        assert!(load("--seconds 1 --warmup 1")
            .unwrap_err()
            .contains("--warmup"));
        assert!(load("--seconds 1 --warmup 0.5").is_ok());
        assert!(load("--workload memory --seconds 1 --warmup 2").is_ok());
        assert!(load("--rows 0").is_err());
        assert!(load("--frobnicate 1")
            .unwrap_err()
            .contains("unknown option"));
        assert!(load("tpcb").is_err());
        assert!(load("--keep=yes").is_err());
        assert!(load("--workload upsert --batch 200000").is_ok());
    }

    #[test]
    fn rows_per_tx() {
        assert_eq!(Workload::Insert.rows_per_tx(500, 3), 500);
        assert_eq!(Workload::Import.rows_per_tx(7, 1), 7);
        assert_eq!(Workload::Tpcb.rows_per_tx(500, 3), 1);
        assert_eq!(Workload::Scan.rows_per_tx(500, 3), 3 * AGG_ROWS);
        assert!(Workload::Resolved.is_batch() && !Workload::Tpcb.is_batch());
    }

    #[test]
    fn commands() {
        assert_eq!(parse_command(&[]).unwrap(), Command::Help);
        assert_eq!(parse_command(&argv("ci")).unwrap(), Command::Ci);
        assert!(parse_command(&argv("ci x")).is_err());
        assert_eq!(parse_command(&argv("bench")).unwrap(), Command::Bench);
        assert_eq!(
            parse_command(&argv("bench micro lexer")).unwrap(),
            Command::BenchMicro(argv("lexer"))
        );
        assert_eq!(
            parse_command(&argv("bench micro")).unwrap(),
            Command::BenchMicro(vec![])
        );
        assert_eq!(
            parse_command(&argv("conformance expr dml -- -v")).unwrap(),
            Command::Conformance(argv("expr dml -- -v"))
        );
        match parse_command(&argv("bench load --workload insert --clients 2")).unwrap() {
            Command::BenchLoad(a) => {
                assert_eq!(a.workload, Workload::Insert);
                assert_eq!(a.clients, 2);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(parse_command(&argv("bench bogus")).is_err());
        assert!(parse_command(&argv("deploy")).is_err());
    }
}
