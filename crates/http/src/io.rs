//! The connection's IO object: a TCP or unix stream that counts bytes and arms the header timeout;
//! the connection state its timers read; the registry of open connections behind the
//! connection cap.

use amelie_common::FastMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::Notify;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

use crate::net::Stream;
use crate::HttpStats;

/// State shared by a connection's IO object, its request handler and its driver task.
#[derive(Debug)]
pub(crate) struct ConnState {
    /// A request is being handled (between its head being parsed and its reply being built).
    busy: AtomicBool,
    timers: Mutex<Timers>,
    header_timeout: Duration,
    /// 0: idle connections are never closed.
    idle_timeout: Duration,
    /// The reply closes the connection with request bytes possibly left unread: close
    /// lingering so the client gets the reply instead of a reset.
    linger: AtomicBool,
    /// Chosen to be closed to make room for a new connection (see [`Registry::admit`]).
    evicted: AtomicBool,
    evict: Notify,
    /// Requests, bytes read and bytes written on this connection (for its log line).
    requests: AtomicU64,
    recv: AtomicU64,
    sent: AtomicU64,
}

#[derive(Debug)]
struct Timers {
    /// Bytes of a new request head arrived: it must be complete by then.
    header_deadline: Option<Instant>,
    /// When the connection last became idle (accepted, or its last request handled).
    idle_since: Instant,
}

/// What a connection waits for when its timer fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Deadline {
    /// A started request head must be complete.
    Header,
    /// No request for `idle_timeout`: close.
    Idle,
}

impl ConnState {
    pub(crate) fn new(header_timeout: Duration, idle_timeout: Duration) -> Self {
        ConnState {
            busy: AtomicBool::new(false),
            timers: Mutex::new(Timers {
                header_deadline: None,
                idle_since: Instant::now(),
            }),
            header_timeout,
            idle_timeout,
            linger: AtomicBool::new(false),
            evicted: AtomicBool::new(false),
            evict: Notify::new(),
            requests: AtomicU64::new(0),
            recv: AtomicU64::new(0),
            sent: AtomicU64::new(0),
        }
    }

    /// `(requests, bytes read, bytes written)` on this connection so far.
    pub(crate) fn counts(&self) -> (u64, u64, u64) {
        (
            self.requests.load(Ordering::Relaxed),
            self.recv.load(Ordering::Relaxed),
            self.sent.load(Ordering::Relaxed),
        )
    }

    fn add_sent(&self, n: usize) {
        self.sent.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// The next time the connection must act: a request head under way must be complete,
    /// or an idle connection closes. `None` while a request is handled.
    pub(crate) fn deadline(&self) -> Option<(Instant, Deadline)> {
        let t = self.lock();
        if let Some(d) = t.header_deadline {
            return Some((d, Deadline::Header));
        }
        if self.busy.load(Ordering::Relaxed) || self.idle_timeout.is_zero() {
            return None;
        }
        Some((t.idle_since + self.idle_timeout, Deadline::Idle))
    }

    /// A request head was parsed: stop the header timer until the reply is built.
    pub(crate) fn begin_request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.busy.store(true, Ordering::Relaxed);
        self.lock().header_deadline = None;
    }

    pub(crate) fn end_request(&self) {
        self.lock().idle_since = Instant::now();
        self.busy.store(false, Ordering::Relaxed);
    }

    /// Idle (no request being handled) since when; `None` while busy.
    fn idle_since(&self) -> Option<Instant> {
        if self.busy.load(Ordering::Relaxed) {
            return None;
        }
        Some(self.lock().idle_since)
    }

    /// Resolves once the connection was chosen to be closed for a new one.
    pub(crate) fn evicted(&self) -> tokio::sync::futures::Notified<'_> {
        self.evict.notified()
    }

    pub(crate) fn set_linger(&self) {
        self.linger.store(true, Ordering::Relaxed);
    }

    pub(crate) fn linger(&self) -> bool {
        self.linger.load(Ordering::Relaxed)
    }

    fn on_read(&self, n: usize) {
        self.recv.fetch_add(n as u64, Ordering::Relaxed);
        if self.busy.load(Ordering::Relaxed) {
            return;
        }
        let mut t = self.lock();
        if t.header_deadline.is_none() {
            t.header_deadline = Some(Instant::now() + self.header_timeout);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Timers> {
        self.timers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The open connections of a server (all frontends), for the connection cap.
///
/// At the cap a new connection makes room by closing the connection that has been idle the
/// longest (no request being handled; a request head under way counts as idle); when every
/// connection is handling a request, the new one is refused. Only opening and closing a
/// connection touch the registry, not requests.
#[derive(Debug, Default)]
pub struct Registry {
    inner: Mutex<RegistryInner>,
}

#[derive(Debug, Default)]
struct RegistryInner {
    next: u64,
    conns: FastMap<u64, Arc<ConnState>>,
    /// Registered connections already told to close.
    evicting: usize,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, RegistryInner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a new connection when there is room (`cap` 0: no cap), closing the longest
    /// idle one at the cap. `None`: refused, every connection is busy.
    pub(crate) fn admit(&self, state: &Arc<ConnState>, cap: usize) -> Option<u64> {
        let mut inner = self.lock();
        if cap > 0 && inner.conns.len() - inner.evicting >= cap {
            let victim = inner
                .conns
                .values()
                .filter(|c| !c.evicted.load(Ordering::Relaxed))
                .filter_map(|c| c.idle_since().map(|t| (t, c)))
                .min_by_key(|(t, _)| *t)
                .map(|(_, c)| Arc::clone(c))?;
            victim.evicted.store(true, Ordering::Relaxed);
            victim.evict.notify_one();
            inner.evicting += 1;
        }
        let key = inner.next;
        inner.next += 1;
        inner.conns.insert(key, Arc::clone(state));
        Some(key)
    }

    /// The connection of `key` closed.
    pub(crate) fn remove(&self, key: u64) {
        let mut inner = self.lock();
        if let Some(c) = inner.conns.remove(&key) {
            if c.evicted.load(Ordering::Relaxed) {
                inner.evicting -= 1;
            }
        }
    }

    /// Open connections (including those closing to make room).
    pub fn len(&self) -> usize {
        self.lock().conns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The replies hyper writes by itself, with an empty body, when it cannot parse a request
/// head (`Server::on_error` in hyper's `proto/h1/role.rs`; we turn its date header off), and
/// the error text our 400 carries instead. hyper closes the connection after them.
const AUTOMATIC_REPLIES: [(&[u8], &str); 3] = [
    (
        b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
        crate::MSG_MALFORMED,
    ),
    (
        b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
        crate::MSG_HEADER_LIMIT,
    ),
    (
        b"HTTP/1.1 414 URI Too Long\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
        crate::MSG_URI_TOO_LONG,
    ),
];

/// When the write `bufs` ends with one of hyper's own error replies, the bytes to send
/// instead: what came before it, then our 400 with a `{"msg"}` body. Our handler never
/// builds a reply without a body for these statuses, so the match is hyper's.
fn rewrite_automatic(bufs: &[io::IoSlice<'_>]) -> Option<Replaced> {
    let last = bufs.iter().rev().find(|b| !b.is_empty())?;
    if !last.ends_with(b"content-length: 0\r\n\r\n") {
        return None;
    }
    let (pattern, msg) = AUTOMATIC_REPLIES
        .iter()
        .find(|(pattern, _)| last.ends_with(pattern))?;
    let total: usize = bufs.iter().map(|b| b.len()).sum();
    let mut out = Vec::with_capacity(total + 128);
    for b in bufs {
        out.extend_from_slice(b);
    }
    out.truncate(total - pattern.len());
    out.extend_from_slice(&crate::reply::raw_error_close(msg));
    Some(Replaced {
        bytes: out,
        sent: 0,
        reported: total,
    })
}

/// Bytes sent in place of a write hyper made (see [`rewrite_automatic`]).
struct Replaced {
    bytes: Vec<u8>,
    sent: usize,
    /// The length of hyper's write, reported to hyper once `bytes` are all sent.
    reported: usize,
}

/// Stream wrapper feeding [`HttpStats`] and [`ConnState`]; it also gives hyper's own
/// error replies a `{"msg"}` body.
pub(crate) struct CountingIo {
    pub(crate) inner: Stream,
    pub(crate) stats: Arc<HttpStats>,
    pub(crate) state: Arc<ConnState>,
    replaced: Option<Replaced>,
}

impl CountingIo {
    pub(crate) fn new(inner: Stream, stats: Arc<HttpStats>, state: Arc<ConnState>) -> Self {
        CountingIo {
            inner,
            stats,
            state,
            replaced: None,
        }
    }

    /// Sends what is left of a replaced write; `Ready(Ok(n))` with hyper's length once done.
    fn poll_replaced(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let Some(r) = self.replaced.as_mut() else {
            return Poll::Ready(Ok(0));
        };
        while r.sent < r.bytes.len() {
            match Pin::new(&mut self.inner).poll_write(cx, &r.bytes[r.sent..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    r.sent += n;
                    self.stats.add_sent(n as u64);
                    self.state.add_sent(n);
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        let reported = r.reported;
        self.replaced = None;
        Poll::Ready(Ok(reported))
    }

    /// A write of `bufs`: replaced when it carries one of hyper's own error replies.
    fn poll_write_bufs(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.replaced.is_none() {
            self.replaced = rewrite_automatic(bufs);
        }
        if self.replaced.is_some() {
            // hyper repeats the same write after a Pending
            return self.poll_replaced(cx);
        }
        let res = if let [buf] = bufs {
            Pin::new(&mut self.inner).poll_write(cx, buf)
        } else {
            Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
        };
        if let Poll::Ready(Ok(n)) = res {
            self.stats.add_sent(n as u64);
            self.state.add_sent(n);
        }
        res
    }
}

impl AsyncRead for CountingIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let res = Pin::new(&mut this.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n > 0 {
            this.stats.add_recv(n as u64);
            this.state.on_read(n);
        }
        res
    }
}

impl AsyncWrite for CountingIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_write_bufs(cx, &[io::IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_write_bufs(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.poll_replaced(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.poll_replaced(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> Arc<ConnState> {
        Arc::new(ConnState::new(
            Duration::from_secs(30),
            Duration::from_secs(60),
        ))
    }

    fn evicted(c: &ConnState) -> bool {
        c.evicted.load(Ordering::Relaxed)
    }

    #[test]
    fn the_cap_closes_the_longest_idle_connection() {
        let reg = Registry::default();
        let tick = || std::thread::sleep(Duration::from_millis(2));
        let a = conn();
        let ka = reg.admit(&a, 2).unwrap();
        tick();
        let b = conn();
        reg.admit(&b, 2).unwrap();
        tick();
        // `a` handled a request since: `b` is now idle the longest
        a.begin_request();
        a.end_request();
        tick();
        let c = conn();
        reg.admit(&c, 2).unwrap();
        assert!(!evicted(&a) && evicted(&b) && !evicted(&c));
        // `b` is on its way out and does not count; the next one makes `a` go (idle since
        // before `c` was accepted)
        tick();
        let d = conn();
        reg.admit(&d, 2).unwrap();
        assert!(evicted(&a) && !evicted(&c));
        assert_eq!(reg.len(), 4);
        reg.remove(ka);
        assert_eq!(reg.len(), 3);
    }

    #[test]
    fn at_the_cap_busy_connections_stay_and_the_new_one_is_refused() {
        let reg = Registry::default();
        let (a, b) = (conn(), conn());
        reg.admit(&a, 2).unwrap();
        reg.admit(&b, 2).unwrap();
        a.begin_request();
        b.begin_request();
        assert_eq!(reg.admit(&conn(), 2), None);
        assert!(!evicted(&a) && !evicted(&b));
        // a connection that finished its request can make room again
        b.end_request();
        assert!(reg.admit(&conn(), 2).is_some());
        assert!(evicted(&b) && !evicted(&a));
        // without a cap everyone gets in and nobody is closed
        let e = conn();
        assert!(reg.admit(&e, 0).is_some());
        assert!(!evicted(&a) && !evicted(&e));
    }

    fn rewrite(bufs: &[&[u8]]) -> Option<String> {
        let slices: Vec<io::IoSlice<'_>> = bufs.iter().map(|b| io::IoSlice::new(b)).collect();
        rewrite_automatic(&slices).map(|r| {
            assert_eq!(r.reported, bufs.iter().map(|b| b.len()).sum::<usize>());
            String::from_utf8(r.bytes).unwrap()
        })
    }

    #[test]
    fn hypers_own_error_replies_get_a_json_body() {
        let ours = |msg| String::from_utf8(crate::reply::raw_error_close(msg)).unwrap();
        for (pattern, msg) in AUTOMATIC_REPLIES {
            assert_eq!(rewrite(&[pattern]), Some(ours(msg)));
        }
        // after an earlier reply in the same write, in one slice or two
        let bad = AUTOMATIC_REPLIES[0].0;
        let earlier: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi";
        let joined = [earlier, bad].concat();
        let expect = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi{}",
            ours(crate::MSG_MALFORMED)
        );
        assert_eq!(rewrite(&[&joined]), Some(expect.clone()));
        assert_eq!(rewrite(&[earlier, bad, b""]), Some(expect));
        // anything else goes out as it is
        let error = crate::reply::raw_error_close("x");
        assert_eq!(rewrite(&[&error]), None);
        assert_eq!(rewrite(&[b"HTTP/1.1 204 No Content\r\n\r\n"]), None);
        assert_eq!(rewrite(&[earlier, &bad[..bad.len() - 1]]), None);
        assert_eq!(rewrite(&[]), None);
    }

    #[test]
    fn deadlines() {
        let c = conn();
        assert!(matches!(c.deadline(), Some((_, Deadline::Idle))));
        c.on_read(1);
        assert!(matches!(c.deadline(), Some((_, Deadline::Header))));
        c.begin_request();
        assert_eq!(c.deadline(), None);
        c.end_request();
        assert!(matches!(c.deadline(), Some((_, Deadline::Idle))));
        let never = ConnState::new(Duration::from_secs(1), Duration::ZERO);
        assert_eq!(never.deadline(), None);
    }

    #[test]
    fn a_connection_counts_its_requests_and_bytes() {
        let c = conn();
        assert_eq!(c.counts(), (0, 0, 0));
        c.on_read(100);
        c.begin_request();
        c.add_sent(40);
        c.end_request();
        c.on_read(5);
        c.begin_request();
        c.add_sent(2);
        assert_eq!(c.counts(), (2, 105, 42));
    }
}
