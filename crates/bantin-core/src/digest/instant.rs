//! Instant mail's periods: windows of `digest.instant_window`, aligned on
//! the Unix epoch (UTC) so that every instance and every run agrees on them
//! and a window's key (`instant:2026-11-25T00:10:00Z`, its start) is stable.
//!
//! The planner (`digest::plan`) treats a window as any other period: when
//! it has closed, an instant subscriber with articles first seen since
//! their previous mail gets one mail for it, with the same "new" rule,
//! outbox commit and Message-ID as a digest. Two rules are instant mail's
//! own, both in [`due_since`]: a subscriber's first mail holds what arrived
//! after they joined (not the digests' backlog), and a subscriber is due
//! only in a window after which some article was first seen at all, so a
//! quiet window costs no write per subscriber. The planner's tests of
//! these rules: `digest/instant_tests.rs`.

use crate::subscriber::Subscriber;
use chrono::{DateTime, Duration, SubsecRound, TimeZone, Utc};

/// The window open at `now`: its start and its close. `window` is whole
/// seconds (config keeps it 60..=86,400).
pub fn open_window(window: std::time::Duration, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let w = (window.as_secs() as i64).max(1);
    let start = Utc.timestamp_opt(now.timestamp().div_euclid(w) * w, 0).single().unwrap_or(now.trunc_subsecs(0));
    (start, start + Duration::seconds(w))
}

/// A window's key, from its start.
pub fn key(start: DateTime<Utc>) -> String {
    format!("instant:{}", start.format("%Y-%m-%dT%H:%M:%SZ"))
}

/// For an instant subscriber: the time after which an article's first
/// sighting makes it new for them (their previous mail, else when they
/// joined), or `None` when no article was first seen since then, so
/// nothing is due and their watermark stays where it is. `newest_seen` is
/// the latest first sighting of any article: one gone since still makes
/// them due (an empty plan that moves the watermark), so the scheduler's
/// pre-check, which reads the same, does not stay true for nothing.
pub fn due_since(sub: &Subscriber, newest_seen: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    let since = sub.last_digest_at.unwrap_or(sub.confirmed_at.unwrap_or(sub.created_at));
    newest_seen.filter(|newest| *newest > since).map(|_| since)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn windows_are_aligned_on_the_epoch_and_keyed_by_their_start() {
        let ten = std::time::Duration::from_secs(600);
        assert_eq!(open_window(ten, t("2026-11-25T00:09:59.9Z")), (t("2026-11-25T00:00:00Z"), t("2026-11-25T00:10:00Z")));
        assert_eq!(open_window(ten, t("2026-11-25T00:10:00Z")).0, t("2026-11-25T00:10:00Z"), "a close opens the next one");
        assert_eq!(key(t("2026-11-25T00:10:00Z")), "instant:2026-11-25T00:10:00Z");
        // A window that does not divide a day is still the same for everyone.
        let seven = std::time::Duration::from_secs(420);
        let (start, close) = open_window(seven, t("2026-11-25T00:00:00Z"));
        assert_eq!((start.timestamp() % 420, (close - start).num_seconds()), (0, 420));
        assert!(start <= t("2026-11-25T00:00:00Z") && t("2026-11-25T00:00:00Z") < close);
    }
}
