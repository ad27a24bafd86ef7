//! The fuzz loop: generate or mutate an input, write it to `<dir>/current`, run it under a
//! watchdog and a memory measure, keep failing inputs as `<dir>/<kind>-<hash>.bin`.

use crate::rng::Rng;
use crate::{alloc, Opts, Target};
use std::collections::BTreeSet;
use std::io::{Seek, SeekFrom, Write};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct RunOpts {
    pub opts: Opts,
    pub seconds: f64,
    pub seed: u64,
    /// Per-input time bound; past it the watchdog saves the input and aborts.
    pub timeout: Duration,
    /// Bytes one input may add to the peak of live memory.
    pub max_mem: usize,
    /// Where `current` and failing inputs go (`target/fuzz/<target>`).
    pub dir: PathBuf,
    /// Run the seeds as they are before anything else (off when a crashed runner is
    /// restarted: a seed that crashes would crash every restart).
    pub run_seeds: bool,
}

#[derive(Debug, Default)]
pub struct Stats {
    pub execs: u64,
    pub seconds: f64,
    pub failures: Vec<String>,
    pub slowest_ms: u64,
    pub peak_mib: usize,
}

/// The last panic's message and location (set by the hook installed by [`run`]).
static LAST_PANIC: Mutex<Option<(String, String)>> = Mutex::new(None);

fn install_hook() {
    std::panic::set_hook(Box::new(|info| {
        let msg = if let Some(s) = info.payload().downcast_ref::<&str>() {
            s.to_string()
        } else if let Some(s) = info.payload().downcast_ref::<String>() {
            s.clone()
        } else {
            "(non-string panic)".to_string()
        };
        let loc = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let thread = std::thread::current().name().unwrap_or("?").to_string();
        eprintln!(
            "fuzz: panic in thread '{thread}' at {loc}: {}",
            first_chars(&msg, 300)
        );
        if let Ok(mut p) = LAST_PANIC.lock() {
            p.get_or_insert((loc, msg));
        }
    }));
}

fn first_chars(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// FNV-1a, to name saved inputs.
pub fn hash(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

pub fn save(dir: &Path, kind: &str, data: &[u8]) -> PathBuf {
    let path = dir.join(format!("{kind}-{:016x}.bin", hash(data)));
    let _ = std::fs::write(&path, data);
    path
}

/// Runs the fuzz loop for `ro.seconds` on a thread with a 2 MiB stack (what the server's
/// frontend and node threads have).
pub fn run(target: Target, ro: RunOpts) -> Stats {
    install_hook();
    let _ = std::fs::create_dir_all(&ro.dir);
    // scratch directories (servers, wal repositories) of this run and of crashed earlier runs
    let tmp = ro.dir.join("tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    let _ = std::fs::create_dir_all(&tmp);
    crate::server::set_temp_base(tmp);
    let started_ms = Arc::new(AtomicU64::new(0)); // 0: no input running
    let epoch = Instant::now();
    {
        // the watchdog: an input running past the timeout is saved as a hang, then abort
        let started_ms = started_ms.clone();
        let dir = ro.dir.clone();
        let timeout = ro.timeout;
        std::thread::Builder::new()
            .name("fuzz-watchdog".into())
            .spawn(move || loop {
                std::thread::sleep(Duration::from_millis(100));
                let s = started_ms.load(Relaxed);
                if s != 0 && epoch.elapsed().as_millis() as u64 > s + timeout.as_millis() as u64 {
                    let data = std::fs::read(dir.join("current")).unwrap_or_default();
                    let path = save(&dir, "hang", &data);
                    eprintln!(
                        "fuzz: HANG target={} input ran over {:?}, saved {}",
                        target.name(),
                        timeout,
                        path.display()
                    );
                    std::process::abort();
                }
            })
            .expect("spawn the watchdog");
    }
    let worker = std::thread::Builder::new()
        .name("fuzz-worker".into())
        .stack_size(2 << 20)
        .spawn(move || fuzz_loop(target, &ro, &started_ms, epoch))
        .expect("spawn the fuzz worker");
    worker.join().unwrap_or_default()
}

fn fuzz_loop(target: Target, ro: &RunOpts, started_ms: &AtomicU64, epoch: Instant) -> Stats {
    let mut rng = Rng::new(ro.seed);
    let mut corpus = target.seeds(&ro.opts);
    let seeds = corpus.len();
    let mut current = std::fs::File::create(ro.dir.join("current")).expect("create current");
    let mut stats = Stats::default();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let start = Instant::now();
    let mut next_report = 60.0;
    eprintln!(
        "fuzz: target={} seed={} seeds={} max_depth={} max_len={}",
        target.name(),
        ro.seed,
        seeds,
        ro.opts.max_depth,
        ro.opts.max_len
    );
    // seeds run first, as they are
    let mut pending: Vec<Vec<u8>> = if ro.run_seeds {
        corpus.iter().rev().cloned().collect()
    } else {
        Vec::new()
    };
    loop {
        let elapsed = start.elapsed().as_secs_f64();
        if elapsed >= ro.seconds {
            break;
        }
        if elapsed >= next_report {
            eprintln!(
                "fuzz: target={} {:.0} s execs={} ({:.0}/s) failures={} scratch_servers={}",
                target.name(),
                elapsed,
                stats.execs,
                stats.execs as f64 / elapsed,
                stats.failures.len(),
                crate::targets::SCRATCH_STARTS.load(std::sync::atomic::Ordering::Relaxed)
            );
            next_report += 60.0;
        }
        let generated;
        let input = if let Some(s) = pending.pop() {
            generated = false;
            s
        } else if corpus.is_empty() || (target != crate::Target::Wal && rng.one_in(3)) {
            generated = true;
            target.generate(&mut rng, &ro.opts)
        } else {
            generated = false;
            let a = rng.below(corpus.len());
            let b = rng.below(corpus.len());
            target.mutate(&mut rng, &corpus[a], &corpus[b], &ro.opts)
        };
        // the input is on disk before it runs: a crash that kills the process keeps it
        let _ = current.seek(SeekFrom::Start(0));
        let _ = current.write_all(&input);
        let _ = current.set_len(input.len() as u64);
        if let Ok(mut p) = LAST_PANIC.lock() {
            *p = None;
        }
        let base = alloc::live();
        alloc::reset_peak();
        let t0 = Instant::now();
        started_ms.store((epoch.elapsed().as_millis() as u64).max(1), Relaxed);
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| target.run(&input)));
        started_ms.store(0, Relaxed);
        let took = t0.elapsed();
        let grew = alloc::peak().saturating_sub(base);
        stats.execs += 1;
        stats.slowest_ms = stats.slowest_ms.max(took.as_millis() as u64);
        stats.peak_mib = stats.peak_mib.max(grew >> 20);
        // a panic on another thread (the in-process server) counts as well
        let panicked = LAST_PANIC.lock().ok().and_then(|p| p.clone());
        let failure = match (result, panicked) {
            (Err(_), Some((loc, msg))) | (Ok(()), Some((loc, msg))) => {
                Some((format!("panic at {loc}"), first_chars(&msg, 300)))
            }
            (Err(_), None) => Some(("panic".to_string(), String::new())),
            (Ok(()), None) if grew > ro.max_mem => Some((
                "memory".to_string(),
                format!("one input grew live memory by {} MiB", grew >> 20),
            )),
            _ => None,
        };
        if let Some((what, msg)) = failure {
            let kind = if what == "memory" { "memory" } else { "panic" };
            if seen.insert(what.clone()) {
                let path = save(&ro.dir, kind, &input);
                eprintln!(
                    "fuzz: FAIL target={} {what}: {msg}\nfuzz:   input saved as {}",
                    target.name(),
                    path.display()
                );
                stats
                    .failures
                    .push(format!("{what}: {msg} ({})", path.display()));
            }
            continue;
        }
        if generated && corpus.len() < 5000 && rng.one_in(10) {
            corpus.push(input);
        }
    }
    stats.seconds = start.elapsed().as_secs_f64();
    stats
}

/// Runs saved inputs once each (on a 2 MiB stack); returns the failures.
pub fn replay(target: Target, files: &[PathBuf]) -> Vec<String> {
    install_hook();
    let target_files = files.to_vec();
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let mut failures = Vec::new();
            for f in &target_files {
                let data = std::fs::read(f).unwrap_or_default();
                if let Ok(mut p) = LAST_PANIC.lock() {
                    *p = None;
                }
                let r = std::panic::catch_unwind(AssertUnwindSafe(|| target.run(&data)));
                let panicked = LAST_PANIC.lock().ok().and_then(|p| p.clone());
                if r.is_err() || panicked.is_some() {
                    let (loc, msg) = panicked.unwrap_or_default();
                    failures.push(format!(
                        "{}: panic at {loc}: {}",
                        f.display(),
                        first_chars(&msg, 300)
                    ));
                }
            }
            failures
        })
        .expect("spawn the replay thread")
        .join()
        .unwrap_or_else(|_| vec!["replay thread died".to_string()])
}
