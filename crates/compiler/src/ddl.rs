//! Utility statements: CREATE TABLE / DROP TABLE.

use crate::builder::{Builder, CompileCtx};
use crate::expr::const_value;
use crate::Compiled;
use amelie_catalog::{Catalog, Column, DdlOp, IndexDef, Table};
use amelie_common::{Error, IndexKind, Result};
use amelie_parser::{CreateTable, Stmt};

pub fn compile_utility(stmt: &Stmt, catalog: &Catalog) -> Result<Compiled> {
    match stmt {
        Stmt::CreateTable(ct) => create_table(ct, catalog),
        Stmt::DropTable { if_exists, name } => {
            let schema = name.schema.clone().unwrap_or_else(|| "public".into());
            if catalog.table(&schema, &name.name).is_none() {
                if *if_exists {
                    return Ok(Compiled::Nothing);
                }
                return Err(Error::new(format!("table '{}': not exists", name.name)));
            }
            Ok(Compiled::Ddl(DdlOp::DropTable {
                schema,
                name: name.name.clone(),
            }))
        }
        _ => Err(Error::new("unexpected statement")),
    }
}

fn create_table(ct: &CreateTable, catalog: &Catalog) -> Result<Compiled> {
    let schema = ct.name.schema.clone().unwrap_or_else(|| "public".into());
    let Some(s) = catalog.schema(&schema) else {
        return Err(Error::new(format!("schema '{schema}': not exists")));
    };
    if !s.create {
        return Err(Error::new(format!(
            "system schema <{schema}> cannot be used to create objects"
        )));
    }
    if catalog.table(&schema, &ct.name.name).is_some() {
        if ct.if_not_exists {
            return Ok(Compiled::Nothing);
        }
        return Err(Error::new(format!(
            "table '{}': already exists",
            ct.name.name
        )));
    }
    let b = Builder::new(&CompileCtx::default());
    let mut columns: Vec<Column> = Vec::with_capacity(ct.columns.len());
    for c in &ct.columns {
        if columns.iter().any(|x| x.name == c.name) {
            return Err(Error::new(format!("<{}> column redefined", c.name)));
        }
        let default = match &c.default {
            None => None,
            Some(e) => {
                let v = const_value(e, &b)?.ok_or_else(|| {
                    Error::new(format!(
                        "column <{}> DEFAULT value must be a const and match the column type <{}>",
                        c.name,
                        c.ty.runtime().name()
                    ))
                })?;
                Some(
                    amelie_vm::exec::coerce_to_column(v, c.ty, &c.name, false).map_err(|_| {
                        Error::new(format!(
                        "column <{}> DEFAULT value must be a const and match the column type <{}>",
                        c.name,
                        c.ty.runtime().name()
                    ))
                    })?,
                )
            }
        };
        if c.serial || c.random.is_some() {
            return Err(Error::new(
                "SERIAL and RANDOM columns are not supported yet",
            ));
        }
        columns.push(Column {
            name: c.name.clone(),
            ty: c.ty,
            not_null: c.not_null,
            default,
            serial: c.serial,
            random: c.random.flatten(),
        });
    }
    if ct.primary_key.is_empty() {
        return Err(Error::new("primary key is not defined"));
    }
    let mut keys = Vec::with_capacity(ct.primary_key.len());
    for k in &ct.primary_key {
        let pos = columns
            .iter()
            .position(|c| c.name == *k)
            .ok_or_else(|| Error::new(format!("<{k}> column not found")))?;
        if !columns[pos].ty.can_be_key() {
            return Err(Error::new(format!(
                "<{k}> column key can be text, int32, int64 or timestamp"
            )));
        }
        if keys.contains(&pos) {
            return Err(Error::new("PRIMARY KEY defined twice"));
        }
        columns[pos].not_null = true;
        keys.push(pos);
    }
    let kind = match ct.index_type.as_deref() {
        None => IndexKind::Tree,
        Some(t) if t.eq_ignore_ascii_case("tree") => IndexKind::Tree,
        Some(t) if t.eq_ignore_ascii_case("hash") => IndexKind::Hash,
        Some(t) => return Err(Error::new(format!("WITH: unrecognized index type '{t}'"))),
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
    };
    Ok(Compiled::Ddl(DdlOp::CreateTable(table)))
}
