//! The rows of an INSERT (sent, generated here, or replaced by `GENERATE_ROWS`) and the
//! handling of an upsert's conflicting row.

use super::body::{run_body, BodyState};
use crate::exec::RowRef;
use crate::generate::{GenRows, Generate};
use crate::op::Conflict;
use crate::program::Program;
use amelie_common::{Error, Result, Value};
use amelie_storage::{Row, RowReader};

/// The rows of an INSERT sent with a request.
#[derive(Clone, Copy, Debug)]
pub enum InsertRows<'a> {
    /// Back-to-back row encodings (`amelie_storage::encode_row_into`).
    Encoded(&'a [u8]),
    /// `INSERT ... GENERATE` made here: the rows whose key routes to the partition of these
    /// hash slots (`min .. max`).
    Generate(&'a Generate, (u32, u32)),
}

/// The rows of an INSERT, read one at a time: as sent with the request, generated here, or
/// as `GENERATE_ROWS` replaced them.
pub(super) enum Input<'a> {
    Sent(RowReader<'a>),
    Made(GenRows<'a>),
    Replaced(std::vec::IntoIter<Row>),
}

impl Input<'_> {
    pub(super) fn new<'a>(sent: InsertRows<'a>, replaced: &mut Option<Vec<Row>>) -> Input<'a> {
        match (replaced.take(), sent) {
            (Some(rows), _) => Input::Replaced(rows.into_iter()),
            (None, InsertRows::Encoded(bytes)) => Input::Sent(RowReader::new(bytes)),
            (None, InsertRows::Generate(g, slots)) => Input::Made(g.rows(slots)),
        }
    }
}

impl Iterator for Input<'_> {
    type Item = Result<Row>;

    fn next(&mut self) -> Option<Result<Row>> {
        match self {
            Input::Sent(r) => r.next(),
            Input::Made(r) => r.next(),
            Input::Replaced(r) => r.next().map(Ok),
        }
    }
}

/// The error of a duplicate in a unique index.
pub(super) fn unique_violation(name: &str) -> Error {
    Error::constraint(format!("index '{name}': unique key constraint violation"))
}

/// An upsert's handling of a row whose primary key is present.
pub(super) struct Upserting<'p> {
    pub(super) program: &'p Program,
    pub(super) stmt: usize,
    /// The DO UPDATE body.
    pub(super) body: (usize, usize),
    pub(super) mode: Conflict,
    /// Affected rows are kept for RETURNING.
    pub(super) keep: bool,
    /// The partition's key columns.
    pub(super) key_cols: &'p [usize],
}

impl Upserting<'_> {
    /// The new image of `existing` for the incoming `row` (None: keep it as it is), or the
    /// conflict error. `key` is the key of both.
    pub(super) fn resolve(
        &self,
        existing: &Row,
        row: &Row,
        key: &[u8],
        regs: &mut [Value],
        st: &mut BodyState,
    ) -> Result<Option<Row>> {
        match self.mode {
            Conflict::Primary => Err(unique_violation("primary")),
            Conflict::Error => Err(Error::constraint("unique key constraint violation")),
            Conflict::Nothing => {
                if self.keep {
                    st.applied.push(existing.clone());
                }
                Ok(None)
            }
            Conflict::Update => {
                // the body sees the existing row followed by the new one
                st.width = Some(existing.columns());
                let pair = RowRef::Pair(existing, row);
                let res = run_body(self.program, self.stmt, self.body, regs, pair, key, st);
                st.width = None;
                st.staged_keys.clear();
                res?;
                let image = match st.staged.pop() {
                    Some((_, Some(new))) => new,
                    _ => {
                        st.staged.clear();
                        return Ok(None);
                    }
                };
                st.staged.clear();
                if !image.cmp_key(self.key_cols, key).is_eq() {
                    return Err(Error::constraint("primary key columns cannot be updated"));
                }
                Ok(Some(image))
            }
        }
    }
}
