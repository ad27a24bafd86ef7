//! End-to-end tests of `amelie top` against the real `amelie-server` (over the repository's
//! unix socket): the view drawn on a ratatui `TestBackend` from real `SHOW STATUS` samples,
//! `--once` (text, as when not on a terminal), and the full-screen loop for two refreshes
//! under a pseudo-terminal made by `script` (util-linux), which must leave the terminal as
//! it found it.
//!
//! The harness (starting and stopping the server) is `common/mod.rs`.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use amelie_client::top::{buffer_text, Sample, Status, View, STATUS_SQL};
use amelie_client::BlockingClient;
use common::{Server, TempDir, AMELIE};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

/// `amelie-server start <dir>/repo` with no TCP listener, 2 frontends and 2 backends.
fn start(tag: &str) -> (TempDir, Server) {
    let dir = TempDir::new(tag);
    let options = ["--listen=null", "--backends=2", "--frontends=2"].map(String::from);
    let server = Server::start(&dir.0.join("repo"), &options);
    (dir, server)
}

#[test]
fn the_view_of_real_samples_on_a_test_backend() {
    let (_dir, server) = start("top-view");
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
    let (dir, server) = start("top-run");
    let home = dir.0.join("home");
    let out = Command::new(AMELIE)
        .args(["top", &server.repo_arg(), "--interval=100"])
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
        server.repo_arg()
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
