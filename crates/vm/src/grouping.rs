//! The groups of GROUP BY and the order they come out in.
//!
//! [`find_groups`] finds each row's group in a randomly seeded hash table (the `FastState`
//! of every hot-path map, so that clients cannot flood it) and keeps the groups in
//! **first-appearance** order: the order of a single source, and of the first partition of
//! a distributed table.
//!
//! Each later partition of a distributed table hands its groups to the coordinator in the
//! order of Amelie's grouping slot table instead (`ORDER.md` §2). That table is only
//! *simulated* here ([`slot_order`]): its placement depends on nothing but the groups'
//! hashes ([`key_hash`], FNV-1 over the key values' bytes) in first-appearance order and
//! on whether a lookup followed the last new group, as the hash table has already decided
//! which rows share a group. The simulation has a probe budget: keys crafted to collide
//! under FNV (which has no seed) would make its linear probing quadratic, so past the budget
//! it gives up and that partition's groups stay in first-appearance order.

use crate::agg::{AggKind, AggState};
use crate::Tuple;
use amelie_common::json::{Event, Walk};
use amelie_common::{FastState, Json, Result, Value};
use std::hash::BuildHasher;

/// The groups of a set of rows, in first-appearance order: each key with its aggregate
/// states.
pub struct Groups {
    pub groups: Vec<(Vec<Value>, Vec<AggState>)>,
    /// Whether a row came after the one that made the last group (Amelie's slot table then
    /// had one more lookup, which may have grown it).
    pub trailing: bool,
}

/// Groups rows `key ++ one input per aggregate` by their first `nkeys` values (see
/// [`Value::same_key`]). With `partial`, the inputs are instead `count, acc` pairs of
/// partial states, which are merged. Groups come out in first-appearance order.
pub fn find_groups(
    rows: Vec<Tuple>,
    nkeys: usize,
    kinds: &[AggKind],
    partial: bool,
) -> Result<Groups> {
    let state = FastState::random();
    let mut table: hashbrown::HashTable<u32> = hashbrown::HashTable::new();
    let mut groups: Vec<(Vec<Value>, Vec<AggState>)> = Vec::new();
    let mut last_new = 0;
    let n = rows.len();
    for (at, mut row) in rows.into_iter().enumerate() {
        let nk = nkeys.min(row.len());
        let hash = state.hash_one(&row[..nk]);
        let found = table
            .find(hash, |&g| same_keys(&groups[g as usize].0, &row[..nk]))
            .copied();
        let g = match found {
            Some(g) => g as usize,
            None => {
                let key: Vec<Value> = row[..nk].iter_mut().map(std::mem::take).collect();
                groups.push((key, vec![AggState::default(); kinds.len()]));
                let g = groups.len() - 1;
                table.insert_unique(hash, g as u32, |&i| {
                    state.hash_one(&groups[i as usize].0[..])
                });
                last_new = at;
                g
            }
        };
        let states = &mut groups[g].1;
        for (i, kind) in kinds.iter().enumerate() {
            if partial {
                let (Some(c), Some(a)) = (row.get(nkeys + 2 * i), row.get(nkeys + 2 * i + 1))
                else {
                    continue;
                };
                states[i].merge(*kind, &AggState::from_values(c, a))?;
            } else {
                let v = row.get(nkeys + i);
                let v = if *kind == AggKind::CountStar { None } else { v };
                states[i].step(*kind, v)?;
            }
        }
    }
    Ok(Groups {
        trailing: !groups.is_empty() && last_new + 1 < n,
        groups,
    })
}

/// Reorders `rows` so that rows with equal first `nkeys` values are adjacent: groups in
/// first-appearance order, each group's rows in their order (GROUP BY folded row by row in
/// the coordinator: lambda aggregates).
pub fn cluster(rows: Vec<Tuple>, nkeys: usize) -> Vec<Tuple> {
    let state = FastState::random();
    let mut table: hashbrown::HashTable<(u32, u32)> = hashbrown::HashTable::new();
    // per row its group; per group its first row
    let mut of_row: Vec<u32> = Vec::with_capacity(rows.len());
    let mut firsts: Vec<u32> = Vec::new();
    for (at, row) in rows.iter().enumerate() {
        let key = &row[..nkeys.min(row.len())];
        let hash = state.hash_one(key);
        let found = table
            .find(hash, |&(first, _)| {
                let r = &rows[first as usize];
                same_keys(&r[..nkeys.min(r.len())], key)
            })
            .map(|&(_, g)| g);
        let g = match found {
            Some(g) => g,
            None => {
                let g = firsts.len() as u32;
                firsts.push(at as u32);
                table.insert_unique(hash, (at as u32, g), |&(first, _)| {
                    let r = &rows[first as usize];
                    state.hash_one(&r[..nkeys.min(r.len())])
                });
                g
            }
        };
        of_row.push(g);
    }
    if firsts.len() < 2 {
        return rows;
    }
    let mut tagged: Vec<(u32, Tuple)> = of_row.into_iter().zip(rows).collect();
    tagged.sort_by_key(|(g, _)| *g);
    tagged.into_iter().map(|(_, r)| r).collect()
}

fn same_keys(a: &[Value], b: &[Value]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same_key(y))
}

impl Groups {
    /// Puts the groups in the slot order of Amelie's grouping table ([`slot_order`]); they
    /// stay in first-appearance order when the simulation runs out of budget.
    pub fn into_slot_order(mut self) -> Groups {
        if self.groups.len() < 2 {
            return self;
        }
        let hashes: Vec<u32> = self.groups.iter().map(|(k, _)| key_hash(k)).collect();
        if let Some(order) = slot_order(&hashes, self.trailing) {
            let mut taken: Vec<Option<(Vec<Value>, Vec<AggState>)>> =
                self.groups.into_iter().map(Some).collect();
            self.groups = order
                .iter()
                .filter_map(|&i| taken[i as usize].take())
                .collect();
        }
        self
    }
}

/// FNV-1, 32 bits: multiply, then XOR each byte.
#[derive(Clone, Copy)]
struct Fnv(u32);

impl Fnv {
    const BASIS: u32 = 2_166_136_261;
    const PRIME: u32 = 16_777_619;

    fn new() -> Fnv {
        Fnv(Fnv::BASIS)
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.wrapping_mul(Fnv::PRIME) ^ b as u32;
        }
    }
}

/// The grouping hash of a key: the XOR over its values of FNV-1 of each value's bytes
/// (see [`value_bytes_fnv`]).
pub fn key_hash(key: &[Value]) -> u32 {
    key.iter().fold(0, |h, v| h ^ value_bytes_fnv(v))
}

/// FNV-1 of the bytes Amelie hashes for a group key value: an int, bool or timestamp as 8
/// little-endian bytes of an int64, a double as its 8 IEEE-754 bytes, text as its bytes, NULL
/// as no bytes, an interval as months (i32), days (i32) and microseconds (i64), a vector as
/// its u32 length and its f32 values, all little-endian. Json, whose bytes in Amelie are an
/// unspecified internal encoding, hashes an encoding of our own ([`json_bytes`]).
pub fn value_bytes_fnv(v: &Value) -> u32 {
    let mut h = Fnv::new();
    match v {
        Value::Null => {}
        Value::Bool(b) => h.write(&(*b as i64).to_le_bytes()),
        Value::Int(i) | Value::Timestamp(i) => h.write(&i.to_le_bytes()),
        Value::Double(d) => h.write(&d.to_le_bytes()),
        Value::Str(s) => h.write(s.as_bytes()),
        Value::Interval(iv) => {
            h.write(&iv.months.to_le_bytes());
            h.write(&iv.days.to_le_bytes());
            h.write(&iv.us.to_le_bytes());
        }
        Value::Vector(items) => {
            h.write(&(items.len() as u32).to_le_bytes());
            for x in items.iter() {
                h.write(&x.to_le_bytes());
            }
        }
        Value::Json(j) => json_bytes(j, &mut |b| h.write(b)),
    }
    h.0
}

/// The bytes a json group key hashes (ours, stable): a pre-order walk where `null` is `0`,
/// a bool `1` and a byte 0/1, a double `2` and its 8 IEEE-754 bytes, an int `3` and 8 bytes
/// of int64, a string `4`, its u32 byte length and its bytes; an array `5` or an object `6`
/// with its u32 item count, then its items (a member as `7`, the key's u32 length and bytes,
/// then the value), then `8`. Numbers are little-endian.
fn json_bytes(j: &Json, out: &mut dyn FnMut(&[u8])) {
    let mut w = Walk::new(j);
    while let Some((ev, _)) = w.next() {
        match ev {
            Event::Leaf(Json::Null) => out(&[0]),
            Event::Leaf(Json::Bool(b)) => out(&[1, *b as u8]),
            Event::Leaf(Json::Double(d)) => {
                out(&[2]);
                out(&d.to_le_bytes());
            }
            Event::Leaf(Json::Int(i)) => {
                out(&[3]);
                out(&i.to_le_bytes());
            }
            Event::Leaf(Json::String(s)) => {
                out(&[4]);
                out(&(s.len() as u32).to_le_bytes());
                out(s.as_bytes());
            }
            // empty containers are leaves: opened and closed at once
            Event::Leaf(c) | Event::Open(c) => {
                out(&[if matches!(c, Json::Array(_)) { 5 } else { 6 }]);
                out(&(c.len() as u32).to_le_bytes());
                if matches!(ev, Event::Leaf(_)) {
                    out(&[8]);
                }
            }
            Event::Key(k) => {
                out(&[7]);
                out(&(k.len() as u32).to_le_bytes());
                out(k.as_bytes());
            }
            Event::Close(_) => out(&[8]),
        }
    }
}

/// Slots of Amelie's grouping table when it is created.
const FIRST_SLOTS: usize = 256;

const EMPTY: u32 = u32::MAX;

/// The order of the slots of Amelie's grouping table after it took groups with these
/// `hashes` in this order (`trailing`: a lookup of an existing group came after the last
/// one): indices into `hashes`, by slot. The table starts with 256 slots; before each
/// lookup it doubles when it holds at least half as many groups as slots, re-placing its
/// entries by walking the old slots upward; a group goes to the first free slot from
/// `hash % slots` on (linear probing).
///
/// None when the probes would exceed `32 * groups + 4096`: colliding hashes make linear
/// probing quadratic, and a client can choose keys whose FNV hashes collide.
pub fn slot_order(hashes: &[u32], trailing: bool) -> Option<Vec<u32>> {
    let mut budget = 32 * hashes.len() + 4096;
    let mut slots = vec![EMPTY; FIRST_SLOTS];
    for (g, &h) in hashes.iter().enumerate() {
        if g >= slots.len() / 2 {
            slots = grow(&slots, hashes, &mut budget)?;
        }
        place(&mut slots, h, g as u32, &mut budget)?;
    }
    if trailing && hashes.len() >= slots.len() / 2 {
        slots = grow(&slots, hashes, &mut budget)?;
    }
    Some(slots.into_iter().filter(|&g| g != EMPTY).collect())
}

/// The table doubled: the entries of `slots` re-placed in ascending slot order.
fn grow(slots: &[u32], hashes: &[u32], budget: &mut usize) -> Option<Vec<u32>> {
    let mut bigger = vec![EMPTY; slots.len() * 2];
    for &g in slots.iter().filter(|&&g| g != EMPTY) {
        place(&mut bigger, hashes[g as usize], g, budget)?;
    }
    Some(bigger)
}

/// Puts group `g` in the first free slot from `hash % len` on; each slot looked at costs
/// one probe of the budget.
#[inline]
fn place(slots: &mut [u32], hash: u32, g: u32, budget: &mut usize) -> Option<()> {
    let mask = slots.len() - 1;
    let mut at = hash as usize & mask;
    loop {
        *budget = budget.checked_sub(1)?;
        if slots[at] == EMPTY {
            slots[at] = g;
            return Some(());
        }
        at = (at + 1) & mask;
    }
}

/// Node side of a grouped aggregate: rows `key ++ inputs` become rows `key ++ (count, acc)*`,
/// one per group: in first-appearance order when `first` (the first partition of the
/// dispatch, whose groups the coordinator takes as they are), else in slot order (see the
/// module head).
pub fn group_partial(
    rows: Vec<Tuple>,
    nkeys: usize,
    kinds: &[AggKind],
    first: bool,
) -> Result<Vec<Tuple>> {
    let mut groups = find_groups(rows, nkeys, kinds, false)?;
    if !first && nkeys > 0 {
        groups = groups.into_slot_order();
    }
    Ok(groups
        .groups
        .into_iter()
        .map(|(mut key, states)| {
            for st in &states {
                st.to_values(&mut key);
            }
            key.into_boxed_slice()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fnv(bytes: &[u8]) -> u32 {
        let mut h = Fnv::new();
        h.write(bytes);
        h.0
    }

    #[test]
    fn fnv1_vectors() {
        assert_eq!(fnv(b""), 0x811c9dc5);
        assert_eq!(fnv(b"a"), 0x050c5d7e);
        assert_eq!(fnv(&[0; 8]), 0x9be17165);
        assert_eq!(value_bytes_fnv(&Value::Null), 2_166_136_261);
        assert_eq!(value_bytes_fnv(&Value::Int(0)), 0x9be17165);
        assert_eq!(value_bytes_fnv(&Value::Bool(false)), 0x9be17165);
        assert_eq!(value_bytes_fnv(&Value::str("a")), 0x050c5d7e);
        // (a, b) and (b, a) collide; (x, x) is 0
        let (a, b) = (Value::Int(1), Value::str("b"));
        assert_eq!(key_hash(&[a.clone(), b.clone()]), key_hash(&[b, a.clone()]));
        assert_eq!(key_hash(&[a.clone(), a]), 0);
    }

    /// ORDER.md's shortcut: a single int key k in 0..=255 has slot ((k ^ 31) * 251) % 256.
    #[test]
    fn small_int_slots() {
        for k in 0..=255i64 {
            let slot = key_hash(&[Value::Int(k)]) as usize % 256;
            assert_eq!(slot, ((k as usize ^ 31) * 251) % 256, "{k}");
        }
        assert_eq!(key_hash(&[Value::Int(32)]) % 256, 197);
        assert_eq!(key_hash(&[Value::Null]) % 256, 197);
    }

    fn order_of(keys: &[Value], trailing: bool) -> Vec<Value> {
        let hashes: Vec<u32> = keys
            .iter()
            .map(|k| key_hash(std::slice::from_ref(k)))
            .collect();
        slot_order(&hashes, trailing)
            .unwrap()
            .into_iter()
            .map(|i| keys[i as usize].clone())
            .collect()
    }

    #[test]
    fn slot_order_of_small_ints() {
        // ORDER.md G2: 34..28 inserted in that order go to slots 207, 202, 197, 0, 251, 246, 241
        let keys: Vec<Value> = (28..=34).rev().map(Value::Int).collect();
        let want: Vec<Value> = [31, 32, 33, 34, 28, 29, 30].map(Value::Int).to_vec();
        assert_eq!(order_of(&keys, false), want);
        // G3: 1 (106), 2 (111), null (197)
        let keys = [Value::Int(2), Value::Int(1), Value::Null];
        assert_eq!(
            order_of(&keys, true),
            [Value::Int(1), Value::Int(2), Value::Null]
        );
        // 32 and null share slot 197: the later one probes on to 198
        let keys = [Value::Null, Value::Int(32), Value::Int(0)];
        assert_eq!(
            order_of(&keys, false),
            [Value::Int(0), Value::Null, Value::Int(32)]
        );
    }

    /// Brute force: the table as ORDER.md describes it, with a lookup per row.
    fn model(rows: &[i64]) -> Vec<i64> {
        let mut groups: Vec<i64> = Vec::new();
        let mut slots: Vec<Option<usize>> = Vec::new();
        let hash = |k: i64| key_hash(&[Value::Int(k)]) as usize;
        for &k in rows {
            if slots.is_empty() {
                slots = vec![None; 256];
            }
            if groups.len() >= slots.len() / 2 {
                let mut bigger = vec![None; slots.len() * 2];
                for g in slots.iter().flatten() {
                    let mut at = hash(groups[*g]) % bigger.len();
                    while bigger[at].is_some() {
                        at = (at + 1) % bigger.len();
                    }
                    bigger[at] = Some(*g);
                }
                slots = bigger;
            }
            let mut at = hash(k) % slots.len();
            loop {
                match slots[at] {
                    Some(g) if groups[g] == k => break,
                    Some(_) => at = (at + 1) % slots.len(),
                    None => {
                        groups.push(k);
                        slots[at] = Some(groups.len() - 1);
                        break;
                    }
                }
            }
        }
        slots.iter().flatten().map(|g| groups[*g]).collect()
    }

    #[test]
    fn slot_order_follows_the_model_through_growth() {
        let mut seed = 7u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as i64
        };
        // 128 and 256 groups sit on a growth threshold: a trailing lookup doubles the table
        for (n, range) in [(50, 40), (300, 128), (128, 128), (600, 256), (5000, 3000)] {
            let rows: Vec<i64> = (0..n).map(|_| next() % range).collect();
            for cut in [rows.len(), rows.len() - 1] {
                let rows = &rows[..cut];
                let out = find_groups(
                    rows.iter()
                        .map(|&k| vec![Value::Int(k)].into_boxed_slice())
                        .collect(),
                    1,
                    &[],
                    false,
                )
                .unwrap()
                .into_slot_order();
                let got: Vec<i64> = out
                    .groups
                    .iter()
                    .map(|(k, _)| match k[0] {
                        Value::Int(i) => i,
                        _ => unreachable!(),
                    })
                    .collect();
                assert_eq!(got, model(rows), "{n} rows over {range}");
            }
        }
        // exactly 128 distinct keys, then one more lookup: the table grows to 512 slots
        let mut rows: Vec<i64> = (0..128).collect();
        let grown = model(&[rows.clone(), vec![0]].concat());
        assert_ne!(grown, model(&rows));
        rows.push(0);
        let hashes: Vec<u32> = (0..128).map(|k| key_hash(&[Value::Int(k)])).collect();
        let got: Vec<i64> = slot_order(&hashes, true)
            .unwrap()
            .into_iter()
            .map(|i| i as i64)
            .collect();
        assert_eq!(got, grown);
    }

    #[test]
    fn groups_keep_first_appearance_and_type() {
        let row = |k: Value, v: i64| vec![k, Value::Int(v)].into_boxed_slice();
        let rows = vec![
            row(Value::str("b"), 1),
            row(Value::str("a"), 2),
            row(Value::str("b"), 3),
            row(Value::Int(1), 4),
            row(Value::Double(1.0), 5),
            row(Value::str("a"), 6),
        ];
        let g = find_groups(rows, 1, &[AggKind::Sum], false).unwrap();
        let keys: Vec<Value> = g.groups.iter().map(|(k, _)| k[0].clone()).collect();
        assert_eq!(
            keys,
            [
                Value::str("b"),
                Value::str("a"),
                Value::Int(1),
                Value::Double(1.0)
            ]
        );
        assert_eq!(
            g.groups[0].1[0].finish(AggKind::Sum).unwrap(),
            Value::Int(4)
        );
        assert!(g.trailing);
    }

    #[test]
    fn cluster_keeps_first_appearance_and_row_order() {
        let row = |k: i64, v: i64| vec![Value::Int(k), Value::Int(v)].into_boxed_slice();
        let rows = vec![row(2, 1), row(1, 2), row(2, 3), row(3, 4), row(1, 5)];
        let out: Vec<i64> = cluster(rows, 1)
            .iter()
            .map(|r| match r[1] {
                Value::Int(i) => i,
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(out, [1, 3, 2, 5, 4]);
    }

    /// Keys whose FNV hashes all collide (the XOR of a pair (x, x) is 0) would make the
    /// simulated table quadratic: it gives up and the groups stay in first-appearance order.
    #[test]
    fn colliding_hashes_fall_back_to_first_appearance() {
        let n = 20_000;
        assert!(slot_order(&vec![0u32; n], false).is_none());
        let rows: Vec<Tuple> = (0..n as i64)
            .map(|i| vec![Value::Int(i), Value::Int(i)].into_boxed_slice())
            .collect();
        let start = std::time::Instant::now();
        let out = group_partial(rows, 2, &[], false).unwrap();
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
        let firsts: Vec<Value> = out.iter().map(|r| r[0].clone()).collect();
        let want: Vec<Value> = (0..n as i64).map(Value::Int).collect();
        assert_eq!(firsts, want);
        // a few colliding keys among many fine ones stay within the budget
        let mut hashes: Vec<u32> = (0..10_000u32)
            .map(|i| i.wrapping_mul(2_654_435_761))
            .collect();
        hashes.extend(std::iter::repeat_n(0, 100));
        assert!(slot_order(&hashes, false).is_some());
    }
}
