//! Row encoding: round trips, sizes, hostile bytes, keys.

use super::Rng;
use crate::json_codec::JSON_MAX_DEPTH;
use crate::{encode_key, encode_row_into, Row, RowReader, ValueRef};
use amelie_common::{Interval, Json, Value};
use std::cmp::Ordering;

fn json(text: &str) -> Value {
    Value::Json(Box::new(Json::parse(text).unwrap()))
}

fn nested_json(depth: usize) -> Json {
    let mut j = Json::String("leaf".into());
    for i in 0..depth {
        j = if i % 3 == 0 {
            Json::Object(vec![("k".into(), j), ("n".into(), Json::Int(i as i64))])
        } else {
            Json::Array(vec![Json::Null, j])
        };
    }
    j
}

/// Every variant with its edge cases.
fn samples() -> Vec<Value> {
    vec![
        Value::Null,
        Value::Bool(false),
        Value::Bool(true),
        Value::Int(0),
        Value::Int(-1),
        Value::Int(1),
        Value::Int(63),
        Value::Int(-64),
        Value::Int(64),
        Value::Int(i64::MIN),
        Value::Int(i64::MAX),
        Value::Double(0.0),
        Value::Double(-0.0),
        Value::Double(1.5),
        Value::Double(f64::NAN),
        Value::Double(-f64::NAN),
        Value::Double(f64::INFINITY),
        Value::Double(f64::NEG_INFINITY),
        Value::Double(f64::MIN_POSITIVE),
        Value::str(""),
        Value::str("a"),
        Value::str("\0"),
        Value::str("a\0b\0\0"),
        Value::str("日本語 😀 ünïcödé"),
        json("null"),
        json("[1, 2.5, \"x\", {\"a\": [true, false, null]}, []]"),
        json("{}"),
        json("{\"\": \"\\u0000\", \"dup\": 1, \"dup\": -9223372036854775808}"),
        Value::Json(Box::new(nested_json(300))),
        Value::Timestamp(0),
        Value::Timestamp(i64::MIN),
        Value::Timestamp(i64::MAX),
        Value::Timestamp(1_700_000_000_000_000),
        Value::Interval(Interval::default()),
        Value::Interval(Interval {
            months: i32::MIN,
            days: i32::MAX,
            us: i64::MIN,
        }),
        Value::Interval(Interval {
            months: 14,
            days: -3,
            us: 86_400_000_001,
        }),
        Value::Vector(Box::new([])),
        Value::Vector(vec![1.0, -0.0, f32::NAN, f32::MAX, f32::MIN_POSITIVE].into()),
    ]
}

/// Values compare with `total_cmp` (NaN equals NaN, -0.0 differs from 0.0); json by its
/// encoding so nested NaNs compare too.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Json(x), Value::Json(y)) => {
            Row::encode(std::slice::from_ref(a)) == Row::encode(std::slice::from_ref(b))
                && x.total_cmp(y) == Ordering::Equal
        }
        (Value::Double(x), Value::Double(y)) => x.to_bits() == y.to_bits(),
        (Value::Vector(x), Value::Vector(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|(p, q)| p.to_bits() == q.to_bits())
        }
        _ => a.type_of() == b.type_of() && a.total_cmp(b) == Ordering::Equal,
    }
}

fn check_round_trip(values: &[Value]) -> Row {
    let row = Row::encode(values);
    assert_eq!(row.columns(), values.len());
    let back = row.to_values();
    assert_eq!(back.len(), values.len());
    for (i, v) in values.iter().enumerate() {
        assert!(same(&back[i], v), "column {i}: {:?} != {v:?}", back[i]);
        assert!(same(&row.get(i), v));
        assert!(same(&row.get_ref(i).to_value(), v));
    }
    assert_eq!(row.get(values.len()), Value::Null);
    assert_eq!(row.get_ref(usize::MAX), ValueRef::Null);
    assert_eq!(row.iter().len(), values.len());
    // the same bytes three ways
    let mut out = vec![0xAA];
    encode_row_into(values, &mut out);
    assert_eq!(&out[1..], row.as_bytes());
    let (again, n) = Row::from_encoded(&out[1..]).unwrap();
    assert_eq!(n, row.as_bytes().len());
    assert_eq!(again, row);
    assert_eq!(Row::encode(&back), row, "encoding is canonical");
    let clone = row.clone();
    assert_eq!(clone, row);
    assert_ne!(clone.as_bytes().as_ptr(), row.as_bytes().as_ptr());
    row
}

#[test]
fn thin_pointer_and_thread_safety() {
    assert_eq!(std::mem::size_of::<Row>(), 8);
    assert_eq!(std::mem::size_of::<Option<Row>>(), 8);
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Row>();
    let rows: Vec<Row> = (0..100).map(|i| Row::encode(&[Value::Int(i)])).collect();
    let sum = std::thread::spawn(move || {
        rows.iter()
            .map(|r| match r.get_ref(0) {
                ValueRef::Int(i) => i,
                _ => 0,
            })
            .sum::<i64>()
    })
    .join()
    .unwrap();
    assert_eq!(sum, 4950);
}

#[test]
fn every_variant_round_trips() {
    for v in samples() {
        check_round_trip(std::slice::from_ref(&v));
        check_round_trip(&[Value::Int(7), v.clone(), Value::str("after")]);
    }
    check_round_trip(&samples());
    check_round_trip(&[]);
}

#[test]
fn single_int_rows_are_small() {
    assert_eq!(
        Row::encode(&[Value::Int(1000)]).as_bytes(),
        &[4, 1, 3, 0xd0, 0x0f]
    );
    assert!(Row::encode(&[Value::Int(2_000_000)]).as_bytes().len() <= 8);
    assert!(Row::encode(&[Value::Int(-2_000_000)]).as_bytes().len() <= 8);
    assert!(Row::encode(&[Value::Int(i64::MIN)]).as_bytes().len() <= 16);
    assert!(Row::encode(&[Value::Int(i64::MAX)]).as_bytes().len() <= 16);
    assert_eq!(Row::default().columns(), 0);
}

#[test]
fn long_rows_over_64k() {
    let big: String = "x\0é".repeat(40_000);
    let values = vec![
        Value::Int(1),
        Value::str(&big),
        Value::Vector(vec![0.5f32; 20_000].into()),
        Value::Int(2),
    ];
    let row = check_round_trip(&values);
    assert!(row.as_bytes().len() > 64 * 1024 + 80_000);
    assert_eq!(row.get(3), Value::Int(2));
    match row.get_ref(1) {
        ValueRef::Str(s) => assert_eq!(s.len(), big.len()),
        other => panic!("{other:?}"),
    }
    match row.get_ref(2) {
        ValueRef::Vector(v) => {
            assert_eq!(v.len(), 20_000);
            assert_eq!(v.get(19_999), Some(0.5));
            assert_eq!(v.get(20_000), None);
        }
        other => panic!("{other:?}"),
    }
    let wide: Vec<Value> = (0..5000).map(Value::Int).collect();
    let row = check_round_trip(&wide);
    assert_eq!(row.get(4999), Value::Int(4999));
}

#[test]
fn debug_prints_values() {
    let row = Row::encode(&[Value::Int(1), Value::str("a"), Value::Null]);
    assert_eq!(format!("{row:?}"), "[Int(1), Str(\"a\"), Null]");
}

#[test]
fn deep_json_is_readable_but_refused_from_outside() {
    let deep = Value::Json(Box::new(nested_json(JSON_MAX_DEPTH * 2)));
    let row = Row::encode(std::slice::from_ref(&deep));
    assert!(same(&row.get(0), &deep));
    assert!(Row::from_encoded(row.as_bytes()).is_err());
    let ok = Value::Json(Box::new(nested_json(JSON_MAX_DEPTH)));
    check_round_trip(&[ok]);
}

fn valid_encodings() -> Vec<Vec<u8>> {
    let mut all = vec![Row::encode(&samples()).as_bytes().to_vec()];
    for v in samples() {
        all.push(Row::encode(&[v, Value::Int(3)]).as_bytes().to_vec());
    }
    all
}

#[test]
fn truncated_rows_are_refused() {
    for bytes in valid_encodings() {
        for cut in 0..bytes.len() {
            assert!(
                Row::from_encoded(&bytes[..cut]).is_err(),
                "cut {cut} of {bytes:?}"
            );
        }
    }
}

#[test]
fn corrupt_bytes_never_panic() {
    let mut rng = Rng::new(42);
    let valid = valid_encodings();
    let mut accepted = 0;
    for round in 0..60_000 {
        let mut bytes = if round % 3 == 0 {
            // random bytes with a plausible header
            let len = rng.below(40) as usize;
            let mut b: Vec<u8> = (0..len).map(|_| rng.below(12) as u8).collect();
            if !b.is_empty() {
                b[0] = (len - 1) as u8;
            }
            b
        } else {
            valid[rng.below(valid.len() as u64) as usize].clone()
        };
        if round % 3 != 0 && !bytes.is_empty() {
            for _ in 0..=rng.below(3) {
                let at = rng.below(bytes.len() as u64) as usize;
                bytes[at] = match rng.below(3) {
                    0 => rng.next() as u8,
                    1 => bytes[at] ^ (1 << rng.below(8)),
                    _ => 0x80,
                };
            }
        }
        if let Ok((row, n)) = Row::from_encoded(&bytes) {
            accepted += 1;
            assert_eq!(row.as_bytes(), &bytes[..n]);
            // whatever is accepted reads back and is canonical
            let values = row.to_values();
            assert_eq!(Row::encode(&values).as_bytes(), row.as_bytes());
            let mut key = Vec::new();
            row.encode_key(&[0, 1], &mut key);
        }
    }
    assert!(accepted > 100, "accepted {accepted}");
}

#[test]
fn row_reader_reads_back_to_back_rows() {
    let rows: Vec<Vec<Value>> = (0..50)
        .map(|i| vec![Value::Int(i), Value::str(&"y".repeat(i as usize * 7))])
        .collect();
    let mut buf = Vec::new();
    for r in &rows {
        encode_row_into(r, &mut buf);
    }
    let back: Vec<Row> = RowReader::new(&buf).map(|r| r.unwrap()).collect();
    assert_eq!(back.len(), 50);
    for (r, v) in back.iter().zip(&rows) {
        assert_eq!(&r.to_values(), v);
    }
    buf.extend_from_slice(&[3, 1, 99, 0]);
    let mut reader = RowReader::new(&buf);
    assert_eq!(reader.by_ref().take(50).filter(|r| r.is_ok()).count(), 50);
    assert!(reader.next().unwrap().is_err());
    assert!(reader.next().is_none());
}

#[test]
fn serde_round_trip_validates() {
    let row = Row::encode(&samples());
    let bytes = postcard::to_allocvec(&row).unwrap();
    let back: Row = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(back, row);
    let mut bad = postcard::to_allocvec(&Row::encode(&[Value::Int(1)])).unwrap();
    assert_eq!(bad, [4, 3, 1, 3, 2]);
    bad[3] = 0x7f; // unknown tag
    assert!(postcard::from_bytes::<Row>(&bad).is_err());
    let rows = vec![row.clone(), Row::encode(&[Value::Int(1)])];
    let v: Vec<Row> = postcard::from_bytes(&postcard::to_allocvec(&rows).unwrap()).unwrap();
    assert_eq!(v, rows);
}

fn random_value(rng: &mut Rng) -> Value {
    match rng.below(12) {
        0 => Value::Null,
        1 | 2 => Value::Int(rng.next() as i64 >> rng.below(64)),
        3 | 4 => {
            let len = rng.below(6) as usize;
            let s: String = (0..len)
                .map(|_| ['a', 'b', '\0', 'é', 'z', '\u{ff}'][rng.below(6) as usize])
                .collect();
            Value::str(&s)
        }
        5 => Value::Timestamp(rng.next() as i64),
        6 => Value::Bool(rng.below(2) == 1),
        7 => Value::Double(f64::from_bits(rng.next())),
        8 => json("{\"a\": [1, 2.5]}"),
        9 => Value::Interval(Interval {
            months: rng.next() as i32,
            days: 1,
            us: -5,
        }),
        10 => Value::Vector(vec![1.5, rng.next() as f32].into()),
        _ => Value::Int(rng.below(10) as i64),
    }
}

#[test]
fn row_keys_equal_value_keys_and_compare_like_bytes() {
    let mut rng = Rng::new(7);
    let mut keys: Vec<(Row, Vec<usize>, Vec<u8>)> = Vec::new();
    for _ in 0..3000 {
        let n = 1 + rng.below(5) as usize;
        let values: Vec<Value> = (0..n).map(|_| random_value(&mut rng)).collect();
        let row = Row::encode(&values);
        let kc: Vec<usize> = (0..1 + rng.below(3))
            .map(|_| rng.below(n as u64 + 1) as usize)
            .collect();
        let from_values: Vec<Value> = kc
            .iter()
            .map(|&c| values.get(c).cloned().unwrap_or(Value::Null))
            .collect();
        let mut a = Vec::new();
        encode_key(&from_values, &mut a);
        let mut b = Vec::new();
        row.encode_key(&kc, &mut b);
        assert_eq!(a, b, "{values:?} {kc:?}");
        keys.push((row, kc, a));
    }
    for w in keys.windows(2) {
        let (row, kc, own) = &w[0];
        let other = &w[1].2;
        assert_eq!(row.cmp_key(kc, own), Ordering::Equal);
        assert_eq!(row.cmp_key(kc, other), own.as_slice().cmp(other.as_slice()));
        let prefix = &own[..own.len() / 2];
        assert_eq!(row.cmp_key(kc, prefix), own.as_slice().cmp(prefix));
    }
}

#[test]
fn int_key_fast_path_agrees_with_values() {
    let ints = [
        0i64,
        1,
        -1,
        63,
        -64,
        64,
        1 << 20,
        (1 << 27) - 1,
        1 << 27,
        1 << 34,
        -(1 << 34),
        (1 << 55) + 3,
        i64::MIN,
        i64::MAX,
    ];
    let long = "L".repeat(300);
    let mut rows = Vec::new();
    for &i in &ints {
        for values in [
            vec![Value::Int(i)],
            vec![Value::Timestamp(i)],
            vec![Value::Int(i), Value::str(&long)],
            vec![Value::Int(i), Value::Int(i), Value::Null],
        ] {
            rows.push((Row::encode(&values), values));
        }
    }
    for (row, values) in &rows {
        let mut want = Vec::new();
        encode_key(&values[..1], &mut want);
        let mut got = Vec::new();
        row.encode_key(&[0], &mut got);
        assert_eq!(got, want, "{values:?}");
        for (_, other) in &rows {
            let mut k = Vec::new();
            encode_key(&other[..1], &mut k);
            assert_eq!(
                row.cmp_key(&[0], &k),
                want.cmp(&k),
                "{values:?} vs {other:?}"
            );
            assert_eq!(
                row.cmp_key(&[0], &k[..k.len() - 1]),
                want.as_slice().cmp(&k[..k.len() - 1])
            );
        }
    }
}
