//! When articles were first seen visible, as a planning reads it
//! ([`Sightings`]): the measure of "new" (`plan`). The daemon reads the
//! state's sightings of the catalog's articles into a [`FirstSeen`], 12
//! bytes an article, the articles borrowed from the catalog: a map of every
//! sighting by id was ~15 MB of `serve`'s peak at 100k articles, at every
//! planning (the catch-up at start included).

use crate::article::Article;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Arc;

/// First sightings, by article id.
pub trait Sightings {
    /// When article `id` was first seen visible; `None` if not yet.
    fn at(&self, id: &str) -> Option<DateTime<Utc>>;
    /// The latest first sighting of any article, visible now or not.
    fn newest(&self) -> Option<DateTime<Utc>>;
}

/// Every sighting, by id.
impl Sightings for HashMap<String, DateTime<Utc>> {
    fn at(&self, id: &str) -> Option<DateTime<Utc>> {
        self.get(id).copied()
    }

    fn newest(&self) -> Option<DateTime<Utc>> {
        self.values().max().copied()
    }
}

/// The sightings of a list of articles (borrowed, the catalog's),
/// filled from the state's rows with [`FirstSeen::record`].
#[derive(Debug, Clone)]
pub struct FirstSeen<'a> {
    articles: &'a [Arc<Article>],
    /// Positions in `articles`, in the order of their ids.
    by_id: Vec<u32>,
    /// The sighting of `articles[i]` in Unix milliseconds (the state's
    /// precision), [`NOT_SEEN`] if none: half an `Option<DateTime>`.
    at: Vec<i64>,
    newest: Option<DateTime<Utc>>,
}

impl<'a> FirstSeen<'a> {
    /// No sighting yet of any of `articles` (each id once, as in a catalog).
    pub fn of(articles: &'a [Arc<Article>]) -> FirstSeen<'a> {
        // A catalog holds far fewer than 2^32 articles (1M is the bench's
        // largest); past that, the rest would count as never seen.
        let mut by_id: Vec<u32> = (0..articles.len().min(u32::MAX as usize) as u32).collect();
        by_id.sort_unstable_by(|&a, &b| articles[a as usize].id().cmp(articles[b as usize].id()));
        FirstSeen { articles, by_id, at: vec![NOT_SEEN; articles.len()], newest: None }
    }

    /// Records that article `id` was first seen at `at`: kept when `id` is
    /// one of this list's, counted in [`Sightings::newest`] in any case.
    pub fn record(&mut self, id: &str, at: DateTime<Utc>) {
        if let Some(i) = self.position(id) {
            self.at[i] = at.timestamp_millis();
        }
        self.newest = self.newest.max(Some(at));
    }

    /// The articles with no sighting, in id order (the order the state
    /// notes them in, `state::note_articles_seen`).
    pub fn unseen(&self) -> impl Iterator<Item = &'a Arc<Article>> + '_ {
        let articles = self.articles;
        self.by_id.iter().filter(|&&i| self.at[i as usize] == NOT_SEEN).map(move |&i| &articles[i as usize])
    }

    fn position(&self, id: &str) -> Option<usize> {
        let found = self.by_id.binary_search_by(|&i| self.articles[i as usize].id().cmp(id)).ok()?;
        Some(self.by_id[found] as usize)
    }
}

impl Sightings for FirstSeen<'_> {
    fn at(&self, id: &str) -> Option<DateTime<Utc>> {
        let ms = self.position(id).map(|i| self.at[i]).filter(|&ms| ms != NOT_SEEN)?;
        DateTime::from_timestamp_millis(ms)
    }

    fn newest(&self) -> Option<DateTime<Utc>> {
        self.newest
    }
}

/// No sighting: a time no state holds (before 292 million BC).
const NOT_SEEN: i64 = i64::MIN;

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn first_seen_answers_as_the_map_of_the_same_rows() {
        let rows = [("b", "2026-11-20T01:00:00Z"), ("gone", "2026-11-24T01:00:00Z"), ("a", "2026-11-22T01:00:00Z")];
        let articles: Vec<Arc<Article>> = ["c", "a", "b"].into_iter().map(article).collect();
        let mut seen = FirstSeen::of(&articles);
        let mut map = HashMap::new();
        for (id, at) in rows {
            seen.record(id, t(at));
            map.insert(id.to_string(), t(at));
        }
        for id in ["a", "b", "c", "gone", "other"] {
            let want = if id == "gone" { None } else { map.at(id) };
            assert_eq!(seen.at(id), want, "{id}: only the list's own articles are kept");
        }
        assert_eq!(seen.at("c"), None, "never seen");
        let unseen: Vec<&str> = seen.unseen().map(|a| a.id()).collect();
        assert_eq!(unseen, ["c"]);
        let none = FirstSeen::of(&articles);
        assert_eq!(none.unseen().map(|a| a.id()).collect::<Vec<_>>(), ["a", "b", "c"], "in id order");
        assert_eq!(seen.newest(), map.newest(), "an article not in the list still counts as the newest sighting");
        assert_eq!(seen.newest(), Some(t("2026-11-24T01:00:00Z")));
        assert_eq!(FirstSeen::of(&[]).newest(), None);
    }

    fn article(id: &str) -> Arc<Article> {
        super::super::plan::tests::article(id, t("2026-11-01T01:00:00Z"), "kinh-te")
    }
}
