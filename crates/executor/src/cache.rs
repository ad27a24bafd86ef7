//! The program cache: a request whose text matches an earlier one up to the values of its
//! literals reuses that request's compiled program, with the new literal values bound as
//! parameters. A hit skips the tokenizer, the parser and the compiler.
//!
//! The key is [`amelie_parser::fingerprint`]: the text with each literal replaced by a marker
//! of its kind, computed in one pass over the bytes. An entry is valid for the catalog
//! snapshot it was compiled against (any DDL makes a new snapshot, so every entry made before
//! it misses from then on) and the session time zone it was compiled for, and only when the
//! literals the program depends on ([`amelie_compiler::Plan::baked`]: a GENERATE count, a
//! LIMIT pushed to the nodes, a folded JSON constant, ...) have the same values. Programs
//! that depend on anything else ([`amelie_compiler::Plan::volatile`]) are not cached.
//!
//! Each frontend thread has its own cache (no lock on the hit path), bounded in entries.

use amelie_catalog::Catalog;
use amelie_common::{FastMap, Tz, Value};
use amelie_compiler::InsertTemplate;
use amelie_vm::Program;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Entries per frontend thread.
const MAX_ENTRIES: usize = 1024;

/// Key bytes per frontend thread (a program's size grows with its text: this bounds the
/// memory of a cache fed with large distinct requests).
const MAX_KEY_BYTES: usize = 4 << 20;

/// A compiled request, ready to run with any literal values.
#[derive(Debug)]
pub struct Prepared {
    pub program: Arc<Program>,
    /// Rows of INSERT VALUES/GENERATE, built for each execution.
    pub inserts: Vec<InsertTemplate>,
    /// What the request changes (a read-only server refuses [`Effect::Write`]).
    pub effect: amelie_parser::Effect,
}

struct Entry {
    catalog: Arc<Catalog>,
    tz: Tz,
    /// Literals (position, value) the program was compiled with and depends on.
    baked: Vec<(u32, Value)>,
    prepared: Arc<Prepared>,
}

#[derive(Default)]
struct Cache {
    map: FastMap<Box<[u8]>, Entry>,
    /// Sum of the key lengths.
    bytes: usize,
}

impl Cache {
    fn remove(&mut self, key: &[u8]) {
        if self.map.remove(key).is_some() {
            self.bytes -= key.len();
        }
    }
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

/// Hits and misses of every frontend's cache (`SHOW STATUS`).
#[derive(Debug, Default)]
pub struct CacheStats {
    hits: AtomicU64,
    misses: AtomicU64,
}

impl CacheStats {
    pub fn hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
    }

    pub fn miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
    }

    /// (hits, misses) so far.
    pub fn get(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }
}

fn same(a: &Value, b: &Value) -> bool {
    amelie_parser::same_literals(std::slice::from_ref(a), std::slice::from_ref(b))
}

/// The prepared program for `key` on this thread, when it is valid for `catalog`, `tz`
/// and these literal values.
pub fn lookup(key: &[u8], catalog: &Arc<Catalog>, tz: Tz, lits: &[Value]) -> Option<Arc<Prepared>> {
    CACHE.with(|c| {
        let c = c.borrow();
        let e = c.map.get(key)?;
        let valid = Arc::ptr_eq(&e.catalog, catalog)
            && e.tz == tz
            && e.baked
                .iter()
                .all(|(i, v)| lits.get(*i as usize).is_some_and(|l| same(l, v)));
        valid.then(|| e.prepared.clone())
    })
}

/// Caches `prepared` under `key` on this thread (replacing an outdated entry). `baked` are
/// the positions of the literals of `lits` it depends on.
pub fn insert(
    key: &[u8],
    catalog: &Arc<Catalog>,
    tz: Tz,
    baked: &[u32],
    lits: &[Value],
    prepared: Arc<Prepared>,
) {
    let baked = baked
        .iter()
        .filter_map(|&i| lits.get(i as usize).map(|v| (i, v.clone())))
        .collect();
    let entry = Entry {
        catalog: catalog.clone(),
        tz,
        baked,
        prepared,
    };
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        c.remove(key);
        let full = |c: &Cache| c.map.len() >= MAX_ENTRIES || c.bytes + key.len() > MAX_KEY_BYTES;
        if full(&c) {
            // entries of an older catalog go first, then arbitrary ones (hash order)
            let stale: Vec<Box<[u8]>> = c
                .map
                .iter()
                .filter(|(_, e)| !Arc::ptr_eq(&e.catalog, catalog))
                .map(|(k, _)| k.clone())
                .collect();
            for k in stale {
                c.remove(&k);
            }
            while full(&c) {
                let Some(k) = c.map.keys().next().cloned() else {
                    break;
                };
                c.remove(&k);
            }
        }
        c.bytes += key.len();
        c.map.insert(key.into(), entry);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prepared() -> Arc<Prepared> {
        Arc::new(Prepared {
            program: Arc::new(Program::default()),
            inserts: Vec::new(),
            effect: amelie_parser::Effect::Read,
        })
    }

    #[test]
    fn entries_check_catalog_zone_and_baked_literals() {
        let catalog = Arc::new(Catalog::default());
        let p = prepared();
        let lits = vec![Value::Int(1), Value::Int(500)];
        insert(b"k1", &catalog, Tz::UTC, &[1], &lits, p.clone());
        let hit = lookup(b"k1", &catalog, Tz::UTC, &[Value::Int(7), Value::Int(500)]);
        assert!(hit.is_some_and(|h| Arc::ptr_eq(&h, &p)));
        // a baked literal with another value, another zone, another catalog: misses
        assert!(lookup(b"k1", &catalog, Tz::UTC, &[Value::Int(7), Value::Int(5)]).is_none());
        assert!(lookup(b"k1", &catalog, Tz::Fixed(3600), &lits).is_none());
        let other = Arc::new(Catalog::default());
        assert!(lookup(b"k1", &other, Tz::UTC, &lits).is_none());
        assert!(lookup(b"k2", &catalog, Tz::UTC, &lits).is_none());
        // the kind of a baked literal counts too
        assert!(lookup(
            b"k1",
            &catalog,
            Tz::UTC,
            &[Value::Int(7), Value::Double(500.0)]
        )
        .is_none());
    }

    #[test]
    fn the_cache_is_bounded() {
        let catalog = Arc::new(Catalog::default());
        for i in 0..(MAX_ENTRIES + 10) {
            insert(
                format!("key {i}").as_bytes(),
                &catalog,
                Tz::UTC,
                &[],
                &[],
                prepared(),
            );
        }
        CACHE.with(|c| assert!(c.borrow().map.len() <= MAX_ENTRIES));
        // entries of an outdated catalog go first
        let newer = Arc::new(Catalog::default());
        insert(b"new", &newer, Tz::UTC, &[], &[], prepared());
        CACHE.with(|c| assert_eq!(c.borrow().map.len(), 1));
        // and the key bytes are bounded too
        let big = vec![b'x'; MAX_KEY_BYTES / 3];
        for i in 0..5u8 {
            let mut k = big.clone();
            k.push(i);
            insert(&k, &newer, Tz::UTC, &[], &[], prepared());
        }
        CACHE.with(|c| {
            let c = c.borrow();
            assert!(c.bytes <= MAX_KEY_BYTES);
            assert_eq!(c.bytes, c.map.keys().map(|k| k.len()).sum::<usize>());
        });
    }
}
