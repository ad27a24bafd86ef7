//! `amelie-fuzz`: the fuzz runner process started by `cargo xtask fuzz` (which restarts it
//! after a crash and keeps the input), or by hand:
//!
//! ```text
//! amelie-fuzz run <target> [--seconds N] [--seed S] [--max-depth D] [--max-len B]
//!                          [--timeout S] [--max-mem MiB] [--dir D] [--no-seed-run]
//! amelie-fuzz replay <target> <file>...
//! amelie-fuzz gen <target> [--seed S] [--count N] [--max-depth D]
//! ```
//!
//! The last line of `run` on stdout is `fuzz: target=.. seed=.. seconds=.. execs=..
//! execs_per_s=.. failures=.. slowest_ms=.. peak_mib=..`.

use amelie_fuzz::runner::{self, RunOpts};
use amelie_fuzz::{alloc, rng::Rng, Opts, Target};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

/// Hard cap on the whole process's live memory (MiB) on top of `--max-mem` per input.
const HARD_CAP_FACTOR: usize = 4;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match real_main(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("amelie-fuzz: {e}");
            ExitCode::from(2)
        }
    }
}

fn value<'a>(args: &'a [String], i: &mut usize, name: &str) -> Result<&'a str, String> {
    *i += 1;
    args.get(*i)
        .map(String::as_str)
        .ok_or_else(|| format!("{name}: missing value"))
}

fn num<T: std::str::FromStr>(s: &str, name: &str) -> Result<T, String> {
    s.parse().map_err(|_| format!("{name}: bad number '{s}'"))
}

fn real_main(args: &[String]) -> Result<ExitCode, String> {
    let cmd = args.first().map(String::as_str).unwrap_or("");
    let target = args
        .get(1)
        .and_then(|t| Target::parse(t))
        .ok_or("usage: amelie-fuzz run|replay|gen <sql|json|import|http|wal> [options]")?;
    let mut ro = RunOpts {
        opts: Opts::default(),
        seconds: 10.0,
        seed: 1,
        timeout: Duration::from_secs(20),
        max_mem: 512 << 20,
        dir: amelie_fuzz::root().join("target/fuzz").join(target.name()),
        run_seeds: true,
    };
    if target == Target::Wal {
        ro.opts.max_len = 1 << 20;
    }
    let mut count = 10;
    let mut files = Vec::new();
    let mut i = 2;
    while i < args.len() {
        let a = args[i].as_str();
        match a {
            "--seconds" => ro.seconds = num(value(args, &mut i, a)?, a)?,
            "--seed" => ro.seed = num(value(args, &mut i, a)?, a)?,
            "--max-depth" => ro.opts.max_depth = num(value(args, &mut i, a)?, a)?,
            "--max-len" => ro.opts.max_len = num(value(args, &mut i, a)?, a)?,
            "--timeout" => ro.timeout = Duration::from_secs_f64(num(value(args, &mut i, a)?, a)?),
            "--max-mem" => ro.max_mem = num::<usize>(value(args, &mut i, a)?, a)? << 20,
            "--dir" => ro.dir = PathBuf::from(value(args, &mut i, a)?),
            "--count" => count = num(value(args, &mut i, a)?, a)?,
            "--no-seed-run" => ro.run_seeds = false,
            _ if cmd == "replay" && !a.starts_with("--") => files.push(PathBuf::from(a)),
            _ => return Err(format!("unknown argument '{a}'")),
        }
        i += 1;
    }
    match cmd {
        "run" => {
            alloc::set_cap(ro.max_mem.saturating_mul(HARD_CAP_FACTOR).max(1 << 30));
            let seed = ro.seed;
            let s = runner::run(target, ro);
            for f in &s.failures {
                eprintln!("fuzz: failure: {f}");
            }
            println!(
                "fuzz: target={} seed={seed} seconds={:.1} execs={} execs_per_s={:.0} failures={} slowest_ms={} peak_mib={}",
                target.name(),
                s.seconds,
                s.execs,
                s.execs as f64 / s.seconds.max(1e-9),
                s.failures.len(),
                s.slowest_ms,
                s.peak_mib
            );
            Ok(if s.failures.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        "replay" => {
            let failures = runner::replay(target, &files);
            for f in &failures {
                eprintln!("fuzz: failure: {f}");
            }
            println!(
                "fuzz: replayed {} inputs, {} failed",
                files.len(),
                failures.len()
            );
            Ok(if failures.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        "gen" => {
            let mut rng = Rng::new(ro.seed);
            for _ in 0..count {
                let input = target.generate(&mut rng, &ro.opts);
                println!("{}", String::from_utf8_lossy(&input));
            }
            Ok(ExitCode::SUCCESS)
        }
        _ => Err(format!("unknown command '{cmd}'")),
    }
}
