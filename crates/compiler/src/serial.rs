//! SERIAL counters, one per table.

/// SERIAL counters: one per table (keyed by table id, which a repository never reuses), shared
/// by all the table's SERIAL columns. A value is consumed once per inserted row, also when the
/// row gives the serial column explicitly, and at compile time (so EXPLAIN consumes values too,
/// like Amelie). Values are unique but may have gaps (aborted transactions).
/// Restart: the executor calls [`serial_observe`] for every row replayed from the WAL, so the
/// counter resumes at max(serial value) + 1; `ALTER TABLE SET SERIAL` is [`serial_set`].
static SERIALS: std::sync::Mutex<Option<std::collections::HashMap<u64, i64>>> =
    std::sync::Mutex::new(None);

fn with_serials<R>(f: impl FnOnce(&mut std::collections::HashMap<u64, i64>) -> R) -> R {
    let mut g = SERIALS.lock().unwrap_or_else(|e| e.into_inner());
    f(g.get_or_insert_with(Default::default))
}

/// Takes the next `n` serial values of table `table_id`; returns the first.
pub fn serial_reserve(table_id: u64, n: usize) -> i64 {
    with_serials(|m| {
        let v = m.entry(table_id).or_insert(0);
        let out = *v;
        *v = v.saturating_add(i64::try_from(n).unwrap_or(i64::MAX));
        out
    })
}

/// The next serial value of table `table_id`, without taking it (`serial(schema, table)`).
pub fn serial_peek(table_id: u64) -> i64 {
    with_serials(|m| m.get(&table_id).copied().unwrap_or(0))
}

/// Recovery: a row of table `table_id` holds serial value `v`.
pub fn serial_observe(table_id: u64, v: i64) {
    with_serials(|m| {
        let e = m.entry(table_id).or_insert(0);
        *e = (*e).max(v.saturating_add(1));
    })
}

/// `ALTER TABLE ... SET SERIAL TO v`: the next serial value of the table is `v`.
pub fn serial_set(table_id: u64, v: i64) {
    with_serials(|m| {
        m.insert(table_id, v);
    })
}
