//! `INSERT ... GENERATE n` made on the nodes.
//!
//! When every column of the generated rows is a constant default, a SERIAL or a RANDOM
//! value, the frontend does not build and ship the rows: it reserves the statement's SERIAL
//! values, picks a seed, and sends every partition the same [`Generate`]. Each node makes the
//! same `n` rows (SERIAL `first + i`, RANDOM values from one seeded stream) and keeps those
//! whose primary key routes to its own partition, so together the nodes insert exactly the
//! `n` rows, in parallel, with no row encoded twice or copied between threads.

use crate::exec::coerce_to_column;
use amelie_common::murmur::key_slot;
use amelie_common::{ColumnType, Result, Value};
use amelie_storage::Row;

/// How one column of a generated row is made.
#[derive(Clone, Debug, PartialEq)]
pub enum GenKind {
    /// A constant (the column default, already in the column's type).
    Value(Value),
    /// The row's SERIAL value.
    Serial,
    /// A RANDOM value below the modulus (`<= 0`: any non-negative int64).
    Random(i64),
}

/// One column of a generated row.
#[derive(Clone, Debug, PartialEq)]
pub struct GenColumn {
    pub kind: GenKind,
    pub ty: ColumnType,
    pub name: String,
    /// NOT NULL (or a key column).
    pub not_null: bool,
}

/// The rows of one `INSERT ... GENERATE` execution (shared by every partition).
#[derive(Clone, Debug, PartialEq)]
pub struct Generate {
    pub count: usize,
    pub columns: Vec<GenColumn>,
    /// Primary-key column ordinals (for routing).
    pub key_cols: Vec<usize>,
    /// The table has one partition: every row is kept.
    pub single: bool,
    /// SERIAL value of row 0 (row `i` takes `serial + i`).
    pub serial: i64,
    /// Seed of the stream the RANDOM values come from.
    pub seed: u64,
}

/// splitmix64 step `i` of the stream `seed`: the same value on every node.
fn random(seed: u64, i: u64) -> u64 {
    let mut z = seed.wrapping_add(i.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Generate {
    /// Value of column `c` of row `i`; `draw` is the column's position among the RANDOM
    /// columns (one draw per RANDOM column per row, in column order).
    fn value(&self, i: usize, c: usize, draw: u64) -> Result<Value> {
        let col = &self.columns[c];
        let v = match &col.kind {
            GenKind::Value(v) => return Ok(v.clone()),
            GenKind::Serial => Value::Int(self.serial.wrapping_add(i as i64)),
            GenKind::Random(m) => {
                let r = random(self.seed, (i as u64) * (self.columns.len() as u64) + draw);
                let m = if *m <= 0 { i64::MAX } else { *m };
                Value::Int(((r >> 1) as i64) % m)
            }
        };
        coerce_to_column(v, col.ty, &col.name, col.not_null)
    }

    /// The rows that belong to the partition of hash slots `slots` (`min .. max`), in
    /// generation order.
    pub fn rows(&self, slots: (u32, u32)) -> GenRows<'_> {
        let mut draws = Vec::with_capacity(self.columns.len());
        let mut n = 0u64;
        for c in &self.columns {
            draws.push(n);
            if matches!(c.kind, GenKind::Random(_)) {
                n += 1;
            }
        }
        GenRows {
            gen: self,
            slots,
            next: 0,
            values: Vec::with_capacity(self.columns.len()),
            key: Vec::with_capacity(self.key_cols.len()),
            draws,
        }
    }
}

/// See [`Generate::rows`].
pub struct GenRows<'a> {
    gen: &'a Generate,
    slots: (u32, u32),
    next: usize,
    values: Vec<Value>,
    /// Key values of the row being routed.
    key: Vec<Value>,
    /// Per column: its position among the RANDOM columns.
    draws: Vec<u64>,
}

impl GenRows<'_> {
    /// Whether row `i` routes to this partition (only its key columns are made).
    fn is_ours(&mut self, i: usize) -> Result<bool> {
        self.key.clear();
        for &k in &self.gen.key_cols {
            self.key.push(self.gen.value(i, k, self.draws[k])?);
        }
        let slot = key_slot(self.key.iter());
        Ok(slot >= self.slots.0 && slot < self.slots.1)
    }

    fn make(&mut self, i: usize) -> Result<Row> {
        self.values.clear();
        for c in 0..self.gen.columns.len() {
            self.values.push(self.gen.value(i, c, self.draws[c])?);
        }
        Ok(Row::encode(&self.values))
    }
}

impl Iterator for GenRows<'_> {
    type Item = Result<Row>;

    fn next(&mut self) -> Option<Result<Row>> {
        while self.next < self.gen.count {
            let i = self.next;
            self.next += 1;
            let row = if self.gen.single {
                self.make(i)
            } else {
                match self.is_ours(i) {
                    Ok(true) => self.make(i),
                    Ok(false) => continue,
                    Err(e) => Err(e),
                }
            };
            if row.is_err() {
                self.next = self.gen.count;
            }
            return Some(row);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use amelie_common::murmur::PARTITION_SLOTS;

    fn spec(single: bool) -> Generate {
        Generate {
            count: 1000,
            columns: vec![
                GenColumn {
                    kind: GenKind::Serial,
                    ty: ColumnType::Int64,
                    name: "id".into(),
                    not_null: true,
                },
                GenColumn {
                    kind: GenKind::Random(100),
                    ty: ColumnType::Int32,
                    name: "r".into(),
                    not_null: false,
                },
                GenColumn {
                    kind: GenKind::Value(Value::str("x")),
                    ty: ColumnType::Text,
                    name: "s".into(),
                    not_null: false,
                },
            ],
            key_cols: vec![0],
            single,
            serial: 50,
            seed: 7,
        }
    }

    #[test]
    fn partitions_together_get_every_row_once() {
        let g = spec(false);
        let all: Vec<Row> = g.rows((0, PARTITION_SLOTS)).collect::<Result<_>>().unwrap();
        assert_eq!(all.len(), 1000);
        let cuts = [(0, 3000), (3000, 5000), (5000, PARTITION_SLOTS)];
        let mut parts: Vec<Row> = Vec::new();
        for c in cuts {
            parts.extend(g.rows(c).collect::<Result<Vec<_>>>().unwrap());
        }
        assert_eq!(parts.len(), 1000);
        let mut a: Vec<Vec<Value>> = all.iter().map(|r| r.to_values()).collect();
        let mut b: Vec<Vec<Value>> = parts.iter().map(|r| r.to_values()).collect();
        a.sort();
        b.sort();
        assert_eq!(a, b, "the same rows, whatever the split");
        assert_eq!(a[0][0], Value::Int(50));
        assert!(a
            .iter()
            .all(|r| matches!(r[1], Value::Int(v) if (0..100).contains(&v))));
        // the same seed makes the same rows; another seed others
        let again: Vec<Row> = g.rows((0, PARTITION_SLOTS)).collect::<Result<_>>().unwrap();
        assert_eq!(all, again);
        let other = Generate {
            seed: 8,
            ..g.clone()
        };
        let other: Vec<Row> = other
            .rows((0, PARTITION_SLOTS))
            .collect::<Result<_>>()
            .unwrap();
        assert_ne!(all, other);
        // one partition keeps everything without routing
        assert_eq!(spec(true).rows((0, 0)).count(), 1000);
    }

    #[test]
    fn a_value_of_another_type_is_an_error_and_ends_the_rows() {
        let mut g = spec(true);
        g.columns[1].ty = ColumnType::Bool;
        let got: Vec<Result<Row>> = g.rows((0, 0)).collect();
        assert_eq!(got.len(), 1, "nothing after the error");
        assert_eq!(
            got[0].as_ref().unwrap_err().to_string(),
            "column <r> value expected to be 'bool'"
        );
    }
}
