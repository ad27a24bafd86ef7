//! Resource governance of one request: its memory budget, its time limit, and cancellation.
//!
//! A [`Governor`] is made per request and shared by the frontend that coordinates it and the
//! compute nodes that run its node code. Work that can grow or run long checks it at points
//! where stopping is cheap: the coordinator between ops (it also yields to the other requests
//! of its frontend there), the nodes every [`CHECK_EVERY`] rows of a scan, an insert or a loop.
//! Row sets, outputs and changes are measured against the memory budget as they grow. The
//! first check that fails ends the request with an error; its transaction is rolled back like
//! any failed one.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::json::Json;
use crate::{Error, Result, Value};

/// Rows (or ops) between two checks of a running loop.
pub const CHECK_EVERY: usize = 1024;

/// Error text of an exhausted memory budget.
pub const MEMORY_LIMIT: &str = "request memory limit reached";
/// Error text of an exceeded time limit.
pub const TIME_LIMIT: &str = "request time limit reached";
/// Error text of a request whose client went away.
pub const CANCELLED: &str = "request cancelled";
/// Error text of a request refused more memory because all requests together hold the
/// server's whole budget ([`MemoryPool`]).
pub const SERVER_MEMORY_LIMIT: &str = "server memory limit reached";

/// Largest string a function or operator may build (64 MiB): a few nested calls cannot
/// build gigabytes before the memory budget sees them.
pub const MAX_STRING: usize = 64 << 20;

/// Error text of a string past [`MAX_STRING`].
pub const STRING_LIMIT: &str = "string size limit reached";

/// Fails when a string of `len` bytes would be past [`MAX_STRING`].
pub fn check_string(len: usize) -> Result<()> {
    if len > MAX_STRING {
        return Err(Error::limit_reached(STRING_LIMIT));
    }
    Ok(())
}

/// Error text of a JSON value a function would build past [`MAX_STRING`] bytes.
pub const JSON_LIMIT: &str = "json size limit reached";

/// Fails when a JSON value built from `parts` (array elements, object values, the array a
/// function extends) would hold more than [`MAX_STRING`] bytes: checked before building, so
/// `[j, j, j, ...]` over a large `j` cannot make gigabytes from a few bytes of SQL.
pub fn check_json_parts(parts: &[Value]) -> Result<()> {
    let mut n = 0usize;
    for v in parts {
        n += value_heap_bytes(v);
        if n > MAX_STRING {
            return Err(Error::limit_reached(JSON_LIMIT));
        }
    }
    Ok(())
}

/// Why a request was stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    Memory,
    ServerMemory,
    Time,
    Cancelled,
}

impl Stop {
    pub fn error(self) -> Error {
        match self {
            Stop::Memory => Error::limit_reached(MEMORY_LIMIT),
            Stop::ServerMemory => Error::limit_reached(SERVER_MEMORY_LIMIT),
            Stop::Time => Error::limit_reached(TIME_LIMIT),
            Stop::Cancelled => Error::new(CANCELLED),
        }
    }
}

/// Bytes each part of a request keeps without reserving them from the [`MemoryPool`].
pub const POOL_FREE: usize = 1 << 20;

/// The memory all running requests may hold together (`limit_memory_total`).
///
/// Each request reserves from the pool the high-water mark of what its parts keep and gives
/// it all back when it ends (its [`Governor`] is dropped), so a crowd of requests that each
/// stay within `limit_memory` still cannot take the machine's memory.
#[derive(Debug, Default)]
pub struct MemoryPool {
    used: AtomicUsize,
    /// Bytes all requests may hold together (0: no limit).
    limit: AtomicUsize,
}

impl MemoryPool {
    pub fn new(limit: u64) -> MemoryPool {
        let pool = MemoryPool::default();
        pool.set_limit(limit);
        pool
    }

    pub fn set_limit(&self, limit: u64) {
        self.limit.store(
            usize::try_from(limit).unwrap_or(usize::MAX),
            Ordering::Relaxed,
        );
    }

    /// Bytes reserved by the running requests.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Reserves `bytes` more; fails (reserving nothing) past the limit.
    fn reserve(&self, bytes: usize) -> Result<()> {
        let limit = self.limit.load(Ordering::Relaxed);
        let before = self.used.fetch_add(bytes, Ordering::Relaxed);
        if limit != 0 && before.saturating_add(bytes) > limit {
            self.used.fetch_sub(bytes, Ordering::Relaxed);
            return Err(Stop::ServerMemory.error());
        }
        Ok(())
    }

    fn release(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// A reservation of nothing yet, for memory held outside a [`Governor`] (a request body
    /// while it is read and run); grow it with [`Reservation::grow_to`].
    pub fn reservation(self: &Arc<Self>) -> Reservation {
        Reservation {
            pool: Arc::clone(self),
            bytes: 0,
        }
    }
}

/// Bytes reserved from a [`MemoryPool`], given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    pool: Arc<MemoryPool>,
    bytes: usize,
}

impl Reservation {
    /// Reserves up to `bytes` in all; fails (keeping what it had) past the pool's limit with
    /// [`SERVER_MEMORY_LIMIT`].
    pub fn grow_to(&mut self, bytes: usize) -> Result<()> {
        if bytes > self.bytes {
            self.pool.reserve(bytes - self.bytes)?;
            self.bytes = bytes;
        }
        Ok(())
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.pool.release(self.bytes);
    }
}

/// The limits of one request (see the module documentation).
#[derive(Debug)]
pub struct Governor {
    cancelled: AtomicBool,
    deadline: Option<Instant>,
    /// Bytes the request may keep (0: no limit).
    limit: usize,
    /// The server-wide budget, and what this request has reserved from it.
    pool: Option<Arc<MemoryPool>>,
    reserved: AtomicUsize,
}

impl Drop for Governor {
    fn drop(&mut self) {
        if let Some(pool) = &self.pool {
            pool.release(*self.reserved.get_mut());
        }
    }
}

impl Default for Governor {
    fn default() -> Self {
        Governor::unlimited()
    }
}

impl Governor {
    /// A request that may keep `memory` bytes (0: any) and run for `time` (None: any).
    pub fn new(memory: u64, time: Option<Duration>) -> Governor {
        Governor {
            cancelled: AtomicBool::new(false),
            deadline: time.and_then(|t| Instant::now().checked_add(t)),
            limit: usize::try_from(memory).unwrap_or(usize::MAX),
            pool: None,
            reserved: AtomicUsize::new(0),
        }
    }

    /// Also reserves what the request keeps from the server-wide `pool`.
    pub fn with_pool(mut self, pool: Arc<MemoryPool>) -> Governor {
        self.pool = Some(pool);
        self
    }

    pub fn unlimited() -> Governor {
        Governor::new(0, None)
    }

    /// The client went away: every later check fails.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    /// Fails once the request was cancelled or ran out of time.
    pub fn check(&self) -> Result<()> {
        match self.stopped() {
            Some(s) => Err(s.error()),
            None => Ok(()),
        }
    }

    /// Why the request must stop now, if it must (memory is reported by [`charge`]).
    ///
    /// [`charge`]: Governor::charge
    pub fn stopped(&self) -> Option<Stop> {
        if self.cancelled.load(Ordering::Relaxed) {
            return Some(Stop::Cancelled);
        }
        match self.deadline {
            Some(d) if Instant::now() >= d => Some(Stop::Time),
            _ => None,
        }
    }

    /// Fails if a part of the request (the coordinator's row sets, or one node's outputs and
    /// changes) would keep more than the budget. Each part checks its own bytes, so the
    /// request as a whole keeps at most its budget per thread it runs on. `held` is the part's
    /// high-water mark (start it at 0): growth past it is reserved from the server-wide pool,
    /// which fails once all requests together hold its limit.
    pub fn fit(&self, bytes: usize, held: &mut usize) -> Result<()> {
        if self.limit != 0 && bytes > self.limit {
            return Err(Stop::Memory.error());
        }
        // the first POOL_FREE bytes of a part are its own: small requests never depend on
        // what the heavy ones left in the pool
        let bytes = bytes.saturating_sub(POOL_FREE);
        if bytes > *held {
            if let Some(pool) = &self.pool {
                let more = bytes - *held;
                pool.reserve(more)?;
                self.reserved.fetch_add(more, Ordering::Relaxed);
            }
            *held = bytes;
        }
        Ok(())
    }

    /// Whether what the request keeps is worth measuring: it has a budget of its own or a
    /// server-wide one to reserve from.
    pub fn measures(&self) -> bool {
        self.limit != 0 || self.pool.is_some()
    }

    /// The memory budget (0: none).
    pub fn limit(&self) -> usize {
        self.limit
    }
}

/// Approximate bytes a row of `values` keeps in a row set (the values and their heap data).
pub fn row_bytes(values: &[Value]) -> usize {
    let mut n = 16 + std::mem::size_of_val(values);
    for v in values {
        n += value_heap_bytes(v);
    }
    n
}

/// Heap bytes owned by a value (JSON walked without recursion).
pub fn value_heap_bytes(v: &Value) -> usize {
    match v {
        Value::Str(s) => s.len(),
        Value::Vector(f) => f.len() * 4,
        Value::Json(j) => std::mem::size_of::<Json>() + json_heap_bytes(j),
        _ => 0,
    }
}

fn json_heap_bytes(root: &Json) -> usize {
    let mut n = 0;
    let mut stack = vec![root];
    while let Some(j) = stack.pop() {
        match j {
            Json::String(s) => n += s.capacity(),
            Json::Array(a) => {
                n += a.capacity() * std::mem::size_of::<Json>();
                stack.extend(a.iter());
            }
            Json::Object(o) => {
                n += o.capacity() * std::mem::size_of::<(String, Json)>();
                for (k, v) in o {
                    n += k.capacity();
                    stack.push(v);
                }
            }
            _ => {}
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_and_sizes_are_limits_except_a_cancel() {
        use crate::ErrorKind;
        for (stop, kind, msg) in [
            (Stop::Memory, ErrorKind::LimitReached, MEMORY_LIMIT),
            (
                Stop::ServerMemory,
                ErrorKind::LimitReached,
                SERVER_MEMORY_LIMIT,
            ),
            (Stop::Time, ErrorKind::LimitReached, TIME_LIMIT),
            (Stop::Cancelled, ErrorKind::Other, CANCELLED),
        ] {
            let e = stop.error();
            assert_eq!((e.kind(), e.msg()), (kind, msg));
        }
        let e = check_string(MAX_STRING + 1).unwrap_err();
        assert_eq!((e.kind(), e.msg()), (ErrorKind::LimitReached, STRING_LIMIT));
        assert!(check_string(MAX_STRING).is_ok());
    }

    #[test]
    fn the_budget_fails_once_exceeded() {
        let g = Governor::new(1000, None);
        let mut held = 0;
        g.fit(1000, &mut held).unwrap();
        assert_eq!(g.fit(1001, &mut held).unwrap_err().msg(), MEMORY_LIMIT);
        // no budget: anything goes
        Governor::unlimited().fit(usize::MAX, &mut 0).unwrap();
    }

    #[test]
    fn a_reservation_grows_within_the_pool_and_gives_back_on_drop() {
        let pool = Arc::new(MemoryPool::new(1000));
        let mut a = pool.reservation();
        a.grow_to(600).unwrap();
        a.grow_to(100).unwrap(); // never shrinks
        assert_eq!((a.bytes(), pool.used()), (600, 600));
        let mut b = pool.reservation();
        assert_eq!(b.grow_to(500).unwrap_err().msg(), SERVER_MEMORY_LIMIT);
        assert_eq!((b.bytes(), pool.used()), (0, 600));
        b.grow_to(400).unwrap();
        drop(a);
        assert_eq!(pool.used(), 400);
        drop(b);
        assert_eq!(pool.used(), 0);
    }

    #[test]
    fn requests_together_stay_within_the_pool() {
        const F: usize = POOL_FREE;
        let pool = Arc::new(MemoryPool::new(1000));
        let a = Governor::new((F + 800) as u64, None).with_pool(pool.clone());
        let b = Governor::new((F + 800) as u64, None).with_pool(pool.clone());
        let (mut ha, mut hb, mut hb2) = (0, 0, 0);
        // a part's first POOL_FREE bytes are not reserved
        a.fit(F, &mut ha).unwrap();
        assert_eq!(pool.used(), 0);
        a.fit(F + 300, &mut ha).unwrap();
        a.fit(F + 600, &mut ha).unwrap();
        // shrinking keeps the high-water reservation
        a.fit(F + 100, &mut ha).unwrap();
        assert_eq!(pool.used(), 600);
        // b's two parts: within its own budget, but not within what the pool has left
        b.fit(F + 300, &mut hb).unwrap();
        assert_eq!(
            b.fit(F + 200, &mut hb2).unwrap_err().msg(),
            SERVER_MEMORY_LIMIT
        );
        assert_eq!(pool.used(), 900);
        // small requests still run
        b.fit(F, &mut 0).unwrap();
        // a request gives everything back when it ends
        drop(a);
        assert_eq!(pool.used(), 300);
        b.fit(F + 700, &mut hb2).unwrap();
        drop(b);
        assert_eq!(pool.used(), 0);
        // 0: no server-wide limit
        pool.set_limit(0);
        let c = Governor::new(0, None).with_pool(pool.clone());
        c.fit(usize::MAX / 2, &mut 0).unwrap();
        drop(c);
        assert_eq!(pool.used(), 0);
    }

    #[test]
    fn cancel_and_deadline_stop_the_request() {
        let g = Governor::new(0, Some(Duration::from_secs(3600)));
        g.check().unwrap();
        g.cancel();
        assert_eq!(g.check().unwrap_err().msg(), CANCELLED);
        let g = Governor::new(0, Some(Duration::ZERO));
        assert_eq!(g.stopped(), Some(Stop::Time));
        assert_eq!(g.check().unwrap_err().msg(), TIME_LIMIT);
        // a time limit too far away to represent is no limit
        let g = Governor::new(0, Some(Duration::MAX));
        g.check().unwrap();
    }

    #[test]
    fn strings_have_a_ceiling() {
        check_string(MAX_STRING).unwrap();
        assert_eq!(
            check_string(MAX_STRING + 1).unwrap_err().msg(),
            STRING_LIMIT
        );
    }

    #[test]
    fn json_built_from_parts_has_a_ceiling() {
        let big = Value::str(&"x".repeat(MAX_STRING / 4));
        check_json_parts(&[big.clone(), big.clone(), Value::Int(1)]).unwrap();
        let parts = vec![big; 5];
        assert_eq!(check_json_parts(&parts).unwrap_err().msg(), JSON_LIMIT);
    }

    #[test]
    fn row_bytes_count_heap_data() {
        let small = row_bytes(&[Value::Int(1)]);
        let big = row_bytes(&[Value::str(&"x".repeat(1000))]);
        assert!(big >= small + 1000);
        let json = Value::Json(Box::new(Json::Array(vec![
            Json::String("y".repeat(500)),
            Json::Object(vec![("k".repeat(100), Json::Int(1))]),
        ])));
        assert!(value_heap_bytes(&json) >= 600);
    }
}
