//! Byte-level mutation of corpus inputs: bit flips, interesting bytes, deletions, copies
//! within the input, splices with another input, insertion and duplication of dialect tokens,
//! and wrapping a span in brackets (nesting, capped by `max_depth`).

use crate::rng::Rng;

/// Numbers at the edges of the integer types, as text.
const EDGE_NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1",
    "127",
    "-128",
    "255",
    "32767",
    "65535",
    "65536",
    "2147483647",
    "-2147483648",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551616",
    "1e308",
    "1e309",
    "-1e-320",
    "0.0",
    "1.5e+300",
    "NaN",
    "inf",
];

/// Appends `n` mutations of `input` (one to a few operations each) to `out`, using `dict`
/// tokens and `other` for splices.
pub fn mutate(
    rng: &mut Rng,
    input: &[u8],
    other: &[u8],
    dict: &[&str],
    max_depth: usize,
    max_len: usize,
) -> Vec<u8> {
    let mut data = input.to_vec();
    let ops = 1 + rng.size(7);
    for _ in 0..ops {
        mutate_once(rng, &mut data, other, dict, max_depth);
        if data.len() > max_len {
            data.truncate(max_len);
        }
    }
    data
}

fn mutate_once(rng: &mut Rng, data: &mut Vec<u8>, other: &[u8], dict: &[&str], max_depth: usize) {
    let len = data.len();
    let at = |rng: &mut Rng| rng.below(len + 1);
    match rng.below(13) {
        0 if len > 0 => {
            let i = rng.below(len);
            data[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            data[i] = *rng.pick(&[
                0, 0xff, 0x7f, 0x80, b'\'', b'"', b'\\', b'{', b'[', b'.', b'\n',
            ]);
        }
        2 if len > 0 => {
            let i = rng.below(len);
            let n = (1 + rng.size(32)).min(len - i);
            data.drain(i..i + n);
        }
        3 if len > 0 => {
            // copy a span elsewhere
            let i = rng.below(len);
            let n = (1 + rng.size(64)).min(len - i);
            let span = data[i..i + n].to_vec();
            let j = at(rng);
            data.splice(j..j, span);
        }
        4 if !other.is_empty() => {
            // splice: our head, their tail (or a span of theirs inserted)
            let j = rng.below(other.len());
            if rng.one_in(2) {
                data.truncate(at(rng));
                data.extend_from_slice(&other[j..]);
            } else {
                let n = (1 + rng.size(128)).min(other.len() - j);
                let i = at(rng);
                data.splice(i..i, other[j..j + n].iter().copied());
            }
        }
        5 | 6 if !dict.is_empty() => {
            let tok = rng.pick(dict);
            let i = at(rng);
            let mut ins = Vec::with_capacity(tok.len() + 2);
            if rng.one_in(2) {
                ins.push(b' ');
            }
            ins.extend_from_slice(tok.as_bytes());
            if rng.one_in(2) {
                ins.push(b' ');
            }
            data.splice(i..i, ins);
        }
        7 => {
            let i = at(rng);
            let n = rng.pick(EDGE_NUMBERS);
            data.splice(i..i, n.bytes());
        }
        8 if len > 0 => {
            // duplicate a short span a few (or max_depth) times
            let i = rng.below(len);
            let n = (1 + rng.size(8)).min(len - i);
            let times = if rng.one_in(8) {
                rng.below(max_depth + 1)
            } else {
                1 + rng.below(4)
            };
            let span = data[i..i + n].to_vec();
            let rep: Vec<u8> = span.iter().copied().cycle().take(n * times).collect();
            data.splice(i..i, rep);
        }
        9 if len > 0 => {
            // wrap a span in brackets, up to max_depth levels
            let (open, close) = *rng.pick(&[("(", ")"), ("[", "]"), ("{\"a\": ", "}"), ("-", "")]);
            let depth = 1 + rng.size(max_depth.max(1) - 1);
            let i = rng.below(len);
            let j = i + rng.below(len - i + 1);
            let tail: Vec<u8> = close.repeat(depth).into_bytes();
            data.splice(j..j, tail);
            data.splice(i..i, open.repeat(depth).into_bytes());
        }
        10 if len > 1 => {
            // swap two bytes
            let (i, j) = (rng.below(len), rng.below(len));
            data.swap(i, j);
        }
        11 => {
            let i = at(rng);
            let n = 1 + rng.size(8);
            let bytes: Vec<u8> = (0..n).map(|_| rng.byte()).collect();
            data.splice(i..i, bytes);
        }
        _ if len > 0 => {
            // truncate
            data.truncate(rng.below(len));
        }
        _ if !dict.is_empty() => data.extend_from_slice(rng.pick(dict).as_bytes()),
        _ => data.push(rng.byte()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_stay_within_bounds() {
        let mut rng = Rng::new(1);
        let seed = b"select a.b, [1, {\"x\": 2}] from t where id = 1".to_vec();
        for _ in 0..5000 {
            let out = mutate(
                &mut rng,
                &seed,
                b"insert into t values (1)",
                &["select", "("],
                50,
                4096,
            );
            assert!(out.len() <= 4096);
        }
        // an empty input and an empty dictionary are fine too
        for _ in 0..1000 {
            mutate(&mut rng, b"", b"", &[], 0, 16);
        }
    }
}
