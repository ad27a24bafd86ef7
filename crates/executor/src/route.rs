//! Routing: which partitions (and so which nodes) each dispatch of a program goes to.
//! Rows and keys are routed by `murmur3_32` over the primary key, `% 8096` (spec §5.2).

use amelie_catalog::{Catalog, Table};
use amelie_common::governor::{Governor, CHECK_EVERY};
use amelie_common::{Error, Result, Value};
use amelie_compiler::InsertTemplate;
use amelie_node::NodeHandle;
use amelie_storage::{check_values, encode_row_into};
use amelie_vm::program::Target;
use amelie_vm::Program;
use amelie_vm::Tuple;
use std::sync::Arc;

/// One partition a dispatch goes to.
#[derive(Debug)]
pub struct Route {
    pub node: usize,
    pub partition: u64,
    /// INSERT rows for this partition, encoded back to back (`encode_row_into`).
    pub rows: Vec<u8>,
    /// How many rows `rows` holds (INSERT VALUES / GENERATE made here).
    pub count: usize,
    /// INSERT ... GENERATE made by the node itself (see `amelie_vm::generate`), with this
    /// partition's hash slots.
    pub generate: Option<(Arc<amelie_vm::Generate>, (u32, u32))>,
}

pub use amelie_common::murmur::key_slot;

fn node_of(nodes: &[Arc<NodeHandle>], uuid: &str) -> Result<usize> {
    nodes
        .iter()
        .position(|n| n.uuid == uuid)
        .ok_or_else(|| Error::not_found(format!("node '{uuid}': not exists")))
}

fn route_for(t: &Table, nodes: &[Arc<NodeHandle>], idx: usize) -> Result<Route> {
    let p = &t.partitions[idx];
    Ok(Route {
        node: node_of(nodes, &p.node)?,
        partition: p.id,
        rows: Vec::new(),
        count: 0,
        generate: None,
    })
}

/// One execution of a program, as routing sees it: the request's literals, the bound
/// parameters, the request time and the request's limits.
pub struct Execution<'a> {
    pub lits: &'a [Value],
    pub params: &'a [Value],
    pub now: i64,
    pub gov: &'a Governor,
}

/// Computes the routes of every target of `program` for one execution (INSERT rows are built
/// here from `inserts`, within the request's limits).
pub fn plan(
    program: &Program,
    inserts: &[InsertTemplate],
    exec: &Execution<'_>,
    catalog: &Catalog,
    nodes: &[Arc<NodeHandle>],
) -> Result<Vec<Vec<Route>>> {
    let Execution {
        lits,
        params,
        now,
        gov,
    } = *exec;
    let mut routes = Vec::with_capacity(program.targets.len());
    for (i, target) in program.targets.iter().enumerate() {
        let table = match program.target_table.get(i) {
            Some(&t) if program.target_table.len() == program.targets.len() => {
                (t != u16::MAX).then_some(t as usize)
            }
            _ => program.target_tables()[i],
        };
        let Some(tref) = table else {
            routes.push(Vec::new());
            continue;
        };
        let id = program.tables[tref].id;
        let t = catalog.table_by_id(id).ok_or_else(|| {
            Error::not_found(format!("table '{}': not exists", program.tables[tref].name))
        })?;
        let keys = &t.primary().keys;
        let r = match target {
            Target::All | Target::Set => (0..t.partitions.len())
                .map(|p| route_for(t, nodes, p))
                .collect::<Result<_>>()?,
            Target::Key(values) => {
                let p = if t.partitions.len() == 1 {
                    0
                } else {
                    t.partition_for_slot(key_slot(values.iter().map(|v| v.value(params))))
                };
                vec![route_for(t, nodes, p)?]
            }
            Target::Insert(index) => {
                let template = inserts
                    .get(*index as usize)
                    .ok_or_else(|| Error::internal("internal: INSERT rows not found"))?;
                if let Some(g) = template.on_nodes() {
                    // every node makes the rows and keeps its own
                    let g = Arc::new(g);
                    let mut out = Vec::with_capacity(t.partitions.len());
                    for (i, p) in t.partitions.iter().enumerate() {
                        let mut r = route_for(t, nodes, i)?;
                        r.generate = Some((g.clone(), (p.min, p.max)));
                        out.push(r);
                    }
                    routes.push(out);
                    continue;
                }
                let mut per: Vec<Option<Route>> = (0..t.partitions.len()).map(|_| None).collect();
                // rows made here count against the request's limits
                let (mut made, mut bytes, mut held) = (0usize, 0usize, 0usize);
                template.each_row(lits, now, |row| {
                    made += 1;
                    if made % CHECK_EVERY == 0 {
                        gov.check()?;
                        gov.fit(bytes, &mut held)?;
                    }
                    let p = if t.partitions.len() == 1 {
                        0
                    } else {
                        t.partition_for_slot(key_slot(keys.iter().map(|&k| &row[k])))
                    };
                    if per[p].is_none() {
                        per[p] = Some(route_for(t, nodes, p)?);
                    }
                    if let Some(r) = per[p].as_mut() {
                        check_values(row)?;
                        let before = r.rows.len();
                        encode_row_into(row, &mut r.rows);
                        r.count += 1;
                        bytes += r.rows.len() - before;
                    }
                    Ok(())
                })?;
                let r: Vec<Route> = per.into_iter().flatten().collect();
                if r.is_empty() && !t.partitions.is_empty() {
                    // no rows (`GENERATE 0`): the statement still runs, on one partition,
                    // and inserts nothing
                    vec![route_for(t, nodes, 0)?]
                } else {
                    r
                }
            }
        };
        routes.push(r);
    }
    Ok(routes)
}

/// INSERT ... SELECT: casts `rows` to the columns of `program.tables[table]` and distributes
/// them over `routes` (every partition of the table, see [`Target::Set`]) by primary key.
pub fn fill_set_rows(
    program: &Program,
    table: usize,
    catalog: &Catalog,
    rows: Vec<Tuple>,
    routes: &mut [Route],
) -> Result<()> {
    let tref = &program.tables[table];
    let t = catalog
        .table_by_id(tref.id)
        .ok_or_else(|| Error::not_found(format!("table '{}': not exists", tref.name)))?;
    let keys = &t.primary().keys;
    for row in rows {
        let mismatch = || Error::type_error("INSERT SELECT columns do not match the table columns");
        if row.len() != t.columns.len() {
            return Err(mismatch());
        }
        let mut out = Vec::with_capacity(row.len());
        for (c, v) in row.into_vec().into_iter().enumerate() {
            let col = &t.columns[c];
            let not_null = col.not_null || t.is_key(c);
            // a NULL in a NOT NULL column keeps its own message; other casts are a mismatch
            let null = v.is_null();
            out.push(
                amelie_vm::exec::coerce_to_column(v, col.ty, &col.name, not_null).map_err(|e| {
                    if null {
                        e
                    } else {
                        mismatch()
                    }
                })?,
            );
        }
        let p = if t.partitions.len() == 1 {
            0
        } else {
            t.partition_for_slot(key_slot(keys.iter().map(|&k| &out[k])))
        };
        let id = t.partitions.get(p).map(|x| x.id);
        let route = routes
            .iter_mut()
            .find(|r| Some(r.partition) == id)
            .ok_or_else(|| Error::internal("INSERT: partition route not found"))?;
        check_values(&out)?;
        encode_row_into(&out, &mut route.rows);
    }
    Ok(())
}

/// Every node any route touches, in node order.
pub fn participants(routes: &[Vec<Route>]) -> Vec<usize> {
    let mut nodes: Vec<usize> = routes.iter().flatten().map(|r| r.node).collect();
    nodes.sort_unstable();
    nodes.dedup();
    nodes
}
