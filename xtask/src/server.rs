//! Starting and stopping a throw-away release server for `bench load`.

use crate::args::LoadArgs;
use crate::http;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const START_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Server {
    child: Child,
    /// `host:port` the server listens on.
    pub addr: String,
    /// Parent directory of the repository and the server log.
    dir: PathBuf,
    keep: bool,
    /// The child has been reaped.
    exited: bool,
    /// `stop` has run (it runs once, from `stop` or from `Drop`).
    done: bool,
}

fn free_port() -> Result<u16, String> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot bind 127.0.0.1:0: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

fn make_tmpdir() -> Result<PathBuf, String> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("amelie-bench-{}-{nanos:09}", std::process::id()));
    fs::create_dir(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(dir)
}

fn log_tail(path: &Path) -> String {
    let text = fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&text[text.len().saturating_sub(2000)..]);
    let text = text.trim();
    if text.is_empty() {
        "(server log is empty)".to_string()
    } else {
        format!("server log tail:\n{text}")
    }
}

impl Server {
    /// Starts `bin start <tmpdir>/repo` on a free port and waits until `select 1` answers.
    pub fn start(bin: &Path, args: &LoadArgs) -> Result<Server, String> {
        if !bin.is_file() {
            return Err(format!("server binary {} not found", bin.display()));
        }
        let dir = make_tmpdir()?;
        let port = free_port()?;
        let addr = format!("127.0.0.1:{port}");
        let log_path = dir.join("server.log");
        let log =
            fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
        let log_err = log.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(bin);
        cmd.arg("start")
            .arg(dir.join("repo"))
            .arg(format!(
                "--listen=[{{\"host\": \"127.0.0.1\", \"port\": {port}}}]"
            ))
            .arg("--log_to_stdout=false")
            .arg(format!("--backends={}", args.backends))
            .arg(format!("--frontends={}", args.frontends))
            .args(&args.server_args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        let child = match cmd.spawn() {
            Ok(child) => child,
            Err(e) => {
                let _ = fs::remove_dir_all(&dir);
                return Err(format!("cannot start {}: {e}", bin.display()));
            }
        };
        let mut server = Server {
            child,
            addr,
            dir,
            keep: args.keep,
            exited: false,
            done: false,
        };
        eprintln!(
            "xtask: started {} (pid {}) on {} in {}",
            bin.display(),
            server.child.id(),
            server.addr,
            server.dir.display()
        );
        server.wait_ready().inspect_err(|_| server.keep = true)?;
        Ok(server)
    }

    /// The server's process id (for /proc).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let log_path = self.dir.join("server.log");
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exited = true;
                return Err(format!(
                    "server exited during start ({status}); {}",
                    log_tail(&log_path)
                ));
            }
            match http::connect(&self.addr).and_then(|mut c| http::post(&mut c, b"select 1")) {
                Ok(r) if r.is_success() => return Ok(()),
                Ok(r) => {
                    eprintln!(
                        "xtask: warning: `select 1` answered {}: {}",
                        r.status,
                        r.error_message()
                    );
                    return Ok(());
                }
                Err(e) if Instant::now() >= deadline => {
                    return Err(format!(
                        "server did not answer `select 1` on {} within {}s (last error: {e}); {}",
                        self.addr,
                        START_TIMEOUT.as_secs(),
                        log_tail(&log_path)
                    ));
                }
                Err(_) => sleep(Duration::from_millis(50)),
            }
        }
    }

    /// SIGTERM (via `kill`), wait, SIGKILL as a last resort; then remove the directory unless kept.
    pub fn stop(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        if !self.exited {
            self.exited = true;
            let pid = self.child.id().to_string();
            let signalled = Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            let deadline = Instant::now() + STOP_TIMEOUT;
            loop {
                match self.child.try_wait() {
                    Ok(Some(status)) => {
                        if !status.success() {
                            eprintln!("xtask: server exited with {status}");
                        }
                        break;
                    }
                    Ok(None) if signalled && Instant::now() < deadline => {
                        sleep(Duration::from_millis(20))
                    }
                    _ => {
                        eprintln!("xtask: server did not stop on SIGTERM, killing it");
                        let _ = self.child.kill();
                        let _ = self.child.wait();
                        break;
                    }
                }
            }
        }
        if self.keep {
            eprintln!(
                "xtask: kept {} (repository in repo/, log in server.log)",
                self.dir.display()
            );
        } else if let Err(e) = fs::remove_dir_all(&self.dir) {
            eprintln!("xtask: cannot remove {}: {e}", self.dir.display());
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}
