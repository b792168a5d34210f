//! The planner's rules, each with a fixed `now`; the helpers (settings,
//! articles, subscribers at fixed times) are shared with the seed and
//! instant planners' tests.

use super::*;
use std::collections::HashMap;
use crate::article::Category;
use crate::subscriber::Status;

pub(in crate::digest) const HCM: Tz = chrono_tz::Asia::Ho_Chi_Minh;

pub(in crate::digest) fn settings() -> PlanSettings {
    PlanSettings {
        timezone: HCM,
        daily_at: NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
        weekly_on: Weekday::Mon,
        max_items: 3,
        first_backlog: std::time::Duration::from_secs(7 * 86400),
        instant_window: std::time::Duration::from_secs(600),
    }
}

pub(in crate::digest) fn at(d: u32, h: u32, min: u32) -> DateTime<Utc> {
    local_instant(HCM, 2026, 11, d, h, min).unwrap()
}

pub(in crate::digest) fn article(id: &str, published: DateTime<Utc>, cat: &str) -> Arc<Article> {
    Arc::new(Article {
        names: crate::article::Names::new(id, id, id, id),
        link: crate::article::Link::Own(format!("https://yenbai.gov.vn/{id}").into()),
        published: published.with_timezone(&HCM).fixed_offset(),
        updated: None,
        content: crate::article::Content::ready(String::new(), String::new()),
        fingerprint: 0,
        categories: Category::set(vec![Category {
            slug: cat.into(),
            name: cat.into(),
        }]),
        author: None,
        rare: None,
        draft: false,
    })
}

pub(in crate::digest) fn sub(id: i64, freq: Frequency, confirmed: DateTime<Utc>) -> Subscriber {
    Subscriber {
        id,
        email: format!("s{id}@example.org"),
        topics: vec![],
        frequency: freq,
        status: Status::Active,
        created_at: confirmed,
        confirmed_at: Some(confirmed),
        bounce_count: 0,
        last_period: None,
        last_digest_at: None,
        last_bounce_reason: None,
        last_bounce_at: None,
    }
}

pub(in crate::digest) fn newest_first(mut v: Vec<Arc<Article>>) -> Vec<Arc<Article>> {
    v.sort_by_key(|a| std::cmp::Reverse(a.published));
    v
}

pub(in crate::digest) fn ids(p: &PlannedDigest) -> Vec<&str> {
    p.articles.iter().map(|a| a.id()).collect()
}

#[test]
fn daily_period_is_the_latest_daily_at_in_the_site_zone() {
    let s = settings();
    let p = period_at(Frequency::Daily, &s, at(25, 6, 59), Mode::Scheduled);
    assert_eq!(p.key, "daily:2026-11-24");
    let p = period_at(Frequency::Daily, &s, at(25, 7, 0), Mode::Scheduled);
    assert_eq!(p.key, "daily:2026-11-25");
    assert_eq!(p.end, at(25, 7, 0));
    // 07:00 in Hồ Chí Minh City is 00:00 UTC.
    assert_eq!(p.end.to_rfc3339(), "2026-11-25T00:00:00+00:00");
}

#[test]
fn weekly_period_ends_on_weekly_on() {
    let s = settings();
    // 2026-11-25 is a Wednesday; the latest Monday 07:00 is the 23rd (ISO week 48).
    let p = period_at(Frequency::Weekly, &s, at(25, 12, 0), Mode::Scheduled);
    assert_eq!(p.key, "weekly:2026-W48");
    assert_eq!(p.end, at(23, 7, 0));
    // Monday before 07:00 still belongs to the week before.
    assert_eq!(period_at(Frequency::Weekly, &s, at(23, 6, 0), Mode::Scheduled).key, "weekly:2026-W47");
}

#[test]
fn periods_survive_dst_changes() {
    // Paris leaves summer time on 2026-10-25 at 03:00 → 02:00; 02:30 happens twice.
    let s = PlanSettings {
        timezone: chrono_tz::Europe::Paris,
        daily_at: NaiveTime::from_hms_opt(2, 30, 0).unwrap(),
        ..settings()
    };
    let now = "2026-10-25T02:00:00Z".parse::<DateTime<Utc>>().unwrap();
    let p = period_at(Frequency::Daily, &s, now, Mode::Scheduled);
    assert_eq!(p.key, "daily:2026-10-25");
    // The earlier 02:30 (summer time, 00:30 UTC).
    assert_eq!(p.end.to_rfc3339(), "2026-10-25T00:30:00+00:00");
    // Spring forward on 2026-03-29: 02:30 does not exist and moves to 03:30.
    let now = "2026-03-29T12:00:00Z".parse::<DateTime<Utc>>().unwrap();
    let p = period_at(Frequency::Daily, &s, now, Mode::Scheduled);
    assert_eq!(p.end.to_rfc3339(), "2026-03-29T01:30:00+00:00");
}

#[test]
fn first_digest_reaches_back_first_backlog() {
    let s = settings();
    let arts = newest_first(vec![
        article("old", at(10, 8, 0), "kinh-te"),
        article("recent", at(20, 8, 0), "kinh-te"),
    ]);
    let subs = vec![sub(1, Frequency::Daily, at(20, 9, 0))];
    let plans = plan(&subs, &arts, &HashMap::new(), &s, at(25, 7, 0), Mode::Scheduled);
    assert_eq!(plans.len(), 1);
    assert_eq!(ids(&plans[0]), ["recent"]);
    assert_eq!(plans[0].period.key, "daily:2026-11-25");
}

#[test]
fn nothing_is_due_before_the_first_period_end_after_confirmation() {
    let s = settings();
    let arts = vec![article("a", at(24, 8, 0), "x")];
    let subs = vec![sub(1, Frequency::Daily, at(25, 9, 0))];
    assert!(plan(&subs, &arts, &HashMap::new(), &s, at(25, 10, 0), Mode::Scheduled).is_empty());
    // ...but "send now" sends it.
    let now = plan(&subs, &arts, &HashMap::new(), &s, at(25, 10, 0), Mode::Now);
    assert_eq!(now.len(), 1);
    assert_eq!(now[0].period.key, "daily:2026-11-26");
    assert_eq!(now[0].period.label.to_string(), "2026-11-25");
}

#[test]
fn after_downtime_only_the_latest_period_is_planned() {
    let s = settings();
    let arts = vec![article("a", at(21, 8, 0), "x"), article("b", at(18, 8, 0), "x")];
    let mut s1 = sub(1, Frequency::Daily, at(1, 9, 0));
    s1.last_period = Some("daily:2026-11-17".into());
    s1.last_digest_at = Some(at(17, 7, 0));
    let seen = HashMap::from([("a".to_string(), at(21, 8, 0)), ("b".to_string(), at(18, 8, 0))]);
    // Down from the 18th to the 25th at noon: one digest, for the 25th.
    let plans = plan(&[s1], &arts, &seen, &s, at(25, 12, 0), Mode::Scheduled);
    assert_eq!(plans.len(), 1);
    assert_eq!(plans[0].period.key, "daily:2026-11-25");
    assert_eq!(ids(&plans[0]), ["a", "b"]);
}

#[test]
fn the_same_period_is_not_planned_twice() {
    let s = settings();
    let arts = vec![article("a", at(24, 8, 0), "x")];
    let mut s1 = sub(1, Frequency::Daily, at(1, 9, 0));
    s1.last_period = Some("daily:2026-11-25".into());
    s1.last_digest_at = Some(at(25, 7, 0));
    assert!(plan(&[s1], &arts, &HashMap::new(), &s, at(25, 18, 0), Mode::Scheduled).is_empty());
}

#[test]
fn a_late_article_with_an_old_date_is_sent_once() {
    let s = settings();
    // Published (by its date) on the 10th, but reaches the store on the 24th.
    let late = article("late", at(10, 8, 0), "x");
    let mut s1 = sub(1, Frequency::Daily, at(1, 9, 0));
    s1.last_period = Some("daily:2026-11-24".into());
    s1.last_digest_at = Some(at(24, 7, 0));
    let seen = HashMap::from([("late".to_string(), at(24, 15, 0))]);
    let plans = plan(&[s1.clone()], std::slice::from_ref(&late), &seen, &s, at(25, 7, 0), Mode::Scheduled);
    assert_eq!(ids(&plans[0]), ["late"]);
    // The next day, with the bookkeeping of that digest, it is not sent again.
    s1.last_period = Some("daily:2026-11-25".into());
    s1.last_digest_at = Some(at(25, 7, 0));
    let plans = plan(&[s1], &[late], &seen, &s, at(26, 7, 0), Mode::Scheduled);
    assert!(plans[0].is_empty());
}

#[test]
fn an_edited_article_is_not_sent_again() {
    let s = settings();
    let mut edited = (*article("a", at(24, 8, 0), "x")).clone();
    edited.names = edited.names.with_title("A (sửa)");
    edited.updated = Some(at(25, 9, 0).with_timezone(&HCM).fixed_offset());
    let mut s1 = sub(1, Frequency::Daily, at(1, 9, 0));
    s1.last_period = Some("daily:2026-11-25".into());
    s1.last_digest_at = Some(at(25, 7, 0));
    let seen = HashMap::from([("a".to_string(), at(24, 8, 0))]);
    let plans = plan(&[s1], &[Arc::new(edited)], &seen, &s, at(26, 7, 0), Mode::Scheduled);
    assert_eq!(plans.len(), 1);
    assert!(plans[0].is_empty(), "an empty plan only moves the watermark");
}

#[test]
fn topics_drafts_and_future_articles_are_respected() {
    let s = settings();
    let mut draft = (*article("draft", at(24, 8, 0), "kinh-te")).clone();
    draft.draft = true;
    let arts = newest_first(vec![
        article("future", at(26, 8, 0), "kinh-te"),
        article("econ", at(24, 9, 0), "kinh-te"),
        article("culture", at(24, 10, 0), "van-hoa"),
        Arc::new(draft),
    ]);
    let mut s1 = sub(1, Frequency::Daily, at(20, 9, 0));
    s1.topics = vec!["kinh-te".into()];
    let plans = plan(&[s1], &arts, &HashMap::new(), &s, at(25, 7, 0), Mode::Scheduled);
    assert_eq!(ids(&plans[0]), ["econ"]);
}

#[test]
fn newest_first_at_most_max_items_with_a_count_of_the_rest() {
    let s = settings();
    let arts = newest_first((1..=5).map(|i| article(&format!("a{i}"), at(23 + i, 8, 0), "x")).collect());
    let subs = vec![sub(1, Frequency::Weekly, at(19, 9, 0))];
    let plans = plan(&subs, &arts, &HashMap::new(), &s, at(30, 7, 0), Mode::Scheduled);
    assert_eq!(plans[0].period.key, "weekly:2026-W49");
    assert_eq!(ids(&plans[0]), ["a5", "a4", "a3"]);
    assert_eq!(plans[0].more, 2);
}

#[test]
fn only_active_and_bouncing_subscribers_are_planned() {
    let s = settings();
    let arts = vec![article("a", at(24, 8, 0), "x")];
    let subs: Vec<_> = Status::ALL
        .into_iter()
        .enumerate()
        .map(|(i, st)| {
            let mut x = sub(i as i64 + 1, Frequency::Daily, at(20, 9, 0));
            x.status = st;
            x
        })
        .collect();
    let planned: Vec<Status> =
        plan(&subs, &arts, &HashMap::new(), &s, at(25, 7, 0), Mode::Scheduled).iter().map(|p| p.subscriber.status).collect();
    // Bouncing ones are retried at the next period; pending,
    // unsubscribed, suppressed and complained ones never get one.
    assert_eq!(planned, [Status::Active, Status::Bouncing]);
}
