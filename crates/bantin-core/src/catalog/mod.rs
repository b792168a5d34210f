//! The catalog: every article the store holds, in memory, ordered newest
//! first and indexed by category, tag and author (`facets.rs`), plus the
//! errors met reading the store.
//! A catalog is immutable; a change to the store builds the next
//! generation, so readers of the old one never see a half-made index.
//!
//! Invariants, kept by [`Catalog::from_shared`] and [`Catalog::apply`]:
//! - ids are unique (a second file claiming an id is reported, not kept;
//!   the file whose origin sorts first keeps it);
//! - article URLs are unique (a repeated slug gets `-2`, `-3`… in order of
//!   publication, so the first article keeps its URL);
//! - articles are ordered by publication time descending, then id
//!   descending;
//! - a category's name is the one its newest article gives it.
//!
//! These are the rules of [`crate::identity`], which states them once for
//! the catalog and the static build.
//!
//! The indexes are persistent sorted sequences ([`chunks::Chunks`]): a
//! generation shares every untouched chunk with the one before, so the
//! next generation after a change of a few articles costs a few chunk
//! copies, not a rebuild of a 100k-article index ([`Catalog::apply`]).
//! Changes that could move another article's id or URL (a repeated id or
//! slug) take the full rebuild, which states the rules once.

use crate::article::{Article, ArticleError, Category};
use crate::identity;
use chunks::Chunks;
use facets::{Facet, Kind};
use ledger::{bump, sorted_keys, Ledger};
use crate::store::Context;
use chrono::{DateTime, FixedOffset};
use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

mod chunks;
mod facets;
mod ledger;
mod pending;
mod stamp;

pub use pending::{Change, Pending};
pub use stamp::{Stamp, Stamped};
use stamp::Touched;

/// Which articles a feed or digest draws from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    Site,
    Category(String),
    Tag(String),
    Author(String),
}

#[derive(Debug, Clone)]
pub struct Catalog {
    pub generation: u64,
    /// Every kept article, newest first.
    newest: Chunks<Newest>,
    /// Category, tag and author slug → its name and its articles, newest first.
    categories: Facet,
    tags: Facet,
    authors: Facet,
    /// Sorted by origin.
    errors: Vec<ArticleError>,
    /// What [`Catalog::apply`] needs to tell whether a change stays local.
    ledger: Ledger,
    /// `newest` as a slice, made when first asked for (digest planning,
    /// tests); the service's own path never asks.
    flat: OnceLock<Vec<Arc<Article>>>,
    /// The groups [`Catalog::apply`] touched making this generation, and
    /// the one it applied to ([`Catalog::scopes_changed_since`]).
    touched: Option<Arc<Touched>>,
}

impl Default for Catalog {
    fn default() -> Catalog {
        let [categories, tags, authors] = [Kind::Category, Kind::Tag, Kind::Author].map(Facet::new);
        Catalog {
            generation: 0,
            newest: Chunks::default(),
            categories,
            tags,
            authors,
            errors: Vec::new(),
            ledger: Ledger::default(),
            flat: OnceLock::new(),
            touched: None,
        }
    }
}

/// An article ordered for the catalog: newest first, then by id
/// descending. It compares through the `Arc`, so the index holds no copy
/// of any key; a renamed copy (other slug, same id and date) is the same
/// entry.
#[derive(Debug, Clone)]
struct Newest(Arc<Article>);

impl Ord for Newest {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .0
            .published
            .cmp(&self.0.published)
            .then_with(|| other.0.id().cmp(self.0.id()))
    }
}

impl PartialOrd for Newest {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Newest {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Newest {}

impl Catalog {
    pub fn new(
        articles: Vec<Article>,
        errors: Vec<ArticleError>,
        ctx: &Context,
        generation: u64,
    ) -> Catalog {
        // Collected into a new Vec on purpose: `into_iter().map().collect()`
        // would reuse the buffer of whole `Article`s (~300 bytes each) for
        // 8-byte pointers and keep all of it (30 MB for 100k articles).
        let mut shared = Vec::with_capacity(articles.len());
        shared.extend(articles.into_iter().map(Arc::new));
        Catalog::from_shared(shared, errors, ctx, generation)
    }

    /// The catalog of what a store holds: each entry the article read from
    /// one file or row, or why it could not be. Both the dir store's and the
    /// SQL table's state keep their reads this way.
    pub fn from_results<'a>(
        results: impl ExactSizeIterator<Item = Result<&'a Arc<Article>, &'a ArticleError>>,
        ctx: &Context,
        generation: u64,
    ) -> Catalog {
        let mut articles = Vec::with_capacity(results.len());
        let mut errors = Vec::new();
        for result in results {
            match result {
                Ok(a) => articles.push(Arc::clone(a)),
                Err(e) => errors.push(e.clone()),
            }
        }
        Catalog::from_shared(articles, errors, ctx, generation)
    }

    /// Like [`Catalog::new`], for articles that the caller keeps too (the
    /// service's store state): an article that did not change between two
    /// generations is the same allocation in both, which is also how the
    /// feed cache tells cheaply that a feed's items are unchanged.
    pub fn from_shared(
        mut articles: Vec<Arc<Article>>,
        mut errors: Vec<ArticleError>,
        ctx: &Context,
        generation: u64,
    ) -> Catalog {
        // What was dropped from kept articles is listed with the errors.
        errors.extend(articles.iter().filter_map(|a| a.problem().cloned()));
        let mut ledger = Ledger {
            ids: sorted_keys(articles.iter().map(|a| a.id())),
            ..Ledger::default()
        };
        // The rules of `identity`, in its order. Unique ids: the file whose
        // path sorts first keeps the id. The service hands the articles
        // over in origin order already.
        if !articles.is_sorted_by(|a, b| a.origin() <= b.origin()) {
            articles.sort_by(|a, b| a.origin().cmp(b.origin()));
        }
        // Distinct hashes mean distinct ids: the usual case needs no map of
        // every id (~4 MB at 100k articles, at the moment of the start-up peak).
        if ledger.ids.has_repeats() {
            identity::keep_first_ids(&mut articles, |a, first| {
                errors.push(identity::same_identity(a.origin(), a.id(), first.origin()));
            });
        }
        ledger.slugs = sorted_keys(articles.iter().map(|a| a.slug()));
        identity::sort_oldest_first(&mut articles);
        // Distinct slugs: nothing to rename.
        let renames = if ledger.slugs.has_repeats() { identity::renames(&articles) } else { Vec::new() };
        let mut renamed = BTreeSet::new();
        for (i, slug) in renames {
            let a = &mut articles[i];
            renamed.insert(a.slug().to_string());
            // Copy-on-write: only a renamed duplicate stops sharing.
            identity::rename(Arc::make_mut(a), &slug, ctx);
        }
        ledger.renamed = Arc::new(renamed);

        let [categories, tags, authors] =
            [Kind::Category, Kind::Tag, Kind::Author].map(|kind| Facet::build(kind, articles.iter().rev()));
        let newest = Chunks::from_sorted(articles.into_iter().rev().map(Newest).collect());
        errors.sort_by(|a, b| a.origin.cmp(&b.origin));
        Catalog {
            generation,
            newest,
            categories,
            tags,
            authors,
            errors,
            ledger,
            flat: OnceLock::new(),
            touched: None,
        }
    }

    /// The next generation after `changes`, sharing everything they do not
    /// touch with this one; `None` when a change could move another
    /// article's id or URL (a repeated id or slug, a renamed slug's
    /// family), and the caller must build the whole catalog again
    /// ([`Catalog::from_results`]), which is then the only statement of
    /// those rules. Either way the result is the same catalog.
    pub fn apply(&self, changes: &[Change], generation: u64) -> Option<Catalog> {
        let mut next = Catalog {
            generation,
            newest: self.newest.clone(),
            categories: self.categories.clone(),
            tags: self.tags.clone(),
            authors: self.authors.clone(),
            errors: self.errors.clone(),
            ledger: self.ledger.clone(),
            flat: OnceLock::new(),
            touched: None,
        };
        let mut touched: [BTreeSet<String>; 3] = Default::default();
        // Every removal before any addition: a batch may move an id or a
        // slug from one file to another.
        for change in changes {
            match &change.old {
                Some(Ok(a)) => {
                    if !next.ledger.alone(a, 1) {
                        return None;
                    }
                    next.newest.remove(&Newest(Arc::clone(a)))?;
                    if let Some(problem) = a.problem() {
                        let at = next.errors.iter().position(|held| held == problem)?;
                        next.errors.remove(at);
                    }
                    bump(&mut next.ledger.ids, a.id(), false);
                    bump(&mut next.ledger.slugs, a.slug(), false);
                    for (facet, touched) in next.facets_mut().into_iter().zip(&mut touched) {
                        facet.leave(a)?;
                        facet.touch(a, touched);
                    }
                }
                Some(Err(e)) => {
                    let at = next.errors.iter().position(|held| held == e)?;
                    next.errors.remove(at);
                }
                None => {}
            }
        }
        for change in changes {
            match &change.new {
                Some(Ok(a)) => {
                    if !next.ledger.alone(a, 0) {
                        return None;
                    }
                    bump(&mut next.ledger.ids, a.id(), true);
                    bump(&mut next.ledger.slugs, a.slug(), true);
                    next.newest.insert(Newest(Arc::clone(a)));
                    if let Some(problem) = a.problem() {
                        let at = next.errors.partition_point(|held| held.origin <= problem.origin);
                        next.errors.insert(at, problem.clone());
                    }
                    for (facet, touched) in next.facets_mut().into_iter().zip(&mut touched) {
                        facet.join(a);
                        facet.touch(a, touched);
                    }
                }
                Some(Err(e)) => {
                    let at = next.errors.partition_point(|held| held.origin <= e.origin);
                    next.errors.insert(at, e.clone());
                }
                None => {}
            }
        }
        let mut scopes = Vec::new();
        for (facet, touched) in next.facets_mut().into_iter().zip(touched) {
            scopes.extend(touched.iter().map(|slug| facet.scope(slug.clone())));
            facet.settle(touched);
        }
        next.touched = Some(Arc::new(Touched { parent: self.generation, scopes }));
        Some(next)
    }

    fn facets_mut(&mut self) -> [&mut Facet; 3] {
        [&mut self.categories, &mut self.tags, &mut self.authors]
    }

    /// The index a scope other than the site's draws from.
    fn facet<'a, 's>(&'a self, scope: &'s Scope) -> Option<(&'a Facet, &'s str)> {
        match scope {
            Scope::Site => None,
            Scope::Category(slug) => Some((&self.categories, slug)),
            Scope::Tag(slug) => Some((&self.tags, slug)),
            Scope::Author(slug) => Some((&self.authors, slug)),
        }
    }

    /// The articles of `scope`, newest first (drafts and future ones
    /// included); `None` for a group the catalog does not hold.
    fn members_of(&self, scope: &Scope) -> Option<&Chunks<Newest>> {
        match self.facet(scope) {
            None => Some(&self.newest),
            Some((facet, slug)) => facet.get(slug).map(|members| &members.articles),
        }
    }

    /// Every article, newest first, drafts and future ones included,
    /// without making the flat list of [`Catalog::articles`].
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Article>> {
        self.newest.iter().map(|n| &n.0)
    }

    /// Every article, newest first, drafts and future ones included, as a
    /// slice made on first use and kept with this generation (tools and
    /// tests). The service never asks: at 100k articles the list was 800 KB
    /// whose drop (100k reference counts) stalled the first change after
    /// each digest planning by ~70 ms.
    pub fn articles(&self) -> &[Arc<Article>] {
        self.flat
            .get_or_init(|| self.newest.iter().map(|n| Arc::clone(&n.0)).collect())
    }

    /// How many articles the catalog holds (drafts and future ones included).
    pub fn len(&self) -> usize {
        self.newest.len()
    }

    pub fn is_empty(&self) -> bool {
        self.newest.is_empty()
    }

    /// The article with this id, if kept (a linear search: for tools and
    /// tests, not for the service's paths).
    pub fn get(&self, id: &str) -> Option<&Arc<Article>> {
        self.newest.iter().map(|n| &n.0).find(|a| a.id() == id)
    }

    pub fn errors(&self) -> &[ArticleError] {
        &self.errors
    }

    /// The newest `limit` articles of `scope` that readers may see at `now`.
    pub fn newest(
        &self,
        scope: &Scope,
        now: DateTime<FixedOffset>,
        limit: usize,
    ) -> Vec<Arc<Article>> {
        let Some(set) = self.members_of(scope) else { return Vec::new() };
        set.iter()
            .map(|n| &n.0)
            .filter(|a| a.is_visible_at(now))
            .take(limit)
            .cloned()
            .collect()
    }

    /// Categories that hold at least one article visible at `now`.
    pub fn categories(&self, now: DateTime<FixedOffset>) -> Vec<Category> {
        self.categories.visible(now)
    }

    /// Tags that hold at least one article visible at `now` (slug, name).
    pub fn tags(&self, now: DateTime<FixedOffset>) -> Vec<Category> {
        self.tags.visible(now)
    }

    /// Authors that hold at least one article visible at `now` (slug, name).
    pub fn authors(&self, now: DateTime<FixedOffset>) -> Vec<Category> {
        self.authors.visible(now)
    }

    pub fn category_name(&self, slug: &str) -> Option<&str> {
        self.categories.get(slug).map(|members| members.name.as_str())
    }

    /// The display name of a category, tag or author the catalog holds;
    /// `None` for the site and for one it does not hold.
    pub fn scope_name(&self, scope: &Scope) -> Option<&str> {
        let (facet, slug) = self.facet(scope)?;
        facet.get(slug).map(|members| members.name.as_str())
    }

    /// The first instant after `now` at which a future article appears.
    pub fn next_publication(&self, now: DateTime<FixedOffset>) -> Option<DateTime<FixedOffset>> {
        self.scheduled(now).map(|a| a.published).min()
    }

    /// The articles (not drafts) dated after `now`, held back until their
    /// time, the latest first.
    pub fn scheduled(&self, now: DateTime<FixedOffset>) -> impl Iterator<Item = &Arc<Article>> {
        // Newest first: the future ones lead, so this stops at the first
        // article already out instead of reading all of them.
        self.newest.iter().map(|n| &n.0).take_while(move |a| a.published > now).filter(|a| !a.draft)
    }
}

#[cfg(test)]
mod tests;
