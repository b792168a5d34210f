//! The seed addresses' copies (`digest.seed`), pure like the planner they
//! use: for each period a run queued news in, the site-wide digest of that
//! period, which is what a subscriber of every topic gets whose previous
//! digest closed the period before. An editor sees the whole period
//! whatever the topics of the subscribers who were due, and a copy never
//! reaches back into the backlog that a new subscriber's first digest has.

use super::plan::{Mode, Period, PlanSettings, PlannedDigest, Visible};
use super::seen::Sightings;
use crate::article::Article;
use crate::subscriber::{Status, Subscriber};
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// A period's site-wide digest, and the id of every new article in it,
/// listed or counted: what the archive records of the period.
#[derive(Debug, Clone)]
pub struct SiteDigest {
    pub digest: PlannedDigest,
    pub article_ids: Vec<String>,
}

/// The site-wide digest of each period that a non-empty plan of `due`
/// (one run's plans, at `now` in `mode`) has: that period's new articles
/// of every topic, as the planner gives them to a made-up subscriber (id
/// 0, no address, no topics) whose last digest closed the period before;
/// none for a period with nothing new since it began. The one statement
/// of "a period's site-wide digest": seed copies and the archive
/// (`digest::archive`) both take it from here.
pub fn site_wide(
    due: &[PlannedDigest],
    visible: &Visible,
    s: &PlanSettings,
    now: DateTime<Utc>,
    mode: Mode,
) -> Vec<SiteDigest> {
    let mut periods: Vec<&Period> = Vec::new();
    for p in due.iter().filter(|p| !p.is_empty()) {
        if !periods.iter().any(|q| q.key == p.period.key) {
            periods.push(&p.period);
        }
    }
    let mut out = Vec::new();
    for period in periods {
        let start = period.start;
        let everyone = Subscriber {
            id: 0,
            email: String::new(),
            topics: Vec::new(),
            frequency: period.frequency,
            status: Status::Active,
            created_at: start,
            confirmed_at: Some(start),
            bounce_count: 0,
            last_period: None,
            last_digest_at: Some(start),
            last_bounce_reason: None,
            last_bounce_at: None,
        };
        let Some(found) = visible.new_for(&everyone, s, now, mode) else { continue };
        if found.period.key != period.key || found.new.is_empty() {
            continue;
        }
        let article_ids = found.new.iter().map(|a| a.id().to_string()).collect();
        out.push(SiteDigest { digest: PlannedDigest::of(&everyone, &found, s.max_items), article_ids });
    }
    out
}

/// The seed copies that go with `due`: for each period of
/// [`site_wide`], one per seed address with that period's site-wide
/// digest. A copy is nobody's digest (subscriber id 0), and its planning
/// records nothing.
pub fn plan_copies(
    seeds: &[String],
    due: &[PlannedDigest],
    articles: &[Arc<Article>],
    first_seen: &impl Sightings,
    s: &PlanSettings,
    now: DateTime<Utc>,
    mode: Mode,
) -> Vec<PlannedDigest> {
    if seeds.is_empty() {
        return Vec::new();
    }
    copies(seeds, &site_wide(due, &Visible::new(articles, first_seen, s, now), s, now, mode))
}

/// The copies of `site` (from [`site_wide`]) for each of `seeds`: of the
/// daily and weekly periods only. An instant window closes every few
/// minutes (144 copies a day at the default 10m), and the day's copy
/// carries the same articles.
pub fn copies(seeds: &[String], site: &[SiteDigest]) -> Vec<PlannedDigest> {
    let mut copies = Vec::with_capacity(site.len() * seeds.len());
    for SiteDigest { digest, .. } in site.iter().filter(|d| d.digest.period.frequency != crate::subscriber::Frequency::Instant) {
        for email in seeds {
            let mut copy = digest.clone();
            copy.subscriber.email = email.clone();
            copies.push(copy);
        }
    }
    copies
}

#[cfg(test)]
mod tests {
    use super::super::plan::tests::{article, at, ids, newest_first, settings, sub};
    use super::super::plan;
    use super::*;
    use crate::subscriber::Frequency;
    use std::collections::HashMap;

    #[test]
    fn a_period_begins_where_the_one_before_ended() {
        let s = settings();
        // 2026-11-30 is a Monday.
        let daily = plan::period_at(Frequency::Daily, &s, at(30, 7, 0), Mode::Scheduled);
        assert_eq!(daily.start, at(29, 7, 0));
        let weekly = plan::period_at(Frequency::Weekly, &s, at(30, 7, 0), Mode::Scheduled);
        assert_eq!(weekly.start, at(23, 7, 0));
        // "Send now" on Wednesday the 25th: the running day began at 07:00.
        let now = plan::period_at(Frequency::Daily, &s, at(25, 10, 0), Mode::Now);
        assert_eq!((now.key.as_str(), now.start), ("daily:2026-11-26", at(25, 7, 0)));
    }

    #[test]
    fn one_copy_per_seed_and_period_with_news_of_every_topic_in_that_period() {
        let s = settings();
        let arts = newest_first(vec![
            article("econ", at(29, 12, 0), "kinh-te"),
            article("culture", at(29, 13, 0), "van-hoa"),
            article("midweek", at(25, 10, 0), "van-hoa"),
        ]);
        let seen: HashMap<String, DateTime<Utc>> = arts.iter().map(|a| (a.id().to_string(), a.published.to_utc())).collect();
        // A daily reader of one topic and a new weekly reader.
        let mut daily = sub(1, Frequency::Daily, at(1, 9, 0));
        daily.topics = vec!["kinh-te".into()];
        daily.last_period = Some("daily:2026-11-29".into());
        daily.last_digest_at = Some(at(29, 7, 0));
        let weekly = sub(2, Frequency::Weekly, at(22, 9, 0));
        let now = at(30, 7, 0);
        let due = plan::plan(&[daily, weekly], &arts, &seen, &s, now, Mode::Scheduled);
        assert_eq!(ids(&due[0]), ["econ"]);
        assert_eq!(ids(&due[1]), ["culture", "econ", "midweek"]);

        let seeds = ["editor@example.org".to_string(), "qa@example.org".to_string()];
        let copies = plan_copies(&seeds, &due, &arts, &seen, &s, now, Mode::Scheduled);
        let got: Vec<(&str, &str, Vec<&str>)> =
            copies.iter().map(|c| (c.subscriber.email.as_str(), c.period.key.as_str(), ids(c))).collect();
        assert_eq!(
            got,
            [
                ("editor@example.org", "daily:2026-11-30", vec!["culture", "econ"]),
                ("qa@example.org", "daily:2026-11-30", vec!["culture", "econ"]),
                ("editor@example.org", "weekly:2026-W49", vec!["culture", "econ", "midweek"]),
                ("qa@example.org", "weekly:2026-W49", vec!["culture", "econ", "midweek"]),
            ]
        );
        assert!(copies.iter().all(|c| c.subscriber.id == 0 && c.subscriber.topics.is_empty()));
    }

    #[test]
    fn no_copy_for_a_period_that_queued_nothing_or_had_nothing_new() {
        let s = settings();
        let seeds = ["editor@example.org".to_string()];
        let arts = vec![article("old", at(25, 8, 0), "x")];
        let seen = HashMap::from([("old".to_string(), at(25, 8, 0))]);
        let mut reader = sub(1, Frequency::Daily, at(1, 9, 0));
        reader.last_digest_at = Some(at(29, 7, 0));
        // Due, but nothing new for the reader: no copy.
        let due = plan::plan(&[reader], &arts, &seen, &s, at(30, 7, 0), Mode::Scheduled);
        assert!(due[0].is_empty());
        assert!(plan_copies(&seeds, &due, &arts, &seen, &s, at(30, 7, 0), Mode::Scheduled).is_empty());
        // A new reader's first digest has "old" (`first_backlog` reaches
        // back 7 days), which the period itself did not bring: no copy
        // either.
        let due = plan::plan(&[sub(2, Frequency::Daily, at(29, 9, 0))], &arts, &seen, &s, at(30, 7, 0), Mode::Scheduled);
        assert_eq!(ids(&due[0]), ["old"]);
        assert!(plan_copies(&seeds, &due, &arts, &seen, &s, at(30, 7, 0), Mode::Scheduled).is_empty());
    }
}
