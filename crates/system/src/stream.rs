//! WAL streaming, primary → replica (spec §1.8, §5.5): both sides.
//!
//! **The protocol.** The primary sends `POST /` with `Am-Service: repl`,
//! `Am-Id: <primary uuid>`, `Am-Lsn: <primary lsn>` and `Content-Type:
//! application/octet-stream`; the body is zero or more WAL records in the log's own framing
//! (`amelie_wal::format`, crc checked). The replica answers 200 with `Am-Id: <replica uuid>`
//! and `Am-Lsn: <replica lsn after the apply>` and no body. An empty body is the handshake:
//! the replica just reports its LSN. Every error is a 400 `{"msg"}`.
//!
//! **The replica side** ([`accept`]): only while replication is on and the server is
//! subscribed to the sender (`repl_primary` equals `Am-Id`); the records go to
//! [`Executor::apply_replicated`] (records it has are skipped, a gap is refused).
//!
//! **The primary side** ([`WalStreamer`], the executor's [`Streamer`]): on a primary, every
//! defined replica has a WAL slot, from `CREATE REPLICA` (or the server's start) to `DROP
//! REPLICA`, through disconnections, `STOP REPL` and `START REPL`; a new slot starts at
//! the oldest record the log holds (see [`WalStreamer`]'s `reconcile`). While replication
//! is on, one task per replica runs on a thread of its own (`repl`, a single-threaded tokio
//! runtime). A task connects to the replica's `uri` (HTTP over TCP or TLS,
//! [`crate::repl_connect`]), does the handshake, moves the slot to the replica's LSN + 1, then sends the records after the
//! confirmed LSN up to the committed one ([`amelie_wal::read_after_at`]) and moves the slot
//! to what the replica confirms + 1. Idle, it sleeps until a commit (a
//! [`amelie_executor::CommitListener`], woken by group commit; at most one such wake-up per
//! [`GATHER`] after a reply, so a stream of commits is sent in batches) and sends a handshake every
//! [`HEARTBEAT`] (the connection stays open and a dead replica is noticed). Any error
//! closes the connection (the slot stays); the task tries again every
//! `repl_reconnect_ms`. A replica whose next record is no longer in the log is `replica is
//! outdated` (logged as an error; it stays disconnected and is retried).

use amelie_common::{Error, Result};
use amelie_executor::{Executor, ReplState, ReplicaDef, ReplicaStatus, Streamer, WalSource};
use amelie_http::{ReplReply, ReplRequest};
use amelie_wal::{format, WalError, WalRecord};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a stream waits before reading again when the log did not give the records up
/// to the committed LSN (not expected: records are written before their LSN is published).
const RETRY_EMPTY_READ: Duration = Duration::from_millis(20);
/// The least time between a reply and the next request woken by a commit: under a stream
/// of commits, requests carry the commits of about this long instead of one each.
const GATHER: Duration = Duration::from_millis(1);
/// How often an idle stream sends a handshake.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// Bytes of record bodies sent in one request (at least one record is sent, however large).
pub const BATCH_BYTES: usize = 256 * 1024;
/// How long a connection attempt or one request may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Error text (and log line) of a replica whose next record is no longer in the log.
pub const MSG_OUTDATED: &str = "replica is outdated";

/// Error text for WAL records from a server this one is not subscribed to.
pub fn msg_unknown_primary(id: &str) -> String {
    format!("replication: unknown primary '{id}'")
}

/// Error text for WAL records sent while replication is stopped on the replica.
pub const MSG_NOT_STARTED: &str = "replication: not started on this server";

/// Parses a body of framed WAL records (all of it: a torn or damaged record is an error).
pub fn parse_records(body: &[u8]) -> Result<Vec<WalRecord>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < body.len() {
        match format::parse_record(&body[at..]) {
            Ok((r, len)) => {
                out.push(r.to_record());
                at += len;
            }
            Err(e) => {
                return Err(Error::replication(format!(
                    "replication: malformed body at byte {at}: {}",
                    e.describe()
                )))
            }
        }
    }
    Ok(out)
}

/// The replica side of `Am-Service: repl`: checks that `state` is subscribed to the
/// sender with replication on, applies the records and reports this server's LSN.
pub async fn accept(
    exec: &Executor,
    state: &ReplState,
    uuid: &str,
    request: ReplRequest<'_>,
) -> Result<ReplReply> {
    if state.primary.is_empty() || !state.primary.eq_ignore_ascii_case(request.primary) {
        return Err(Error::replication(msg_unknown_primary(request.primary)));
    }
    if !state.active {
        return Err(Error::replication(MSG_NOT_STARTED));
    }
    let records = parse_records(request.body)?;
    if !records.is_empty() {
        let before = exec.lsn();
        let lsn = exec.apply_replicated(&records).await?;
        if lsn > before {
            tracing::debug!(
                primary = request.primary,
                from = before + 1,
                to = lsn,
                "replication: applied"
            );
        }
    }
    Ok(ReplReply {
        id: uuid.to_string(),
        lsn: exec.lsn(),
    })
}

/// What every replica task shares.
struct Shared {
    source: WalSource,
    wal_dir: PathBuf,
    /// This server's uuid (`Am-Id`).
    uuid: String,
    /// `repl_reconnect_ms`, read at every retry.
    reconnect_ms: Box<dyn Fn() -> u64 + Send + Sync>,
    status: Mutex<HashMap<String, ReplicaStatus>>,
    /// The WAL slot of every replica defined on this primary, by id: made when the replica
    /// is defined (or the server starts), moved by its task, released by DROP REPLICA.
    slots: Mutex<HashMap<String, amelie_wal::Slot>>,
}

impl Shared {
    fn set_status(&self, id: &str, connected: bool, lsn: Option<u64>) {
        let mut all = self.status.lock();
        let s = all.entry(id.to_string()).or_default();
        s.connected = connected;
        if let Some(lsn) = lsn {
            s.lsn = lsn;
        }
    }

    /// Moves replica `id`'s slot to `lsn` (never backwards; nothing if it has none).
    fn advance(&self, id: &str, lsn: u64) {
        if let Some(slot) = self.slots.lock().get(id) {
            slot.advance(lsn);
        }
    }
}

/// The primary side: one task per replica (see the module documentation).
pub struct WalStreamer {
    shared: Arc<Shared>,
    rt: tokio::runtime::Handle,
    /// The running tasks by replica id, with the definition they run on.
    tasks: Mutex<HashMap<String, (ReplicaDef, tokio::task::AbortHandle)>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl WalStreamer {
    /// A streamer reading the log of `source` in `wal_dir`, sending as `uuid`; starts its
    /// thread (no task runs before [`Streamer::start`]).
    pub fn new(
        source: WalSource,
        wal_dir: PathBuf,
        uuid: String,
        reconnect_ms: Box<dyn Fn() -> u64 + Send + Sync>,
    ) -> Result<WalStreamer> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::io(format!("repl: runtime: {e}")))?;
        let handle = rt.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("repl".into())
            .spawn(move || {
                rt.block_on(async move {
                    let _ = stopped.await;
                });
                // dropping the runtime drops the tasks, their connections and slots
                drop(rt);
            })
            .map_err(|e| Error::internal(format!("repl thread: {e}")))?;
        Ok(WalStreamer {
            shared: Arc::new(Shared {
                source,
                wal_dir,
                uuid,
                reconnect_ms,
                status: Mutex::new(HashMap::new()),
                slots: Mutex::new(HashMap::new()),
            }),
            rt: handle,
            tasks: Mutex::new(HashMap::new()),
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Holds a WAL slot for every replica of `state` while the server is a primary, and
    /// runs one task per replica while replication is also active; releases the slots of
    /// replicas no longer defined and stops the tasks of replicas no longer wanted (or
    /// whose definition changed).
    ///
    /// A new slot starts at the oldest record the log holds, not at the replica's LSN
    /// (unknown until it answers): nothing is persisted for it, so after a restart of the
    /// primary every WAL file still on disk stays until the replica reports what it has,
    /// and nothing a replica may need is removed by the first checkpoint after the start.
    fn reconcile(&self, state: &ReplState) {
        let primary = state.primary.is_empty();
        {
            let pinned: &[ReplicaDef] = if primary { &state.replicas } else { &[] };
            let mut slots = self.shared.slots.lock();
            slots.retain(|id, _| {
                let keep = pinned.iter().any(|d| d.id == *id);
                if !keep {
                    tracing::info!(replica = %id, "replication: wal slot released");
                }
                keep
            });
            for def in pinned {
                if !slots.contains_key(&def.id) {
                    let slot = self.shared.source.slot_from_oldest();
                    tracing::debug!(replica = %def.id, lsn = slot.lsn(), "replication: wal slot");
                    slots.insert(def.id.clone(), slot);
                }
            }
        }
        let want: &[ReplicaDef] = if state.active && primary {
            &state.replicas
        } else {
            &[]
        };
        let mut tasks = self.tasks.lock();
        tasks.retain(|id, (def, task)| {
            let keep = want.contains(def);
            if !keep {
                task.abort();
                self.shared.status.lock().remove(id);
                tracing::info!(replica = %id, "replication: stream stopped");
            }
            keep
        });
        for def in want {
            if tasks.contains_key(&def.id) {
                continue;
            }
            let task = self.rt.spawn(run_replica(self.shared.clone(), def.clone()));
            tasks.insert(def.id.clone(), (def.clone(), task.abort_handle()));
        }
    }
}

#[cfg(test)]
impl WalStreamer {
    fn advance_for_test(&self, id: &str, lsn: u64) {
        self.shared.advance(id, lsn);
    }
}

impl Drop for WalStreamer {
    fn drop(&mut self) {
        for (_, (_, task)) in self.tasks.lock().drain() {
            task.abort();
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Streamer for WalStreamer {
    fn open(&self, state: &ReplState) {
        self.reconcile(state);
    }

    fn start(&self, state: &ReplState) {
        self.reconcile(state);
    }

    fn stop(&self, state: &ReplState) {
        self.reconcile(state);
    }

    fn replicas_changed(&self, state: &ReplState) {
        self.reconcile(state);
    }

    fn role_changed(&self, state: &ReplState) {
        self.reconcile(state);
    }

    fn status(&self, id: &str) -> ReplicaStatus {
        self.shared
            .status
            .lock()
            .get(&id.to_ascii_lowercase())
            .copied()
            .unwrap_or_default()
    }
}

/// One replica's task: stream, and after any error wait `repl_reconnect_ms` and stream
/// again. An error is logged when it differs from the previous one.
async fn run_replica(shared: Arc<Shared>, def: ReplicaDef) {
    let mut last = String::new();
    loop {
        let e = stream(&shared, &def).await;
        shared.set_status(&def.id, false, None);
        if e.msg() != last {
            if e.msg() == MSG_OUTDATED {
                tracing::error!(replica = %def.id, uri = %def.uri, "{MSG_OUTDATED}");
            } else {
                tracing::warn!(replica = %def.id, uri = %def.uri, error = e.msg(), "replication: disconnected");
            }
            last = e.msg().to_string();
        }
        let ms = (shared.reconnect_ms)().max(1);
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

/// One connection to a replica, until an error (returned).
async fn stream(shared: &Shared, def: &ReplicaDef) -> Error {
    match stream_inner(shared, def).await {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

async fn stream_inner(shared: &Shared, def: &ReplicaDef) -> Result<std::convert::Infallible> {
    // TCP, or TLS over it (repl_connect.rs: the uri, the tls_* options)
    let repo = crate::repl_connect::repo_of(&shared.wal_dir);
    let replica = crate::repl_connect::connect(def, &repo, TIMEOUT).await?;
    let host = replica.authority.as_str();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(replica.io)
        .await
        .map_err(|e| Error::io(format!("replication: {host}: {e}")))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut confirmed = post(&mut sender, shared, def, host, Vec::new()).await?;
    // the replica has everything up to `confirmed`: its slot keeps the rest (never past the
    // primary's own LSN, whatever a diverged replica reports)
    shared.advance(&def.id, confirmed.min(shared.source.lsn()) + 1);
    // connected once the log is known to hold what the replica needs next
    let mut announced = false;
    let mut announce = |lsn: u64| {
        if !announced {
            announced = true;
            tracing::info!(replica = %def.id, uri = %def.uri, lsn, "replication: connected");
        }
        shared.set_status(&def.id, true, Some(lsn));
    };
    // woken by every commit while the connection lives
    let listener = shared.source.listen();
    let mut beat = Instant::now();
    // where the last batch ended in the WAL files: the next one reads on from there
    let mut pos: Option<amelie_wal::TailPos> = None;
    loop {
        let committed = shared.source.lsn();
        if committed <= confirmed {
            announce(confirmed);
            let due = HEARTBEAT.saturating_sub(beat.elapsed());
            if due.is_zero() {
                confirmed = post(&mut sender, shared, def, host, Vec::new()).await?;
                announce(confirmed);
                beat = Instant::now();
                continue;
            }
            // asleep until a commit passes the confirmed LSN, or the heartbeat is due
            if tokio::time::timeout(due, listener.wait_past(confirmed))
                .await
                .is_ok()
            {
                // a reply came back just now: let the commits of a moment gather
                let since = beat.elapsed();
                if since < GATHER {
                    tokio::time::sleep(GATHER - since).await;
                }
            }
            continue;
        }
        let dir = shared.wal_dir.clone();
        let after = confirmed;
        let mut at = pos;
        let (records, at) = tokio::task::spawn_blocking(move || {
            let r = amelie_wal::read_after_at(&dir, after, BATCH_BYTES, committed, &mut at);
            (r, at)
        })
        .await
        .map_err(|e| Error::internal(format!("replication: wal reader: {e}")))?;
        pos = at;
        let records = match records {
            Ok(r) => r,
            Err(WalError::Outdated { .. }) => return Err(Error::replication(MSG_OUTDATED)),
            Err(e) => return Err(Error::io(format!("replication: {e}"))),
        };
        announce(confirmed);
        let mut body = Vec::new();
        for r in records.iter().filter(|r| r.lsn <= committed) {
            format::append_record(&mut body, r.lsn, r.count, &r.body);
        }
        if body.is_empty() {
            tokio::time::sleep(RETRY_EMPTY_READ).await;
            continue;
        }
        confirmed = post(&mut sender, shared, def, host, body).await?;
        shared.advance(&def.id, confirmed.min(committed) + 1);
        announce(confirmed);
        beat = Instant::now();
    }
}

/// Sends one `Am-Service: repl` request and returns the LSN the replica reports.
async fn post(
    sender: &mut SendRequest<Full<Bytes>>,
    shared: &Shared,
    def: &ReplicaDef,
    host: &str,
    body: Vec<u8>,
) -> Result<u64> {
    let fail = |msg: String| Error::io(format!("replication: {host}: {msg}"));
    let mut req = hyper::Request::post("/")
        .header(hyper::header::HOST, host)
        .header(amelie_http::HEADER_SERVICE, "repl")
        .header(amelie_http::HEADER_ID, shared.uuid.as_str())
        .header(amelie_http::HEADER_LSN, shared.source.lsn())
        .header(hyper::header::CONTENT_TYPE, "application/octet-stream");
    if !def.token.is_empty() {
        req = req.header(
            hyper::header::AUTHORIZATION,
            format!("Bearer {}", def.token),
        );
    }
    let req = req
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| fail(e.to_string()))?;
    let run = async {
        sender.ready().await.map_err(|e| fail(e.to_string()))?;
        let reply = sender
            .send_request(req)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let (parts, body) = reply.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| fail(e.to_string()))?
            .to_bytes();
        Ok::<_, Error>((parts, body))
    };
    let (parts, body) = tokio::time::timeout(TIMEOUT, run)
        .await
        .map_err(|_| fail("request timed out".into()))??;
    if parts.status != hyper::StatusCode::OK {
        // the replica's `{"msg"}`, or the status
        let msg = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("msg").and_then(|m| m.as_str()).map(str::to_string))
            .unwrap_or_else(|| format!("status {}", parts.status.as_u16()));
        return Err(Error::replication(format!(
            "replication: replica '{}': {msg}",
            def.id
        )));
    }
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let id = header(amelie_http::HEADER_ID).unwrap_or("");
    if !id.eq_ignore_ascii_case(&def.id) {
        return Err(Error::replication(format!(
            "replication: {host} answers as '{id}', not as replica '{}'",
            def.id
        )));
    }
    header(amelie_http::HEADER_LSN)
        .and_then(|v| v.trim().parse::<u64>().ok())
        .ok_or_else(|| fail("Am-Lsn: integer expected".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_bad_bodies_are_refused() {
        let mut body = Vec::new();
        format::append_record(&mut body, 7, 1, b"abc");
        format::append_record(&mut body, 8, 2, b"");
        let records = parse_records(&body).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!((records[0].lsn, records[0].count), (7, 1));
        assert_eq!(records[0].body, b"abc");
        assert_eq!((records[1].lsn, records[1].count), (8, 2));
        assert!(parse_records(&[]).unwrap().is_empty());
        // torn
        let e = parse_records(&body[..body.len() - 1]).unwrap_err();
        assert!(e.msg().starts_with("replication: malformed body at byte"));
        // damaged
        let mut bad = body.clone();
        bad[21] ^= 1;
        let e = parse_records(&bad).unwrap_err();
        assert!(e.msg().contains("checksum"), "{}", e.msg());
        assert!(parse_records(b"xy").is_err());
    }

    /// A primary keeps one slot per defined replica from the oldest record on, through STOP
    /// REPL (no task runs here: replication is off or the replicas unreachable), and
    /// releases it when the replica is dropped or the server subscribes.
    #[test]
    fn a_slot_per_defined_replica() {
        let dir = std::env::temp_dir().join(format!("amelie-stream-slots-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let wal_dir = dir.join("wal");
        let (exec, _) = Executor::open(amelie_executor::ExecutorConfig {
            wal: amelie_wal::WalConfig::new(wal_dir.clone()),
            format: "json".into(),
            limit_send: u64::MAX,
            dir: None,
        })
        .unwrap();
        let source = exec.wal_source();
        let streamer = WalStreamer::new(
            source.clone(),
            wal_dir,
            "00000000-0000-0000-0000-00000000000a".into(),
            Box::new(|| 100),
        )
        .unwrap();
        let slots = || {
            let w = exec.wal_status();
            (w.slots, w.slots_min)
        };
        let def = |id: &str| ReplicaDef {
            id: id.into(),
            uri: "127.0.0.1:1".into(),
            ..Default::default()
        };
        let mut state = ReplState {
            active: false,
            primary: String::new(),
            replicas: vec![def("a")],
        };
        streamer.open(&state);
        assert_eq!(slots(), (1, 1));
        streamer.advance_for_test("a", 5);
        state.replicas.push(def("b"));
        streamer.replicas_changed(&state);
        assert_eq!(slots(), (2, 1));
        streamer.stop(&state);
        assert_eq!(slots(), (2, 1));
        state.replicas.remove(1);
        streamer.replicas_changed(&state);
        assert_eq!(slots(), (1, 5));
        // a subscribed server keeps none; promoted again, the slot starts over
        state.primary = "00000000-0000-0000-0000-00000000000b".into();
        streamer.role_changed(&state);
        assert_eq!(slots(), (0, -1));
        state.primary.clear();
        streamer.role_changed(&state);
        assert_eq!(slots(), (1, 1));
        drop(streamer);
        assert_eq!(slots(), (0, -1));
        drop(exec);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
