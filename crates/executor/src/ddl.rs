//! DDL: a catalog change run alone. [`Executor::ddl`] waits for every transaction in flight
//! (the exclusive side of the control lock), writes the [`DdlOp`] to the WAL and applies it;
//! [`Executor::apply_ddl`] is the one place a `DdlOp` takes effect, at run time and in
//! recovery: the new catalog snapshot and the node side (node threads, partitions, secondary
//! indexes, row rewrites, SERIAL counters).

use crate::wal_body::WalBody;
use crate::Executor;
use amelie_catalog::{Catalog, DdlOp, Node};
use amelie_common::{Error, Result, Value};
use amelie_node::{NodeHandle, NodeMsg};
use std::sync::atomic::Ordering;
use std::sync::Arc;

impl Executor {
    /// Runs a DDL operation alone: waits for every transaction in flight, applies it and
    /// writes it to the WAL.
    pub async fn ddl(&self, mut op: DdlOp) -> Result<()> {
        let _exclusive = self.control.write().await;
        if let DdlOp::CreateTable(t) = &mut op {
            // ids and partitions are assigned against the catalog as it is now
            let catalog = self.catalog();
            t.id = catalog.next_table_id;
            t.partitions = catalog.plan_partitions(t.shared)?;
        }
        let body = WalBody::encode_ddl(&op);
        let catalog_check = {
            let mut c = (*self.catalog()).clone();
            c.apply(&op)
        };
        catalog_check?;
        let lsn = self.lsn.load(Ordering::Acquire) + 1;
        self.wal
            .lock()
            .write_batch(&[(lsn, 1, &body)])
            .map_err(Error::from)?;
        self.lsn.store(lsn, Ordering::Release);
        tracing::debug!(lsn, op = ?op, "ddl");
        self.apply_ddl(&op)
    }

    /// Creates a compute node (bootstrap; `CREATE NODE` later).
    pub async fn create_node(&self, uuid: String) -> Result<()> {
        self.ddl(DdlOp::CreateNode(Node { uuid })).await
    }

    /// Bootstraps a new repository: creates its compute nodes without logging them, sets the
    /// LSN to 1 and writes checkpoint 1, which holds the node definitions. A fresh repository
    /// is checkpoint 1 at LSN 1 whatever the number of nodes, as in Amelie.
    pub async fn bootstrap(&self, uuids: Vec<String>) -> Result<()> {
        {
            let _exclusive = self.control.write().await;
            if self.lsn() != 0 {
                return Err(Error::internal("bootstrap: the repository is not empty"));
            }
            for uuid in uuids {
                self.apply_ddl(&DdlOp::CreateNode(Node { uuid }))?;
            }
            self.lsn.store(1, Ordering::Release);
        }
        self.checkpoint(None).await
    }

    /// Applies a DDL operation (no WAL): the new catalog snapshot, and its node side. The one
    /// place a `DdlOp` takes effect, at run time ([`Executor::ddl`]) and in recovery.
    pub(crate) fn apply_ddl(&self, op: &DdlOp) -> Result<()> {
        let mut new = (*self.catalog()).clone();
        new.apply(op)?;
        self.apply_nodes(op, &new)?;
        *self.catalog.write() = Arc::new(new);
        Ok(())
    }

    /// The node side of a catalog change: node threads, partitions, secondary indexes, row
    /// rewrites and SERIAL counters (`new` is the catalog after the change, `self.catalog()`
    /// still the one before it).
    fn apply_nodes(&self, op: &DdlOp, new: &Catalog) -> Result<()> {
        let old = self.catalog();
        let nodes = self.nodes();
        let node = |uuid: &str| -> Result<Arc<NodeHandle>> {
            nodes
                .iter()
                .find(|n| n.uuid == uuid)
                .cloned()
                .ok_or_else(|| Error::not_found(format!("node '{uuid}': not exists")))
        };
        match op {
            DdlOp::CreateNode(n) => {
                let handle = Arc::new(NodeHandle::start_with(
                    n.uuid.clone(),
                    self.commit.committed.clone(),
                ));
                let mut nodes = (*self.nodes()).clone();
                nodes.push(handle);
                *self.nodes.write() = Arc::new(nodes);
            }
            DdlOp::DropNode { uuid } => self.stop_node(uuid),
            DdlOp::CreateTable(t) => {
                for p in &t.partitions {
                    let n = node(&p.node)?;
                    let (id, table_id, kind, keys) =
                        (p.id, t.id, t.primary().kind, t.primary().keys.clone());
                    n.call(|done| NodeMsg::CreatePartition {
                        id,
                        table_id,
                        kind,
                        keys,
                        done,
                    })?;
                }
            }
            DdlOp::DropTable { schema, name } => {
                if let Some(t) = old.table(schema, name) {
                    for p in &t.partitions {
                        node(&p.node)?.call(|done| NodeMsg::DropPartition { id: p.id, done })?;
                    }
                }
            }
            DdlOp::DropSchema { name, .. } => {
                for t in old.tables.iter().filter(|t| t.schema == *name) {
                    for p in &t.partitions {
                        node(&p.node)?.call(|done| NodeMsg::DropPartition { id: p.id, done })?;
                    }
                }
            }
            DdlOp::TruncateTable { schema, name } => {
                if let Some(t) = old.table(schema, name) {
                    for p in &t.partitions {
                        let n = node(&p.node)?;
                        n.call(|done| NodeMsg::DropPartition { id: p.id, done })?;
                        n.call(|done| NodeMsg::CreatePartition {
                            id: p.id,
                            table_id: t.id,
                            kind: t.primary().kind,
                            keys: t.primary().keys.clone(),
                            done,
                        })?;
                        for x in t.indexes.iter().skip(1) {
                            n.call(|done| NodeMsg::CreateSecondary {
                                id: p.id,
                                cols: x.keys.clone(),
                                unique: x.unique,
                                done,
                            })?;
                        }
                    }
                }
            }
            DdlOp::CreateIndex {
                schema,
                table,
                index,
            } => {
                if let Some(t) = new.table(schema, table) {
                    on_all_partitions(t, &node, |id, done| NodeMsg::CreateSecondary {
                        id,
                        cols: index.keys.clone(),
                        unique: index.unique,
                        done,
                    })?;
                }
            }
            DdlOp::DropIndex {
                schema,
                table,
                name,
            } => {
                let pos = old
                    .table(schema, table)
                    .and_then(|t| t.indexes.iter().position(|x| x.name == *name));
                if let (Some(t), Some(pos)) = (old.table(schema, table), pos) {
                    for p in &t.partitions {
                        node(&p.node)?.call(|done| NodeMsg::DropSecondary {
                            id: p.id,
                            index: pos.saturating_sub(1),
                            done,
                        })?;
                    }
                }
            }
            DdlOp::AddColumn {
                schema,
                table,
                column,
            } => {
                if let Some(t) = new.table(schema, table) {
                    // existing rows get NULL; the default applies to new rows only
                    let add = Value::Null;
                    let _ = column;
                    on_all_partitions(t, &node, |id, done| NodeMsg::RewriteRows {
                        id,
                        add: Some(add.clone()),
                        drop: None,
                        key_cols: t.primary().keys.clone(),
                        done,
                    })?;
                }
            }
            DdlOp::DropColumn {
                schema,
                table,
                name,
            } => {
                let i = old.table(schema, table).and_then(|t| t.column(name));
                if let (Some(t), Some(i)) = (new.table(schema, table), i) {
                    on_all_partitions(t, &node, |id, done| NodeMsg::RewriteRows {
                        id,
                        add: None,
                        drop: Some(i),
                        key_cols: t.primary().keys.clone(),
                        done,
                    })?;
                }
            }
            DdlOp::SetSerial {
                schema,
                name,
                value,
            } => {
                if let Some(t) = new.table(schema, name) {
                    t.serial.set(*value);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Removes a dropped node from the running set and stops its thread (its handle's drop
    /// joins it once the last in-flight reference is gone; DDL runs alone, so that is now).
    pub(crate) fn stop_node(&self, uuid: &str) {
        let mut nodes = (*self.nodes()).clone();
        let stopped: Vec<_> = nodes.iter().filter(|n| n.uuid == uuid).cloned().collect();
        nodes.retain(|n| n.uuid != uuid);
        *self.nodes.write() = std::sync::Arc::new(nodes);
        drop(stopped);
    }
}

/// Sends one message per partition of `t` to the node owning it, all before waiting for any
/// answer, so every node rebuilds its partition (CREATE INDEX, ADD/DROP COLUMN) in parallel.
fn on_all_partitions(
    t: &amelie_catalog::Table,
    node: &dyn Fn(&str) -> Result<Arc<amelie_node::NodeHandle>>,
    make: impl Fn(u64, crossbeam_channel::Sender<()>) -> amelie_node::NodeMsg,
) -> Result<()> {
    let mut waits = Vec::with_capacity(t.partitions.len());
    for p in &t.partitions {
        let (done, wait) = crossbeam_channel::bounded(1);
        node(&p.node)?.send(make(p.id, done))?;
        waits.push(wait);
    }
    for w in waits {
        w.recv()
            .map_err(|_| amelie_common::Error::new("compute node is not running"))?;
    }
    Ok(())
}
