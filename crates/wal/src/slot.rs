//! WAL slots: readers that need part of the log to stay on disk (a running backup; later a
//! replica that has not received everything yet).
//!
//! A [`Slot`] holds an LSN: every WAL file holding a record at or above it stays, whatever
//! checkpoints happen meanwhile ([`crate::Wal::remove_below`] never goes past the lowest
//! slot). A slot may also name a checkpoint the holder reads: the executor keeps that
//! checkpoint's directory while the slot lives. Dropping the [`Slot`] releases both, so a
//! slot owned by a connection is released when the connection goes away.
//!
//! A backup pins the log from the first file it lists and the checkpoint it copies; a
//! replica would pin `its LSN + 1` and move the slot forward with [`Slot::advance`] as it
//! confirms records.

use std::sync::{Arc, Mutex, MutexGuard};

/// The slots of one log (shared by the log and every [`Slot`]).
#[derive(Debug, Default)]
pub struct Slots {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    next_id: u64,
    list: Vec<Entry>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    id: u64,
    lsn: u64,
    checkpoint: Option<u64>,
}

impl Slots {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // a panic elsewhere while holding the lock leaves a consistent list
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a slot pinning the records from `lsn` on (and the checkpoint of
    /// `checkpoint`, if any). The slot is released when the returned handle drops.
    ///
    /// To pin files the caller has just listed, create the slot while it holds the log
    /// (the `&mut Wal` or the lock around it), so no removal runs in between.
    pub fn create(self: &Arc<Self>, lsn: u64, checkpoint: Option<u64>) -> Slot {
        let mut inner = self.lock();
        inner.next_id += 1;
        let id = inner.next_id;
        inner.list.push(Entry {
            id,
            lsn,
            checkpoint,
        });
        Slot {
            id,
            slots: Arc::clone(self),
        }
    }

    /// How many slots are held.
    pub fn count(&self) -> usize {
        self.lock().list.len()
    }

    /// The lowest pinned LSN (`None`: no slot).
    pub fn min(&self) -> Option<u64> {
        self.lock().list.iter().map(|e| e.lsn).min()
    }

    /// The checkpoints held by slots (ascending, without duplicates).
    pub fn checkpoints(&self) -> Vec<u64> {
        let mut out: Vec<u64> = self
            .lock()
            .list
            .iter()
            .filter_map(|e| e.checkpoint)
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    fn entry(&self, id: u64) -> Option<Entry> {
        self.lock().list.iter().find(|e| e.id == id).copied()
    }
}

/// A held slot; dropping it releases the slot.
#[derive(Debug)]
pub struct Slot {
    id: u64,
    slots: Arc<Slots>,
}

impl Slot {
    /// The LSN from which the log is kept.
    pub fn lsn(&self) -> u64 {
        self.slots.entry(self.id).map_or(0, |e| e.lsn)
    }

    /// The checkpoint this slot keeps, if any.
    pub fn checkpoint(&self) -> Option<u64> {
        self.slots.entry(self.id).and_then(|e| e.checkpoint)
    }

    /// Moves the slot forward to `lsn` (never backwards: the files below the old LSN may
    /// be gone already). Files below the new lowest slot go at the next removal.
    pub fn advance(&self, lsn: u64) {
        let mut inner = self.slots.lock();
        if let Some(e) = inner.list.iter_mut().find(|e| e.id == self.id) {
            e.lsn = e.lsn.max(lsn);
        }
    }

    /// Stops keeping the checkpoint (the log stays pinned).
    pub fn release_checkpoint(&self) {
        let mut inner = self.slots.lock();
        if let Some(e) = inner.list.iter_mut().find(|e| e.id == self.id) {
            e.checkpoint = None;
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut inner = self.slots.lock();
        inner.list.retain(|e| e.id != self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_pin_until_dropped() {
        let slots = Arc::new(Slots::default());
        assert_eq!((slots.count(), slots.min()), (0, None));
        let a = slots.create(10, Some(9));
        let b = slots.create(4, None);
        let c = slots.create(7, Some(9));
        assert_eq!((slots.count(), slots.min()), (3, Some(4)));
        assert_eq!(slots.checkpoints(), vec![9]);
        assert_eq!((a.lsn(), a.checkpoint()), (10, Some(9)));
        assert_eq!(b.checkpoint(), None);
        b.advance(12);
        b.advance(5);
        assert_eq!(b.lsn(), 12);
        assert_eq!(slots.min(), Some(7));
        c.release_checkpoint();
        assert_eq!(slots.checkpoints(), vec![9]);
        drop(a);
        assert!(slots.checkpoints().is_empty());
        assert_eq!((slots.count(), slots.min()), (2, Some(7)));
        drop(c);
        drop(b);
        assert_eq!((slots.count(), slots.min()), (0, None));
    }
}
