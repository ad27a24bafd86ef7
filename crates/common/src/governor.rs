//! Resource governance of one request: its memory budget, its time limit, and cancellation.
//!
//! A [`Governor`] is made per request and shared by the frontend that coordinates it and the
//! compute nodes that run its node code. Work that can grow or run long checks it at points
//! where stopping is cheap: the coordinator between ops (it also yields to the other requests
//! of its frontend there), the nodes every [`CHECK_EVERY`] rows of a scan, an insert or a loop.
//! Row sets, outputs and changes are measured against the memory budget as they grow. The
//! first check that fails ends the request with an error; its transaction is rolled back like
//! any failed one.

use std::sync::atomic::{AtomicBool, Ordering};
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

/// Largest string a function or operator may build (64 MiB): a few nested calls cannot
/// build gigabytes before the memory budget sees them.
pub const MAX_STRING: usize = 64 << 20;

/// Error text of a string past [`MAX_STRING`].
pub const STRING_LIMIT: &str = "string size limit reached";

/// Fails when a string of `len` bytes would be past [`MAX_STRING`].
pub fn check_string(len: usize) -> Result<()> {
    if len > MAX_STRING {
        return Err(Error::new(STRING_LIMIT));
    }
    Ok(())
}

/// Why a request was stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    Memory,
    Time,
    Cancelled,
}

impl Stop {
    pub fn error(self) -> Error {
        Error::new(match self {
            Stop::Memory => MEMORY_LIMIT,
            Stop::Time => TIME_LIMIT,
            Stop::Cancelled => CANCELLED,
        })
    }
}

/// The limits of one request (see the module documentation).
#[derive(Debug)]
pub struct Governor {
    cancelled: AtomicBool,
    deadline: Option<Instant>,
    /// Bytes the request may keep (0: no limit).
    limit: usize,
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
        }
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
    /// request as a whole keeps at most its budget per thread it runs on.
    pub fn fit(&self, bytes: usize) -> Result<()> {
        if self.limit != 0 && bytes > self.limit {
            return Err(Stop::Memory.error());
        }
        Ok(())
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
    fn the_budget_fails_once_exceeded() {
        let g = Governor::new(1000, None);
        g.fit(1000).unwrap();
        assert_eq!(g.fit(1001).unwrap_err().msg(), MEMORY_LIMIT);
        // no budget: anything goes
        Governor::unlimited().fit(usize::MAX).unwrap();
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
