//! Per-thread CPU load for `SHOW STATUS` (`process.cpu`, `cpu_frontends`, `cpu_backends`).
//!
//! [`sample`] reads the CPU time of every thread of the process from
//! `/proc/self/task/<tid>/stat` and keeps the load since the previous sample. The server
//! calls it once a second from its main thread, so a request never pays for it and the
//! figures are the load over the last second. Threads are told apart by name: frontends are
//! named `frontend`, compute nodes `node-<first 8 characters of the uuid>`.

use parking_lot::Mutex;
use std::time::Instant;

/// Clock ticks per second of the times in `/proc/<pid>/stat` (`USER_HZ`, fixed at 100 by the
/// Linux ABI on the architectures we build for).
const TICKS_PER_SECOND: f64 = 100.0;

/// The load over the last sampling interval.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CpuLoad {
    /// The whole process, in percent of all CPUs (0..=100).
    pub process: i64,
    /// Every thread's name and its load in percent of one CPU (0..=100), in thread id order.
    pub threads: Vec<(String, i64)>,
}

impl CpuLoad {
    /// The loads of the threads named `name`, in thread id order.
    pub fn named(&self, name: &str) -> Vec<i64> {
        self.threads
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, l)| *l)
            .collect()
    }

    /// The load of the compute node thread of node `uuid` (0 when there is none).
    pub fn node(&self, uuid: &str) -> i64 {
        let short: String = uuid.chars().filter(|c| *c != '\0').take(8).collect();
        let name = format!("node-{short}");
        self.threads
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, l)| *l)
            .unwrap_or(0)
    }
}

/// CPU ticks of each thread (tid, name, ticks) and of the process, at one moment.
struct Sample {
    at: Instant,
    threads: Vec<(u64, String, u64)>,
    process: u64,
}

static LAST: Mutex<Option<Sample>> = Mutex::new(None);
static LOAD: Mutex<Option<CpuLoad>> = Mutex::new(None);

/// `(comm, utime + stime)` of a `/proc/.../stat` line.
fn parse_stat(line: &str) -> Option<(&str, u64)> {
    let open = line.find('(')?;
    let close = line.rfind(')')?;
    let comm = line.get(open + 1..close)?;
    // fields after the comm: state (3), ..., utime (14), stime (15)
    let mut rest = line.get(close + 1..)?.split_ascii_whitespace();
    let utime: u64 = rest.nth(11)?.parse().ok()?;
    let stime: u64 = rest.next()?.parse().ok()?;
    Some((comm, utime + stime))
}

fn read_sample() -> Sample {
    let at = Instant::now();
    let process = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| parse_stat(&s).map(|(_, t)| t))
        .unwrap_or(0);
    let mut threads = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        for e in dir.flatten() {
            let Some(tid) = e.file_name().to_str().and_then(|s| s.parse::<u64>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                continue; // the thread has ended meanwhile
            };
            if let Some((comm, ticks)) = parse_stat(&stat) {
                threads.push((tid, comm.to_string(), ticks));
            }
        }
    }
    threads.sort_unstable_by_key(|t| t.0);
    Sample {
        at,
        threads,
        process,
    }
}

/// Percent of `cpus` CPUs that `ticks` make over `seconds`, in 0..=100.
fn percent(ticks: u64, seconds: f64, cpus: usize) -> i64 {
    if seconds <= 0.0 {
        return 0;
    }
    let p = ticks as f64 / TICKS_PER_SECOND / seconds / cpus.max(1) as f64 * 100.0;
    p.round().clamp(0.0, 100.0) as i64
}

fn load_between(prev: &Sample, now: &Sample, cpus: usize) -> CpuLoad {
    let seconds = now.at.duration_since(prev.at).as_secs_f64();
    let threads = now
        .threads
        .iter()
        .map(|(tid, name, ticks)| {
            let before = prev
                .threads
                .iter()
                .find(|t| t.0 == *tid)
                .map(|t| t.2)
                .unwrap_or(*ticks);
            (
                name.clone(),
                percent(ticks.saturating_sub(before), seconds, 1),
            )
        })
        .collect();
    CpuLoad {
        process: percent(now.process.saturating_sub(prev.process), seconds, cpus),
        threads,
    }
}

/// Takes a sample and stores the load since the previous one (the first sample stores a
/// load of 0 for every thread).
pub fn sample() {
    let now = read_sample();
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut last = LAST.lock();
    let load = match last.as_ref() {
        Some(prev) => load_between(prev, &now, cpus),
        None => load_between(&now, &now, cpus),
    };
    *last = Some(now);
    drop(last);
    *LOAD.lock() = Some(load);
}

/// The load stored by the last [`sample`] (without one yet: every thread at 0).
pub fn load() -> CpuLoad {
    if let Some(load) = LOAD.lock().clone() {
        return load;
    }
    let now = read_sample();
    load_between(&now, &now, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_parse() {
        let line = "4242 (node-ab cd) S 1 2 3 4 5 6 7 8 9 10 150 50 0 0 20 0 9 0 100";
        assert_eq!(parse_stat(line), Some(("node-ab cd", 200)));
        assert_eq!(parse_stat("1 (x) S 1 2"), None);
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn load_is_a_percentage_of_the_interval() {
        let t0 = Instant::now();
        let prev = Sample {
            at: t0,
            threads: vec![(1, "frontend".into(), 100), (2, "node-12345678".into(), 0)],
            process: 100,
        };
        let now = Sample {
            at: t0 + std::time::Duration::from_secs(2),
            threads: vec![
                (1, "frontend".into(), 200),
                (2, "node-12345678".into(), 50),
                (3, "frontend".into(), 7),
            ],
            process: 250,
        };
        let load = load_between(&prev, &now, 2);
        // 100 ticks = 1 s of CPU over 2 s = 50 %; 150 ticks over 2 s of 2 CPUs = 38 %
        assert_eq!(load.named("frontend"), vec![50, 0]);
        assert_eq!(load.node("12345678-aaaa"), 25);
        assert_eq!(load.node("ffffffff"), 0);
        assert_eq!(load.process, 38);
    }

    #[test]
    fn sampling_this_process_names_its_threads() {
        sample();
        let l = load();
        assert!(!l.threads.is_empty());
        assert!((0..=100).contains(&l.process));
    }
}
