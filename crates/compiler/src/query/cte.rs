//! CTEs as FROM sources: a name that is a CTE of the request reads the rows of its statement.
//! (The CTEs themselves are compiled by `stmt::with`, as earlier statements of the program.)

use crate::builder::Builder;
use amelie_common::{Error, Result};
use amelie_parser::FromItem;

/// A FROM target naming a CTE of the request: its statement and column names.
pub(super) fn cte_source(b: &Builder, f: &FromItem) -> Result<Option<(u16, Vec<String>)>> {
    if f.subquery.is_some() || f.function.is_some() || f.table.schema.is_some() {
        return Ok(None);
    }
    match b.ctes.iter().find(|(n, _, _)| *n == f.table.name) {
        Some((n, None, _)) => Err(Error::unsupported(format!(
            "<{n}> recursive CTE are not supported"
        ))),
        Some((_, Some(stmt), cols)) => Ok(Some((*stmt, cols.clone()))),
        None => Ok(None),
    }
}
