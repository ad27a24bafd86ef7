//! Intervals (months, days and microseconds kept apart): the text form, parsed and written.

use super::civil::{US_PER_HOUR, US_PER_MIN, US_PER_MS, US_PER_SEC};
use crate::value::Interval;
use crate::Result;
use std::fmt::Write as _;

const MALFORMED_IV: &str = "malformed interval string";

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
    let malformed = || crate::Error::syntax(MALFORMED_IV);
    let overflow = || crate::Error::type_error("interval overflow");
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
}
