//! What the workloads send: the set-up statements and the request of each workload, with the
//! texts of Amelie's own benchmark client as `../shared/spec/BENCH.md` states them.

use crate::Workload;

pub const ACCOUNTS_PER_BRANCH: i64 = 100_000;
pub const TELLERS_PER_BRANCH: i64 = 10;
/// Rows per `insert ... generate` request of the memory workload (BENCH.md: 100000 × 20).
pub const MEMORY_CHUNK: usize = 100_000;

/// tpcb set-up rows carry 100 spaces in a double-quoted string, history rows 50 in single quotes.
const FILLER_100: &str = concat!(
    "                                                  ",
    "                                                  "
);
const FILLER_50: &str = "                                                  ";

pub const CREATE_SCHEMA: &str = "create schema if not exists __bench";

pub const TPCB_TABLES: [&str; 4] = [
    "create table __bench.branches (bid int primary key, bbalance int, filler text) with (type = \"hash\")",
    "create table __bench.tellers (tid int primary key, bid int, tbalance int, filler text) with (type = \"hash\")",
    "create table __bench.accounts (aid int primary key, bid int, abalance int, filler text) with (type = \"hash\")",
    "create table __bench.history (tid int, bid int, aid int, delta int, time timestamp, seq int primary key serial, filler text)",
];

/// The `__bench.test` table of the batch workloads.
pub fn create_test_table(workload: Workload) -> Option<&'static str> {
    match workload {
        Workload::Insert | Workload::Import => {
            Some("create table __bench.test (id int primary key serial)")
        }
        Workload::Upsert => Some(
            "create table __bench.test (id int primary key random (100000), data int default 0) \
             with (type = 'hash')",
        ),
        Workload::Resolved => Some(
            "create table __bench.test (ts timestamp as (current_timestamp::date_bin('3 sec'::interval)) stored, \
             id int random (10000), hits int default 0 as (hits + 1) resolved, primary key(ts, id)) \
             with (type = 'hash')",
        ),
        _ => None,
    }
}

/// The tables of one of Amelie's types (`amelie bench`): the four of TPC-B, or `__bench.test`;
/// with `unlogged`, as `create unlogged table` (Amelie's `--unlogged=true`).
pub fn create_tables(workload: Workload, unlogged: bool) -> Vec<String> {
    let ddl: Vec<&str> = match workload {
        Workload::Tpcb => TPCB_TABLES.to_vec(),
        w => create_test_table(w).into_iter().collect(),
    };
    ddl.into_iter()
        .map(|d| match (unlogged, d.strip_prefix("create table ")) {
            (true, Some(rest)) => format!("create unlogged table {rest}"),
            _ => d.to_string(),
        })
        .collect()
}

pub const CREATE_MEM: &str = "create table __bench.mem (id int primary key serial)";

/// Tables a workload creates, in the order they can be dropped (`drop table if exists`).
pub fn tables(workload: Workload) -> &'static [&'static str] {
    match workload {
        Workload::Tpcb | Workload::Select => &[
            "__bench.history",
            "__bench.accounts",
            "__bench.tellers",
            "__bench.branches",
        ],
        Workload::Insert | Workload::Upsert | Workload::Import | Workload::Resolved => {
            &["__bench.test"]
        }
        Workload::Scan | Workload::Aggregate | Workload::Join => &["__bench.agg", "__bench.groups"],
        Workload::Memory => &["__bench.mem"],
    }
}

/// Appends the decimal text of `v`.
pub fn push_int(buf: &mut Vec<u8>, v: i64) {
    if v < 0 {
        buf.push(b'-');
    }
    let mut n = v.unsigned_abs();
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

/// The tpcb set-up at `scale`: each table and its row count, in load order (each row one
/// request, built by [`tpcb_row`]).
pub fn tpcb_rows(scale: i64) -> [(&'static str, i64); 3] {
    [
        ("branches", scale),
        ("tellers", TELLERS_PER_BRANCH * scale),
        ("accounts", ACCOUNTS_PER_BRANCH * scale),
    ]
}

/// One set-up row of a tpcb table: `table` is `branches`, `tellers` or `accounts`; ids start at
/// 0 and a teller or account belongs to branch `id / per-branch`.
pub fn tpcb_row(buf: &mut Vec<u8>, table: &str, id: i64) {
    buf.clear();
    buf.extend_from_slice(b"INSERT INTO __bench.");
    buf.extend_from_slice(table.as_bytes());
    buf.extend_from_slice(b" VALUES (");
    push_int(buf, id);
    match table {
        "branches" => {}
        "tellers" => {
            buf.extend_from_slice(b", ");
            push_int(buf, id / TELLERS_PER_BRANCH);
        }
        "accounts" => {
            buf.extend_from_slice(b", ");
            push_int(buf, id / ACCOUNTS_PER_BRANCH);
        }
        other => unreachable!("no tpcb table {other}"),
    }
    buf.extend_from_slice(b", 0, \"");
    buf.extend_from_slice(FILLER_100.as_bytes());
    buf.extend_from_slice(b"\")");
}

/// The five `;`-terminated statements of one TPC-B transaction, back to back as `amelie bench`
/// sends them. `abalance + -5` is the column plus the negative literal `-5`.
pub fn tpcb_body(buf: &mut Vec<u8>, aid: i64, tid: i64, bid: i64, delta: i64) {
    buf.extend_from_slice(b"UPDATE __bench.accounts SET abalance = abalance + ");
    push_int(buf, delta);
    buf.extend_from_slice(b" WHERE aid = ");
    push_int(buf, aid);
    buf.extend_from_slice(b";SELECT abalance FROM __bench.accounts WHERE aid = ");
    push_int(buf, aid);
    buf.extend_from_slice(b";UPDATE __bench.tellers SET tbalance = tbalance + ");
    push_int(buf, delta);
    buf.extend_from_slice(b" WHERE tid = ");
    push_int(buf, tid);
    buf.extend_from_slice(b";UPDATE __bench.branches SET bbalance = bbalance + ");
    push_int(buf, delta);
    buf.extend_from_slice(b" WHERE bid = ");
    push_int(buf, bid);
    buf.extend_from_slice(
        b";INSERT INTO __bench.history (tid, bid, aid, delta, time, filler) VALUES (",
    );
    for (i, v) in [tid, bid, aid, delta].into_iter().enumerate() {
        if i > 0 {
            buf.extend_from_slice(b", ");
        }
        push_int(buf, v);
    }
    buf.extend_from_slice(b", current_timestamp, '");
    buf.extend_from_slice(FILLER_50.as_bytes());
    buf.extend_from_slice(b"');");
}

/// xorshift64* — small, fast, good enough to pick keys.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // splitmix64 scrambles small seeds into a non-zero state
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
}

/// Where a workload's requests go.
pub struct Target {
    pub path: &'static str,
    pub content_type: &'static str,
}

/// Builds the request bodies of one client thread.
pub struct Generator {
    workload: Workload,
    rng: Rng,
    scale: i64,
    batch: usize,
}

impl Generator {
    /// The requests of `workload` at `scale` (TPC-B branches) with `batch` rows each, keys
    /// drawn from a generator seeded with `seed`.
    pub fn new(workload: Workload, scale: usize, batch: usize, seed: u64) -> Generator {
        Generator {
            workload,
            rng: Rng::new(seed),
            scale: scale.max(1) as i64,
            batch: batch.max(1),
        }
    }

    pub fn target(&self) -> Target {
        match self.workload {
            Workload::Import => Target {
                path: "/__bench/test?columns=",
                content_type: "application/json",
            },
            _ => Target {
                path: "/",
                content_type: "text/plain",
            },
        }
    }

    /// Every request of the workload has the same text (built once, sent again and again).
    pub fn is_fixed(&self) -> bool {
        !matches!(self.workload, Workload::Tpcb | Workload::Select)
    }

    /// Replaces `buf` with the body of the next request.
    pub fn build(&mut self, buf: &mut Vec<u8>) {
        buf.clear();
        match self.workload {
            Workload::Tpcb => {
                let aid = self.rng.below((ACCOUNTS_PER_BRANCH * self.scale) as u64) as i64;
                let tid = self.rng.below((TELLERS_PER_BRANCH * self.scale) as u64) as i64;
                let bid = self.rng.below(self.scale as u64) as i64;
                let delta = self.rng.range(-5000, 4999);
                tpcb_body(buf, aid, tid, bid, delta);
            }
            Workload::Select => {
                let aid = self.rng.below((ACCOUNTS_PER_BRANCH * self.scale) as u64) as i64;
                buf.extend_from_slice(b"select * from __bench.accounts where aid = ");
                push_int(buf, aid);
            }
            Workload::Scan => {
                buf.extend_from_slice(b"select count(*), sum(v) from __bench.agg where v > 500");
            }
            Workload::Aggregate => {
                buf.extend_from_slice(b"select g, count(*), sum(v) from __bench.agg group by g");
            }
            Workload::Join => {
                buf.extend_from_slice(
                    b"select s.name, count(*), sum(a.v) from __bench.agg a \
                      join __bench.groups s on a.g = s.g group by s.name",
                );
            }
            Workload::Insert | Workload::Resolved => {
                buf.extend_from_slice(b"insert into __bench.test generate ");
                push_int(buf, self.batch as i64);
            }
            Workload::Upsert => {
                buf.extend_from_slice(b"insert into __bench.test generate ");
                push_int(buf, self.batch as i64);
                buf.extend_from_slice(b" on conflict do update set data = data + 1");
            }
            Workload::Import => {
                buf.reserve(self.batch * 3 + 1);
                buf.push(b'[');
                for i in 0..self.batch {
                    if i > 0 {
                        buf.push(b',');
                    }
                    buf.extend_from_slice(b"[]");
                }
                buf.push(b']');
            }
            Workload::Memory => unreachable!("the memory workload has no clients"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(g: &mut Generator) -> String {
        let mut buf = Vec::new();
        g.build(&mut buf);
        String::from_utf8(buf).unwrap()
    }

    fn generator(workload: Workload, batch: usize) -> Generator {
        Generator::new(workload, 1, batch, 1)
    }

    #[test]
    fn ints() {
        for v in [0, 7, -1, -5000, 4999, 123456789, i64::MAX, i64::MIN] {
            let mut b = Vec::new();
            push_int(&mut b, v);
            assert_eq!(String::from_utf8(b).unwrap(), v.to_string());
        }
    }

    #[test]
    fn rng_ranges() {
        let mut r = Rng::new(0);
        let mut seen = [false; 11];
        for _ in 0..10_000 {
            let v = r.range(-5, 5);
            assert!((-5..=5).contains(&v));
            seen[(v + 5) as usize] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }

    #[test]
    fn fillers() {
        assert_eq!(FILLER_100.len(), 100);
        assert_eq!(FILLER_50.len(), 50);
        assert!(FILLER_100
            .bytes()
            .chain(FILLER_50.bytes())
            .all(|b| b == b' '));
    }

    #[test]
    fn tpcb_text_is_bench_md() {
        // BENCH.md's five statements with A = 12345, T = 7, B = 0, D = -42.
        let spaces50 = " ".repeat(50);
        let expected = format!(
            "UPDATE __bench.accounts SET abalance = abalance + -42 WHERE aid = 12345;\
             SELECT abalance FROM __bench.accounts WHERE aid = 12345;\
             UPDATE __bench.tellers SET tbalance = tbalance + -42 WHERE tid = 7;\
             UPDATE __bench.branches SET bbalance = bbalance + -42 WHERE bid = 0;\
             INSERT INTO __bench.history (tid, bid, aid, delta, time, filler) \
             VALUES (7, 0, 12345, -42, current_timestamp, '{spaces50}');"
        );
        let mut buf = Vec::new();
        tpcb_body(&mut buf, 12345, 7, 0, -42);
        assert_eq!(String::from_utf8(buf).unwrap(), expected);
        let mut buf = Vec::new();
        tpcb_body(&mut buf, 0, 9, 0, 4999);
        let text = String::from_utf8(buf).unwrap();
        assert!(text.starts_with(
            "UPDATE __bench.accounts SET abalance = abalance + 4999 WHERE aid = 0;SELECT"
        ));
        assert!(text.contains("VALUES (9, 0, 0, 4999, current_timestamp, '"));
    }

    #[test]
    fn tpcb_random_values_stay_in_range() {
        let mut g = generator(Workload::Tpcb, 1);
        let (mut dmin, mut dmax) = (i64::MAX, i64::MIN);
        for _ in 0..20_000 {
            let sql = text(&mut g);
            assert_eq!(sql.matches(';').count(), 5);
            assert!(sql.ends_with("');"));
            let values = sql.rsplit_once("VALUES (").unwrap().1;
            let v: Vec<i64> = values
                .split(", ")
                .take(4)
                .map(|x| x.parse().unwrap())
                .collect();
            let (t, b, a, d) = (v[0], v[1], v[2], v[3]);
            assert!((0..ACCOUNTS_PER_BRANCH).contains(&a), "aid {a}");
            assert!((0..TELLERS_PER_BRANCH).contains(&t), "tid {t}");
            assert_eq!(b, 0);
            assert!((-5000..=4999).contains(&d), "delta {d}");
            assert!(sql.contains(&format!("WHERE aid = {a};SELECT abalance")));
            assert!(sql.contains(&format!("tbalance + {d} WHERE tid = {t};")));
            (dmin, dmax) = (dmin.min(d), dmax.max(d));
        }
        assert!(dmin < -4900 && dmax > 4900, "delta range {dmin}..{dmax}");
    }

    #[test]
    fn tpcb_set_up_rows() {
        let spaces100 = " ".repeat(100);
        let mut buf = Vec::new();
        tpcb_row(&mut buf, "accounts", 5);
        assert_eq!(
            String::from_utf8(buf.clone()).unwrap(),
            format!("INSERT INTO __bench.accounts VALUES (5, 0, 0, \"{spaces100}\")")
        );
        tpcb_row(&mut buf, "accounts", 100_001);
        assert!(String::from_utf8(buf.clone())
            .unwrap()
            .starts_with("INSERT INTO __bench.accounts VALUES (100001, 1, 0, \""));
        tpcb_row(&mut buf, "tellers", 13);
        assert_eq!(
            String::from_utf8(buf.clone()).unwrap(),
            format!("INSERT INTO __bench.tellers VALUES (13, 1, 0, \"{spaces100}\")")
        );
        tpcb_row(&mut buf, "branches", 0);
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            format!("INSERT INTO __bench.branches VALUES (0, 0, \"{spaces100}\")")
        );
    }

    #[test]
    fn set_up_texts_are_bench_md() {
        assert_eq!(
            TPCB_TABLES[3],
            "create table __bench.history (tid int, bid int, aid int, delta int, time timestamp, \
             seq int primary key serial, filler text)"
        );
        assert_eq!(
            create_test_table(Workload::Insert),
            Some("create table __bench.test (id int primary key serial)")
        );
        assert_eq!(
            create_test_table(Workload::Import),
            create_test_table(Workload::Insert)
        );
        assert_eq!(
            create_test_table(Workload::Upsert),
            Some(
                "create table __bench.test (id int primary key random (100000), data int default 0) \
                 with (type = 'hash')"
            )
        );
        assert_eq!(
            create_test_table(Workload::Resolved),
            Some(
                "create table __bench.test (ts timestamp as (current_timestamp::date_bin('3 sec'::interval)) \
                 stored, id int random (10000), hits int default 0 as (hits + 1) resolved, \
                 primary key(ts, id)) with (type = 'hash')"
            )
        );
        assert_eq!(create_test_table(Workload::Tpcb), None);
        assert_eq!(
            CREATE_MEM,
            "create table __bench.mem (id int primary key serial)"
        );
    }

    #[test]
    fn batch_texts_are_bench_md() {
        let mut g = generator(Workload::Insert, 500);
        assert!(g.is_fixed());
        assert_eq!(text(&mut g), "insert into __bench.test generate 500");
        assert_eq!(text(&mut g), "insert into __bench.test generate 500");
        let mut g = generator(Workload::Resolved, 500);
        assert_eq!(text(&mut g), "insert into __bench.test generate 500");
        let mut g = generator(Workload::Upsert, 500);
        assert_eq!(
            text(&mut g),
            "insert into __bench.test generate 500 on conflict do update set data = data + 1"
        );
        let mut g = generator(Workload::Insert, 7);
        assert_eq!(text(&mut g), "insert into __bench.test generate 7");
        for w in [Workload::Insert, Workload::Upsert, Workload::Resolved] {
            let t = generator(w, 1).target();
            assert_eq!((t.path, t.content_type), ("/", "text/plain"));
        }
        assert!(!generator(Workload::Tpcb, 1).is_fixed());
    }

    #[test]
    fn import_request() {
        let mut g = generator(Workload::Import, 3);
        assert_eq!(text(&mut g), "[[],[],[]]");
        let t = g.target();
        assert_eq!(
            (t.path, t.content_type),
            ("/__bench/test?columns=", "application/json")
        );
        let mut g = generator(Workload::Import, 500);
        let body = text(&mut g);
        assert_eq!(body.matches("[]").count(), 500);
        assert_eq!(body.len(), 500 * 2 + 499 + 2);
        assert!(body.starts_with("[[],[]") && body.ends_with("[],[]]"));
    }

    #[test]
    fn select_in_range() {
        let mut g = generator(Workload::Select, 1);
        for _ in 0..1000 {
            let sql = text(&mut g);
            let aid: i64 = sql
                .strip_prefix("select * from __bench.accounts where aid = ")
                .unwrap()
                .parse()
                .unwrap();
            assert!((0..ACCOUNTS_PER_BRANCH).contains(&aid));
        }
    }

    #[test]
    fn tpcb_set_up_counts() {
        assert_eq!(
            tpcb_rows(2),
            [("branches", 2), ("tellers", 20), ("accounts", 200_000)]
        );
    }

    #[test]
    fn amelie_tables() {
        assert_eq!(create_tables(Workload::Tpcb, false), TPCB_TABLES.to_vec());
        let t = create_tables(Workload::Tpcb, true);
        assert_eq!(t.len(), 4);
        assert!(t
            .iter()
            .all(|d| d.starts_with("create unlogged table __bench.")));
        assert_eq!(
            create_tables(Workload::Import, true),
            vec!["create unlogged table __bench.test (id int primary key serial)".to_string()]
        );
        assert!(create_tables(Workload::Select, false).is_empty());
    }

    #[test]
    fn drop_lists() {
        assert_eq!(tables(Workload::Tpcb).len(), 4);
        assert_eq!(tables(Workload::Memory), &["__bench.mem"]);
        assert_eq!(tables(Workload::Import), &["__bench.test"]);
    }
}
