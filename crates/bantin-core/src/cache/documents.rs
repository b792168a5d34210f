//! The cache's documents that are not feeds but are served and validated
//! like them: `/feeds.opml` (every feed of this generation) and, with
//! `feeds.news_sitemap`, `/sitemap-news.xml`. Each is kept with the
//! feeds (same ETags, 304s, gzip and brotli) and carried over unchanged
//! when what it is made of did not change.

use super::{Body, catalog_modified, content_hash, Cached, Entry, FeedCache, RefreshStats, Source};
use crate::catalog::Catalog;
use crate::feeds::{self, opml, sitemap, FeedId, FeedSettings};
use chrono::{DateTime, FixedOffset};
use std::collections::HashMap;
use std::sync::Arc;

/// Adds the documents to `next` (the feeds of the new generation).
pub(super) fn add(
    next: &mut HashMap<String, Cached>,
    prev: Option<&FeedCache>,
    catalog: &Catalog,
    settings: &FeedSettings,
    now: DateTime<FixedOffset>,
    stats: &mut RefreshStats,
) {
    let previous = |path: &str| prev.and_then(|p| p.feeds.get(path));
    // The feeds' own sources hold their scopes' names.
    let mut listed: Vec<(FeedId, Option<String>)> = next
        .iter()
        .filter_map(|(path, c)| FeedId::from_path(path).map(|f| (f, c.source.title.clone())))
        .collect();
    listed.sort();
    let bytes = opml::render(&listed, settings);
    let hash = content_hash(&bytes);
    let opml = match previous(opml::PATH) {
        Some(old) if old.body.rendered().is_some_and(|e| e.hash == hash) => {
            stats.kept += 1;
            old.clone()
        }
        _ => {
            stats.rendered += 1;
            let entry = Entry::new(bytes, opml::CONTENT_TYPE, catalog_modified(next));
            Cached { body: Body::Ready(Arc::new(entry)), source: Source { title: Some(hash), items: Vec::new() }, preview: Arc::default() }
        }
    };
    next.insert(opml::PATH.to_string(), opml);

    if settings.news_sitemap {
        let source = Source { title: None, items: sitemap::items(catalog, now) };
        let cached = match previous(sitemap::PATH).filter(|c| c.source.same_as(&source)) {
            Some(old) => {
                stats.kept += 1;
                old.clone()
            }
            None => {
                stats.rendered += 1;
                let bytes = sitemap::render(&source.items, settings);
                let entry = Entry::new(bytes, sitemap::CONTENT_TYPE, feeds::newest_change(&source.items));
                Cached { body: Body::Ready(Arc::new(entry)), source, preview: Arc::default() }
            }
        };
        next.insert(sitemap::PATH.to_string(), cached);
    }
}
