//! The digest archive's names, pure: a sent period's path under
//! `/archive/` (`/archive/daily/2026-11-30`, `/archive/weekly/2026-W49`)
//! and back to its period key (`daily:2026-11-30`, `weekly:2026-W49`, the
//! planner's keys), strictly: a path that is not a real date or ISO week
//! names no period. What a period's archived digest holds is its
//! site-wide digest (`digest::seed::site_wide`), recorded when a run
//! commits digests of it.

use crate::subscriber::Frequency;
use chrono::{Datelike, NaiveDate, Weekday};

/// A period the archive can name: its frequency and the local date of its
/// key (for a week, that week's Monday).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchivePeriod {
    pub frequency: Frequency,
    pub date: NaiveDate,
}

impl ArchivePeriod {
    /// The period of a path's two parts (`daily`, `2026-11-30`; `weekly`,
    /// `2026-W49`); `None` for anything else (wrong form, no such date,
    /// week 53 of a year that has 52).
    pub fn from_path(kind: &str, stamp: &str) -> Option<ArchivePeriod> {
        match kind {
            "daily" => day(stamp).map(|date| ArchivePeriod { frequency: Frequency::Daily, date }),
            "weekly" => week(stamp).map(|date| ArchivePeriod { frequency: Frequency::Weekly, date }),
            _ => None,
        }
    }

    /// The period of a planner key (`daily:2026-11-30`).
    pub fn from_key(key: &str) -> Option<ArchivePeriod> {
        let (kind, stamp) = key.split_once(':')?;
        ArchivePeriod::from_path(kind, stamp)
    }

    fn kind(self) -> &'static str {
        self.frequency.as_str()
    }

    /// `2026-11-30` or `2026-W49`.
    pub fn stamp(self) -> String {
        if self.frequency == Frequency::Weekly {
            let w = self.date.iso_week();
            format!("{}-W{:02}", w.year(), w.week())
        } else {
            self.date.format("%Y-%m-%d").to_string()
        }
    }

    /// The planner's key of this period.
    pub fn key(self) -> String {
        format!("{}:{}", self.kind(), self.stamp())
    }

    /// The page's path, from the site's root.
    pub fn path(self) -> String {
        format!("/archive/{}/{}", self.kind(), self.stamp())
    }
}

/// All ASCII digits, exactly `n` of them.
fn digits(s: &str, n: usize) -> Option<u32> {
    (s.len() == n && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
}

/// `YYYY-MM-DD`, a real date.
fn day(s: &str) -> Option<NaiveDate> {
    let mut parts = s.split('-');
    let (y, m, d) = (digits(parts.next()?, 4)?, digits(parts.next()?, 2)?, digits(parts.next()?, 2)?);
    if parts.next().is_some() {
        return None;
    }
    NaiveDate::from_ymd_opt(y as i32, m, d)
}

/// `YYYY-Www`, a week the ISO year has: its Monday.
fn week(s: &str) -> Option<NaiveDate> {
    let (y, w) = s.split_once("-W")?;
    NaiveDate::from_isoywd_opt(digits(y, 4)? as i32, digits(w, 2)?, Weekday::Mon)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn a_day_and_a_week_round_trip_between_path_and_key() {
        let d = ArchivePeriod::from_path("daily", "2026-11-30").unwrap();
        assert_eq!((d.frequency, d.date), (Frequency::Daily, date(2026, 11, 30)));
        assert_eq!((d.key().as_str(), d.path().as_str()), ("daily:2026-11-30", "/archive/daily/2026-11-30"));
        let w = ArchivePeriod::from_path("weekly", "2026-W49").unwrap();
        assert_eq!(w.date, date(2026, 11, 30), "the week's Monday");
        assert_eq!((w.key().as_str(), w.path().as_str()), ("weekly:2026-W49", "/archive/weekly/2026-W49"));
        assert_eq!(ArchivePeriod::from_key("weekly:2026-W49"), Some(w));
        assert_eq!(ArchivePeriod::from_key("daily:2026-11-30"), Some(d));
    }

    #[test]
    fn week_53_exists_only_in_long_iso_years() {
        // 2026 begins on a Thursday: 53 ISO weeks; 2025 has 52.
        let w = ArchivePeriod::from_path("weekly", "2026-W53").unwrap();
        assert_eq!(w.date, date(2026, 12, 28));
        assert_eq!(w.stamp(), "2026-W53");
        assert_eq!(ArchivePeriod::from_path("weekly", "2025-W53"), None);
        // The ISO year, not the calendar year: 2027-01-01 is in 2026-W53.
        let new_year = ArchivePeriod { frequency: Frequency::Weekly, date: date(2027, 1, 1) };
        assert_eq!(new_year.key(), "weekly:2026-W53");
        assert_eq!(ArchivePeriod::from_path("weekly", "2026-W01").unwrap().date, date(2025, 12, 29));
    }

    #[test]
    fn anything_but_a_real_date_or_week_names_no_period() {
        for (kind, stamp) in [
            ("daily", "2026-02-30"),
            ("daily", "2026-13-01"),
            ("daily", "2026-1-05"),
            ("daily", "26-11-30"),
            ("daily", "2026-11-30-"),
            ("daily", "2026-11-3x"),
            ("daily", "+2026-11-30"),
            ("daily", "２０２６-11-30"),
            ("daily", ""),
            ("daily", "2026-W49"),
            ("weekly", "2026-W00"),
            ("weekly", "2026-W54"),
            ("weekly", "2026-W5"),
            ("weekly", "2026-w49"),
            ("weekly", "2026-W049"),
            ("weekly", "2026-11-30"),
            ("weekly", "-W49"),
            ("monthly", "2026-11"),
            ("Daily", "2026-11-30"),
        ] {
            assert_eq!(ArchivePeriod::from_path(kind, stamp), None, "{kind}/{stamp}");
        }
        for key in ["daily", "daily:", ":2026-11-30", "daily-2026-11-30"] {
            assert_eq!(ArchivePeriod::from_key(key), None, "{key}");
        }
    }

    proptest::proptest! {
        /// A request path is outside input: any two parts are read without
        /// a panic, and what is read names its own path back.
        #[test]
        fn any_path_is_read_without_panic_and_what_is_read_names_itself(kind in "(daily|weekly|[a-z]{0,8})", stamp in "\\PC{0,16}") {
            if let Some(p) = ArchivePeriod::from_path(&kind, &stamp) {
                proptest::prop_assert_eq!(p.path(), format!("/archive/{kind}/{stamp}"));
                proptest::prop_assert_eq!(ArchivePeriod::from_key(&p.key()), Some(p));
            }
        }

        /// Every real day and ISO week round-trips through its path.
        #[test]
        fn every_day_and_week_round_trips(days in 0i64..200_000) {
            let d = date(1970, 1, 1) + chrono::Duration::days(days);
            let daily = ArchivePeriod { frequency: Frequency::Daily, date: d };
            proptest::prop_assert_eq!(ArchivePeriod::from_path("daily", &daily.stamp()), Some(daily));
            let monday = d - chrono::Duration::days(d.weekday().num_days_from_monday().into());
            let weekly = ArchivePeriod { frequency: Frequency::Weekly, date: monday };
            proptest::prop_assert_eq!(ArchivePeriod::from_path("weekly", &weekly.stamp()), Some(weekly));
        }
    }
}
