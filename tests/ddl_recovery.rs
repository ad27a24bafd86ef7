//! End-to-end: DDL of every kind survives a restart, both replayed from the WAL and loaded
//! from a checkpoint. The observable catalog (SHOW SCHEMAS/TABLES EXTENDED/NODES/USERS, the
//! rows, serial counters) must be identical before and after.

mod common;

use common::*;

const DDL: &[&str] = &[
    "create schema app",
    "create schema tmp",
    "create table app.orders (id int primary key serial, customer text, total double default 0.5)",
    "create shared table app.rates (code text primary key, name text, rate double)",
    "create unlogged table app.cache (k text primary key, v json)",
    "create table public.hashed (id bigint primary key, x int) with (type = 'hash')",
    "create table public.events (id int, kind text, ts timestamp, primary key (id, kind))",
    "create table tmp.gone (id int primary key)",
    "alter table app.orders add column note text",
    "alter table app.orders rename column customer to client",
    "alter table app.orders set column note default 'none'",
    "alter table app.orders set serial to 100",
    "alter table public.events add column extra int",
    "alter table public.events drop column extra",
    "alter table app.cache set logged",
    "alter table public.hashed rename to public.hashed2",
    "create index by_client on app.orders (client)",
    "create index by_note on app.orders (note)",
    "alter index by_note on app.orders rename to by_remark",
    "create unique index by_name on app.rates (name)",
    "drop index by_client on app.orders",
    "alter table public.events set column kind as (kind || '') stored",
    "drop schema tmp cascade",
    "alter schema app rename to shop",
    "create user reader secret 'xyz'",
];

const DATA: &[&str] = &[
    "insert into shop.orders (client, total) values ('ann', 10.5), ('bob', 2)",
    "insert into shop.rates values ('eur', 'euro', 1.1), ('usd', 'dollar', 1.0)",
    "insert into shop.cache values ('a', {\"n\": 1})",
    "insert into public.hashed2 values (1, 1), (2, 2), (3, 3)",
    "insert into public.events values (1, 'click', '2024-01-01 00:00:00')",
    "truncate public.hashed2",
    "insert into public.hashed2 values (9, 9)",
];

const PROBES: &[&str] = &[
    "show schemas",
    "show tables extended format 'json'",
    "show nodes",
    "show users",
    "select * from shop.orders order by id",
    "select * from shop.rates order by code",
    "select * from shop.cache",
    "select * from public.hashed2",
    "select * from public.events",
];

fn observe(s: &Server) -> Vec<String> {
    PROBES
        .iter()
        .map(|q| format!("{q}: {}", s.query(q)))
        .collect()
}

fn run(checkpoint: bool) {
    let dir = TestDir::new(if checkpoint {
        "ddl_recovery_ckpt"
    } else {
        "ddl_recovery_wal"
    });
    let repo = dir.repo();
    let mut s = Server::start(&repo, &[]);
    for stmt in DDL.iter().chain(DATA) {
        s.exec(stmt);
    }
    s.exec("create node");
    let before = observe(&s);
    if checkpoint {
        s.exec("checkpoint");
        // and something after the checkpoint that only the WAL has
        s.exec("alter table shop.orders rename column note to remark");
    }
    let before_restart = observe(&s);
    s.stop();
    let mut s = Server::start(&repo, &[]);
    assert_eq!(
        observe(&s),
        before_restart,
        "catalog or data changed across restart"
    );
    if !checkpoint {
        assert_eq!(before, before_restart);
    }
    // the recovered catalog keeps working: serial continues, the unique index still holds
    s.exec("insert into shop.orders (client) values ('cid')");
    assert_eq!(
        s.query("select id from shop.orders where client = 'cid'"),
        "[102]"
    );
    s.expect_error(
        "insert into shop.rates values ('gbp', 'euro', 1.2)",
        "index 'by_name': unique key constraint violation",
    );
    s.stop();
}

#[test]
fn every_kind_of_ddl_survives_wal_replay() {
    run(false);
}

#[test]
fn every_kind_of_ddl_survives_a_checkpoint_restart() {
    run(true);
}
