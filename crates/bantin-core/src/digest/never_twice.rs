//! The planner's promise that no article reaches a subscriber twice, kept
//! by the watermark alone (`plan`'s "Never twice"), tried on random
//! histories: articles arriving (late with old dates, scheduled for later,
//! as drafts made public afterwards), edits, subscribers joining and
//! changing frequency or topics, plannings (scheduled or "send now") that
//! commit or crash before their commit, and a clock that steps back. Each
//! planning is run as `newsletter::pipeline` runs it: every visible
//! article is noted first, and a commit moves the watermark to what the
//! plan says. Each plan's articles are also checked against the rule
//! applied to every article (`World::new_by_the_rule`), the oracle of the
//! planner's indexes (`digest::plan::visible`).

use super::plan::tests::{article, at, settings, sub};
use super::plan::{plan, Mode, Visible};
use crate::article::Article;
use crate::subscriber::{Frequency, Subscriber};
use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

#[derive(Debug, Clone)]
enum Step {
    /// Time passes, up to a day and a half.
    Wait(i64),
    /// The clock steps back (an NTP correction), up to two hours.
    ClockBack(i64),
    /// An article reaches the store, published `hours` before now
    /// (negative: scheduled for later), in topic `topic`, maybe a draft.
    Arrive { hours: i64, topic: u8, draft: bool },
    /// The n-th article (modulo) is made public, or edited if it is.
    Touch(usize),
    Join { frequency: u8, topic: Option<u8> },
    Change { who: usize, frequency: u8, topic: Option<u8> },
    Plan { send_now: bool, commit: bool },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (1i64..=2160).prop_map(Step::Wait),
        1 => (1i64..=120).prop_map(Step::ClockBack),
        4 => (-24i64..=24 * 20, 0u8..3, proptest::bool::weighted(0.2)).prop_map(|(hours, topic, draft)| Step::Arrive { hours, topic, draft }),
        1 => any::<usize>().prop_map(Step::Touch),
        1 => (0u8..3, proptest::option::of(0u8..3)).prop_map(|(frequency, topic)| Step::Join { frequency, topic }),
        1 => (any::<usize>(), 0u8..3, proptest::option::of(0u8..3)).prop_map(|(who, frequency, topic)| Step::Change { who, frequency, topic }),
        4 => (proptest::bool::weighted(0.2), proptest::bool::weighted(0.8)).prop_map(|(send_now, commit)| Step::Plan { send_now, commit }),
    ]
}

const FREQUENCIES: [Frequency; 3] = [Frequency::Daily, Frequency::Weekly, Frequency::Instant];

fn topics(topic: Option<u8>) -> Vec<String> {
    topic.map(|t| vec![format!("t{t}")]).unwrap_or_default()
}

/// The state a run of the pipeline reads and writes.
struct World {
    now: DateTime<Utc>,
    articles: Vec<Arc<Article>>,
    first_seen: HashMap<String, DateTime<Utc>>,
    subscribers: Vec<Subscriber>,
    /// Every (subscriber, article) a committed digest told, listed or not.
    told: HashSet<(i64, String)>,
}

impl World {
    /// No article yet, one subscriber.
    fn at(now: DateTime<Utc>, subscriber: Subscriber) -> World {
        World { now, articles: Vec::new(), first_seen: HashMap::new(), subscribers: vec![subscriber], told: HashSet::new() }
    }

    fn run(&mut self, step: Step) -> Result<(), TestCaseError> {
        match step {
            Step::Wait(minutes) => self.now += Duration::minutes(minutes),
            Step::ClockBack(minutes) => self.now -= Duration::minutes(minutes),
            Step::Arrive { hours, topic, draft } => {
                let mut a = (*article(&format!("a{}", self.articles.len()), self.now - Duration::hours(hours), &format!("t{topic}"))).clone();
                a.draft = draft;
                self.articles.push(Arc::new(a));
            }
            Step::Touch(n) if !self.articles.is_empty() => {
                let i = n % self.articles.len();
                let mut a = (*self.articles[i]).clone();
                if a.draft {
                    a.draft = false;
                } else {
                    a.names = a.names.with_title("sửa");
                    a.updated = Some(self.now.fixed_offset());
                }
                self.articles[i] = Arc::new(a);
            }
            Step::Touch(_) => {}
            Step::Join { frequency, topic } => {
                let mut s = sub(self.subscribers.len() as i64 + 1, FREQUENCIES[frequency as usize], self.now);
                s.topics = topics(topic);
                self.subscribers.push(s);
            }
            Step::Change { who, frequency, topic } if !self.subscribers.is_empty() => {
                let n = who % self.subscribers.len();
                self.subscribers[n].frequency = FREQUENCIES[frequency as usize];
                self.subscribers[n].topics = topics(topic);
            }
            Step::Change { .. } => {}
            Step::Plan { send_now, commit } => self.plan(if send_now { Mode::Now } else { Mode::Scheduled }, commit)?,
        }
        Ok(())
    }

    fn plan(&mut self, mode: Mode, commit: bool) -> Result<(), TestCaseError> {
        let (s, now) = (settings(), self.now);
        let local = now.with_timezone(&s.timezone).fixed_offset();
        for a in self.articles.iter().filter(|a| a.is_visible_at(local)) {
            self.first_seen.entry(a.id().to_string()).or_insert(now);
        }
        let mut newest_first = self.articles.clone();
        newest_first.sort_by_key(|a| std::cmp::Reverse(a.published));
        let plans = plan(&self.subscribers, &newest_first, &self.first_seen, &s, now, mode);
        if !commit {
            return Ok(());
        }
        let visible = Visible::new(&newest_first, &self.first_seen, &s, now);
        for p in plans {
            // Everything the digest tells: its listed articles and the
            // ones its "N more" counts.
            let found = visible.new_for(&p.subscriber, &s, now, mode).expect("planned, so due");
            prop_assert_eq!(p.articles.len() + p.more, found.new.len());
            let ids = |v: &[&Arc<Article>]| v.iter().map(|a| a.id().to_string()).collect::<Vec<_>>();
            prop_assert_eq!(ids(&found.new), ids(&self.new_by_the_rule(&p.subscriber, &newest_first)), "the index finds what the rule says");
            for a in found.new {
                let fresh = self.told.insert((p.subscriber.id, a.id().to_string()));
                prop_assert!(fresh, "{} told {} again at {now} ({})", p.subscriber.email, a.id(), p.period.key);
            }
            let s = self.subscribers.iter_mut().find(|s| s.id == p.subscriber.id).expect("a planned subscriber");
            prop_assert!(s.last_digest_at.is_none_or(|before| p.watermark >= before), "the watermark never moves back");
            s.last_period = Some(p.period.key.clone());
            s.last_digest_at = Some(p.watermark);
        }
        Ok(())
    }
}

impl World {
    /// The planner's "new" as its doc states it, a pass over every
    /// article: the oracle of `Visible`'s indexes.
    fn new_by_the_rule<'a>(&self, sub: &Subscriber, newest_first: &'a [Arc<Article>]) -> Vec<&'a Arc<Article>> {
        let (s, now) = (settings(), self.now);
        let local = now.with_timezone(&s.timezone).fixed_offset();
        let seen = |a: &Article| self.first_seen.get(a.id()).copied().unwrap_or(now);
        let since = match sub.frequency {
            Frequency::Instant => Some(sub.last_digest_at.unwrap_or(sub.confirmed_at.unwrap_or(sub.created_at))),
            _ => sub.last_digest_at,
        };
        let backlog_start = now - Duration::from_std(s.first_backlog).unwrap();
        newest_first
            .iter()
            .filter(|a| a.is_visible_at(local))
            .filter(|a| sub.topics.is_empty() || sub.topics.iter().any(|t| a.in_category(t)))
            .filter(|a| match since {
                None => a.published.to_utc() >= backlog_start,
                Some(since) => seen(a) > since,
            })
            .collect()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn never_twice(steps in proptest::collection::vec(step(), 1..160)) {
        let mut world = World::at(at(1, 6, 0), sub(1, Frequency::Daily, at(1, 6, 0)));
        for step in steps {
            world.run(step)?;
        }
    }
}

/// The case a watermark set to the planning's time got wrong: a digest
/// told an article, the clock stepped back across the daily boundary, the
/// day before's period (never had) moved the watermark back before the
/// article's sighting, and the next day's digest told it again.
#[test]
fn a_clock_stepped_back_does_not_tell_an_article_again() {
    let mut world = World::at(at(20, 7, 5), sub(1, Frequency::Daily, at(10, 6, 0)));
    let steps = [
        Step::Arrive { hours: 1, topic: 0, draft: false },
        Step::Plan { send_now: false, commit: true },
        Step::ClockBack(10),
        Step::Plan { send_now: false, commit: true },
        Step::Wait(10),
        Step::Plan { send_now: false, commit: true },
    ];
    for step in steps {
        world.run(step).unwrap();
    }
    assert_eq!(world.told.len(), 1);
    assert_eq!(world.subscribers[0].last_period.as_deref(), Some("daily:2026-11-20"), "all three were due");
}
