//! Making the next generation of the cache: [`refresh_feeds`] renders the
//! feeds whose items changed and carries the others over, [`refresh`] adds
//! the index pages (the service publishes those in a second swap).

use super::{catalog_modified, to_system_time, Body, Cached, FeedCache, Feeds, Source, documents, index, lazy, link_value, Entry, Renderer};
use crate::article::Article;
use crate::catalog::{Catalog, Scope, Stamped};
use crate::feeds::{self, FeedId, FeedSettings, Format, Pieces, Used};
use chrono::{DateTime, FixedOffset};
use rayon::prelude::*;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

/// What one refresh did, for logs and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefreshStats {
    pub rendered: usize,
    /// On-demand feeds whose items changed: given an empty cell, rendered
    /// on their first request ([`lazy`]).
    pub deferred: usize,
    /// On-demand feeds rendered at refresh (counted in `rendered` too): a
    /// reader asked for them since they last changed ([`lazy::Asked`]).
    pub warmed: usize,
    pub kept: usize,
    pub dropped: usize,
    pub elapsed: Duration,
}

/// Builds the cache for `catalog` at `now`, reusing every feed of `prev`
/// whose items did not change. Pass `None` as `prev` to render everything
/// (after the feed settings changed).
pub fn refresh(
    prev: Option<&FeedCache>,
    catalog: &Catalog,
    settings: &FeedSettings,
    now: DateTime<FixedOffset>,
) -> (FeedCache, RefreshStats) {
    with_index(refresh_feeds(prev, catalog, settings, now), catalog, settings, now)
}

/// A refresh's feeds with their generation's index pages.
fn with_index(
    (mut cache, mut stats): (FeedCache, RefreshStats),
    catalog: &Catalog,
    settings: &FeedSettings,
    now: DateTime<FixedOffset>,
) -> (FeedCache, RefreshStats) {
    let started = Instant::now();
    if let Some(pages) = cache.next_index(catalog, settings, now) {
        cache.index = Some(pages.0);
    }
    stats.elapsed += started.elapsed();
    (cache, stats)
}

/// The index pages of a generation, made by [`FeedCache::next_index`].
#[derive(Debug, Clone)]
pub struct IndexPages(index::Pages);

impl FeedCache {
    /// The index pages for `catalog` at `now` (this cache's generation),
    /// when they differ from the ones this cache holds; `None` when these
    /// still stand (or no index page could be made).
    pub fn next_index(&self, catalog: &Catalog, settings: &FeedSettings, now: DateTime<FixedOffset>) -> Option<IndexPages> {
        let pages = index::refresh(self.index.as_ref(), catalog, settings, now, || catalog_modified(&self.feeds));
        let same = self.index.as_ref().is_some_and(|old| old.same_as(&pages));
        (!same).then_some(IndexPages(pages))
    }

    /// This cache with `pages` as its index pages.
    pub fn with_index(&self, pages: &IndexPages) -> FeedCache {
        FeedCache { index: Some(pages.0.clone()), ..self.clone() }
    }
}

/// The first half of [`refresh`]: every feed and document of the next
/// generation, with the index pages of `prev` (none without one) until
/// [`FeedCache::next_index`] and [`FeedCache::with_index`] give this
/// generation's. The service publishes the feeds a change touches first
/// and the index pages, which nothing polls, in a second swap.
pub fn refresh_feeds(
    prev: Option<&FeedCache>,
    catalog: &Catalog,
    settings: &FeedSettings,
    now: DateTime<FixedOffset>,
) -> (FeedCache, RefreshStats) {
    refresh_from(prev, prev, catalog, settings, now)
}

/// [`refresh`] after the feed settings changed, which may change any
/// feed's bytes: nothing of `served` is reused, but each feed's
/// Last-Modified moves past the one `served` gave it ([`last_modified`]),
/// so a reader asking with If-Modified-Since gets the new bytes.
pub fn refresh_all(
    served: &FeedCache,
    catalog: &Catalog,
    settings: &FeedSettings,
    now: DateTime<FixedOffset>,
) -> (FeedCache, RefreshStats) {
    with_index(refresh_from(None, Some(served), catalog, settings, now), catalog, settings, now)
}

/// [`refresh_feeds`], reusing what `prev` has of unchanged feeds and
/// documents, and moving each re-rendered feed's Last-Modified past the
/// one `dates` gave it.
fn refresh_from(
    prev: Option<&FeedCache>,
    dates: Option<&FeedCache>,
    catalog: &Catalog,
    settings: &FeedSettings,
    now: DateTime<FixedOffset>,
) -> (FeedCache, RefreshStats) {
    let started = Instant::now();
    let hub = settings.websub_hub.as_ref().and_then(|hub| link_value(hub.as_str(), "hub"));
    let shelf = prev.and_then(|p| p.renderer.as_ref()).map(|r| Arc::clone(&r.pieces)).unwrap_or_default();
    let known = shelf.get();
    let renderer = Renderer { settings: settings.clone(), hub, pieces: shelf };
    // A refresh with a previous generation follows a change: it takes the
    // kept pieces and keeps its own, and makes the quick gzip form (the
    // final one follows from the idle worker). A start renders whole and
    // keeps nothing (`shelve`).
    let after_change = prev.is_some();
    let make = if after_change { Entry::quick } else { Entry::new };
    let used = Mutex::new(Vec::new());
    let render = |fresh: Vec<Fresh>| -> Rendered {
        fresh
            .into_par_iter()
            .map(|Fresh { feed, key, source, modified, when }| {
                let body = match when {
                    When::OnDemand => Body::empty(modified),
                    When::Now => {
                        let (entry, pieces) = renderer.render(&feed, &source, modified, make, after_change.then_some(&known));
                        used.lock().unwrap_or_else(PoisonError::into_inner).extend(pieces);
                        Body::Ready(Arc::new(entry))
                    }
                };
                (key, Arc::new(Cached::new(body, source)))
            })
            .collect()
    };

    let mut planner = Planner::new(prev, dates, catalog, settings, now);
    let changed = prev.and_then(|p| Some((p, catalog.scopes_changed_since(p.generation, p.planned_at?, now)?)));
    let (rendered, planned, mut next) = match changed {
        Some((prev, scopes)) => {
            planner.after_change(scopes);
            let planned = started.elapsed();
            (render(std::mem::take(&mut planner.fresh)), planned, Feeds::with_lazy_of(&prev.feeds))
        }
        None => {
            let (mut rendered, planned) = planner.all_beside(render, started);
            rendered.extend(render(std::mem::take(&mut planner.fresh)));
            (rendered, planned, Feeds::default())
        }
    };
    let Planner { kept, warmed, carried, relisted, replaced, gone, .. } = planner;
    shelve(&renderer, after_change, known, used);

    let mut stats = RefreshStats::default();
    let fed = started.elapsed();
    // The on-demand feeds carried in their shards, unplanned.
    let untouched = next.lazy_len() - replaced;
    gone.iter().for_each(|path| next.remove(path));
    stats.kept += kept.len() + untouched;
    stats.warmed = warmed;
    next.extend(kept);
    for (path, cached) in rendered {
        if matches!(cached.body, Body::OnDemand(..)) {
            stats.deferred += 1;
        } else {
            stats.rendered += 1;
        }
        next.insert(path, cached);
    }
    stats.dropped = prev.map_or(0, |p| p.feeds.len() - documents::count(p) - carried - untouched);
    let same_listing = prev.is_some() && !relisted && stats.dropped == 0;
    documents::add(&mut next, prev, same_listing, catalog, settings, now, &mut stats);

    stats.elapsed = started.elapsed();
    // The plan and the eager feeds' render overlap: `feeds_us` is the
    // renders' time after the plan's end.
    tracing::debug!(
        plan_us = planned.as_micros() as u64,
        feeds_us = fed.saturating_sub(planned).as_micros() as u64,
        documents_us = (stats.elapsed - fed).as_micros() as u64,
        "feeds refreshed"
    );
    let cache = FeedCache {
        generation: catalog.generation,
        articles: catalog.len(),
        errors: catalog.errors().len(),
        feeds: Arc::new(next),
        index: prev.and_then(|p| p.index.clone()),
        previews: settings.browser_view.then(|| Arc::new(settings.clone())),
        renderer: Some(Arc::new(renderer)),
        planned_at: Some(now),
    };
    (cache, stats)
}

/// Puts the pieces this refresh used on the shelf, in place of those it
/// was given: after a change, the items of the feeds a change touches (a
/// category's and the site's, ~2 MB at 100k articles), up to
/// [`SHELF_BYTES`]. A start keeps none: every category's items would be
/// held for changes that touch one category at a time.
fn shelve(renderer: &Renderer, after_change: bool, known: Pieces, used: Mutex<Vec<Used>>) {
    if after_change {
        // The last ones first: those the new set does not share are freed.
        drop(known);
        let used = Pieces::from_used(used.into_inner().unwrap_or_else(PoisonError::into_inner));
        let kept = within(used, SHELF_BYTES);
        tracing::debug!(pieces = kept.len(), bytes = kept.bytes(), "item pieces kept for the next change");
        renderer.pieces.put(kept);
    }
}

/// The most bytes of pieces a refresh keeps: a change that touched many
/// categories (a bulk import, a rescan) would hold their items as a start
/// would; the next change then renders its items whole, as after a start.
const SHELF_BYTES: usize = 16 << 20;

/// `pieces`, or none when they are over `limit` bytes.
pub(super) fn within(pieces: Pieces, limit: usize) -> Pieces {
    if pieces.bytes() <= limit { pieces } else { Pieces::default() }
}

/// Feeds rendered (or given their on-demand cells), by path.
type Rendered = Vec<(Arc<str>, Arc<Cached>)>;

/// A feed a refresh renders, at refresh or on demand, by its path (the
/// cache's key), last modified at `modified`.
struct Fresh {
    feed: FeedId,
    key: Arc<str>,
    source: Arc<Source>,
    modified: DateTime<FixedOffset>,
    when: When,
}

/// When a fresh feed is rendered.
enum When {
    /// In this refresh: the site and category feeds, and the tag and
    /// author feeds a reader asked for since they last changed.
    Now,
    /// On its first request ([`lazy`]).
    OnDemand,
}

/// What planning a refresh's feeds reads, a buffer for the paths it
/// looks up, and its plans: the feeds carried over (by their paths) and
/// the ones to render.
struct Planner<'a> {
    prev: Option<&'a FeedCache>,
    dates: Option<&'a FeedCache>,
    catalog: &'a Catalog,
    settings: &'a FeedSettings,
    now: DateTime<FixedOffset>,
    path: String,
    kept: Vec<(Arc<str>, Arc<Cached>)>,
    fresh: Vec<Fresh>,
    /// On-demand feeds planned for this refresh ([`lazy::WARM_LIMIT`]).
    warmed: usize,
    /// How many feeds of `prev` this generation has (kept or rendered
    /// again), and whether one is new or renamed: whether the OPML list,
    /// made of the feeds' paths and names alone, stands.
    carried: usize,
    relisted: bool,
    /// After a change: how many of `prev`'s on-demand feeds the planned
    /// scopes have, and those of them whose scopes have nothing to show.
    replaced: usize,
    gone: Vec<Arc<str>>,
}

impl<'a> Planner<'a> {
    fn new(
        prev: Option<&'a FeedCache>,
        dates: Option<&'a FeedCache>,
        catalog: &'a Catalog,
        settings: &'a FeedSettings,
        now: DateTime<FixedOffset>,
    ) -> Planner<'a> {
        let (path, kept, fresh) = (String::new(), Vec::new(), Vec::new());
        let (carried, replaced, gone) = (0, 0, Vec::new());
        Planner { prev, dates, catalog, settings, now, path, kept, fresh, warmed: 0, carried, relisted: false, replaced, gone }
    }

    /// Plans every scope, the site's and categories' first: their feeds
    /// render while the tags and authors are planned (with thousands of
    /// those, the plan took as long as the render: 3-5 ms each at 100k, one
    /// core). Their feeds rendered, and when the plan was done.
    fn all_beside(&mut self, render: impl Fn(Vec<Fresh>) -> Rendered + Sync, started: Instant) -> (Rendered, Duration) {
        let mut scopes = feeds::all_scopes(self.catalog, self.settings, self.now).into_iter().peekable();
        while let Some(scope) = scopes.next_if(|s| !lazy::on_demand(&s.scope)) {
            self.scope(scope);
        }
        let eager = std::mem::take(&mut self.fresh);
        rayon::join(
            || render(eager),
            || {
                scopes.for_each(|scope| self.scope(scope));
                started.elapsed()
            },
        )
    }

    /// After a change: every eager scope (the site and categories, few) and
    /// of the on-demand ones only those whose stamps may not hold since
    /// `prev` (`changed`, [`Catalog::scopes_changed_since`]); the others'
    /// feeds stay in their shards, unvisited.
    fn after_change(&mut self, changed: BTreeSet<Scope>) {
        // The scopes not on demand.
        self.catalog.stamped_scopes(self.now, false, false).into_iter().for_each(|scope| self.scope(scope));
        self.changed_on_demand(changed);
    }

    /// Plans the on-demand scopes among `scopes` that the settings publish;
    /// a scope with nothing to show any more has its feeds of `prev` noted
    /// as gone.
    fn changed_on_demand(&mut self, scopes: BTreeSet<Scope>) {
        for scope in scopes.into_iter().filter(|s| lazy::on_demand(s) && feeds::publishes(self.settings, s)) {
            let mut held = Vec::new();
            for format in Format::ALL {
                FeedId::write_path_of(&scope, format, &mut self.path);
                if let Some((path, _)) = self.prev.and_then(|p| p.feeds.get_key_value(self.path.as_str())) {
                    held.push(Arc::clone(path));
                }
            }
            self.replaced += held.len();
            match self.catalog.stamped_group(scope, self.now) {
                Some(stamped) => self.scope(stamped),
                None => self.gone.extend(held),
            }
        }
    }

    /// Plans a scope's feeds, one a format. A feed whose scope's stamp
    /// still holds is carried over without reading its items; the others'
    /// items are read once for the three formats and compared with what
    /// each was rendered from.
    fn scope(&mut self, Stamped { scope, name, stamp }: Stamped) {
        let mut read: Option<Arc<Source>> = None;
        for format in Format::ALL {
            FeedId::write_path_of(&scope, format, &mut self.path);
            let old = self.prev.and_then(|p| p.feeds.get_key_value(self.path.as_str()));
            self.carried += usize::from(old.is_some());
            if let Some((key, old)) = old.filter(|(_, c)| c.source.still_stands(name, Some(&stamp), self.now)) {
                self.kept.push((Arc::clone(key), Arc::clone(old)));
                continue;
            }
            let feed = FeedId::new(scope.clone(), format);
            let source = Arc::clone(read.get_or_insert_with(|| {
                let items = feeds::items(&feed, self.catalog, self.settings, self.now);
                Arc::new(Source { title: name.map(str::to_string), items, stamp: Some(stamp.clone()) })
            }));
            match old.filter(|(_, c)| c.source.same_as(&source)) {
                // The same items under a new stamp, which the next refresh
                // compares with.
                Some((key, same)) => self.kept.push((Arc::clone(key), Arc::new(Cached { source, ..(**same).clone() }))),
                None => {
                    self.relisted |= old.is_none_or(|(_, c)| c.source.title != source.title);
                    let before = self.dates.and_then(|d| d.feeds.get(self.path.as_str())).map(|c| c.body.modified_at());
                    let modified = last_modified(&source.items, before, self.now);
                    let when = self.when(&feed, old.map(|(_, c)| &**c));
                    self.fresh.push(Fresh { feed, key: Arc::from(self.path.as_str()), source, modified, when });
                }
            }
        }
    }

    /// When `feed`, whose items changed since `old` was rendered, is
    /// rendered: tag and author feeds on demand ([`lazy`]), unless a reader
    /// asked for `old`, up to [`lazy::WARM_LIMIT`] of them.
    fn when(&mut self, feed: &FeedId, old: Option<&Cached>) -> When {
        if !lazy::on_demand(&feed.scope) {
            return When::Now;
        }
        if old.is_some_and(|c| c.asked.was()) && self.warmed < lazy::WARM_LIMIT {
            self.warmed += 1;
            return When::Now;
        }
        When::OnDemand
    }
}

/// A re-rendered feed's Last-Modified: its newest item's change; but when
/// that is no later than what the feed said `before` (an item was removed,
/// or one below the newest changed), this refresh's moment, at least a
/// second past it. A reader that asks with If-Modified-Since alone got a
/// 304 for the bytes it had, and kept a retracted article.
fn last_modified(items: &[Arc<Article>], before: Option<SystemTime>, now: DateTime<FixedOffset>) -> DateTime<FixedOffset> {
    let newest = feeds::newest_change(items);
    match before {
        Some(before) if to_system_time(newest) <= before => {
            let past_it = chrono::DateTime::<chrono::Utc>::from(before + Duration::from_secs(1)).with_timezone(now.offset());
            now.max(past_it)
        }
        _ => newest,
    }
}
