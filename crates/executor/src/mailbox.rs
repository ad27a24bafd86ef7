//! Node replies delivered to a frontend thread in batches.
//!
//! A compute node answers each transaction's work with a callback. Completing a tokio channel
//! from the node thread wakes the frontend's runtime through its event fd: one `write`
//! system call per reply, and one more pass through `epoll_wait` on the frontend. A frontend
//! thread that installs a [`Mailbox`] (see [`install`] and [`hooks`]) instead has its
//! replies queued; it takes them all just before its runtime would park (the runtime's park
//! hook), where completing the channels wakes the waiting requests locally, at no system call.
//! A node that posts a reply to a frontend which is parked, or about to be, wakes it once;
//! further replies before it runs add no wake-up.
//!
//! The two sides follow the usual store-then-check protocol: the frontend marks itself parked
//! and then looks at the queue; a node adds to the queue and then looks at the mark. Either
//! the frontend sees the reply, or the node sees the mark and wakes it (sometimes both, which
//! costs a spurious wake-up, never a lost one).
//!
//! Threads without a mailbox (tests, benches, other runtimes) complete the channel directly.

use std::cell::RefCell;
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::Arc;

use amelie_node::{BatchError, BatchReply};
use tokio::sync::{oneshot, Notify};

/// One node's answer to one transaction's work.
pub type NodeResult = std::result::Result<BatchReply, BatchError>;

/// Replies waiting for one frontend thread.
pub struct Mailbox {
    queue: parking_lot::Mutex<Vec<(oneshot::Sender<NodeResult>, NodeResult)>>,
    /// The frontend is parked or about to park.
    parked: AtomicBool,
    /// Wakes the frontend's delivery task (see [`serve`]).
    wake: Notify,
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<Mailbox>>> = const { RefCell::new(None) };
    static LOAD: RefCell<Load> = RefCell::new(Load::new());
}

/// How busy this frontend thread is, from the time between its runtime's parks. While it is
/// nearly always busy it is the bottleneck, and short node work goes to the node threads
/// (they run it in parallel); otherwise the frontend runs it in place, saving the node's
/// wake-up (see `NodeHandle::run_or_wake`).
struct Load {
    mark: std::time::Instant,
    busy: std::time::Duration,
    idle: std::time::Duration,
    offload: bool,
    /// Node work sent since the runtime last parked: a runtime that always has ready tasks
    /// never parks, and is saturated after [`SATURATED_AFTER`] of them.
    since_park: u32,
}

/// Transactions' node work sent without the runtime parking once, after which the frontend
/// counts as saturated (until its next measured window says otherwise).
const SATURATED_AFTER: u32 = 512;

/// Length of one measurement window.
const LOAD_WINDOW: std::time::Duration = std::time::Duration::from_millis(20);
/// Busy share (percent) above which short node work is sent to the node threads ...
const OFFLOAD_ABOVE: u128 = 85;
/// ... and below which the frontend runs it in place again.
const INLINE_BELOW: u128 = 65;

impl Load {
    fn new() -> Load {
        Load {
            mark: std::time::Instant::now(),
            busy: std::time::Duration::ZERO,
            idle: std::time::Duration::ZERO,
            offload: false,
            since_park: 0,
        }
    }

    /// See [`run_in_place`].
    fn in_place(&mut self) -> bool {
        self.since_park = self.since_park.saturating_add(1);
        if self.since_park > SATURATED_AFTER {
            self.offload = true;
        }
        !self.offload
    }

    /// The thread starts to sleep (`busy`: it was busy until now) or wakes up.
    fn switch(&mut self, busy: bool) {
        self.switch_at(std::time::Instant::now(), busy);
    }

    fn switch_at(&mut self, now: std::time::Instant, busy: bool) {
        self.since_park = 0;
        let d = now.saturating_duration_since(self.mark);
        self.mark = now;
        if busy {
            self.busy += d;
        } else {
            self.idle += d;
        }
        let total = self.busy + self.idle;
        if total >= LOAD_WINDOW {
            let share = self.busy.as_nanos() * 100 / total.as_nanos().max(1);
            self.offload = if self.offload {
                share >= INLINE_BELOW
            } else {
                share > OFFLOAD_ABOVE
            };
            self.busy = std::time::Duration::ZERO;
            self.idle = std::time::Duration::ZERO;
        }
    }
}

/// Whether this thread should run short node work in place rather than wake a node thread:
/// yes unless it is a frontend that is nearly always busy.
pub fn run_in_place() -> bool {
    LOAD.with(|l| l.borrow_mut().in_place())
}

impl Mailbox {
    /// Queues a reply; wakes the frontend if it parked. On the frontend's own thread (node
    /// work it ran in place) the reply is completed at once.
    pub fn post(&self, to: oneshot::Sender<NodeResult>, result: NodeResult) {
        let here = CURRENT.with(|c| {
            c.borrow()
                .as_ref()
                .is_some_and(|m| std::ptr::eq(Arc::as_ptr(m), self))
        });
        if here {
            let _ = to.send(result);
            return;
        }
        self.queue.lock().push((to, result));
        fence(Ordering::SeqCst);
        if self.parked.load(Ordering::Relaxed) && self.parked.swap(false, Ordering::SeqCst) {
            self.wake.notify_one();
        }
    }

    /// Completes every queued reply (on the frontend thread). Returns how many.
    fn deliver(&self) -> usize {
        let batch = {
            let mut q = self.queue.lock();
            if q.is_empty() {
                return 0;
            }
            let cap = q.capacity();
            std::mem::replace(&mut *q, Vec::with_capacity(cap))
        };
        let n = batch.len();
        for (to, result) in batch {
            let _ = to.send(result);
        }
        n
    }
}

/// Gives the current thread a mailbox (a frontend thread, before its runtime runs). The
/// runtime must be built with [`hooks`] and run [`serve`].
pub fn install() -> Arc<Mailbox> {
    let mb = Arc::new(Mailbox {
        queue: parking_lot::Mutex::new(Vec::with_capacity(64)),
        parked: AtomicBool::new(false),
        wake: Notify::new(),
    });
    CURRENT.with(|c| *c.borrow_mut() = Some(mb.clone()));
    mb
}

/// The current thread's mailbox, if it has one.
pub fn current() -> Option<Arc<Mailbox>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Adds the park hooks that deliver queued replies to a single-threaded runtime's builder.
pub fn hooks(builder: &mut tokio::runtime::Builder) -> &mut tokio::runtime::Builder {
    builder
        .on_thread_park(before_park)
        .on_thread_unpark(after_unpark)
}

fn before_park() {
    LOAD.with(|l| l.borrow_mut().switch(true));
    CURRENT.with(|c| {
        if let Some(mb) = c.borrow().as_ref() {
            mb.parked.store(true, Ordering::SeqCst);
            fence(Ordering::SeqCst);
            mb.deliver();
        }
    });
}

fn after_unpark() {
    LOAD.with(|l| l.borrow_mut().switch(false));
    CURRENT.with(|c| {
        if let Some(mb) = c.borrow().as_ref() {
            mb.parked.store(false, Ordering::Relaxed);
        }
    });
}

/// The delivery task of a frontend runtime: runs whenever a node woke a parked frontend.
pub async fn serve(mb: Arc<Mailbox>) {
    loop {
        mb.wake.notified().await;
        mb.deliver();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A frontend busy nearly all the time sends short node work to the node threads; it
    /// runs it in place again only once it is clearly less busy (no flapping in between).
    #[test]
    fn load_switches_with_hysteresis() {
        let mut l = Load::new();
        let mut t = l.mark;
        let mut window = |l: &mut Load, busy_ms: u64, idle_ms: u64| {
            t += Duration::from_millis(busy_ms);
            l.switch_at(t, true);
            t += Duration::from_millis(idle_ms);
            l.switch_at(t, false);
        };
        window(&mut l, 10, 10);
        assert!(!l.offload, "50% busy runs in place");
        window(&mut l, 19, 1);
        assert!(l.offload, "95% busy offloads");
        window(&mut l, 15, 5);
        assert!(l.offload, "75% busy keeps offloading");
        window(&mut l, 12, 8);
        assert!(!l.offload, "60% busy runs in place again");
        window(&mut l, 16, 4);
        assert!(!l.offload, "80% busy keeps running in place");
        // a runtime that never parks is saturated
        assert!((0..SATURATED_AFTER).all(|_| l.in_place()));
        assert!(
            !l.in_place(),
            "no park for {SATURATED_AFTER} transactions offloads"
        );
        window(&mut l, 10, 10);
        assert!(!l.offload, "a measured 50% runs in place again");
        assert!(l.in_place());
    }

    /// Node work run in place on the frontend thread answers without the queue: the
    /// waiting request sees its reply at once.
    #[test]
    fn a_reply_posted_on_the_frontend_thread_is_delivered_at_once() {
        let mb = install();
        let (s, mut r) = oneshot::channel();
        mb.post(s, reply());
        assert!(r.try_recv().is_ok());
        assert!(mb.queue.lock().is_empty());
        CURRENT.with(|c| *c.borrow_mut() = None);
    }

    fn reply() -> NodeResult {
        Ok(BatchReply::default())
    }

    /// A reply posted from another thread while the runtime is parked wakes it; replies
    /// posted while it runs are delivered before it parks again.
    #[test]
    fn replies_reach_a_parked_and_a_busy_frontend() {
        let mut b = tokio::runtime::Builder::new_current_thread();
        b.enable_all();
        hooks(&mut b);
        let rt = b.build().unwrap();
        let mb = install();
        rt.spawn(serve(mb.clone()));
        rt.block_on(async {
            // parked: the node thread posts after the frontend went to sleep
            for _ in 0..50 {
                let (s, r) = oneshot::channel();
                let m = mb.clone();
                let t = std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(1));
                    m.post(s, reply());
                });
                tokio::time::timeout(Duration::from_secs(5), r)
                    .await
                    .expect("a parked frontend must be woken")
                    .unwrap()
                    .unwrap();
                t.join().unwrap();
            }
            // busy: many posts race the frontend's park
            let mut waits = Vec::new();
            let mut threads = Vec::new();
            for _ in 0..4 {
                let mut sends = Vec::new();
                for _ in 0..500 {
                    let (s, r) = oneshot::channel();
                    sends.push(s);
                    waits.push(r);
                }
                let m = mb.clone();
                threads.push(std::thread::spawn(move || {
                    for s in sends {
                        m.post(s, reply());
                    }
                }));
            }
            for w in waits {
                tokio::time::timeout(Duration::from_secs(5), w)
                    .await
                    .expect("no reply may be lost")
                    .unwrap()
                    .unwrap();
            }
            for t in threads {
                t.join().unwrap();
            }
        });
    }

    /// Without a mailbox nothing is installed for the thread.
    #[test]
    fn other_threads_have_none() {
        std::thread::spawn(|| assert!(current().is_none()))
            .join()
            .unwrap();
    }
}
