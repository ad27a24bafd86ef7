//! The proleptic Gregorian calendar: days since the epoch ↔ dates, month lengths, and a
//! timestamp broken into wall-clock fields at a fixed offset. Knows nothing of zones (see
//! `zone`, which builds on this).

pub const US_PER_MS: i64 = 1_000;
pub const US_PER_SEC: i64 = 1_000_000;
pub const US_PER_MIN: i64 = 60 * US_PER_SEC;
pub const US_PER_HOUR: i64 = 60 * US_PER_MIN;
pub const US_PER_DAY: i64 = 24 * US_PER_HOUR;

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
    /// Splits a timestamp into wall-clock fields at the fixed offset `offset_secs` east of
    /// UTC.
    pub fn at_offset(us: i64, offset_secs: i32) -> DateTime {
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

    /// The wall-clock time as microseconds since the epoch read as UTC; out of range:
    /// `Err(i64::MIN or i64::MAX)`.
    pub fn local_us(&self) -> std::result::Result<i64, i64> {
        let days = days_from_civil(self.year, self.month, 1) as i128 + self.day as i128 - 1;
        let local = days * US_PER_DAY as i128
            + self.hour as i128 * US_PER_HOUR as i128
            + self.minute as i128 * US_PER_MIN as i128
            + self.second as i128 * US_PER_SEC as i128
            + self.us as i128;
        i64::try_from(local).map_err(|_| if local < 0 { i64::MIN } else { i64::MAX })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
