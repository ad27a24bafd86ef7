//! Time functions: now, at_timezone, date_bin, date_trunc, interval_trunc, extract.

use super::{arg_err, def, Ctx, Def};
use amelie_common::time::{
    DateTime, IntervalUnit, Tz, US_PER_DAY, US_PER_HOUR, US_PER_MIN, US_PER_MS, US_PER_SEC,
};
use amelie_common::{Error, Interval, Result, Value};

pub const DEFS: &[Def] = &[
    def("now", 0, 0, false, now),
    def("at_timezone", 2, 2, true, at_timezone),
    def("date_bin", 2, 3, true, date_bin),
    def("date_trunc", 2, 3, true, date_trunc),
    def("interval_trunc", 2, 2, true, interval_trunc),
    def("extract", 2, 3, true, extract),
];

fn now(c: &Ctx, _: &[Value]) -> Result<Value> {
    Ok(Value::Timestamp(c.now))
}

/// The zone of argument `idx` (a timezone name).
fn zone_arg(f: &str, a: &[Value], idx: usize) -> Result<Tz> {
    match &a[idx] {
        Value::Str(s) => Tz::lookup(s)
            .ok_or_else(|| Error::not_found(format!("{f}(): failed to find timezone '{s}'"))),
        v => Err(arg_err(f, idx, "string", v)),
    }
}

fn at_timezone(_: &Ctx, a: &[Value]) -> Result<Value> {
    let ts = match &a[0] {
        Value::Timestamp(t) => *t,
        v => return Err(arg_err("at_timezone", 0, "timestamp", v)),
    };
    let z = zone_arg("at_timezone", a, 1)?;
    let mut out = String::new();
    amelie_common::format_timestamp(ts, z, &mut out);
    Ok(Value::Str(out.into()))
}

fn date_bin(c: &Ctx, a: &[Value]) -> Result<Value> {
    let (iv, ts) = match (&a[0], &a[1]) {
        (Value::Interval(i), Value::Timestamp(t)) | (Value::Timestamp(t), Value::Interval(i)) => {
            (*i, *t)
        }
        (_, Value::Null) => return Ok(Value::Null),
        (Value::Interval(_) | Value::Timestamp(_), v) => {
            return Err(arg_err("date_bin", 1, "interval or timestamp", v))
        }
        (v, _) => return Err(arg_err("date_bin", 0, "interval or timestamp", v)),
    };
    let origin = match a.get(2) {
        None => 978_307_200 * US_PER_SEC,
        Some(Value::Timestamp(t)) => *t,
        Some(Value::Null) => return Ok(Value::Null),
        Some(v) => return Err(arg_err("date_bin", 2, "timestamp", v)),
    };
    let _ = c;
    if iv.months != 0 {
        return Err(Error::unsupported(
            "date_bin(): month and year intervals are not supported",
        ));
    }
    let overflow = || Error::type_error("timestamp overflow");
    let stride = (iv.days as i64)
        .checked_mul(US_PER_DAY)
        .and_then(|d| d.checked_add(iv.us))
        .ok_or_else(overflow)?;
    if stride <= 0 {
        return Err(Error::type_error("date_bin(): invalid argument"));
    }
    if origin > ts {
        return Err(Error::type_error("date_bin(): origin is in the future"));
    }
    let delta = ts.checked_sub(origin).ok_or_else(overflow)?;
    // between origin and ts, so in range
    Ok(Value::Timestamp(ts - delta % stride))
}

fn field(f: &str, a: &[Value], idx: usize) -> Result<IntervalUnit> {
    match &a[idx] {
        Value::Str(s) => Ok(IntervalUnit::parse(s).unwrap_or(IntervalUnit::Week)),
        v => Err(arg_err(f, idx, "string", v)),
    }
}

/// Splits arguments given in either order into (field index, value index).
fn order(a: &[Value]) -> (usize, usize) {
    if matches!(a[0], Value::Str(_)) {
        (0, 1)
    } else {
        (1, 0)
    }
}

fn date_trunc(c: &Ctx, a: &[Value]) -> Result<Value> {
    let (fi, vi) = order(a);
    if a[vi].is_null() {
        return Ok(Value::Null);
    }
    let ts = match &a[vi] {
        Value::Timestamp(t) => *t,
        v => return Err(arg_err("date_trunc", vi, "timestamp", v)),
    };
    let unit = field("date_trunc", a, fi)?;
    let zone = match a.get(2) {
        Some(_) => zone_arg("date_trunc", a, 2)?,
        None => c.tz,
    };
    // Amelie splits in the session zone and recombines in the requested one
    let mut dt = DateTime::from_timestamp(ts, c.tz);
    use IntervalUnit as U;
    match unit {
        U::Year => {
            dt.month = 1;
            dt.day = 1;
            dt.hour = 0;
            dt.minute = 0;
            dt.second = 0;
            dt.us = 0;
        }
        U::Month => {
            dt.day = 1;
            dt.hour = 0;
            dt.minute = 0;
            dt.second = 0;
            dt.us = 0;
        }
        U::Day => {
            dt.hour = 0;
            dt.minute = 0;
            dt.second = 0;
            dt.us = 0;
        }
        U::Hour => {
            dt.minute = 0;
            dt.second = 0;
            dt.us = 0;
        }
        U::Minute => {
            dt.second = 0;
            dt.us = 0;
        }
        U::Second => dt.us = 0,
        U::Millisecond => dt.us -= dt.us % 1000,
        U::Microsecond => {}
        U::Week => return Err(Error::not_found("unknown timestamp truncate field")),
    }
    // the start of the first day, hour, ... of an extreme timestamp may be out of range
    let overflow = || Error::type_error("timestamp overflow");
    Ok(Value::Timestamp(
        dt.checked_to_timestamp(zone).ok_or_else(overflow)?,
    ))
}

fn interval_trunc(_: &Ctx, a: &[Value]) -> Result<Value> {
    let (fi, vi) = order(a);
    if a[vi].is_null() {
        return Ok(Value::Null);
    }
    let iv = match &a[vi] {
        Value::Interval(i) => *i,
        v => return Err(arg_err("interval_trunc", vi, "interval", v)),
    };
    let unit = field("interval_trunc", a, fi)?;
    use IntervalUnit as U;
    let keep_us = |q: i64| iv.us - iv.us % q;
    let r = match unit {
        U::Year => Interval {
            months: iv.months - iv.months % 12,
            days: 0,
            us: 0,
        },
        U::Month => Interval {
            months: iv.months,
            days: 0,
            us: 0,
        },
        U::Day => Interval { us: 0, ..iv },
        U::Hour => Interval {
            us: keep_us(US_PER_HOUR),
            ..iv
        },
        U::Minute => Interval {
            us: keep_us(US_PER_MIN),
            ..iv
        },
        U::Second => Interval {
            us: keep_us(US_PER_SEC),
            ..iv
        },
        U::Millisecond => Interval {
            us: keep_us(US_PER_MS),
            ..iv
        },
        U::Microsecond => iv,
        U::Week => return Err(Error::not_found("unknown interval truncate field")),
    };
    Ok(Value::Interval(r))
}

fn extract(c: &Ctx, a: &[Value]) -> Result<Value> {
    let (fi, vi) = order(a);
    if a[vi].is_null() || a[fi].is_null() {
        return Ok(Value::Null);
    }
    let unit = field("extract", a, fi)?;
    use IntervalUnit as U;
    match &a[vi] {
        Value::Timestamp(ts) => {
            let zone = match a.get(2) {
                Some(_) => zone_arg("extract", a, 2)?,
                None => c.tz,
            };
            let dt = DateTime::from_timestamp(*ts, zone);
            Ok(Value::Int(match unit {
                U::Year => dt.year,
                U::Month => dt.month as i64,
                U::Day => dt.day as i64,
                U::Hour => dt.hour as i64,
                U::Minute => dt.minute as i64,
                U::Second => dt.second as i64,
                U::Millisecond => (dt.us / 1000) as i64,
                U::Microsecond => dt.us as i64,
                U::Week => return Err(Error::not_found("unknown timestamp field")),
            }))
        }
        Value::Interval(iv) => Ok(Value::Int(match unit {
            U::Year => iv.months as i64 / 12,
            U::Month => iv.months as i64 % 12,
            U::Day => iv.days as i64,
            U::Hour => iv.us / US_PER_HOUR,
            U::Minute => iv.us % US_PER_HOUR / US_PER_MIN,
            U::Second => iv.us % US_PER_MIN / US_PER_SEC,
            U::Millisecond => iv.us % US_PER_SEC / US_PER_MS,
            U::Microsecond => iv.us % US_PER_MS,
            U::Week => return Err(Error::not_found("unknown interval field")),
        })),
        v => Err(arg_err("extract", vi, "timestamp or interval", v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c() -> Ctx {
        Ctx {
            now: 0,
            tz: amelie_common::Tz::UTC,
        }
    }

    fn trunc(field: &str, ts: i64) -> std::result::Result<i64, String> {
        match date_trunc(&c(), &[Value::str(field), Value::Timestamp(ts)]) {
            Ok(Value::Timestamp(t)) => Ok(t),
            Ok(v) => Err(format!("{v:?}")),
            Err(e) => Err(e.msg().to_string()),
        }
    }

    #[test]
    fn date_trunc_of_extreme_timestamps() {
        let overflow = Err("timestamp overflow".to_string());
        // the day of i64::MIN starts before i64::MIN
        assert_eq!(trunc("day", i64::MIN), overflow);
        assert_eq!(trunc("year", i64::MIN), overflow);
        assert_eq!(trunc("us", i64::MIN), Ok(i64::MIN));
        // the day of i64::MAX starts inside the range
        let day = trunc("day", i64::MAX).unwrap();
        assert!(i64::MAX - day < US_PER_DAY, "{day}");
        assert_eq!(day % US_PER_DAY, 0);
        assert_eq!(
            trunc("second", i64::MAX),
            Ok(i64::MAX - i64::MAX % US_PER_SEC)
        );
        // ordinary values are unchanged
        assert_eq!(trunc("day", US_PER_DAY + 5), Ok(US_PER_DAY));
        assert_eq!(trunc("day", -1), Ok(-US_PER_DAY));
    }

    #[test]
    fn date_bin_of_extreme_values() {
        let iv = |days: i32, us: i64| {
            Value::Interval(Interval {
                months: 0,
                days,
                us,
            })
        };
        let bin = |a: &[Value]| date_bin(&c(), a).map_err(|e| e.msg().to_string());
        let huge = [iv(i32::MAX, i64::MAX), Value::Timestamp(0)];
        assert_eq!(bin(&huge), Err("timestamp overflow".to_string()));
        let far = [
            iv(1, 0),
            Value::Timestamp(i64::MAX),
            Value::Timestamp(i64::MIN),
        ];
        assert_eq!(bin(&far), Err("timestamp overflow".to_string()));
        let ok = [
            iv(1, 0),
            Value::Timestamp(US_PER_DAY + 7),
            Value::Timestamp(0),
        ];
        assert_eq!(bin(&ok), Ok(Value::Timestamp(US_PER_DAY)));
    }
}
