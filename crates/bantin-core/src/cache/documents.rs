//! The cache's documents that are not feeds but are served and validated
//! like them: `/feeds.opml` (every feed of this generation), `/robots.txt`
//! and, with `feeds.news_sitemap`, `/sitemap-news.xml`. Each is kept with the
//! feeds (same ETags, 304s, gzip and brotli) and carried over unchanged
//! when what it is made of did not change.

use super::{Body, catalog_modified, content_hash, Cached, Entry, FeedCache, Feeds, RefreshStats, Source};
use crate::catalog::Catalog;
use crate::feeds::{self, opml, robots, sitemap, FeedId, FeedSettings};
use chrono::{DateTime, FixedOffset};
use std::sync::Arc;

/// Adds the documents to `next` (the feeds of the new generation), which
/// has the feeds of `prev` under the same names with `same_listing`.
pub(super) fn add(
    next: &mut Feeds,
    prev: Option<&FeedCache>,
    same_listing: bool,
    catalog: &Catalog,
    settings: &FeedSettings,
    now: DateTime<FixedOffset>,
    stats: &mut RefreshStats,
) {
    let previous = |path: &str| prev.and_then(|p| p.feeds.get(path));
    let opml = match previous(opml::PATH) {
        // Made of the feeds' paths and names alone; with thousands of tag
        // feeds, listing them again took ~15 ms of every change.
        Some(old) if same_listing => {
            stats.kept += 1;
            Arc::clone(old)
        }
        old => {
            // The feeds' own sources hold their scopes' names.
            let mut listed: Vec<(FeedId, Option<String>)> = next
                .iter()
                .filter_map(|(path, c)| FeedId::from_path(path).map(|f| (f, c.source.title.clone())))
                .collect();
            listed.sort();
            same_or_new(old, opml::render(&listed, settings), opml::CONTENT_TYPE, catalog_modified(next), stats)
        }
    };
    next.insert(opml::PATH.into(), opml);
    // Made of the settings alone: one entry (and ETag) until a reload
    // changes them.
    let robots = same_or_new(previous(robots::PATH), robots::render(settings), robots::CONTENT_TYPE, now, stats);
    next.insert(robots::PATH.into(), robots);

    if settings.news_sitemap {
        let source = Arc::new(Source::named(None, sitemap::items(catalog, now)));
        let cached = match previous(sitemap::PATH).filter(|c| c.source.same_as(&source)) {
            Some(old) => {
                stats.kept += 1;
                Arc::clone(old)
            }
            None => {
                stats.rendered += 1;
                let bytes = sitemap::render(&source.items, settings);
                let entry = Entry::new(bytes, sitemap::CONTENT_TYPE, feeds::newest_change(&source.items));
                Arc::new(Cached::new(Body::Ready(Arc::new(entry)), source))
            }
        };
        next.insert(sitemap::PATH.into(), cached);
    }
}

/// How many of `cache`'s entries are the documents this room adds.
pub(super) fn count(cache: &FeedCache) -> usize {
    [opml::PATH, robots::PATH, sitemap::PATH].into_iter().filter(|path| cache.feeds.contains_key(path)).count()
}

/// A document made of `bytes`: the previous generation's entry when it
/// holds the same bytes (same ETag and Last-Modified, no new compression),
/// else a new one last modified at `modified`.
fn same_or_new(
    previous: Option<&Arc<Cached>>,
    bytes: Vec<u8>,
    content_type: &'static str,
    modified: DateTime<FixedOffset>,
    stats: &mut RefreshStats,
) -> Arc<Cached> {
    let hash = content_hash(&bytes);
    match previous {
        Some(old) if old.body.rendered().is_some_and(|e| e.hash == hash) => {
            stats.kept += 1;
            Arc::clone(old)
        }
        _ => {
            stats.rendered += 1;
            let entry = Entry::new(bytes, content_type, modified);
            Arc::new(Cached::new(Body::Ready(Arc::new(entry)), Arc::new(Source::named(Some(hash), Vec::new()))))
        }
    }
}
