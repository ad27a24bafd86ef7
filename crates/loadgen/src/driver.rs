//! One client thread: a mio event loop over its keep-alive connections. As soon as a reply
//! arrives on a connection the next request goes out on it. The buffers of a connection are
//! reused; a workload whose request never changes builds it once.

use crate::net::{Connector, Io};
use crate::requests::Generator;
use crate::wire::encode::frame;
use crate::wire::json_msg;
use crate::wire::parse::{self, Framing};
use mio::{Events, Poll, Token};
use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

pub const CONFLICT: &str = "transaction conflict, abort";

/// Phases of a run, in [`Shared::phase`].
pub const WARMUP: u8 = 0;
/// Latencies are recorded only while the phase is `MEASURE`.
pub const MEASURE: u8 = 1;
/// No new requests; the threads return once their in-flight replies are in.
pub const STOP: u8 = 2;

/// A request without a reply for this long is an I/O error.
const REPLY_TIMEOUT: Duration = Duration::from_secs(60);
/// How often a thread wakes with nothing to read, to notice STOP and timeouts.
const POLL_TIMEOUT: Duration = Duration::from_millis(50);
const READ_BUFFER: usize = 16 * 1024;
/// A connection that fails this many times without a reply in between is given up.
const MAX_FAILURES: u32 = 10;

/// What the main thread and the client threads share.
#[derive(Default)]
pub struct Shared {
    pub phase: AtomicU8,
    /// Committed requests (2xx), all phases.
    pub ok: AtomicU64,
    /// Requests that failed (error reply or I/O error), all phases.
    pub failed: AtomicU64,
}

#[derive(Default, Debug)]
pub struct ThreadStats {
    /// Committed requests, all phases (the tpcb check compares it with the history rows).
    pub ok: u64,
    pub conflicts: u64,
    /// Error replies by message, and I/O errors (`io: ...`), all phases.
    pub errors: HashMap<String, u64>,
    /// Microseconds from sending to the complete reply, of the requests committed in the window.
    pub latencies_us: Vec<u32>,
    /// An I/O error happened, so some request's outcome is unknown.
    pub io_errors: bool,
}

impl ThreadStats {
    pub fn merge(&mut self, other: ThreadStats) {
        self.ok += other.ok;
        self.conflicts += other.conflicts;
        self.latencies_us.extend(other.latencies_us);
        for (msg, n) in other.errors {
            *self.errors.entry(msg).or_default() += n;
        }
        self.io_errors |= other.io_errors;
    }

    fn error(&mut self, msg: String) {
        *self.errors.entry(msg).or_default() += 1;
    }
}

/// Counts one reply: `body` is its body, `measuring` whether the window is open.
fn record_reply(
    stats: &mut ThreadStats,
    shared: &Shared,
    status: u16,
    body: &[u8],
    latency: Duration,
    measuring: bool,
) {
    if (200..300).contains(&status) {
        stats.ok += 1;
        shared.ok.fetch_add(1, Ordering::Relaxed);
        if measuring {
            let us = latency.as_micros().min(u32::MAX as u128) as u32;
            stats.latencies_us.push(us);
        }
        return;
    }
    shared.failed.fetch_add(1, Ordering::Relaxed);
    let msg = json_msg(body);
    if msg.as_deref() == Some(CONFLICT) {
        stats.conflicts += 1;
        return;
    }
    stats.error(msg.unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if text.is_empty() {
            format!("HTTP {status}")
        } else {
            format!("HTTP {status}: {text}")
        }
    }));
}

struct Conn {
    /// None once the connection could not be re-opened: it sends nothing more.
    stream: Option<Io>,
    /// The whole request being sent (head and body).
    out: Vec<u8>,
    written: usize,
    /// `input[..filled]` has arrived and is not yet consumed.
    input: Vec<u8>,
    filled: usize,
    sent_at: Instant,
    in_flight: bool,
    /// I/O failures since the last reply; the connection stops after MAX_FAILURES.
    failures: u32,
}

/// One client thread: its connections and its event loop.
pub struct Worker {
    connector: Connector,
    poll: Poll,
    conns: Vec<Conn>,
    generator: Generator,
    prefix: Vec<u8>,
    /// The request of a workload whose text never changes.
    fixed: Option<Vec<u8>>,
    body: Vec<u8>,
    in_flight: usize,
    shared: Arc<Shared>,
    stats: ThreadStats,
}

impl Worker {
    /// Opens `connections` connections with `connector`.
    pub fn connect(
        connector: &Connector,
        connections: usize,
        mut generator: Generator,
        shared: Arc<Shared>,
    ) -> Result<Worker, String> {
        let poll = Poll::new().map_err(|e| format!("cannot create a poller: {e}"))?;
        let target = generator.target();
        let prefix = connector.request_prefix(target.path, target.content_type);
        let mut body = Vec::with_capacity(4096);
        let fixed = generator.is_fixed().then(|| {
            generator.build(&mut body);
            let mut out = Vec::new();
            frame(&mut out, &prefix, &body);
            out
        });
        let mut conns = Vec::with_capacity(connections);
        for i in 0..connections {
            let mut stream = connector
                .open()
                .map_err(|e| format!("connect to {}: {e}", connector.describe()))?;
            stream
                .register(poll.registry(), Token(i))
                .map_err(|e| format!("register a connection: {e}"))?;
            conns.push(Conn {
                stream: Some(stream),
                out: fixed.clone().unwrap_or_else(|| Vec::with_capacity(4096)),
                written: 0,
                input: vec![0; READ_BUFFER],
                filled: 0,
                sent_at: Instant::now(),
                in_flight: false,
                failures: 0,
            });
        }
        Ok(Worker {
            connector: connector.clone(),
            poll,
            conns,
            generator,
            prefix,
            fixed,
            body,
            in_flight: 0,
            shared,
            stats: ThreadStats {
                latencies_us: Vec::with_capacity(1 << 16),
                ..ThreadStats::default()
            },
        })
    }

    /// Runs until the phase is STOP and every reply is in (or has timed out).
    pub fn run(mut self, start: &Barrier) -> ThreadStats {
        let mut events = Events::with_capacity(self.conns.len().max(16));
        start.wait();
        let mut now = Instant::now();
        for i in 0..self.conns.len() {
            self.send(i, now, WARMUP);
        }
        let mut last_timeout_check = now;
        loop {
            let phase = self.shared.phase.load(Ordering::Relaxed);
            if phase == STOP && self.in_flight == 0 {
                break;
            }
            if self.conns.iter().all(|c| c.stream.is_none()) {
                break;
            }
            if let Err(e) = self.poll.poll(&mut events, Some(POLL_TIMEOUT)) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                self.stats.error(format!("io: poll: {e}"));
                self.stats.io_errors = true;
                break;
            }
            now = Instant::now();
            let phase = self.shared.phase.load(Ordering::Relaxed);
            for event in events.iter() {
                let i = event.token().0;
                if event.is_writable() {
                    self.flush(i, phase);
                }
                if event.is_readable() || event.is_read_closed() || event.is_error() {
                    self.receive(i, now, phase);
                }
            }
            if now.duration_since(last_timeout_check) >= Duration::from_secs(1) {
                last_timeout_check = now;
                for i in 0..self.conns.len() {
                    let c = &self.conns[i];
                    if c.in_flight && now.duration_since(c.sent_at) > REPLY_TIMEOUT {
                        self.fail(
                            i,
                            format!("io: no reply within {}s", REPLY_TIMEOUT.as_secs()),
                            phase,
                            now,
                        );
                    }
                }
            }
        }
        self.stats
    }

    /// Puts the next request on connection `i` and starts writing it.
    fn send(&mut self, i: usize, now: Instant, phase: u8) {
        let c = &mut self.conns[i];
        if c.stream.is_none() {
            return;
        }
        if let Some(fixed) = &self.fixed {
            if c.out.len() != fixed.len() {
                c.out.clone_from(fixed);
            }
        } else {
            self.generator.build(&mut self.body);
            frame(&mut c.out, &self.prefix, &self.body);
        }
        c.written = 0;
        c.sent_at = now;
        c.in_flight = true;
        self.in_flight += 1;
        self.flush(i, phase);
    }

    /// Writes what is left of connection `i`'s request, until done or the socket is full.
    fn flush(&mut self, i: usize, phase: u8) {
        let c = &mut self.conns[i];
        let Some(stream) = c.stream.as_mut() else {
            return;
        };
        if let Err(e) = stream.flush_tls() {
            let now = Instant::now();
            return self.fail(i, format!("io: send: {e}"), phase, now);
        }
        while c.in_flight && c.written < c.out.len() {
            match stream.write(&c.out[c.written..]) {
                Ok(0) => {
                    let now = Instant::now();
                    return self.fail(i, "io: connection closed while sending".into(), phase, now);
                }
                Ok(n) => c.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let now = Instant::now();
                    return self.fail(i, format!("io: send: {e}"), phase, now);
                }
            }
        }
    }

    /// Reads what has arrived on connection `i` and handles every complete reply in it.
    fn receive(&mut self, i: usize, now: Instant, phase: u8) {
        let mut eof = false;
        {
            let c = &mut self.conns[i];
            let Some(stream) = c.stream.as_mut() else {
                return;
            };
            loop {
                if c.filled == c.input.len() {
                    let grown = c.input.len() * 2;
                    c.input.resize(grown, 0);
                }
                let room = c.input.len() - c.filled;
                match stream.read(&mut c.input[c.filled..]) {
                    Ok(0) => {
                        eof = true;
                        break;
                    }
                    Ok(n) => {
                        c.filled += n;
                        // A short read emptied the socket: whatever arrives later raises a new
                        // edge, so the read that would only say WouldBlock is saved.
                        if n < room && stream.short_read_drains() {
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return self.fail(i, format!("io: receive: {e}"), phase, now),
                }
            }
        }
        loop {
            let c = &mut self.conns[i];
            let input = &c.input[..c.filled];
            let head = match parse::parse_head(input) {
                Ok(Some(head)) => head,
                Ok(None) => break,
                Err(e) => return self.fail(i, format!("io: bad response: {e}"), phase, now),
            };
            let total = match parse::message_len(input, &head) {
                Ok(Some(total)) => total,
                // a body delimited by the end of the connection is complete at EOF
                Ok(None) if eof && head.framing == Framing::UntilClose => c.filled,
                Ok(None) => break,
                Err(e) => return self.fail(i, format!("io: bad response: {e}"), phase, now),
            };
            if !c.in_flight {
                return self.fail(i, "io: a response nobody asked for".into(), phase, now);
            }
            c.in_flight = false;
            self.in_flight -= 1;
            let body = match parse::body(&c.input[..total], &head) {
                Ok(body) => body,
                Err(e) => return self.fail(i, format!("io: bad response: {e}"), phase, now),
            };
            record_reply(
                &mut self.stats,
                &self.shared,
                head.status,
                &body,
                now.duration_since(c.sent_at),
                phase == MEASURE,
            );
            drop(body);
            c.input.copy_within(total..c.filled, 0);
            c.filled -= total;
            // a 403 (or anything with Connection: close) ends the connection on the server side
            if head.close || head.status == 403 || head.framing == Framing::UntilClose {
                self.reopen(i, phase, now);
                return;
            }
            c.failures = 0;
            if phase != STOP {
                self.send(i, now, phase);
            }
        }
        if eof {
            let msg = if self.conns[i].in_flight {
                "io: connection closed by server while a request was in flight"
            } else {
                "io: connection closed by server"
            };
            self.fail(i, msg.into(), phase, now);
        }
    }

    /// An I/O error on connection `i`: the outcome of its request is unknown. Reconnects.
    fn fail(&mut self, i: usize, msg: String, phase: u8, now: Instant) {
        self.stats.io_errors = true;
        self.stats.error(msg);
        self.shared.failed.fetch_add(1, Ordering::Relaxed);
        let c = &mut self.conns[i];
        if c.in_flight {
            c.in_flight = false;
            self.in_flight -= 1;
        }
        c.failures += 1;
        if c.failures >= MAX_FAILURES {
            if let Some(mut old) = c.stream.take() {
                old.deregister(self.poll.registry());
            }
            self.stats.error(format!(
                "io: connection stopped after {MAX_FAILURES} failures in a row"
            ));
            return;
        }
        self.reopen(i, phase, now);
    }

    /// Replaces connection `i` with a fresh one and, unless stopping, sends on it.
    fn reopen(&mut self, i: usize, phase: u8, now: Instant) {
        let c = &mut self.conns[i];
        if let Some(mut old) = c.stream.take() {
            old.deregister(self.poll.registry());
        }
        c.filled = 0;
        c.written = 0;
        if phase == STOP {
            return;
        }
        let opened = self
            .connector
            .open()
            .and_then(|mut s| s.register(self.poll.registry(), Token(i)).map(|()| s));
        match opened {
            Ok(stream) => {
                c.stream = Some(stream);
                self.send(i, now, phase);
            }
            Err(e) => self
                .stats
                .error(format!("io: reconnect failed, connection stopped: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Workload;
    use std::io::{BufRead, Read, Write};
    use std::net::TcpListener;

    #[test]
    fn framing() {
        let mut connector = Connector::tcp("127.0.0.1:1".parse().unwrap());
        connector.host = "h:1".into();
        let prefix = connector.request_prefix("/", "text/plain");
        let mut out = Vec::new();
        frame(&mut out, &prefix, b"select 1");
        assert_eq!(
            out,
            b"POST / HTTP/1.1\r\nHost: h:1\r\nContent-Type: text/plain\r\nContent-Length: 8\r\n\r\nselect 1"
        );
        frame(&mut out, &prefix, b"");
        assert!(out.ends_with(b"Content-Length: 0\r\n\r\n"));
        // the connector's headers come after Host, before Content-Type
        connector.headers = vec![("Authorization".into(), "Bearer t".into())];
        let prefix = connector.request_prefix("/s/t?columns=", "application/json");
        frame(&mut out, &prefix, b"[]");
        assert_eq!(
            out,
            b"POST /s/t?columns= HTTP/1.1\r\nHost: h:1\r\nAuthorization: Bearer t\r\n\
              Content-Type: application/json\r\nContent-Length: 2\r\n\r\n[]"
        );
    }

    #[test]
    fn replies_are_counted() {
        let shared = Shared::default();
        let mut s = ThreadStats::default();
        let lat = Duration::from_micros(250);
        record_reply(&mut s, &shared, 204, b"", lat, false);
        record_reply(&mut s, &shared, 200, b"[1]", lat, true);
        record_reply(
            &mut s,
            &shared,
            400,
            br#"{"msg": "transaction conflict, abort"}"#,
            lat,
            true,
        );
        record_reply(&mut s, &shared, 400, br#"{"msg": "bad"}"#, lat, true);
        record_reply(&mut s, &shared, 400, br#"{"msg": "bad"}"#, lat, true);
        record_reply(&mut s, &shared, 500, b"", lat, true);
        assert_eq!(s.ok, 2);
        assert_eq!(s.latencies_us, vec![250]);
        assert_eq!(s.conflicts, 1);
        assert_eq!(s.errors.get("bad"), Some(&2));
        assert_eq!(s.errors.get("HTTP 500"), Some(&1));
        assert_eq!(shared.ok.load(Ordering::Relaxed), 2);
        assert_eq!(shared.failed.load(Ordering::Relaxed), 4);
    }

    /// A fake server: answers every request on every connection, the reply cut in pieces to
    /// make the client parse partial reads; every 5th reply is a 204 without a body.
    fn fake_server(
        listener: TcpListener,
        connections: usize,
    ) -> std::thread::JoinHandle<Vec<String>> {
        std::thread::spawn(move || {
            let mut handles = Vec::new();
            for _ in 0..connections {
                let (stream, _) = listener.accept().unwrap();
                stream.set_nodelay(true).unwrap();
                handles.push(std::thread::spawn(move || {
                    let mut r = std::io::BufReader::new(stream);
                    let mut bodies = Vec::new();
                    loop {
                        let mut len = 0;
                        let mut first = true;
                        loop {
                            let mut line = String::new();
                            if r.read_line(&mut line).unwrap() == 0 {
                                return bodies;
                            }
                            if first {
                                assert_eq!(line, "POST / HTTP/1.1\r\n");
                                first = false;
                            }
                            if let Some(v) = line.strip_prefix("Content-Length: ") {
                                len = v.trim().parse().unwrap();
                            }
                            if line == "\r\n" {
                                break;
                            }
                        }
                        let mut body = vec![0; len];
                        r.read_exact(&mut body).unwrap();
                        bodies.push(String::from_utf8(body).unwrap());
                        let reply: &[u8] = if bodies.len() % 5 == 0 {
                            b"HTTP/1.1 204 No Content\r\ndate: x\r\n\r\n"
                        } else {
                            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n[[1]]"
                        };
                        let s = r.get_mut();
                        for piece in reply.chunks(7) {
                            s.write_all(piece).unwrap();
                            s.flush().unwrap();
                        }
                    }
                }));
            }
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        })
    }

    #[test]
    fn event_loop_against_a_fake_server() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = fake_server(listener, 3);
        let shared = Arc::new(Shared::default());
        let worker = Worker::connect(
            &Connector::tcp(addr),
            3,
            Generator::new(Workload::Tpcb, 1, 500, 7),
            shared.clone(),
        )
        .unwrap();
        let barrier = Arc::new(Barrier::new(2));
        let stats = std::thread::scope(|s| {
            let b = barrier.clone();
            let h = s.spawn(move || worker.run(&b));
            barrier.wait();
            while shared.ok.load(Ordering::Relaxed) < 50 {
                std::thread::sleep(Duration::from_millis(1));
            }
            shared.phase.store(MEASURE, Ordering::Relaxed);
            // wait for replies received after the switch too: on a loaded machine the
            // worker may pass 300 before this thread wakes up to store MEASURE
            let measured_from = shared.ok.load(Ordering::Relaxed) + 30;
            while shared.ok.load(Ordering::Relaxed) < measured_from.max(300) {
                std::thread::sleep(Duration::from_millis(1));
            }
            shared.phase.store(STOP, Ordering::Relaxed);
            h.join().unwrap()
        });
        // the worker stopped, so the connections are closed once it is dropped
        let bodies = server.join().unwrap();
        assert!(stats.ok >= 300, "{stats:?}");
        assert_eq!(stats.ok, bodies.len() as u64, "every request got one reply");
        assert!(stats.errors.is_empty(), "{:?}", stats.errors);
        assert!(!stats.io_errors);
        assert!(!stats.latencies_us.is_empty());
        assert!((stats.latencies_us.len() as u64) < stats.ok);
        assert!(bodies
            .iter()
            .all(|b| b.starts_with("UPDATE __bench.accounts")));
        assert_eq!(shared.ok.load(Ordering::Relaxed), stats.ok);
    }
}
