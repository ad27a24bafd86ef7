//! The repository directory: bootstrap, `config.json`, the instance lock and the pid file.
//!
//! Layout: `config.json` (persistent variables), `lock` (held with an exclusive lock while a
//! server uses the directory), `pid`, `log`, `certs/`, `wal/`.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

use amelie_common::{Error, Result};
use serde_json::Value;

use crate::config::Config;
use amelie_common::random::uuid_v4;

const CONFIG_FILE: &str = "config.json";
const LOCK_FILE: &str = "lock";
const PID_FILE: &str = "pid";

/// An open repository directory. Holds the exclusive instance lock until dropped.
#[derive(Debug)]
pub struct Repo {
    pub dir: PathBuf,
    /// True when the repository was bootstrapped by this open.
    pub created: bool,
    #[allow(dead_code)] // held only for its lock
    lock: File,
}

fn dir_error(dir: &Path, what: &str, e: impl std::fmt::Display) -> Error {
    Error::io(format!("directory '{}' {what} error ({e})", dir.display()))
}

/// True when `dir` is missing or holds nothing but (possibly) a stale lock file.
fn is_blank(dir: &Path) -> Result<bool> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(true),
        Err(e) => return Err(dir_error(dir, "open", e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| dir_error(dir, "read", e))?;
        if entry.file_name() != LOCK_FILE {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Takes the exclusive instance lock on `<dir>/lock`.
#[allow(clippy::incompatible_msrv)] // File::try_lock is stable since 1.89
fn lock_dir(dir: &Path) -> Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.join(LOCK_FILE))
        .map_err(|e| dir_error(dir, "lock", e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(Error::already_exists("instance already started")),
        Err(fs::TryLockError::Error(e)) => Err(dir_error(dir, "lock", e)),
    }
}

impl Repo {
    /// `init`: creates a new repository; fails with `directory already exists` when `dir`
    /// exists and is not empty.
    pub fn create(dir: &Path, options: &[(String, Value)]) -> Result<(Repo, Config)> {
        Self::open_impl(dir, options, true)
    }

    /// `start`: opens the repository, bootstrapping it first when `dir` is missing or empty.
    /// Options override `config.json`; it is re-saved when they change anything.
    pub fn open_or_create(dir: &Path, options: &[(String, Value)]) -> Result<(Repo, Config)> {
        Self::open_impl(dir, options, false)
    }

    fn open_impl(
        dir: &Path,
        options: &[(String, Value)],
        create_only: bool,
    ) -> Result<(Repo, Config)> {
        // Validate the options before touching the file system.
        Config::default().apply_options(options)?;
        if create_only && !is_blank(dir)? {
            return Err(Error::already_exists("directory already exists"));
        }
        if dir.exists() && !dir.is_dir() {
            return Err(dir_error(dir, "open", "not a directory"));
        }
        fs::create_dir_all(dir).map_err(|e| dir_error(dir, "create", e))?;
        let lock = lock_dir(dir)?;
        let mut repo = Repo {
            dir: dir.to_path_buf(),
            created: false,
            lock,
        };
        let config = if !repo.config_path().exists() && is_blank(dir)? {
            let mut config = Config::default();
            config.apply_options(options)?;
            if config.uuid.is_empty() {
                config.uuid = uuid_v4();
            }
            repo.save_config(&config)?;
            repo.created = true;
            config
        } else {
            if create_only {
                return Err(Error::already_exists("directory already exists"));
            }
            if !repo.config_path().exists() {
                return Err(dir_error(
                    dir,
                    "open",
                    "not a repository: config.json is missing",
                ));
            }
            let loaded = repo.load_config()?;
            let mut config = loaded.clone();
            config.apply_options(options)?;
            if config.uuid.is_empty() {
                config.uuid = uuid_v4();
            }
            if config != loaded {
                repo.save_config(&config)?;
            }
            config
        };
        for sub in [repo.wal_dir(), repo.certs_dir()] {
            fs::create_dir_all(&sub).map_err(|e| dir_error(&sub, "create", e))?;
        }
        Ok((repo, config))
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join(CONFIG_FILE)
    }

    pub fn wal_dir(&self) -> PathBuf {
        self.dir.join("wal")
    }

    pub fn certs_dir(&self) -> PathBuf {
        self.dir.join("certs")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("log")
    }

    pub fn pid_path(&self) -> PathBuf {
        self.dir.join(PID_FILE)
    }

    /// Reads and validates `config.json`.
    pub fn load_config(&self) -> Result<Config> {
        let path = self.config_path();
        let text = fs::read_to_string(&path)
            .map_err(|e| Error::io(format!("config: '{}' read error ({e})", path.display())))?;
        Config::from_json(&text)
    }

    /// Atomically rewrites `config.json` (write `config.json.tmp`, fsync, rename, fsync dir:
    /// [`amelie_common::fs::save_atomic`]). The file holds user secrets: it is created
    /// readable by the owner only (mode 0600).
    pub fn save_config(&self, config: &Config) -> Result<()> {
        // the text may reach a client (`SET`, `CREATE USER`): no absolute path in it
        amelie_common::fs::save_atomic(
            &self.config_path(),
            config.to_json_pretty().as_bytes(),
            0o600,
        )
        .map_err(|e| Error::io(format!("config: '{CONFIG_FILE}' write error ({e})")))
    }

    /// Writes `<dir>/pid` with this process id; the file is removed when the guard drops.
    pub fn write_pid(&self) -> Result<PidFile> {
        let path = self.pid_path();
        fs::write(&path, format!("{}\n", std::process::id()))
            .map_err(|e| Error::io(format!("pid: '{}' write error ({e})", path.display())))?;
        Ok(PidFile { path })
    }
}

/// Whether a server currently holds the instance lock of `dir`.
#[allow(clippy::incompatible_msrv)] // File::try_lock is stable since 1.89
pub fn is_locked(dir: &Path) -> Result<bool> {
    let file = match OpenOptions::new()
        .read(true)
        .write(true)
        .open(dir.join(LOCK_FILE))
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(dir_error(dir, "lock", e)),
    };
    match file.try_lock() {
        Ok(()) => Ok(false),
        Err(fs::TryLockError::WouldBlock) => Ok(true),
        Err(fs::TryLockError::Error(e)) => Err(dir_error(dir, "lock", e)),
    }
}

/// Reads the process id from `<dir>/pid`, if the file exists.
pub fn read_pid(dir: &Path) -> Result<Option<u32>> {
    let path = dir.join(PID_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| Error::io(format!("pid: '{}' is malformed", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!(
            "pid: '{}' read error ({e})",
            path.display()
        ))),
    }
}

/// Guard for `<dir>/pid`: removes the file on drop.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh, not yet existing directory under the system temp dir (removed on drop).
    pub(crate) struct TempDir(pub PathBuf);

    impl TempDir {
        pub(crate) fn new(tag: &str) -> TempDir {
            static N: AtomicUsize = AtomicUsize::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!(
                "amelie-system-test-{tag}-{}-{n}",
                std::process::id()
            ));
            let _ = fs::remove_dir_all(&path);
            TempDir(path)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn opts(list: &[(&str, Value)]) -> Vec<(String, Value)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn bootstrap_then_reopen() {
        let tmp = TempDir::new("boot");
        let dir = tmp.0.join("repo");
        let (repo, config) = Repo::open_or_create(&dir, &opts(&[("frontends", json!(2))])).unwrap();
        assert!(repo.created);
        assert_eq!(config.frontends, 2);
        assert!(crate::config::is_valid_uuid(&config.uuid));
        assert!(repo.wal_dir().is_dir());
        assert!(repo.config_path().is_file());
        assert!(!dir.join("config.json.tmp").exists());
        assert_eq!(repo.load_config().unwrap(), config);
        let uuid = config.uuid.clone();
        drop(repo);

        // Reopen: config.json wins over defaults, options override and are persisted.
        let (repo, config) =
            Repo::open_or_create(&dir, &opts(&[("limit_write", json!(5))])).unwrap();
        assert!(!repo.created);
        assert_eq!(config.uuid, uuid);
        assert_eq!(config.frontends, 2);
        assert_eq!(config.limit_write, 5);
        assert_eq!(repo.load_config().unwrap().limit_write, 5);
    }

    #[test]
    fn empty_dir_is_bootstrapped() {
        let tmp = TempDir::new("empty");
        fs::create_dir_all(&tmp.0).unwrap();
        let (repo, _) = Repo::open_or_create(&tmp.0, &[]).unwrap();
        assert!(repo.created);
    }

    #[test]
    fn foreign_dir_is_rejected() {
        let tmp = TempDir::new("foreign");
        fs::create_dir_all(&tmp.0).unwrap();
        fs::write(tmp.0.join("x"), "x").unwrap();
        let e = Repo::open_or_create(&tmp.0, &[]).unwrap_err();
        assert!(e.msg().contains("config.json is missing"), "{e}");
    }

    #[test]
    fn init_on_existing_dir_fails() {
        let tmp = TempDir::new("init");
        let (repo, _) = Repo::create(&tmp.0, &[]).unwrap();
        drop(repo);
        let e = Repo::create(&tmp.0, &[]).unwrap_err();
        assert_eq!(e.msg(), "directory already exists");
    }

    #[test]
    fn bad_options_leave_no_directory() {
        let tmp = TempDir::new("badopt");
        let e = Repo::create(&tmp.0, &opts(&[("nope", json!(1))])).unwrap_err();
        assert_eq!(e.msg(), "option 'nope' is not found");
        assert!(!tmp.0.exists());
    }

    #[test]
    fn lock_prevents_second_open() {
        let tmp = TempDir::new("lock");
        let (repo, _) = Repo::open_or_create(&tmp.0, &[]).unwrap();
        assert!(is_locked(&tmp.0).unwrap());
        let e = Repo::open_or_create(&tmp.0, &[]).unwrap_err();
        assert_eq!(e.msg(), "instance already started");
        drop(repo);
        assert!(!is_locked(&tmp.0).unwrap());
        let (_repo, _) = Repo::open_or_create(&tmp.0, &[]).unwrap();
    }

    #[test]
    fn pid_file_guard() {
        let tmp = TempDir::new("pid");
        let (repo, _) = Repo::open_or_create(&tmp.0, &[]).unwrap();
        assert_eq!(read_pid(&tmp.0).unwrap(), None);
        let pid = repo.write_pid().unwrap();
        assert_eq!(read_pid(&tmp.0).unwrap(), Some(std::process::id()));
        drop(pid);
        assert!(!repo.pid_path().exists());
    }
}
