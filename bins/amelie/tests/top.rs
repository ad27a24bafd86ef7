//! End-to-end tests of `amelie top` against the real `amelie-server` (over the repository's
//! unix socket): the view drawn on a ratatui `TestBackend` from real `SHOW STATUS` samples,
//! `--once` (text, as when not on a terminal), and the full-screen loop for two refreshes
//! under a pseudo-terminal made by `script` (util-linux), which must leave the terminal as
//! it found it.
//!
//! Like `tests/client.rs`, this needs the `amelie-server` binary next to `amelie`
//! (`cargo test --workspace` builds it).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use amelie_client::top::{buffer_text, Sample, Status, View, STATUS_SQL};
use amelie_client::{BlockingClient, Remote};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

const AMELIE: &str = env!("CARGO_BIN_EXE_amelie");

struct Server {
    dir: PathBuf,
    child: Option<Child>,
}

impl Server {
    /// `amelie-server start <dir>/repo` with no TCP listener, 2 frontends and 2 backends;
    /// waits until `select 1` answers over the unix socket.
    fn start(tag: &str) -> Server {
        let dir = std::env::temp_dir().join(format!("amc-top-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let bin = Path::new(AMELIE).with_file_name("amelie-server");
        assert!(
            bin.is_file(),
            "{} is missing: cargo build -p amelie-server",
            bin.display()
        );
        let child = Command::new(bin)
            .arg("start")
            .arg(dir.join("repo"))
            .args([
                "--listen=null",
                "--backends=2",
                "--frontends=2",
                "--log_to_stdout=false",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = Server {
            dir,
            child: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while server
            .client()
            .and_then(|mut c| c.sql("select 1").ok())
            .map(|r| r.body)
            != Some("[1]".into())
        {
            assert!(Instant::now() < deadline, "amelie-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn repo(&self) -> String {
        self.dir.join("repo").display().to_string()
    }

    fn client(&self) -> Option<BlockingClient> {
        let remote = Remote {
            path: self.dir.join("repo/amelie.sock").display().to_string(),
            ..Remote::new()
        };
        BlockingClient::new(&remote).ok()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

#[test]
fn the_view_of_real_samples_on_a_test_backend() {
    let server = Server::start("view");
    let mut client = server.client().unwrap();
    client.sql("create table t (id int primary key)").unwrap();
    let started = Instant::now();
    let take = |client: &mut BlockingClient| {
        let reply = client.sql(STATUS_SQL).unwrap();
        assert_eq!(reply.status, 200, "{}", reply.body);
        Sample {
            status: Status::parse(&reply.body).unwrap(),
            at: started.elapsed().as_secs_f64(),
        }
    };
    let first = take(&mut client);
    for i in 0..50 {
        client.sql(&format!("insert into t values ({i})")).unwrap();
    }
    std::thread::sleep(Duration::from_millis(1100));
    let second = take(&mut client);
    assert_eq!(second.status.cpu_frontends.len(), 2, "{:?}", second.status);
    assert_eq!(second.status.cpu_backends.len(), 2);
    assert!(second.status.wal_ops >= first.status.wal_ops + 50);
    let mut term = Terminal::new(TestBackend::new(80, 20)).unwrap();
    term.draw(|f| {
        f.render_widget(
            View {
                name: "repo",
                prev: Some(&first),
                cur: &second,
            },
            f.area(),
        )
    })
    .unwrap();
    let text = buffer_text(term.backend().buffer());
    for part in [
        "top: repo",
        "frontends 2  backends 2",
        "frontend 0  [",
        "frontend 1  [",
        "backend 0   [",
        "backend 1   [",
        "MiB/s",
        "tables 1 (0 shared)",
        "q: quit",
    ] {
        assert!(text.contains(part), "{part:?} not in\n{text}");
    }
    // 50 transactions in about a second: a positive rate
    let tps = text
        .lines()
        .find_map(|l| l.split("transactions/s ").nth(1))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no transactions/s in\n{text}"));
    assert!(tps > 0.0, "{text}");
}

#[test]
fn once_prints_a_frame_and_a_pty_run_restores_the_terminal() {
    let server = Server::start("run");
    let home = server.dir.join("home");
    let out = Command::new(AMELIE)
        .args(["top", &server.repo(), "--interval=100"])
        .env("AMELIE_HOME", &home)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("top: "), "{text}");
    assert!(text.contains("backend 1   ["), "{text}");
    assert!(!text.contains('\x1b'), "plain text expected: {text:?}");

    // the full-screen loop for two refreshes on a pseudo-terminal
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: no `script` command for a pseudo-terminal");
        return;
    }
    // (the pseudo-terminal of `script` without a terminal on its stdin has no size: set one)
    let cmd = format!(
        "stty cols 100 rows 30; {AMELIE} top {} --interval=200 --count=2",
        server.repo()
    );
    let out = Command::new("script")
        .args(["-q", "-e", "-c", &cmd, "/dev/null"])
        .env("AMELIE_HOME", &home)
        .env("TERM", "xterm")
        // `script` runs the command with $SHELL
        .env("SHELL", "/bin/sh")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{screen:?}");
    // the alternate screen was entered and left again, the cursor shown again
    let enter = screen
        .find("\x1b[?1049h")
        .expect("alternate screen entered");
    let leave = screen.rfind("\x1b[?1049l").expect("alternate screen left");
    assert!(enter < leave);
    assert!(screen[leave..].contains("\x1b[?25h"), "{screen:?}");
    assert!(
        screen.contains("frontend"),
        "{cmd}: {screen:?} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(screen.contains("transactions/s"), "{screen:?}");
}
