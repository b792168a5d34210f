//! What a planning sees of the catalog, shared by every subscriber it
//! plans for ([`Visible`]): the visible articles with their first
//! sightings, indexed so that a subscriber's new articles are found
//! without a pass over the catalog. A planning is subscribers × what is
//! new for each, not subscribers × the catalog: 1,000 subscribers at
//! 100k articles took 2.6 s of planning to look at every article for each.

use super::{period_at, Mode, Period, PlanSettings};
use crate::digest::seen::Sightings;
use crate::article::Article;
use crate::subscriber::{Frequency, Subscriber};
use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;

/// A subscriber's due period and what is new for them in it.
pub(in crate::digest) struct Found<'a> {
    pub(in crate::digest) period: Period,
    /// In the order of the planning's articles (newest first); none: an
    /// empty plan that moves the watermark.
    pub(in crate::digest) new: Vec<&'a Arc<Article>>,
    /// See [`super::PlannedDigest::watermark`].
    pub(in crate::digest) watermark: DateTime<Utc>,
}

/// The articles visible at a planning, each with its first sighting
/// (looked up once for every subscriber), and the newest sighting: made
/// once a planning, for its digests and its site-wide ones alike.
pub struct Visible<'a> {
    /// In the order of the planning's articles, each with its first
    /// sighting in Unix milliseconds (the state's precision): 16 bytes an
    /// article, where a `DateTime` made it 24.
    articles: Vec<(&'a Arc<Article>, i64)>,
    /// Positions in `articles`, by first sighting (oldest first).
    by_seen: Vec<u32>,
    /// Positions in `articles`, by publication (newest first).
    by_published: Vec<u32>,
    newest_seen: Option<DateTime<Utc>>,
}

impl<'a> Visible<'a> {
    pub fn new(articles: &'a [Arc<Article>], first_seen: &impl Sightings, s: &PlanSettings, now: DateTime<Utc>) -> Visible<'a> {
        let now_local = now.with_timezone(&s.timezone).fixed_offset();
        let visible: Vec<(&Arc<Article>, i64)> = articles
            .iter()
            .filter(|a| a.is_visible_at(now_local))
            .map(|a| (a, first_seen.at(a.id()).unwrap_or(now).timestamp_millis()))
            .collect();
        // Of every article noted, as the scheduler's pre-check reads it
        // (`state::newest_seen`), and of the visible ones noted now.
        let newest_visible = visible.iter().map(|&(_, seen)| seen).max().and_then(DateTime::from_timestamp_millis);
        let newest_seen = first_seen.newest().max(newest_visible);
        // A catalog holds far fewer than 2^32 articles.
        let positions = || 0..visible.len().min(u32::MAX as usize) as u32;
        let mut by_seen: Vec<u32> = positions().collect();
        by_seen.sort_by_key(|&i| visible[i as usize].1);
        let mut by_published: Vec<u32> = positions().collect();
        by_published.sort_by_key(|&i| std::cmp::Reverse(visible[i as usize].0.published));
        Visible { articles: visible, by_seen, by_published, newest_seen }
    }

    /// `sub`'s period due at `now` and what is new for them; `None` when
    /// nothing is due for them.
    pub(in crate::digest) fn new_for(&self, sub: &Subscriber, s: &PlanSettings, now: DateTime<Utc>, mode: Mode) -> Option<Found<'a>> {
        if !sub.status.gets_digests() {
            return None;
        }
        let period = period_at(sub.frequency, s, now, mode);
        if sub.last_period.as_deref() == Some(period.key.as_str()) {
            return None;
        }
        let joined = sub.confirmed_at.unwrap_or(sub.created_at);
        if mode == Mode::Scheduled && period.end <= joined {
            // The first period ends after they joined: nothing is due yet.
            return None;
        }
        let since = match sub.frequency {
            Frequency::Instant => Some(crate::digest::instant::due_since(sub, self.newest_seen)?),
            Frequency::Daily | Frequency::Weekly => sub.last_digest_at,
        };
        let candidates = match since {
            // Sightings are whole milliseconds: after `since` is after its
            // millisecond.
            Some(since) => {
                let since = since.timestamp_millis();
                &self.by_seen[self.by_seen.partition_point(|&i| self.articles[i as usize].1 <= since)..]
            }
            None => {
                let backlog_start = now - Duration::from_std(s.first_backlog).unwrap_or(Duration::days(7));
                let within = |&i: &u32| self.articles[i as usize].0.published.with_timezone(&Utc) >= backlog_start;
                &self.by_published[..self.by_published.partition_point(within)]
            }
        };
        let in_topics = |a: &Article| sub.topics.is_empty() || sub.topics.iter().any(|t| a.in_category(t));
        let mut new: Vec<u32> = candidates.iter().copied().filter(|&i| in_topics(self.articles[i as usize].0)).collect();
        new.sort_unstable();
        let mut watermark = sub.last_digest_at.map_or(now, |before| before.max(now));
        let new = new
            .into_iter()
            .map(|i| {
                let (a, seen) = self.articles[i as usize];
                watermark = watermark.max(DateTime::from_timestamp_millis(seen).unwrap_or(watermark));
                a
            })
            .collect();
        Some(Found { period, new, watermark })
    }
}
