//! The workloads: the five of `amelie bench` (`--type`) and the extra ones of
//! `cargo xtask bench load`.

use std::fmt;
use std::str::FromStr;

/// Rows per scale unit of the scan/aggregate/join table.
pub const AGG_ROWS: usize = 1_000_000;

/// One kind of request stream (and its set-up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Workload {
    /// BENCH.md's TPC-B request: five statements, one history row per transaction
    Tpcb,
    /// insert into __bench.test generate <batch>, a serial key
    Insert,
    /// ... generate <batch> on conflict do update set data = data + 1 (100000 keys)
    Upsert,
    /// POST /__bench/test?columns= with <batch> empty JSON rows
    Import,
    /// generate <batch> into a table with a RESOLVED generated column
    Resolved,
    /// point select on the tpcb accounts
    Select,
    /// count(*), sum(v) ... where v > 500 over 1M rows x scale (pushdown)
    Scan,
    /// count(*), sum(v) ... group by g over 1M rows x scale (partial GROUP BY)
    Aggregate,
    /// group by over the 1M rows x scale joined with a 100-row shared table
    Join,
    /// RSS growth per row for --rows generated rows (no clients, no window)
    Memory,
}

impl Workload {
    /// Every workload, in the order of the help.
    pub const ALL: [Workload; 10] = [
        Workload::Tpcb,
        Workload::Insert,
        Workload::Upsert,
        Workload::Import,
        Workload::Resolved,
        Workload::Select,
        Workload::Scan,
        Workload::Aggregate,
        Workload::Join,
        Workload::Memory,
    ];

    /// The types `amelie bench --type` accepts (Amelie's own).
    pub const AMELIE: [Workload; 5] = [
        Workload::Tpcb,
        Workload::Insert,
        Workload::Upsert,
        Workload::Import,
        Workload::Resolved,
    ];

    /// The name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Tpcb => "tpcb",
            Workload::Insert => "insert",
            Workload::Upsert => "upsert",
            Workload::Import => "import",
            Workload::Resolved => "resolved",
            Workload::Select => "select",
            Workload::Scan => "scan",
            Workload::Aggregate => "aggregate",
            Workload::Join => "join",
            Workload::Memory => "memory",
        }
    }

    /// One line of help.
    pub fn help(self) -> &'static str {
        match self {
            Workload::Tpcb => {
                "BENCH.md's TPC-B request: five statements, one history row per transaction"
            }
            Workload::Insert => "insert into __bench.test generate <batch>, a serial key",
            Workload::Upsert => {
                "... generate <batch> on conflict do update set data = data + 1 (100000 keys)"
            }
            Workload::Import => "POST /__bench/test?columns= with <batch> empty JSON rows",
            Workload::Resolved => "generate <batch> into a table with a RESOLVED generated column",
            Workload::Select => "point select on the tpcb accounts",
            Workload::Scan => "count(*), sum(v) ... where v > 500 over 1M rows x scale (pushdown)",
            Workload::Aggregate => {
                "count(*), sum(v) ... group by g over 1M rows x scale (partial GROUP BY)"
            }
            Workload::Join => {
                "group by over the 1M rows x scale joined with a 100-row shared table"
            }
            Workload::Memory => {
                "RSS growth per row for --rows generated rows (no clients, no window)"
            }
        }
    }

    /// The workloads whose requests write `batch` rows each.
    pub fn is_batch(self) -> bool {
        matches!(
            self,
            Workload::Insert | Workload::Upsert | Workload::Import | Workload::Resolved
        )
    }

    /// Rows written or read by one transaction, for a rows/s figure.
    pub fn rows_per_tx(self, batch: usize, scale: usize) -> usize {
        match self {
            Workload::Insert | Workload::Upsert | Workload::Import | Workload::Resolved => batch,
            Workload::Tpcb | Workload::Select | Workload::Memory => 1,
            Workload::Scan | Workload::Aggregate | Workload::Join => AGG_ROWS * scale,
        }
    }

    /// The "writes" `amelie bench` counts per committed transaction (BENCH.md): the four
    /// written rows of TPC-B, the batch of the others, none for the read-only ones.
    pub fn writes_per_tx(self, batch: usize) -> u64 {
        match self {
            Workload::Tpcb => 4,
            w if w.is_batch() => batch as u64,
            _ => 0,
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Workload {
    type Err = String;

    fn from_str(s: &str) -> Result<Workload, String> {
        Workload::ALL
            .into_iter()
            .find(|w| w.name() == s)
            .ok_or_else(|| format!("unknown benchmark type '{s}'"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for w in Workload::ALL {
            assert_eq!(w.name().parse::<Workload>(), Ok(w));
            assert_eq!(w.to_string(), w.name());
            assert!(!w.help().is_empty());
        }
        assert_eq!(
            "tpc".parse::<Workload>(),
            Err("unknown benchmark type 'tpc'".to_string())
        );
        assert!(Workload::AMELIE.iter().all(|w| Workload::ALL.contains(w)));
    }

    #[test]
    fn counts() {
        assert_eq!(Workload::Tpcb.writes_per_tx(500), 4);
        assert_eq!(Workload::Import.writes_per_tx(500), 500);
        assert_eq!(Workload::Select.writes_per_tx(500), 0);
        assert_eq!(Workload::Scan.rows_per_tx(500, 2), 2 * AGG_ROWS);
        assert!(Workload::Resolved.is_batch() && !Workload::Tpcb.is_batch());
    }
}
