//! Project tasks: `cargo xtask ci | crash | soak | conformance | bench | fuzz`. See
//! `cargo xtask --help`.

mod args;
mod fuzz;
mod http;
mod load;
mod procfs;
mod server;

use args::{BenchCommand, Command, Fuzz, FuzzReplay, LoadArgs};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The workspace root (this package lives in `<root>/xtask`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is inside the workspace")
        .to_path_buf()
}

fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root().join(dir),
        None => root().join("target"),
    }
}

/// Runs a program in the workspace root, inheriting stdio; `name` is how it is shown.
fn run(program: &OsStr, name: &str, args: &[&str]) -> Result<(), String> {
    let shown = format!("{name} {}", args.join(" "));
    eprintln!("xtask: $ {}", shown.trim_end());
    let status = std::process::Command::new(program)
        .args(args)
        .current_dir(root())
        .status()
        .map_err(|e| format!("cannot run {name}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed ({status})", shown.trim_end()))
    }
}

fn cargo(args: &[&str]) -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    run(&cargo, "cargo", args)
}

/// Builds the release server and returns the path of its binary.
fn build_server() -> Result<PathBuf, String> {
    cargo(&["build", "--release", "-p", "amelie-server"])?;
    Ok(target_dir().join("release").join("amelie-server"))
}

fn ci() -> Result<(), String> {
    cargo(&["fmt", "--all", "--", "--check"])?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    cargo(&["test", "--workspace"])?;
    eprintln!("xtask: ci passed");
    Ok(())
}

fn conformance(args: &[String]) -> Result<(), String> {
    let bin = build_server()?;
    let runner = root()
        .join("..")
        .join("shared")
        .join("conformance")
        .join("run");
    let bin = bin.to_string_lossy().into_owned();
    let mut argv = vec![bin.as_str()];
    argv.extend(args.iter().map(String::as_str));
    run(runner.as_os_str(), &runner.to_string_lossy(), &argv)
}

fn bench_micro(filter: &[String]) -> Result<(), String> {
    let mut argv = vec!["bench", "--workspace"];
    if !filter.is_empty() {
        argv.push("--");
        argv.extend(filter.iter().map(String::as_str));
    }
    cargo(&argv)
}

fn bench_load(args: &LoadArgs) -> Result<(), String> {
    match &args.uri {
        Some(uri) => load::run(args, &http::parse_uri(uri)?, args.pid),
        None => {
            let bin = match &args.server_bin {
                Some(bin) => PathBuf::from(bin),
                None => build_server()?,
            };
            let mut server = server::Server::start(&bin, args)?;
            let result = load::run(args, &server.addr, Some(server.pid()));
            server.stop();
            result
        }
    }
}

fn main() -> ExitCode {
    let cli = match args::parse(std::env::args_os()) {
        Ok(cli) => cli,
        // --help, or bad arguments: clap prints them and exits (2 for an error)
        Err(e) => e.exit(),
    };
    let Some(command) = cli.command else {
        return match args::print_help() {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::FAILURE,
        };
    };
    let result = match command {
        Command::Ci => ci(),
        Command::Conformance(args) => conformance(&args.runner_argv()),
        Command::Crash { iterations } => {
            // read by the test process spawned below
            std::env::set_var("AMELIE_CRASH_ITERATIONS", iterations.to_string());
            cargo(&["test", "--release", "--test", "crash", "--", "--nocapture"])
        }
        Command::Soak { seconds } => {
            std::env::set_var("AMELIE_SOAK_SECONDS", seconds.to_string());
            cargo(&["test", "--release", "--test", "soak", "--", "--nocapture"])
        }
        Command::Bench { command: None } => bench_micro(&[]).map(|()| {
            eprintln!(
                "\nxtask: these were the criterion micro-benchmarks; for end-to-end HTTP throughput run\n  \
                 cargo xtask bench load --workload tpcb|insert|upsert|import|resolved|memory --clients 8 --seconds 10\n\
                 (`cargo xtask bench load --help` lists the options)"
            )
        }),
        Command::Bench {
            command: Some(BenchCommand::Micro { filter }),
        } => bench_micro(&filter),
        Command::Bench {
            command: Some(BenchCommand::Load(args)),
        } => bench_load(&args),
        Command::Fuzz(Fuzz {
            replay: Some(FuzzReplay::Replay { target, files }),
            ..
        }) => fuzz::replay(&target, &files),
        Command::Fuzz(Fuzz {
            run: Some(args), ..
        }) => fuzz::run(&args),
        Command::Fuzz(Fuzz {
            replay: None,
            run: None,
        }) => unreachable!("clap requires a fuzz target or replay"),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}
