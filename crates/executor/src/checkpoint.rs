//! Checkpoints: `CHECKPOINT [WORKERS n]` and loading the newest one at start-up.
//!
//! A checkpoint is taken under the exclusive control lock, so no transaction is in flight and
//! the LSN is fixed. Every node writes a snapshot of each of its partitions in parallel into
//! `<repo>/<lsn>.incomplete/<%010id>.part`; the catalog and the SERIAL counters go to
//! `catalog.snap` (same framing: magic, version, crc32). The directory is then renamed to
//! `<repo>/<lsn>/`, older checkpoints are removed, and WAL files wholly covered by it too,
//! except what a WAL slot holds (a running backup: its checkpoint and the WAL after it).

use crate::Executor;
use amelie_catalog::Catalog;
use amelie_common::{Error, Result};
use amelie_node::snapshot;
use amelie_node::{NodeHandle, NodeMsg};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

const CATALOG_FILE: &str = "catalog.snap";

/// The catalog file of a checkpoint.
#[derive(Serialize, Deserialize)]
struct CatalogFile {
    lsn: u64,
    catalog: Catalog,
    /// Next SERIAL value per table id.
    serials: Vec<(u64, i64)>,
}

/// What start-up loaded from a checkpoint.
#[derive(Debug, Default, Clone)]
pub struct CheckpointLoad {
    pub lsn: u64,
    pub partitions: u64,
    pub rows: u64,
}

/// The text may reach a client (`CHECKPOINT`): the path is shown relative to the repository
/// (`<lsn>.incomplete`, `<lsn>/0000000001.part`), never absolute.
fn io_err(path: &Path, e: std::io::Error) -> Error {
    let in_checkpoint = path
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
        .is_some_and(|n| {
            let lsn = n.strip_suffix(".incomplete").unwrap_or(n);
            !lsn.is_empty() && lsn.bytes().all(|b| b.is_ascii_digit())
        });
    let shown = if in_checkpoint {
        amelie_common::path_tail(path)
    } else {
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    Error::io(format!("checkpoint '{shown}': {e}"))
}

/// Complete checkpoint directories (`<lsn>/`) and incomplete ones (`<lsn>.incomplete/`).
fn scan_dir(dir: &Path) -> Result<(Vec<u64>, Vec<PathBuf>)> {
    let mut complete = Vec::new();
    let mut incomplete = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((complete, incomplete)),
        Err(e) => return Err(io_err(dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| io_err(dir, e))?;
        if !entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            continue;
        }
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(base) = name.strip_suffix(".incomplete") {
            if base.parse::<u64>().is_ok() {
                incomplete.push(entry.path());
            }
        } else if let Ok(lsn) = name.parse::<u64>() {
            complete.push(lsn);
        }
    }
    complete.sort_unstable();
    Ok((complete, incomplete))
}

fn sync_dir(dir: &Path) {
    if let Ok(f) = std::fs::File::open(dir) {
        let _ = f.sync_all();
    }
}

/// Removes `*.incomplete` directories and complete checkpoints other than `keep` and those
/// a WAL slot holds (`pinned`: a running backup copies them).
fn remove_others(dir: &Path, keep: u64, pinned: &[u64]) -> Result<()> {
    let (complete, incomplete) = scan_dir(dir)?;
    for p in incomplete {
        std::fs::remove_dir_all(&p).map_err(|e| io_err(&p, e))?;
    }
    for lsn in complete
        .into_iter()
        .filter(|l| *l != keep && !pinned.contains(l))
    {
        let p = dir.join(lsn.to_string());
        std::fs::remove_dir_all(&p).map_err(|e| io_err(&p, e))?;
    }
    Ok(())
}

impl Executor {
    /// Sets how many nodes write their snapshots at once when CHECKPOINT names no WORKERS.
    pub fn set_checkpoint_workers(&self, n: u64) {
        self.checkpoint_workers.store(n, Ordering::Relaxed);
    }

    pub(crate) fn default_checkpoint_workers(&self) -> Option<usize> {
        match self.checkpoint_workers.load(Ordering::Relaxed) {
            0 => None,
            n => Some(usize::try_from(n).unwrap_or(usize::MAX)),
        }
    }

    /// The LSN of the newest checkpoint (0: none).
    pub fn checkpoint_lsn(&self) -> u64 {
        self.checkpoint.load(Ordering::Acquire)
    }

    /// `CHECKPOINT [WORKERS n]`: a snapshot of every partition at the current LSN. A no-op if
    /// a checkpoint for this LSN exists. Every node writes its own partitions; `workers`
    /// bounds how many nodes write at the same time (default: all of them).
    pub async fn checkpoint(&self, workers: Option<i64>) -> Result<()> {
        if workers.is_some_and(|w| w <= 0) {
            return Err(Error::syntax("CHECKPOINT WORKERS <integer> expected"));
        }
        let Some(dir) = self.dir.clone() else {
            return Err(Error::io("checkpoint: no repository directory"));
        };
        let _exclusive = self.control.write().await;
        let lsn = self.lsn();
        let target = dir.join(lsn.to_string());
        if target.is_dir() {
            return Ok(());
        }
        let started = std::time::Instant::now();
        tracing::info!(lsn, "checkpoint: start");
        match self.write_and_install(&dir, lsn, workers) {
            Ok(wal_files) => {
                tracing::info!(
                    lsn,
                    wal_files_removed = wal_files,
                    ms = started.elapsed().as_millis() as u64,
                    "checkpoint: done"
                );
                Ok(())
            }
            Err(e) => {
                tracing::error!(lsn, error = e.msg(), "checkpoint: failed");
                Err(e)
            }
        }
    }

    /// The work of [`Executor::checkpoint`] under the exclusive lock: writes the checkpoint
    /// of `lsn`, makes it the current one and removes what it covers. Returns the number of
    /// WAL files removed.
    fn write_and_install(&self, dir: &Path, lsn: u64, workers: Option<i64>) -> Result<usize> {
        let target = dir.join(lsn.to_string());
        let tmp = dir.join(format!("{lsn}.incomplete"));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(|e| io_err(&tmp, e))?;
        }
        std::fs::create_dir_all(&tmp).map_err(|e| io_err(&tmp, e))?;
        let workers = workers
            .map(|w| usize::try_from(w).unwrap_or(usize::MAX))
            .or_else(|| self.default_checkpoint_workers());
        let result = self.write_checkpoint(&tmp, lsn, workers);
        if let Err(e) = result {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
        sync_dir(&tmp);
        std::fs::rename(&tmp, &target).map_err(|e| io_err(&target, e))?;
        sync_dir(dir);
        self.checkpoint.store(lsn, Ordering::Release);
        // a running backup's checkpoint and WAL stay (its slot); the exclusive lock keeps
        // new backups out meanwhile
        let pinned = self.wal.lock().slots().checkpoints();
        remove_others(dir, lsn, &pinned)?;
        self.wal
            .lock()
            .remove_below(lsn.saturating_add(1))
            .map_err(Error::from)
    }

    fn write_checkpoint(&self, tmp: &Path, lsn: u64, workers: Option<usize>) -> Result<()> {
        let catalog = self.catalog();
        let nodes = self.nodes();
        let serials = catalog
            .tables
            .iter()
            .filter(|t| t.columns.iter().any(|c| c.serial))
            .map(|t| (t.id, t.serial.peek()))
            .collect();
        let file = CatalogFile {
            lsn,
            catalog: (*catalog).clone(),
            serials,
        };
        snapshot::write_file(&tmp.join(CATALOG_FILE), &snapshot::encode(&file)?)?;
        // every node writes its own partitions; up to `workers` nodes at a time
        let workers = workers.unwrap_or(nodes.len()).max(1);
        let mut first_err = None;
        for group in nodes.chunks(workers) {
            let mut waits = Vec::with_capacity(group.len());
            for n in group {
                let partitions: Vec<u64> = catalog
                    .tables
                    .iter()
                    .flat_map(|t| t.partitions.iter())
                    .filter(|p| p.node == n.uuid)
                    .map(|p| p.id)
                    .collect();
                let (done, wait) = crossbeam_channel::bounded(1);
                n.send(NodeMsg::Snapshot {
                    partitions,
                    dir: tmp.to_path_buf(),
                    done,
                })?;
                waits.push(wait);
            }
            for w in waits {
                match w.recv() {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => {
                        first_err.get_or_insert(e);
                    }
                    Err(_) => {
                        first_err.get_or_insert(Error::new("compute node is not running"));
                    }
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Start-up: removes incomplete checkpoints and loads the newest complete one (catalog,
    /// nodes, then every partition on its node in parallel). Returns what was loaded (lsn 0:
    /// there was none).
    pub(crate) fn load_checkpoint(&self) -> Result<CheckpointLoad> {
        let Some(dir) = self.dir.clone() else {
            return Ok(CheckpointLoad::default());
        };
        let (complete, incomplete) = scan_dir(&dir)?;
        for p in incomplete {
            std::fs::remove_dir_all(&p).map_err(|e| io_err(&p, e))?;
        }
        let Some(&lsn) = complete.last() else {
            return Ok(CheckpointLoad::default());
        };
        let cdir = dir.join(lsn.to_string());
        let file: CatalogFile = snapshot::read_file(&cdir.join(CATALOG_FILE))?;
        let catalog = file.catalog;
        for t in &catalog.tables {
            t.check()?;
        }
        let nodes: Vec<Arc<NodeHandle>> = catalog
            .nodes
            .iter()
            .map(|n| {
                Arc::new(NodeHandle::start_with(
                    n.uuid.clone(),
                    self.commit.committed.clone(),
                ))
            })
            .collect();
        let node_of = |uuid: &str| {
            nodes
                .iter()
                .find(|n| n.uuid == uuid)
                .ok_or_else(|| Error::not_found(format!("checkpoint: node '{uuid}' not exists")))
        };
        let mut waits = Vec::new();
        let mut load = CheckpointLoad {
            lsn,
            ..Default::default()
        };
        for t in &catalog.tables {
            let primary = t.primary();
            for p in &t.partitions {
                let n = node_of(&p.node)?;
                let (id, table_id, kind, keys) = (p.id, t.id, primary.kind, primary.keys.clone());
                n.send(NodeMsg::CreatePartition {
                    id,
                    table_id,
                    kind,
                    keys,
                    done: crossbeam_channel::bounded(1).0,
                })?;
                for index in t.indexes.iter().skip(1) {
                    n.send(NodeMsg::CreateSecondary {
                        id,
                        cols: index.keys.clone(),
                        unique: index.unique,
                        strict: false,
                        done: crossbeam_channel::bounded(1).0,
                    })?;
                }
                let (done, wait) = crossbeam_channel::bounded(1);
                n.send(NodeMsg::LoadSnapshot {
                    id,
                    path: snapshot::part_path(&cdir, id),
                    done,
                })?;
                waits.push(wait);
                load.partitions += 1;
            }
        }
        let mut first_err = None;
        for w in waits {
            match w.recv() {
                Ok(Ok(rows)) => load.rows += rows,
                Ok(Err(e)) => {
                    first_err.get_or_insert(e);
                }
                Err(_) => {
                    first_err.get_or_insert(Error::new("compute node is not running"));
                }
            }
        }
        if let Some(e) = first_err {
            return Err(e);
        }
        for (table, next) in file.serials {
            if let Some(t) = catalog.tables.iter().find(|t| t.id == table) {
                t.serial.set(next);
            }
        }
        *self.nodes.write() = Arc::new(nodes);
        *self.catalog.write() = Arc::new(catalog);
        self.checkpoint.store(lsn, Ordering::Release);
        Ok(load)
    }
}

/// `checkpoint_interval` as a duration; None (periodic checkpoints off) when it is not a
/// valid positive interval. Months count as 30 days.
pub fn interval_duration(text: &str) -> Option<std::time::Duration> {
    let iv = amelie_common::time::parse_interval(text).ok()?;
    const DAY: i128 = 86_400_000_000;
    let us = iv.us as i128 + iv.days as i128 * DAY + iv.months as i128 * 30 * DAY;
    (us > 0).then(|| std::time::Duration::from_micros(u64::try_from(us).unwrap_or(u64::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_durations() {
        use std::time::Duration;
        assert_eq!(interval_duration("5 min"), Some(Duration::from_secs(300)));
        assert_eq!(
            interval_duration("1 day 1 sec"),
            Some(Duration::from_secs(86401))
        );
        assert_eq!(interval_duration("0 sec"), None);
        assert_eq!(interval_duration("-1 min"), None);
        assert_eq!(interval_duration("soon"), None);
        assert_eq!(interval_duration(""), None);
    }

    #[test]
    fn io_errors_name_files_relative_to_the_repository() {
        let e = || std::io::Error::from(std::io::ErrorKind::NotFound);
        let msg = |p: &str| io_err(Path::new(p), e()).msg().to_string();
        assert!(msg("/srv/db/12.incomplete").starts_with("checkpoint '12.incomplete': "));
        assert!(msg("/srv/db/12/0000000001.part").starts_with("checkpoint '12/0000000001.part': "));
        assert!(msg("/srv/db/12.incomplete/catalog.snap")
            .starts_with("checkpoint '12.incomplete/catalog.snap': "));
        assert!(msg("/srv/db").starts_with("checkpoint 'db': "));
    }

    #[test]
    fn scan_finds_complete_and_incomplete() {
        let dir = std::env::temp_dir().join(format!("amelie-ckpt-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for d in ["3", "12", "15.incomplete", "wal", "x.incomplete"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        std::fs::write(dir.join("20"), b"not a dir").unwrap();
        let (complete, incomplete) = scan_dir(&dir).unwrap();
        assert_eq!(complete, vec![3, 12]);
        assert_eq!(incomplete, vec![dir.join("15.incomplete")]);
        remove_others(&dir, 12, &[3]).unwrap();
        let (complete, incomplete) = scan_dir(&dir).unwrap();
        assert_eq!(complete, vec![3, 12]);
        assert!(incomplete.is_empty());
        remove_others(&dir, 12, &[]).unwrap();
        let (complete, incomplete) = scan_dir(&dir).unwrap();
        assert_eq!(complete, vec![12]);
        assert!(incomplete.is_empty());
        assert!(dir.join("wal").is_dir());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_dir_is_empty() {
        let (c, i) = scan_dir(Path::new("/nonexistent/amelie/ckpt")).unwrap();
        assert!(c.is_empty() && i.is_empty());
    }
}
