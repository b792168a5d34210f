//! The planner's rules for frequency `instant` (`digest::instant`), with
//! a fixed `now`: window boundaries, a burst in one window, downtime, no
//! resend, a quiet window, send-now.

use super::plan::tests::{article, at, ids, newest_first, settings, sub};
use super::plan::{next_close, period_at, plan, Mode, PlanSettings, PlannedDigest};
use crate::subscriber::{Frequency, Subscriber};
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;
use std::sync::Arc;

fn seen(arts: &[Arc<crate::article::Article>], at: DateTime<Utc>) -> HashMap<String, DateTime<Utc>> {
    arts.iter().map(|a| (a.id().to_string(), at)).collect()
}

/// The bookkeeping a committed plan leaves (what `state` writes).
fn after(mut s: Subscriber, p: &PlannedDigest, planned_at: DateTime<Utc>) -> Subscriber {
    s.last_period = Some(p.period.key.clone());
    s.last_digest_at = Some(planned_at);
    s
}

#[test]
fn a_window_is_due_once_it_has_closed_and_send_now_closes_the_open_one() {
    let s = settings(); // 10-minute windows
    // 07:00 in Hồ Chí Minh City is 00:00 UTC.
    let p = period_at(Frequency::Instant, &s, at(25, 7, 9), Mode::Scheduled);
    assert_eq!((p.key.as_str(), p.start, p.end), ("instant:2026-11-24T23:50:00Z", at(25, 6, 50), at(25, 7, 0)));
    // At the boundary the window that just closed is due.
    let p = period_at(Frequency::Instant, &s, at(25, 7, 10), Mode::Scheduled);
    assert_eq!((p.key.as_str(), p.end), ("instant:2026-11-25T00:00:00Z", at(25, 7, 10)));
    assert_eq!(next_close(&s, at(25, 7, 10)), at(25, 7, 20));
    assert_eq!(next_close(&s, at(25, 7, 19) + Duration::seconds(59)), at(25, 7, 20));
    let p = period_at(Frequency::Instant, &s, at(25, 7, 15), Mode::Now);
    assert_eq!((p.key.as_str(), p.end), ("instant:2026-11-25T00:10:00Z", at(25, 7, 20)));
}

#[test]
fn a_burst_of_40_articles_in_one_window_is_one_mail_per_subscriber() {
    let s = PlanSettings { max_items: 30, ..settings() };
    let arts = newest_first((0..40).map(|i| article(&format!("a{i:02}"), at(25, 7, 1) + Duration::seconds(i), "x")).collect());
    let seen = seen(&arts, at(25, 7, 5));
    let subs: Vec<_> = (1..=3).map(|i| sub(i, Frequency::Instant, at(20, 9, 0))).collect();
    let plans = plan(&subs, &arts, &seen, &s, at(25, 7, 10), Mode::Scheduled);
    assert_eq!(plans.len(), 3, "one plan per subscriber");
    for p in &plans {
        assert_eq!((p.period.key.as_str(), p.articles.len(), p.more), ("instant:2026-11-25T00:00:00Z", 30, 10));
    }
    // The next window finds them done: nothing is sent twice.
    let again: Vec<_> = plans.iter().map(|p| after(p.subscriber.clone(), p, at(25, 7, 10))).collect();
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
    let plans = plan(std::slice::from_ref(&s1), &[fresh, old], &seen, &s, at(25, 7, 10), Mode::Scheduled);
    assert_eq!(ids(&plans[0]), ["fresh"]);
    // Joined after the window closed: nothing is due for it.
    let late = sub(2, Frequency::Instant, at(25, 7, 11));
    assert!(plan(&[late], &[], &seen, &s, at(25, 7, 12), Mode::Scheduled).is_empty());
}

#[test]
fn a_quiet_window_plans_nothing_and_writes_nothing() {
    let s = settings();
    let a = article("a", at(25, 7, 3), "x");
    let seen = seen(std::slice::from_ref(&a), at(25, 7, 3));
    let mut s1 = sub(1, Frequency::Instant, at(20, 9, 0));
    s1.last_period = Some("instant:2026-11-25T00:00:00Z".into());
    s1.last_digest_at = Some(at(25, 7, 10));
    assert!(plan(&[s1], &[a], &seen, &s, at(25, 7, 30), Mode::Scheduled).is_empty(), "no plan, not even an empty one");
}

#[test]
fn news_outside_their_topics_moves_the_watermark_without_a_mail() {
    let s = settings();
    let a = article("a", at(25, 7, 3), "van-hoa");
    let seen = seen(std::slice::from_ref(&a), at(25, 7, 3));
    let mut s1 = sub(1, Frequency::Instant, at(20, 9, 0));
    s1.topics = vec!["kinh-te".into()];
    let plans = plan(&[s1], &[a], &seen, &s, at(25, 7, 10), Mode::Scheduled);
    assert_eq!(plans.len(), 1);
    assert!(plans[0].is_empty(), "an empty plan: the watermark moves, nothing is sent");
}

#[test]
fn after_downtime_one_mail_for_the_latest_window_never_a_burst() {
    let s = settings();
    // Articles every 10 minutes from 07:00 to 09:00 while the service was down.
    let arts = newest_first((0..12).map(|i| article(&format!("a{i:02}"), at(25, 7, 0) + Duration::minutes(10 * i), "x")).collect());
    let seen: HashMap<String, DateTime<Utc>> = arts.iter().map(|a| (a.id().to_string(), a.published.with_timezone(&Utc))).collect();
    let mut s1 = sub(1, Frequency::Instant, at(20, 9, 0));
    s1.last_period = Some("instant:2026-11-24T23:50:00Z".into());
    s1.last_digest_at = Some(at(25, 7, 0));
    let plans = plan(&[s1], &arts, &seen, &s, at(25, 9, 5), Mode::Scheduled);
    assert_eq!(plans.len(), 1);
    assert_eq!(plans[0].period.key, "instant:2026-11-25T01:50:00Z", "the latest closed window (08:50-09:00 local)");
    assert_eq!(plans[0].articles.len() + plans[0].more, 11, "everything first seen after the last mail (07:00 was in it)");
}

#[test]
fn send_now_closes_the_open_window_and_its_scheduled_close_finds_it_done() {
    let s = settings();
    let a = article("a", at(25, 7, 12), "x");
    let seen = seen(std::slice::from_ref(&a), at(25, 7, 12));
    let s1 = sub(1, Frequency::Instant, at(20, 9, 0));
    let plans = plan(std::slice::from_ref(&s1), std::slice::from_ref(&a), &seen, &s, at(25, 7, 15), Mode::Now);
    assert_eq!((plans[0].period.key.as_str(), ids(&plans[0])), ("instant:2026-11-25T00:10:00Z", vec!["a"]));
    let done = after(s1, &plans[0], at(25, 7, 15));
    assert!(plan(&[done], &[a], &seen, &s, at(25, 7, 20), Mode::Scheduled).is_empty());
}

/// An editor on `digest.seed` would get a copy every window (144 a day at
/// 10m): the window's site-wide digest is made (the archive's rule), but
/// no copy of it is, only of the daily and weekly periods.
#[test]
fn a_seed_gets_no_copy_of_an_instant_window() {
    let s = settings();
    let arts = newest_first(vec![article("before", at(25, 6, 55), "x"), article("inside", at(25, 7, 4), "y")]);
    let seen = HashMap::from([("before".to_string(), at(25, 6, 55)), ("inside".to_string(), at(25, 7, 4))]);
    let mut reader = sub(1, Frequency::Instant, at(20, 9, 0));
    reader.topics = vec!["y".into()];
    reader.last_digest_at = Some(at(25, 6, 50));
    let due = plan(&[reader], &arts, &seen, &s, at(25, 7, 10), Mode::Scheduled);
    let seeds = ["editor@example.org".to_string()];
    let visible = super::plan::Visible::new(&arts, &seen, &s, at(25, 7, 10));
    let site = super::seed::site_wide(&due, &visible, &s, at(25, 7, 10), Mode::Scheduled);
    assert_eq!(site.len(), 1);
    assert_eq!((site[0].digest.period.key.as_str(), ids(&site[0].digest), &site[0].article_ids[..]), ("instant:2026-11-25T00:00:00Z", vec!["inside"], &["inside".to_string()][..]), "every topic, this window only");
    assert!(super::seed::plan_copies(&seeds, &due, &arts, &seen, &s, at(25, 7, 10), Mode::Scheduled).is_empty());
}

#[test]
fn an_article_seen_then_gone_moves_the_watermark_without_a_mail() {
    let s = settings();
    // "gone" was first seen at 07:03 and left the store before the close.
    let seen = HashMap::from([("gone".to_string(), at(25, 7, 3))]);
    let s1 = sub(1, Frequency::Instant, at(20, 9, 0));
    let plans = plan(&[s1], &[], &seen, &s, at(25, 7, 10), Mode::Scheduled);
    assert_eq!(plans.len(), 1);
    assert!(plans[0].is_empty(), "due, nothing to send: the watermark passes it");
}
