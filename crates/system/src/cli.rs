//! Command line: `start`, `init`, `stop`, `--version`, `--help` (hand-parsed).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use amelie_common::{Error, Result};

use crate::config::{parse_options, Options, VERSION};
use crate::repo::{self, Repo};

/// Repository used when the binary is started without arguments.
pub const DEFAULT_DIR: &str = "./amelie-data";

/// How long `stop` waits for the server to exit.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

const USAGE: &str = "\
usage: amelie-server <command> [options]

commands:
  start <dir> [--name=value ...] [--json={...}]
        run the server in the foreground; creates the repository when <dir>
        is missing or empty, otherwise options override config.json
  init <dir> [--name=value ...] [--json={...}]
        create a new repository and exit
  stop <dir>
        stop the server running on <dir> (SIGINT)
  -v, --version
        print the version
  -h, --help
        print this help

Without arguments: start ./amelie-data (listening on 127.0.0.1:3485).

options: uuid, timezone_default, format, log_enable, log_to_file,
  log_to_stdout, log_connections, log_options, tls_capath, tls_ca, tls_cert,
  tls_key, listen, limit_send, limit_recv, limit_write, frontends, backends,
  wal_rotate_wm, wal_sync_on_rotate, wal_sync_on_write, repl, repl_primary,
  repl_reconnect_ms, checkpoint_interval, checkpoint_workers, limit_memory,
  limit_memory_total, limit_time, limit_connections, idle_timeout_ms,
  header_timeout_ms, body_timeout_ms
  (values are JSON when they parse as JSON, e.g. --frontends=2
   --listen='[{\"host\": \"*\", \"port\": 3485}]', otherwise plain strings)
";

/// A parsed command line.
#[derive(Debug, PartialEq)]
enum Cmd {
    Version,
    Help,
    Start(String, Options),
    Init(String, Options),
    Stop(String),
}

/// Either a usage error (print usage) or an ordinary error.
enum CliError {
    Usage(String),
    Other(Error),
}

impl From<Error> for CliError {
    fn from(e: Error) -> Self {
        CliError::Other(e)
    }
}

fn parse_args(args: &[String]) -> std::result::Result<Cmd, CliError> {
    let Some(cmd) = args.first() else {
        return Ok(Cmd::Start(DEFAULT_DIR.to_string(), Options::new()));
    };
    let usage = |msg: String| Err(CliError::Usage(msg));
    match cmd.as_str() {
        "-v" | "--version" | "version" => Ok(Cmd::Version),
        "-h" | "--help" | "help" => Ok(Cmd::Help),
        "start" | "init" | "stop" => {
            let dir = match args.get(1) {
                Some(d) if !d.starts_with("--") && !d.is_empty() => d.clone(),
                _ => return usage(format!("{cmd}: <dir> is missing")),
            };
            let rest = &args[2..];
            match cmd.as_str() {
                "start" => Ok(Cmd::Start(dir, parse_options(rest)?)),
                "init" => Ok(Cmd::Init(dir, parse_options(rest)?)),
                _ if !rest.is_empty() => usage(format!("stop: unexpected argument '{}'", rest[0])),
                _ => Ok(Cmd::Stop(dir)),
            }
        }
        other => usage(format!("unknown command '{other}'")),
    }
}

/// Entry point of the binary (`args` without the program name); returns the exit code.
pub fn main(args: Vec<String>) -> i32 {
    let code = main_until(args, crate::server::shutdown_signal());
    // the process exits next: write out the queued log lines
    crate::log::shutdown();
    code
}

/// [`main`] whose `start` runs until `until` completes instead of until SIGINT or SIGTERM,
/// so that a process can run several servers and stop them one by one.
pub fn main_until(args: Vec<String>, until: impl std::future::Future<Output = ()>) -> i32 {
    let cmd = match parse_args(&args) {
        Ok(cmd) => cmd,
        Err(CliError::Usage(msg)) => {
            eprintln!("error: {msg}\n\n{USAGE}");
            return 1;
        }
        Err(CliError::Other(e)) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let result = match cmd {
        Cmd::Version => {
            println!("{VERSION}");
            Ok(())
        }
        Cmd::Help => {
            print!("{USAGE}");
            Ok(())
        }
        Cmd::Start(dir, options) => start(Path::new(&dir), &options, until),
        Cmd::Init(dir, options) => Repo::create(Path::new(&dir), &options).map(|_| ()),
        Cmd::Stop(dir) => stop(Path::new(&dir)),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

/// `start`: open (or bootstrap) the repository, write the pid file and run the server.
fn start(
    dir: &Path,
    options: &Options,
    until: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let early = crate::log::to_stderr();
    let (repo, config) = Repo::open_or_create(dir, options)?;
    let _pid = repo.write_pid()?;
    crate::log::init(&config, &repo.dir)?;
    drop(early);
    tracing::info!(version = %VERSION, pid = std::process::id(), "amelie start");
    if repo.created {
        tracing::info!(dir = %repo.dir.display(), "bootstrap: new repository");
    }
    if config.log_options {
        tracing::info!("options:");
        for (name, value) in config.show_all() {
            tracing::info!("  {name:<20} {value}");
        }
    }
    crate::server::run_until(config, repo, until)
    // `_pid` is dropped here: the pid file disappears once the server has stopped.
}

/// True while the process exists (zombies included), checked with `kill -0`.
fn process_alive(pid: u32) -> bool {
    Command::new("kill")
        .arg("-0")
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// `stop`: if a server holds the lock of `dir`, send it SIGINT and wait for it to exit.
fn stop(dir: &Path) -> Result<()> {
    if !dir.is_dir() {
        return Err(Error::io(format!(
            "directory '{}' open error (not found)",
            dir.display()
        )));
    }
    if !repo::is_locked(dir)? {
        return Ok(()); // not running
    }
    // The server writes the pid file right after taking the lock: allow it a moment.
    let started = Instant::now();
    let pid = loop {
        if let Some(pid) = repo::read_pid(dir)? {
            break pid;
        }
        if !repo::is_locked(dir)? {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(2) {
            return Err(Error::not_found("pid file not found"));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let status = Command::new("kill")
        .arg("-INT")
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .status()
        .map_err(|e| Error::io(format!("kill: {e}")))?;
    if !status.success() {
        return Err(Error::io(format!("failed to signal process {pid}")));
    }
    let started = Instant::now();
    loop {
        let gone = !dir.join("pid").exists() && !repo::is_locked(dir)?;
        if gone || !process_alive(pid) {
            return Ok(());
        }
        if started.elapsed() > STOP_TIMEOUT {
            return Err(Error::limit_reached(format!(
                "server (pid {pid}) did not stop within {} seconds",
                STOP_TIMEOUT.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::tests::TempDir;
    use serde_json::json;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn parse(list: &[&str]) -> std::result::Result<Cmd, String> {
        parse_args(&args(list)).map_err(|e| match e {
            CliError::Usage(m) => format!("usage: {m}"),
            CliError::Other(e) => e.to_string(),
        })
    }

    #[test]
    fn commands() {
        assert_eq!(parse(&[]), Ok(Cmd::Start(DEFAULT_DIR.into(), vec![])));
        assert_eq!(parse(&["-v"]), Ok(Cmd::Version));
        assert_eq!(parse(&["--version"]), Ok(Cmd::Version));
        assert_eq!(parse(&["-h"]), Ok(Cmd::Help));
        assert_eq!(
            parse(&["start", "d", "--frontends=2", r#"--json={"backends": 0}"#]),
            Ok(Cmd::Start(
                "d".into(),
                vec![
                    ("frontends".into(), json!(2)),
                    ("backends".into(), json!(0))
                ]
            ))
        );
        assert_eq!(parse(&["init", "d"]), Ok(Cmd::Init("d".into(), vec![])));
        assert_eq!(parse(&["stop", "d"]), Ok(Cmd::Stop("d".into())));
        assert_eq!(
            parse(&["start"]),
            Err("usage: start: <dir> is missing".into())
        );
        assert_eq!(
            parse(&["start", "--frontends=1"]),
            Err("usage: start: <dir> is missing".into())
        );
        assert_eq!(
            parse(&["bogus"]),
            Err("usage: unknown command 'bogus'".into())
        );
        assert_eq!(
            parse(&["stop", "d", "x"]),
            Err("usage: stop: unexpected argument 'x'".into())
        );
        assert_eq!(
            parse(&["start", "d", r#"--json=1"#]),
            Err("option 'json': json object expected".into())
        );
    }

    #[test]
    fn exit_codes() {
        assert_eq!(main(args(&["-v"])), 0);
        assert_eq!(main(args(&["bogus"])), 1);
        assert_eq!(main(args(&["init"])), 1);
        let tmp = TempDir::new("cli");
        let dir = tmp.0.to_str().unwrap();
        assert_eq!(main(args(&["init", dir, "--nope=1"])), 1);
        assert_eq!(main(args(&["init", dir, "--frontends=2"])), 0);
        assert_eq!(main(args(&["init", dir])), 1); // directory already exists
        assert_eq!(main(args(&["stop", dir])), 0); // not running: nothing to do
        let (_repo, config) = Repo::open_or_create(&tmp.0, &[]).unwrap();
        assert_eq!(config.frontends, 2);
        assert_eq!(main(args(&["start", dir])), 1); // instance already started
        assert_eq!(main(args(&["stop", "/nonexistent/amelie-dir"])), 1);
    }
}
