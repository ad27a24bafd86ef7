//! Admin statements and views: SHOW and SET (`show`), the `system.*()` functions (`system`)
//! and the JSON of catalog objects (`json`), compute nodes (`nodes`), users and tokens
//! (`users`), WATCH (`watch`), replicas and the replication role (`repl`). The server's configuration, and the users kept in it, are
//! reached through [`ConfigSource`].

pub mod cpu;
pub mod json;
pub mod metrics;
pub mod nodes;
pub mod repl;
pub mod show;
pub mod system;
pub mod users;
pub mod watch;

use amelie_common::{Json, Result, Value};
use std::sync::Arc;

/// One user: a name and an optional secret (`""` = none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub secret: String,
}

/// The state variables of `SHOW ALL` that the engine owns.
#[derive(Clone, Copy, Debug, Default)]
pub struct EngineState {
    /// Last committed LSN.
    pub lsn: u64,
    /// Last partition id handed out.
    pub psn: u64,
    /// LSN of the last checkpoint.
    pub checkpoint: u64,
    /// Subscribed to a primary: writes are refused.
    pub read_only: bool,
}

/// Server configuration as the executor sees it (filled by the server crate).
pub trait ConfigSource: Send + Sync {
    /// The `SHOW ALL` / `system.config()` listing, in order, with the engine's own state
    /// variables taken from `state`.
    fn show_all(&self, state: EngineState) -> Vec<(String, Json)>;
    /// Validates and applies `SET name TO value` for a server-wide variable. `Ok(false)`: the
    /// executor handles it itself (it was only validated).
    fn set(&self, name: &str, value: &Value) -> Result<()>;
    /// `SHOW name` of a variable `show_all` leaves out (a hidden one such as the test
    /// variables); `None` when there is no such variable or it is secret.
    fn get(&self, name: &str) -> Option<Json> {
        let _ = name;
        None
    }
    /// The persisted users (hidden `users` variable), in creation order.
    fn users(&self) -> Vec<User> {
        Vec::new()
    }
    /// Changes the users atomically and persists them (`config.json`); `f` failing changes
    /// nothing.
    fn update_users(&self, f: &mut dyn FnMut(&mut Vec<User>) -> Result<()>) -> Result<()> {
        let _ = f;
        Err(amelie_common::Error::unsupported("users are not available"))
    }
    /// This server's uuid (`uuid`).
    fn uuid(&self) -> String {
        self.show_all(EngineState::default())
            .into_iter()
            .find_map(|(k, v)| match &v {
                Json::String(s) if k == "uuid" => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_default()
    }
    /// The persisted replication state (`repl`, `repl_primary`, the hidden `replicas`).
    fn repl(&self) -> repl::ReplState {
        repl::ReplState::default()
    }
    /// Persists a new replication state (`config.json`); an error changes nothing.
    fn save_repl(&self, state: &repl::ReplState) -> Result<()> {
        let _ = state;
        Ok(())
    }
    /// Network counters for `SHOW STATUS`: (open connections, bytes sent, bytes received).
    fn net(&self) -> (u64, u64, u64) {
        (0, 0, 0)
    }
}

impl crate::Executor {
    /// Sets where `SHOW`/`SET`/`system.config()` read and write server variables.
    pub fn set_config_source(&self, source: Arc<dyn ConfigSource>) {
        *self.config_source.write() = Some(source);
    }
}
