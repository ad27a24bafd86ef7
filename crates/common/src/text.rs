//! Text of scalars, shared by the JSON writer and the result formats: C `%g` doubles,
//! decimal integers and escaped strings, written into a caller-supplied `String` without
//! temporary allocations.

use std::fmt::Write as _;

/// A small fixed-size buffer implementing `fmt::Write`, used to run Rust's exact float
/// formatting without touching the heap.
struct StackBuf {
    buf: [u8; 48],
    len: usize,
}

impl StackBuf {
    fn new() -> Self {
        StackBuf {
            buf: [0; 48],
            len: 0,
        }
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl std::fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Number of significant digits printed by `%g` (C default precision).
const G_PRECISION: usize = 6;

/// Appends `f` formatted exactly like C `printf("%g", f)` (glibc): 6 significant digits,
/// trailing zeros removed, exponent form `1e+08` when the exponent is < -4 or >= 6,
/// `inf`/`-inf`/`nan`/`-nan` for non-finite values.
pub fn fmt_double(f: f64, out: &mut String) {
    if f.is_nan() {
        out.push_str(if f.is_sign_negative() { "-nan" } else { "nan" });
        return;
    }
    if f.is_infinite() {
        out.push_str(if f < 0.0 { "-inf" } else { "inf" });
        return;
    }
    // Correctly rounded scientific form with P-1 fraction digits, e.g. "-1.23450e-5".
    let mut buf = StackBuf::new();
    if write!(buf, "{:.*e}", G_PRECISION - 1, f).is_err() {
        // Cannot happen (the longest form is ~14 bytes); stay panic-free regardless.
        out.push('0');
        return;
    }
    let s = buf.bytes();
    let mut i = 0;
    let negative = s.first() == Some(&b'-');
    if negative {
        i = 1;
    }
    let mut digits = [b'0'; G_PRECISION];
    let mut n = 0;
    let mut exp: i32 = 0;
    let mut exp_neg = false;
    let mut in_exp = false;
    while i < s.len() {
        let c = s[i];
        if in_exp {
            if c == b'-' {
                exp_neg = true;
            } else if c.is_ascii_digit() {
                exp = exp * 10 + (c - b'0') as i32;
            }
        } else if c == b'e' {
            in_exp = true;
        } else if c.is_ascii_digit() && n < G_PRECISION {
            digits[n] = c;
            n += 1;
        }
        i += 1;
    }
    if exp_neg {
        exp = -exp;
    }
    // Strip trailing zeros (the `#` flag is not used), keep at least one digit.
    while n > 1 && digits[n - 1] == b'0' {
        n -= 1;
    }
    let digits = &digits[..n];
    if negative {
        out.push('-');
    }
    if (-4..G_PRECISION as i32).contains(&exp) {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            for k in 0..int_len {
                out.push(*digits.get(k).unwrap_or(&b'0') as char);
            }
            if n > int_len {
                out.push('.');
                for &d in &digits[int_len..] {
                    out.push(d as char);
                }
            }
        } else {
            out.push_str("0.");
            for _ in 0..(-exp - 1) {
                out.push('0');
            }
            for &d in digits {
                out.push(d as char);
            }
        }
    } else {
        out.push(digits[0] as char);
        if n > 1 {
            out.push('.');
            for &d in &digits[1..] {
                out.push(d as char);
            }
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let e = exp.unsigned_abs();
        if e < 10 {
            out.push('0');
        }
        let _ = write!(out, "{}", e);
    }
}

/// Appends `s` as a JSON string literal: `"..."`, escaping only `"` `\` `\b` `\f` `\n` `\r`
/// `\t`; everything else (other control bytes, UTF-8) is passed through as is.
pub fn write_escaped_str(s: &str, out: &mut String) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x0c => "\\f",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            _ => continue,
        };
        // All escaped bytes are ASCII, so `start..i` is on char boundaries.
        out.push_str(&s[start..i]);
        out.push_str(esc);
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Appends an integer in decimal (`%lld`).
pub fn write_int(i: i64, out: &mut String) {
    let _ = write!(out, "{}", i);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(f: f64) -> String {
        let mut s = String::new();
        fmt_double(f, &mut s);
        s
    }

    #[test]
    fn percent_g() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (3.0, "3"),
            (-3.0, "-3"),
            (3.25, "3.25"),
            (2.5e-3, "0.0025"),
            (7.0 / 6.0, "1.16667"),
            (0.1 + 0.2, "0.3"),
            (1.56, "1.56"),
            (123.321, "123.321"),
            (-123.321, "-123.321"),
            (100000.0, "100000"),
            (999999.0, "999999"),
            (999999.5, "1e+06"),
            (1000000.0, "1e+06"),
            (1234567.0, "1.23457e+06"),
            (1e8, "1e+08"),
            (1e40, "1e+40"),
            (1.72252e15, "1.72252e+15"),
            (0.0001, "0.0001"),
            (0.00012345678, "0.000123457"),
            (0.00001, "1e-05"),
            (-0.00001, "-1e-05"),
            (2.2250738585072014e-308, "2.22507e-308"),
            (1.79769e308, "1.79769e+308"),
            (f64::MAX, "1.79769e+308"),
            (5e-324, "4.94066e-324"),
            (1.17549e-38, "1.17549e-38"),
            (3.40282e38, "3.40282e+38"),
            (0.5, "0.5"),
            (123456.5, "123456"),
            (123457.5, "123458"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
            (-f64::NAN, "-nan"),
            (1.1f32 as f64, "1.1"),
            (1e100, "1e+100"),
            (9.9999949, "9.99999"),
            (9.9999951, "10"),
        ];
        for (f, want) in cases {
            assert_eq!(g(*f), *want, "value {:e}", f);
        }
    }

    #[test]
    fn escaping() {
        let mut s = String::new();
        write_escaped_str("a\"b\\c\u{8}\u{c}\n\r\t\u{1}é/", &mut s);
        assert_eq!(s, "\"a\\\"b\\\\c\\b\\f\\n\\r\\t\u{1}é/\"");
    }
}
