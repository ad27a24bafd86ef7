//! `amelie backup <dir> [login | path] [options]`: a hot backup of a running server,
//! written as a new repository that starts as an exact copy (spec §1.8, §4.1).
//!
//! One connection: `POST /` with `Am-Service: backup` pins a checkpoint and the WAL after it
//! on the server and answers `{"checkpoint": <lsn>, "files": [[path, size], ...],
//! "config": {...}}`. Every file is then asked for on the same connection (`Am-File`,
//! `Am-File-Size`) and streamed to disk. The server releases its pin once every file was
//! handed out, or when the connection closes.
//!
//! Nothing the server names is trusted as a path: every listed path must be
//! `<checkpoint>/<name>`, `wal/<name>` or `certs/<name>` with a plain name, so a file can
//! only land inside `<dir>`. The checkpoint is written to `<dir>/<lsn>.incomplete/` and
//! renamed when complete, and `config.json` is written last: an interrupted backup leaves a
//! directory no server starts from (and it is removed when this command created it).
//!
//! `config.json` is the primary's, uuid included: the copy is the same server (as in
//! Amelie). A copy that is to run next to its primary, as a replica, is started with a
//! uuid of its own (`--uuid=...`).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use amelie_common::{Error, Json, Result};
use bytes::Bytes;
use http_body_util::BodyExt;

use crate::conn::Client;
use crate::remote::Remote;

/// What was copied.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub checkpoint: u64,
    pub files: usize,
    pub bytes: u64,
    pub seconds: f64,
}

/// The state of a backup, as the server answered it.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub checkpoint: u64,
    pub files: Vec<(String, u64)>,
    /// The `config.json` of the server.
    pub config: Json,
}

fn bad_state(why: &str) -> Error {
    Error::syntax(format!("backup: unexpected reply from the server ({why})"))
}

/// Is `name` a plain file name (no separator, not `.` or `..`, no NUL)?
fn plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0'])
}

/// Where a listed file goes inside the new repository: `<checkpoint>/<name>` (into the
/// checkpoint's `.incomplete` directory), `wal/<name>` or `certs/<name>`; anything else is
/// refused.
fn target(path: &str, checkpoint: u64) -> Option<(Area, &str)> {
    let (dir, name) = path.split_once('/')?;
    if !plain_name(name) {
        return None;
    }
    match dir {
        "wal" => Some((Area::Wal, name)),
        "certs" => Some((Area::Certs, name)),
        d if d == checkpoint.to_string() => Some((Area::Checkpoint, name)),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Area {
    Checkpoint,
    Wal,
    Certs,
}

impl State {
    /// Reads the server's answer and checks every path in it.
    pub fn parse(text: &str) -> Result<State> {
        let json = Json::parse(text).map_err(|e| bad_state(e.msg()))?;
        let Json::Object(ref fields) = json else {
            return Err(bad_state("not an object"));
        };
        let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v);
        let checkpoint = match field("checkpoint") {
            Some(Json::Int(n)) if *n > 0 => *n as u64,
            _ => return Err(bad_state("no checkpoint")),
        };
        let Some(Json::Array(list)) = field("files") else {
            return Err(bad_state("no file list"));
        };
        let mut files = Vec::with_capacity(list.len());
        for item in list {
            let (path, size) = match item {
                Json::Array(pair) => match pair.as_slice() {
                    [Json::String(p), Json::Int(n)] if *n >= 0 => (p.clone(), *n as u64),
                    _ => return Err(bad_state("a file is not [path, size]")),
                },
                _ => return Err(bad_state("a file is not [path, size]")),
            };
            if target(&path, checkpoint).is_none() {
                return Err(Error::syntax(format!(
                    "backup: the server listed an unexpected file '{path}'"
                )));
            }
            if files.iter().any(|(p, _)| *p == path) {
                return Err(bad_state("a file is listed twice"));
            }
            files.push((path, size));
        }
        let config = match field("config") {
            Some(c @ Json::Object(_)) => c.clone(),
            _ => return Err(bad_state("no config")),
        };
        Ok(State {
            checkpoint,
            files,
            config,
        })
    }
}

fn io_err(what: &Path, e: std::io::Error) -> Error {
    Error::io(format!("backup: '{}': {e}", what.display()))
}

/// Is `dir` missing or an empty directory?
fn usable(dir: &Path) -> Result<bool> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(io_err(dir, e)),
    }
}

fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err(dir, e))
}

/// Writes `file` of `dir` with mode 0600 (it may hold user secrets or a private key).
fn private_file(path: &Path) -> Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| io_err(path, e))
}

/// The backup into `dir` (which must be missing or empty). `show`: progress line on a
/// terminal. On failure a directory this call created is removed again.
pub fn run(remote: &Remote, dir: &Path, show: bool) -> Result<Summary> {
    if !usable(dir)? {
        return Err(Error::already_exists(format!(
            "backup: directory '{}' already exists",
            dir.display()
        )));
    }
    let created = !dir.exists();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io(format!("runtime: {e}")))?;
    let mut client = Client::new(remote)?;
    let result = rt.block_on(copy(&mut client, dir, show));
    if result.is_err() {
        if created {
            let _ = std::fs::remove_dir_all(dir);
        } else if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                let p = entry.path();
                let _ = if p.is_dir() {
                    std::fs::remove_dir_all(&p)
                } else {
                    std::fs::remove_file(&p)
                };
            }
        }
    }
    result
}

/// The error of a reply other than 200: the server's `{"msg": ...}`, or the status.
async fn refused(resp: hyper::Response<hyper::body::Incoming>) -> String {
    let status = resp.status().as_u16();
    let body = match resp.into_body().collect().await {
        Ok(b) => String::from_utf8_lossy(&b.to_bytes()).into_owned(),
        Err(_) => String::new(),
    };
    match &Json::parse(&body) {
        Ok(Json::Object(f)) => match f.iter().find(|(k, _)| k == "msg") {
            Some((_, Json::String(m))) => m.clone(),
            _ => format!("{status}: {body}"),
        },
        _ if body.is_empty() => format!("{status}"),
        _ => format!("{status}: {body}"),
    }
}

async fn copy(client: &mut Client, dir: &Path, show: bool) -> Result<Summary> {
    let started = Instant::now();
    let resp = client
        .send("/", None, &[("Am-Service", "backup")], Bytes::new())
        .await?;
    if resp.status() != 200 {
        return Err(Error::new(format!("backup: {}", refused(resp).await)));
    }
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| Error::io(format!("backup: reply: {e}")))?
        .to_bytes();
    let state = State::parse(&String::from_utf8_lossy(&body))?;

    std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    let incomplete = dir.join(format!("{}.incomplete", state.checkpoint));
    for sub in [incomplete.clone(), dir.join("wal"), dir.join("certs")] {
        std::fs::create_dir_all(&sub).map_err(|e| io_err(&sub, e))?;
    }
    let total: u64 = state.files.iter().map(|(_, s)| s).sum();
    let bar = progress_bar(total, show);
    let mut done = 0u64;
    for (i, (path, size)) in state.files.iter().enumerate() {
        let Some((area, name)) = target(path, state.checkpoint) else {
            return Err(Error::internal("backup: unchecked path"));
        };
        let out: PathBuf = match area {
            Area::Checkpoint => incomplete.join(name),
            Area::Wal => dir.join("wal").join(name),
            Area::Certs => dir.join("certs").join(name),
        };
        bar.set_message(format!("file {} of {}: {path}", i + 1, state.files.len()));
        let size_text = size.to_string();
        let resp = client
            .send(
                "/",
                None,
                &[
                    ("Am-Service", "backup"),
                    ("Am-File", path.as_str()),
                    ("Am-File-Size", size_text.as_str()),
                ],
                Bytes::new(),
            )
            .await?;
        if resp.status() != 200 {
            return Err(Error::new(format!(
                "backup: file '{path}': {}",
                refused(resp).await
            )));
        }
        let mut file = match area {
            Area::Certs => private_file(&out)?,
            _ => std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&out)
                .map_err(|e| io_err(&out, e))?,
        };
        let mut body = resp.into_body();
        let mut got = 0u64;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| Error::io(format!("backup: file '{path}': {e}")))?;
            if let Ok(data) = frame.into_data() {
                got += data.len() as u64;
                if got > *size {
                    break;
                }
                file.write_all(&data).map_err(|e| io_err(&out, e))?;
                done += data.len() as u64;
                bar.set_position(done);
            }
        }
        if got != *size {
            return Err(Error::io(format!(
                "backup: file '{path}': received {got} bytes of {size}"
            )));
        }
        file.sync_all().map_err(|e| io_err(&out, e))?;
    }
    for sub in [incomplete.clone(), dir.join("wal"), dir.join("certs")] {
        sync_dir(&sub)?;
    }
    let complete = dir.join(state.checkpoint.to_string());
    std::fs::rename(&incomplete, &complete).map_err(|e| io_err(&complete, e))?;
    // config.json last: until it is there, no server starts from the directory
    let mut text = String::new();
    state.config.write_pretty(&mut text, 0);
    text.push('\n');
    let tmp = dir.join("config.json.tmp");
    let mut file = private_file(&tmp)?;
    file.write_all(text.as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|e| io_err(&tmp, e))?;
    drop(file);
    let config = dir.join("config.json");
    std::fs::rename(&tmp, &config).map_err(|e| io_err(&config, e))?;
    sync_dir(dir)?;
    bar.finish_and_clear();
    Ok(Summary {
        checkpoint: state.checkpoint,
        files: state.files.len(),
        bytes: done,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The progress line: percent of the bytes, on stderr and only on a terminal.
fn progress_bar(total: u64, show: bool) -> indicatif::ProgressBar {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    if !show || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    bar.set_draw_target(ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{percent:>3}% {bytes}/{total_bytes} {bytes_per_sec} {msg}")
    {
        bar.set_style(style);
    }
    bar
}

/// The summary line (stdout, unless `--debug=0`).
pub fn report(dir: &Path, s: &Summary) -> String {
    format!(
        "backup: {}: checkpoint {}, {} files, {} bytes in {:.2} s",
        dir.display(),
        s.checkpoint,
        s.files,
        s.bytes,
        s.seconds
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_inside_the_repository_are_accepted() {
        assert_eq!(
            target("4/catalog.snap", 4),
            Some((Area::Checkpoint, "catalog.snap"))
        );
        assert_eq!(
            target("wal/00000000000000000001.wal", 4),
            Some((Area::Wal, "00000000000000000001.wal"))
        );
        assert_eq!(
            target("certs/server.key", 4),
            Some((Area::Certs, "server.key"))
        );
        for bad in [
            "3/catalog.snap",
            "../config.json",
            "/etc/passwd",
            "wal/../../x",
            "wal/..",
            "wal/.",
            "wal/",
            "wal/a/b",
            "certs/a\\b",
            "config.json",
            "4",
            "",
            "lock/x",
        ] {
            assert_eq!(target(bad, 4), None, "{bad}");
        }
    }

    #[test]
    fn state_is_checked() {
        let s = State::parse(
            r#"{"checkpoint": 4, "files": [["4/catalog.snap", 10], ["wal/00000000000000000004.wal", 12]], "config": {"uuid": "u", "listen": [1]}}"#,
        )
        .unwrap();
        assert_eq!(s.checkpoint, 4);
        assert_eq!(s.files.len(), 2);
        let mut text = String::new();
        s.config.write_pretty(&mut text, 0);
        assert!(text.find("uuid").unwrap() < text.find("listen").unwrap());
        for bad in [
            "[]",
            r#"{"files": [], "config": {}}"#,
            r#"{"checkpoint": 4, "config": {}}"#,
            r#"{"checkpoint": 4, "files": [["4/a", -1]], "config": {}}"#,
            r#"{"checkpoint": 4, "files": [["4/a", 1], ["4/a", 1]], "config": {}}"#,
            r#"{"checkpoint": 4, "files": [], "config": 1}"#,
            r#"{"checkpoint": 4, "files": [["../x", 1]], "config": {}}"#,
        ] {
            assert!(State::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            State::parse(r#"{"checkpoint": 4, "files": [["/etc/passwd", 1]], "config": {}}"#)
                .unwrap_err()
                .msg(),
            "backup: the server listed an unexpected file '/etc/passwd'"
        );
    }
}
