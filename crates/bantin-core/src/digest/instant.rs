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
//! quiet window costs no write per subscriber.

use super::plan::{Mode, Period, PlanSettings};
use crate::subscriber::{Frequency, Subscriber};
use chrono::{DateTime, Duration, SubsecRound, TimeZone, Utc};

/// The window length in whole seconds (config keeps it 60..=86,400).
fn window_secs(s: &PlanSettings) -> i64 {
    (s.instant_window.as_secs() as i64).max(1)
}

/// The start of the window `t` falls in.
fn window_start(t: DateTime<Utc>, s: &PlanSettings) -> DateTime<Utc> {
    let w = window_secs(s);
    let start = t.timestamp().div_euclid(w) * w;
    Utc.timestamp_opt(start, 0).single().unwrap_or(t.trunc_subsecs(0))
}

/// A window's key, from its start.
fn key(start: DateTime<Utc>) -> String {
    format!("instant:{}", start.format("%Y-%m-%dT%H:%M:%SZ"))
}

/// The window whose mail is due at `now`: the latest one that has closed
/// ([`Mode::Scheduled`]), or the one open now ([`Mode::Now`]: it closes
/// now, and its scheduled close then finds it done).
pub fn window_at(s: &PlanSettings, now: DateTime<Utc>, mode: Mode) -> Period {
    let open = window_start(now, s);
    let w = Duration::seconds(window_secs(s));
    let start = match mode {
        Mode::Scheduled => open - w,
        Mode::Now => open,
    };
    Period {
        frequency: Frequency::Instant,
        key: key(start),
        start,
        end: start + w,
        label: now.with_timezone(&s.timezone).date_naive(),
    }
}

/// When the window open at `now` closes: the scheduler's next wake-up for
/// instant mail.
pub fn next_close(s: &PlanSettings, now: DateTime<Utc>) -> DateTime<Utc> {
    window_start(now, s) + Duration::seconds(window_secs(s))
}

/// For an instant subscriber: the time after which an article's first
/// sighting makes it new for them (their previous mail, else when they
/// joined), or `None` when no article was first seen since then, so
/// nothing is due and their watermark stays where it is.
/// `newest_seen` is the latest first sighting of a visible article.
pub fn due_since(sub: &Subscriber, newest_seen: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    let since = sub.last_digest_at.unwrap_or(sub.confirmed_at.unwrap_or(sub.created_at));
    newest_seen.filter(|newest| *newest > since).map(|_| since)
}

#[cfg(test)]
mod tests {
    use super::super::plan::tests::{article, at, ids, newest_first, settings, sub};
    use super::super::plan::{plan, PlannedDigest};
    use super::*;
    use std::collections::{HashMap, HashSet};
    use std::sync::Arc;

    fn seen(arts: &[Arc<crate::article::Article>], at: DateTime<Utc>) -> HashMap<String, DateTime<Utc>> {
        arts.iter().map(|a| (a.id.to_string(), at)).collect()
    }

    /// The bookkeeping a committed plan leaves (what `state` writes).
    fn after(mut s: Subscriber, p: &PlannedDigest, planned_at: DateTime<Utc>) -> Subscriber {
        s.last_period = Some(p.period.key.clone());
        s.last_digest_at = Some(planned_at);
        s
    }

    #[test]
    fn windows_are_aligned_on_the_epoch_and_keyed_by_their_start() {
        let s = settings(); // 10-minute windows
        // 07:00 in Hồ Chí Minh City is 00:00 UTC.
        let p = window_at(&s, at(25, 7, 9), Mode::Scheduled);
        assert_eq!((p.key.as_str(), p.start, p.end), ("instant:2026-11-24T23:50:00Z", at(25, 6, 50), at(25, 7, 0)));
        // At the boundary the window that just closed is due.
        let p = window_at(&s, at(25, 7, 10), Mode::Scheduled);
        assert_eq!((p.key.as_str(), p.end), ("instant:2026-11-25T00:00:00Z", at(25, 7, 10)));
        assert_eq!(next_close(&s, at(25, 7, 10)), at(25, 7, 20));
        assert_eq!(next_close(&s, at(25, 7, 19) + Duration::seconds(59)), at(25, 7, 20));
        // "Send now" closes the open window.
        let p = window_at(&s, at(25, 7, 15), Mode::Now);
        assert_eq!((p.key.as_str(), p.end), ("instant:2026-11-25T00:10:00Z", at(25, 7, 20)));
    }

    #[test]
    fn a_burst_of_40_articles_in_one_window_is_one_mail_per_subscriber() {
        let s = PlanSettings { max_items: 30, ..settings() };
        let arts = newest_first((0..40).map(|i| article(&format!("a{i:02}"), at(25, 7, 1) + Duration::seconds(i), "x")).collect());
        let seen = seen(&arts, at(25, 7, 5));
        let subs: Vec<_> = (1..=3).map(|i| (sub(i, Frequency::Instant, at(20, 9, 0)), HashSet::new())).collect();
        let plans = plan(&subs, &arts, &seen, &s, at(25, 7, 10), Mode::Scheduled);
        assert_eq!(plans.len(), 3, "one plan per subscriber");
        for p in &plans {
            assert_eq!((p.period.key.as_str(), p.article_ids.len(), p.articles.len(), p.more), ("instant:2026-11-25T00:00:00Z", 40, 30, 10));
        }
        // The next window finds them done: nothing is sent twice.
        let again: Vec<_> =
            plans.iter().map(|p| (after(p.subscriber.clone(), p, at(25, 7, 10)), p.article_ids.iter().cloned().collect())).collect();
        assert!(plan(&again, &arts, &seen, &s, at(25, 7, 20), Mode::Scheduled).is_empty());
        // Nor does a second run in the same window.
        assert!(plan(&again, &arts, &seen, &s, at(25, 7, 14), Mode::Scheduled).is_empty());
    }

    #[test]
    fn the_first_mail_holds_what_arrived_after_joining_not_a_backlog() {
        let s = settings();
        let old = article("old", at(24, 8, 0), "x");
        let fresh = article("fresh", at(25, 7, 3), "x");
        let seen = HashMap::from([("old".to_string(), at(24, 8, 0)), ("fresh".to_string(), at(25, 7, 3))]);
        let s1 = sub(1, Frequency::Instant, at(25, 7, 2));
        let plans = plan(&[(s1.clone(), HashSet::new())], &[fresh, old], &seen, &s, at(25, 7, 10), Mode::Scheduled);
        assert_eq!(ids(&plans[0]), ["fresh"]);
        // Joined after the window closed: nothing is due for it.
        let late = sub(2, Frequency::Instant, at(25, 7, 11));
        assert!(plan(&[(late, HashSet::new())], &[], &seen, &s, at(25, 7, 12), Mode::Scheduled).is_empty());
    }

    #[test]
    fn a_quiet_window_plans_nothing_and_writes_nothing() {
        let s = settings();
        let a = article("a", at(25, 7, 3), "x");
        let seen = seen(std::slice::from_ref(&a), at(25, 7, 3));
        let mut s1 = sub(1, Frequency::Instant, at(20, 9, 0));
        s1.last_period = Some("instant:2026-11-25T00:00:00Z".into());
        s1.last_digest_at = Some(at(25, 7, 10));
        let sent = HashSet::from(["a".to_string()]);
        assert!(plan(&[(s1, sent)], &[a], &seen, &s, at(25, 7, 30), Mode::Scheduled).is_empty(), "no plan, not even an empty one");
    }

    #[test]
    fn news_outside_their_topics_moves_the_watermark_without_a_mail() {
        let s = settings();
        let a = article("a", at(25, 7, 3), "van-hoa");
        let seen = seen(std::slice::from_ref(&a), at(25, 7, 3));
        let mut s1 = sub(1, Frequency::Instant, at(20, 9, 0));
        s1.topics = vec!["kinh-te".into()];
        let plans = plan(&[(s1, HashSet::new())], &[a], &seen, &s, at(25, 7, 10), Mode::Scheduled);
        assert_eq!(plans.len(), 1);
        assert!(plans[0].is_empty(), "an empty plan: the watermark moves, nothing is sent");
    }

    #[test]
    fn after_downtime_one_mail_for_the_latest_window_never_a_burst() {
        let s = settings();
        // Articles every 10 minutes from 07:00 to 09:00 while the service was down.
        let arts = newest_first((0..12).map(|i| article(&format!("a{i:02}"), at(25, 7, 0) + Duration::minutes(10 * i), "x")).collect());
        let seen: HashMap<String, DateTime<Utc>> = arts.iter().map(|a| (a.id.to_string(), a.published.with_timezone(&Utc))).collect();
        let mut s1 = sub(1, Frequency::Instant, at(20, 9, 0));
        s1.last_period = Some("instant:2026-11-24T23:50:00Z".into());
        s1.last_digest_at = Some(at(25, 7, 0));
        let plans = plan(&[(s1, HashSet::new())], &arts, &seen, &s, at(25, 9, 5), Mode::Scheduled);
        assert_eq!(plans.len(), 1);
        assert_eq!(plans[0].period.key, "instant:2026-11-25T01:50:00Z", "the latest closed window (08:50-09:00 local)");
        assert_eq!(plans[0].article_ids.len(), 11, "everything first seen after the last mail (07:00 was in it)");
    }

    #[test]
    fn send_now_closes_the_open_window_and_its_scheduled_close_finds_it_done() {
        let s = settings();
        let a = article("a", at(25, 7, 12), "x");
        let seen = seen(std::slice::from_ref(&a), at(25, 7, 12));
        let s1 = sub(1, Frequency::Instant, at(20, 9, 0));
        let plans = plan(&[(s1.clone(), HashSet::new())], std::slice::from_ref(&a), &seen, &s, at(25, 7, 15), Mode::Now);
        assert_eq!((plans[0].period.key.as_str(), ids(&plans[0])), ("instant:2026-11-25T00:10:00Z", vec!["a"]));
        let done = after(s1, &plans[0], at(25, 7, 15));
        let sent = HashSet::from(["a".to_string()]);
        assert!(plan(&[(done, sent)], &[a], &seen, &s, at(25, 7, 20), Mode::Scheduled).is_empty());
    }
}
