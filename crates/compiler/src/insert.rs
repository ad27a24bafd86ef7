//! The rows of INSERT VALUES and INSERT GENERATE, built for each execution.
//!
//! A compiled program is reused for requests that differ only in their literals (the
//! program cache), and every execution takes new SERIAL and RANDOM values and the request's
//! time, so the rows are not part of the program: the compiler keeps an [`InsertTemplate`]
//! (the value expressions, with the request's literals as [`Expr::Param`]s) and the executor
//! asks it for the rows of each execution ([`InsertTemplate::rows`]). Defaults, SERIAL,
//! RANDOM, `CURRENT_TIMESTAMP`, STORED columns and the coercion to the column types happen
//! here, exactly as Amelie does them at compile time.

use crate::expr::literal_value;
use crate::generated::Stored;
use amelie_catalog::Table;
use amelie_common::{Error, Result, Value};
use amelie_parser::Expr;
use amelie_vm::{GenColumn, GenKind, Generate};
use std::sync::Arc;

pub(crate) fn column_default(t: &Table, col: usize) -> Value {
    t.columns[col].default.clone().unwrap_or(Value::Null)
}

/// Fills SERIAL and RANDOM columns the row does not give (`given`); `serial` is the row's
/// SERIAL value (taken for every row, see [`amelie_catalog::Serial`]).
pub(crate) fn fill_generated(t: &Table, row: &mut [Value], given: &[bool], serial: Option<i64>) {
    if let Some(v) = serial {
        for (c, col) in t.columns.iter().enumerate() {
            if col.serial && !given[c] {
                row[c] = Value::Int(v);
            }
        }
    }
    for (c, col) in t.columns.iter().enumerate() {
        if let Some(m) = col.random {
            if !given[c] {
                let m = if m <= 0 { i64::MAX } else { m };
                row[c] = Value::Int(amelie_common::random::random_i64() % m);
            }
        }
    }
}

/// The source of the rows.
#[derive(Debug)]
enum Source {
    /// One expression per listed column per row.
    Values(Vec<Vec<Expr>>),
    /// `GENERATE n`: n rows of defaults.
    Generate(usize),
}

/// How one INSERT builds its rows (see the module head).
pub struct InsertTemplate {
    table: Arc<Table>,
    /// Column ordinal of each value of a row.
    cols: Vec<usize>,
    source: Source,
    stored: Option<Stored>,
    tz_offset: amelie_common::Tz,
    /// GENERATE whose columns are all constants, SERIAL or RANDOM: how the nodes make each
    /// column (see `amelie_vm::generate`).
    on_nodes: Option<Vec<GenColumn>>,
}

impl std::fmt::Debug for InsertTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InsertTemplate")
            .field("table", &self.table.name)
            .field("cols", &self.cols)
            .field("source", &self.source)
            .finish()
    }
}

impl InsertTemplate {
    /// Checks the shape of the rows (the value counts) and keeps them for execution.
    /// `explicit`: the statement lists its columns.
    pub(crate) fn values(
        table: &Arc<Table>,
        cols: Vec<usize>,
        explicit: bool,
        rows: &[Vec<Expr>],
        tz_offset: amelie_common::Tz,
    ) -> Result<InsertTemplate> {
        let t = &**table;
        for src in rows {
            if src.len() != cols.len() {
                // like Amelie, which reads the values column by column: a row that ends early
                // (any row without a column list, an empty one with it) wants the next column
                let next = cols.get(src.len()).filter(|_| !explicit || src.is_empty());
                return Err(match next {
                    Some(&c) => Error::type_error(format!(
                        "column <{}> value expected to be '{}'",
                        t.columns[c].name,
                        t.columns[c].ty.runtime().name()
                    )),
                    None => Error::type_error("row has incorrect number of columns"),
                });
            }
        }
        Ok(InsertTemplate {
            table: table.clone(),
            cols,
            source: Source::Values(rows.to_vec()),
            stored: Stored::new(t, tz_offset)?,
            tz_offset,
            on_nodes: None,
        })
    }

    /// `GENERATE n`.
    pub(crate) fn generate(
        table: &Arc<Table>,
        n: i64,
        tz_offset: amelie_common::Tz,
    ) -> Result<InsertTemplate> {
        let stored = Stored::new(table, tz_offset)?;
        let on_nodes = match stored {
            None => gen_columns(table),
            Some(_) => None,
        };
        Ok(InsertTemplate {
            table: table.clone(),
            cols: Vec::new(),
            source: Source::Generate(usize::try_from(n).unwrap_or(0)),
            stored,
            tz_offset,
            on_nodes,
        })
    }

    /// `INSERT ... GENERATE` the nodes can make themselves: the spec of one execution
    /// (takes the statement's SERIAL values, like [`InsertTemplate::each_row`]). Only for a
    /// table of several partitions: the nodes then share the work; with one partition the
    /// frontend builds the rows while the one node inserts the previous request's.
    pub fn on_nodes(&self) -> Option<Generate> {
        let t = &*self.table;
        if t.partitions.len() < 2 {
            return None;
        }
        let columns = self.on_nodes.clone()?;
        let count = self.count();
        let serial = if t.columns.iter().any(|c| c.serial) {
            t.serial.reserve(count)
        } else {
            0
        };
        Some(Generate {
            count,
            columns,
            key_cols: t.primary().keys.clone(),
            single: t.partitions.len() == 1,
            serial,
            seed: amelie_common::random::random_i64() as u64,
        })
    }

    /// Number of rows of one execution.
    pub fn count(&self) -> usize {
        match &self.source {
            Source::Values(rows) => rows.len(),
            Source::Generate(n) => *n,
        }
    }

    /// The rows of one execution: `lits` are the request's literals, `now` its start time.
    pub fn rows(&self, lits: &[Value], now: i64) -> Result<Vec<Box<[Value]>>> {
        let mut out = Vec::with_capacity(self.count());
        self.each_row(lits, now, |row| {
            out.push(row.to_vec().into_boxed_slice());
            Ok(())
        })?;
        Ok(out)
    }

    /// Builds the rows of one execution one at a time into one reused buffer and hands each
    /// to `f` (which encodes it where it goes): no allocation per row.
    pub fn each_row(
        &self,
        lits: &[Value],
        now: i64,
        mut f: impl FnMut(&[Value]) -> Result<()>,
    ) -> Result<()> {
        let t = &*self.table;
        let width = t.columns.len();
        let count = self.count();
        // every row takes a SERIAL value, also when it gives the column
        let serial = t
            .columns
            .iter()
            .any(|c| c.serial)
            .then(|| t.serial.reserve(count));
        let stored_params = self.stored.as_ref().map(|s| s.params(now));
        let mut given = vec![false; width];
        let mut row: Vec<Value> = Vec::with_capacity(width);
        for r in 0..count {
            let src: &[Expr] = match &self.source {
                Source::Values(rows) => &rows[r],
                Source::Generate(_) => &[],
            };
            row.clear();
            row.extend((0..width).map(|c| column_default(t, c)));
            given.fill(false);
            // a DEFAULT slot counts as left out: it gets the SERIAL/RANDOM/DEFAULT value
            for (e, &c) in src.iter().zip(self.cols.iter()) {
                given[c] = !matches!(e, Expr::Default);
            }
            fill_generated(t, &mut row, &given, serial.map(|s| s + r as i64));
            for (e, &c) in src.iter().zip(self.cols.iter()) {
                row[c] = match e {
                    Expr::Default => std::mem::take(&mut row[c]),
                    // `VECTOR [..]` into a vector column: the array literal, cast below
                    Expr::Function {
                        schema: None,
                        name,
                        args,
                    } if name.eq_ignore_ascii_case("vector")
                        && args.len() == 1
                        && t.columns[c].ty.runtime() == amelie_common::Type::Vector =>
                    {
                        self.value(&args[0], lits, now)?.ok_or_else(|| {
                            Error::type_error(format!(
                                "column <{}> value expected to be 'vector'",
                                t.columns[c].name
                            ))
                        })?
                    }
                    e => self.value(e, lits, now)?.ok_or_else(|| {
                        Error::type_error(format!(
                            "column <{}> value expected to be '{}'",
                            t.columns[c].name,
                            t.columns[c].ty.runtime().name()
                        ))
                    })?,
                };
            }
            let stored = self.stored.as_ref();
            for (c, col) in t.columns.iter().enumerate() {
                let v = std::mem::take(&mut row[c]);
                // (a STORED column is checked for NULL once it is generated)
                let not_null =
                    (col.not_null || t.is_key(c)) && !stored.is_some_and(|s| s.is_stored(c));
                row[c] = amelie_vm::exec::coerce_to_column(v, col.ty, &col.name, not_null)?;
            }
            if let (Some(s), Some(params)) = (stored, &stored_params) {
                s.apply(&mut row, params, now)?;
                for (c, col) in t.columns.iter().enumerate() {
                    if s.is_stored(c) {
                        let v = std::mem::take(&mut row[c]);
                        let not_null = col.not_null || t.is_key(c);
                        row[c] = amelie_vm::exec::coerce_to_column(v, col.ty, &col.name, not_null)?;
                    }
                }
            }
            f(&row)?;
        }
        Ok(())
    }

    /// The value of one INSERT item (a literal form; None: not one).
    fn value(&self, e: &Expr, lits: &[Value], now: i64) -> Result<Option<Value>> {
        literal_value(e, self.tz_offset, &|| now, &|p| {
            lits.get(p.ord() as usize).cloned().unwrap_or_default()
        })
    }
}

/// How the nodes make each column of a generated row, when every column is a constant
/// default (that fits its column), a SERIAL or a RANDOM value (None otherwise).
fn gen_columns(t: &Table) -> Option<Vec<GenColumn>> {
    t.columns
        .iter()
        .enumerate()
        .map(|(c, col)| {
            let not_null = col.not_null || t.is_key(c);
            let kind = if col.serial {
                GenKind::Serial
            } else if let Some(m) = col.random {
                GenKind::Random(m)
            } else {
                let v = column_default(t, c);
                GenKind::Value(
                    amelie_vm::exec::coerce_to_column(v, col.ty, &col.name, not_null).ok()?,
                )
            };
            Some(GenColumn {
                kind,
                ty: col.ty,
                name: col.name.clone(),
                not_null,
            })
        })
        .collect()
}
