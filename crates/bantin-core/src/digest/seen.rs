//! When articles were first seen visible, as a planning reads it
//! ([`Sightings`]): the measure of "new" (`plan`). The daemon reads the
//! state's sightings of the catalog's articles into a [`FirstSeen`], 16
//! bytes an article beside ids borrowed from the catalog: a map of every
//! sighting by id was ~15 MB of `serve`'s peak at 100k articles, at every
//! planning (the catch-up at start included).

use chrono::{DateTime, Utc};
use std::collections::HashMap;

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

/// The sightings of a set of articles (ids borrowed from the catalog),
/// filled from the state's rows with [`FirstSeen::record`].
#[derive(Debug, Clone)]
pub struct FirstSeen<'a> {
    /// Sorted, each once.
    ids: Vec<&'a str>,
    /// The sighting of `ids[i]`.
    at: Vec<Option<DateTime<Utc>>>,
    newest: Option<DateTime<Utc>>,
}

impl<'a> FirstSeen<'a> {
    /// No sighting yet of any of `ids` (in any order, repeats allowed).
    pub fn of(mut ids: Vec<&'a str>) -> FirstSeen<'a> {
        ids.sort_unstable();
        ids.dedup();
        let at = vec![None; ids.len()];
        FirstSeen { ids, at, newest: None }
    }

    /// Records that article `id` was first seen at `at`: kept when `id` is
    /// one of this set's, counted in [`Sightings::newest`] in any case.
    pub fn record(&mut self, id: &str, at: DateTime<Utc>) {
        if let Ok(i) = self.ids.binary_search(&id) {
            self.at[i] = Some(at);
        }
        self.newest = self.newest.max(Some(at));
    }
}

impl Sightings for FirstSeen<'_> {
    fn at(&self, id: &str) -> Option<DateTime<Utc>> {
        self.ids.binary_search(&id).ok().and_then(|i| self.at[i])
    }

    fn newest(&self) -> Option<DateTime<Utc>> {
        self.newest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn first_seen_answers_as_the_map_of_the_same_rows() {
        let rows = [("b", "2026-11-20T01:00:00Z"), ("gone", "2026-11-24T01:00:00Z"), ("a", "2026-11-22T01:00:00Z")];
        let mut seen = FirstSeen::of(vec!["c", "a", "b", "a"]);
        let mut map = HashMap::new();
        for (id, at) in rows {
            seen.record(id, t(at));
            map.insert(id.to_string(), t(at));
        }
        for id in ["a", "b", "c", "gone", "other"] {
            let want = if id == "gone" { None } else { map.at(id) };
            assert_eq!(seen.at(id), want, "{id}: only the set's own ids are kept");
        }
        assert_eq!(seen.at("c"), None, "never seen");
        assert_eq!(seen.newest(), map.newest(), "an article not in the set still counts as the newest sighting");
        assert_eq!(seen.newest(), Some(t("2026-11-24T01:00:00Z")));
        assert_eq!(FirstSeen::of(Vec::new()).newest(), None);
    }
}
