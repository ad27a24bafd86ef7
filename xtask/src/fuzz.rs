//! `cargo xtask fuzz`: builds the release fuzz runner (`crates/fuzz`, binary `amelie-fuzz`)
//! and runs it per target for the time asked. A runner that dies (stack overflow, abort,
//! the memory cap, the hang watchdog) is reported, its input is kept as
//! `target/fuzz/<target>/crash-<seed>.bin`, and a new runner continues with the next seed.

use crate::args::FuzzArgs;
use crate::{cargo, root, target_dir};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

fn build() -> Result<PathBuf, String> {
    cargo(&["build", "--release", "-p", "amelie-fuzz"])?;
    Ok(target_dir().join("release").join("amelie-fuzz"))
}

#[derive(Default)]
struct Totals {
    execs: u64,
    seconds: f64,
    failures: u64,
    crashes: Vec<String>,
}

pub fn run(args: &FuzzArgs) -> Result<(), String> {
    let bin = build()?;
    let mut summary = Vec::new();
    let mut failed = false;
    for target in args.targets() {
        let t = run_target(&bin, target, args)?;
        failed |= t.failures > 0 || !t.crashes.is_empty();
        summary.push(format!(
            "fuzz: summary target={target} seconds={:.0} execs={} execs_per_s={:.0} failures={} crashes={}",
            t.seconds,
            t.execs,
            t.execs as f64 / t.seconds.max(1e-9),
            t.failures,
            t.crashes.len()
        ));
        for c in &t.crashes {
            summary.push(format!("fuzz:   crash: {c}"));
        }
    }
    for line in &summary {
        eprintln!("{line}");
    }
    if failed {
        Err("fuzzing found failures (inputs under target/fuzz/<target>/)".into())
    } else {
        Ok(())
    }
}

fn run_target(bin: &PathBuf, target: &str, args: &FuzzArgs) -> Result<Totals, String> {
    let dir = target_dir().join("fuzz").join(target);
    let start = Instant::now();
    let mut totals = Totals::default();
    let mut seed = args.seed;
    loop {
        let left = args.seconds - start.elapsed().as_secs_f64();
        if left < 0.5 {
            break;
        }
        let mut child = Command::new(bin)
            .args(["run", target, "--seconds", &format!("{left:.1}")])
            .args(["--seed", &seed.to_string(), "--dir"])
            .arg(&dir)
            .args(args.runner_args())
            // after a crash the seeds are not run again as they are (one may be the crash)
            .args(if seed == args.seed {
                &[][..]
            } else {
                &["--no-seed-run"][..]
            })
            .current_dir(root())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
        let mut last = String::new();
        if let Some(out) = child.stdout.take() {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                println!("{line}");
                last = line;
            }
        }
        let status = child.wait().map_err(|e| e.to_string())?;
        if let Some(stats) = last.strip_prefix("fuzz: target=") {
            let field = |name: &str| {
                stats
                    .split_whitespace()
                    .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
                    .unwrap_or("0")
                    .to_string()
            };
            totals.execs += field("execs").parse::<u64>().unwrap_or(0);
            totals.failures += field("failures").parse::<u64>().unwrap_or(0);
        } else {
            // the runner died: keep the input it was running
            let current = dir.join("current");
            let saved = dir.join(format!("crash-{seed}.bin"));
            let kept = std::fs::copy(&current, &saved).is_ok();
            let msg = format!(
                "seed {seed}: runner died ({status}){}",
                if kept {
                    format!(", input saved as {}", saved.display())
                } else {
                    String::new()
                }
            );
            eprintln!("fuzz: CRASH target={target} {msg}");
            totals.crashes.push(msg);
        }
        seed += 1;
    }
    totals.seconds = start.elapsed().as_secs_f64();
    Ok(totals)
}

pub fn replay(target: &str, files: &[String]) -> Result<(), String> {
    let bin = build()?;
    let status = Command::new(&bin)
        .args(["replay", target])
        .args(files)
        .current_dir(root())
        .status()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("replay failed ({status})"))
    }
}
