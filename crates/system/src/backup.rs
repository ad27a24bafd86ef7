//! Hot backup, the server side (spec §1.8): `POST /` with `Am-Service: backup`.
//!
//! Only a request on a listener without `auth` may start a backup (see [`msg_denied`]).
//! The first request pins the newest checkpoint and the WAL after it
//! ([`amelie_executor::Executor::backup`], a WAL slot) and answers the state
//! `{"checkpoint": <lsn>, "files": [[path, size], ...], "config": {...}}`: the checkpoint's
//! files, the WAL files, the files of `certs/`, and the content of `config.json`. The pin
//! lives in the connection's [`amelie_http::Session`], so it is released when the
//! connection closes. Each later request with `Am-File: <path>` gets that file: only a path
//! of the list is served (compared as a whole string; nothing is joined to the repository
//! path that the server did not list itself), and only as many bytes as listed. Once every
//! listed file has been handed out the pin is released: the last files are open by then, and
//! an open file stays readable even if a checkpoint removes its name.

use amelie_common::{Error, Result};
use amelie_executor::BackupPin;
use std::path::Path;

/// A backup running on one connection (kept in `Session::service`).
pub(crate) struct Running {
    /// Holds the checkpoint and the WAL; dropped when the backup ends.
    pin: BackupPin,
    /// Every listed file with its size and whether it was handed out.
    files: Vec<(String, u64, bool)>,
    left: usize,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("checkpoint", &self.pin.checkpoint)
            .field("files", &self.files.len())
            .field("left", &self.left)
            .finish()
    }
}

/// Error text for a file request on a connection without a running backup.
pub const MSG_NO_BACKUP: &str = "backup: no backup in progress on this connection";

/// Error text for a backup asked for on a listener with `auth`. A backup copies
/// `config.json` with every user's secret, which is the right to act as any user: like user
/// management it is left to listeners without `auth` (whoever reaches them is the operator).
pub fn msg_denied(user: &str) -> String {
    format!("user '{user}': permission denied (backups are taken on a listener without auth)")
}

/// Error text for a file that is not in the backup's list.
pub fn msg_not_listed(path: &str) -> String {
    format!("backup: file '{path}' is not part of the backup")
}

/// The regular files of `<repo>/certs/` as `certs/<name>` with their sizes, sorted.
fn certs(repo: &Path) -> Result<Vec<(String, u64)>> {
    let dir = repo.join("certs");
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(format!("backup: certs: {e}"))),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(format!("backup: certs: {e}")))?;
        let Ok(meta) = entry.metadata() else { continue };
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if meta.is_file() {
            out.push((format!("certs/{name}"), meta.len()));
        }
    }
    out.sort();
    Ok(out)
}

impl Running {
    /// A backup of `pin` plus the certificates of `repo`; returns it with the state reply.
    /// `config` is the JSON text of `config.json`.
    pub(crate) fn new(pin: BackupPin, repo: &Path, config: &str) -> Result<(Running, String)> {
        let mut files: Vec<(String, u64, bool)> = pin
            .files
            .iter()
            .map(|(p, s)| (p.clone(), *s, false))
            .collect();
        files.extend(certs(repo)?.into_iter().map(|(p, s)| (p, s, false)));
        let mut body = format!("{{\"checkpoint\": {}, \"files\": [", pin.checkpoint);
        for (i, (path, size, _)) in files.iter().enumerate() {
            if i > 0 {
                body.push_str(", ");
            }
            let path = serde_json::to_string(path).map_err(|e| Error::internal(e.to_string()))?;
            body.push_str(&format!("[{path}, {size}]"));
        }
        body.push_str("], \"config\": ");
        body.push_str(config.trim_end());
        body.push('}');
        let left = files.len();
        Ok((Running { pin, files, left }, body))
    }

    /// Opens the listed file `path` under `repo`. `size`, when the client gave one, must be
    /// the listed size. Returns the file, its listed size, and whether every file has now
    /// been handed out (the backup is over).
    pub(crate) fn open(
        &mut self,
        repo: &Path,
        path: &str,
        size: Option<u64>,
    ) -> Result<(std::fs::File, u64, bool)> {
        let Some(entry) = self.files.iter_mut().find(|(p, _, _)| p == path) else {
            return Err(Error::not_found(msg_not_listed(path)));
        };
        let listed = entry.1;
        if let Some(size) = size.filter(|s| *s != listed) {
            return Err(Error::type_error(format!(
                "backup: file '{path}' has {listed} bytes, not {size}"
            )));
        }
        let file = std::fs::File::open(repo.join(&entry.0))
            .map_err(|e| Error::io(format!("backup: file '{path}': {e}")))?;
        let len = file
            .metadata()
            .map_err(|e| Error::io(format!("backup: file '{path}': {e}")))?
            .len();
        if len < listed {
            return Err(Error::io(format!(
                "backup: file '{path}' has {len} bytes, fewer than the {listed} listed"
            )));
        }
        if !entry.2 {
            entry.2 = true;
            self.left -= 1;
        }
        Ok((file, listed, self.left == 0))
    }

    pub(crate) fn checkpoint(&self) -> u64 {
        self.pin.checkpoint
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("amelie-backup-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn certs_are_listed_sorted_and_only_files() {
        let dir = temp("certs");
        assert!(certs(&dir).unwrap().is_empty());
        std::fs::create_dir_all(dir.join("certs/sub")).unwrap();
        std::fs::write(dir.join("certs/b.pem"), b"bb").unwrap();
        std::fs::write(dir.join("certs/a.pem"), b"a").unwrap();
        assert_eq!(
            certs(&dir).unwrap(),
            vec![("certs/a.pem".into(), 1), ("certs/b.pem".into(), 2)]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn only_listed_files_are_served_and_the_pin_ends_with_the_last() {
        let dir = temp("open");
        std::fs::create_dir_all(dir.join("5")).unwrap();
        std::fs::create_dir_all(dir.join("wal")).unwrap();
        std::fs::write(dir.join("5/catalog.snap"), b"catalog").unwrap();
        std::fs::write(dir.join("wal/x.wal"), b"0123456789").unwrap();
        std::fs::write(dir.join("config.json"), b"{}").unwrap();
        let slots = std::sync::Arc::new(amelie_wal::Slots::default());
        let pin = BackupPin {
            slot: slots.create(5, Some(5)),
            checkpoint: 5,
            lsn: 7,
            // the WAL file grows after the pin: only the listed bytes are served
            files: vec![("5/catalog.snap".into(), 7), ("wal/x.wal".into(), 4)],
        };
        let (mut run, body) = Running::new(pin, &dir, "{\"uuid\": \"u\"}\n").unwrap();
        assert_eq!(
            body,
            "{\"checkpoint\": 5, \"files\": [[\"5/catalog.snap\", 7], [\"wal/x.wal\", 4]], \
             \"config\": {\"uuid\": \"u\"}}"
        );
        assert_eq!(run.checkpoint(), 5);
        let abs = dir.join("config.json").display().to_string();
        for bad in [
            "../config.json",
            "config.json",
            abs.as_str(),
            "5/../config.json",
            "5",
            "",
        ] {
            let e = run.open(&dir, bad, None).unwrap_err();
            assert_eq!(e.msg(), msg_not_listed(bad));
        }
        let e = run.open(&dir, "wal/x.wal", Some(10)).unwrap_err();
        assert_eq!(e.msg(), "backup: file 'wal/x.wal' has 4 bytes, not 10");
        let (_, size, done) = run.open(&dir, "wal/x.wal", Some(4)).unwrap();
        assert_eq!((size, done), (4, false));
        // asking twice does not count twice
        assert!(!run.open(&dir, "wal/x.wal", None).unwrap().2);
        assert_eq!(slots.count(), 1);
        let (_, size, done) = run.open(&dir, "5/catalog.snap", None).unwrap();
        assert_eq!((size, done), (7, true));
        drop(run);
        assert_eq!(slots.count(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
