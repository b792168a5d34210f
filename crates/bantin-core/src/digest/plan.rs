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
//!   visible, in the subscriber's topics, and was first seen (visible)
//!   after their previous digest was planned (their watermark); so an
//!   article arriving late with an old date is sent once and an edited one
//!   is not sent again. A first digest reaches back `first_backlog` by
//!   publication date instead;
//! - newest first, at most `max_items` listed, the rest counted as "N more"
//!   (told, not listed: the watermark moves past them too);
//! - a due period with no new article yields an empty plan, which moves the
//!   watermark but sends nothing;
//! - frequency `instant`: the periods are windows of `digest.instant_window`
//!   and two rules are its own (`digest::instant`).
//!
//! Never twice, from the watermark alone (no per-article record is read or
//! kept): first sightings never change (`newsletter::pipeline` notes every
//! visible article before it plans), and a digest's commit moves the
//! subscriber's watermark to the latest of the planning's time, the
//! watermark before and the first sighting of every article it tells
//! ([`PlannedDigest::watermark`]), so no later digest's "first seen after"
//! can hold them again, even when the clock steps back (an article may then
//! be missed, never sent twice). The property test `never_twice` drives
//! plannings, commits, crashes, edits and clock steps at random against it.

use super::seen::Sightings;
use visible::Found;
pub use visible::Visible;
use crate::article::Article;
use crate::subscriber::{Frequency, Subscriber};
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
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
    /// `daily:2026-11-25`, `weekly:2026-W48` or `instant:2026-11-25T00:10:00Z`;
    /// with the subscriber, the identity of a digest (and of its Message-ID).
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
    /// Where the commit moves the subscriber's watermark (`last_digest_at`):
    /// never back, and past every article this digest tells.
    pub watermark: DateTime<Utc>,
}

impl PlannedDigest {
    /// A digest of what [`Visible::new_for`] found: the first `max_items`
    /// listed, the rest counted.
    pub(in crate::digest) fn of(subscriber: &Subscriber, found: &Found, max_items: usize) -> PlannedDigest {
        let articles: Vec<Arc<Article>> = found.new.iter().take(max_items).map(|a| Arc::clone(a)).collect();
        PlannedDigest {
            subscriber: subscriber.clone(),
            period: found.period.clone(),
            more: found.new.len() - articles.len(),
            articles,
            watermark: found.watermark,
        }
    }

    /// Nothing new: the plan moves the watermark and sends nothing.
    pub fn is_empty(&self) -> bool {
        self.articles.is_empty() && self.more == 0
    }
}

/// The local instant of `daily_at` on `date`.
pub(super) fn boundary(date: NaiveDate, s: &PlanSettings) -> DateTime<Utc> {
    crate::dates::local(date.and_time(s.daily_at), s.timezone).with_timezone(&Utc)
}

/// A daily or weekly period's key (an instant window's is `instant::key`).
fn key(frequency: Frequency, date: NaiveDate) -> String {
    if frequency == Frequency::Weekly {
        let w = date.iso_week();
        format!("weekly:{}-W{:02}", w.year(), w.week())
    } else {
        format!("daily:{}", date.format("%Y-%m-%d"))
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
/// digests ([`crate::subscriber::Status::gets_digests`]: active and
/// bouncing); `articles` are the catalog's, newest first; `first_seen` says
/// when each article was first seen visible (an article it has not seen is
/// being seen for the first time now).
pub fn plan(
    recipients: &[Subscriber],
    articles: &[Arc<Article>],
    first_seen: &impl Sightings,
    s: &PlanSettings,
    now: DateTime<Utc>,
    mode: Mode,
) -> Vec<PlannedDigest> {
    plan_for(recipients, &Visible::new(articles, first_seen, s, now), s, now, mode)
}

/// [`plan`] from the planning's [`Visible`] articles, which the site-wide
/// digests (`seed::site_wide`) take too.
pub fn plan_for(recipients: &[Subscriber], visible: &Visible, s: &PlanSettings, now: DateTime<Utc>, mode: Mode) -> Vec<PlannedDigest> {
    recipients
        .iter()
        .filter_map(|sub| visible.new_for(sub, s, now, mode).map(|found| PlannedDigest::of(sub, &found, s.max_items)))
        .collect()
}

/// Convenience for tests and callers with a local wall-clock time.
pub fn local_instant(tz: Tz, y: i32, m: u32, d: u32, h: u32, min: u32) -> Option<DateTime<Utc>> {
    tz.with_ymd_and_hms(y, m, d, h, min, 0).earliest().map(|t| t.with_timezone(&Utc))
}

/// What a planning sees of the catalog, indexed for every subscriber.
pub(super) mod visible;

/// The helpers are shared with the seed and instant planners' tests.
#[cfg(test)]
pub(super) mod tests;
