//! WITH blocks: CTE rules.

use crate::{compile, CompileCtx, Compiled};
use amelie_catalog::Catalog;

fn err(sql: &str) -> String {
    let req = amelie_parser::parse(sql).unwrap();
    match compile(&req, &Catalog::default(), &CompileCtx::default()) {
        Err(e) => e.to_string(),
        Ok(_) => String::new(),
    }
}

#[test]
fn cte_rules() {
    let req = amelie_parser::parse("with a (x) as (select 1) select x from a").unwrap();
    let Ok(Compiled::Program(_)) = compile(&req, &Catalog::default(), &CompileCtx::default())
    else {
        panic!("program expected");
    };
    assert_eq!(
        err("with a as (select 1), a as (select 2) select 1"),
        "CTE <a> redefined"
    );
    assert_eq!(
        err("with a as (select * from a) select 1"),
        "<a> recursive CTE are not supported"
    );
    assert_eq!(
        err("with a (x) as (select 1, 2) select 1"),
        "CTE <a> arguments number mismatch"
    );
    assert_eq!(err("with a as (select 1)"), "");
}
