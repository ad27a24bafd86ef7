//! The catalog: schemas, tables, columns, indexes, compute nodes and the partition map.
//!
//! A `Catalog` is an immutable snapshot shared by frontends (`Arc<Catalog>`); DDL builds a new
//! snapshot by applying a [`DdlOp`] to a clone. The same `DdlOp` is written to the WAL, so
//! replaying it at start-up rebuilds exactly the same catalog.

use amelie_common::murmur::PARTITION_SLOTS;
use amelie_common::{ColumnType, Error, IndexKind, Result, Value};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    pub ty: ColumnType,
    pub not_null: bool,
    pub default: Option<Value>,
    pub serial: bool,
    pub random: Option<i64>,
    /// Generated column expressions (`AS (expr) STORED | RESOLVED`), as source text.
    #[serde(default)]
    pub gen: Generated,
}

/// The generated-column expressions of a column, kept as their SQL source text (re-parsed with
/// `amelie_parser::parse_expr` when a statement is compiled).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Generated {
    /// `AS (expr) STORED`: evaluated over the proposed row on every insert.
    pub stored: Option<String>,
    /// `AS (expr) RESOLVED`: on a primary-key conflict, evaluated over the existing row.
    pub resolved: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IndexDef {
    pub name: String,
    pub kind: IndexKind,
    /// Column ordinals of the key, in key order.
    pub keys: Vec<usize>,
    pub unique: bool,
    pub primary: bool,
}

/// One partition of a table: owned by one node, covering hash slots `[min, max)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PartitionInfo {
    pub id: u64,
    pub node: String,
    pub min: u32,
    pub max: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub id: u64,
    pub schema: String,
    pub name: String,
    pub columns: Vec<Column>,
    /// The primary index first, then secondary indexes.
    pub indexes: Vec<IndexDef>,
    pub shared: bool,
    pub unlogged: bool,
    pub partitions: Vec<PartitionInfo>,
    /// The table's SERIAL counter (see [`Serial`]): not part of its definition, so neither
    /// encoded (WAL, checkpoint catalog) nor compared.
    #[serde(skip)]
    pub serial: Serial,
}

/// The SERIAL counter of one table, shared by all its SERIAL columns: the next value to hand
/// out. A value is taken for every inserted row (also when the row gives the column), and
/// values are unique but may have gaps (aborted transactions).
///
/// The counter belongs to the table, not to one catalog snapshot: a catalog change that
/// copies the table (ALTER, RENAME, TRUNCATE, ...) keeps sharing it, while a table made by
/// `CREATE TABLE` (or decoded from the WAL or a checkpoint) starts a fresh one at 0. The
/// executor persists its value in checkpoints and advances it past the values replayed from
/// the WAL.
#[derive(Clone, Default)]
pub struct Serial(Arc<std::sync::atomic::AtomicI64>);

impl Serial {
    /// Takes the next `n` values; returns the first.
    pub fn reserve(&self, n: usize) -> i64 {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        let add = |v: i64| Some(v.saturating_add(n));
        let relaxed = std::sync::atomic::Ordering::Relaxed;
        match self.0.fetch_update(relaxed, relaxed, add) {
            Ok(first) | Err(first) => first,
        }
    }

    /// The next value, without taking it (`serial(schema, table)`, checkpoints).
    pub fn peek(&self) -> i64 {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Recovery: a row holds value `v`, so the next value is at least `v + 1`.
    pub fn observe(&self, v: i64) {
        self.0
            .fetch_max(v.saturating_add(1), std::sync::atomic::Ordering::Relaxed);
    }

    /// `ALTER TABLE ... SET SERIAL TO v`, or a checkpoint's value: the next value is `v`.
    pub fn set(&self, v: i64) {
        self.0.store(v, std::sync::atomic::Ordering::Relaxed);
    }
}

impl std::fmt::Debug for Serial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Serial({})", self.peek())
    }
}

/// Tables are compared by definition: their counters never differ.
impl PartialEq for Serial {
    fn eq(&self, _: &Serial) -> bool {
        true
    }
}

impl Table {
    /// The shape every table must have (a primary index, index keys naming columns). A table
    /// decoded from a damaged WAL record or checkpoint may not: it is refused, not used.
    pub fn check(&self) -> Result<()> {
        let bad = self.indexes.is_empty()
            || self
                .indexes
                .iter()
                .any(|i| i.keys.iter().any(|&k| k >= self.columns.len()));
        if bad {
            return Err(Error::internal(format!(
                "table '{}': malformed definition",
                self.name
            )));
        }
        Ok(())
    }

    pub fn primary(&self) -> &IndexDef {
        &self.indexes[0]
    }

    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    pub fn is_key(&self, col: usize) -> bool {
        self.primary().keys.contains(&col)
    }

    /// Index of the partition that owns hash slot `slot` (`hash % 8096`).
    pub fn partition_for_slot(&self, slot: u32) -> usize {
        self.partitions
            .iter()
            .position(|p| slot >= p.min && slot < p.max)
            .unwrap_or(0)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    pub name: String,
    pub system: bool,
    pub create: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub uuid: String,
}

/// A catalog change. Logged in the WAL and applied identically at run time and in recovery.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum DdlOp {
    CreateNode(Node),
    CreateTable(Table),
    DropTable {
        schema: String,
        name: String,
    },
    CreateSchema(Schema),
    DropSchema {
        name: String,
        cascade: bool,
    },
    RenameSchema {
        name: String,
        new_name: String,
    },
    RenameTable {
        schema: String,
        name: String,
        new_schema: String,
        new_name: String,
    },
    SetLogged {
        schema: String,
        name: String,
        logged: bool,
    },
    RenameColumn {
        schema: String,
        table: String,
        from: String,
        to: String,
    },
    SetDefault {
        schema: String,
        table: String,
        column: String,
        default: Option<Value>,
    },
    /// `ALTER TABLE SET COLUMN c AS (expr) STORED|RESOLVED` (`value: None` unsets it).
    SetGenerated {
        schema: String,
        table: String,
        column: String,
        stored: bool,
        value: Option<String>,
    },
    AddColumn {
        schema: String,
        table: String,
        column: Column,
    },
    DropColumn {
        schema: String,
        table: String,
        name: String,
    },
    CreateIndex {
        schema: String,
        table: String,
        index: IndexDef,
    },
    DropIndex {
        schema: String,
        table: String,
        name: String,
    },
    RenameIndex {
        schema: String,
        table: String,
        name: String,
        new_name: String,
    },
    /// Removes every row; the partitions keep their ids.
    TruncateTable {
        schema: String,
        name: String,
    },
    /// `ALTER TABLE SET SERIAL TO value`: the counter itself is runtime state.
    SetSerial {
        schema: String,
        name: String,
        value: i64,
    },
    /// `DROP NODE`: only while no partition lives on it (appended last: the variant index is
    /// part of the WAL encoding).
    DropNode {
        uuid: String,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    pub schemas: Vec<Schema>,
    pub tables: Vec<Arc<Table>>,
    pub nodes: Vec<Node>,
    /// Next table id and partition id to hand out.
    pub next_table_id: u64,
    pub next_partition_id: u64,
}

impl Default for Catalog {
    fn default() -> Self {
        Catalog {
            schemas: vec![
                Schema {
                    name: "system".into(),
                    system: true,
                    create: false,
                },
                Schema {
                    name: "public".into(),
                    system: true,
                    create: true,
                },
            ],
            tables: Vec::new(),
            nodes: Vec::new(),
            next_table_id: 1,
            next_partition_id: 1,
        }
    }
}

impl Catalog {
    pub fn table(&self, schema: &str, name: &str) -> Option<&Arc<Table>> {
        self.tables
            .iter()
            .find(|t| t.schema == schema && t.name == name)
    }

    pub fn table_by_id(&self, id: u64) -> Option<&Arc<Table>> {
        self.tables.iter().find(|t| t.id == id)
    }

    pub fn schema(&self, name: &str) -> Option<&Schema> {
        self.schemas.iter().find(|s| s.name == name)
    }

    /// Builds the partition list of a new table: one partition per node for a distributed
    /// table (node i of n covers `[i*(8096/n), (i+1)*(8096/n))`, the last takes the rest),
    /// one partition on the first node for a shared table.
    pub fn plan_partitions(&self, shared: bool) -> Result<Vec<PartitionInfo>> {
        if self.nodes.is_empty() {
            return Err(Error::not_found("system has no nodes"));
        }
        let n = if shared { 1 } else { self.nodes.len() as u32 };
        let step = PARTITION_SLOTS / n;
        let mut parts = Vec::with_capacity(n as usize);
        for i in 0..n {
            let max = if i + 1 == n {
                PARTITION_SLOTS
            } else {
                (i + 1) * step
            };
            parts.push(PartitionInfo {
                id: self.next_partition_id + i as u64,
                node: self.nodes[i as usize].uuid.clone(),
                min: i * step,
                max,
            });
        }
        Ok(parts)
    }

    fn table_mut(&mut self, schema: &str, name: &str) -> Result<&mut Table> {
        self.tables
            .iter_mut()
            .find(|t| t.schema == schema && t.name == name)
            .map(Arc::make_mut)
            .ok_or_else(|| Error::not_found(format!("table '{name}': not exists")))
    }

    /// Checks that objects may be created in `schema`.
    pub fn check_create_schema(&self, schema: &str) -> Result<()> {
        match self.schema(schema) {
            None => Err(Error::not_found(format!("schema '{schema}': not exists"))),
            Some(s) if !s.create => Err(Error::unsupported(format!(
                "system schema <{schema}> cannot be used to create objects"
            ))),
            Some(_) => Ok(()),
        }
    }

    /// Validates and applies a DDL operation to this catalog.
    pub fn apply(&mut self, op: &DdlOp) -> Result<()> {
        match op {
            DdlOp::CreateNode(node) => {
                if self.nodes.iter().any(|n| n.uuid == node.uuid) {
                    return Err(Error::already_exists(format!(
                        "node '{}': already exists",
                        node.uuid
                    )));
                }
                self.nodes.push(node.clone());
            }
            DdlOp::DropNode { uuid } => {
                let Some(pos) = self.nodes.iter().position(|n| n.uuid == *uuid) else {
                    return Err(Error::not_found(format!("node '{uuid}': not exists")));
                };
                let used = self
                    .tables
                    .iter()
                    .any(|t| t.partitions.iter().any(|p| p.node == *uuid));
                if used {
                    return Err(Error::constraint(format!(
                        "node '{uuid}': has dependencies"
                    )));
                }
                self.nodes.remove(pos);
            }
            DdlOp::CreateTable(table) => {
                if self.schema(&table.schema).is_none() {
                    return Err(Error::not_found(format!(
                        "schema '{}': not exists",
                        table.schema
                    )));
                }
                if self.table(&table.schema, &table.name).is_some() {
                    return Err(Error::already_exists(format!(
                        "table '{}': already exists",
                        table.name
                    )));
                }
                self.next_table_id = self.next_table_id.max(table.id + 1);
                for p in &table.partitions {
                    self.next_partition_id = self.next_partition_id.max(p.id + 1);
                }
                self.tables.push(Arc::new(table.clone()));
            }
            DdlOp::DropTable { schema, name } => {
                let before = self.tables.len();
                self.tables
                    .retain(|t| !(t.schema == *schema && t.name == *name));
                if self.tables.len() == before {
                    return Err(Error::not_found(format!("table '{}': not exists", name)));
                }
            }
            DdlOp::CreateSchema(schema) => {
                if self.schema(&schema.name).is_some() {
                    return Err(Error::already_exists(format!(
                        "schema '{}': already exists",
                        schema.name
                    )));
                }
                self.schemas.push(schema.clone());
            }
            DdlOp::DropSchema { name, cascade } => {
                let Some(s) = self.schema(name) else {
                    return Err(Error::not_found(format!("schema '{name}': not exists")));
                };
                if s.system {
                    return Err(Error::unsupported(format!(
                        "schema '{name}': system schema cannot be dropped"
                    )));
                }
                if let Some(t) = self.tables.iter().find(|t| t.schema == *name) {
                    if !cascade {
                        return Err(Error::constraint(format!(
                            "table '{}' depends on schema '{name}",
                            t.name
                        )));
                    }
                }
                self.tables.retain(|t| t.schema != *name);
                self.schemas.retain(|s| s.name != *name);
            }
            DdlOp::RenameSchema { name, new_name } => {
                let Some(s) = self.schema(name) else {
                    return Err(Error::not_found(format!("schema '{name}': not exists")));
                };
                if s.system {
                    return Err(Error::unsupported(format!(
                        "schema '{name}': system schema cannot be altered"
                    )));
                }
                if self.schema(new_name).is_some() {
                    return Err(Error::already_exists(format!(
                        "schema '{new_name}': already exists"
                    )));
                }
                for s in self.schemas.iter_mut().filter(|s| s.name == *name) {
                    s.name = new_name.clone();
                }
                for t in self.tables.iter_mut().filter(|t| t.schema == *name) {
                    Arc::make_mut(t).schema = new_name.clone();
                }
            }
            DdlOp::RenameTable {
                schema,
                name,
                new_schema,
                new_name,
            } => {
                self.table_mut(schema, name)?;
                self.check_create_schema(new_schema)?;
                if self.table(new_schema, new_name).is_some() {
                    return Err(Error::already_exists(format!(
                        "table '{new_name}': already exists"
                    )));
                }
                let t = self.table_mut(schema, name)?;
                t.schema = new_schema.clone();
                t.name = new_name.clone();
            }
            DdlOp::SetLogged {
                schema,
                name,
                logged,
            } => self.table_mut(schema, name)?.unlogged = !logged,
            DdlOp::RenameColumn {
                schema,
                table,
                from,
                to,
            } => {
                let t = self.table_mut(schema, table)?;
                if t.column(to).is_some() {
                    return Err(Error::already_exists(format!(
                        "table '{table}': column '{to}' already exists"
                    )));
                }
                let Some(i) = t.column(from) else {
                    return Err(Error::not_found(format!(
                        "table '{table}': column '{from}' not exists"
                    )));
                };
                t.columns[i].name = to.clone();
            }
            DdlOp::SetGenerated {
                schema,
                table,
                column,
                stored,
                value,
            } => {
                let t = self.table_mut(schema, table)?;
                let Some(i) = t.column(column) else {
                    return Err(Error::not_found(format!(
                        "table '{table}': column '{column}' not exists"
                    )));
                };
                let g = &mut t.columns[i].gen;
                if *stored {
                    g.stored = value.clone();
                } else {
                    g.resolved = value.clone();
                }
            }
            DdlOp::SetDefault {
                schema,
                table,
                column,
                default,
            } => {
                let t = self.table_mut(schema, table)?;
                let Some(i) = t.column(column) else {
                    return Err(Error::not_found(format!(
                        "table '{table}': column '{column}' not exists"
                    )));
                };
                t.columns[i].default = default.clone();
            }
            DdlOp::AddColumn {
                schema,
                table,
                column,
            } => {
                let t = self.table_mut(schema, table)?;
                if t.column(&column.name).is_some() {
                    return Err(Error::already_exists(format!(
                        "table '{table}': column '{}' already exists",
                        column.name
                    )));
                }
                t.columns.push(column.clone());
            }
            DdlOp::DropColumn {
                schema,
                table,
                name,
            } => {
                let t = self.table_mut(schema, table)?;
                let Some(i) = t.column(name) else {
                    return Err(Error::not_found(format!(
                        "table '{table}': column '{name}' not exists"
                    )));
                };
                if t.indexes.iter().any(|x| x.keys.contains(&i)) {
                    return Err(Error::constraint(format!(
                        "table '{table}': column '{name}' is a key"
                    )));
                }
                t.columns.remove(i);
                for x in t.indexes.iter_mut() {
                    for k in x.keys.iter_mut() {
                        if *k > i {
                            *k -= 1;
                        }
                    }
                }
            }
            DdlOp::CreateIndex {
                schema,
                table,
                index,
            } => {
                let t = self.table_mut(schema, table)?;
                if t.indexes.iter().any(|x| x.name == index.name) {
                    return Err(Error::already_exists(format!(
                        "table '{table}' index '{}': already exists",
                        index.name
                    )));
                }
                t.indexes.push(index.clone());
            }
            DdlOp::DropIndex {
                schema,
                table,
                name,
            } => {
                let t = self.table_mut(schema, table)?;
                match t.indexes.iter().position(|x| x.name == *name && !x.primary) {
                    Some(i) => {
                        t.indexes.remove(i);
                    }
                    None => {
                        return Err(Error::not_found(format!(
                            "table '{table}' index '{name}': not exists"
                        )))
                    }
                }
            }
            DdlOp::RenameIndex {
                schema,
                table,
                name,
                new_name,
            } => {
                let t = self.table_mut(schema, table)?;
                if t.indexes.iter().any(|x| x.name == *new_name) {
                    return Err(Error::already_exists(format!(
                        "table '{table}' index '{new_name}': already exists"
                    )));
                }
                match t.indexes.iter_mut().find(|x| x.name == *name) {
                    Some(x) => x.name = new_name.clone(),
                    None => {
                        return Err(Error::not_found(format!(
                            "table '{table}' index '{name}': not exists"
                        )))
                    }
                }
            }
            DdlOp::TruncateTable { schema, name } | DdlOp::SetSerial { schema, name, .. } => {
                self.table_mut(schema, name)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use amelie_common::ErrorKind;

    fn catalog_with_nodes(n: usize) -> Catalog {
        let mut c = Catalog::default();
        for i in 0..n {
            c.apply(&DdlOp::CreateNode(Node {
                uuid: format!("node-{i}"),
            }))
            .unwrap();
        }
        c
    }

    #[test]
    fn partitions_split_slots_evenly() {
        let c = catalog_with_nodes(3);
        let p = c.plan_partitions(false).unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!((p[0].min, p[0].max), (0, 2698));
        assert_eq!((p[1].min, p[1].max), (2698, 5396));
        assert_eq!((p[2].min, p[2].max), (5396, 8096));
        assert_eq!(c.plan_partitions(true).unwrap().len(), 1);
    }

    #[test]
    fn drop_node_checks_dependencies() {
        let mut c = catalog_with_nodes(2);
        let drop = |uuid: &str| DdlOp::DropNode { uuid: uuid.into() };
        let e = c.clone().apply(&drop("x")).unwrap_err();
        assert_eq!(
            (e.kind(), e.msg()),
            (ErrorKind::NotFound, "node 'x': not exists")
        );
        let t = Table {
            id: 1,
            schema: "public".into(),
            name: "t".into(),
            columns: vec![],
            indexes: vec![],
            shared: true,
            unlogged: false,
            partitions: c.plan_partitions(true).unwrap(),
            serial: Serial::default(),
        };
        c.apply(&DdlOp::CreateTable(t)).unwrap();
        let e = c.clone().apply(&drop("node-0")).unwrap_err();
        assert_eq!(
            (e.kind(), e.msg()),
            (ErrorKind::Constraint, "node 'node-0': has dependencies")
        );
        c.apply(&drop("node-1")).unwrap();
        assert_eq!(c.nodes.len(), 1);
        assert_eq!(c.plan_partitions(false).unwrap().len(), 1);
    }

    #[test]
    fn no_nodes_is_an_error() {
        let c = Catalog::default();
        assert_eq!(
            c.plan_partitions(false).unwrap_err().msg(),
            "system has no nodes"
        );
    }

    #[test]
    fn create_and_drop_table() {
        let mut c = catalog_with_nodes(1);
        let t = Table {
            id: 1,
            schema: "public".into(),
            name: "t".into(),
            columns: vec![],
            indexes: vec![],
            shared: false,
            unlogged: false,
            partitions: c.plan_partitions(false).unwrap(),
            serial: Serial::default(),
        };
        c.apply(&DdlOp::CreateTable(t.clone())).unwrap();
        let e = c.apply(&DdlOp::CreateTable(t)).unwrap_err();
        assert_eq!(
            (e.kind(), e.msg()),
            (ErrorKind::AlreadyExists, "table 't': already exists")
        );
        let drop = DdlOp::DropTable {
            schema: "public".into(),
            name: "t".into(),
        };
        c.apply(&drop).unwrap();
        assert!(c.table("public", "t").is_none());
        let e = c.apply(&drop).unwrap_err();
        assert_eq!(
            (e.kind(), e.msg()),
            (ErrorKind::NotFound, "table 't': not exists")
        );
    }

    fn table(schema: &str, name: &str, c: &Catalog) -> Table {
        Table {
            id: c.next_table_id,
            schema: schema.into(),
            name: name.into(),
            columns: ["id", "a", "b"]
                .iter()
                .map(|n| Column {
                    name: n.to_string(),
                    ty: ColumnType::Int32,
                    not_null: false,
                    default: None,
                    serial: false,
                    random: None,
                    gen: Generated::default(),
                })
                .collect(),
            indexes: vec![IndexDef {
                name: "primary".into(),
                kind: IndexKind::Tree,
                keys: vec![0],
                unique: true,
                primary: true,
            }],
            shared: false,
            unlogged: false,
            partitions: c.plan_partitions(false).unwrap(),
            serial: Serial::default(),
        }
    }

    #[test]
    fn serial_counter_follows_the_table() {
        let mut c = catalog_with_nodes(1);
        c.apply(&DdlOp::CreateTable(table("public", "t", &c)))
            .unwrap();
        let before = c.table("public", "t").unwrap().serial.clone();
        assert_eq!(before.reserve(3), 0);
        // a change that copies the table keeps its counter
        c.apply(&DdlOp::RenameTable {
            schema: "public".into(),
            name: "t".into(),
            new_schema: "public".into(),
            new_name: "u".into(),
        })
        .unwrap();
        let after = &c.table("public", "u").unwrap().serial;
        assert_eq!(after.reserve(1), 3);
        assert_eq!(before.peek(), 4);
        after.observe(9);
        after.observe(2);
        assert_eq!(before.peek(), 10);
        // a new table of the same name starts at 0
        c.apply(&DdlOp::DropTable {
            schema: "public".into(),
            name: "u".into(),
        })
        .unwrap();
        c.apply(&DdlOp::CreateTable(table("public", "u", &c)))
            .unwrap();
        assert_eq!(c.table("public", "u").unwrap().serial.peek(), 0);
    }

    #[test]
    fn schema_create_rename_drop_cascade() {
        let mut c = catalog_with_nodes(1);
        c.apply(&DdlOp::CreateSchema(Schema {
            name: "s".into(),
            system: false,
            create: true,
        }))
        .unwrap();
        let t = table("s", "t", &c);
        c.apply(&DdlOp::CreateTable(t)).unwrap();
        let drop = DdlOp::DropSchema {
            name: "s".into(),
            cascade: false,
        };
        assert_eq!(
            c.apply(&drop).unwrap_err().msg(),
            "table 't' depends on schema 's"
        );
        c.apply(&DdlOp::RenameSchema {
            name: "s".into(),
            new_name: "s2".into(),
        })
        .unwrap();
        assert!(c.table("s2", "t").is_some());
        assert!(c
            .apply(&DdlOp::DropSchema {
                name: "public".into(),
                cascade: true
            })
            .is_err());
        c.apply(&DdlOp::DropSchema {
            name: "s2".into(),
            cascade: true,
        })
        .unwrap();
        assert!(c.tables.is_empty() && c.schema("s2").is_none());
    }

    #[test]
    fn columns_and_indexes() {
        let mut c = catalog_with_nodes(1);
        let t = table("public", "t", &c);
        c.apply(&DdlOp::CreateTable(t)).unwrap();
        let (schema, tn) = (String::from("public"), String::from("t"));
        c.apply(&DdlOp::CreateIndex {
            schema: schema.clone(),
            table: tn.clone(),
            index: IndexDef {
                name: "i".into(),
                kind: IndexKind::Tree,
                keys: vec![2, 0],
                unique: false,
                primary: false,
            },
        })
        .unwrap();
        let drop_key = DdlOp::DropColumn {
            schema: schema.clone(),
            table: tn.clone(),
            name: "b".into(),
        };
        assert_eq!(
            c.apply(&drop_key).unwrap_err().msg(),
            "table 't': column 'b' is a key"
        );
        c.apply(&DdlOp::DropColumn {
            schema: schema.clone(),
            table: tn.clone(),
            name: "a".into(),
        })
        .unwrap();
        let t = c.table("public", "t").unwrap();
        assert_eq!(t.indexes[1].keys, vec![1, 0]);
        c.apply(&DdlOp::RenameIndex {
            schema: schema.clone(),
            table: tn.clone(),
            name: "i".into(),
            new_name: "j".into(),
        })
        .unwrap();
        c.apply(&DdlOp::DropIndex {
            schema,
            table: tn,
            name: "j".into(),
        })
        .unwrap();
        assert_eq!(c.table("public", "t").unwrap().indexes.len(), 1);
    }
}
