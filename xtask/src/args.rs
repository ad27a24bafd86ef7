//! Command-line parsing for `cargo xtask`.

use std::fmt;

pub const USAGE: &str = "\
usage: cargo xtask <command> [args]

commands:
  ci                       fmt check, clippy (-D warnings), cargo test --workspace
  crash [N]                kill -9 crash test with N iterations (default 20)
  conformance [groups...]  build the release server and run ../shared/conformance/run
                           on it (groups: expr functions ddl dml query, or test files;
                           `-- -v` etc. are passed to the runner)
  bench                    cargo bench --workspace (criterion micro-benchmarks)
  bench micro [filter...]  cargo bench --workspace -- [filter...]
  bench load [options]     HTTP load test against a server

bench load options:
  --workload W     tpcb | insert | upsert | select | scan | aggregate | join (default tpcb)
  --clients N      client threads, one keep-alive connection each (default 8)
  --seconds S      measured duration, may be fractional          (default 10)
  --uri URI        use a running server, e.g. http://127.0.0.1:3485; without it a
                   release server is built and started on a free port in a tmpdir
  --batch N        rows per request for insert/upsert            (default 500)
  --scale N        tpcb/select scale: N branches, 10N tellers, 100000N accounts (default 1)
  --backends N     backends of the started server                (default 1)
  --frontends N    frontends of the started server               (default 1)
  --server-arg A   extra argument for the started server (repeatable), e.g.
                   --server-arg=--wal_sync_on_write=false
  --server-bin P   start this server binary instead of building amelie-server
                   (e.g. a reference Amelie build, for comparison)
  --keep           keep the started server's directory (and its log)

The last line printed by `bench load` is machine-readable:
  bench: workload=.. clients=.. seconds=.. tx=.. tps=.. rows_per_s=.. p50_us=.. p99_us=..
         max_us=.. errors=.. conflicts=.. [check=ok|fail|skipped]
";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    Tpcb,
    Insert,
    Upsert,
    Select,
    /// `select count(*), sum(v) ... where v > 500` over 1M rows × scale (pushdown of filters
    /// and partial aggregates).
    Scan,
    /// `select g, count(*), sum(v) ... group by g` over 1M rows × scale (partial GROUP BY).
    Aggregate,
    /// GROUP BY over the 1M-row table joined with a 100-row shared table.
    Join,
}

/// Rows per scale unit of the scan/aggregate table.
pub const AGG_ROWS: usize = 1_000_000;

impl Workload {
    fn parse(s: &str) -> Result<Workload, String> {
        match s {
            "tpcb" => Ok(Workload::Tpcb),
            "insert" => Ok(Workload::Insert),
            "upsert" => Ok(Workload::Upsert),
            "select" => Ok(Workload::Select),
            "scan" => Ok(Workload::Scan),
            "aggregate" => Ok(Workload::Aggregate),
            "join" => Ok(Workload::Join),
            _ => Err(format!(
                "unknown workload '{s}' (expected tpcb, insert, upsert, select, scan, aggregate or join)"
            )),
        }
    }

    /// Rows written or read by one transaction, for the rows/s figure.
    pub fn rows_per_tx(self, batch: usize) -> usize {
        match self {
            Workload::Insert | Workload::Upsert => batch,
            Workload::Tpcb | Workload::Select => 1,
            Workload::Scan | Workload::Aggregate | Workload::Join => AGG_ROWS,
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Workload::Tpcb => "tpcb",
            Workload::Insert => "insert",
            Workload::Upsert => "upsert",
            Workload::Select => "select",
            Workload::Scan => "scan",
            Workload::Aggregate => "aggregate",
            Workload::Join => "join",
        })
    }
}

/// Key space of the upsert workload: keys are drawn from `0..UPSERT_KEYS`.
pub const UPSERT_KEYS: usize = 100_000;

#[derive(Debug, Clone, PartialEq)]
pub struct LoadArgs {
    pub workload: Workload,
    pub clients: usize,
    pub seconds: f64,
    pub uri: Option<String>,
    pub batch: usize,
    pub scale: usize,
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
            clients: 8,
            seconds: 10.0,
            uri: None,
            batch: 500,
            scale: 1,
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
    /// `bench` without a subcommand: micro-benchmarks, then a hint about `bench load`.
    Bench,
    BenchMicro(Vec<String>),
    BenchLoad(LoadArgs),
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
        "bench" => match rest.first().map(String::as_str) {
            None => Ok(Command::Bench),
            Some("micro") => Ok(Command::BenchMicro(rest[1..].to_vec())),
            Some("load") => parse_load_args(&rest[1..]).map(Command::BenchLoad),
            Some(a) => Err(format!(
                "bench: unknown subcommand '{a}' (expected micro or load)"
            )),
        },
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
            "workload" => out.workload = Workload::parse(&value)?,
            "clients" => out.clients = parse_count(name, &value, 1)?,
            "seconds" => {
                out.seconds = match value.parse::<f64>() {
                    Ok(s) if s.is_finite() && s > 0.0 => s,
                    _ => {
                        return Err(format!(
                            "--seconds: expected a positive number, got '{value}'"
                        ))
                    }
                }
            }
            "uri" => out.uri = Some(value),
            "batch" => out.batch = parse_count(name, &value, 1)?,
            "scale" => out.scale = parse_count(name, &value, 1)?,
            "backends" => out.backends = parse_count(name, &value, 0)?,
            "frontends" => out.frontends = parse_count(name, &value, 1)?,
            "server-arg" => out.server_args.push(value),
            "server-bin" => out.server_bin = Some(value),
            _ => return Err(format!("bench load: unknown option '--{name}'")),
        }
    }
    if out.workload == Workload::Upsert && out.batch > UPSERT_KEYS {
        return Err(format!(
            "--batch: upsert keys are distinct within a request, so at most {UPSERT_KEYS}"
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
    fn defaults() {
        let a = load("").unwrap();
        assert_eq!(a, LoadArgs::default());
        assert_eq!(a.workload, Workload::Tpcb);
        assert_eq!((a.backends, a.frontends, a.batch, a.scale), (1, 1, 500, 1));
    }

    #[test]
    fn all_options_both_spellings() {
        let a = load(
            "--workload upsert --clients=16 --seconds 2.5 --batch=100 --scale 3 \
             --backends=4 --frontends 2 --keep --server-arg=--wal_sync_on_write=false",
        )
        .unwrap();
        assert_eq!(a.workload, Workload::Upsert);
        assert_eq!(a.clients, 16);
        assert_eq!(a.seconds, 2.5);
        assert_eq!(a.batch, 100);
        assert_eq!(a.scale, 3);
        assert_eq!(a.backends, 4);
        assert_eq!(a.frontends, 2);
        assert!(a.keep);
        assert_eq!(a.server_args, vec!["--wal_sync_on_write=false".to_string()]);
        assert_eq!(a.uri, None);
    }

    #[test]
    fn uri() {
        let a = load("--uri http://127.0.0.1:3485 --workload select").unwrap();
        assert_eq!(a.uri.as_deref(), Some("http://127.0.0.1:3485"));
        assert_eq!(a.workload, Workload::Select);
        assert!(load("--uri=http://h:1 --backends 2").is_err());
        assert!(load("--uri=http://h:1 --keep").is_err());
        assert!(load("--uri=http://h:1 --server-bin=/bin/x").is_err());
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
        assert!(load("--clients").unwrap_err().contains("missing value"));
        assert!(load("--seconds 0").is_err());
        assert!(load("--seconds nan").is_err());
        assert!(load("--frobnicate 1")
            .unwrap_err()
            .contains("unknown option"));
        assert!(load("tpcb").is_err());
        assert!(load("--keep=yes").is_err());
        assert!(load("--workload upsert --batch 100001").is_err());
        assert!(load("--workload insert --batch 100001").is_ok());
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
