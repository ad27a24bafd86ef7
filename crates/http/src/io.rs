//! The connection's IO object: a `TcpStream` that counts bytes and arms the header timeout.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::HttpStats;

/// State shared by a connection's IO object, its request handler and its driver task.
#[derive(Debug)]
pub(crate) struct ConnState {
    /// A request is being handled (between its head being parsed and its reply being built).
    busy: AtomicBool,
    /// Bytes of a new request head arrived: it must be complete by then.
    header_deadline: Mutex<Option<Instant>>,
    header_timeout: Duration,
    /// The reply closes the connection with request bytes possibly left unread: close
    /// lingering so the client gets the reply instead of a reset.
    linger: AtomicBool,
}

impl ConnState {
    pub(crate) fn new(header_timeout: Duration) -> Self {
        ConnState {
            busy: AtomicBool::new(false),
            header_deadline: Mutex::new(None),
            header_timeout,
            linger: AtomicBool::new(false),
        }
    }

    pub(crate) fn header_deadline(&self) -> Option<Instant> {
        *self.lock()
    }

    pub(crate) fn header_timeout(&self) -> Duration {
        self.header_timeout
    }

    /// A request head was parsed: stop the header timer until the reply is built.
    pub(crate) fn begin_request(&self) {
        self.busy.store(true, Ordering::Relaxed);
        *self.lock() = None;
    }

    pub(crate) fn end_request(&self) {
        self.busy.store(false, Ordering::Relaxed);
    }

    pub(crate) fn set_linger(&self) {
        self.linger.store(true, Ordering::Relaxed);
    }

    pub(crate) fn linger(&self) -> bool {
        self.linger.load(Ordering::Relaxed)
    }

    fn on_read(&self) {
        if self.busy.load(Ordering::Relaxed) {
            return;
        }
        let mut deadline = self.lock();
        if deadline.is_none() {
            *deadline = Some(Instant::now() + self.header_timeout);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.header_deadline
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// `TcpStream` wrapper feeding [`HttpStats`] and [`ConnState`].
pub(crate) struct CountingIo {
    pub(crate) inner: TcpStream,
    pub(crate) stats: Arc<HttpStats>,
    pub(crate) state: Arc<ConnState>,
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
            this.state.on_read();
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
        let this = self.get_mut();
        let res = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = res {
            this.stats.add_sent(n as u64);
        }
        res
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let res = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = res {
            this.stats.add_sent(n as u64);
        }
        res
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
