//! The tree index against a `BTreeMap` model.

use super::Rng;
use crate::tree::Tree;
use crate::{encode_key, Row};
use amelie_common::Value;
use std::collections::BTreeMap;
use std::ops::Bound;

const KC: &[usize] = &[0];

fn key_of(id: i64) -> Vec<u8> {
    let mut k = Vec::new();
    encode_key(&[Value::Int(id)], &mut k);
    k
}

fn row(id: i64, v: i64) -> Row {
    Row::encode(&[Value::Int(id), Value::Int(v)])
}

fn put(t: &mut Tree, m: &mut BTreeMap<Vec<u8>, Row>, id: i64, v: i64) {
    let k = key_of(id);
    let old = t.put(KC, &k, row(id, v));
    assert_eq!(old, m.insert(k, row(id, v)));
}

fn bound(rng: &mut Rng, range: i64) -> Bound<Vec<u8>> {
    let k = key_of(rng.below(range as u64 + 2) as i64 - 1);
    match rng.below(5) {
        0 => Bound::Unbounded,
        1 | 2 => Bound::Included(k),
        _ => Bound::Excluded(k),
    }
}

fn as_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(k),
        Bound::Excluded(k) => Bound::Excluded(k),
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn check_range(t: &Tree, m: &BTreeMap<Vec<u8>, Row>, from: &Bound<Vec<u8>>, to: &Bound<Vec<u8>>) {
    let mut got = Vec::new();
    t.scan_range(KC, as_ref(from), as_ref(to), |k, r| {
        got.push((k.to_vec(), r.clone()));
        true
    });
    let inverted = match (from, to) {
        (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => {
            a > b || (a == b && !matches!((from, to), (Bound::Included(_), Bound::Included(_))))
        }
        _ => false,
    };
    let want: Vec<(Vec<u8>, Row)> = if inverted {
        Vec::new()
    } else {
        m.range::<[u8], _>((as_ref(from), as_ref(to)))
            .map(|(k, r)| (k.clone(), r.clone()))
            .collect()
    };
    assert_eq!(got, want, "range {from:?} .. {to:?}");
    // stopping early visits a prefix
    if want.len() > 1 {
        let mut n = 0;
        t.scan_range(KC, as_ref(from), as_ref(to), |_, _| {
            n += 1;
            n < 2
        });
        assert_eq!(n, 2);
    }
}

fn check_all(t: &Tree, m: &BTreeMap<Vec<u8>, Row>) {
    t.check(KC);
    assert_eq!(t.len(), m.len());
    let mut got = Vec::new();
    t.scan(KC, |k, r| {
        got.push((k.to_vec(), r.clone()));
        true
    });
    let want: Vec<(Vec<u8>, Row)> = m.iter().map(|(k, r)| (k.clone(), r.clone())).collect();
    assert_eq!(got, want);
}

#[test]
fn random_operations_match_btreemap() {
    for (seed, cap, range) in [
        (1u64, 4usize, 60i64),
        (2, 5, 300),
        (3, 8, 2000),
        (4, 128, 5000),
    ] {
        let mut rng = Rng::new(seed);
        let mut t = Tree::with_leaf_cap(cap);
        let mut m = BTreeMap::new();
        for step in 0..20_000 {
            let id = rng.below(range as u64) as i64;
            match rng.below(10) {
                0..=4 => put(&mut t, &mut m, id, step),
                5..=7 => {
                    let k = key_of(id);
                    assert_eq!(t.remove(KC, &k), m.remove(&k));
                }
                8 => {
                    let k = key_of(id);
                    assert_eq!(t.get(KC, &k), m.get(&k));
                }
                _ => {
                    let (from, to) = (bound(&mut rng, range), bound(&mut rng, range));
                    check_range(&t, &m, &from, &to);
                }
            }
            if step % 1000 == 0 {
                check_all(&t, &m);
            }
        }
        check_all(&t, &m);
        // drain everything
        let keys: Vec<Vec<u8>> = m.keys().cloned().collect();
        for k in keys {
            assert_eq!(t.remove(KC, &k), m.remove(&k));
        }
        check_all(&t, &m);
        assert_eq!(t.leaf_stats().0, 0);
        put(&mut t, &mut m, 5, 5);
        check_all(&t, &m);
    }
}

#[test]
fn ranges_between_leaves_and_at_edges() {
    let mut t = Tree::with_leaf_cap(4);
    let mut m = BTreeMap::new();
    for id in (0..200).step_by(2) {
        put(&mut t, &mut m, id, id);
    }
    check_all(&t, &m);
    for a in -2..203 {
        for b in [a - 1, a, a + 1, a + 7, 250] {
            for (fi, ti) in [(true, true), (true, false), (false, true), (false, false)] {
                let f = if fi {
                    Bound::Included(key_of(a))
                } else {
                    Bound::Excluded(key_of(a))
                };
                let to = if ti {
                    Bound::Included(key_of(b))
                } else {
                    Bound::Excluded(key_of(b))
                };
                check_range(&t, &m, &f, &to);
            }
        }
        check_range(&t, &m, &Bound::Included(key_of(a)), &Bound::Unbounded);
        check_range(&t, &m, &Bound::Unbounded, &Bound::Excluded(key_of(a)));
    }
    // keys of another shape than the index's (shorter/longer) as bounds
    check_range(
        &t,
        &m,
        &Bound::Included(vec![]),
        &Bound::Included(vec![0xff]),
    );
    check_range(
        &t,
        &m,
        &Bound::Excluded(vec![1]),
        &Bound::Excluded(vec![1, 0x80, 0, 0, 0, 0, 0, 0, 9, 9]),
    );
}

#[test]
fn sequential_inserts_fill_leaves() {
    let cap = 16;
    let mut t = Tree::with_leaf_cap(cap);
    let mut m = BTreeMap::new();
    for id in 0..1000 {
        put(&mut t, &mut m, id, 0);
    }
    check_all(&t, &m);
    let (leaves, slots) = t.leaf_stats();
    assert_eq!(leaves, 1000usize.div_ceil(cap));
    assert_eq!(slots, leaves * cap);
    // all leaves but the last are full
    assert!(slots - 1000 < cap);

    // descending inserts work (half splits) and stay correct
    let mut t = Tree::with_leaf_cap(cap);
    let mut m = BTreeMap::new();
    for id in (0..1000).rev() {
        put(&mut t, &mut m, id, 1);
    }
    check_all(&t, &m);

    // two interleaved ascending streams
    let mut t = Tree::with_leaf_cap(cap);
    let mut m = BTreeMap::new();
    for i in 0..500 {
        put(&mut t, &mut m, i, 1);
        put(&mut t, &mut m, 1_000_000 + i, 1);
    }
    check_all(&t, &m);
    let (leaves, _) = t.leaf_stats();
    assert!(leaves <= 1000 / cap + 4, "{leaves} leaves");
}

#[test]
fn deletes_merge_and_remove_leaves() {
    let cap = 16;
    let mut t = Tree::with_leaf_cap(cap);
    let mut m = BTreeMap::new();
    for id in 0..1600 {
        put(&mut t, &mut m, id, 0);
    }
    // delete 15 of every 16: leaves become tiny and merge
    for id in 0..1600 {
        if id % 16 != 0 {
            let k = key_of(id);
            assert_eq!(t.remove(KC, &k), m.remove(&k));
        }
    }
    check_all(&t, &m);
    let (leaves, _) = t.leaf_stats();
    assert!(leaves <= 100 / 4 + 2, "{leaves} leaves for 100 rows");
    // queue pattern: delete from the front, append at the back
    let mut t = Tree::with_leaf_cap(cap);
    let mut m = BTreeMap::new();
    for id in 0..5000 {
        put(&mut t, &mut m, id, 0);
        if id >= 100 {
            let k = key_of(id - 100);
            assert_eq!(t.remove(KC, &k), m.remove(&k));
        }
    }
    check_all(&t, &m);
    assert!(t.leaf_stats().0 <= 100 / cap + 2);
}

#[test]
fn text_keys_longer_than_the_stack_buffer() {
    let kc = &[1usize, 0];
    let mut t = Tree::with_leaf_cap(6);
    let mut m = BTreeMap::new();
    let mut rng = Rng::new(9);
    for i in 0..2000 {
        let s = format!("{}{}", "p".repeat(rng.below(100) as usize), rng.below(50));
        let values = [
            Value::Int(rng.below(3) as i64),
            Value::str(&s),
            Value::Int(i),
        ];
        let r = Row::encode(&values);
        let mut k = Vec::new();
        encode_key(&[values[1].clone(), values[0].clone()], &mut k);
        if rng.below(4) == 0 {
            assert_eq!(t.remove(kc, &k), m.remove(&k));
        } else {
            assert_eq!(t.put(kc, &k, r.clone()), m.insert(k, r));
        }
    }
    t.check(kc);
    let mut got = Vec::new();
    t.scan(kc, |k, _| {
        got.push(k.to_vec());
        true
    });
    assert_eq!(got, m.keys().cloned().collect::<Vec<_>>());
    for k in m.keys() {
        assert!(t.get(kc, k).is_some());
    }
}
