//! Time zones: IANA names resolved through `jiff` against the system tz database
//! (`/usr/share/zoneinfo`, or `$TZDIR`), including the POSIX rule at the end of each zone
//! file, so offsets keep following daylight-saving time past the last listed transition.
//!
//! A zone travels as a [`Tz`] (the session's time zone): a fixed offset in seconds east of
//! UTC, or the [`ZoneId`] of a zone in a process-wide registry whose offset depends on the
//! instant. A name is resolved once ([`Tz::lookup`]): the answer, including "unknown", is
//! cached under the name as given and under its lowercase form, and later conversions only
//! index the registry (no table is cloned, no directory is read).
//!
//! Built on the calendar ([`super::civil`]): a [`DateTime`] is read from or turned into a
//! timestamp in a zone here.

use super::civil::{DateTime, US_PER_SEC};
use jiff::tz::{AmbiguousOffset, Offset, TimeZone};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::sync::{OnceLock, RwLock};

/// A registered named zone: its index in the process-wide registry (see [`Tz::lookup`]).
/// An id nobody registered (possible only through deserialization) reads as UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ZoneId(u32);

/// A time zone as passed around at run time (timestamp parsing, formatting, splitting into
/// fields). Copying it copies 8 bytes; a fixed offset is used without touching the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Tz {
    /// A fixed offset in seconds east of UTC.
    Fixed(i32),
    /// A named zone whose offset follows its daylight-saving rules.
    Zone(ZoneId),
}

impl Default for Tz {
    fn default() -> Tz {
        Tz::UTC
    }
}

/// Names kept in the name cache at most. Past it a name that is not cached yet is still
/// resolved correctly, through its lowercase entry or `jiff` (which rescans the zone
/// directory for an unknown name at most once per 5 minutes), but not remembered, so
/// arbitrary distinct names cannot grow the process without bound.
const NAME_CACHE_MAX: usize = 1 << 16;

struct Registry {
    /// Zones with DST rules by lowercase name; `ZoneId(i)` is `zones[i]`.
    zones: RwLock<Vec<(Box<str>, TimeZone)>>,
    /// Name (as given, and lowercased) → zone, `None` for an unknown name.
    names: RwLock<crate::FastMap<Box<str>, Option<Tz>>>,
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Registry {
        zones: RwLock::new(Vec::new()),
        names: RwLock::new(crate::FastMap::default()),
    })
}

impl Tz {
    /// Coordinated Universal Time.
    pub const UTC: Tz = Tz::Fixed(0);

    /// The named zone with its DST rules: fixed-offset zones (UTC, `Etc/GMT+5`) give
    /// [`Tz::Fixed`]. None if the zone is unknown. Names are matched without regard to ASCII
    /// case (`utc`, `asia/famagusta`).
    pub fn lookup(name: &str) -> Option<Tz> {
        let reg = registry();
        let cached = |key: &str| reg.names.read().ok()?.get(key).copied();
        if let Some(found) = cached(name) {
            return found;
        }
        let lower = name.to_ascii_lowercase();
        let found = match cached(&lower) {
            Some(found) => found,
            None => {
                let found = resolve(&lower);
                remember(reg, &lower, found);
                found
            }
        };
        if lower != name {
            remember(reg, name, found);
        }
        found
    }

    /// The offset (seconds east of UTC) in effect at the instant `us`.
    #[inline]
    pub fn offset_at(self, us: i64) -> i32 {
        match self {
            Tz::Fixed(offset) => offset,
            Tz::Zone(id) => with_zone(id, |z| z.to_offset(instant(us)).seconds()).unwrap_or(0),
        }
    }

    /// The offset for a wall-clock time (`local_us` = local time as if UTC). A time skipped
    /// by a transition (a gap) is read with the offset before it, so it lands after the gap;
    /// a time repeated by one (a fold) takes the offset before it, the earlier instant
    /// (RFC 5545's and `jiff`'s "compatible" choice).
    #[inline]
    pub fn offset_for_local(self, local_us: i64) -> i32 {
        match self {
            Tz::Fixed(offset) => offset,
            Tz::Zone(id) => with_zone(id, |z| {
                let civil = Offset::UTC.to_datetime(instant(local_us));
                match z.to_ambiguous_timestamp(civil).offset() {
                    AmbiguousOffset::Unambiguous { offset } => offset.seconds(),
                    AmbiguousOffset::Gap { before, .. } | AmbiguousOffset::Fold { before, .. } => {
                        before.seconds()
                    }
                }
            })
            .unwrap_or(0),
        }
    }
}

fn remember(reg: &Registry, name: &str, found: Option<Tz>) {
    if let Ok(mut names) = reg.names.write() {
        if names.len() < NAME_CACHE_MAX {
            names.insert(name.into(), found);
        }
    }
}

/// Looks `lower` up in the tz database and registers it if its offset changes over time.
fn resolve(lower: &str) -> Option<Tz> {
    if lower == "utc" || lower == "gmt" {
        return Some(Tz::UTC);
    }
    if lower.is_empty() || lower.contains("..") || lower.starts_with('/') {
        return None;
    }
    let tz = jiff::tz::db().get(lower).ok()?;
    if tz.is_unknown() {
        return None;
    }
    if let Ok(offset) = tz.to_fixed_offset() {
        return Some(Tz::Fixed(offset.seconds()));
    }
    // a zone file without any transition (Etc/GMT+5) is a fixed offset too
    if tz.following(Timestamp::MIN).next().is_none() {
        return Some(Tz::Fixed(tz.to_offset(Timestamp::UNIX_EPOCH).seconds()));
    }
    let reg = registry();
    let mut zones = reg.zones.write().ok()?;
    // A name keeps one id, even when a racing caller registered it first or the name cache
    // is full and did not remember it.
    let i = match zones.iter().position(|(n, _)| **n == *lower) {
        Some(i) => i,
        None => {
            zones.push((lower.into(), tz));
            zones.len() - 1
        }
    };
    Some(Tz::Zone(ZoneId(u32::try_from(i).ok()?)))
}

/// Runs `f` on a registered zone; None for an id nobody registered.
fn with_zone<T>(id: ZoneId, f: impl FnOnce(&TimeZone) -> T) -> Option<T> {
    let zones = registry().zones.read().ok()?;
    zones.get(id.0 as usize).map(|(_, z)| f(z))
}

/// `us` as a `jiff` timestamp, clamped to its range (years -9999..=9999).
fn instant(us: i64) -> Timestamp {
    Timestamp::from_microsecond(us).unwrap_or(if us < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

impl DateTime {
    /// Splits a timestamp into wall-clock fields in the zone `tz`.
    #[inline]
    pub fn from_timestamp(us: i64, tz: Tz) -> DateTime {
        DateTime::at_offset(us, tz.offset_at(us))
    }

    /// Back to a timestamp, interpreting the fields in the zone `tz`. Out-of-range
    /// day/hour/minute/second values spill over into the next unit. A result outside the
    /// `i64` range saturates (see [`DateTime::checked_to_timestamp`]).
    pub fn to_timestamp(&self, tz: Tz) -> i64 {
        match self.local_us() {
            Ok(local) => {
                let offset_secs = tz.offset_for_local(local);
                let ts = local as i128 - offset_secs as i128 * US_PER_SEC as i128;
                ts.clamp(i64::MIN as i128, i64::MAX as i128) as i64
            }
            Err(far) => far,
        }
    }

    /// Like [`DateTime::to_timestamp`], but `None` when the timestamp is outside the `i64`
    /// range.
    pub fn checked_to_timestamp(&self, tz: Tz) -> Option<i64> {
        let local = self.local_us().ok()?;
        let offset_secs = tz.offset_for_local(local);
        local.checked_sub(offset_secs as i64 * US_PER_SEC)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{format_timestamp, parse_timestamp};

    fn handle(name: &str) -> Tz {
        Tz::lookup(name).unwrap_or_else(|| panic!("{name} not in the tz database"))
    }

    /// `utc` (a zone-less string read as UTC) printed in `zone`.
    fn show(utc: &str, zone: &str) -> String {
        let ts = parse_timestamp(utc, Tz::UTC).unwrap();
        let mut out = String::new();
        format_timestamp(ts, handle(zone), &mut out);
        out
    }

    /// `local` (a zone-less string) read in `zone`, printed in UTC.
    fn read(local: &str, zone: &str) -> String {
        let ts = parse_timestamp(local, handle(zone)).unwrap();
        let mut out = String::new();
        format_timestamp(ts, Tz::UTC, &mut out);
        out
    }

    // Past the last transition listed in a zone file (2037) only the file's POSIX rule
    // knows the offset: the old reader froze the last listed one.
    #[test]
    fn rules_past_2037_north() {
        assert_eq!(
            show("2040-06-22 12:00:00", "America/New_York"),
            "2040-06-22 08:00:00-04"
        );
        assert_eq!(
            show("2040-06-22 12:00:00", "Europe/Berlin"),
            "2040-06-22 14:00:00+02"
        );
        assert_eq!(
            show("2040-12-22 12:00:00", "America/New_York"),
            "2040-12-22 07:00:00-05"
        );
        assert_eq!(
            show("2040-12-22 12:00:00", "Europe/Berlin"),
            "2040-12-22 13:00:00+01"
        );
    }

    #[test]
    fn rules_past_2037_south() {
        assert_eq!(
            show("2039-09-18 12:00:00", "Australia/Sydney"),
            "2039-09-18 22:00:00+10"
        );
        assert_eq!(
            show("2040-06-22 12:00:00", "Pacific/Auckland"),
            "2040-06-23 00:00:00+12"
        );
        assert_eq!(
            show("2040-01-15 12:00:00", "Pacific/Auckland"),
            "2040-01-16 01:00:00+13"
        );
        assert_eq!(
            read("2039-09-18 12:00:00", "Australia/Sydney"),
            "2039-09-18 02:00:00+00"
        );
    }

    #[test]
    fn dst_transitions() {
        // Europe/Berlin springs forward at 01:00 UTC on the last Sunday of March
        assert_eq!(
            show("2024-03-31 00:59:59", "Europe/Berlin"),
            "2024-03-31 01:59:59+01"
        );
        assert_eq!(
            show("2024-03-31 01:00:00", "Europe/Berlin"),
            "2024-03-31 03:00:00+02"
        );
        // ... and in 2040, from the POSIX rule (March 25th)
        assert_eq!(
            show("2040-03-25 00:59:59", "Europe/Berlin"),
            "2040-03-25 01:59:59+01"
        );
        assert_eq!(
            show("2040-03-25 01:00:00", "Europe/Berlin"),
            "2040-03-25 03:00:00+02"
        );
        // America/New_York: second Sunday of March 2040 at 07:00 UTC, first of November
        assert_eq!(
            show("2040-03-11 06:59:59", "America/New_York"),
            "2040-03-11 01:59:59-05"
        );
        assert_eq!(
            show("2040-03-11 07:00:00", "America/New_York"),
            "2040-03-11 03:00:00-04"
        );
        assert_eq!(
            show("2040-11-04 05:59:59", "America/New_York"),
            "2040-11-04 01:59:59-04"
        );
        assert_eq!(
            show("2040-11-04 06:00:00", "America/New_York"),
            "2040-11-04 01:00:00-05"
        );
        // wall-clock times: unambiguous, in a gap (lands after it), in a fold (the earlier)
        assert_eq!(
            read("2024-07-29 18:40:19", "Europe/Berlin"),
            "2024-07-29 16:40:19+00"
        );
        assert_eq!(
            read("2024-03-31 02:30:00", "Europe/Berlin"),
            "2024-03-31 01:30:00+00"
        );
        assert_eq!(
            read("2024-10-27 02:30:00", "Europe/Berlin"),
            "2024-10-27 00:30:00+00"
        );
        assert_eq!(
            read("2040-03-11 02:30:00", "America/New_York"),
            "2040-03-11 07:30:00+00"
        );
        assert_eq!(
            read("2040-11-04 01:30:00", "America/New_York"),
            "2040-11-04 05:30:00+00"
        );
        // splitting into fields follows the zone too
        let ts = parse_timestamp("2040-06-22 12:00:00", Tz::UTC).unwrap();
        let dt = DateTime::from_timestamp(ts, handle("Australia/Sydney"));
        assert_eq!((dt.day, dt.hour), (22, 22));
        assert_eq!(dt.to_timestamp(handle("Australia/Sydney")), ts);
    }

    #[test]
    fn names_are_case_insensitive() {
        let h = handle("Europe/Berlin");
        assert!(matches!(h, Tz::Zone(_)));
        assert_eq!(Tz::lookup("europe/berlin"), Some(h));
        assert_eq!(Tz::lookup("EUROPE/BERLIN"), Some(h));
        assert_eq!(Tz::lookup("eUrOpE/bErLiN"), Some(h));
        assert_eq!(Tz::lookup("asia/famagusta"), Tz::lookup("Asia/Famagusta"));
        assert_eq!(Tz::lookup("UTC"), Some(Tz::UTC));
        assert_eq!(Tz::lookup("utc"), Some(Tz::UTC));
        assert_eq!(Tz::lookup("gmt"), Some(Tz::UTC));
        // zones that never change give their plain offset
        assert_eq!(Tz::lookup("Etc/GMT+5"), Some(Tz::Fixed(-5 * 3600)));
        assert_eq!(Tz::lookup("etc/gmt-14"), Some(Tz::Fixed(14 * 3600)));
        assert_eq!(Tz::lookup("JAPAN").map(|z| z.offset_at(0)), Some(9 * 3600));
    }

    #[test]
    fn unknown_names() {
        for name in [
            "mars",
            "Mars",
            "no/such_zone",
            "",
            "/etc/passwd",
            "../../etc/passwd",
            "Europe/../Europe/Berlin",
            "Etc/Unknown",
            "Europe/Berlin\0",
            "日本",
        ] {
            assert_eq!(Tz::lookup(name), None, "{name:?}");
            // the second time from the cache
            assert_eq!(Tz::lookup(name), None, "{name:?}");
        }
    }

    #[test]
    fn resolved_once() {
        let h = handle("America/Sao_Paulo");
        for _ in 0..3 {
            assert_eq!(Tz::lookup("America/Sao_Paulo"), Some(h));
            assert_eq!(Tz::lookup("america/sao_paulo"), Some(h));
        }
        let names = registry().names.read().unwrap();
        assert_eq!(names.get("america/sao_paulo"), Some(&Some(h)));
        assert_eq!(names.get("America/Sao_Paulo"), Some(&Some(h)));
        drop(names);
        Tz::lookup("Atlantis/Nowhere");
        let names = registry().names.read().unwrap();
        assert_eq!(names.get("atlantis/nowhere"), Some(&None));
        drop(names);
        // resolving again (as when the name cache is full) finds the same handle
        assert_eq!(resolve("america/sao_paulo"), Some(h));
        let zones = registry().zones.read().unwrap();
        assert_eq!(
            zones
                .iter()
                .filter(|(n, _)| &**n == "america/sao_paulo")
                .count(),
            1
        );
    }

    #[test]
    fn fixed_offsets_and_stray_handles() {
        assert_eq!(Tz::Fixed(3600).offset_at(0), 3600);
        assert_eq!(Tz::Fixed(-1800).offset_for_local(0), -1800);
        // a zone id nobody registered reads as UTC instead of failing
        assert_eq!(Tz::Zone(ZoneId(u32::MAX)).offset_at(0), 0);
        assert_eq!(Tz::Zone(ZoneId(1_000_000)).offset_for_local(0), 0);
        // instants outside jiff's range (years -9999..=9999) are clamped, not refused
        let h = handle("Europe/Berlin");
        assert_eq!(h.offset_at(i64::MAX), 3600);
        assert_eq!(h.offset_for_local(i64::MIN), h.offset_at(i64::MIN));
        let mut out = String::new();
        format_timestamp(i64::MAX, h, &mut out);
        assert!(out.ends_with("+01"), "{out}");
        assert_eq!(Tz::Fixed(7200).offset_at(123), 7200);
    }

    #[test]
    fn parse_local_in_zone() {
        let z = handle("asia/famagusta");
        assert_eq!(
            parse_timestamp("2024-07-29 18:40:19", z).unwrap(),
            parse_timestamp("2024-07-29 15:40:19Z", Tz::UTC).unwrap()
        );
        assert_eq!(
            parse_timestamp("2024-07-29 18:40:19+01", z).unwrap(),
            parse_timestamp("2024-07-29 17:40:19Z", Tz::UTC).unwrap()
        );
        assert_eq!(
            parse_timestamp("1970-01-01 00:00:00", z).unwrap_err().msg(),
            "timestamp overflow"
        );
        assert_eq!(
            parse_timestamp("1970-01-01", z).unwrap_err().msg(),
            "malformed timestamp string"
        );
    }
}
