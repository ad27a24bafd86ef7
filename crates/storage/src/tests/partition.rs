//! Partitions: put/get/scan, undo rollback, rewrite, secondary indexes.

use super::Rng;
use crate::{encode_key, Partition, Row, UndoLog};
use amelie_common::{IndexKind, Value};
use std::ops::Bound;

const KINDS: [IndexKind; 2] = [IndexKind::Tree, IndexKind::Hash];

fn row(id: i64, v: i64) -> Row {
    Row::encode(&[Value::Int(id), Value::Int(v)])
}

fn key(p: &Partition, r: &Row) -> Vec<u8> {
    let mut k = Vec::new();
    p.row_key(r, &mut k);
    k
}

fn put(p: &mut Partition, r: Row, undo: Option<&mut UndoLog>) {
    let k = key(p, &r);
    p.put(&k, r, undo);
}

/// Rows by key, and each secondary index's primary keys in order.
type State = (Vec<(Vec<u8>, Row)>, Vec<Vec<Vec<u8>>>);

/// Everything observable.
fn state(p: &Partition) -> State {
    let mut rows = Vec::new();
    p.scan(|k, r| {
        rows.push((k.to_vec(), r.clone()));
        true
    });
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let secs = (0..p.secondary_lens().len())
        .map(|i| {
            let mut pks = Vec::new();
            p.secondary_scan(i, |pk| {
                pks.push(pk.to_vec());
                true
            });
            pks
        })
        .collect();
    (rows, secs)
}

#[test]
fn tree_put_get_scan_in_order() {
    let mut p = Partition::new(1, 1, IndexKind::Tree, &[0]);
    for id in [5, -3, 10, 0] {
        let r = row(id, id * 2);
        let k = key(&p, &r);
        assert!(p.put(&k, r, None).is_none());
    }
    let mut ids = Vec::new();
    p.scan(|k, r| {
        assert_eq!(k, key(&p, r));
        ids.push(r.get(0));
        true
    });
    assert_eq!(
        ids,
        vec![Value::Int(-3), Value::Int(0), Value::Int(5), Value::Int(10)]
    );
    let k = key(&p, &row(5, 0));
    assert_eq!(p.get(&k), Some(&row(5, 10)));
    assert_eq!(p.put(&k, row(5, 11), None), Some(row(5, 10)));
    assert_eq!(p.remove(&k, None), Some(row(5, 11)));
    assert_eq!(p.remove(&k, None), None);
    assert_eq!(p.len(), 3);
}

#[test]
fn inverted_and_empty_ranges_visit_nothing() {
    for kind in KINDS {
        let mut p = Partition::new(1, 1, kind, &[0]);
        for id in 0..500 {
            put(&mut p, row(id, 0), None);
        }
        let (a, b) = (key(&p, &row(300, 0)), key(&p, &row(100, 0)));
        let mut n = 0;
        for (from, to) in [
            (Bound::Included(&a[..]), Bound::Included(&b[..])),
            (Bound::Excluded(&a[..]), Bound::Excluded(&a[..])),
            (Bound::Included(&a[..]), Bound::Excluded(&a[..])),
        ] {
            p.scan_range(from, to, |_, _| {
                n += 1;
                true
            });
        }
        assert_eq!(n, 0);
        p.scan_range(Bound::Included(&b[..]), Bound::Excluded(&a[..]), |_, _| {
            n += 1;
            true
        });
        assert_eq!(n, 200);
    }
}

#[test]
fn undo_restores_exact_state() {
    for kind in KINDS {
        let mut rng = Rng::new(5);
        let mut p = Partition::new(7, 1, kind, &[0]);
        p.create_secondary(&[1], false);
        p.create_secondary(&[1, 0], true);
        for id in 0..300 {
            put(&mut p, row(id, id % 10), None);
        }
        for round in 0..20 {
            let before = state(&p);
            let mut undo = UndoLog::default();
            for _ in 0..rng.below(400) {
                let id = rng.below(400) as i64;
                let r = row(id, rng.below(10) as i64);
                let k = key(&p, &r);
                if rng.below(3) == 0 {
                    let had = p.get(&k).cloned();
                    assert_eq!(p.remove(&k, Some(&mut undo)), None);
                    if had.is_some() {
                        assert_eq!(undo.last_old(), had.as_ref());
                    }
                } else {
                    assert_eq!(p.put(&k, r, Some(&mut undo)), None);
                }
            }
            let logged: Vec<(u64, Vec<u8>)> =
                undo.iter().map(|(pid, k, _)| (pid, k.to_vec())).collect();
            assert!(logged.iter().all(|(pid, k)| *pid == 7 && k.len() == 9));
            if round % 2 == 0 {
                undo.rollback(|pid, k, old| {
                    assert_eq!(pid, 7);
                    p.restore(k, old)
                });
            } else {
                undo.rollback_in_place(|_, k, old| p.restore(k, old));
                assert!(undo.is_empty());
            }
            assert_eq!(state(&p), before, "round {round}");
            assert_eq!(p.secondary_lens(), vec![300, 300]);
        }
    }
}

#[test]
fn undo_log_reuse_keeps_memory() {
    let mut undo = UndoLog::default();
    for i in 0..100u64 {
        undo.push(1, &i.to_be_bytes(), None);
    }
    assert_eq!(undo.len(), 100);
    undo.clear();
    assert!(undo.is_empty());
    undo.push(2, b"abc", Some(row(1, 1)));
    undo.push(3, b"", None);
    let ops: Vec<_> = undo
        .iter()
        .map(|(p, k, o)| (p, k.to_vec(), o.cloned()))
        .collect();
    assert_eq!(
        ops,
        vec![(2, b"abc".to_vec(), Some(row(1, 1))), (3, vec![], None)]
    );
    let mut seen = Vec::new();
    undo.rollback(|p, k, _| seen.push((p, k.to_vec())));
    assert_eq!(seen, vec![(3, vec![]), (2, b"abc".to_vec())]);
}

#[test]
fn rewrite_rows_keeps_keys() {
    for kind in KINDS {
        let mut p = Partition::new(1, 1, kind, &[1]);
        for i in 0..300 {
            put(
                &mut p,
                Row::encode(&[Value::Int(100 + i), Value::Int(i)]),
                None,
            );
        }
        p.rewrite_rows(&[0], |r| {
            let mut v = r.to_values();
            v.remove(0);
            v.push(Value::str("new"));
            *r = Row::encode(&v);
        });
        assert_eq!(p.key_cols(), &[0]);
        let mut n = 0;
        p.scan(|k, r| {
            assert_eq!(r.columns(), 2);
            assert_eq!(r.get(1), Value::str("new"));
            assert_eq!(p.get(k), Some(r));
            n += 1;
            true
        });
        assert_eq!(n, 300);
    }
}

fn pks(p: &Partition, i: usize) -> Vec<Value> {
    let mut out = Vec::new();
    p.secondary_scan(i, |pk| {
        let r = p.get(pk).expect("secondary points at a row");
        out.push(r.get(0));
        true
    });
    out
}

#[test]
fn non_unique_secondary_keeps_duplicates() {
    for kind in KINDS {
        let mut p = Partition::new(1, 1, kind, &[0]);
        for id in 0..6 {
            put(&mut p, row(id, id % 2), None);
        }
        p.create_secondary(&[1], false);
        assert_eq!(p.secondary_lens(), vec![6]);
        // by v, then by id
        let ints = |v: &[i64]| v.iter().map(|&i| Value::Int(i)).collect::<Vec<_>>();
        assert_eq!(pks(&p, 0), ints(&[0, 2, 4, 1, 3, 5]));
        put(&mut p, row(2, 1), None); // moves from v=0 to v=1
        put(&mut p, row(4, 0), None); // unchanged key
        let k = key(&p, &row(1, 0));
        p.remove(&k, None);
        assert_eq!(p.secondary_lens(), vec![5]);
        assert_eq!(pks(&p, 0), ints(&[0, 4, 2, 3, 5]));
        assert!(
            !p.unique_conflict(0, &row(9, 1), None),
            "not a unique index"
        );
        p.clear();
        assert_eq!(p.secondary_lens(), vec![0]);
    }
}

#[test]
fn unique_secondary_conflicts() {
    for kind in KINDS {
        let mut p = Partition::new(1, 1, kind, &[0]);
        p.create_secondary(&[1], true);
        let null_row = |id: i64| Row::encode(&[Value::Int(id), Value::Null]);
        put(&mut p, row(1, 10), None);
        put(&mut p, row(2, 20), None);
        put(&mut p, null_row(3), None);
        put(&mut p, null_row(4), None);
        assert_eq!(p.secondary_lens(), vec![4], "null keys are kept apart");
        let pk1 = key(&p, &row(1, 0));
        let pk2 = key(&p, &row(2, 0));
        // a new row with a taken key
        assert!(p.unique_conflict(0, &row(5, 10), None));
        assert!(!p.unique_conflict(0, &row(5, 11), None));
        // NULL never conflicts
        assert!(!p.unique_conflict(0, &null_row(5), None));
        // replacing a row by itself (same key) does not conflict; another pk does
        assert!(!p.unique_conflict(0, &row(1, 10), Some(&pk1)));
        assert!(p.unique_conflict(0, &row(1, 20), Some(&pk1)));
        assert!(p.unique_conflict(0, &row(2, 10), Some(&pk2)));
        // out of range index
        assert!(!p.unique_conflict(3, &row(5, 10), None));
        // keys are prefixes of each other as text: no false conflict
        let mut q = Partition::new(2, 1, kind, &[0]);
        q.create_secondary(&[1], true);
        put(
            &mut q,
            Row::encode(&[Value::Int(1), Value::str("ab")]),
            None,
        );
        assert!(!q.unique_conflict(0, &Row::encode(&[Value::Int(2), Value::str("a")]), None));
        assert!(q.unique_conflict(0, &Row::encode(&[Value::Int(2), Value::str("ab")]), None));
        // secondary ordinals shift after a dropped column
        q.shift_secondary(0);
        assert!(q.unique_conflict(0, &Row::encode(&[Value::str("ab")]), None));
        q.drop_secondary(0);
        assert!(q.secondary_lens().is_empty());
    }
}

#[test]
fn a_unique_index_is_not_built_over_duplicates() {
    for kind in KINDS {
        let mut p = Partition::new(1, 1, kind, &[0]);
        let null_row = |id: i64| Row::encode(&[Value::Int(id), Value::Null]);
        put(&mut p, row(1, 10), None);
        put(&mut p, null_row(2), None);
        put(&mut p, null_row(3), None);
        // NULL keys do not count as duplicates
        assert!(p.try_create_secondary(&[1], true));
        assert_eq!(p.secondary_lens(), vec![3]);
        put(&mut p, row(4, 10), None);
        // two rows share 10: nothing is added
        assert!(!p.try_create_secondary(&[1], true));
        assert_eq!(p.secondary_lens(), vec![4]);
        // a non-unique index is built whatever the rows
        assert!(p.try_create_secondary(&[1], false));
        assert_eq!(p.secondary_lens(), vec![4, 4]);
    }
}

#[test]
fn secondary_on_compound_text_keys() {
    let mut p = Partition::new(1, 1, IndexKind::Tree, &[0]);
    let long = "k".repeat(90);
    for id in 0..50 {
        let s = format!("{}{}", if id % 3 == 0 { long.as_str() } else { "" }, id % 5);
        put(
            &mut p,
            Row::encode(&[Value::Int(id), Value::str(&s), Value::Null]),
            None,
        );
    }
    p.create_secondary(&[1, 2], false);
    let got = pks(&p, 0);
    assert_eq!(got.len(), 50);
    let mut want: Vec<(Vec<u8>, Vec<u8>, Value)> = Vec::new();
    p.scan(|k, r| {
        let mut sk = Vec::new();
        encode_key(&[r.get(1), r.get(2)], &mut sk);
        want.push((sk, k.to_vec(), r.get(0)));
        true
    });
    want.sort();
    assert_eq!(got, want.into_iter().map(|w| w.2).collect::<Vec<_>>());
}

#[test]
fn insert_new_inserts_once_and_gives_a_present_key_back() {
    for kind in KINDS {
        for secondary in [false, true] {
            let mut p = Partition::new(1, 1, kind, &[0]);
            if secondary {
                p.create_secondary(&[1], false);
            }
            let mut undo = UndoLog::default();
            // ascending (the last-leaf path), then descending and interleaved keys
            let ids: Vec<i64> = (0..300).chain((300..600).rev()).chain(-50..0).collect();
            for &id in &ids {
                let r = row(id, id * 2);
                let k = key(&p, &r);
                assert!(p.insert_new(&k, r, Some(&mut undo)).is_ok());
            }
            assert_eq!(p.len(), ids.len());
            assert_eq!(undo.len(), ids.len());
            for &id in &ids {
                let r = row(id, -1);
                let k = key(&p, &r);
                let (back, present) = p.insert_new(&k, r, Some(&mut undo)).unwrap_err();
                assert_eq!(back, row(id, -1));
                assert_eq!(present, &row(id, id * 2));
                assert_eq!(p.get(&k), Some(&row(id, id * 2)));
            }
            assert_eq!(undo.len(), ids.len(), "a refused insert logs nothing");
            let before = state(&p);
            assert_eq!(before.0.len(), ids.len());
            undo.rollback(|_, k, old| p.restore(k, old));
            assert!(p.is_empty() && state(&p).1.iter().all(|s| s.is_empty()));
        }
    }
}

#[test]
fn upsert_inserts_updates_or_keeps_with_one_search() {
    for kind in KINDS {
        for secondary in [false, true] {
            let mut p = Partition::new(1, 1, kind, &[0]);
            if secondary {
                p.create_secondary(&[1], false);
            }
            let mut undo = UndoLog::default();
            let ids: Vec<i64> = (0..300).chain((300..600).rev()).collect();
            for &id in &ids {
                let r = row(id, id);
                let k = key(&p, &r);
                let stored = p
                    .upsert(&k, &mut undo, |present| {
                        assert!(present.is_none());
                        Ok::<_, ()>(Some(r))
                    })
                    .unwrap();
                assert!(stored);
            }
            let snapshot = state(&p);
            let mut updates = UndoLog::default();
            for &id in &ids {
                let k = key(&p, &row(id, 0));
                // odd ids are updated, even ones kept
                let stored = p
                    .upsert(&k, &mut updates, |present| {
                        assert_eq!(present, Some(&row(id, id)));
                        Ok::<_, ()>((id % 2 == 1).then(|| row(id, -id)))
                    })
                    .unwrap();
                assert_eq!(stored, id % 2 == 1);
                let expect = if id % 2 == 1 {
                    row(id, -id)
                } else {
                    row(id, id)
                };
                assert_eq!(p.get(&k), Some(&expect));
            }
            assert_eq!(updates.len(), ids.len() / 2, "only stored rows are logged");
            // an error from the decision changes nothing
            let k = key(&p, &row(7, 0));
            assert_eq!(p.upsert(&k, &mut updates, |_| Err("no")), Err("no"));
            let k = key(&p, &row(10_000, 0));
            assert_eq!(p.upsert(&k, &mut updates, |_| Err("no")), Err("no"));
            assert_eq!(p.len(), ids.len());
            // rolling back the updates restores the inserted rows exactly
            updates.rollback(|_, k, old| p.restore(k, old));
            assert_eq!(state(&p), snapshot);
            undo.rollback(|_, k, old| p.restore(k, old));
            assert!(p.is_empty());
        }
    }
}
