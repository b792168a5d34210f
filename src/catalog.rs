//! The catalog: every article the store holds, in memory, ordered newest
//! first and indexed by category, plus the errors met reading the store.
//! A catalog is immutable; a change to the store builds the next
//! generation, so readers of the old one never see a half-made index.
//!
//! Invariants, kept by [`Catalog::new`]:
//! - ids are unique (a second file claiming an id is reported, not kept);
//! - article URLs are unique (a repeated slug gets `-2`, `-3`… in order of
//!   publication, so the first article keeps its URL);
//! - `articles` is sorted by publication time descending, then id.

use crate::article::{Article, ArticleError, Category};
use crate::store::Context;
use chrono::{DateTime, FixedOffset};
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};

/// The hasher of the per-generation indexes over every id and slug: SipHash
/// was about a fifth of a 100k-article `from_shared` (perf); the keys come from the
/// portal's own files, not from requests, so HashDoS resistance buys nothing.
type Fast = foldhash::fast::RandomState;
use std::sync::Arc;

/// Which articles a feed or digest draws from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    Site,
    Category(String),
}

#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub generation: u64,
    articles: Vec<Arc<Article>>,
    /// Category slug → its name and the positions of its articles in
    /// `articles` (ascending, hence newest first).
    categories: BTreeMap<String, (String, Vec<usize>)>,
    errors: Vec<ArticleError>,
}

impl Catalog {
    pub fn new(articles: Vec<Article>, errors: Vec<ArticleError>, ctx: &Context, generation: u64) -> Catalog {
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
        results: impl ExactSizeIterator<Item = &'a Result<Arc<Article>, ArticleError>>,
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
    pub fn from_shared(mut articles: Vec<Arc<Article>>, mut errors: Vec<ArticleError>, ctx: &Context, generation: u64) -> Catalog {
        // Unique ids: the file whose path sorts first keeps the id. The
        // indexes borrow the articles' strings instead of cloning every id,
        // origin and slug: every change to a large store builds a catalog.
        // The service hands them over in origin order already.
        if !articles.is_sorted_by(|a, b| a.origin <= b.origin) {
            articles.sort_by(|a, b| a.origin.cmp(&b.origin));
        }
        let keep: Vec<bool> = {
            let mut owner: HashMap<&str, &str, Fast> = HashMap::with_capacity_and_hasher(articles.len(), Fast::default());
            articles
                .iter()
                .map(|a| match owner.entry(a.id.as_str()) {
                    Entry::Occupied(first) => {
                        errors.push(ArticleError {
                            origin: a.origin.clone(),
                            line: None,
                            reason: format!(
                                "has the same identity ({:?}) as {}; give one of them another `slug`",
                                a.id,
                                first.get()
                            ),
                        });
                        false
                    }
                    Entry::Vacant(slot) => {
                        slot.insert(a.origin.as_str());
                        true
                    }
                })
                .collect()
        };
        let mut keep = keep.into_iter();
        articles.retain(|_| keep.next().unwrap_or(true));

        // Oldest first, so the first article with a slug keeps it. Sorted
        // by a compact key (one read of each article), not by comparing
        // through the `Arc`s: at 100k articles every such comparison missed
        // the cache twice, and the sort was most of a generation's time.
        let mut order: Vec<(i64, u32, usize)> = articles
            .iter()
            .enumerate()
            .map(|(i, a)| (a.published.timestamp(), a.published.timestamp_subsec_nanos(), i))
            .collect();
        order.sort_unstable_by(|x, y| {
            (x.0, x.1).cmp(&(y.0, y.1)).then_with(|| articles[x.2].id.cmp(&articles[y.2].id))
        });
        let mut slots: Vec<Option<Arc<Article>>> = articles.into_iter().map(Some).collect();
        let mut articles: Vec<Arc<Article>> = order.iter().filter_map(|&(_, _, i)| slots[i].take()).collect();
        let renames: Vec<(usize, String)> = {
            // Slugs taken so far: the articles' own, and the ones made here.
            let mut taken: HashSet<&str, Fast> = HashSet::with_capacity_and_hasher(articles.len(), Fast::default());
            let mut made: HashSet<String> = HashSet::new();
            // Next suffix to try per repeated slug: a portal with hundreds
            // of articles titled alike would otherwise cost quadratic time on
            // every generation.
            let mut next_suffix: HashMap<&str, usize> = HashMap::new();
            let mut renames = Vec::new();
            for (i, a) in articles.iter().enumerate() {
                let slug = a.slug.as_str();
                if !made.contains(slug) && taken.insert(slug) {
                    continue;
                }
                let counter = next_suffix.entry(slug).or_insert(2);
                let mut n = *counter;
                let renamed = loop {
                    let candidate = format!("{slug}-{n}");
                    if !taken.contains(candidate.as_str()) && !made.contains(&candidate) {
                        break candidate;
                    }
                    n += 1;
                };
                *counter = n + 1;
                made.insert(renamed.clone());
                renames.push((i, renamed));
            }
            renames
        };
        for (i, slug) in renames {
            let a = &mut articles[i];
            let derived = ctx.absolute(&ctx.article_url.replace("{slug}", &a.slug).replace("{id}", &a.id));
            // Copy-on-write: only a renamed duplicate stops sharing.
            let a = Arc::make_mut(a);
            if derived.as_deref() == Some(a.url.as_str()) {
                if let Some(url) = ctx.absolute(&ctx.article_url.replace("{slug}", &slug).replace("{id}", &a.id)) {
                    a.url = url;
                }
            }
            a.slug = slug;
        }
        articles.reverse();

        let mut categories: BTreeMap<String, (String, Vec<usize>)> = BTreeMap::new();
        for (i, a) in articles.iter().enumerate() {
            for c in &a.categories {
                // A lookup first: `entry` would clone the slug for every
                // membership, not just for each category's first.
                match categories.get_mut(&c.slug) {
                    Some((_, members)) => members.push(i),
                    None => {
                        categories.insert(c.slug.clone(), (c.name.clone(), vec![i]));
                    }
                }
            }
        }
        errors.sort_by(|a, b| a.origin.cmp(&b.origin));
        Catalog { generation, articles, categories, errors }
    }

    /// Every article, newest first, drafts and future ones included.
    pub fn articles(&self) -> &[Arc<Article>] {
        &self.articles
    }

    pub fn errors(&self) -> &[ArticleError] {
        &self.errors
    }

    pub fn get(&self, id: &str) -> Option<&Arc<Article>> {
        self.articles.iter().find(|a| a.id == id)
    }

    /// The newest `limit` articles of `scope` that readers may see at `now`.
    pub fn newest(&self, scope: &Scope, now: DateTime<FixedOffset>, limit: usize) -> Vec<Arc<Article>> {
        let visible = |a: &&Arc<Article>| a.is_visible_at(now);
        match scope {
            Scope::Site => self.articles.iter().filter(visible).take(limit).cloned().collect(),
            Scope::Category(slug) => match self.categories.get(slug) {
                Some((_, members)) => {
                    members.iter().map(|&i| &self.articles[i]).filter(visible).take(limit).cloned().collect()
                }
                None => Vec::new(),
            },
        }
    }

    /// Categories that hold at least one article visible at `now`.
    pub fn categories(&self, now: DateTime<FixedOffset>) -> Vec<Category> {
        self.categories
            .iter()
            .filter(|(_, (_, members))| members.iter().any(|&i| self.articles[i].is_visible_at(now)))
            .map(|(slug, (name, _))| Category { slug: slug.clone(), name: name.clone() })
            .collect()
    }

    pub fn category_name(&self, slug: &str) -> Option<&str> {
        self.categories.get(slug).map(|(name, _)| name.as_str())
    }

    /// The first instant after `now` at which a future article appears.
    pub fn next_publication(&self, now: DateTime<FixedOffset>) -> Option<DateTime<FixedOffset>> {
        self.articles.iter().filter(|a| !a.draft && a.published > now).map(|a| a.published).min()
    }
}
