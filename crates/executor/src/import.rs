//! Import endpoints (spec §1.5): `POST /<schema>/<table>[?columns=a,b]` with a CSV, JSON or
//! JSONL body.
//!
//! The body is read by [`amelie_parser::parse_import`] into rows of INSERT literals, which
//! become ordinary `INSERT INTO schema.table [(cols)] VALUES ...` statements of one request, so
//! defaults, SERIAL, generated columns, conflicts and type errors behave exactly like INSERT and
//! the whole body is one transaction. Consecutive rows with the same column list share one
//! statement.

use crate::{Executor, SessionCtx};
use amelie_common::{Error, Result};
use amelie_parser::{
    parse_import, Expr, ImportColumn, ImportFormat, ImportRow, ImportSpec, Insert, InsertSource,
    ObjectName, Request, Stmt,
};

/// Parses the URI query (`columns=a,b`) into the `?columns=` list as column ordinals of
/// `columns` (`Some(vec![])` for an empty list).
fn parse_args(query: Option<&str>, columns: &[&str]) -> Result<Option<Vec<usize>>> {
    let mut list: Option<Vec<usize>> = None;
    let Some(query) = query else {
        return Ok(list);
    };
    for arg in query.split('&').filter(|a| !a.is_empty()) {
        let (name, value) = arg.split_once('=').unwrap_or((arg, ""));
        if name != "columns" {
            return Err(Error::unsupported(format!(
                "unsupported URI argument '{name}'"
            )));
        }
        if list.is_some() {
            return Err(Error::syntax("columns argument redefined"));
        }
        let mut out: Vec<usize> = Vec::new();
        // like Amelie, the list ends at the first empty name (`a,b,` is `a,b`)
        for name in value.split(',').take_while(|n| !n.is_empty()) {
            let c = columns
                .iter()
                .position(|col| *col == name)
                .ok_or_else(|| Error::not_found(format!("column '{name}' does not exists")))?;
            if out.last().is_some_and(|&last| last >= c) {
                return Err(Error::syntax("column list must be ordered"));
            }
            out.push(c);
        }
        list = Some(out);
    }
    Ok(list)
}

/// Rows sharing one column list (`None`: all columns).
type Run = (Option<Vec<String>>, Vec<Vec<Expr>>);

/// Turns parsed rows into INSERT statements (one per run of rows with the same column list).
/// `list` is the `?columns=` list, as ordinals of `columns`.
fn build_inserts(
    name: ObjectName,
    columns: &[&str],
    list: Option<&[usize]>,
    rows: Vec<ImportRow>,
) -> Vec<Stmt> {
    let names = |ordinals: &mut dyn Iterator<Item = usize>| -> Vec<String> {
        ordinals
            .filter_map(|c| columns.get(c).map(|n| n.to_string()))
            .collect()
    };
    let listed = list.map(|l| names(&mut l.iter().copied()));
    let mut stmts: Vec<Stmt> = Vec::new();
    let mut current: Option<Run> = None;
    for row in rows {
        let (cols, values) = match row {
            ImportRow::Values(values) => (listed.clone(), values),
            ImportRow::Object(mut members) => {
                // the parser rejects unknown and repeated keys; INSERT wants table order
                members.sort_by_key(|(c, _)| *c);
                let cols = names(&mut members.iter().map(|(c, _)| *c));
                (Some(cols), members.into_iter().map(|(_, e)| e).collect())
            }
        };
        match &mut current {
            Some((c, rows)) if *c == cols => rows.push(values),
            _ => {
                if let Some((c, rows)) = current.take() {
                    stmts.push(insert(&name, c, rows));
                }
                current = Some((cols, vec![values]));
            }
        }
    }
    if let Some((c, rows)) = current {
        stmts.push(insert(&name, c, rows));
    }
    stmts
}

fn insert(table: &ObjectName, columns: Option<Vec<String>>, rows: Vec<Vec<Expr>>) -> Stmt {
    Stmt::Insert(Insert {
        table: table.clone(),
        columns,
        source: InsertSource::Values(rows),
        on_conflict: None,
        returning: None,
    })
}

impl Executor {
    /// Imports `body` into `schema.table` as one transaction (spec §1.5). `content_type` is
    /// `text/csv`, `application/json` or `application/jsonl`; `query` is the raw URI query
    /// without `?`.
    pub async fn import(
        &self,
        schema: &str,
        table: &str,
        content_type: &str,
        query: Option<&str>,
        body: &str,
        session: &SessionCtx,
    ) -> Result<()> {
        let format = ImportFormat::from_content_type(content_type)
            .ok_or_else(|| Error::unsupported("unsupported API operation"))?;
        let stmts = {
            let catalog = self.catalog();
            let t = catalog
                .table(schema, table)
                .ok_or_else(|| Error::not_found(format!("table '{table}': not exists")))?;
            let names: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
            let list = parse_args(query, &names)?;
            let types: Vec<&str> = t.columns.iter().map(|c| c.ty.runtime().name()).collect();
            let columns: Vec<ImportColumn> = names
                .iter()
                .zip(&types)
                .map(|(name, ty)| ImportColumn { name, ty })
                .collect();
            let rows = parse_import(
                body,
                ImportSpec {
                    format,
                    columns: &columns,
                    list: list.as_deref(),
                },
            )?;
            if rows.is_empty() {
                return Ok(());
            }
            let name = ObjectName {
                schema: Some(t.schema.clone()),
                name: t.name.clone(),
            };
            build_inserts(name, &names, list.as_deref(), rows)
        };
        let req = Request {
            explain: false,
            stmts,
            ..Request::default()
        };
        self.execute_request(req, false, session).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLS: [&str; 3] = ["a", "b", "c"];

    fn err(query: &str) -> String {
        parse_args(Some(query), &COLS)
            .unwrap_err()
            .msg()
            .to_string()
    }

    #[test]
    fn uri_arguments() {
        assert_eq!(parse_args(None, &COLS).unwrap(), None);
        assert_eq!(
            parse_args(Some("columns=a,c"), &COLS).unwrap(),
            Some(vec![0, 2])
        );
        assert_eq!(
            parse_args(Some("columns=b,"), &COLS).unwrap(),
            Some(vec![1])
        );
        assert_eq!(parse_args(Some("columns="), &COLS).unwrap(), Some(vec![]));
        assert_eq!(err("columns=a&columns=b"), "columns argument redefined");
        assert_eq!(err("x=1"), "unsupported URI argument 'x'");
        assert_eq!(err("columns=b,a"), "column list must be ordered");
        assert_eq!(err("columns=a,a"), "column list must be ordered");
        assert_eq!(err("columns=x"), "column 'x' does not exists");
    }

    fn table() -> ObjectName {
        ObjectName {
            schema: Some("public".into()),
            name: "t".into(),
        }
    }

    fn shape(stmts: &[Stmt]) -> Vec<Run> {
        stmts
            .iter()
            .map(|s| match s {
                Stmt::Insert(Insert {
                    columns,
                    source: InsertSource::Values(rows),
                    ..
                }) => (columns.clone(), rows.clone()),
                other => panic!("not an insert: {other:?}"),
            })
            .collect()
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn rows_become_inserts() {
        let rows = vec![
            ImportRow::Values(vec![Expr::Int(1), Expr::Int(2), Expr::Int(3)]),
            ImportRow::Values(vec![Expr::Int(4), Expr::Int(5), Expr::Int(6)]),
            ImportRow::Object(vec![(2, Expr::Int(7)), (0, Expr::Int(8))]),
            ImportRow::Object(vec![(0, Expr::Int(9)), (2, Expr::Null)]),
            ImportRow::Object(vec![]),
        ];
        let stmts = build_inserts(table(), &COLS, None, rows);
        assert_eq!(
            shape(&stmts),
            vec![
                (
                    None,
                    vec![
                        vec![Expr::Int(1), Expr::Int(2), Expr::Int(3)],
                        vec![Expr::Int(4), Expr::Int(5), Expr::Int(6)],
                    ]
                ),
                (
                    Some(names(&["a", "c"])),
                    vec![
                        vec![Expr::Int(8), Expr::Int(7)],
                        vec![Expr::Int(9), Expr::Null]
                    ]
                ),
                (Some(vec![]), vec![vec![]]),
            ]
        );
        let rows = vec![ImportRow::Values(vec![Expr::Int(1)])];
        let stmts = build_inserts(table(), &COLS, Some(&[1]), rows);
        assert_eq!(
            shape(&stmts),
            vec![(Some(names(&["b"])), vec![vec![Expr::Int(1)]])]
        );
    }
}
