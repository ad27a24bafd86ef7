//! The undo log of one transaction on one node: previous row images, replayed in reverse on
//! abort.

#[allow(unused_imports)]
use crate::partition::Partition;
use crate::partition::Row;

#[derive(Debug)]
pub struct UndoOp {
    pub partition: u64,
    pub key: Box<[u8]>,
    /// The row before the change (None: the key did not exist).
    pub old: Option<Row>,
}

#[derive(Debug, Default)]
pub struct UndoLog {
    ops: Vec<UndoOp>,
}

impl UndoLog {
    pub fn push(&mut self, op: UndoOp) {
        self.ops.push(op);
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Undoes every change in reverse order; `restore(partition_id, key, old_row)` puts
    /// the old image back (see [`Partition::restore`]).
    pub fn rollback(self, mut restore: impl FnMut(u64, &[u8], Option<Row>)) {
        for op in self.ops.into_iter().rev() {
            restore(op.partition, &op.key, op.old);
        }
    }
}
