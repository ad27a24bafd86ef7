//! Utility statements: CREATE TABLE / DROP TABLE.

use crate::builder::{Builder, CompileCtx};
use crate::expr::const_value;
use crate::output::Compiled;
use amelie_catalog::{Catalog, Column, DdlOp, IndexDef, Schema, Table};
use amelie_common::{Error, IndexKind, Result};
use amelie_parser::{AlterTableOp, CreateIndex, CreateTable, ObjectName, Stmt};

fn schema_of(name: &ObjectName) -> String {
    name.schema.clone().unwrap_or_else(|| "public".into())
}

/// Resolves a table for a utility statement: `Ok(None)` when it does not exist and
/// `if_exists` is set.
fn find_table<'a>(
    catalog: &'a Catalog,
    name: &ObjectName,
    if_exists: bool,
) -> Result<Option<&'a Table>> {
    match catalog.table(&schema_of(name), &name.name) {
        Some(t) => Ok(Some(t)),
        None if if_exists => Ok(None),
        None => Err(Error::not_found(format!(
            "table '{}': not exists",
            name.name
        ))),
    }
}

pub fn compile_utility(stmt: &Stmt, catalog: &Catalog) -> Result<Compiled> {
    match stmt {
        Stmt::CreateTable(ct) => create_table(ct, catalog),
        Stmt::DropTable { if_exists, name } => {
            let schema = name.schema.clone().unwrap_or_else(|| "public".into());
            if catalog.table(&schema, &name.name).is_none() {
                if *if_exists {
                    return Ok(Compiled::Nothing);
                }
                return Err(Error::not_found(format!(
                    "table '{}': not exists",
                    name.name
                )));
            }
            Ok(Compiled::Ddl(DdlOp::DropTable {
                schema,
                name: name.name.clone(),
            }))
        }
        Stmt::CreateSchema {
            if_not_exists,
            name,
        } => {
            if catalog.schema(name).is_some() {
                if *if_not_exists {
                    return Ok(Compiled::Nothing);
                }
                return Err(Error::already_exists(format!(
                    "schema '{name}': already exists"
                )));
            }
            Ok(Compiled::Ddl(DdlOp::CreateSchema(Schema {
                name: name.clone(),
                system: false,
                create: true,
            })))
        }
        Stmt::DropSchema {
            if_exists,
            name,
            cascade,
        } => {
            if catalog.schema(name).is_none() && *if_exists {
                return Ok(Compiled::Nothing);
            }
            check(
                catalog,
                DdlOp::DropSchema {
                    name: name.clone(),
                    cascade: *cascade,
                },
            )
        }
        Stmt::AlterSchema {
            if_exists,
            name,
            new_name,
        } => {
            if catalog.schema(name).is_none() && *if_exists {
                return Ok(Compiled::Nothing);
            }
            check(
                catalog,
                DdlOp::RenameSchema {
                    name: name.clone(),
                    new_name: new_name.clone(),
                },
            )
        }
        Stmt::Truncate { if_exists, name } => match find_table(catalog, name, *if_exists)? {
            None => Ok(Compiled::Nothing),
            Some(t) => Ok(Compiled::Ddl(DdlOp::TruncateTable {
                schema: t.schema.clone(),
                name: t.name.clone(),
            })),
        },
        Stmt::CreateIndex(ci) => create_index(ci, catalog),
        Stmt::DropIndex {
            if_exists,
            name,
            table,
        } => {
            let t = find_table(catalog, table, false)?.ok_or_else(|| Error::internal("table"))?;
            if *if_exists && !t.indexes.iter().any(|i| i.name == *name) {
                return Ok(Compiled::Nothing);
            }
            check(
                catalog,
                DdlOp::DropIndex {
                    schema: t.schema.clone(),
                    table: t.name.clone(),
                    name: name.clone(),
                },
            )
        }
        Stmt::AlterIndex {
            if_exists,
            name,
            table,
            new_name,
        } => {
            let t = find_table(catalog, table, false)?.ok_or_else(|| Error::internal("table"))?;
            if *if_exists && !t.indexes.iter().any(|i| i.name == *name) {
                return Ok(Compiled::Nothing);
            }
            check(
                catalog,
                DdlOp::RenameIndex {
                    schema: t.schema.clone(),
                    table: t.name.clone(),
                    name: name.clone(),
                    new_name: new_name.clone(),
                },
            )
        }
        Stmt::AlterTable {
            if_exists,
            name,
            op,
        } => {
            let Some(t) = find_table(catalog, name, *if_exists)? else {
                return Ok(Compiled::Nothing);
            };
            alter_table(t, op, catalog)
        }
        _ => Err(Error::internal("unexpected statement")),
    }
}

/// Validates `op` against the catalog now so errors come out before the exclusive lock.
fn check(catalog: &Catalog, op: DdlOp) -> Result<Compiled> {
    let mut c = catalog.clone();
    c.apply(&op)?;
    Ok(Compiled::Ddl(op))
}

fn create_index(ci: &CreateIndex, catalog: &Catalog) -> Result<Compiled> {
    let t = find_table(catalog, &ci.table, false)?.ok_or_else(|| Error::internal("table"))?;
    if t.indexes.iter().any(|i| i.name == ci.name) {
        if ci.if_not_exists {
            return Ok(Compiled::Nothing);
        }
        return Err(Error::already_exists(format!(
            "table '{}' index '{}': already exists",
            t.name, ci.name
        )));
    }
    if ci.unique && !t.shared {
        return Err(Error::unsupported(
            "CREATE UNIQUE INDEX cannot be created on distributed tables",
        ));
    }
    let mut keys = Vec::with_capacity(ci.keys.len());
    for k in &ci.keys {
        let pos = t
            .column(k)
            .ok_or_else(|| Error::not_found(format!("<{k}> column does not exists")))?;
        if !t.columns[pos].ty.can_be_key() {
            return Err(Error::type_error(format!(
                "<{k}> column key can be text, int32, int64 or timestamp"
            )));
        }
        keys.push(pos);
    }
    // a non-unique secondary index key ends with the primary key columns
    for k in t.primary().keys.iter().filter(|_| !ci.unique) {
        if !keys.contains(k) {
            keys.push(*k);
        }
    }
    let kind = match ci.index_type.as_deref() {
        Some(x) if x.eq_ignore_ascii_case("hash") => IndexKind::Hash,
        _ => IndexKind::Tree,
    };
    check(
        catalog,
        DdlOp::CreateIndex {
            schema: t.schema.clone(),
            table: t.name.clone(),
            index: IndexDef {
                name: ci.name.clone(),
                kind,
                keys,
                unique: ci.unique,
                primary: false,
            },
        },
    )
}

fn column_default(
    name: &str,
    ty: amelie_common::ColumnType,
    e: &amelie_parser::Expr,
) -> Result<amelie_common::Value> {
    let b = Builder::new(&CompileCtx::default());
    let err = || {
        Error::type_error(format!(
            "column <{name}> DEFAULT value must be a const and match the column type <{}>",
            ty.runtime().name()
        ))
    };
    let v = const_value(e, &b)?.ok_or_else(err)?;
    amelie_vm::exec::coerce_to_column(v, ty, name, false).map_err(|_| err())
}

fn alter_table(t: &Table, op: &AlterTableOp, catalog: &Catalog) -> Result<Compiled> {
    let schema = t.schema.clone();
    let table = t.name.clone();
    let op = match op {
        AlterTableOp::Rename(to) => DdlOp::RenameTable {
            schema,
            name: table,
            new_schema: schema_of(to),
            new_name: to.name.clone(),
        },
        AlterTableOp::SetLogged(logged) => DdlOp::SetLogged {
            schema,
            name: table,
            logged: *logged,
        },
        AlterTableOp::RenameColumn { from, to } => DdlOp::RenameColumn {
            schema,
            table,
            from: from.clone(),
            to: to.clone(),
        },
        AlterTableOp::SetDefault { column, value } => {
            let ty = t.column(column).map(|i| t.columns[i].ty).ok_or_else(|| {
                Error::not_found(format!("table '{table}': column '{column}' not exists"))
            })?;
            DdlOp::SetDefault {
                default: Some(column_default(column, ty, value)?),
                schema,
                table,
                column: column.clone(),
            }
        }
        AlterTableOp::UnsetDefault { column } => DdlOp::SetDefault {
            schema,
            table,
            column: column.clone(),
            default: None,
        },
        AlterTableOp::AddColumn {
            if_not_exists,
            column: c,
        } => {
            if t.column(&c.name).is_some() && *if_not_exists {
                return Ok(Compiled::Nothing);
            }
            let default = match &c.default {
                None => None,
                Some(e) => Some(column_default(&c.name, c.ty, e)?),
            };
            DdlOp::AddColumn {
                schema,
                table,
                column: Column {
                    name: c.name.clone(),
                    ty: c.ty,
                    not_null: c.not_null,
                    default,
                    serial: c.serial,
                    random: c.random.map(|m| m.unwrap_or(i64::MAX)),
                    gen: amelie_catalog::Generated {
                        stored: c.stored.clone(),
                        resolved: c.resolved.clone(),
                    },
                },
            }
        }
        AlterTableOp::DropColumn { if_exists, name } => {
            if t.column(name).is_none() && *if_exists {
                return Ok(Compiled::Nothing);
            }
            DdlOp::DropColumn {
                schema,
                table,
                name: name.clone(),
            }
        }
        AlterTableOp::SetSerial(value) => DdlOp::SetSerial {
            schema,
            name: table,
            value: *value,
        },
        AlterTableOp::SetGenerated {
            column,
            stored,
            value,
        } => {
            let i = t.column(column).ok_or_else(|| {
                Error::not_found(format!("table '{table}': column '{column}' not exists"))
            })?;
            if let Some(text) = value {
                crate::generated::check(t, i, text, !*stored)?;
            }
            DdlOp::SetGenerated {
                schema,
                table,
                column: column.clone(),
                stored: *stored,
                value: value.clone(),
            }
        }
    };
    check(catalog, op)
}

fn create_table(ct: &CreateTable, catalog: &Catalog) -> Result<Compiled> {
    let schema = ct.name.schema.clone().unwrap_or_else(|| "public".into());
    let Some(s) = catalog.schema(&schema) else {
        return Err(Error::not_found(format!("schema '{schema}': not exists")));
    };
    if !s.create {
        return Err(Error::unsupported(format!(
            "system schema <{schema}> cannot be used to create objects"
        )));
    }
    if catalog.table(&schema, &ct.name.name).is_some() {
        if ct.if_not_exists {
            return Ok(Compiled::Nothing);
        }
        return Err(Error::already_exists(format!(
            "table '{}': already exists",
            ct.name.name
        )));
    }
    let b = Builder::new(&CompileCtx::default());
    let mut columns: Vec<Column> = Vec::with_capacity(ct.columns.len());
    for c in &ct.columns {
        if columns.iter().any(|x| x.name == c.name) {
            return Err(Error::syntax(format!("<{}> column redefined", c.name)));
        }
        let default = match &c.default {
            None => None,
            Some(e) => {
                let v = const_value(e, &b)?.ok_or_else(|| {
                    Error::type_error(format!(
                        "column <{}> DEFAULT value must be a const and match the column type <{}>",
                        c.name,
                        c.ty.runtime().name()
                    ))
                })?;
                Some(
                    amelie_vm::exec::coerce_to_column(v, c.ty, &c.name, false).map_err(|_| {
                        Error::type_error(format!(
                        "column <{}> DEFAULT value must be a const and match the column type <{}>",
                        c.name,
                        c.ty.runtime().name()
                    ))
                    })?,
                )
            }
        };
        columns.push(Column {
            name: c.name.clone(),
            ty: c.ty,
            not_null: c.not_null,
            default,
            serial: c.serial,
            // RANDOM without a modulo: the default modulo (int64 max)
            random: c.random.map(|m| m.unwrap_or(i64::MAX)),
            gen: amelie_catalog::Generated {
                stored: c.stored.clone(),
                resolved: c.resolved.clone(),
            },
        });
    }
    if ct.primary_key.is_empty() {
        return Err(Error::syntax("primary key is not defined"));
    }
    let mut keys = Vec::with_capacity(ct.primary_key.len());
    for k in &ct.primary_key {
        let pos = columns
            .iter()
            .position(|c| c.name == *k)
            .ok_or_else(|| Error::not_found(format!("<{k}> column not found")))?;
        if !columns[pos].ty.can_be_key() {
            return Err(Error::type_error(format!(
                "<{k}> column key can be text, int32, int64 or timestamp"
            )));
        }
        if keys.contains(&pos) {
            return Err(Error::syntax("PRIMARY KEY defined twice"));
        }
        columns[pos].not_null = true;
        keys.push(pos);
    }
    let kind = match ct.index_type.as_deref() {
        None => IndexKind::Tree,
        Some(t) if t.eq_ignore_ascii_case("tree") => IndexKind::Tree,
        Some(t) if t.eq_ignore_ascii_case("hash") => IndexKind::Hash,
        Some(t) => {
            return Err(Error::syntax(format!(
                "WITH: unrecognized index type '{t}'"
            )))
        }
    };
    let partitions = catalog.plan_partitions(ct.shared)?;
    let table = Table {
        id: catalog.next_table_id,
        schema,
        name: ct.name.name.clone(),
        columns,
        indexes: vec![IndexDef {
            name: "primary".into(),
            kind,
            keys,
            unique: true,
            primary: true,
        }],
        shared: ct.shared,
        unlogged: ct.unlogged,
        partitions,
        serial: Default::default(),
    };
    for (i, c) in table.columns.iter().enumerate() {
        if let Some(text) = &c.gen.stored {
            crate::generated::check(&table, i, text, false)?;
        }
        if let Some(text) = &c.gen.resolved {
            crate::generated::check(&table, i, text, true)?;
        }
    }
    Ok(Compiled::Ddl(DdlOp::CreateTable(table)))
}
