//! The client's home directory (`$AMELIE_HOME`, else `~/.amelie`) and its files: `login`
//! (saved connection profiles, JSON, mode 0600: they may hold secrets and tokens) and
//! `history` (the console's line history).

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use amelie_common::{Error, Result};
use serde_json::Value;

use crate::remote::Remote;

/// The client's home directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Home {
    pub dir: PathBuf,
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::io(format!("{what}: '{}' {e}", path.display()))
}

impl Home {
    /// `$AMELIE_HOME`, else `$HOME/.amelie`.
    pub fn from_env() -> Result<Home> {
        if let Some(dir) = std::env::var_os("AMELIE_HOME").filter(|d| !d.is_empty()) {
            return Ok(Home { dir: dir.into() });
        }
        let home = std::env::var_os("HOME")
            .filter(|d| !d.is_empty())
            .ok_or_else(|| Error::not_found("home: neither AMELIE_HOME nor HOME is set"))?;
        Ok(Home {
            dir: PathBuf::from(home).join(".amelie"),
        })
    }

    pub fn login_path(&self) -> PathBuf {
        self.dir.join("login")
    }

    pub fn history_path(&self) -> PathBuf {
        self.dir.join("history")
    }

    /// Creates the directory (mode 0700) when it is missing.
    pub fn create(&self) -> Result<()> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(|e| io_error("home", &self.dir, e))
    }

    /// The saved logins (none when the file does not exist).
    pub fn logins(&self) -> Result<Vec<Remote>> {
        let path = self.login_path();
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error("login", &path, e)),
        };
        if text.trim().is_empty() {
            return Ok(Vec::new());
        }
        let value: Value = serde_json::from_str(&text).map_err(|e| {
            Error::syntax(format!(
                "login: '{}' is not valid JSON ({e})",
                path.display()
            ))
        })?;
        let Value::Array(items) = value else {
            return Err(Error::type_error(format!(
                "login: '{}' must hold a JSON array",
                path.display()
            )));
        };
        items.iter().map(Remote::from_json).collect()
    }

    /// The login called `name`.
    pub fn login(&self, name: &str) -> Result<Remote> {
        self.logins()?
            .into_iter()
            .find(|r| r.name == name)
            .ok_or_else(|| Error::not_found(format!("login: login name '{name}' not found")))
    }

    /// Saves `remote` (whose `name` must be set), replacing a login of the same name.
    pub fn save_login(&self, remote: &Remote) -> Result<()> {
        if remote.name.is_empty() {
            return Err(Error::syntax("login: name is not defined"));
        }
        let mut all = self.logins()?;
        match all.iter_mut().find(|r| r.name == remote.name) {
            Some(r) => *r = remote.clone(),
            None => all.push(remote.clone()),
        }
        self.write_logins(&all)
    }

    /// Removes the login called `name`.
    pub fn remove_login(&self, name: &str) -> Result<()> {
        let mut all = self.logins()?;
        let before = all.len();
        all.retain(|r| r.name != name);
        if all.len() == before {
            return Err(Error::not_found(format!(
                "login: login name '{name}' not found"
            )));
        }
        self.write_logins(&all)
    }

    /// Rewrites the login file: a temporary file of mode 0600, then a rename
    /// ([`amelie_common::fs::save_atomic`]).
    fn write_logins(&self, all: &[Remote]) -> Result<()> {
        self.create()?;
        let path = self.login_path();
        let mut text =
            serde_json::to_string_pretty(&Value::Array(all.iter().map(Remote::to_json).collect()))
                .map_err(|e| Error::internal(format!("login: {e}")))?;
        text.push('\n');
        amelie_common::fs::save_atomic(&path, text.as_bytes(), 0o600)
            .map_err(|e| io_error("login", &path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn save_replace_remove() {
        let dir = std::env::temp_dir().join(format!("amelie-client-login-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let home = Home {
            dir: dir.join("home"),
        };
        assert!(home.logins().unwrap().is_empty());
        assert_eq!(
            home.login("x").unwrap_err().msg(),
            "login: login name 'x' not found"
        );
        let mut a = Remote::new();
        a.name = "a".into();
        a.uri = "h:1".into();
        a.secret = "s".into();
        home.save_login(&a).unwrap();
        let mode = fs::metadata(home.login_path())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        let dmode = fs::metadata(&home.dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(dmode, 0o700);
        let mut b = Remote::new();
        b.name = "b".into();
        b.path = "/tmp/r".into();
        home.save_login(&b).unwrap();
        a.uri = "h:2".into();
        home.save_login(&a).unwrap();
        let all = home.logins().unwrap();
        assert_eq!(all, vec![a.clone(), b.clone()]);
        assert_eq!(home.login("a").unwrap(), a);
        home.remove_login("a").unwrap();
        assert!(home.remove_login("a").is_err());
        assert_eq!(home.logins().unwrap(), vec![b]);
        assert!(home.save_login(&Remote::new()).is_err());
        fs::write(home.login_path(), "{").unwrap();
        assert!(home.logins().is_err());
        fs::write(home.login_path(), "{}").unwrap();
        assert!(home.logins().is_err());
        let _ = fs::remove_dir_all(&dir);
    }
}
