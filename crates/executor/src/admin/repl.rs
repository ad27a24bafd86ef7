//! Replication, the SQL side: the replica definitions, the replication switch
//! (`repl`), the role (primary, or replica of `repl_primary`) and the read-only mode of a
//! replica, with their statements and views (spec §2.13, §2.9).
//!
//! The state is persisted through [`ConfigSource::save_repl`] (`config.json`: `repl`,
//! `repl_primary`, the hidden `replicas`) and loaded at start by [`Executor::open_repl`].
//! A subscribed server is read-only: [`Executor::admit`] refuses every request whose
//! [`Effect`] is `Write` with `system is in read-only mode`.
//!
//! **Where the WAL streaming plugs in:** [`Streamer`]. By default the executor holds
//! [`NoStreaming`], which does nothing and reports every replica as never connected; the
//! server sets its own (`amelie_system::stream::WalStreamer`). The
//! streamer is told the state loaded at start-up, when replication starts and stops, when
//! the replica list changes and when the role changes, and answers for each replica whether
//! it is connected and up to which LSN it has confirmed. A primary's streamer keeps a WAL
//! slot per defined replica (from its definition, or the start of the server, to DROP
//! REPLICA).

use super::json::{obj, s};
use super::nodes::parse_uuid;
use crate::Executor;
use amelie_common::{Error, Json, Result};
use amelie_parser::{CreateReplica, Effect, Stmt};
use parking_lot::{Mutex, RwLock};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// One replica this server streams its WAL to (`CREATE REPLICA`); `""`: option not given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplicaDef {
    /// The replica server's uuid (lowercase).
    pub id: String,
    /// `host:port` (or a URI) of the replica's listener.
    pub uri: String,
    /// Bearer token sent to the replica.
    pub token: String,
    pub tls_ca: String,
    pub tls_capath: String,
    pub tls_cert: String,
    pub tls_key: String,
}

impl ReplicaDef {
    /// The stored form (an element of the hidden `replicas` variable): every field, by name.
    pub fn to_json(&self) -> Json {
        obj(vec![
            ("id", s(&self.id)),
            ("uri", s(&self.uri)),
            ("token", s(&self.token)),
            ("tls_ca", s(&self.tls_ca)),
            ("tls_capath", s(&self.tls_capath)),
            ("tls_cert", s(&self.tls_cert)),
            ("tls_key", s(&self.tls_key)),
        ])
    }

    /// Reads the stored form; `None` without a string `id` and `uri` (missing options are
    /// `""`, unknown keys are ignored).
    pub fn from_json(v: &Json) -> Option<ReplicaDef> {
        let Json::Object(members) = v else {
            return None;
        };
        let get = |k: &str| {
            members.iter().find_map(|(n, v)| match v {
                Json::String(x) if n == k => Some(x.clone()),
                _ => None,
            })
        };
        Some(ReplicaDef {
            id: get("id")?.to_ascii_lowercase(),
            uri: get("uri")?,
            token: get("token").unwrap_or_default(),
            tls_ca: get("tls_ca").unwrap_or_default(),
            tls_capath: get("tls_capath").unwrap_or_default(),
            tls_cert: get("tls_cert").unwrap_or_default(),
            tls_key: get("tls_key").unwrap_or_default(),
        })
    }
}

/// The list form of the hidden `replicas` variable.
pub fn replicas_to_json(list: &[ReplicaDef]) -> Json {
    Json::Array(list.iter().map(ReplicaDef::to_json).collect())
}

/// Reads the hidden `replicas` variable; malformed entries are skipped.
pub fn replicas_from_json(v: &Json) -> Vec<ReplicaDef> {
    match v {
        Json::Array(items) => items.iter().filter_map(ReplicaDef::from_json).collect(),
        _ => Vec::new(),
    }
}

/// The persisted replication state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplState {
    /// `repl`: replication is started (`START REPL`).
    pub active: bool,
    /// `repl_primary`: the primary this server is subscribed to (`""`: it is a primary).
    pub primary: String,
    /// `replicas`, in creation order.
    pub replicas: Vec<ReplicaDef>,
}

/// What the streamer knows of one replica.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplicaStatus {
    /// A streaming connection to the replica is open.
    pub connected: bool,
    /// The last LSN the replica confirmed (its WAL slot); 0: none yet.
    pub lsn: u64,
}

/// The hook of the WAL streaming: the executor calls it at start-up and after each change of
/// the replication state has been persisted, always with the whole new state. On a primary,
/// a streamer keeps one WAL slot per defined replica for as long as it is defined (whether
/// replication is on or not), and one connection per replica while replication is active;
/// on a replica it accepts the WAL of `primary` only. Calls come from request threads and
/// must not block for long.
pub trait Streamer: Send + Sync {
    /// The state loaded at start-up (before [`Streamer::start`] when `repl` is set): pin the
    /// WAL of every defined replica.
    fn open(&self, state: &ReplState) {
        let _ = state;
    }
    /// Replication starts (`START REPL`, or at start-up with `repl` set): stream to
    /// `replicas`.
    fn start(&self, state: &ReplState) {
        let _ = state;
    }
    /// Replication stops (`STOP REPL`): close every connection; the replicas' slots stay.
    fn stop(&self, state: &ReplState) {
        let _ = state;
    }
    /// A replica was created or dropped: pin the WAL for a new one (and, with
    /// `state.active`, connect to it); close a dropped one and release its slot.
    fn replicas_changed(&self, state: &ReplState) {
        let _ = state;
    }
    /// The role changed: `SUBSCRIBE` (`state.primary` set) or `UNSUBSCRIBE` (empty).
    fn role_changed(&self, state: &ReplState) {
        let _ = state;
    }
    /// The connection state and confirmed LSN of replica `id`.
    fn status(&self, id: &str) -> ReplicaStatus {
        let _ = id;
        ReplicaStatus::default()
    }
}

/// The streamer of a server without WAL streaming: nothing is sent, no replica ever
/// connects.
pub struct NoStreaming;

impl Streamer for NoStreaming {}

/// The replication state of an executor.
pub(crate) struct Replication {
    state: Mutex<ReplState>,
    /// True while subscribed (`repl_primary` set): read on every request.
    read_only: AtomicBool,
    streamer: RwLock<Arc<dyn Streamer>>,
}

impl Default for Replication {
    fn default() -> Self {
        Replication {
            state: Mutex::new(ReplState::default()),
            read_only: AtomicBool::new(false),
            streamer: RwLock::new(Arc::new(NoStreaming)),
        }
    }
}

/// `repl: primary id cannot match this server id` (a value outside its domain: kind `Type`).
fn check_primary(primary: &str, own: &str) -> Result<()> {
    if !primary.is_empty() && primary.eq_ignore_ascii_case(own) {
        return Err(Error::type_error(
            "repl: primary id cannot match this server id",
        ));
    }
    Ok(())
}

impl Executor {
    /// Sets the WAL streamer (before [`Executor::open_repl`]); the default is [`NoStreaming`].
    pub fn set_streamer(&self, streamer: Arc<dyn Streamer>) {
        *self.repl.streamer.write() = streamer;
    }

    /// Loads the replication state from the config source (after
    /// [`Executor::set_config_source`]): a server subscribed to a primary is read-only from
    /// the start, even with replication stopped, and a server with `repl` set starts
    /// streaming. A primary id equal to the server's own fails the start.
    pub fn open_repl(&self) -> Result<()> {
        let Some(source) = self.config_source.read().clone() else {
            return Ok(());
        };
        let state = source.repl();
        check_primary(&state.primary, &source.uuid())?;
        self.repl
            .read_only
            .store(!state.primary.is_empty(), Ordering::Release);
        *self.repl.state.lock() = state.clone();
        self.repl.streamer.read().open(&state);
        if state.active {
            tracing::info!(role = role(&state), "replication: start");
            self.repl.streamer.read().start(&state);
        }
        Ok(())
    }

    /// True while the server is a subscribed replica (`read_only`).
    pub fn read_only(&self) -> bool {
        self.repl.read_only()
    }

    /// The one read-only check of request intake: a subscribed replica refuses every
    /// request that writes to the database (DML, DDL, compute nodes, imports) with
    /// `system is in read-only mode`; reads and the server's own statements (SET, users,
    /// replicas, replication control, CHECKPOINT) still run.
    pub(crate) fn admit(&self, effect: Effect) -> Result<()> {
        if effect == Effect::Write && self.read_only() {
            return Err(Error::read_only());
        }
        Ok(())
    }

    /// Runs a replication statement; `None` for any other statement.
    pub(crate) async fn repl_stmt(&self, stmt: &Stmt) -> Option<Result<Option<String>>> {
        let r = match stmt {
            Stmt::CreateReplica(c) => self.create_replica(c),
            Stmt::DropReplica { if_exists, id } => self.drop_replica(*if_exists, id),
            Stmt::StartRepl => self.start_repl(true),
            Stmt::StopRepl => self.start_repl(false),
            Stmt::Subscribe { primary } => self.subscribe(Some(primary)).await,
            Stmt::Unsubscribe => self.subscribe(None).await,
            _ => return None,
        };
        Some(r.map(|_| None))
    }

    /// Applies `change` to a copy of the state, persists it, then makes it current; an error
    /// anywhere changes nothing. Returns the new state (`None`: `change` left it as it was).
    fn update_repl(
        &self,
        change: impl FnOnce(&mut ReplState) -> Result<()>,
    ) -> Result<Option<ReplState>> {
        let mut state = self.repl.state.lock();
        let mut next = state.clone();
        change(&mut next)?;
        if next == *state {
            return Ok(None);
        }
        if let Some(source) = self.config_source.read().clone() {
            source.save_repl(&next)?;
        }
        self.repl
            .read_only
            .store(!next.primary.is_empty(), Ordering::Release);
        *state = next.clone();
        Ok(Some(next))
    }

    fn create_replica(&self, c: &CreateReplica) -> Result<()> {
        let id = parse_uuid(&c.id)?;
        let changed = self.update_repl(|st| {
            if st.replicas.iter().any(|r| r.id == id) {
                if c.if_not_exists {
                    return Ok(());
                }
                return Err(Error::already_exists(format!(
                    "replica '{id}': already exists"
                )));
            }
            st.replicas.push(ReplicaDef {
                id: id.clone(),
                uri: c.uri.clone(),
                token: c.token.clone(),
                tls_ca: c.tls_ca.clone(),
                tls_capath: c.tls_capath.clone(),
                tls_cert: c.tls_cert.clone(),
                tls_key: c.tls_key.clone(),
            });
            Ok(())
        })?;
        if let Some(st) = changed {
            tracing::info!(id = %id, uri = %c.uri, "replication: replica created");
            self.repl.streamer.read().replicas_changed(&st);
        }
        Ok(())
    }

    fn drop_replica(&self, if_exists: bool, id: &str) -> Result<()> {
        let id = parse_uuid(id)?;
        let changed = self.update_repl(|st| {
            let before = st.replicas.len();
            st.replicas.retain(|r| r.id != id);
            if st.replicas.len() == before && !if_exists {
                return Err(Error::not_found(format!("replica '{id}': not exists")));
            }
            Ok(())
        })?;
        if let Some(st) = changed {
            tracing::info!(id = %id, "replication: replica dropped");
            self.repl.streamer.read().replicas_changed(&st);
        }
        Ok(())
    }

    /// `START REPL` / `STOP REPL`; starting a started replication (or stopping a stopped
    /// one) does nothing.
    fn start_repl(&self, start: bool) -> Result<()> {
        let Some(st) = self.update_repl(|st| {
            st.active = start;
            Ok(())
        })?
        else {
            return Ok(());
        };
        let streamer = self.repl.streamer.read();
        if start {
            tracing::info!(role = role(&st), "replication: start");
            streamer.start(&st);
        } else {
            tracing::info!("replication: stop");
            streamer.stop(&st);
        }
        Ok(())
    }

    /// `SUBSCRIBE 'uuid'` (`Some`) or `UNSUBSCRIBE` (`None`); both need replication started.
    /// The switch waits for every request in flight (the exclusive control lock), so no
    /// write runs on a server that has become read-only.
    async fn subscribe(&self, primary: Option<&str>) -> Result<()> {
        let own = self
            .config_source
            .read()
            .clone()
            .map(|c| c.uuid())
            .unwrap_or_default();
        let _exclusive = self.control.write().await;
        let changed = self.update_repl(|st| {
            if !st.active {
                return Err(Error::unsupported("replication: is disabled"));
            }
            let primary = primary.map(parse_uuid).transpose()?.unwrap_or_default();
            check_primary(&primary, &own)?;
            st.primary = primary;
            Ok(())
        })?;
        if let Some(st) = changed {
            match st.primary.as_str() {
                "" => tracing::info!("replication: switch to primary"),
                p => tracing::info!(primary = %p, "replication: switch to replica"),
            }
            self.repl.streamer.read().role_changed(&st);
        }
        Ok(())
    }
}

impl Replication {
    /// True while the server is a subscribed replica.
    pub(crate) fn read_only(&self) -> bool {
        self.read_only.load(Ordering::Acquire)
    }

    /// `SHOW REPL` / `system.repl()`: `{"active", "role", "primary", "replicas"}`, with each
    /// replica's `lag` counted from `lsn`, this server's LSN. `SHOW REPLICAS` and
    /// `SHOW REPLICA` read its `replicas`.
    pub(crate) fn repl_json(&self, lsn: u64) -> Json {
        let st = self.state.lock().clone();
        let streamer = self.streamer.read().clone();
        obj(vec![
            ("active", Json::Bool(st.active)),
            ("role", s(role(&st))),
            (
                "primary",
                match st.primary.as_str() {
                    "" => Json::Null,
                    p => s(p),
                },
            ),
            (
                "replicas",
                Json::Array(
                    st.replicas
                        .iter()
                        .map(|r| replica_obj(r, streamer.status(&r.id), lsn))
                        .collect(),
                ),
            ),
        ])
    }
}

/// One replica: `{"id", "uri", "connected", "lsn", "lag"}`, where `lag` is how many LSNs
/// the replica is behind this server (`lsn`).
fn replica_obj(r: &ReplicaDef, status: ReplicaStatus, lsn: u64) -> Json {
    obj(vec![
        ("id", s(&r.id)),
        ("uri", s(&r.uri)),
        ("connected", Json::Bool(status.connected)),
        ("lsn", Json::Int(status.lsn as i64)),
        ("lag", Json::Int(lsn.saturating_sub(status.lsn) as i64)),
    ])
}

/// The replicas of a `repl` object ([`Replication::repl_json`]).
pub(crate) fn replicas_of(repl: &Json) -> Json {
    match repl {
        Json::Object(m) => m
            .iter()
            .find(|(k, _)| k == "replicas")
            .map(|(_, v)| v.clone())
            .unwrap_or(Json::Array(Vec::new())),
        _ => Json::Array(Vec::new()),
    }
}

/// Replica `id` of a `repl` object: `null` when there is none, `failed to parse uuid` unless
/// `id` is a uuid.
pub(crate) fn replica_of(repl: &Json, id: &str) -> Result<Json> {
    let id = parse_uuid(id)?;
    let Some(list) = replicas_of(repl).into_items() else {
        return Ok(Json::Null);
    };
    Ok(list
        .into_iter()
        .find(|r| match r {
            Json::Object(m) => m
                .iter()
                .any(|(k, v)| k == "id" && matches!(v, Json::String(x) if *x == id)),
            _ => false,
        })
        .unwrap_or(Json::Null))
}

fn role(st: &ReplState) -> &'static str {
    if st.primary.is_empty() {
        "primary"
    } else {
        "replica"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::ConfigSource;

    fn def(id: &str) -> ReplicaDef {
        ReplicaDef {
            id: id.into(),
            uri: "h:1".into(),
            token: "t".into(),
            tls_key: "k".into(),
            ..Default::default()
        }
    }

    #[test]
    fn replicas_json_round_trip() {
        let list = vec![def("a"), def("b")];
        assert_eq!(replicas_from_json(&replicas_to_json(&list)), list);
        // missing options are empty, an entry without id or uri is skipped, ids lowercased
        let j = Json::parse(
            r#"[{"id": "AB", "uri": "x"}, {"uri": "y"}, {"id": "c"}, 1, {"id": "d", "uri": "z", "more": 1}]"#,
        )
        .unwrap();
        let got = replicas_from_json(&j);
        assert_eq!(
            got.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ["ab", "d"]
        );
        assert_eq!(got[0].token, "");
        assert!(replicas_from_json(&Json::Null).is_empty());
    }

    #[test]
    fn own_id_cannot_be_the_primary() {
        let own = "00000000-0000-0000-0000-00000000000a";
        assert_eq!(
            check_primary("00000000-0000-0000-0000-00000000000A", own)
                .unwrap_err()
                .msg(),
            "repl: primary id cannot match this server id"
        );
        assert!(check_primary("00000000-0000-0000-0000-00000000000b", own).is_ok());
        assert!(check_primary("", own).is_ok());
    }

    /// A config source that keeps the saved replication state, and can refuse to save.
    #[derive(Default)]
    struct Source {
        saved: Mutex<ReplState>,
        fail: AtomicBool,
    }

    impl ConfigSource for Source {
        fn show_all(&self, _: crate::EngineState) -> Vec<(String, Json)> {
            vec![("uuid".into(), s(OWN))]
        }
        fn set(&self, _: &str, _: &amelie_common::Value) -> Result<()> {
            Ok(())
        }
        fn repl(&self) -> ReplState {
            self.saved.lock().clone()
        }
        fn save_repl(&self, state: &ReplState) -> Result<()> {
            if self.fail.load(Ordering::Relaxed) {
                return Err(Error::io("disk full"));
            }
            *self.saved.lock() = state.clone();
            Ok(())
        }
    }

    /// A streamer that records the calls it gets.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl Streamer for Recorder {
        fn start(&self, st: &ReplState) {
            self.0.lock().push(format!("start {}", st.replicas.len()));
        }
        fn stop(&self, _: &ReplState) {
            self.0.lock().push("stop".into());
        }
        fn replicas_changed(&self, st: &ReplState) {
            self.0
                .lock()
                .push(format!("replicas {}", st.replicas.len()));
        }
        fn role_changed(&self, st: &ReplState) {
            self.0.lock().push(format!("role '{}'", st.primary));
        }
        fn status(&self, _: &str) -> ReplicaStatus {
            ReplicaStatus {
                connected: true,
                lsn: 1,
            }
        }
    }

    const OWN: &str = "00000000-0000-0000-0000-00000000000a";
    const P: &str = "00000000-0000-0000-0000-00000000000b";
    const R: &str = "00000000-0000-0000-0000-00000000000c";

    fn executor(tag: &str) -> Executor {
        let dir = std::env::temp_dir().join(format!("amelie-repl-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        crate::Executor::open(crate::ExecutorConfig {
            wal: amelie_wal::WalConfig::new(dir.join("wal")),
            format: "json".into(),
            limit_send: u64::MAX,
            dir: None,
        })
        .unwrap()
        .0
    }

    fn run(exec: &Executor, sql: &str) -> Result<Option<String>> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(exec.execute_session(sql, &mut crate::SessionCtx::default()))
    }

    /// Each statement persists the whole new state and then tells the streamer; a statement
    /// that changes nothing tells it nothing; a failed save changes nothing.
    #[test]
    fn statements_persist_and_call_the_streamer() {
        let exec = executor("hooks");
        let source = Arc::new(Source::default());
        let rec = Arc::new(Recorder::default());
        exec.set_config_source(source.clone());
        exec.set_streamer(rec.clone());
        exec.open_repl().unwrap();
        let ok = |sql: &str| run(&exec, sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        ok(&format!("create replica '{R}' uri 'h:1' token 't'"));
        ok(&format!("create replica if not exists '{R}' uri 'other'"));
        ok("start repl");
        ok("start repl");
        ok(&format!("subscribe '{P}'"));
        assert!(exec.read_only());
        ok("stop repl");
        ok("stop repl");
        assert_eq!(
            *rec.0.lock(),
            ["replicas 1", "start 1", &format!("role '{P}'"), "stop"]
        );
        let saved = source.saved.lock().clone();
        assert!(!saved.active);
        assert_eq!(saved.primary, P);
        assert_eq!(saved.replicas[0].token, "t");
        assert_eq!(saved.replicas[0].uri, "h:1");
        // the streamer's status is what the views show
        let r = ok("show replicas format 'json'").unwrap();
        assert!(
            r.contains(r#""connected": true, "lsn": 1, "lag": 0"#),
            "{r}"
        );
        // a save that fails changes nothing
        source.fail.store(true, Ordering::Relaxed);
        let e = run(&exec, &format!("drop replica '{R}'")).unwrap_err();
        assert_eq!(e.msg(), "disk full");
        source.fail.store(false, Ordering::Relaxed);
        assert_eq!(exec.repl.state.lock().replicas.len(), 1);
        assert_eq!(rec.0.lock().len(), 4);
    }

    /// A restart with a primary set is read-only even with replication stopped; one with
    /// `repl` set starts streaming; a primary equal to the server's own id fails the start.
    #[test]
    fn open_loads_the_saved_state() {
        let exec = executor("open");
        let source = Arc::new(Source::default());
        *source.saved.lock() = ReplState {
            active: false,
            primary: P.into(),
            replicas: Vec::new(),
        };
        exec.set_config_source(source.clone());
        exec.open_repl().unwrap();
        assert!(exec.read_only());
        assert_eq!(
            run(&exec, "create table t (id int primary key)")
                .unwrap_err()
                .kind(),
            amelie_common::ErrorKind::ReadOnly
        );
        let rec = Arc::new(Recorder::default());
        exec.set_streamer(rec.clone());
        source.saved.lock().active = true;
        exec.open_repl().unwrap();
        assert_eq!(*rec.0.lock(), ["start 0"]);
        source.saved.lock().primary = OWN.to_uppercase();
        assert_eq!(
            exec.open_repl().unwrap_err().msg(),
            "repl: primary id cannot match this server id"
        );
    }
}
