//! The digest planner: a pure function from (subscribers with their
//! bookkeeping, the catalog's articles, when each article was first seen,
//! the schedule, `now`) to the digests that are due. No I/O, no clock.
//!
//! Rules, each with a test below:
//! - a daily period ends every day at `digest.daily_at`, a weekly one on
//!   `digest.weekly_on` at that time, both in `site.timezone` (DST gaps and
//!   repeats resolved by [`crate::dates::local`]);
//! - a subscriber is due when the latest period end is after they
//!   confirmed and is not the period they last had: after any downtime that
//!   is at most ONE digest, for the latest period, never a burst;
//! - [`Mode::Now`] ends every subscriber's current period now (the admin's
//!   "send now"); the scheduled end of that period then finds it done;
//! - "new" goes by article identity: an article is in a digest when it is
//!   visible, in the subscriber's topics, not sent to them before, and was
//!   first seen (visible) after their previous digest was planned; so an
//!   article arriving late with an old date is sent once and an edited one
//!   is not sent again. A first digest reaches back `first_backlog` by
//!   publication date instead;
//! - newest first, at most `max_items` listed, the rest counted as "N more"
//!   (and recorded as told, so they do not flood the next digest);
//! - a due period with no new article yields an empty plan, which moves the
//!   watermark but sends nothing;
//! - frequency `instant`: the periods are windows of `digest.instant_window`
//!   and two rules are its own (`digest::instant`).

use crate::article::Article;
use crate::subscriber::{Frequency, Subscriber};
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct PlanSettings {
    pub timezone: Tz,
    pub daily_at: NaiveTime,
    pub weekly_on: Weekday,
    pub max_items: usize,
    pub first_backlog: std::time::Duration,
    pub instant_window: std::time::Duration,
}

impl PlanSettings {
    pub fn from_settings(s: &crate::Settings) -> PlanSettings {
        PlanSettings {
            timezone: s.site.timezone,
            daily_at: s.digest.daily_at,
            weekly_on: s.digest.weekly_on,
            max_items: s.digest.max_items,
            first_backlog: s.digest.first_backlog,
            instant_window: s.digest.instant_window,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Periods end on the schedule.
    Scheduled,
    /// Every subscriber's current period ends now.
    Now,
}

/// One digest period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub frequency: Frequency,
    /// `daily:2026-11-25` or `weekly:2026-W48`; with the subscriber, the
    /// identity of a digest (and of its Message-ID).
    pub key: String,
    /// When the period began: the scheduled end of the one before.
    pub start: DateTime<Utc>,
    /// The scheduled end of the period.
    pub end: DateTime<Utc>,
    /// The local date the digest is labelled with.
    pub label: NaiveDate,
}

#[derive(Debug, Clone)]
pub struct PlannedDigest {
    pub subscriber: Subscriber,
    pub period: Period,
    /// Listed in the digest, newest first, at most `max_items`.
    pub articles: Vec<Arc<Article>>,
    /// New articles beyond `max_items` ("and N more").
    pub more: usize,
    /// Every new article's id, listed or counted.
    pub article_ids: Vec<String>,
}

impl PlannedDigest {
    pub fn is_empty(&self) -> bool {
        self.article_ids.is_empty()
    }
}

/// The local instant of `daily_at` on `date`.
pub(super) fn boundary(date: NaiveDate, s: &PlanSettings) -> DateTime<Utc> {
    crate::dates::local(date.and_time(s.daily_at), s.timezone).with_timezone(&Utc)
}

fn key(frequency: Frequency, date: NaiveDate) -> String {
    match frequency {
        Frequency::Weekly => {
            let w = date.iso_week();
            format!("weekly:{}-W{:02}", w.year(), w.week())
        }
        // Instant windows have their own keys (`instant::window_at`).
        Frequency::Daily | Frequency::Instant => format!("daily:{}", date.format("%Y-%m-%d")),
    }
}

/// The period whose digest is due at `now`: the latest one that has ended
/// ([`Mode::Scheduled`]), or the one running now ([`Mode::Now`]).
pub fn period_at(frequency: Frequency, s: &PlanSettings, now: DateTime<Utc>, mode: Mode) -> Period {
    if frequency == Frequency::Instant {
        let (open, close) = super::instant::open_window(s.instant_window, now);
        let (start, end) = match mode {
            Mode::Scheduled => (open - (close - open), open),
            Mode::Now => (open, close),
        };
        let label = now.with_timezone(&s.timezone).date_naive();
        return Period { frequency, key: super::instant::key(start), start, end, label };
    }
    let today = now.with_timezone(&s.timezone).date_naive();
    let fits = |d: NaiveDate| frequency == Frequency::Daily || d.weekday() == s.weekly_on;
    // Looking 8 days either way always finds a matching day.
    let date = match mode {
        Mode::Scheduled => (0..=8)
            .filter_map(|back| today.checked_sub_signed(Duration::days(back)))
            .find(|d| fits(*d) && boundary(*d, s) <= now),
        Mode::Now => (0..=8)
            .filter_map(|ahead| today.checked_add_signed(Duration::days(ahead)))
            .find(|d| fits(*d) && boundary(*d, s) > now),
    }
    .unwrap_or(today);
    let end = boundary(date, s);
    let days = if frequency == Frequency::Weekly { 7 } else { 1 };
    let start = boundary(date.checked_sub_signed(Duration::days(days)).unwrap_or(date), s);
    let label = match mode {
        Mode::Scheduled => date,
        Mode::Now => today,
    };
    Period { frequency, key: key(frequency, date), start, end, label }
}

/// When the instant window open at `now` closes: the scheduler's next
/// wake-up for instant mail.
pub fn next_close(s: &PlanSettings, now: DateTime<Utc>) -> DateTime<Utc> {
    super::instant::open_window(s.instant_window, now).1
}

/// Plans the digests due at `now`. `recipients` are the subscribers who get
/// digests ([`crate::subscriber::Status::gets_digests`]: active and bouncing)
/// with the ids already sent to each; `articles` are the catalog's, newest
/// first; `first_seen` says when each article was first seen visible (an
/// article missing from it is being seen for the first time now).
pub fn plan(
    recipients: &[(Subscriber, HashSet<String>)],
    articles: &[Arc<Article>],
    first_seen: &HashMap<String, DateTime<Utc>>,
    s: &PlanSettings,
    now: DateTime<Utc>,
    mode: Mode,
) -> Vec<PlannedDigest> {
    let now_local = now.with_timezone(&s.timezone).fixed_offset();
    let visible: Vec<&Arc<Article>> = articles.iter().filter(|a| a.is_visible_at(now_local)).collect();
    let backlog_start = now - Duration::from_std(s.first_backlog).unwrap_or(Duration::days(7));
    let seen_at = |a: &Article| first_seen.get(&*a.id).copied().unwrap_or(now);
    let newest_seen = visible.iter().map(|a| seen_at(a)).max();
    let mut out = Vec::new();
    for (sub, sent) in recipients {
        if !sub.status.gets_digests() {
            continue;
        }
        let period = period_at(sub.frequency, s, now, mode);
        if sub.last_period.as_deref() == Some(period.key.as_str()) {
            continue;
        }
        let joined = sub.confirmed_at.unwrap_or(sub.created_at);
        if mode == Mode::Scheduled && period.end <= joined {
            // The first period ends after they joined: nothing is due yet.
            continue;
        }
        let since = match sub.frequency {
            Frequency::Instant => match super::instant::due_since(sub, newest_seen) {
                Some(since) => Some(since),
                None => continue,
            },
            Frequency::Daily | Frequency::Weekly => sub.last_digest_at,
        };
        let new: Vec<&Arc<Article>> = visible
            .iter()
            .copied()
            .filter(|a| sub.topics.is_empty() || sub.topics.iter().any(|t| a.in_category(t)))
            .filter(|a| !sent.contains(&*a.id))
            .filter(|a| match since {
                None => a.published.with_timezone(&Utc) >= backlog_start,
                Some(since) => seen_at(a) > since,
            })
            .collect();
        let article_ids = new.iter().map(|a| a.id.to_string()).collect();
        let listed: Vec<Arc<Article>> = new.iter().take(s.max_items).map(|a| Arc::clone(a)).collect();
        out.push(PlannedDigest {
            subscriber: sub.clone(),
            period,
            more: new.len() - listed.len(),
            articles: listed,
            article_ids,
        });
    }
    out
}

/// Convenience for tests and callers with a local wall-clock time.
pub fn local_instant(tz: Tz, y: i32, m: u32, d: u32, h: u32, min: u32) -> Option<DateTime<Utc>> {
    tz.with_ymd_and_hms(y, m, d, h, min, 0).earliest().map(|t| t.with_timezone(&Utc))
}

/// The helpers are shared with the seed planner's tests (`digest::seed`).
#[cfg(test)]
pub(super) mod tests {
    use super::*;
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
            id: id.into(),
            slug: id.into(),
            link: crate::article::Link::Own(format!("https://yenbai.gov.vn/{id}").into()),
            title: id.into(),
            published: published.with_timezone(&HCM).fixed_offset(),
            updated: None,
            content: crate::article::Content::ready(String::new(), String::new()),
            fingerprint: 0,
            categories: Category::set(vec![Category {
                slug: cat.into(),
                name: cat.into(),
            }]),
            tags: vec![],
            author: None,
            image: None,
            problem: None,
            draft: false,
            origin: id.into(),
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
        p.articles.iter().map(|a| a.id.as_ref()).collect()
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
        let subs = vec![(sub(1, Frequency::Daily, at(20, 9, 0)), HashSet::new())];
        let plans = plan(&subs, &arts, &HashMap::new(), &s, at(25, 7, 0), Mode::Scheduled);
        assert_eq!(plans.len(), 1);
        assert_eq!(ids(&plans[0]), ["recent"]);
        assert_eq!(plans[0].period.key, "daily:2026-11-25");
    }

    #[test]
    fn nothing_is_due_before_the_first_period_end_after_confirmation() {
        let s = settings();
        let arts = vec![article("a", at(24, 8, 0), "x")];
        let subs = vec![(sub(1, Frequency::Daily, at(25, 9, 0)), HashSet::new())];
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
        let plans = plan(&[(s1, HashSet::new())], &arts, &seen, &s, at(25, 12, 0), Mode::Scheduled);
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
        assert!(plan(&[(s1, HashSet::new())], &arts, &HashMap::new(), &s, at(25, 18, 0), Mode::Scheduled).is_empty());
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
        let plans = plan(&[(s1.clone(), HashSet::new())], std::slice::from_ref(&late), &seen, &s, at(25, 7, 0), Mode::Scheduled);
        assert_eq!(ids(&plans[0]), ["late"]);
        // The next day, with the bookkeeping of that digest, it is not sent again.
        s1.last_period = Some("daily:2026-11-25".into());
        s1.last_digest_at = Some(at(25, 7, 0));
        let sent = HashSet::from(["late".to_string()]);
        let plans = plan(&[(s1, sent)], &[late], &seen, &s, at(26, 7, 0), Mode::Scheduled);
        assert!(plans[0].is_empty());
    }

    #[test]
    fn an_edited_article_is_not_sent_again() {
        let s = settings();
        let mut edited = (*article("a", at(24, 8, 0), "x")).clone();
        edited.title = "A (sửa)".into();
        edited.updated = Some(at(25, 9, 0).with_timezone(&HCM).fixed_offset());
        let mut s1 = sub(1, Frequency::Daily, at(1, 9, 0));
        s1.last_period = Some("daily:2026-11-25".into());
        s1.last_digest_at = Some(at(25, 7, 0));
        let seen = HashMap::from([("a".to_string(), at(24, 8, 0))]);
        let sent = HashSet::from(["a".to_string()]);
        let plans = plan(&[(s1, sent)], &[Arc::new(edited)], &seen, &s, at(26, 7, 0), Mode::Scheduled);
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
        let plans = plan(&[(s1, HashSet::new())], &arts, &HashMap::new(), &s, at(25, 7, 0), Mode::Scheduled);
        assert_eq!(ids(&plans[0]), ["econ"]);
    }

    #[test]
    fn newest_first_at_most_max_items_with_a_count_of_the_rest() {
        let s = settings();
        let arts = newest_first((1..=5).map(|i| article(&format!("a{i}"), at(23 + i, 8, 0), "x")).collect());
        let subs = vec![(sub(1, Frequency::Weekly, at(19, 9, 0)), HashSet::new())];
        let plans = plan(&subs, &arts, &HashMap::new(), &s, at(30, 7, 0), Mode::Scheduled);
        assert_eq!(plans[0].period.key, "weekly:2026-W49");
        assert_eq!(ids(&plans[0]), ["a5", "a4", "a3"]);
        assert_eq!(plans[0].more, 2);
        assert_eq!(plans[0].article_ids.len(), 5);
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
                (x, HashSet::new())
            })
            .collect();
        let planned: Vec<Status> =
            plan(&subs, &arts, &HashMap::new(), &s, at(25, 7, 0), Mode::Scheduled).iter().map(|p| p.subscriber.status).collect();
        // Bouncing ones are retried at the next period; pending,
        // unsubscribed, suppressed and complained ones never get one.
        assert_eq!(planned, [Status::Active, Status::Bouncing]);
    }
}
