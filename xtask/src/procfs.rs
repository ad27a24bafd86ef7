//! The server-cost measures of BENCH.md, read from `/proc/<pid>`: CPU time (`stat` fields 14 and
//! 15), thread switches (`voluntary_ctxt_switches` + `nonvoluntary_ctxt_switches` of every
//! `task/*/status`) and resident memory (`VmRSS` of `status`).

use std::fs;
use std::path::Path;

/// utime + stime in clock ticks, from the text of `/proc/<pid>/stat`.
///
/// Field 2 (`(comm)`) may hold spaces and parentheses, so the fields are counted from the last
/// `)`: the next one is field 3, so utime (14) and stime (15) are the 12th and 13th after it.
pub fn parse_stat_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// The number after `key:` on its own line of a `status` file (`VmRSS:\t  17848 kB` gives 17848).
fn status_field(status: &str, key: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let value = line.strip_prefix(key)?.strip_prefix(':')?;
        value.split_ascii_whitespace().next()?.parse().ok()
    })
}

/// voluntary + nonvoluntary context switches of one thread, from the text of its `status`.
pub fn parse_ctxt_switches(status: &str) -> Option<u64> {
    Some(
        status_field(status, "voluntary_ctxt_switches")?
            + status_field(status, "nonvoluntary_ctxt_switches")?,
    )
}

/// `VmRSS` in KiB, from the text of `/proc/<pid>/status`.
pub fn parse_vm_rss_kb(status: &str) -> Option<u64> {
    status_field(status, "VmRSS")
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 if that cannot be run).
pub fn clk_tck() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(100)
}

/// The server's CPU time and thread switches at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub cpu_ticks: u64,
    pub switches: u64,
}

fn read(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads [`Sample`] of process `pid`. Threads that exit between two samples take their switches
/// with them; the server's threads live as long as it does.
pub fn sample(pid: u32) -> Result<Sample, String> {
    let dir = Path::new("/proc").join(pid.to_string());
    let stat = read(&dir.join("stat"))?;
    let cpu_ticks = parse_stat_cpu_ticks(&stat)
        .ok_or_else(|| format!("{}/stat: no utime/stime in '{stat}'", dir.display()))?;
    let tasks = dir.join("task");
    let mut switches = 0;
    for entry in fs::read_dir(&tasks).map_err(|e| format!("{}: {e}", tasks.display()))? {
        let Ok(entry) = entry else { continue };
        // a thread may exit while we list them
        let Ok(status) = fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        switches += parse_ctxt_switches(&status).ok_or_else(|| {
            format!(
                "{}/status: no voluntary_ctxt_switches/nonvoluntary_ctxt_switches",
                entry.path().display()
            )
        })?;
    }
    Ok(Sample {
        cpu_ticks,
        switches,
    })
}

/// `VmRSS` of process `pid` in KiB.
pub fn rss_kb(pid: u32) -> Result<u64, String> {
    let path = Path::new("/proc").join(pid.to_string()).join("status");
    let status = read(&path)?;
    parse_vm_rss_kb(&status).ok_or_else(|| format!("{}: no VmRSS line", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    // From a real server: `cat /proc/<pid>/stat` (utime 1234, stime 567).
    const STAT: &str = "3974 (amelie-server) S 1 3973 3973 0 -1 4194560 1912 0 0 0 1234 567 \
                        0 0 20 0 3 0 123456 123456789 4462 18446744073709551615 1 1 0 0 0 0 0 \
                        4096 17647 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

    const STATUS: &str = "Name:\tamelie-server\n\
Umask:\t0022\n\
State:\tS (sleeping)\n\
Tgid:\t3974\n\
VmPeak:\t  155104 kB\n\
VmSize:\t  155104 kB\n\
VmHWM:\t   18004 kB\n\
VmRSS:\t   17848 kB\n\
RssAnon:\t    6512 kB\n\
Threads:\t3\n\
voluntary_ctxt_switches:\t1502\n\
nonvoluntary_ctxt_switches:\t37\n";

    #[test]
    fn stat_cpu() {
        assert_eq!(parse_stat_cpu_ticks(STAT), Some(1234 + 567));
        // a command name with spaces and a ')' of its own
        let odd = STAT.replace("(amelie-server)", "(a) b (c))");
        assert_eq!(parse_stat_cpu_ticks(&odd), Some(1801));
        assert_eq!(parse_stat_cpu_ticks("3974 (x) S 1 2 3"), None);
        assert_eq!(parse_stat_cpu_ticks("no parenthesis"), None);
    }

    #[test]
    fn status_fields() {
        assert_eq!(parse_ctxt_switches(STATUS), Some(1539));
        assert_eq!(parse_vm_rss_kb(STATUS), Some(17848));
        // VmRSS must not be read from RssAnon, nor voluntary from nonvoluntary
        let only_nonvoluntary = "nonvoluntary_ctxt_switches:\t37\n";
        assert_eq!(parse_ctxt_switches(only_nonvoluntary), None);
        assert_eq!(parse_vm_rss_kb("RssAnon:\t 6512 kB\n"), None);
        assert_eq!(parse_vm_rss_kb("VmRSS:\tlots\n"), None);
    }

    #[test]
    fn own_process() {
        let me = std::process::id();
        let s = sample(me).unwrap();
        // this test thread has been switched to at least once
        assert!(s.switches > 0);
        assert!(rss_kb(me).unwrap() > 0);
        // spinning must show up as CPU time within a few seconds
        let burn = std::time::Instant::now();
        let mut x = 0u64;
        while sample(me).unwrap().cpu_ticks == s.cpu_ticks {
            for i in 0..1_000_000 {
                x = std::hint::black_box(x.wrapping_add(i));
            }
            assert!(burn.elapsed().as_secs() < 10, "CPU time did not move");
        }
        assert!(sample(u32::MAX).is_err());
        assert!(clk_tck() > 0);
    }
}
