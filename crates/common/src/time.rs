//! Timestamps and intervals: parsing and formatting.
//!
//! A timestamp is an `i64` count of microseconds since 1970-01-01 00:00:00 UTC. Zones are
//! passed as an `i32` "offset or handle": a fixed offset in seconds east of UTC, or a handle
//! of a named zone whose offset follows its daylight-saving rules (see [`crate::tz`], which
//! resolves names through the system tz database).

pub use crate::tz::{resolve_local_offset, resolve_offset, zone_handle, Zone, ZONE_HANDLE_BASE};
use crate::value::Interval;
use crate::Result;
use std::fmt::Write as _;

pub const US_PER_MS: i64 = 1_000;
pub const US_PER_SEC: i64 = 1_000_000;
pub const US_PER_MIN: i64 = 60 * US_PER_SEC;
pub const US_PER_HOUR: i64 = 60 * US_PER_MIN;
pub const US_PER_DAY: i64 = 24 * US_PER_HOUR;

const MALFORMED_TS: &str = "malformed timestamp string";
const MALFORMED_IV: &str = "malformed interval string";

/// Days since 1970-01-01 of the proleptic Gregorian date `year-month-day`
/// (`month` 1..=12; `day` may exceed the month length and then spills over).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    // Shift the year to start in March so that the leap day is the last day of the year.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400); // [0, 399]
    let m = month as i64;
    let mp = (m + 9) % 12; // March = 0 ... February = 11
    let doy = (153 * mp + 2) / 5 + day as i64 - 1; // [0, 365] for valid days
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`]: `(year, month 1..=12, day 1..=31)`.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    (year, month, day)
}

/// Whether `year` is a Gregorian leap year.
pub fn is_leap_year(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Number of days in `month` (1..=12) of `year`.
pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap_year(year) => 29,
        _ => 28,
    }
}

/// Broken-down wall-clock time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateTime {
    pub year: i64,
    /// 1..=12
    pub month: u32,
    /// 1..=31
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    /// 0..=999_999
    pub us: u32,
}

impl DateTime {
    /// Splits a timestamp into wall-clock fields in the zone `offset_secs` east of UTC.
    pub fn from_timestamp(us: i64, offset_secs: i32) -> DateTime {
        let offset_secs = resolve_offset(offset_secs, us);
        // in i128: the wall-clock time of an extreme timestamp may be outside i64
        let local = us as i128 + offset_secs as i128 * US_PER_SEC as i128;
        let days = local.div_euclid(US_PER_DAY as i128) as i64;
        let rem = local.rem_euclid(US_PER_DAY as i128) as i64;
        let (year, month, day) = civil_from_days(days);
        DateTime {
            year,
            month,
            day,
            hour: (rem / US_PER_HOUR) as u32,
            minute: (rem % US_PER_HOUR / US_PER_MIN) as u32,
            second: (rem % US_PER_MIN / US_PER_SEC) as u32,
            us: (rem % US_PER_SEC) as u32,
        }
    }

    /// Back to a timestamp, interpreting the fields in the zone `offset_secs` east of UTC.
    /// Out-of-range day/hour/minute/second values spill over into the next unit. A result
    /// outside the `i64` range saturates (see [`DateTime::checked_to_timestamp`]).
    pub fn to_timestamp(&self, offset_secs: i32) -> i64 {
        match self.local_us() {
            Ok(local) => {
                let offset_secs = resolve_local_offset(offset_secs, local);
                let ts = local as i128 - offset_secs as i128 * US_PER_SEC as i128;
                ts.clamp(i64::MIN as i128, i64::MAX as i128) as i64
            }
            Err(far) => far,
        }
    }

    /// Like [`DateTime::to_timestamp`], but `None` when the timestamp is outside the `i64`
    /// range.
    pub fn checked_to_timestamp(&self, offset_secs: i32) -> Option<i64> {
        let local = self.local_us().ok()?;
        let offset_secs = resolve_local_offset(offset_secs, local);
        local.checked_sub(offset_secs as i64 * US_PER_SEC)
    }

    /// The wall-clock time as microseconds since the epoch read as UTC; out of range:
    /// `Err(i64::MIN or i64::MAX)`.
    fn local_us(&self) -> std::result::Result<i64, i64> {
        let days = days_from_civil(self.year, self.month, 1) as i128 + self.day as i128 - 1;
        let local = days * US_PER_DAY as i128
            + self.hour as i128 * US_PER_HOUR as i128
            + self.minute as i128 * US_PER_MIN as i128
            + self.second as i128 * US_PER_SEC as i128
            + self.us as i128;
        i64::try_from(local).map_err(|_| if local < 0 { i64::MIN } else { i64::MAX })
    }
}

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
/// Without an explicit zone the time is taken in the zone `default_offset_secs` east of
/// UTC. Hour/minute/second overflow is normalised (`00:00:70` → `00:01:10`); a bad shape,
/// month > 12 or day > 31 give `malformed timestamp string`; a result before the epoch
/// gives `timestamp overflow`.
pub fn parse_timestamp(s: &str, default_offset_secs: i32) -> Result<i64> {
    let (dt, zone) = parse_parts(s).ok_or_else(|| crate::Error::new(MALFORMED_TS))?;
    let ts = dt.to_timestamp(zone.unwrap_or(default_offset_secs));
    if ts < 0 {
        crate::bail!("timestamp overflow");
    }
    Ok(ts)
}

/// Parses a timestamp string like [`parse_timestamp`] but lets the caller resolve the zone:
/// returns the wall-clock fields and the explicit offset (seconds east of UTC) if the string
/// carries one. Useful for zones whose offset depends on the local time (DST).
pub fn parse_timestamp_parts(s: &str) -> Result<(DateTime, Option<i32>)> {
    parse_parts(s).ok_or_else(|| crate::Error::new(MALFORMED_TS))
}

fn push_2(out: &mut String, v: u32) {
    out.push((b'0' + (v / 10 % 10) as u8) as char);
    out.push((b'0' + (v % 10) as u8) as char);
}

/// Appends `us` formatted in the zone `offset_secs` east of UTC as
/// `YYYY-MM-DD HH:MM:SS[.fff|.ffffff]±HH[:MM]` (fraction omitted when zero, 3 digits for
/// whole milliseconds, else 6; offset minutes only when non-zero).
pub fn format_timestamp(us: i64, offset_secs: i32, out: &mut String) {
    let offset_secs = resolve_offset(offset_secs, us);
    let dt = DateTime::from_timestamp(us, offset_secs);
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

/// Interval units accepted by [`parse_interval`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntervalUnit {
    Year,
    Month,
    Week,
    Day,
    Hour,
    Minute,
    Second,
    Millisecond,
    Microsecond,
}

impl IntervalUnit {
    /// Recognises a unit name (case-insensitive): `year(s) month(s) week(s) day(s) hour(s)
    /// hr(s) minute(s) min(s) second(s) sec(s) millisecond(s) ms microsecond(s) us`.
    pub fn parse(name: &str) -> Option<IntervalUnit> {
        const UNITS: &[(&str, IntervalUnit)] = &[
            ("year", IntervalUnit::Year),
            ("years", IntervalUnit::Year),
            ("month", IntervalUnit::Month),
            ("months", IntervalUnit::Month),
            ("week", IntervalUnit::Week),
            ("weeks", IntervalUnit::Week),
            ("day", IntervalUnit::Day),
            ("days", IntervalUnit::Day),
            ("hour", IntervalUnit::Hour),
            ("hours", IntervalUnit::Hour),
            ("hr", IntervalUnit::Hour),
            ("hrs", IntervalUnit::Hour),
            ("minute", IntervalUnit::Minute),
            ("minutes", IntervalUnit::Minute),
            ("min", IntervalUnit::Minute),
            ("mins", IntervalUnit::Minute),
            ("second", IntervalUnit::Second),
            ("seconds", IntervalUnit::Second),
            ("sec", IntervalUnit::Second),
            ("secs", IntervalUnit::Second),
            ("millisecond", IntervalUnit::Millisecond),
            ("milliseconds", IntervalUnit::Millisecond),
            ("ms", IntervalUnit::Millisecond),
            ("microsecond", IntervalUnit::Microsecond),
            ("microseconds", IntervalUnit::Microsecond),
            ("us", IntervalUnit::Microsecond),
        ];
        UNITS
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, u)| *u)
    }
}

/// Parses an interval string: a (possibly empty) sequence of `<int> <unit>` pairs separated
/// by whitespace, integers may be negative. Weeks become 7 days, years 12 months, and
/// hours/minutes/seconds/ms/us are summed into microseconds (never folded into days).
/// Errors: `malformed interval string`, `interval overflow`.
pub fn parse_interval(s: &str) -> Result<Interval> {
    let b = s.as_bytes();
    let mut pos = 0;
    let mut iv = Interval::default();
    let malformed = || crate::Error::new(MALFORMED_IV);
    let overflow = || crate::Error::new("interval overflow");
    loop {
        while b.get(pos).is_some_and(|c| c.is_ascii_whitespace()) {
            pos += 1;
        }
        if pos == b.len() {
            return Ok(iv);
        }
        // number
        let mut negative = false;
        match b.get(pos) {
            Some(b'-') => {
                negative = true;
                pos += 1;
            }
            Some(b'+') => pos += 1,
            _ => {}
        }
        let start = pos;
        let mut n: i64 = 0;
        while let Some(c) = b.get(pos).filter(|c| c.is_ascii_digit()) {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add((c - b'0') as i64))
                .ok_or_else(overflow)?;
            pos += 1;
        }
        if pos == start {
            return Err(malformed());
        }
        if negative {
            n = -n;
        }
        // unit
        while b.get(pos).is_some_and(|c| c.is_ascii_whitespace()) {
            pos += 1;
        }
        let start = pos;
        while b.get(pos).is_some_and(|c| c.is_ascii_alphabetic()) {
            pos += 1;
        }
        let unit = IntervalUnit::parse(&s[start..pos]).ok_or_else(malformed)?;
        let to_i32 = |v: i64| i32::try_from(v).map_err(|_| overflow());
        match unit {
            IntervalUnit::Year => {
                let m = to_i32(n.checked_mul(12).ok_or_else(overflow)?)?;
                iv.months = iv.months.checked_add(m).ok_or_else(overflow)?;
            }
            IntervalUnit::Month => {
                iv.months = iv.months.checked_add(to_i32(n)?).ok_or_else(overflow)?;
            }
            IntervalUnit::Week => {
                let d = to_i32(n.checked_mul(7).ok_or_else(overflow)?)?;
                iv.days = iv.days.checked_add(d).ok_or_else(overflow)?;
            }
            IntervalUnit::Day => {
                iv.days = iv.days.checked_add(to_i32(n)?).ok_or_else(overflow)?;
            }
            _ => {
                let mult = match unit {
                    IntervalUnit::Hour => US_PER_HOUR,
                    IntervalUnit::Minute => US_PER_MIN,
                    IntervalUnit::Second => US_PER_SEC,
                    IntervalUnit::Millisecond => US_PER_MS,
                    _ => 1,
                };
                let us = n.checked_mul(mult).ok_or_else(overflow)?;
                iv.us = iv.us.checked_add(us).ok_or_else(overflow)?;
            }
        }
        // a unit must be followed by whitespace or the end
        if pos < b.len() && !b[pos].is_ascii_whitespace() {
            return Err(malformed());
        }
    }
}

/// Appends an interval as `1 year 2 months 3 days 4 hours 5 minutes 6 seconds 7 ms 8 us`:
/// zero parts omitted, plural when the amount is not 1 (`-1 hours`), microseconds split
/// with truncating division (`-49 minutes -55 seconds`), the zero interval as nothing.
pub fn format_interval(iv: &Interval, out: &mut String) {
    // Parts are separated by one space; `first` tracks whether one was written yet.
    let mut first = true;
    let mut part = |v: i64, unit: &str, plural: bool| {
        if v == 0 {
            return;
        }
        if !first {
            out.push(' ');
        }
        first = false;
        let _ = write!(out, "{} {}", v, unit);
        if plural && v != 1 {
            out.push('s');
        }
    };
    let months = iv.months as i64;
    part(months / 12, "year", true);
    part(months % 12, "month", true);
    part(iv.days as i64, "day", true);
    let us = iv.us;
    part(us / US_PER_HOUR, "hour", true);
    part(us % US_PER_HOUR / US_PER_MIN, "minute", true);
    part(us % US_PER_MIN / US_PER_SEC, "second", true);
    part(us % US_PER_SEC / US_PER_MS, "ms", false);
    part(us % US_PER_MS, "us", false);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Result<String> {
        ts_in(s, 0, 0)
    }

    fn ts_in(s: &str, parse_off: i32, print_off: i32) -> Result<String> {
        let v = parse_timestamp(s, parse_off)?;
        let mut out = String::new();
        format_timestamp(v, print_off, &mut out);
        Ok(out)
    }

    fn err(s: &str) -> String {
        parse_timestamp(s, 0).unwrap_err().msg().to_string()
    }

    #[test]
    fn civil_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(19_783), (2024, 3, 1));
        for d in -800_000..800_000i64 {
            let (y, m, dd) = civil_from_days(d);
            assert!(dd >= 1 && dd <= days_in_month(y, m));
            assert_eq!(days_from_civil(y, m, dd), d);
        }
        // day overflow spills into the next month
        assert_eq!(days_from_civil(2023, 2, 29), days_from_civil(2023, 3, 1));
    }

    #[test]
    fn parse_and_format() {
        assert_eq!(ts("1970-01-01 00:00:00").unwrap(), "1970-01-01 00:00:00+00");
        assert_eq!(parse_timestamp("1970-01-01 00:00:00", 0).unwrap(), 0);
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
        let v = parse_timestamp("2024-07-29 18:40:19.5", 0).unwrap();
        let dt = DateTime::from_timestamp(v, 3600);
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
        assert_eq!(dt.to_timestamp(3600), v);
        let (parts, zone) = parse_timestamp_parts("2024-07-29 18:40:19-01").unwrap();
        assert_eq!(zone, Some(-3600));
        assert_eq!(parts.hour, 18);
        let mut s = String::new();
        format_timestamp(-1, 0, &mut s);
        assert_eq!(s, "1969-12-31 23:59:59.999999+00");
    }

    fn iv(s: &str) -> String {
        let v = parse_interval(s).unwrap();
        let mut out = String::new();
        format_interval(&v, &mut out);
        out
    }

    #[test]
    fn intervals() {
        assert_eq!(iv("1 year"), "1 year");
        assert_eq!(iv("2 year"), "2 years");
        assert_eq!(iv("200 years"), "200 years");
        assert_eq!(iv("1 months"), "1 month");
        assert_eq!(iv("3 months 5 years"), "5 years 3 months");
        assert_eq!(iv("5 weeks"), "35 days");
        assert_eq!(iv("1 year 3 weeks"), "1 year 21 days");
        assert_eq!(iv("1 week 2 weeks 3 weeks"), "42 days");
        assert_eq!(iv("1 week 15 days"), "22 days");
        assert_eq!(iv("1 day"), "1 day");
        assert_eq!(iv("15 years 500 days"), "15 years 500 days");
        assert_eq!(iv("15 years 28 hours"), "15 years 28 hours");
        assert_eq!(iv("15 years 70 minutes"), "15 years 1 hour 10 minutes");
        assert_eq!(iv("15 years 125 minutes"), "15 years 2 hours 5 minutes");
        assert_eq!(iv("8 minutes 70 seconds"), "9 minutes 10 seconds");
        assert_eq!(iv("8 minutes 60 seconds"), "9 minutes");
        assert_eq!(iv("3 milliseconds"), "3 ms");
        assert_eq!(iv("3 millisecond"), "3 ms");
        assert_eq!(iv("3 microseconds"), "3 us");
        assert_eq!(iv("1 minute 3 ms 10 us"), "1 minute 3 ms 10 us");
        assert_eq!(iv("50000 us"), "50 ms");
        assert_eq!(
            iv("1 hour 5 minutes 6 seconds"),
            "1 hour 5 minutes 6 seconds"
        );
        assert_eq!(iv("5 hours 6 second"), "5 hours 6 seconds");
        assert_eq!(iv("5 min"), "5 minutes");
        assert_eq!(
            iv("2 hrs 1 hr 3 mins 4 secs 1 sec"),
            "3 hours 3 minutes 5 seconds"
        );
        assert_eq!(iv("1 YEAR 2 Months"), "1 year 2 months");
        assert_eq!(iv("0 hour"), "");
        assert_eq!(iv(""), "");
        assert_eq!(iv("  "), "");
        assert_eq!(iv("-1 hour"), "-1 hours");
        assert_eq!(iv("-1 hour 10 minutes"), "-50 minutes");
        assert_eq!(
            iv("-1 hour 10 minutes 5 seconds"),
            "-49 minutes -55 seconds"
        );
        assert_eq!(
            iv("-1 hour 10 minutes -5 seconds"),
            "-50 minutes -5 seconds"
        );
        assert_eq!(iv("-13 months"), "-1 years -1 months");
        assert_eq!(iv("1hour"), "1 hour");
        assert_eq!(
            parse_interval("1 year 2 weeks 3 hours").unwrap(),
            Interval {
                months: 12,
                days: 14,
                us: 3 * US_PER_HOUR
            }
        );
        let all = Interval {
            months: 14,
            days: 3,
            us: 4 * US_PER_HOUR + 5 * US_PER_MIN + 6 * US_PER_SEC + 7 * US_PER_MS + 8,
        };
        let mut out = String::new();
        format_interval(&all, &mut out);
        assert_eq!(
            out,
            "1 year 2 months 3 days 4 hours 5 minutes 6 seconds 7 ms 8 us"
        );
        let mut out = String::new();
        format_interval(
            &Interval {
                months: 0,
                days: 5,
                us: -US_PER_HOUR,
            },
            &mut out,
        );
        assert_eq!(out, "5 days -1 hours");
    }

    #[test]
    fn interval_errors() {
        for bad in [
            "1",
            "hour",
            "1 fortnight",
            "1 hour 2",
            "1 hours5",
            "- hour",
            "1.5 hours",
            "1 hour,",
            "日本",
        ] {
            assert_eq!(
                parse_interval(bad).unwrap_err().msg(),
                "malformed interval string",
                "{:?}",
                bad
            );
        }
        for bad in [
            "99999999999999999999 us",
            "9999999999 years",
            "9223372036854775807 hours",
            "3000000000 days",
        ] {
            assert_eq!(
                parse_interval(bad).unwrap_err().msg(),
                "interval overflow",
                "{:?}",
                bad
            );
        }
    }

    #[test]
    fn zone_handles_follow_dst() {
        let Some(h) = zone_handle("asia/famagusta") else {
            return; // no tz database on this machine
        };
        assert!(h >= ZONE_HANDLE_BASE);
        let summer = parse_timestamp("2024-07-29 18:40:19", h).unwrap();
        assert_eq!(summer, parse_timestamp("2024-07-29 15:40:19Z", 0).unwrap());
        let mut out = String::new();
        format_timestamp(summer, h, &mut out);
        assert_eq!(out, "2024-07-29 18:40:19+03");
        let winter = parse_timestamp("2024-01-29 18:40:19", h).unwrap();
        out.clear();
        format_timestamp(winter, h, &mut out);
        assert_eq!(out, "2024-01-29 18:40:19+02");
        assert_eq!(zone_handle("UTC"), Some(0));
        assert_eq!(zone_handle("no/such_zone"), None);
    }
}
