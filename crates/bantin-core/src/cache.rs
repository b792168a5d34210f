//! The feed cache: every feed and the index page, rendered once per change
//! and kept as gzip and brotli bytes with their validators, so answering a
//! request is a map look-up and a clone of reference-counted bytes. The
//! identity bytes are kept only once a client has asked for them: nearly
//! every feed reader takes gzip, and the identity form of 42 full-content
//! feeds was ~15 MB that most servers never send (issue 6, memory).
//!
//! Invariants:
//! - a [`FeedCache`] is immutable; [`refresh`] builds the next one from the
//!   previous one and a catalog, and the service publishes it with a single
//!   pointer swap, so a reader sees the old cache or the new one, never a mix;
//! - only feeds whose items changed (compared by identity, modification time
//!   and content) or whose title changed are rendered again; the others are
//!   carried over as they are (same bytes, same ETag), unread while their
//!   scope's stamp holds (`catalog::Stamp`), and after a change a tag or
//!   author scope is not even visited unless its stamp may have failed
//!   (`Catalog::scopes_changed_since`; its feeds stay in shared shards,
//!   [`map`]); a tag or author feed is
//!   rendered here only if a reader asked for it since it last changed,
//!   the others on their first request ([`lazy`]), into a cell carried
//!   over the same way;
//! - the ETag is a hash of the identity bytes, with `-gz`/`-br` suffixes for
//!   the compressed forms, so equal bytes always get the same validator,
//!   across restarts too;
//! - `refresh` is pure apart from the CPU it burns: `now` is an argument;
//! - brotli is the slow one (quality 9 takes ~50 ms for a 300 KB feed), so a
//!   fresh entry is published with gzip first and gets its
//!   brotli form in a later swap (the service's idle worker and
//!   [`FeedCache::merge_finished`], matched by content hash); until then `br`
//!   clients get gzip. A representation's bytes never change under its ETag.
//! - likewise a feed rendered after a change (not at start or reload) is
//!   first published with a quick gzip form (level 1, ETag suffix `-gz1`,
//!   [`Entry::quick`]), and the worker puts the final one (level 7, `-gz`)
//!   in its place, before any brotli form: gzip was the largest part of
//!   the write→served latency. Either tag of the content answers 304.

use crate::article::Article;
use crate::catalog::Stamp;
use crate::feeds::{FeedId, FeedSettings};
use bytes::Bytes;
use http::HeaderValue;
use chrono::{DateTime, FixedOffset};
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

mod entry;
mod headers;
mod documents;
mod index;
mod lazy;
mod map;
mod preview;
mod refresh;
pub use refresh::{IndexPages, RefreshStats, refresh, refresh_all, refresh_feeds};
pub use lazy::WARM_LIMIT;
use lazy::{Asked, Body, Renderer};
use headers::{VARY_ENCODING, link_value};
pub use entry::{Encoding, Entry, Representation};
use entry::{content_hash, to_system_time};
pub use index::index_page;
pub use preview::{PREVIEW_ITEMS, preview_page};

/// What a feed was rendered from, to tell whether it must be rendered
/// again: its title (category names can change) and its items, and the
/// stamp of its scope when they were read, which tells a later refresh
/// that they still stand without reading them again.
#[derive(Debug, Clone)]
struct Source {
    title: Option<String>,
    items: Vec<Arc<Article>>,
    stamp: Option<Stamp>,
}

impl Source {
    /// A document's source: only a name, no items.
    fn named(title: Option<String>, items: Vec<Arc<Article>>) -> Source {
        Source { title, items, stamp: None }
    }

    /// Whether this source's items are still its scope's at `now`, which
    /// `title` and `stamp` (this generation's) describe, so that the feed
    /// is carried over unread.
    fn still_stands(&self, title: Option<&str>, stamp: Option<&Stamp>, now: DateTime<FixedOffset>) -> bool {
        self.title.as_deref() == title
            && matches!((&self.stamp, stamp), (Some(old), Some(new)) if old.still_holds(new, now))
    }

    fn same_as(&self, other: &Source) -> bool {
        self.title == other.title
            && self.items.len() == other.items.len()
            && self.items.iter().zip(&other.items).all(|(a, b)| {
                Arc::ptr_eq(a, b) || (a.id() == b.id() && a.modified() == b.modified() && **a == **b)
            })
    }
}

#[derive(Debug, Clone)]
struct Cached {
    /// Rendered at refresh, or for tag and author feeds on first request
    /// ([`lazy`]).
    body: Body,
    /// Shared by a feed's generations while it is carried over: a copy
    /// would touch each item's reference count.
    source: Arc<Source>,
    /// The feed's preview page, made the first time a browser asks
    /// ([`FeedCache::document`]); shared with the next generations as long
    /// as the feed is carried over.
    preview: Arc<OnceLock<Arc<Entry>>>,
    /// Whether a reader asked for it since it was rendered: for on-demand
    /// feeds, whether the next change renders it at refresh ([`lazy`]).
    asked: Asked,
}

impl Cached {
    /// A feed or document just rendered (or its on-demand cell just made).
    fn new(body: Body, source: Arc<Source>) -> Cached {
        Cached { body, source, preview: Arc::default(), asked: Asked::default() }
    }
}

use map::Feeds;

/// One immutable generation of the cache.
#[derive(Debug, Clone, Default)]
pub struct FeedCache {
    /// The catalog generation it was rendered from (0: nothing loaded yet).
    pub generation: u64,
    pub articles: usize,
    pub errors: usize,
    feeds: Arc<Feeds>,
    /// The index page in Vietnamese and English.
    index: Option<index::Pages>,
    /// The settings the previews are rendered with; `None` with
    /// `feeds.browser_view` off.
    previews: Option<Arc<FeedSettings>>,
    /// What renders the on-demand feeds ([`lazy`]); `None` only before
    /// the first refresh.
    renderer: Option<Arc<Renderer>>,
    /// The moment the refresh that made it planned at: the next one asks
    /// the catalog which stamps may have failed since.
    planned_at: Option<DateTime<FixedOffset>>,
}

impl FeedCache {
    /// The feed served at `path` (leading slash optional). Unknown paths
    /// and categories without a visible article are `None`: a 404.
    pub fn feed(&self, path: &str) -> Option<&Arc<Entry>> {
        let path = path.strip_prefix('/').unwrap_or(path);
        self.entry(path, self.feeds.get(path)?)
    }

    /// `cached`'s entry, rendered now if it is an on-demand feed not asked
    /// for yet.
    fn entry<'a>(&self, path: &str, cached: &'a Cached) -> Option<&'a Arc<Entry>> {
        cached.asked.mark();
        match (&cached.body, &self.renderer, FeedId::from_path(path)) {
            (Body::Ready(e), _, _) => Some(e),
            (body, Some(renderer), Some(feed)) => Some(renderer.get(&feed, &cached.source, body)),
            // On-demand cells are made only by `refresh`, which sets the
            // renderer, and only for feed paths: not reached.
            (body, _, _) => body.rendered(),
        }
    }

    /// Whether the feed at `path` has its bytes now: always for eager
    /// feeds, for on-demand ones once asked for ([`lazy`]).
    pub fn is_rendered(&self, path: &str) -> bool {
        let path = path.strip_prefix('/').unwrap_or(path);
        self.feeds.get(path).is_some_and(|c| c.body.rendered().is_some())
    }

    /// Whether `path` is an on-demand feed not rendered yet: its first
    /// request renders it (and may read article bodies), which the HTTP
    /// front leaves to a blocking task rather than its async loop.
    pub fn pending(&self, path: &str) -> bool {
        let key = path.strip_prefix('/').unwrap_or(path);
        self.feeds.get(key).is_some_and(|c| c.body.rendered().is_none())
    }

    /// The index page in Vietnamese.
    pub fn index(&self) -> Option<&Arc<Entry>> {
        self.index_in(false)
    }

    /// The index page in Vietnamese, or English with `english` (see
    /// `negotiate::english`).
    pub fn index_in(&self, english: bool) -> Option<&Arc<Entry>> {
        self.index.as_ref().map(|p| p.get(english))
    }

    /// What a GET of `path` answers with: the index page at `/`, else the
    /// feed at `path`; for a browser's top-level navigation (`navigation`:
    /// `Sec-Fetch-Dest: document`) with `feeds.browser_view`, the feed's
    /// preview page instead, rendered on the first such request and kept.
    /// The index page in Vietnamese: [`FeedCache::document_in`] for a reader.
    pub fn document(&self, path: &str, navigation: bool) -> Option<&Arc<Entry>> {
        self.document_in(path, navigation, false)
    }

    /// [`FeedCache::document`], the index page in English with `english`.
    pub fn document_in(&self, path: &str, navigation: bool, english: bool) -> Option<&Arc<Entry>> {
        if path == "/" {
            return self.index_in(english);
        }
        let key = path.strip_prefix('/').unwrap_or(path);
        let cached = self.feeds.get(key)?;
        let entry = self.entry(key, cached)?;
        match (&self.previews, navigation, FeedId::from_path(key)) {
            (Some(settings), true, Some(feed)) => Some(cached.preview.get_or_init(|| {
                let source = &cached.source;
                Arc::new(preview::entry(&feed, &source.items, source.title.as_deref(), settings, entry))
            })),
            _ => Some(entry),
        }
    }

    /// The paths of the feeds served.
    pub fn feed_paths(&self) -> impl Iterator<Item = &str> {
        self.feeds_only().map(|(path, _)| path.as_ref())
    }

    /// The feeds among the documents: not the OPML list, robots.txt or the
    /// news sitemap, which no hub is told of and no feed count counts.
    fn feeds_only(&self) -> impl Iterator<Item = (&Arc<str>, &Arc<Cached>)> {
        self.feeds.iter().filter(|(path, _)| FeedId::from_path(path).is_some())
    }

    pub fn is_loaded(&self) -> bool {
        self.generation > 0
    }

    /// The feeds whose content differs from `prev` (all of them without a
    /// `prev`), sorted: what a WebSub hub is told to fetch again.
    pub fn changed_paths(&self, prev: Option<&FeedCache>) -> Vec<String> {
        let mut paths: Vec<String> = self
            .feeds_only()
            .filter(|(path, c)| prev.and_then(|p| p.feeds.get(path)).is_none_or(|old| c.body.changed_from(&old.body)))
            .map(|(path, _)| path.to_string())
            .collect();
        paths.sort();
        paths
    }

    /// Whether some entry rendered at refresh still lacks its brotli form
    /// or its final gzip form (on-demand feeds get no brotli: [`lazy`]).
    pub fn needs_finishing(&self) -> bool {
        self.index.iter().flat_map(index::Pages::entries).chain(self.ready()).any(|e| e.unfinished())
    }

    /// The entries rendered at refresh, not the on-demand ones.
    fn ready(&self) -> impl Iterator<Item = &Arc<Entry>> {
        self.feeds.values().filter_map(|c| match &c.body {
            Body::Ready(e) => Some(e),
            Body::OnDemand(..) => None,
        })
    }

    /// The entries still lacking their brotli or final gzip form
    /// ([`Entry::unfinished`]), by content hash.
    pub fn unfinished_entries(&self) -> Vec<Arc<Entry>> {
        let mut seen = std::collections::HashSet::new();
        self.ready()
            .chain(self.index.iter().flat_map(index::Pages::entries))
            .filter(|e| e.unfinished() && seen.insert(e.hash.clone()))
            .cloned()
            .collect()
    }

    /// The same cache with the brotli and final gzip forms in `done`
    /// (content hash → the entry with them) filled in where the content
    /// still matches; `None` when nothing applies (the cache moved on to
    /// other content).
    pub fn merge_finished(&self, done: &HashMap<String, Arc<Entry>>) -> Option<FeedCache> {
        let fill = |e: &Arc<Entry>| -> Option<Arc<Entry>> {
            let d = done.get(&e.hash)?;
            let brotli = e.brotli.is_none() && d.brotli.is_some();
            let gzip = e.quick && !d.quick;
            if !brotli && !gzip {
                return None;
            }
            let mut filled = (**e).clone();
            if brotli {
                filled.brotli = d.brotli.clone();
            }
            if gzip {
                filled.gzip = d.gzip.clone();
                filled.quick = false;
            }
            Some(Arc::new(filled))
        };
        let filled: Vec<(Arc<str>, Arc<Cached>)> = self
            .feeds
            .iter()
            .filter_map(|(path, c)| match &c.body {
                Body::Ready(old) => fill(old).map(|e| (Arc::clone(path), Arc::new(Cached { body: Body::Ready(e), ..(**c).clone() }))),
                Body::OnDemand(..) => None,
            })
            .collect();
        let mut next = self.clone();
        let mut any = !filled.is_empty();
        if any {
            let mut feeds = (*self.feeds).clone();
            feeds.extend(filled);
            next.feeds = Arc::new(feeds);
        }
        if let Some(pages) = self.index.as_ref().and_then(|p| p.filled(fill)) {
            next.index = Some(pages);
            any = true;
        }
        any.then_some(next)
    }
}

/// The index page changes when a feed appears or goes; its Last-Modified
/// is the newest of the feeds'.
fn catalog_modified(feeds: &Feeds) -> DateTime<FixedOffset> {
    let newest = feeds.values().map(|c| c.body.modified_at()).max().unwrap_or(SystemTime::UNIX_EPOCH);
    DateTime::<chrono::Utc>::from(newest).fixed_offset()
}

#[cfg(test)]
mod tests;
