//! Tests of the json module.

use super::value::RECURSION;
use super::write::indent;
use super::*;
use crate::text::write_escaped_str;
use std::cmp::Ordering;

#[test]
fn checked_integers() {
    assert_eq!(
        Json::parse_checked("9223372036854775807").unwrap(),
        Json::Int(i64::MAX)
    );
    assert_eq!(
        Json::parse_checked("-9223372036854775808").unwrap(),
        Json::Int(i64::MIN)
    );
    for big in [
        "9223372036854775808",
        "18446744073709551616",
        "1000000000000000000000000000000",
    ] {
        assert!(Json::parse_checked(big).is_err(), "{big}");
        assert!(Json::parse(big).is_ok(), "{big}");
    }
    let doc = Json::parse_checked(r#"{"exp": 1e30, "iat": 5}"#).unwrap();
    assert_eq!(doc.to_compact_string(), r#"{"exp": 1e+30, "iat": 5}"#);
    assert!(Json::parse_checked(r#"{"exp": 100000000000000000000}"#).is_err());
}

#[test]
fn out_of_range_doubles_are_malformed() {
    // found by the json fuzz target: 1e400 became infinity and was written as `inf`
    for text in ["1e3333276708", "[1e400]", "-1.5e309"] {
        let e = Json::parse(text).unwrap_err().to_string();
        assert!(e.contains("malformed number"), "{text}: {e}");
    }
    assert_eq!(Json::parse("1e308").unwrap(), Json::Double(1e308));
    assert_eq!(Json::parse("1e-400").unwrap(), Json::Double(0.0));
}

#[test]
fn raw_strings_keep_escapes() {
    let j = Json::parse_raw(r#"{"a": "x\\ny\"z"}"#).unwrap();
    assert_eq!(
        j,
        Json::Object(vec![("a".into(), Json::String(r#"x\\ny\"z"#.into()))])
    );
    assert!(Json::parse_raw(r#""abc\"#).is_err());
}

fn compact(text: &str) -> String {
    Json::parse(text).unwrap().to_compact_string()
}

fn pretty(text: &str) -> String {
    let mut s = String::new();
    Json::parse(text).unwrap().write_pretty(&mut s, 0);
    s
}

#[test]
fn parse_scalars() {
    assert_eq!(Json::parse("null").unwrap(), Json::Null);
    assert_eq!(Json::parse(" true ").unwrap(), Json::Bool(true));
    assert_eq!(Json::parse("false").unwrap(), Json::Bool(false));
    assert_eq!(Json::parse("42").unwrap(), Json::Int(42));
    assert_eq!(Json::parse("-42").unwrap(), Json::Int(-42));
    assert_eq!(Json::parse("1.5").unwrap(), Json::Double(1.5));
    assert_eq!(Json::parse("1e3").unwrap(), Json::Double(1000.0));
    assert_eq!(Json::parse("-2.5E-1").unwrap(), Json::Double(-0.25));
    assert_eq!(Json::parse("18446744073709551615").unwrap(), Json::Int(-1));
    assert_eq!(
        Json::parse("-9223372036854775808").unwrap(),
        Json::Int(i64::MIN)
    );
    assert_eq!(Json::parse("'hi'").unwrap(), Json::String("hi".into()));
    assert_eq!(Json::parse("\"hi\"").unwrap(), Json::String("hi".into()));
    assert_eq!(
        Json::parse(r#""a\"b\\c\/\b\f\n\r\t\u0041\u00e9\ud83d\ude00'""#).unwrap(),
        Json::String("a\"b\\c/\u{8}\u{c}\n\r\tAé😀'".into())
    );
    assert_eq!(
        Json::parse(r#"'it\'s "x"'"#).unwrap(),
        Json::String("it's \"x\"".into())
    );
    assert_eq!(
        Json::parse("\"日本語\"").unwrap(),
        Json::String("日本語".into())
    );
}

#[test]
fn parse_and_write_compact() {
    assert_eq!(compact("[1,2,3]"), "[1, 2, 3]");
    assert_eq!(compact("[]"), "[]");
    assert_eq!(compact("{}"), "{}");
    assert_eq!(compact(" [ ] "), "[]");
    assert_eq!(
        compact("{'a':1,\"b\":[true,null,1.5]}"),
        r#"{"a": 1, "b": [true, null, 1.5]}"#
    );
    assert_eq!(
        compact(r#"{"id": 42, "data": [1,2,3]}"#),
        r#"{"id": 42, "data": [1, 2, 3]}"#
    );
    // member order and duplicates are kept
    assert_eq!(
        compact(r#"{"b": 1, "a": 2, "b": 3}"#),
        r#"{"b": 1, "a": 2, "b": 3}"#
    );
    assert_eq!(
        compact("[1.0, 3.14, 1e8, 0.00001, 7e-1]"),
        "[1, 3.14, 1e+08, 1e-05, 0.7]"
    );
    assert_eq!(compact(r#"["a\"b\\c\nd"]"#), r#"["a\"b\\c\nd"]"#);
    assert_eq!(compact("'\u{1}é'"), "\"\u{1}é\"");
}

#[test]
fn write_pretty_layout() {
    assert_eq!(pretty("{}"), "{}");
    assert_eq!(pretty("[]"), "[]");
    assert_eq!(pretty("1"), "1");
    assert_eq!(pretty("[1, [2, 3]]"), "[1, [2, 3]]");
    assert_eq!(pretty(r#"{"id": 48}"#), "{\n  \"id\": 48\n}");
    assert_eq!(
        pretty(r#"{"a": {"b": {}, "c": [{"d": 1}, 2]}, "e": "x"}"#),
        "{\n  \"a\": {\n    \"b\": {},\n    \"c\": [{\n      \"d\": 1\n    }, 2]\n  },\n  \"e\": \"x\"\n}"
    );
    let mut s = String::new();
    Json::parse(r#"{"id": 48}"#)
        .unwrap()
        .write_pretty(&mut s, 1);
    assert_eq!(s, "{\n    \"id\": 48\n  }");
}

#[test]
fn parse_errors() {
    for bad in [
        "",
        " ",
        "nul",
        "nulls",
        "tru",
        "[",
        "]",
        "[1,",
        "[1 2]",
        "[1,]",
        "{",
        "{\"a\"",
        "{\"a\":",
        "{\"a\":1,",
        "{1:2}",
        "{\"a\" 1}",
        "\"abc",
        "'abc\"",
        "-",
        "--1",
        "1.",
        ".5",
        "1e",
        "1e+",
        "+1",
        "01x",
        "1 2",
        "\"\\x\"",
        "\"\\u12\"",
        "\"\\uzzzz\"",
        "\"\\ud800\"",
        "\"\\ud800\\u0041\"",
        "\"\\udc00\"",
        "[1]]",
        "{}}",
        "\u{0}",
        "undefined",
        "NaN",
        "\"\\",
        "'\\é'",
    ] {
        assert!(Json::parse(bad).is_err(), "{:?} should fail", bad);
    }
    assert_eq!(
        Json::parse("[1 2]").unwrap_err().msg(),
        "json parse error: unexpected character '2' at offset 3"
    );
    assert_eq!(
        Json::parse("[1,").unwrap_err().msg(),
        "json parse error: unexpected end of input"
    );
    assert_eq!(
        Json::parse("'abc").unwrap_err().msg(),
        "json parse error: unterminated string"
    );
}

#[test]
fn garbage_never_panics() {
    let deep_open = "[".repeat(100_000);
    let deep_obj = "{\"a\":".repeat(100_000);
    assert!(Json::parse(&deep_open).is_err());
    assert!(Json::parse(&deep_obj).is_err());
    let ok_deep = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
    assert!(Json::parse(&ok_deep).is_ok());
    // pseudo-random byte soup built from json-ish characters
    let alphabet: Vec<char> = "{}[]\"',:.-+eE0123456789 \\untrfalsé😀\u{0}\n"
        .chars()
        .collect();
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    for _ in 0..20_000 {
        let mut s = String::new();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let len = (seed % 24) as usize;
        for _ in 0..len {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            s.push(alphabet[(seed % alphabet.len() as u64) as usize]);
        }
        if let Ok(j) = Json::parse(&s) {
            // whatever parses must round-trip through compact text
            let text = j.to_compact_string();
            let again = Json::parse(&text).unwrap();
            assert_eq!(again.total_cmp(&j), Ordering::Equal, "{:?}", s);
        }
    }
}

#[test]
fn ordering() {
    let mut v: Vec<Json> = [
        "{\"a\": 1}",
        "[1, 2]",
        "\"b\"",
        "2.5",
        "1",
        "true",
        "null",
        "[1]",
        "\"a\"",
        "{}",
        "false",
        "3",
    ]
    .iter()
    .map(|t| Json::parse(t).unwrap())
    .collect();
    v.sort_by(|a, b| a.total_cmp(b));
    let texts: Vec<String> = v.iter().map(|j| j.to_compact_string()).collect();
    assert_eq!(
        texts,
        [
            "null",
            "false",
            "true",
            "1",
            "2.5",
            "3",
            "\"a\"",
            "\"b\"",
            "[1]",
            "[1, 2]",
            "{}",
            "{\"a\": 1}"
        ]
    );
    let a = Json::parse(r#"{"a": [1, {"b": 2}]}"#).unwrap();
    let b = Json::parse(r#"{"a": [1, {"b": 3}]}"#).unwrap();
    assert_eq!(a.total_cmp(&b), Ordering::Less);
    assert_eq!(a.total_cmp(&a.clone()), Ordering::Equal);
    assert_eq!(Json::Int(1).total_cmp(&Json::Double(1.0)), Ordering::Equal);
    let h = |j: &Json| {
        use std::hash::{Hash, Hasher};
        let mut s = std::collections::hash_map::DefaultHasher::new();
        j.hash(&mut s);
        s.finish()
    };
    let a = Json::parse("[1234567, {\"a\": 2}]").unwrap();
    let b = Json::parse("[1234567.0, {\"a\": 2.0}]").unwrap();
    assert_eq!(a.total_cmp(&b), Ordering::Equal);
    assert_eq!(h(&a), h(&b));
}

/// A value `depth` levels deep, alternating arrays and objects around `1`.
fn nested(depth: usize) -> Json {
    let mut j = Json::Int(1);
    for i in 0..depth {
        j = if i % 2 == 0 {
            Json::Array(vec![Json::Null, j])
        } else {
            Json::Object(vec![("k".into(), j), ("z".into(), Json::Bool(true))])
        };
    }
    j
}

/// Runs `f` on a thread with a small stack: a walk that recursed once per level over the
/// deep values below would overflow it.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn deep_values_are_walked_without_recursion() {
    on_small_stack(|| {
        let depth = 200_000;
        let a = nested(depth);
        assert_eq!(a.depth(), depth);
        assert!(a.deeper_than(MAX_DEPTH));
        assert!(a.check_depth().is_err());
        let b = a.clone();
        assert!(a == b);
        assert_eq!(a.total_cmp(&b), Ordering::Equal);
        let h = |j: &Json| {
            use std::hash::{Hash, Hasher};
            let mut s = std::collections::hash_map::DefaultHasher::new();
            j.hash(&mut s);
            s.finish()
        };
        assert_eq!(h(&a), h(&b));
        let c = nested(depth + 1);
        assert!(a != c);
        assert_ne!(a.total_cmp(&c), Ordering::Equal);
        let text = a.to_compact_string();
        assert!(
            text.starts_with("{\"k\": [null, {\"k\": ["),
            "{}",
            &text[..40]
        );
        // (pretty output indents by depth, so its size grows with depth squared)
        let shallow = nested(2_000);
        let mut pretty = String::new();
        shallow.write_pretty(&mut pretty, 0);
        assert!(pretty.len() > shallow.to_compact_string().len());
        assert!(format!("{a:?}").starts_with("Object([(\"k\", Array([Null, Object("));
        drop(a);
        drop(b);
        drop(c);
        // a long chain of one-member objects, and a wide array of deep values
        let mut j = Json::Null;
        for _ in 0..300_000 {
            j = Json::Object(vec![(String::new(), j)]);
        }
        drop(j);
        let wide = Json::Array((0..50).map(|_| nested(5_000)).collect());
        assert_eq!(wide.depth(), 5_001);
        drop(wide.clone());
    });
}

#[test]
fn serde_decoding_is_depth_bounded() {
    let enc = |j: &Json| postcard::to_allocvec(j).unwrap();
    let j = Json::parse(r#"{"a": [1, 2.5, "x", null, true, {}]}"#).unwrap();
    let back: Json = postcard::from_bytes(&enc(&j)).unwrap();
    assert!(back == j);
    // (built by hand: serialising is recursive, decoding is what must be bounded)
    let nested = |n: usize| {
        let mut b = Vec::new();
        for _ in 0..n {
            b.extend_from_slice(&[5, 1]); // Array, one item
        }
        b.push(0); // Null
        b
    };
    // the deepest accepted value decodes within a main thread's 8 MiB (a debug build)
    std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(move || {
            let j = postcard::from_bytes::<Json>(&nested(SERDE_MAX_DEPTH)).unwrap();
            assert_eq!(j.depth(), SERDE_MAX_DEPTH);
            assert!(postcard::from_bytes::<Json>(&nested(SERDE_MAX_DEPTH + 1)).is_err());
            assert!(postcard::from_bytes::<Json>(&nested(100_000)).is_err());
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn depth_counts_containers() {
    let d = |t: &str| Json::parse(t).unwrap().depth();
    assert_eq!(d("1"), 0);
    assert_eq!(d("\"x\""), 0);
    assert_eq!(d("[]"), 1);
    assert_eq!(d("{}"), 1);
    assert_eq!(d("[1, 2]"), 1);
    assert_eq!(d("[[], 2]"), 2);
    assert_eq!(d("[1, {}]"), 2);
    assert_eq!(d("{\"a\": [1, [2]], \"b\": 1}"), 3);
    assert_eq!(d("[[[{\"a\": {}}]]]"), 5);
    let limit = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
    let j = Json::parse(&limit).unwrap();
    assert_eq!(j.depth(), MAX_DEPTH);
    assert!(j.check_depth().is_ok());
    let over = Json::Array(vec![j]);
    assert_eq!(
        over.check_depth().unwrap_err().msg(),
        "json nesting is too deep"
    );
    assert_eq!(
        Json::parse(&format!("[{limit}]")).unwrap_err().msg(),
        "json parse error: nesting is too deep"
    );
}

// Reference implementations: the recursive walks the iterative ones replaced.
fn ref_compact(j: &Json, out: &mut String) {
    match j {
        Json::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                ref_compact(v, out);
            }
            out.push(']');
        }
        Json::Object(members) => {
            out.push('{');
            for (i, (k, v)) in members.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_escaped_str(k, out);
                out.push_str(": ");
                ref_compact(v, out);
            }
            out.push('}');
        }
        leaf => leaf.write_leaf(out),
    }
}

fn ref_pretty(j: &Json, out: &mut String, depth: usize) {
    match j {
        Json::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                ref_pretty(v, out, depth);
            }
            out.push(']');
        }
        Json::Object(members) if members.is_empty() => out.push_str("{}"),
        Json::Object(members) => {
            out.push_str("{\n");
            for (i, (k, v)) in members.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                indent(out, depth + 1);
                write_escaped_str(k, out);
                out.push_str(": ");
                ref_pretty(v, out, depth + 1);
            }
            out.push('\n');
            indent(out, depth);
            out.push('}');
        }
        leaf => leaf.write_leaf(out),
    }
}

fn ref_cmp(a: &Json, b: &Json) -> Ordering {
    match (a, b) {
        (Json::Array(x), Json::Array(y)) => {
            for (p, q) in x.iter().zip(y.iter()) {
                match ref_cmp(p, q) {
                    Ordering::Equal => {}
                    o => return o,
                }
            }
            x.len().cmp(&y.len())
        }
        (Json::Object(x), Json::Object(y)) => {
            for ((kp, p), (kq, q)) in x.iter().zip(y.iter()) {
                match kp.as_bytes().cmp(kq.as_bytes()).then_with(|| ref_cmp(p, q)) {
                    Ordering::Equal => {}
                    o => return o,
                }
            }
            x.len().cmp(&y.len())
        }
        (a, b) => a.cmp_leaf(b),
    }
}

/// [`Json::sort_cmp`] by recursion: as [`ref_cmp`], but a longer container sorts first.
fn ref_sort_cmp(a: &Json, b: &Json) -> Ordering {
    match (a, b) {
        (Json::Array(x), Json::Array(y)) => {
            for (p, q) in x.iter().zip(y.iter()) {
                match ref_sort_cmp(p, q) {
                    Ordering::Equal => {}
                    o => return o,
                }
            }
            y.len().cmp(&x.len())
        }
        (Json::Object(x), Json::Object(y)) => {
            for ((kp, p), (kq, q)) in x.iter().zip(y.iter()) {
                match kp
                    .as_bytes()
                    .cmp(kq.as_bytes())
                    .then_with(|| ref_sort_cmp(p, q))
                {
                    Ordering::Equal => {}
                    o => return o,
                }
            }
            y.len().cmp(&x.len())
        }
        (a, b) => a.sort_leaf(b),
    }
}

fn ref_debug(j: &Json, out: &mut String) {
    use std::fmt::Write;
    match j {
        Json::Array(items) => {
            out.push_str("Array([");
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                ref_debug(v, out);
            }
            out.push_str("])");
        }
        Json::Object(members) => {
            out.push_str("Object([");
            for (i, (k, v)) in members.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let _ = write!(out, "({k:?}, ");
                ref_debug(v, out);
                out.push(')');
            }
            out.push_str("])");
        }
        Json::Null => out.push_str("Null"),
        Json::Bool(b) => {
            let _ = write!(out, "Bool({b:?})");
        }
        Json::Int(i) => {
            let _ = write!(out, "Int({i:?})");
        }
        Json::Double(d) => {
            let _ = write!(out, "Double({d:?})");
        }
        Json::String(s) => {
            let _ = write!(out, "String({s:?})");
        }
    }
}

fn next_rand(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

fn random_json(seed: &mut u64, depth: usize) -> Json {
    let mut next = || next_rand(seed);
    let pick = next() % if depth == 0 { 6 } else { 9 };
    match pick {
        0 => Json::Null,
        1 => Json::Bool(next() % 2 == 0),
        2 => Json::Int((next() % 5) as i64 - 2),
        3 => Json::Double(((next() % 5) as f64 - 2.0) / 2.0),
        4 => Json::String(["", "a", "b", "ab"][(next() % 4) as usize].into()),
        5 => Json::Array(vec![]),
        6 | 7 => {
            let n = (next() % 4) as usize;
            Json::Array((0..n).map(|_| random_json(seed, depth - 1)).collect())
        }
        _ => {
            let n = (next() % 4) as usize;
            let mut members = Vec::new();
            for _ in 0..n {
                let k = ["a", "b", ""][(next_rand(seed) % 3) as usize].to_string();
                members.push((k, random_json(seed, depth - 1)));
            }
            Json::Object(members)
        }
    }
}

#[test]
fn iterative_walks_match_the_recursive_ones() {
    let mut seed = 0x5deece66d_u64;
    let values: Vec<Json> = (0..400).map(|_| random_json(&mut seed, 4)).collect();
    for a in &values {
        let mut x = String::new();
        ref_compact(a, &mut x);
        assert_eq!(a.to_compact_string(), x);
        let mut y = String::new();
        a.write_compact_iter(&mut y);
        assert_eq!(y, x);
        for d in [0, 3] {
            let (mut x, mut y) = (String::new(), String::new());
            ref_pretty(a, &mut x, d);
            a.write_pretty_iter(&mut y, d);
            assert_eq!(x, y);
        }
        assert!(a.clone_iter().eq_iter(a));
        assert_eq!(a.depth_iter(usize::MAX), a.depth());
        for d in [0, 2] {
            let (mut x, mut y) = (String::new(), String::new());
            ref_pretty(a, &mut x, d);
            a.write_pretty(&mut y, d);
            assert_eq!(x, y);
        }
        let mut x = String::new();
        ref_debug(a, &mut x);
        assert_eq!(format!("{a:?}"), x);
        let c = a.clone();
        assert_eq!(format!("{c:?}"), x);
        assert!(c == *a);
    }
    let h = |j: &Json| {
        use std::hash::{Hash, Hasher};
        let mut s = std::collections::hash_map::DefaultHasher::new();
        j.hash(&mut s);
        s.finish()
    };
    for a in &values {
        for b in values.iter().take(120) {
            let o = a.total_cmp(b);
            assert_eq!(o, ref_cmp(a, b), "{a:?} {b:?}");
            assert_eq!(a.total_cmp_iter(b), o, "{a:?} {b:?}");
            assert_eq!(a.sort_cmp(b), ref_sort_cmp(a, b), "{a:?} {b:?}");
            assert_eq!(a.eq_iter(b), *a == *b, "{a:?} {b:?}");
            let hi = |j: &Json| {
                use std::hash::Hasher;
                let mut s = std::collections::hash_map::DefaultHasher::new();
                j.hash_iter(&mut s);
                s.finish()
            };
            assert_eq!(hi(a), h(a));
            assert_eq!(b.total_cmp(a), o.reverse());
            if o == Ordering::Equal {
                assert_eq!(h(a), h(b), "{a:?} {b:?}");
            }
            let same = format!("{a:?}") == format!("{b:?}");
            assert_eq!(*a == *b, same, "{a:?} {b:?}");
        }
    }
    // values crossing the depth where the walks switch from recursion to iteration
    let wrap = |j: &Json, n: usize| {
        let mut w = j.clone();
        for i in 0..n {
            w = if i % 2 == 0 {
                Json::Array(vec![Json::Int(i as i64), w])
            } else {
                Json::Object(vec![("k".into(), w), ("z".into(), Json::Null)])
            };
        }
        w
    };
    for (i, a) in values.iter().enumerate().take(60) {
        let n = RECURSION - 3 + i % 6;
        let (wa, wb) = (wrap(a, n), wrap(&values[(i + 1) % 60], n));
        let (mut x, mut y) = (String::new(), String::new());
        ref_compact(&wa, &mut x);
        wa.write_compact_iter(&mut y);
        assert_eq!(wa.to_compact_string(), x);
        assert_eq!(y, x);
        let (mut x, mut y) = (String::new(), String::new());
        ref_pretty(&wa, &mut x, 1);
        wa.write_pretty(&mut y, 1);
        assert_eq!(x, y);
        assert_eq!(wa.total_cmp(&wb), ref_cmp(&wa, &wb));
        assert_eq!(wa.total_cmp_iter(&wb), ref_cmp(&wa, &wb));
        assert_eq!(wa.sort_cmp(&wb), ref_sort_cmp(&wa, &wb));
        assert_eq!(wa == wb, wa.eq_iter(&wb));
        let c = wa.clone();
        assert!(c == wa && c.eq_iter(&wa));
        assert_eq!(h(&c), h(&wa));
        assert_eq!(wa.depth(), wa.depth_iter(usize::MAX));
        assert_eq!(wa.deeper_than(n), wa.depth() > n);
    }
    assert!(Json::Int(1) != Json::Double(1.0));
    assert!(Json::Double(f64::NAN) != Json::Double(f64::NAN));
    assert!(Json::Array(vec![]) != Json::Object(vec![]));
    assert!(Json::Array(vec![Json::Int(1)]) != Json::Array(vec![]));
    let taken = Json::parse("{\"a\": [1]}").unwrap().into_members().unwrap();
    assert_eq!(taken.len(), 1);
    assert!(Json::Int(1).into_items().is_none());
}
