//! The hash index against a `HashMap` model, its per-index random seed, and the cost of a
//! flood of keys made to collide.

use super::Rng;
use crate::hash::{HashIndex, KeyHash, COMPARISONS};
use crate::{encode_key, Partition, Row};
use amelie_common::{FastState, IndexKind, Value};
use std::collections::HashMap;

const KC: &[usize] = &[0];

fn key_of(values: &[Value]) -> Vec<u8> {
    let mut k = Vec::new();
    encode_key(values, &mut k);
    k
}
#[test]
fn random_operations_match_hashmap() {
    let mut rng = Rng::new(11);
    let mut h = HashIndex::new();
    let mut m: HashMap<Vec<u8>, Row> = HashMap::new();
    for step in 0..50_000i64 {
        let id = rng.below(3000) as i64;
        let k = key_of(&[Value::Int(id)]);
        match rng.below(6) {
            0..=2 => {
                let r = Row::encode(&[Value::Int(id), Value::Int(step)]);
                assert_eq!(h.put(KC, &k, r.clone()), m.insert(k, r));
            }
            3 | 4 => assert_eq!(h.remove(KC, &k), m.remove(&k)),
            _ => assert_eq!(h.get(KC, &k), m.get(&k)),
        }
    }
    assert_eq!(h.len(), m.len());
    let mut n = 0;
    h.scan(KC, |k, r| {
        assert_eq!(m.get(k), Some(r));
        n += 1;
        true
    });
    assert_eq!(n, m.len());
}

/// Keys of a hash partition in scan order.
fn order(p: &Partition) -> Vec<Vec<u8>> {
    let mut keys = Vec::new();
    p.scan(|k, _| {
        keys.push(k.to_vec());
        true
    });
    keys
}

fn hash_partition_of(ids: impl Iterator<Item = i64>) -> Partition {
    let mut part = Partition::new(1, 1, IndexKind::Hash, &[0]);
    let mut key = Vec::new();
    for i in ids {
        let row = Row::encode(&[Value::Int(i), Value::Int(0)]);
        part.row_key(&row, &mut key);
        part.put(&key, row, None);
    }
    part
}

#[test]
fn each_hash_index_has_its_own_seed() {
    // the same rows put in the same order: a fixed hash would give one scan order
    let a = hash_partition_of(0..1000);
    let b = hash_partition_of(0..1000);
    let (oa, ob) = (order(&a), order(&b));
    assert_eq!(oa.len(), 1000);
    assert_ne!(oa, ob);
    let (mut sa, mut sb) = (oa, ob);
    sa.sort();
    sb.sort();
    assert_eq!(sa, sb);
}

#[test]
fn clear_takes_new_seeds_and_keeps_the_index_usable() {
    let mut part = hash_partition_of(0..500);
    let k = key_of(&[Value::Int(42)]);
    let hashed = |p: &Partition| match p.hash_index() {
        Some(h) => h.hash_of(&k),
        None => panic!("not a hash partition"),
    };
    let before = hashed(&part);
    part.clear();
    assert_ne!(hashed(&part), before);
    assert!(order(&part).is_empty());
    let mut key = Vec::new();
    for i in 0..100 {
        let row = Row::encode(&[Value::Int(i), Value::Int(1)]);
        part.row_key(&row, &mut key);
        part.put(&key, row, None);
    }
    assert_eq!(order(&part).len(), 100);
    assert!(part.get(&k).is_some());
}

/// `n` single-int keys with their rows whose hashes under `hash` agree in the low `bits`
/// bits: what a client who knows the hash function sends to pile rows into one bucket (the
/// table uses the low bits to pick a bucket while it has at most `2^bits` buckets).
fn flood(hash: &impl KeyHash, n: usize, bits: u32) -> Vec<(Vec<u8>, Row)> {
    let mask = (1u64 << bits) - 1;
    let mut out = Vec::with_capacity(n);
    let mut k = Vec::new();
    let mut id = 0i64;
    while out.len() < n {
        k.clear();
        encode_key(&[Value::Int(id)], &mut k);
        if hash.hash_key(&k) & mask == 0 {
            out.push((k.clone(), Row::encode(&[Value::Int(id)])));
        }
        id += 1;
    }
    out
}

fn random_keys(n: usize) -> Vec<(Vec<u8>, Row)> {
    let mut rng = Rng::new(5);
    (0..n)
        .map(|_| {
            let id = (rng.next() >> 1) as i64;
            (key_of(&[Value::Int(id)]), Row::encode(&[Value::Int(id)]))
        })
        .collect()
}

/// The work of putting every key into `index` and then looking each one up, counted in key
/// comparisons (every comparison is one probe step that met a possible match).
fn cost<H: KeyHash>(mut index: HashIndex<H>, keys: &[(Vec<u8>, Row)]) -> u64 {
    let before = COMPARISONS.with(|c| c.get());
    for (k, row) in keys {
        assert!(index.insert_new(KC, k, row.clone()).is_ok());
    }
    for (k, _) in keys {
        assert!(index.get(KC, k).is_some());
    }
    assert_eq!(index.len(), keys.len());
    COMPARISONS.with(|c| c.get()) - before
}

#[test]
fn a_flood_of_colliding_keys_costs_no_more_than_random_keys() {
    const N: usize = 2048;
    // 2048 rows live in a table of 4096 buckets: 12 low bits pick the bucket
    let known = FastState::with_known_seed(0x5eed);
    let flood = flood(&known, N, 12);
    let random = random_keys(N);

    // against the hash it was made for, the flood is real: the measure sees it (about 15
    // times the comparisons of random keys)
    let flood_known = cost(HashIndex::with_hasher(known.clone()), &flood);
    let random_known = cost(HashIndex::with_hasher(known), &random);
    assert!(
        flood_known > 8 * random_known,
        "a known hash: flood {flood_known} vs random {random_known} comparisons"
    );

    // a hash index seeds itself at random, so the same keys spread like any others
    let flood_index = cost(HashIndex::new(), &flood);
    let random_index = cost(HashIndex::new(), &random);
    assert!(
        flood_index <= random_index + random_index / 4 + 64,
        "a seeded index: flood {flood_index} vs random {random_index} comparisons"
    );
}

#[test]
fn a_flood_spreads_over_the_buckets_of_a_seeded_index() {
    let flood = flood(&FastState::with_known_seed(7), 1024, 10);
    let index = HashIndex::new();
    let mut load = HashMap::new();
    for (k, _) in &flood {
        *load.entry(index.hash_of(k) & 1023).or_insert(0u32) += 1;
    }
    // 1024 keys over 1024 buckets at random: the fullest bucket holds a handful, not 1024
    let fullest = load.values().copied().max().unwrap_or(0);
    assert!(fullest <= 12, "{fullest} keys in one bucket");
    assert!(load.len() > 500, "{} buckets used", load.len());
}
