//! Counters, gauges and histograms for `GET /metrics`, and their Prometheus text exposition
//! (format version 0.0.4), written by hand (docs/decisions.md, "Metrics").
//!
//! Updating is one or three relaxed atomic adds; nothing allocates or locks. Rendering
//! happens only when `/metrics` is scraped.
//!
//! ```text
//! # HELP amelie_commits_total Transactions committed.
//! # TYPE amelie_commits_total counter
//! amelie_commits_total 42
//! ```

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// A histogram with fixed upper bounds (`le`), cumulative only when rendered.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// One count per bound, plus the `+Inf` bucket.
    buckets: Box<[AtomicU64]>,
    /// Sum of the observed values, in the unit the bounds are in (scaled by `scale`).
    sum: AtomicU64,
    count: AtomicU64,
    /// The observed integers are `value * scale` in the rendered unit (e.g. microseconds
    /// observed, seconds rendered: `scale` = 1e-6).
    scale: f64,
}

impl Histogram {
    /// A histogram over `bounds` (ascending, in the rendered unit); observed integers are
    /// multiplied by `scale` to get that unit.
    pub fn new(bounds: &'static [f64], scale: f64) -> Self {
        Histogram {
            bounds,
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
            count: AtomicU64::new(0),
            scale,
        }
    }

    /// Records one value (in observed units).
    #[inline]
    pub fn observe(&self, value: u64) {
        let v = value as f64 * self.scale;
        let i = self.bounds.partition_point(|b| *b < v);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(value, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Values recorded so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Writes the histogram's `_bucket`, `_sum` and `_count` lines (with its HELP and TYPE).
    pub fn render(&self, out: &mut String, name: &str, help: &str) {
        header(out, name, help, "histogram");
        let mut cumulative = 0u64;
        for (i, b) in self.bounds.iter().enumerate() {
            cumulative += self.buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {cumulative}");
        }
        cumulative += self.buckets[self.bounds.len()].load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
        let sum = self.sum.load(Ordering::Relaxed) as f64 * self.scale;
        let _ = writeln!(out, "{name}_sum {sum}");
        // the count is the +Inf bucket, so that the two always agree in one scrape
        let _ = writeln!(out, "{name}_count {cumulative}");
    }
}

/// Writes the `# HELP` and `# TYPE` lines of a metric.
pub fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Writes a metric with one sample and no labels.
pub fn single(out: &mut String, name: &str, help: &str, kind: &str, value: u64) {
    header(out, name, help, kind);
    let _ = writeln!(out, "{name} {value}");
}

/// Writes one sample line with labels (`labels` as `("key", "value")` pairs; values are
/// escaped as the text format requires).
pub fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: u64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(k);
            out.push_str("=\"");
            for c in v.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '"' => out.push_str("\\\""),
                    '\n' => out.push_str("\\n"),
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// Latency buckets in seconds: 50 µs to 10 s.
pub const LATENCY_BOUNDS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0,
];

/// Size buckets (e.g. transactions per group commit): powers of two up to 1024.
pub const SIZE_BOUNDS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_renders_cumulative_buckets() {
        let h = Histogram::new(SIZE_BOUNDS, 1.0);
        for v in [1, 1, 3, 2000] {
            h.observe(v);
        }
        let mut out = String::new();
        h.render(&mut out, "x", "Sizes.");
        assert!(out.starts_with("# HELP x Sizes.\n# TYPE x histogram\n"));
        assert!(out.contains("x_bucket{le=\"1\"} 2\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"2\"} 2\n"));
        assert!(out.contains("x_bucket{le=\"4\"} 3\n"));
        assert!(out.contains("x_bucket{le=\"1024\"} 3\n"));
        assert!(out.contains("x_bucket{le=\"+Inf\"} 4\n"));
        assert!(out.contains("x_sum 2005\n"));
        assert!(out.ends_with("x_count 4\n"));
        assert_eq!(h.count(), 4);
    }

    #[test]
    fn latency_is_scaled_to_seconds() {
        let h = Histogram::new(LATENCY_BOUNDS, 1e-6);
        h.observe(70); // 70 µs
        let mut out = String::new();
        h.render(&mut out, "lat", "Latency.");
        assert!(out.contains("lat_bucket{le=\"0.00005\"} 0\n"), "{out}");
        assert!(out.contains("lat_bucket{le=\"0.0001\"} 1\n"));
        assert!(out.contains("lat_sum 0.00007"));
    }

    #[test]
    fn labels_are_escaped() {
        let mut out = String::new();
        sample(&mut out, "q", &[("node", "a\"b\\c\nd"), ("k", "v")], 3);
        assert_eq!(out, "q{node=\"a\\\"b\\\\c\\nd\",k=\"v\"} 3\n");
        out.clear();
        single(&mut out, "n", "N.", "gauge", 5);
        assert_eq!(out, "# HELP n N.\n# TYPE n gauge\nn 5\n");
    }
}
