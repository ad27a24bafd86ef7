//! The hash index against a `HashMap` model, and its iteration order against the
//! `HashMap<Box<[u8]>, _, FastHasher>` the partition used before.

use super::Rng;
use crate::hash::HashIndex;
use crate::{encode_key, FastHasher, Partition, Row};
use amelie_common::{IndexKind, Value};
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

/// The rows the partition stored before this crate's compact rows.
type OldRow = Box<[Value]>;

/// Keys of a hash partition in iteration order.
fn order(p: &Partition) -> Vec<Vec<u8>> {
    let mut keys = Vec::new();
    p.scan(|k, _| {
        keys.push(k.to_vec());
        true
    });
    keys
}

#[test]
fn iteration_order_matches_std_hashmap() {
    for (seed, kinds) in [(1u64, 0u64), (2, 1), (3, 2)] {
        let mut rng = Rng::new(seed);
        let mut part = Partition::new(1, 1, IndexKind::Hash, &[0, 1]);
        let mut old: HashMap<Box<[u8]>, OldRow, FastHasher> = HashMap::default();
        let mut key = Vec::new();
        for step in 0..30_000i64 {
            let a = match kinds {
                0 => Value::Int(step),
                1 => Value::Int(rng.below(5000) as i64),
                _ => Value::str(&format!("user-{}", rng.below(4000))),
            };
            let values = vec![a, Value::Int(rng.below(2) as i64), Value::Int(step)];
            let row = Row::encode(&values);
            part.row_key(&row, &mut key);
            if rng.below(4) == 0 && kinds != 0 {
                part.remove(&key, None);
                old.remove(key.as_slice());
            } else {
                part.put(&key, row, None);
                old.insert(key.clone().into(), values.into());
            }
            if step % 7919 == 0 {
                let want: Vec<Vec<u8>> = old.keys().map(|k| k.to_vec()).collect();
                assert_eq!(order(&part), want, "seed {seed} step {step}");
            }
        }
        let want: Vec<Vec<u8>> = old.keys().map(|k| k.to_vec()).collect();
        assert_eq!(order(&part), want, "seed {seed}");
        part.clear();
        old.clear();
        for i in 0..100 {
            let values = vec![Value::Int(i), Value::Int(0)];
            let row = Row::encode(&values);
            part.row_key(&row, &mut key);
            part.put(&key, row, None);
            old.insert(key.clone().into(), values.into());
        }
        let want: Vec<Vec<u8>> = old.keys().map(|k| k.to_vec()).collect();
        assert_eq!(order(&part), want, "after clear");
    }
}
