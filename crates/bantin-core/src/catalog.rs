//! The catalog: every article the store holds, in memory, ordered newest
//! first and indexed by category, plus the errors met reading the store.
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
//! The indexes are persistent collections (`imbl`): a generation shares
//! every untouched node with the one before, so the next generation after
//! a change of a few articles costs a few tree paths, not a rebuild of a
//! 100k-article index ([`Catalog::apply`]). Changes that could move
//! another article's id or URL (a repeated id or slug) take the full
//! rebuild, which states the rules once.

use crate::article::{Article, ArticleError, Category};
use crate::identity;
use crate::store::Context;
use chrono::{DateTime, FixedOffset};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::BuildHasher;
use std::sync::{Arc, OnceLock};

/// Which articles a feed or digest draws from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    Site,
    Category(String),
}

/// One change of the store between two generations: what an origin (file
/// or row) gave before and what it gives now (`None`: nothing, the origin
/// is new or gone).
#[derive(Debug, Clone)]
pub struct Change {
    pub old: Option<Result<Arc<Article>, ArticleError>>,
    pub new: Option<Result<Arc<Article>, ArticleError>>,
}

/// What a store changed since its last catalog, by origin: the first old
/// and the last new result of each, so two edits of one file in a batch
/// are one change. Both the dir store's and the SQL table's state keep one.
#[derive(Debug, Clone, Default)]
pub struct Pending(BTreeMap<String, Change>);

type Read = Option<Result<Arc<Article>, ArticleError>>;

impl Pending {
    /// Notes that `origin` went from `old` to `new`.
    pub fn record(&mut self, origin: &str, old: Read, new: Read) {
        match self.0.get_mut(origin) {
            Some(change) => change.new = new,
            None => {
                self.0.insert(origin.to_string(), Change { old, new });
            }
        }
    }

    /// Forgets the changes (a whole catalog was built with them).
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// The generation after `prev` (the store's catalog before these
    /// changes): `prev` with the changes when they stay local (see
    /// [`Catalog::apply`]), else `rebuild(generation)`, the whole catalog
    /// of what the store holds now. The changes are taken either way.
    pub fn next(&mut self, prev: &Catalog, rebuild: impl FnOnce(u64) -> Catalog) -> Catalog {
        let changes: Vec<Change> = std::mem::take(&mut self.0).into_values().collect();
        prev.apply(&changes, prev.generation + 1)
            .unwrap_or_else(|| rebuild(prev.generation + 1))
    }
}

#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub generation: u64,
    /// Every kept article, newest first.
    newest: imbl::OrdSet<Newest>,
    /// Category slug → its name and its articles, newest first.
    categories: BTreeMap<String, Members>,
    /// Sorted by origin.
    errors: Vec<ArticleError>,
    /// What [`Catalog::apply`] needs to tell whether a change stays local.
    ledger: Ledger,
    /// `newest` as a slice, made when first asked for (digest planning,
    /// tests); the service's own path never asks.
    flat: OnceLock<Vec<Arc<Article>>>,
}

#[derive(Debug, Clone)]
struct Members {
    name: String,
    articles: imbl::OrdSet<Newest>,
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
            .then_with(|| other.0.id.cmp(&self.0.id))
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

/// The hashes of the ids every read article claims and of the own slugs
/// of the kept ones, each a sorted multiset ([`Keys`]), plus the slugs that
/// were renamed. A hash collision can only send a change down the full
/// rebuild, never skip it.
#[derive(Debug, Clone, Default)]
struct Ledger {
    ids: Keys,
    slugs: Keys,
    /// Own slugs that some article had to give up for a `-N` form.
    renamed: Arc<BTreeSet<String>>,
}

/// Adds `a` to each of its categories (a new category takes `a`'s name for
/// it).
fn join(categories: &mut BTreeMap<String, Members>, a: &Arc<Article>) {
    for c in a.categories.iter() {
        // A lookup first: `entry` would clone the slug for every
        // membership, not just for each category's first.
        let entry = Newest(Arc::clone(a));
        match categories.get_mut(&c.slug) {
            Some(members) => {
                members.articles.insert(entry);
            }
            None => {
                let members = Members {
                    name: c.name.clone(),
                    articles: imbl::OrdSet::unit(entry),
                };
                categories.insert(c.slug.clone(), members);
            }
        }
    }
}

fn key(s: &str) -> u64 {
    foldhash::fast::FixedState::default().hash_one(s)
}

fn sorted_keys<'a>(strings: impl Iterator<Item = &'a str>) -> Keys {
    let mut keys: Vec<u64> = strings.map(key).collect();
    keys.sort_unstable();
    Keys::from_sorted(&keys)
}

fn count(keys: &Keys, s: &str) -> usize {
    keys.count(key(s))
}

fn bump(keys: &mut Keys, s: &str, up: bool) {
    if up {
        keys.insert(key(s));
    } else {
        keys.remove(key(s));
    }
}

/// Keys per chunk of a [`Keys`] when built; a chunk splits at twice this.
const KEYS_CHUNK: usize = 1024;

/// A sorted multiset of 8-byte keys, in sorted chunks that generations
/// share: a change copies one chunk of a few KB. One flat vector (8 bytes
/// an article, like this) was copied whole by every generation that
/// changed it, twice 800 KB at 100k articles, fresh pages each time; a
/// persistent map costs ~50 bytes an entry.
///
/// Invariant: no chunk is empty, and the chunks in order are one sorted
/// sequence.
#[derive(Debug, Clone, Default)]
struct Keys(Vec<Arc<Vec<u64>>>);

impl Keys {
    fn from_sorted(keys: &[u64]) -> Keys {
        Keys(keys.chunks(KEYS_CHUNK).map(|c| Arc::new(c.to_vec())).collect())
    }

    /// The first chunk whose last key is at least `k` (or the end): where
    /// the first `k` is, if any.
    fn chunk_of(&self, k: u64) -> usize {
        self.0.partition_point(|c| c.last().is_some_and(|&last| last < k))
    }

    fn count(&self, k: u64) -> usize {
        // A run of equal keys may go on into the next chunks.
        self.0[self.chunk_of(k)..]
            .iter()
            .take_while(|c| c.first().is_some_and(|&first| first <= k))
            .map(|c| c.partition_point(|&x| x <= k) - c.partition_point(|&x| x < k))
            .sum()
    }

    fn insert(&mut self, k: u64) {
        let Some(last) = self.0.len().checked_sub(1) else {
            self.0.push(Arc::new(vec![k]));
            return;
        };
        let i = self.chunk_of(k).min(last);
        let chunk = Arc::make_mut(&mut self.0[i]);
        let at = chunk.partition_point(|&x| x < k);
        chunk.insert(at, k);
        if chunk.len() >= 2 * KEYS_CHUNK {
            let tail = chunk.split_off(KEYS_CHUNK);
            self.0.insert(i + 1, Arc::new(tail));
        }
    }

    /// Removes one `k`, if held.
    fn remove(&mut self, k: u64) {
        let i = self.chunk_of(k);
        let Some(chunk) = self.0.get_mut(i) else { return };
        let at = chunk.partition_point(|&x| x < k);
        if chunk.get(at) != Some(&k) {
            return;
        }
        let chunk = Arc::make_mut(chunk);
        chunk.remove(at);
        if chunk.is_empty() {
            self.0.remove(i);
        }
    }

    /// Whether some key is held twice.
    fn has_repeats(&self) -> bool {
        let mut keys = self.0.iter().flat_map(|c| c.iter());
        let Some(mut prev) = keys.next() else { return false };
        keys.any(|k| std::mem::replace(&mut prev, k) == k)
    }
}

impl Ledger {
    /// Whether `a`'s id and slug are held `held` times (itself, or not
    /// yet) and its slug is clear of every rename: then adding or removing
    /// it moves no other article's id or URL.
    fn alone(&self, a: &Article, held: usize) -> bool {
        count(&self.ids, &a.id) == held
            && count(&self.slugs, &a.slug) == held
            && !self.near_rename(&a.slug)
    }

    /// Whether `slug` could take part in a rename: it was renamed, or has
    /// the shape (`base-…`) of a slug made from one that was.
    fn near_rename(&self, slug: &str) -> bool {
        self.renamed.iter().any(|base| {
            slug == base
                || slug
                    .strip_prefix(base.as_str())
                    .is_some_and(|rest| rest.starts_with('-'))
        })
    }
}

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
        let mut ledger = Ledger {
            ids: sorted_keys(articles.iter().map(|a| a.id.as_ref())),
            ..Ledger::default()
        };
        // The rules of `identity`, in its order. Unique ids: the file whose
        // path sorts first keeps the id. The service hands the articles
        // over in origin order already.
        if !articles.is_sorted_by(|a, b| a.origin <= b.origin) {
            articles.sort_by(|a, b| a.origin.cmp(&b.origin));
        }
        // Distinct hashes mean distinct ids: the usual case needs no map of
        // every id (~4 MB at 100k articles, at the moment of the start-up peak).
        if ledger.ids.has_repeats() {
            identity::keep_first_ids(&mut articles, |a, first| {
                errors.push(identity::same_identity(&a.origin, &a.id, &first.origin));
            });
        }
        ledger.slugs = sorted_keys(articles.iter().map(|a| a.slug.as_ref()));
        identity::sort_oldest_first(&mut articles);
        // Distinct slugs: nothing to rename.
        let renames = if ledger.slugs.has_repeats() { identity::renames(&articles) } else { Vec::new() };
        let mut renamed = BTreeSet::new();
        for (i, slug) in renames {
            let a = &mut articles[i];
            renamed.insert(a.slug.to_string());
            // Copy-on-write: only a renamed duplicate stops sharing.
            identity::rename(Arc::make_mut(a), &slug, ctx);
        }
        ledger.renamed = Arc::new(renamed);

        let mut categories: BTreeMap<String, Members> = BTreeMap::new();
        // Newest first, so each category's name is its newest article's.
        for a in articles.iter().rev() {
            join(&mut categories, a);
        }
        let newest: imbl::OrdSet<Newest> = articles.into_iter().map(Newest).collect();
        errors.sort_by(|a, b| a.origin.cmp(&b.origin));
        Catalog {
            generation,
            newest,
            categories,
            errors,
            ledger,
            flat: OnceLock::new(),
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
            errors: self.errors.clone(),
            ledger: self.ledger.clone(),
            flat: OnceLock::new(),
        };
        let mut touched: BTreeSet<String> = BTreeSet::new();
        // Every removal before any addition: a batch may move an id or a
        // slug from one file to another.
        for change in changes {
            match &change.old {
                Some(Ok(a)) => {
                    if !next.ledger.alone(a, 1) {
                        return None;
                    }
                    next.newest.remove(&Newest(Arc::clone(a)))?;
                    bump(&mut next.ledger.ids, &a.id, false);
                    bump(&mut next.ledger.slugs, &a.slug, false);
                    for c in a.categories.iter() {
                        next.categories
                            .get_mut(&c.slug)?
                            .articles
                            .remove(&Newest(Arc::clone(a)))?;
                        touched.insert(c.slug.clone());
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
                    bump(&mut next.ledger.ids, &a.id, true);
                    bump(&mut next.ledger.slugs, &a.slug, true);
                    next.newest.insert(Newest(Arc::clone(a)));
                    join(&mut next.categories, a);
                    touched.extend(a.categories.iter().map(|c| c.slug.clone()));
                }
                Some(Err(e)) => {
                    let at = next.errors.partition_point(|held| held.origin <= e.origin);
                    next.errors.insert(at, e.clone());
                }
                None => {}
            }
        }
        for slug in touched {
            let name = next.categories.get(&slug).and_then(|members| {
                let newest = members.articles.get_min()?;
                newest
                    .0
                    .categories
                    .iter()
                    .find(|c| c.slug == slug)
                    .map(|c| c.name.clone())
            });
            match name {
                Some(name) => {
                    if let Some(members) = next.categories.get_mut(&slug) {
                        members.name = name;
                    }
                }
                None => {
                    next.categories.remove(&slug);
                }
            }
        }
        Some(next)
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
        self.newest.iter().map(|n| &n.0).find(|a| &*a.id == id)
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
        let set = match scope {
            Scope::Site => &self.newest,
            Scope::Category(slug) => match self.categories.get(slug) {
                Some(members) => &members.articles,
                None => return Vec::new(),
            },
        };
        set.iter()
            .map(|n| &n.0)
            .filter(|a| a.is_visible_at(now))
            .take(limit)
            .cloned()
            .collect()
    }

    /// Categories that hold at least one article visible at `now`.
    pub fn categories(&self, now: DateTime<FixedOffset>) -> Vec<Category> {
        self.categories
            .iter()
            .filter(|(_, members)| members.articles.iter().any(|n| n.0.is_visible_at(now)))
            .map(|(slug, members)| Category {
                slug: slug.clone(),
                name: members.name.clone(),
            })
            .collect()
    }

    pub fn category_name(&self, slug: &str) -> Option<&str> {
        self.categories
            .get(slug)
            .map(|members| members.name.as_str())
    }

    /// The first instant after `now` at which a future article appears.
    pub fn next_publication(&self, now: DateTime<FixedOffset>) -> Option<DateTime<FixedOffset>> {
        // Newest first: the future ones lead, so this stops at the first
        // article already out instead of reading all of them.
        self.newest
            .iter()
            .map(|n| &n.0)
            .take_while(|a| a.published > now)
            .filter(|a| !a.draft)
            .map(|a| a.published)
            .min()
    }
}

#[cfg(test)]
mod tests {
    //! [`Catalog::apply`] against the full rebuild: for arbitrary stores and
    //! batches of edits, whenever `apply` takes a change it must give the
    //! catalog that [`Catalog::from_results`] gives for the store after it,
    //! and ordinary edits (no repeated id or slug) must stay on that path.

    use super::*;
    use crate::article::Content;
    use chrono::TimeZone;
    use proptest::prelude::*;

    proptest! {
        /// `Keys` against a plain sorted vector, through inserts and
        /// removals that split chunks and empty them (small key range, so
        /// runs of equal keys cross chunk boundaries).
        #[test]
        fn keys_count_like_a_sorted_vec(
            start in proptest::collection::vec(0u64..40, 0..3000),
            ops in proptest::collection::vec((any::<bool>(), 0u64..40), 0..3000),
        ) {
            let mut model = start.clone();
            model.sort_unstable();
            let mut keys = Keys::from_sorted(&model);
            for (up, k) in ops {
                if up {
                    keys.insert(k);
                    let at = model.partition_point(|&x| x < k);
                    model.insert(at, k);
                } else {
                    keys.remove(k);
                    let at = model.partition_point(|&x| x < k);
                    if model.get(at) == Some(&k) {
                        model.remove(at);
                    }
                }
            }
            let flat: Vec<u64> = keys.0.iter().flat_map(|c| c.iter().copied()).collect();
            prop_assert_eq!(&flat, &model);
            prop_assert!(keys.0.iter().all(|c| !c.is_empty()), "an empty chunk is kept");
            for k in 0..41 {
                let want = model.iter().filter(|&&x| x == k).count();
                prop_assert_eq!(keys.count(k), want, "count of {}", k);
            }
            prop_assert_eq!(keys.has_repeats(), model.windows(2).any(|w| w[0] == w[1]));
        }
    }

    fn ctx() -> Context {
        Context::new(chrono_tz::Asia::Ho_Chi_Minh, url::Url::parse("https://yenbai.gov.vn/").expect("a URL"), "tin-tuc/{slug}")
    }

    /// A small pool of ids, slugs, dates and categories, so repeats happen.
    #[derive(Debug, Clone)]
    struct Spec {
        id: u16,
        slug: u16,
        minute: u8,
        cats: Vec<u8>,
        draft: bool,
        error: bool,
    }

    fn spec(ids: u16, slugs: u16) -> impl Strategy<Value = Spec> {
        (
            0..ids,
            0..slugs,
            0u8..6,
            proptest::collection::vec(0u8..4, 0..3),
            proptest::bool::weighted(0.1),
            proptest::bool::weighted(0.1),
        )
            .prop_map(|(id, slug, minute, cats, draft, error)| Spec {
                id,
                slug,
                minute,
                cats,
                draft,
                error,
            })
    }

    fn result(origin: &str, s: &Spec, version: u32) -> Result<Arc<Article>, ArticleError> {
        if s.error {
            return Err(ArticleError {
                origin: origin.into(),
                line: Some(1),
                reason: format!("bad {version}"),
            });
        }
        // "bai" and "bai-N": own slugs shaped like made ones, to meet
        // the renaming rules.
        let slug = match s.slug {
            0 => "bai".to_string(),
            n => format!("bai-{n}"),
        };
        let names = ["Kinh tế", "Văn hóa", "Du lịch", "kinh tế"];
        let slugs = ["kinh-te", "van-hoa", "du-lich", "kinh-te"];
        let mut categories: Vec<Category> = Vec::new();
        for &c in &s.cats {
            let c = Category {
                slug: slugs[c as usize].into(),
                name: names[c as usize].into(),
            };
            if !categories.iter().any(|k| k.slug == c.slug) {
                categories.push(c);
            }
        }
        let published = chrono::FixedOffset::east_opt(7 * 3600)
            .and_then(|tz| {
                tz.with_ymd_and_hms(2026, 1, 1, 8, s.minute.into(), 0)
                    .single()
            })
            .expect("a valid date");
        Ok(Arc::new(Article {
            id: format!("id{}", s.id).into(),
            link: ctx().link(ctx().absolute(&format!("tin-tuc/{slug}")).unwrap_or_default(), &slug),
            slug: slug.into(),
            title: format!("{origin} v{version}"),
            published,
            updated: None,
            content: Content::ready(String::new(), String::new()),
            fingerprint: version.into(),
            categories: categories.into(),
            tags: Vec::new(),
            author: None,
            image: None,
            draft: s.draft,
            origin: origin.into(),
        }))
    }

    /// Each article's (id, slug, URL, title); each category's (slug, name,
    /// article ids); each error.
    type Seen = (
        Vec<(String, String, String, String)>,
        Vec<(String, String, Vec<String>)>,
        Vec<String>,
    );

    /// What a reader of a catalog can see.
    fn seen(c: &Catalog) -> Seen {
        let articles = c
            .articles()
            .iter()
            .map(|a| (a.id.to_string(), a.slug.to_string(), a.url().into_owned(), a.title.clone()))
            .collect();
        let later = chrono::FixedOffset::east_opt(0)
            .and_then(|tz| tz.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).single())
            .expect("a valid date");
        let categories = c
            .categories
            .iter()
            .map(|(slug, m)| {
                let ids = c
                    .newest(&Scope::Category(slug.clone()), later, usize::MAX)
                    .iter()
                    .map(|a| a.id.to_string())
                    .collect();
                (slug.clone(), m.name.clone(), ids)
            })
            .collect();
        let errors = c.errors().iter().map(|e| e.to_string()).collect();
        (articles, categories, errors)
    }

    /// Builds `before`, applies `edits` (origin index → new spec, or gone)
    /// both ways; whether `apply` took it.
    fn check(before: &[Spec], edits: &[(usize, Option<Spec>)]) -> Result<bool, TestCaseError> {
        let mut store: BTreeMap<String, Result<Arc<Article>, ArticleError>> = BTreeMap::new();
        for (i, s) in before.iter().enumerate() {
            let origin = format!("f{i:02}.md");
            store.insert(origin.clone(), result(&origin, s, 0));
        }
        let prev = Catalog::from_results(store.values().map(|r| r.as_ref()), &ctx(), 1);
        let mut changes: BTreeMap<String, Change> = BTreeMap::new();
        for (v, (i, s)) in edits.iter().enumerate() {
            let origin = format!("f{i:02}.md");
            let old = store.get(&origin).cloned();
            let new = s.as_ref().map(|s| result(&origin, s, v as u32 + 1));
            match &new {
                Some(r) => store.insert(origin.clone(), r.clone()),
                None => store.remove(&origin),
            };
            changes
                .entry(origin)
                .and_modify(|c| c.new = new.clone())
                .or_insert(Change { old, new });
        }
        let changes: Vec<Change> = changes.into_values().collect();
        let full = Catalog::from_results(store.values().map(|r| r.as_ref()), &ctx(), 2);
        match prev.apply(&changes, 2) {
            Some(next) => {
                prop_assert_eq!(seen(&next), seen(&full));
                prop_assert_eq!(next.len(), full.len());
                Ok(true)
            }
            None => Ok(false),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn apply_gives_the_full_rebuild(
            before in proptest::collection::vec(spec(12, 8), 0..14),
            edits in proptest::collection::vec((0usize..16, proptest::option::weighted(0.8, spec(12, 8))), 1..4),
        ) {
            check(&before, &edits)?;
        }

        #[test]
        fn edits_of_unique_articles_stay_incremental(
            n in 1usize..30,
            edits in proptest::collection::vec((0usize..40, proptest::option::weighted(0.8, (0u8..6, proptest::collection::vec(0u8..4, 0..3)))), 1..4),
        ) {
            // Every article its own id and slug; edits keep them unique.
            let before: Vec<Spec> = (0..n)
                .map(|i| Spec { id: i as u16, slug: 1000 + i as u16, minute: (i % 6) as u8, cats: vec![(i % 4) as u8], draft: false, error: false })
                .collect();
            let edits: Vec<(usize, Option<Spec>)> = edits
                .into_iter()
                .map(|(i, s)| {
                    (i, s.map(|(minute, cats)| Spec { id: 100 + i as u16, slug: 1100 + i as u16, minute, cats, draft: false, error: false }))
                })
                .collect();
            // Each origin keeps one id for all its versions.
            let mut seen_origin = std::collections::HashSet::new();
            let edits: Vec<_> = edits.into_iter().filter(|(i, _)| seen_origin.insert(*i)).collect();
            let before: Vec<Spec> = before
                .into_iter()
                .enumerate()
                .map(|(i, s)| if seen_origin.contains(&i) { Spec { id: 100 + i as u16, slug: 1100 + i as u16, ..s } } else { s })
                .collect();
            prop_assert!(check(&before, &edits)?, "a local edit took the full rebuild");
        }
    }
}
