//! DDL: a catalog change run alone. [`Executor::ddl`] waits for every transaction in flight
//! (the exclusive side of the control lock), writes the [`DdlOp`] to the WAL and applies it;
//! [`Executor::apply_ddl`] is the one place a `DdlOp` takes effect, at run time and in
//! recovery: the new catalog snapshot and the node side (node threads, partitions, secondary
//! indexes, row rewrites, SERIAL counters).

use crate::wal_body::WalBody;
use crate::Executor;
use amelie_catalog::{Catalog, DdlOp, IndexDef, Node};
use amelie_common::{Error, Result, Value};
use amelie_node::{NodeHandle, NodeMsg};
use std::sync::atomic::Ordering;
use std::sync::Arc;

impl Executor {
    /// Runs a DDL operation alone: waits for every transaction in flight, applies it and
    /// writes it to the WAL.
    pub async fn ddl(&self, mut op: DdlOp) -> Result<()> {
        let _exclusive = self.control.write().await;
        // intake admitted this DDL; a SUBSCRIBE may have made the server read-only while it
        // waited for the lock
        self.admit(amelie_parser::Effect::Write)?;
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
        // an index is built before it is logged: CREATE UNIQUE INDEX over rows that share a
        // key fails here, and leaves neither an index nor a WAL record behind
        let built = match &op {
            DdlOp::CreateIndex {
                schema,
                table,
                index,
            } => {
                self.build_index(schema, table, index)?;
                true
            }
            _ => false,
        };
        let lsn = self.lsn.load(Ordering::Acquire) + 1;
        let written = self.wal.lock().write_batch(&[(lsn, 1, &body)]);
        if let Err(e) = written {
            if let DdlOp::CreateIndex { schema, table, .. } = &op {
                self.unbuild_index(schema, table, None)?;
            }
            return Err(Error::from(e));
        }
        self.lsn.store(lsn, Ordering::Release);
        tracing::debug!(lsn, op = ?op, "ddl");
        if built {
            let mut new = (*self.catalog()).clone();
            new.apply(&op)?;
            *self.catalog.write() = Arc::new(new);
            return Ok(());
        }
        self.apply_ddl(&op)
    }

    /// Builds the secondary index `index` of `schema.table` on every partition, checking a
    /// unique index against the rows: when one partition holds two rows with the same key,
    /// the index is taken off the partitions that built it and the answer is `index unique
    /// constraint violation`.
    fn build_index(&self, schema: &str, table: &str, index: &IndexDef) -> Result<()> {
        let catalog = self.catalog();
        let t = catalog
            .table(schema, table)
            .ok_or_else(|| Error::not_found(format!("table '{table}': not exists")))?;
        let nodes = self.nodes();
        let node = |uuid: &str| node_of(&nodes, uuid);
        let built = on_all_partitions(t, &node, |id, done| NodeMsg::CreateSecondary {
            id,
            cols: index.keys.clone(),
            unique: index.unique,
            strict: true,
            done,
        })?;
        if built.iter().all(|b| *b) {
            return Ok(());
        }
        self.unbuild_index(schema, table, Some(&built))?;
        Err(Error::constraint("index unique constraint violation"))
    }

    /// Drops the secondary index [`Executor::build_index`] appended to the partitions of
    /// `schema.table` (all of them, or those whose entry of `built` is true); the catalog
    /// does not hold it yet.
    fn unbuild_index(&self, schema: &str, table: &str, built: Option<&[bool]>) -> Result<()> {
        let catalog = self.catalog();
        let Some(t) = catalog.table(schema, table) else {
            return Ok(());
        };
        // the new index comes after the table's existing secondary indexes
        let index = t.indexes.len().saturating_sub(1);
        let nodes = self.nodes();
        for (i, p) in t.partitions.iter().enumerate() {
            if built.is_some_and(|b| !b.get(i).copied().unwrap_or(false)) {
                continue;
            }
            node_of(&nodes, &p.node)?.call(|done| NodeMsg::DropSecondary {
                id: p.id,
                index,
                done,
            })?;
        }
        Ok(())
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
        let node = |uuid: &str| node_of(&nodes, uuid);
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
                                strict: false,
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
                    // (at run time the index was built, and checked, before it was logged)
                    on_all_partitions(t, &node, |id, done| NodeMsg::CreateSecondary {
                        id,
                        cols: index.keys.clone(),
                        unique: index.unique,
                        strict: false,
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

/// The running node `uuid`.
fn node_of(nodes: &[Arc<NodeHandle>], uuid: &str) -> Result<Arc<NodeHandle>> {
    nodes
        .iter()
        .find(|n| n.uuid == uuid)
        .cloned()
        .ok_or_else(|| Error::not_found(format!("node '{uuid}': not exists")))
}

/// Sends one message per partition of `t` to the node owning it, all before waiting for any
/// answer, so every node rebuilds its partition (CREATE INDEX, ADD/DROP COLUMN) in parallel.
/// The answers come back in the order of `t.partitions`.
fn on_all_partitions<T>(
    t: &amelie_catalog::Table,
    node: &dyn Fn(&str) -> Result<Arc<amelie_node::NodeHandle>>,
    make: impl Fn(u64, crossbeam_channel::Sender<T>) -> amelie_node::NodeMsg,
) -> Result<Vec<T>> {
    let mut waits = Vec::with_capacity(t.partitions.len());
    for p in &t.partitions {
        let (done, wait) = crossbeam_channel::bounded(1);
        node(&p.node)?.send(make(p.id, done))?;
        waits.push(wait);
    }
    let mut out = Vec::with_capacity(waits.len());
    for w in waits {
        out.push(
            w.recv()
                .map_err(|_| amelie_common::Error::new("compute node is not running"))?,
        );
    }
    Ok(out)
}
