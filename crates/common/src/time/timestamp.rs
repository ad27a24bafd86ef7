//! Timestamps as text: `YYYY-MM-DD HH:MM:SS[.ffffff]±HH[:MM]`, parsed and written in a zone.
//!
//! A timestamp is an `i64` count of microseconds since 1970-01-01 00:00:00 UTC.

use super::civil::DateTime;
use super::zone::Tz;
use crate::Result;
use std::fmt::Write as _;

const MALFORMED_TS: &str = "malformed timestamp string";

/// Reads exactly `n` ASCII digits at `*pos`.
fn digits(b: &[u8], pos: &mut usize, n: usize) -> Option<u32> {
    let s = b.get(*pos..*pos + n)?;
    let mut v = 0u32;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as u32;
    }
    *pos += n;
    Some(v)
}

fn expect(b: &[u8], pos: &mut usize, c: u8) -> Option<()> {
    if b.get(*pos) == Some(&c) {
        *pos += 1;
        Some(())
    } else {
        None
    }
}

/// Parsed pieces of a timestamp string; `zone` is the explicit offset in seconds, if any.
fn parse_parts(s: &str) -> Option<(DateTime, Option<i32>)> {
    let b = s.as_bytes();
    let mut pos = 0;
    while b.get(pos) == Some(&b' ') {
        pos += 1;
    }
    if b.len() - pos < 19 {
        return None;
    }
    let year = digits(b, &mut pos, 4)?;
    expect(b, &mut pos, b'-')?;
    let month = digits(b, &mut pos, 2)?;
    expect(b, &mut pos, b'-')?;
    let day = digits(b, &mut pos, 2)?;
    match b.get(pos) {
        Some(b' ' | b'T') => pos += 1,
        _ => return None,
    }
    let hour = digits(b, &mut pos, 2)?;
    expect(b, &mut pos, b':')?;
    let minute = digits(b, &mut pos, 2)?;
    expect(b, &mut pos, b':')?;
    let second = digits(b, &mut pos, 2)?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let mut us = 0u32;
    if b.get(pos) == Some(&b'.') {
        pos += 1;
        let mut n = 0;
        while let Some(c) = b.get(pos).filter(|c| c.is_ascii_digit()) {
            if n == 6 {
                return None;
            }
            us = us * 10 + (c - b'0') as u32;
            n += 1;
            pos += 1;
        }
        if n == 0 {
            return None;
        }
        for _ in n..6 {
            us *= 10;
        }
    }
    let zone = match b.get(pos) {
        None => None,
        Some(b'Z') => {
            pos += 1;
            Some(0)
        }
        Some(&sign @ (b'+' | b'-')) => {
            pos += 1;
            let hh = digits(b, &mut pos, 2)?;
            let mut mm = 0;
            if pos < b.len() {
                if b[pos] == b':' {
                    pos += 1;
                }
                mm = digits(b, &mut pos, 2)?;
            }
            if hh > 23 || mm > 59 {
                return None;
            }
            let secs = (hh * 3600 + mm * 60) as i32;
            Some(if sign == b'-' { -secs } else { secs })
        }
        Some(_) => return None,
    };
    if pos != b.len() {
        return None;
    }
    let dt = DateTime {
        year: year as i64,
        month,
        day,
        hour,
        minute,
        second,
        us,
    };
    Some((dt, zone))
}

/// Parses `YYYY-MM-DD{ |T}HH:MM:SS[.f{1..6}][Z | ±HH[[:]MM]]` (leading spaces allowed).
/// Without an explicit zone the time is taken in the zone `default`. Hour/minute/second
/// overflow is normalised (`00:00:70` → `00:01:10`); a bad shape, month > 12 or day > 31
/// give `malformed timestamp string`; a result before the epoch gives `timestamp overflow`.
pub fn parse_timestamp(s: &str, default: Tz) -> Result<i64> {
    let (dt, zone) = parse_parts(s).ok_or_else(|| crate::Error::syntax(MALFORMED_TS))?;
    let ts = dt.to_timestamp(zone.map_or(default, Tz::Fixed));
    if ts < 0 {
        crate::bail!(Type, "timestamp overflow");
    }
    Ok(ts)
}

/// Parses a timestamp string like [`parse_timestamp`] but lets the caller resolve the zone:
/// returns the wall-clock fields and the explicit offset (seconds east of UTC) if the string
/// carries one. Useful for zones whose offset depends on the local time (DST).
pub fn parse_timestamp_parts(s: &str) -> Result<(DateTime, Option<i32>)> {
    parse_parts(s).ok_or_else(|| crate::Error::syntax(MALFORMED_TS))
}

fn push_2(out: &mut String, v: u32) {
    out.push((b'0' + (v / 10 % 10) as u8) as char);
    out.push((b'0' + (v % 10) as u8) as char);
}

/// Appends `us` formatted in the zone `tz` as `YYYY-MM-DD HH:MM:SS[.fff|.ffffff]±HH[:MM]`
/// (fraction omitted when zero, 3 digits for whole milliseconds, else 6; offset minutes only
/// when non-zero).
pub fn format_timestamp(us: i64, tz: Tz, out: &mut String) {
    let offset_secs = tz.offset_at(us);
    let dt = DateTime::at_offset(us, offset_secs);
    if (0..10_000).contains(&dt.year) {
        let y = dt.year as u32;
        push_2(out, y / 100);
        push_2(out, y % 100);
    } else {
        let _ = write!(out, "{:04}", dt.year);
    }
    out.push('-');
    push_2(out, dt.month);
    out.push('-');
    push_2(out, dt.day);
    out.push(' ');
    push_2(out, dt.hour);
    out.push(':');
    push_2(out, dt.minute);
    out.push(':');
    push_2(out, dt.second);
    if dt.us != 0 {
        let sub_ms = dt.us % 1000;
        if sub_ms == 0 {
            let _ = write!(out, ".{:03}", dt.us / 1000);
        } else {
            let _ = write!(out, ".{:06}", dt.us);
        }
    }
    format_offset(offset_secs, out);
}

/// Appends a zone offset as `+HH` or `+HH:MM` (`-` for zones west of UTC).
pub fn format_offset(offset_secs: i32, out: &mut String) {
    out.push(if offset_secs < 0 { '-' } else { '+' });
    let abs = offset_secs.unsigned_abs();
    let hh = abs / 3600;
    let mm = abs % 3600 / 60;
    if hh < 100 {
        push_2(out, hh);
    } else {
        let _ = write!(out, "{}", hh);
    }
    if mm != 0 {
        out.push(':');
        push_2(out, mm);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Result<String> {
        ts_in(s, 0, 0)
    }

    fn ts_in(s: &str, parse_off: i32, print_off: i32) -> Result<String> {
        let v = parse_timestamp(s, Tz::Fixed(parse_off))?;
        let mut out = String::new();
        format_timestamp(v, Tz::Fixed(print_off), &mut out);
        Ok(out)
    }

    fn err(s: &str) -> String {
        parse_timestamp(s, Tz::UTC).unwrap_err().msg().to_string()
    }

    #[test]
    fn parse_and_format() {
        assert_eq!(ts("1970-01-01 00:00:00").unwrap(), "1970-01-01 00:00:00+00");
        assert_eq!(parse_timestamp("1970-01-01 00:00:00", Tz::UTC).unwrap(), 0);
        assert_eq!(
            ts("  1970-01-01T00:00:01").unwrap(),
            "1970-01-01 00:00:01+00"
        );
        assert_eq!(ts("1970-01-01 00:00:70").unwrap(), "1970-01-01 00:01:10+00");
        assert_eq!(ts("1970-01-01 00:70:00").unwrap(), "1970-01-01 01:10:00+00");
        assert_eq!(ts("1970-01-01 28:00:00").unwrap(), "1970-01-02 04:00:00+00");
        assert_eq!(ts("1970-01-01 24:00:00").unwrap(), "1970-01-02 00:00:00+00");
        assert_eq!(
            ts("1970-01-01 00:00:00.0").unwrap(),
            "1970-01-01 00:00:00+00"
        );
        assert_eq!(
            ts("1970-01-01 00:00:00.000000").unwrap(),
            "1970-01-01 00:00:00+00"
        );
        assert_eq!(
            ts("1970-01-01 00:00:00.001").unwrap(),
            "1970-01-01 00:00:00.001+00"
        );
        assert_eq!(
            ts("1970-01-01 00:00:00.0010").unwrap(),
            "1970-01-01 00:00:00.001+00"
        );
        assert_eq!(
            ts("1970-01-01 00:00:00.1").unwrap(),
            "1970-01-01 00:00:00.100+00"
        );
        assert_eq!(
            ts("1970-01-01 00:00:00.01").unwrap(),
            "1970-01-01 00:00:00.010+00"
        );
        assert_eq!(
            ts("1970-01-01 00:00:00.0001").unwrap(),
            "1970-01-01 00:00:00.000100+00"
        );
        assert_eq!(
            ts("1970-01-01 00:00:00.00001").unwrap(),
            "1970-01-01 00:00:00.000010+00"
        );
        assert_eq!(
            ts("1970-01-01 00:00:00.000001").unwrap(),
            "1970-01-01 00:00:00.000001+00"
        );
        assert_eq!(
            ts("1970-01-01 00:00:00.999999Z").unwrap(),
            "1970-01-01 00:00:00.999999+00"
        );
        assert_eq!(
            ts("1970-01-01 00:00:00.999999+00").unwrap(),
            "1970-01-01 00:00:00.999999+00"
        );
        assert_eq!(
            ts("1970-01-01 00:00:00.999999-00").unwrap(),
            "1970-01-01 00:00:00.999999+00"
        );
        assert_eq!(
            ts("1970-01-01 00:00:00.999999-0000").unwrap(),
            "1970-01-01 00:00:00.999999+00"
        );
        assert_eq!(
            ts("1970-01-01 00:00:00.999999-00:00").unwrap(),
            "1970-01-01 00:00:00.999999+00"
        );
        assert_eq!(
            ts("1970-01-01 01:12:59.909090").unwrap(),
            "1970-01-01 01:12:59.909090+00"
        );
        assert_eq!(
            ts("2024-07-29T18:40:19Z").unwrap(),
            "2024-07-29 18:40:19+00"
        );
        assert_eq!(ts("2024-02-29 12:00:00").unwrap(), "2024-02-29 12:00:00+00");
        assert_eq!(ts("2023-12-31 23:59:60").unwrap(), "2024-01-01 00:00:00+00");
        // zones
        let h3 = 3 * 3600;
        assert_eq!(
            ts_in("2024-07-29 18:40:19", h3, h3).unwrap(),
            "2024-07-29 18:40:19+03"
        );
        assert_eq!(
            ts_in("2024-07-29 18:40:19Z", h3, h3).unwrap(),
            "2024-07-29 21:40:19+03"
        );
        assert_eq!(
            ts_in("2024-07-29 18:40:19+03", 0, 0).unwrap(),
            "2024-07-29 15:40:19+00"
        );
        assert_eq!(
            ts_in("2024-07-29 18:40:19+0530", 0, 0).unwrap(),
            "2024-07-29 13:10:19+00"
        );
        assert_eq!(
            ts_in("2024-07-29 18:40:19-05:30", 0, 0).unwrap(),
            "2024-07-30 00:10:19+00"
        );
        assert_eq!(
            ts_in("2024-07-29 18:40:19+05:30", 0, 5 * 3600 + 1800).unwrap(),
            "2024-07-29 18:40:19+05:30"
        );
        assert_eq!(
            ts_in("2024-07-29 18:40:19Z", 0, -(3 * 3600 + 1800)).unwrap(),
            "2024-07-29 15:10:19-03:30"
        );
        assert_eq!(
            ts_in("2024-07-29 18:40:19Z", 0, 9 * 3600).unwrap(),
            "2024-07-30 03:40:19+09"
        );
    }

    #[test]
    fn parse_errors() {
        for bad in [
            "",
            "2",
            "2a",
            "a",
            "_a",
            "-",
            "--",
            "-- ::",
            "1969-0-0",
            "1969-0-0 0:0:0",
            "1970-0-0 00:00:00",
            "1970-00-00 00:00:00",
            "1970-01-00 00:00:00",
            "1970-01-33 00:00:00",
            "1970-13-01 00:00:00",
            "1970-01-01 00:00:00.",
            "1970-01-01 00:00:00.0000001",
            "1970-01-01 00:00:00.999999Zjunk",
            "1970-01-01 00:00:00.999999+",
            "1970-01-01 00:00:00.999999+0",
            "1970-01-01 00:00:00.999999-000",
            "1970-01-01 00:00:00.999999+9930",
            "1970-01-01 00:00:00.999999+99:30",
            "1970-01-01 00:00:00.999999+00:",
            "1970-01-01 00:00:00.999999+00:0",
            "1970-01-01 00:00:00 ",
            "1970-01-01X00:00:00",
            "1970/01/01 00:00:00",
            "1970-01-01 00:00:0a",
            "1970-01-01 00:00:00.12a",
            "日本語日本語日本語日本語",
            "１９７０-01-01 00:00:00",
        ] {
            assert_eq!(err(bad), "malformed timestamp string", "{:?}", bad);
        }
        for bad in [
            "1970-01-01 00:00:00.999999+0030",
            "1970-01-01 00:00:00.999999+10:30",
            "1970-01-01 00:00:00.999999+01",
            "1969-12-31 23:59:59",
        ] {
            assert_eq!(err(bad), "timestamp overflow", "{:?}", bad);
        }
    }

    #[test]
    fn datetime_fields() {
        let v = parse_timestamp("2024-07-29 18:40:19.5", Tz::UTC).unwrap();
        let dt = DateTime::from_timestamp(v, Tz::Fixed(3600));
        assert_eq!(
            dt,
            DateTime {
                year: 2024,
                month: 7,
                day: 29,
                hour: 19,
                minute: 40,
                second: 19,
                us: 500_000
            }
        );
        assert_eq!(dt.to_timestamp(Tz::Fixed(3600)), v);
        let (parts, zone) = parse_timestamp_parts("2024-07-29 18:40:19-01").unwrap();
        assert_eq!(zone, Some(-3600));
        assert_eq!(parts.hour, 18);
        let mut s = String::new();
        format_timestamp(-1, Tz::UTC, &mut s);
        assert_eq!(s, "1969-12-31 23:59:59.999999+00");
    }

    #[test]
    fn zone_handles_follow_dst() {
        let Some(h) = Tz::lookup("asia/famagusta") else {
            return; // no tz database on this machine
        };
        assert!(matches!(h, Tz::Zone(_)));
        let summer = parse_timestamp("2024-07-29 18:40:19", h).unwrap();
        assert_eq!(
            summer,
            parse_timestamp("2024-07-29 15:40:19Z", Tz::UTC).unwrap()
        );
        let mut out = String::new();
        format_timestamp(summer, h, &mut out);
        assert_eq!(out, "2024-07-29 18:40:19+03");
        let winter = parse_timestamp("2024-01-29 18:40:19", h).unwrap();
        out.clear();
        format_timestamp(winter, h, &mut out);
        assert_eq!(out, "2024-01-29 18:40:19+02");
        assert_eq!(Tz::lookup("UTC"), Some(Tz::UTC));
        assert_eq!(Tz::lookup("no/such_zone"), None);
    }
}
