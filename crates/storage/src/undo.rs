//! The undo log of one transaction on one node: previous row images, replayed in reverse on
//! abort.
//!
//! The keys of all ops live in one byte arena inside the log and the previous images are the
//! rows moved out of the index, so logging allocates nothing once the log's two vectors have
//! grown (reuse a log with `clear`).

#[allow(unused_imports)]
use crate::partition::Partition;
use crate::row::Row;

/// One logged change: `partition`'s key held `old` before. The key is the arena's bytes
/// from the previous op's `end` (0 for the first op) to this op's `end`.
#[derive(Debug)]
pub struct UndoOp {
    pub partition: u64,
    end: usize,
    /// The row before the change (None: the key did not exist).
    pub old: Option<Row>,
}

#[derive(Debug, Default)]
pub struct UndoLog {
    keys: Vec<u8>,
    ops: Vec<UndoOp>,
    /// Bytes of the previous images held (for the request's memory budget).
    old_bytes: usize,
}

impl UndoLog {
    /// Logs that `key` of `partition` held `old` before a change.
    pub fn push(&mut self, partition: u64, key: &[u8], old: Option<Row>) {
        self.keys.extend_from_slice(key);
        if let Some(row) = &old {
            self.old_bytes += row.as_bytes().len();
        }
        self.ops.push(UndoOp {
            partition,
            end: self.keys.len(),
            old,
        });
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Bytes of the previous row images the log holds.
    pub fn old_bytes(&self) -> usize {
        self.old_bytes
    }

    /// The previous image logged last (e.g. the row a `Partition::remove` with undo just
    /// took out), if the last op had one.
    pub fn last_old(&self) -> Option<&Row> {
        self.ops.last().and_then(|op| op.old.as_ref())
    }

    /// The ops in log order with their keys.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &[u8], Option<&Row>)> {
        let mut start = 0;
        self.ops.iter().map(move |op| {
            let key = self.keys.get(start..op.end).unwrap_or(&[]);
            start = op.end;
            (op.partition, key, op.old.as_ref())
        })
    }

    /// Forgets every op, keeping the memory for reuse.
    pub fn clear(&mut self) {
        self.ops.clear();
        self.keys.clear();
        self.old_bytes = 0;
    }

    /// Undoes every change in reverse order; `restore(partition_id, key, old_row)` puts
    /// the old image back (see [`Partition::restore`]).
    pub fn rollback(mut self, restore: impl FnMut(u64, &[u8], Option<Row>)) {
        self.rollback_in_place(restore);
    }

    /// Like [`UndoLog::rollback`] but leaves the log empty with its memory kept for reuse.
    pub fn rollback_in_place(&mut self, mut restore: impl FnMut(u64, &[u8], Option<Row>)) {
        self.old_bytes = 0;
        while let Some(op) = self.ops.pop() {
            let start = self.ops.last().map_or(0, |o| o.end);
            let key = self.keys.get(start..op.end).unwrap_or(&[]);
            restore(op.partition, key, op.old);
        }
        self.keys.clear();
    }
}
