//! Command-line parsing for `cargo xtask`, with clap's derive API (docs/decisions.md section 21).
//!
//! clap checks each value on its own (the parsers at the end of this file); the rules that tie
//! options of `bench load` together are [`LoadArgs::check`], applied by [`parse`].

use amelie_loadgen::Workload;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::error::ErrorKind;
use clap::{Args, CommandFactory, Parser, Subcommand};
use std::ffi::OsString;

/// Project tasks of Amelie in Rust: CI, crash and soak tests, conformance, benchmarks, fuzzing.
#[derive(Parser, Debug, Clone, PartialEq)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    // as before clap: a repeated option takes its last value (`--server-arg` collects them all)
    args_override_self = true,
    after_help = "`cargo xtask <COMMAND> --help` (or `cargo xtask help <COMMAND>`) describes a command."
)]
pub struct Cli {
    /// None: `cargo xtask` alone, which prints the help.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug, Clone, PartialEq)]
pub enum Command {
    /// Format check, clippy (-D warnings) and cargo test --workspace
    Ci,
    /// The kill -9 crash test (cargo test --release --test crash)
    Crash {
        /// Iterations of kill -9 and recovery
        #[arg(value_name = "N", default_value_t = 20, value_parser = at_least_0)]
        iterations: usize,
    },
    /// Valid and hostile clients against a release server, then a restart (tests/soak.rs)
    Soak {
        /// Length of the run in whole seconds
        #[arg(value_name = "SECONDS", default_value_t = 60, value_parser = whole_seconds)]
        seconds: u64,
    },
    /// Build the release server and run ../shared/conformance/run on it
    Conformance(ConformanceArgs),
    /// Benchmarks; alone, the criterion micro-benchmarks (cargo bench --workspace)
    Bench {
        #[command(subcommand)]
        command: Option<BenchCommand>,
    },
    /// Build the release fuzz runner (crates/fuzz) and fuzz a target (docs/fuzzing.md)
    #[command(long_about = "\
Build the release fuzz runner (crates/fuzz) and fuzz a target, or each target in turn, for
--seconds each. A runner that dies is reported, its input is kept in target/fuzz/<target>/ and
a new runner goes on with the next seed (docs/fuzzing.md).")]
    Fuzz(Fuzz),
}

#[derive(Args, Debug, Clone, PartialEq)]
pub struct ConformanceArgs {
    /// Groups (expr functions ddl dml query) or test files [default: the runner's]
    #[arg(value_name = "GROUP|FILE")]
    pub groups: Vec<String>,
    /// Options for the runner, after `--` (e.g. `cargo xtask conformance dml -- -v`)
    #[arg(last = true, value_name = "RUNNER_ARGS")]
    pub runner_args: Vec<String>,
}

impl ConformanceArgs {
    /// The runner's arguments after the server binary: `groups... [-- runner args...]`.
    pub fn runner_argv(&self) -> Vec<String> {
        let mut argv = self.groups.clone();
        if !self.runner_args.is_empty() {
            argv.push("--".to_string());
            argv.extend(self.runner_args.iter().cloned());
        }
        argv
    }
}

#[derive(Subcommand, Debug, Clone, PartialEq)]
pub enum BenchCommand {
    /// Some of the criterion micro-benchmarks: cargo bench --workspace -- [FILTER]...
    Micro {
        /// Criterion filters and options, passed on as they are
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        filter: Vec<String>,
    },
    /// HTTP load test against a server: the workloads of `amelie bench` (../shared/spec/BENCH.md)
    #[command(after_long_help = LOAD_AFTER_HELP)]
    Load(LoadArgs),
}

// Without clap's `wrap_help` feature no help text is wrapped: these lines are broken by hand.
const LOAD_AFTER_HELP: &str = "\
The measured window runs from --warmup seconds after the start to the end of the run; tx, tps
and the latencies are taken over it. Server CPU (utime + stime of /proc/<pid>/stat) and thread
switches (voluntary and nonvoluntary, summed over /proc/<pid>/task/*/status) are divided by the
operations of the window, counted on the server where BENCH.md does so: history rows for tpcb
(`per tx` is per history row) and rows added to __bench.test for insert and import; upsert and
resolved count committed requests times --batch, as they add fewer rows than they write. The
batch workloads also get figures per 1,000 rows.

The last line that bench load prints is for scripts:
  bench: workload=.. clients=.. threads=.. seconds=.. tx=.. tps=.. rows_per_s=.. p50_us=..
         p99_us=.. max_us=.. ops=.. cpu_us_per_tx=.. cpu_us_per_1k_rows=.. switches_per_tx=..
         switches_per_1k_rows=.. errors=.. conflicts=.. [check=ok|fail|skipped]
where a measure that was not taken is `na`; for the memory workload it is
  bench: workload=memory rows=.. rss_before_kb=.. rss_after_kb=.. bytes_per_row=.. seconds=..";

/// `--workload` / `--type`: the workloads of the load generator, each with its help line.
fn workload_parser() -> impl TypedValueParser<Value = Workload> {
    PossibleValuesParser::new(
        Workload::ALL.map(|w| clap::builder::PossibleValue::new(w.name()).help(w.help())),
    )
    .map(|name| name.parse::<Workload>().expect("a listed workload"))
}

const STARTED: &str = "The started server (not with --uri)";

#[derive(Args, Debug, Clone, PartialEq)]
pub struct LoadArgs {
    /// The workload to run
    #[arg(long, visible_alias = "type", value_name = "W", default_value_t = Workload::Tpcb,
          value_parser = workload_parser())]
    pub workload: Workload,
    /// Client threads, each one event loop over its share of the connections
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = at_least_1)]
    pub threads: usize,
    /// Keep-alive connections in all, spread over the threads
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = at_least_1)]
    pub clients: usize,
    /// Length of the run, warm-up included; may be fractional
    #[arg(long, visible_alias = "time", value_name = "S", default_value_t = 10.0,
          value_parser = positive_seconds)]
    pub seconds: f64,
    /// Seconds before the measured window starts
    #[arg(long, value_name = "S", default_value_t = 1.0, value_parser = non_negative_seconds)]
    pub warmup: f64,
    /// Rows per request of insert, upsert, import and resolved
    #[arg(long, value_name = "N", default_value_t = 500, value_parser = at_least_1)]
    pub batch: usize,
    /// tpcb/select: N branches, 10N tellers, 100000N accounts; scan/aggregate/join: 1M rows x N
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = at_least_1)]
    pub scale: usize,
    /// memory: rows to generate, 100000 per request
    #[arg(long, value_name = "N", default_value_t = 2_000_000, value_parser = at_least_1)]
    pub rows: usize,
    /// Load a running server, e.g. http://127.0.0.1:3485
    ///
    /// Without it a release server is built and started on a free port in a temporary directory.
    #[arg(long, value_name = "URI")]
    pub uri: Option<String>,
    /// With --uri: the server's pid, for the CPU, thread-switch and memory measures
    ///
    /// Without it they are skipped; the memory workload needs it.
    #[arg(long, value_name = "PID", value_parser = process_id)]
    pub pid: Option<u32>,
    /// Backends of the started server
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = at_least_0,
          help_heading = STARTED)]
    pub backends: usize,
    /// Frontends of the started server
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = at_least_1,
          help_heading = STARTED)]
    pub frontends: usize,
    /// Extra argument for the started server (repeatable)
    ///
    /// For example --server-arg=--wal_sync_on_write=false.
    #[arg(long = "server-arg", value_name = "ARG", allow_hyphen_values = true,
          help_heading = STARTED)]
    pub server_args: Vec<String>,
    /// Start this server binary instead of building amelie-server
    ///
    /// For example a reference Amelie build, for comparison.
    #[arg(long, value_name = "PATH", help_heading = STARTED)]
    pub server_bin: Option<String>,
    /// Keep the started server's directory (and its log)
    #[arg(long, help_heading = STARTED)]
    pub keep: bool,
}

impl Default for LoadArgs {
    /// `bench load` without options (the test `defaults` holds the two together).
    fn default() -> Self {
        LoadArgs {
            workload: Workload::Tpcb,
            threads: 1,
            clients: 8,
            seconds: 10.0,
            warmup: 1.0,
            batch: 500,
            scale: 1,
            rows: 2_000_000,
            uri: None,
            pid: None,
            backends: 1,
            frontends: 1,
            server_args: Vec::new(),
            server_bin: None,
            keep: false,
        }
    }
}

impl LoadArgs {
    /// The rules between options, which clap's per-value parsers do not see.
    pub fn check(&self) -> Result<(), String> {
        if self.clients < self.threads {
            return Err(format!(
                "--clients ({}) must be at least --threads ({}): every thread drives one or more connections",
                self.clients, self.threads
            ));
        }
        if self.workload != Workload::Memory && self.warmup >= self.seconds {
            return Err(format!(
                "--warmup ({}) must be shorter than --seconds ({}): the measured window is what remains",
                self.warmup, self.seconds
            ));
        }
        if self.uri.is_some() {
            let server_only = [
                (self.backends != 1, "--backends"),
                (self.frontends != 1, "--frontends"),
                (self.keep, "--keep"),
                (!self.server_args.is_empty(), "--server-arg"),
                (self.server_bin.is_some(), "--server-bin"),
            ];
            if let Some((_, name)) = server_only.iter().find(|(set, _)| *set) {
                return Err(format!(
                    "{name} applies to the server started by bench load; it cannot be used with --uri"
                ));
            }
            if self.workload == Workload::Memory && self.pid.is_none() {
                return Err("--workload memory with --uri needs --pid (the server's RSS)".into());
            }
        } else if self.pid.is_some() {
            return Err(
                "--pid names the server given by --uri; a started server's pid is known".into(),
            );
        }
        Ok(())
    }
}

pub const FUZZ_TARGETS: [&str; 5] = ["sql", "json", "import", "http", "wal"];

/// `fuzz <target|all> [options]` or `fuzz replay <target> <file>...`: exactly one of the two
/// fields is set (clap requires the target unless `replay` is given, and not both).
#[derive(Args, Debug, Clone, PartialEq)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Fuzz {
    #[command(subcommand)]
    pub replay: Option<FuzzReplay>,
    #[command(flatten)]
    pub run: Option<FuzzArgs>,
}

#[derive(Subcommand, Debug, Clone, PartialEq)]
pub enum FuzzReplay {
    /// Run saved inputs of a target once
    Replay {
        #[arg(value_parser = PossibleValuesParser::new(FUZZ_TARGETS))]
        target: String,
        /// Saved inputs, e.g. target/fuzz/<target>/crash-<seed>.bin
        files: Vec<String>,
    },
}

#[derive(Args, Debug, Clone, PartialEq)]
pub struct FuzzArgs {
    /// The target, or all of them in turn
    #[arg(value_parser = target_or_all())]
    pub target: String,
    /// Length of the run per target
    #[arg(long, value_name = "N", default_value_t = 60.0, value_parser = positive_seconds)]
    pub seconds: f64,
    /// First seed; a restarted runner goes on with S+1, S+2, ...
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Deepest nesting generated [runner's default: 20000]
    #[arg(long, value_name = "D", value_parser = at_least_0)]
    pub max_depth: Option<usize>,
    /// Longest input in bytes [runner's default: 65536; wal 1 MiB]
    #[arg(long, value_name = "B", value_parser = at_least_0)]
    pub max_len: Option<usize>,
    /// Time bound per input in seconds [runner's default: 20]
    #[arg(long, value_name = "S", value_parser = positive_seconds)]
    pub timeout: Option<f64>,
    /// Growth of live memory allowed per input, in MiB [runner's default: 512]
    #[arg(long, value_name = "MIB", value_parser = at_least_0)]
    pub max_mem: Option<usize>,
}

impl FuzzArgs {
    /// The targets to fuzz, in order.
    pub fn targets(&self) -> Vec<&str> {
        if self.target == "all" {
            FUZZ_TARGETS.to_vec()
        } else {
            vec![self.target.as_str()]
        }
    }

    /// The options passed on to the runner (those given; the runner has the defaults).
    pub fn runner_args(&self) -> Vec<String> {
        let options = [
            ("--max-depth", self.max_depth.map(|v| v.to_string())),
            ("--max-len", self.max_len.map(|v| v.to_string())),
            ("--timeout", self.timeout.map(|v| v.to_string())),
            ("--max-mem", self.max_mem.map(|v| v.to_string())),
        ];
        let mut out = Vec::new();
        for (name, value) in options {
            if let Some(value) = value {
                out.extend([name.to_string(), value]);
            }
        }
        out
    }
}

/// Parses `cargo xtask`'s arguments, the program name first. `--help` and bad input both come
/// back as a [`clap::Error`]; `Error::exit` prints either and exits with clap's status.
pub fn parse<I, T>(argv: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = Cli::try_parse_from(argv)?;
    if let Some(Command::Bench {
        command: Some(BenchCommand::Load(load)),
    }) = &cli.command
    {
        if let Err(msg) = load.check() {
            // reported like clap's own errors, with the usage of `bench load`
            let mut cmd = Cli::command();
            cmd.build();
            let load_cmd = cmd
                .find_subcommand_mut("bench")
                .and_then(|bench| bench.find_subcommand_mut("load"))
                .expect("bench load is a subcommand");
            return Err(load_cmd.error(ErrorKind::ArgumentConflict, msg));
        }
    }
    Ok(cli)
}

/// Prints the help of `cargo xtask` (what `cargo xtask` alone does).
pub fn print_help() -> std::io::Result<()> {
    Cli::command().print_help()
}

fn count(value: &str, min: usize) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(n) if n >= min => Ok(n),
        _ => Err(format!("expected an integer >= {min}")),
    }
}

fn at_least_0(value: &str) -> Result<usize, String> {
    count(value, 0)
}

fn at_least_1(value: &str) -> Result<usize, String> {
    count(value, 1)
}

fn seconds(value: &str, zero_ok: bool) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(s) if s.is_finite() && (s > 0.0 || (zero_ok && s == 0.0)) => Ok(s),
        _ => Err(format!(
            "expected a {} number of seconds",
            if zero_ok { "non-negative" } else { "positive" }
        )),
    }
}

fn positive_seconds(value: &str) -> Result<f64, String> {
    seconds(value, false)
}

fn non_negative_seconds(value: &str) -> Result<f64, String> {
    seconds(value, true)
}

fn whole_seconds(value: &str) -> Result<u64, String> {
    value
        .parse::<u64>()
        .map_err(|_| "expected a whole number of seconds".to_string())
}

fn process_id(value: &str) -> Result<u32, String> {
    match value.parse::<u32>() {
        Ok(pid) if pid > 0 => Ok(pid),
        _ => Err("expected a process id".to_string()),
    }
}

fn target_or_all() -> PossibleValuesParser {
    PossibleValuesParser::new(FUZZ_TARGETS.into_iter().chain(["all"]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    /// `cargo xtask <s>`, split at spaces.
    fn command(s: &str) -> Result<Option<Command>, clap::Error> {
        parse(std::iter::once("xtask").chain(s.split_whitespace())).map(|cli| cli.command)
    }

    fn load(s: &str) -> Result<LoadArgs, clap::Error> {
        match command(&format!("bench load {s}"))? {
            Some(Command::Bench {
                command: Some(BenchCommand::Load(args)),
            }) => Ok(args),
            other => panic!("bench load expected, got {other:?}"),
        }
    }

    fn fuzz(s: &str) -> Result<Fuzz, clap::Error> {
        match command(&format!("fuzz {s}"))? {
            Some(Command::Fuzz(f)) => Ok(f),
            other => panic!("fuzz expected, got {other:?}"),
        }
    }

    /// The kind and the rendered message of an error that `s` must give.
    fn load_err(s: &str) -> (ErrorKind, String) {
        let e = load(s).expect_err(s);
        (e.kind(), e.to_string())
    }

    #[test]
    fn clap_consistency() {
        Cli::command().debug_assert();
    }

    #[test]
    fn fuzz_args() {
        let run = fuzz("all --seconds 5 --max-depth=50").unwrap().run.unwrap();
        assert_eq!(run.targets(), FUZZ_TARGETS);
        assert_eq!((run.seconds, run.seed), (5.0, 1));
        assert_eq!(run.runner_args(), argv("--max-depth 50"));
        let f = fuzz("sql --seed 9").unwrap();
        assert_eq!(f.replay, None);
        let run = f.run.unwrap();
        assert_eq!(
            (run.targets(), run.seconds, run.seed),
            (vec!["sql"], 60.0, 9)
        );
        assert_eq!(run.runner_args(), Vec::<String>::new());
        let run = fuzz("wal --max-len 100 --timeout=2.5 --max-mem 64 --max-depth 0 --seconds=0.5")
            .unwrap()
            .run
            .unwrap();
        assert_eq!(run.seconds, 0.5);
        assert_eq!(
            run.runner_args(),
            argv("--max-depth 0 --max-len 100 --timeout 2.5 --max-mem 64")
        );
        // before clap a repeated runner option was passed on twice and the runner kept the last
        let run = fuzz("http --max-len 1 --max-len=2 --seed 3 --seed 4")
            .unwrap()
            .run
            .unwrap();
        assert_eq!((run.seed, run.runner_args()), (4, argv("--max-len 2")));
        assert_eq!(
            fuzz("replay wal a b").unwrap(),
            Fuzz {
                replay: Some(FuzzReplay::Replay {
                    target: "wal".into(),
                    files: argv("a b")
                }),
                run: None
            }
        );
        for bad in [
            "",
            "nope",
            "sql --seconds",
            "sql --seconds 0",
            "sql --bogus 1",
            "sql --seed x",
            "sql --timeout 0",
            "sql --max-len -1",
            "sql extra",
            "sql replay wal x",
            "--seconds 5",
            "replay",
            "replay all x",
            "replay nope x",
        ] {
            assert!(fuzz(bad).is_err(), "fuzz {bad}");
        }
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
        assert_eq!(
            (a.keep, a.server_args.len(), a.server_bin),
            (false, 0, None)
        );
    }

    #[test]
    fn all_options_both_spellings() {
        let a = load(
            "--workload upsert --clients=16 --seconds 2.5 --batch=100 --scale 3 --threads 2 \
             --warmup=0.5 --rows 5000000 \
             --backends=4 --frontends 2 --keep --server-arg=--wal_sync_on_write=false \
             --server-arg --backends=9",
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
        assert_eq!(
            a.server_args,
            argv("--wal_sync_on_write=false --backends=9")
        );
        assert_eq!(a.uri, None);
        // amelie bench's spellings
        let b = load("--type resolved --time 3 --warmup 0").unwrap();
        assert_eq!(
            (b.workload, b.seconds, b.warmup),
            (Workload::Resolved, 3.0, 0.0)
        );
        // a repeated option takes its last value, whichever spelling
        let c = load("--clients 2 --clients=3 --type insert --workload join --time 4 --seconds 5")
            .unwrap();
        assert_eq!((c.clients, c.workload, c.seconds), (3, Workload::Join, 5.0));
    }

    #[test]
    fn every_workload_by_name() {
        for w in Workload::ALL {
            assert_eq!(load(&format!("--type {w}")).unwrap().workload, w);
            assert_eq!(load(&format!("--workload={w}")).unwrap().workload, w);
        }
        assert!(load("--type Tpcb").is_err());
    }

    #[test]
    fn uri_and_pid() {
        let a = load("--uri http://127.0.0.1:3485 --workload select --pid 42").unwrap();
        assert_eq!(a.uri.as_deref(), Some("http://127.0.0.1:3485"));
        assert_eq!(a.pid, Some(42));
        assert_eq!(a.workload, Workload::Select);
        for server_only in [
            "--backends 2",
            "--frontends 2",
            "--keep",
            "--server-bin=/bin/x",
            "--server-arg x",
        ] {
            let (kind, msg) = load_err(&format!("--uri=http://h:1 {server_only}"));
            assert_eq!(kind, ErrorKind::ArgumentConflict);
            let name = server_only.split([' ', '=']).next().unwrap();
            assert!(
                msg.contains(&format!("{name} applies to the server started")),
                "{msg}"
            );
        }
        // the defaults of the started server's options are not a conflict
        assert!(load("--uri=http://h:1 --backends 1 --frontends 1").is_ok());
        assert!(load_err("--pid 42").1.contains("--uri"));
        assert!(load("--uri=http://h:1 --pid 0").is_err());
        assert!(load("--uri=http://h:1 --pid x").is_err());
        assert!(load_err("--uri=http://h:1 --workload memory")
            .1
            .contains("needs --pid"));
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
        let kind = |s: &str| load_err(s).0;
        assert_eq!(kind("--workload tpcc"), ErrorKind::InvalidValue);
        assert_eq!(kind("--clients 0"), ErrorKind::ValueValidation);
        assert!(load("--clients -1").is_err());
        assert_eq!(kind("--threads 0"), ErrorKind::ValueValidation);
        let (kind, msg) = load_err("--threads 4 --clients 2");
        assert_eq!(kind, ErrorKind::ArgumentConflict);
        assert!(
            msg.contains("--clients (2) must be at least --threads (4)"),
            "{msg}"
        );
        assert!(load("--threads 2 --clients 2").is_ok());
        assert_eq!(load_err("--clients").0, ErrorKind::InvalidValue);
        assert!(load_err("--clients").1.contains("a value is required"));
        assert!(load_err("--clients 1.5")
            .1
            .contains("expected an integer >= 1"));
        assert!(load_err("--seconds 0").1.contains("positive number"));
        assert!(load("--seconds nan").is_err());
        assert!(load("--seconds inf").is_err());
        assert!(load("--warmup -1").is_err());
        assert!(load_err("--warmup x").1.contains("non-negative number"));
        let (kind, msg) = load_err("--seconds 1 --warmup 1");
        assert_eq!(kind, ErrorKind::ArgumentConflict);
        assert!(
            msg.contains("--warmup (1) must be shorter than --seconds (1)"),
            "{msg}"
        );
        assert!(load("--seconds 1 --warmup 0.5").is_ok());
        assert!(load("--workload memory --seconds 1 --warmup 2").is_ok());
        assert_eq!(load_err("--rows 0").0, ErrorKind::ValueValidation);
        assert_eq!(load_err("--frobnicate 1").0, ErrorKind::UnknownArgument);
        assert_eq!(load_err("tpcb").0, ErrorKind::UnknownArgument);
        assert_eq!(load_err("--keep=yes").0, ErrorKind::TooManyValues);
        assert!(load("--workload upsert --batch 200000").is_ok());
        // the errors of the cross-option rules carry the usage of bench load
        assert!(load_err("--pid 1")
            .1
            .contains("Usage: cargo xtask bench load"));
    }

    #[test]
    fn commands() {
        assert_eq!(command("").unwrap(), None);
        assert_eq!(command("ci").unwrap(), Some(Command::Ci));
        assert!(command("ci x").is_err());
        assert_eq!(
            command("crash").unwrap(),
            Some(Command::Crash { iterations: 20 })
        );
        assert_eq!(
            command("crash 3").unwrap(),
            Some(Command::Crash { iterations: 3 })
        );
        assert!(command("crash x")
            .unwrap_err()
            .to_string()
            .contains("expected an integer >= 0"));
        assert!(command("crash -1").is_err());
        assert_eq!(
            command("soak").unwrap(),
            Some(Command::Soak { seconds: 60 })
        );
        assert_eq!(
            command("soak 5").unwrap(),
            Some(Command::Soak { seconds: 5 })
        );
        assert!(command("soak 1.5")
            .unwrap_err()
            .to_string()
            .contains("expected a whole number of seconds"));
        assert_eq!(
            command("bench").unwrap(),
            Some(Command::Bench { command: None })
        );
        let micro = |s: &str| match command(s).unwrap() {
            Some(Command::Bench {
                command: Some(BenchCommand::Micro { filter }),
            }) => filter,
            other => panic!("bench micro expected, got {other:?}"),
        };
        assert_eq!(micro("bench micro lexer"), argv("lexer"));
        assert_eq!(micro("bench micro"), Vec::<String>::new());
        assert_eq!(
            micro("bench micro cache --warm-up-time 1"),
            argv("cache --warm-up-time 1")
        );
        assert_eq!(micro("bench micro -- --list"), argv("--list"));
        assert_eq!(micro("bench micro --list"), argv("--list"));
        match command("bench load --workload insert --clients 2").unwrap() {
            Some(Command::Bench {
                command: Some(BenchCommand::Load(a)),
            }) => assert_eq!((a.workload, a.clients), (Workload::Insert, 2)),
            other => panic!("unexpected {other:?}"),
        }
        assert!(command("bench bogus").is_err());
        assert!(command("deploy").is_err());
    }

    #[test]
    fn conformance() {
        let conf = |s: &str| match command(s).unwrap() {
            Some(Command::Conformance(c)) => c,
            other => panic!("conformance expected, got {other:?}"),
        };
        // the runner gets what it got before clap: `--` and its options after the groups
        assert_eq!(
            conf("conformance expr dml -- -v").runner_argv(),
            argv("expr dml -- -v")
        );
        let c = conf("conformance -- -v --x");
        assert_eq!((c.groups.len(), c.runner_args.clone()), (0, argv("-v --x")));
        assert_eq!(c.runner_argv(), argv("-- -v --x"));
        assert_eq!(
            conf("conformance query tests/x.test").runner_argv(),
            argv("query tests/x.test")
        );
        assert_eq!(conf("conformance").runner_argv(), Vec::<String>::new());
        // a runner option before `--` would be taken for a group
        assert_eq!(
            command("conformance expr -v").unwrap_err().kind(),
            ErrorKind::UnknownArgument
        );
    }

    #[test]
    fn help() {
        for (s, expect) in [
            (
                "--help",
                &["ci", "crash", "soak", "conformance", "bench", "fuzz"][..],
            ),
            ("help", &["bench", "fuzz"]),
            ("-h", &["Usage: cargo xtask [COMMAND]"]),
            (
                "bench load --help",
                &[
                    "--workload <W>",
                    "[alias: --type]",
                    "[alias: --time]",
                    "--server-arg <ARG>",
                    "memory:    RSS growth per row",
                    "upsert:    ... generate <batch> on conflict do update",
                    "The measured window",
                    "bench: workload=memory",
                ],
            ),
            ("help bench load", &["tpcb:      BENCH.md's TPC-B request"]),
            (
                "fuzz --help",
                &[
                    "replay",
                    "--max-mem <MIB>",
                    "[possible values: sql, json, import, http, wal, all]",
                ],
            ),
            ("conformance --help", &["[-- <RUNNER_ARGS>...]"]),
        ] {
            let e = command(s).expect_err(s);
            assert_eq!(e.kind(), ErrorKind::DisplayHelp, "{s}");
            let text = e.to_string();
            for part in expect {
                assert!(text.contains(part), "`{s}` lacks {part:?}:\n{text}");
            }
        }
        // every workload is in the help with its description
        let text = command("bench load --help").unwrap_err().to_string();
        for w in Workload::ALL {
            assert!(text.contains(&format!("- {w}: ")), "{w}");
        }
    }

    /// clap wraps no help text without its `wrap_help` feature, so the texts are kept short and
    /// the long ones broken by hand. (The summaries of `-h` put an option's help, default and
    /// possible values on one line, which may run longer.)
    #[test]
    fn long_help_fits_100_columns() {
        fn walk(cmd: &mut clap::Command, checked: &mut usize) {
            for line in cmd.render_long_help().to_string().lines() {
                assert!(line.chars().count() <= 100, "{}: {line}", cmd.get_name());
            }
            *checked += 1;
            // clap's own `help` subcommands print the help of the others
            for sub in cmd.get_subcommands_mut().filter(|c| c.get_name() != "help") {
                walk(sub, checked);
            }
        }
        let mut cmd = Cli::command();
        cmd.build();
        let mut checked = 0;
        walk(&mut cmd, &mut checked);
        // cargo xtask, its 6 commands, bench micro and load, fuzz replay
        assert_eq!(checked, 10);
    }

    /// The forms that .ci/run, README.md, docs/ and the examples use.
    #[test]
    fn documented_invocations() {
        for s in [
            "ci",
            "soak 60",
            "crash 3",
            "fuzz all --seconds 20",
            "fuzz sql --seconds 60 --seed 7 --max-depth 100 --max-len 200000 --timeout 20 --max-mem 512",
            "fuzz replay sql tests/fuzz/sql/a.bin",
            "conformance",
            "conformance expr functions ddl dml query",
            "bench",
            "bench micro program_cache",
            "bench load --workload tpcb --clients 8 --seconds 10",
            "bench load --workload insert --clients 4 --seconds 10",
            "bench load --workload upsert --clients 4 --seconds 10",
            "bench load --workload memory",
            "bench load --workload tpcb --clients 8 --backends 2",
            "bench load --workload select --clients 8 --seconds 8 --uri http://127.0.0.1:3997 --pid 9",
            "bench load --workload select --uri http://127.0.0.1:3997 --pid 9",
            "bench load --workload tpcb --backends 1 --frontends 1",
        ] {
            assert!(command(s).unwrap().is_some(), "{s}");
        }
    }
}
