//! Time zones: IANA names resolved through `jiff` against the system tz database
//! (`/usr/share/zoneinfo`, or `$TZDIR`), including the POSIX rule at the end of each zone
//! file, so offsets keep following daylight-saving time past the last listed transition.
//!
//! A zone travels as an `i32` "offset or handle" (the session's `tz_offset`): below
//! [`ZONE_HANDLE_BASE`] it is a fixed offset in seconds east of UTC, at or above it the index
//! of a zone in a process-wide registry. A name is resolved once ([`zone_handle`]): the
//! answer, including "unknown", is cached under the name as given and under its lowercase
//! form, and later conversions only index the registry (no table is cloned, no directory is
//! read).

use crate::time::parse_timestamp_parts;
use crate::Result;
use jiff::tz::{AmbiguousOffset, Offset, TimeZone};
use jiff::Timestamp;
use std::sync::{OnceLock, RwLock};

/// Zone handles: an `offset_secs` argument at or above this value names a registered zone
/// (see [`zone_handle`]) whose offset depends on the instant (DST) instead of a fixed offset.
pub const ZONE_HANDLE_BASE: i32 = 1 << 24;

/// Names kept in the name cache at most. Past it a name that is not cached yet is still
/// resolved correctly, through its lowercase entry or `jiff` (which rescans the zone
/// directory for an unknown name at most once per 5 minutes), but not remembered, so
/// arbitrary distinct names cannot grow the process without bound.
const NAME_CACHE_MAX: usize = 1 << 16;

struct Registry {
    /// Zones with DST rules by lowercase name; handle `ZONE_HANDLE_BASE + i` is `zones[i]`.
    zones: RwLock<Vec<(Box<str>, TimeZone)>>,
    /// Name (as given, and lowercased) → offset-or-handle, `None` for an unknown name.
    names: RwLock<crate::FastMap<Box<str>, Option<i32>>>,
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Registry {
        zones: RwLock::new(Vec::new()),
        names: RwLock::new(crate::FastMap::default()),
    })
}

/// A value usable wherever an `offset_secs` is taken (timestamp parsing, formatting,
/// splitting) that stands for the named zone with its DST rules: fixed-offset zones (UTC,
/// `Etc/GMT+5`) give their plain offset. None if the zone is unknown. Names are matched
/// without regard to ASCII case (`utc`, `asia/famagusta`).
pub fn zone_handle(name: &str) -> Option<i32> {
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

fn remember(reg: &Registry, name: &str, found: Option<i32>) {
    if let Ok(mut names) = reg.names.write() {
        if names.len() < NAME_CACHE_MAX {
            names.insert(name.into(), found);
        }
    }
}

/// Looks `lower` up in the tz database and registers it if its offset changes over time.
fn resolve(lower: &str) -> Option<i32> {
    if lower == "utc" || lower == "gmt" {
        return Some(0);
    }
    if lower.is_empty() || lower.contains("..") || lower.starts_with('/') {
        return None;
    }
    let tz = jiff::tz::db().get(lower).ok()?;
    if tz.is_unknown() {
        return None;
    }
    if let Ok(offset) = tz.to_fixed_offset() {
        return Some(offset.seconds());
    }
    // a zone file without any transition (Etc/GMT+5) is a fixed offset too
    if tz.following(Timestamp::MIN).next().is_none() {
        return Some(tz.to_offset(Timestamp::UNIX_EPOCH).seconds());
    }
    let reg = registry();
    let mut zones = reg.zones.write().ok()?;
    // A name keeps one handle, even when a racing caller registered it first or the name
    // cache is full and did not remember it.
    let i = match zones.iter().position(|(n, _)| **n == *lower) {
        Some(i) => i,
        None => {
            zones.push((lower.into(), tz));
            zones.len() - 1
        }
    };
    ZONE_HANDLE_BASE.checked_add(i32::try_from(i).ok()?)
}

/// Runs `f` on the zone behind a handle; None for a fixed offset or an unregistered handle.
fn with_zone<T>(handle: i32, f: impl FnOnce(&TimeZone) -> T) -> Option<T> {
    let i = usize::try_from(handle.checked_sub(ZONE_HANDLE_BASE)?).ok()?;
    let zones = registry().zones.read().ok()?;
    zones.get(i).map(|(_, z)| f(z))
}

/// The plain offset of a non-handle (an unregistered handle counts as UTC).
fn fixed_part(offset_or_handle: i32) -> i32 {
    if offset_or_handle >= ZONE_HANDLE_BASE {
        0
    } else {
        offset_or_handle
    }
}

/// `us` as a `jiff` timestamp, clamped to its range (years -9999..=9999).
fn instant(us: i64) -> Timestamp {
    Timestamp::from_microsecond(us).unwrap_or(if us < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

/// The offset in effect at the instant `us` for an offset or zone handle.
pub fn resolve_offset(offset_or_handle: i32, us: i64) -> i32 {
    with_zone(offset_or_handle, |z| z.to_offset(instant(us)).seconds())
        .unwrap_or_else(|| fixed_part(offset_or_handle))
}

/// The offset for a wall-clock time (`local_us` = local time as if UTC). A time skipped by
/// a transition (a gap) is read with the offset before it, so it lands after the gap; a time
/// repeated by one (a fold) takes the offset before it, the earlier instant (RFC 5545's and
/// `jiff`'s "compatible" choice).
pub fn resolve_local_offset(offset_or_handle: i32, local_us: i64) -> i32 {
    with_zone(offset_or_handle, |z| {
        let civil = Offset::UTC.to_datetime(instant(local_us));
        match z.to_ambiguous_timestamp(civil).offset() {
            AmbiguousOffset::Unambiguous { offset } => offset.seconds(),
            AmbiguousOffset::Gap { before, .. } | AmbiguousOffset::Fold { before, .. } => {
                before.seconds()
            }
        }
    })
    .unwrap_or_else(|| fixed_part(offset_or_handle))
}

/// A time zone as passed around at run time: a fixed offset or a handle of a registered
/// zone. Copying it copies an `i32`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Zone {
    offset_or_handle: i32,
}

impl Zone {
    /// Finds a zone by IANA name, matched case-insensitively, through the process-wide
    /// cache (see [`zone_handle`]).
    pub fn lookup(name: &str) -> Option<Zone> {
        zone_handle(name).map(Zone::from_offset)
    }

    /// The zone behind an offset or zone handle (see [`zone_handle`]).
    pub fn from_offset(offset_or_handle: i32) -> Zone {
        Zone { offset_or_handle }
    }

    /// A fixed-offset zone.
    pub fn fixed(offset_secs: i32) -> Zone {
        Zone {
            offset_or_handle: offset_secs,
        }
    }

    /// The offset or handle, as taken by the `offset_secs` arguments of [`crate::time`].
    pub fn code(&self) -> i32 {
        self.offset_or_handle
    }

    /// Offset (seconds east of UTC) in effect at the timestamp `us`.
    pub fn offset_at(&self, us: i64) -> i32 {
        resolve_offset(self.offset_or_handle, us)
    }

    /// Offset for a wall-clock time given as local microseconds since the epoch.
    pub fn offset_for_local(&self, local_us: i64) -> i32 {
        resolve_local_offset(self.offset_or_handle, local_us)
    }

    /// Parses a timestamp string; a zone-less string is taken as wall-clock time here.
    pub fn parse_local(&self, s: &str) -> Result<i64> {
        let (dt, zone) = parse_timestamp_parts(s)?;
        let off = match zone {
            Some(z) => z,
            None => self.offset_for_local(dt.to_timestamp(0)),
        };
        let ts = dt.to_timestamp(off);
        if ts < 0 {
            crate::bail!("timestamp overflow");
        }
        Ok(ts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{format_timestamp, parse_timestamp, DateTime};

    fn handle(name: &str) -> i32 {
        zone_handle(name).unwrap_or_else(|| panic!("{name} not in the tz database"))
    }

    /// `utc` (a zone-less string read as UTC) printed in `zone`.
    fn show(utc: &str, zone: &str) -> String {
        let ts = parse_timestamp(utc, 0).unwrap();
        let mut out = String::new();
        format_timestamp(ts, handle(zone), &mut out);
        out
    }

    /// `local` (a zone-less string) read in `zone`, printed in UTC.
    fn read(local: &str, zone: &str) -> String {
        let ts = parse_timestamp(local, handle(zone)).unwrap();
        let mut out = String::new();
        format_timestamp(ts, 0, &mut out);
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
        let ts = parse_timestamp("2040-06-22 12:00:00", 0).unwrap();
        let dt = DateTime::from_timestamp(ts, handle("Australia/Sydney"));
        assert_eq!((dt.day, dt.hour), (22, 22));
        assert_eq!(dt.to_timestamp(handle("Australia/Sydney")), ts);
    }

    #[test]
    fn names_are_case_insensitive() {
        let h = handle("Europe/Berlin");
        assert!(h >= ZONE_HANDLE_BASE);
        assert_eq!(zone_handle("europe/berlin"), Some(h));
        assert_eq!(zone_handle("EUROPE/BERLIN"), Some(h));
        assert_eq!(zone_handle("eUrOpE/bErLiN"), Some(h));
        assert_eq!(zone_handle("asia/famagusta"), zone_handle("Asia/Famagusta"));
        assert_eq!(zone_handle("UTC"), Some(0));
        assert_eq!(zone_handle("utc"), Some(0));
        assert_eq!(zone_handle("gmt"), Some(0));
        // zones that never change give their plain offset
        assert_eq!(zone_handle("Etc/GMT+5"), Some(-5 * 3600));
        assert_eq!(zone_handle("etc/gmt-14"), Some(14 * 3600));
        assert_eq!(
            Zone::lookup("JAPAN").map(|z| z.offset_at(0)),
            Some(9 * 3600)
        );
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
            assert_eq!(zone_handle(name), None, "{name:?}");
            // the second time from the cache
            assert_eq!(zone_handle(name), None, "{name:?}");
            assert_eq!(Zone::lookup(name), None, "{name:?}");
        }
    }

    #[test]
    fn resolved_once() {
        let h = handle("America/Sao_Paulo");
        for _ in 0..3 {
            assert_eq!(zone_handle("America/Sao_Paulo"), Some(h));
            assert_eq!(zone_handle("america/sao_paulo"), Some(h));
        }
        let names = registry().names.read().unwrap();
        assert_eq!(names.get("america/sao_paulo"), Some(&Some(h)));
        assert_eq!(names.get("America/Sao_Paulo"), Some(&Some(h)));
        drop(names);
        zone_handle("Atlantis/Nowhere");
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
        assert_eq!(resolve_offset(3600, 0), 3600);
        assert_eq!(resolve_local_offset(-1800, 0), -1800);
        // a handle nobody registered reads as UTC instead of failing
        assert_eq!(resolve_offset(i32::MAX, 0), 0);
        assert_eq!(resolve_local_offset(ZONE_HANDLE_BASE + 1_000_000, 0), 0);
        // instants outside jiff's range (years -9999..=9999) are clamped, not refused
        let h = handle("Europe/Berlin");
        assert_eq!(resolve_offset(h, i64::MAX), 3600);
        assert_eq!(
            resolve_local_offset(h, i64::MIN),
            resolve_offset(h, i64::MIN)
        );
        let mut out = String::new();
        format_timestamp(i64::MAX, h, &mut out);
        assert!(out.ends_with("+01"), "{out}");
        assert_eq!(Zone::fixed(7200).offset_at(123), 7200);
        assert_eq!(Zone::from_offset(h).code(), h);
    }

    #[test]
    fn parse_local_in_zone() {
        let z = Zone::lookup("asia/famagusta").unwrap();
        assert_eq!(
            z.parse_local("2024-07-29 18:40:19").unwrap(),
            parse_timestamp("2024-07-29 15:40:19Z", 0).unwrap()
        );
        assert_eq!(
            z.parse_local("2024-07-29 18:40:19+01").unwrap(),
            parse_timestamp("2024-07-29 17:40:19Z", 0).unwrap()
        );
        assert_eq!(
            z.parse_local("1970-01-01 00:00:00").unwrap_err().msg(),
            "timestamp overflow"
        );
        assert_eq!(
            z.parse_local("1970-01-01").unwrap_err().msg(),
            "malformed timestamp string"
        );
    }
}
