//! A scope's [`Stamp`]: what lets a later generation tell, without reading
//! a single article, that a scope's feed items cannot have changed. With
//! tag and author feeds on, a 100k store has ~2,000 scopes, and reading
//! each one's newest articles at every change (their reference counts,
//! one cache miss each) was most of a refresh (bench/HISTORY.md, stop 41).
//!
//! Why it holds: a generation shares every untouched chunk with the one
//! before, and a chunk that a stamp holds is shared, so a change copies it
//! ([`Chunks`]); the same chunks are the same articles in the same order.
//! What readers see of them also moves with the clock: a future article
//! appears at its time, so a stamp holds only until the first of those.

use super::chunks::Chunks;
use super::{Catalog, Newest, Scope};
use chrono::{DateTime, FixedOffset};

/// A scope's articles in one generation, and until when the ones visible
/// among them stay the same.
#[derive(Debug, Clone)]
pub struct Stamp {
    articles: Chunks<Newest>,
    /// The first publication after the stamp's moment among the scope's
    /// articles that are not drafts.
    until: Option<DateTime<FixedOffset>>,
}

impl Stamp {
    /// Whether a scope stamped `self` earlier shows at `now` what it
    /// showed then, as stamped `now` by `later`: the very same articles,
    /// and none of them published since.
    pub fn still_holds(&self, later: &Stamp, now: DateTime<FixedOffset>) -> bool {
        self.articles.shares_all(&later.articles) && self.until.is_none_or(|until| now < until)
    }
}

impl Catalog {
    /// The stamp of `scope` at `now`; `None` for a group the catalog does
    /// not hold.
    pub fn stamp(&self, scope: &Scope, now: DateTime<FixedOffset>) -> Option<Stamp> {
        let articles = self.members_of(scope)?;
        // Newest first: the future ones lead, and the last of them not a
        // draft is the next to appear.
        let until = articles
            .iter()
            .map(|n| &n.0)
            .take_while(|a| a.published > now)
            .filter(|a| !a.draft)
            .last()
            .map(|a| a.published);
        Some(Stamp { articles: articles.clone(), until })
    }
}
