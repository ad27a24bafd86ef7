//! Time: the calendar, timestamps and intervals as text, and time zones.
//!
//! A timestamp is an `i64` count of microseconds since 1970-01-01 00:00:00 UTC; an interval
//! is a [`crate::Interval`]; a zone is a [`Tz`], a fixed offset or a named zone with
//! daylight-saving rules.
//!
//! * [`civil`]: days ↔ dates, month lengths, wall-clock fields at a fixed offset;
//! * [`zone`]: the zone registry on `jiff`, [`Tz`], wall-clock fields in a zone (on `civil`);
//! * [`timestamp`]: timestamp text, parsed and written in a zone (on `civil` and `zone`);
//! * [`interval`]: interval text, parsed and written (on `civil`'s units).
//!
//! The calendar depends on none of the others.

pub mod civil;
pub mod interval;
pub mod timestamp;
pub mod zone;

pub use civil::{
    civil_from_days, days_from_civil, days_in_month, is_leap_year, DateTime, US_PER_DAY,
    US_PER_HOUR, US_PER_MIN, US_PER_MS, US_PER_SEC,
};
pub use interval::{format_interval, parse_interval, IntervalUnit};
pub use timestamp::{format_offset, format_timestamp, parse_timestamp, parse_timestamp_parts};
pub use zone::{Tz, ZoneId};
