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
//!   carried over as they are (same bytes, same ETag); tag and author
//!   feeds are not rendered here at all but on their first request
//!   ([`lazy`]), into a cell carried over the same way;
//! - the ETag is a hash of the identity bytes, with `-gz`/`-br` suffixes for
//!   the compressed forms, so equal bytes always get the same validator,
//!   across restarts too;
//! - `refresh` is pure apart from the CPU it burns: `now` is an argument;
//! - brotli is the slow one (quality 9 takes ~50 ms for a 300 KB feed), so a
//!   fresh entry is published with gzip first and gets its
//!   brotli form in a later swap (the service's brotli worker and
//!   [`FeedCache::merge_brotli`], matched by content hash); until then `br`
//!   clients get gzip. A representation's bytes never change under its ETag.

use crate::article::Article;
use crate::catalog::Catalog;
use crate::feeds::{self, FeedId, FeedSettings};
use bytes::Bytes;
use http::HeaderValue;
use chrono::{DateTime, FixedOffset};
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

mod headers;
mod documents;
mod index;
mod lazy;
mod preview;
use lazy::{Body, Renderer};
use headers::{VARY_ENCODING, feed_headers, link_value};
pub use index::index_page;
pub use preview::{PREVIEW_ITEMS, preview_page};

/// gzip level: compressed once per change (on the path from a write to
/// its feeds), served many times. A 347 KB full-content feed with flate2 on
/// zlib-rs (2026-12-02, one core of a slower machine): level 6 takes
/// 2.0 ms for 22,108 bytes, 8 3.2 ms for 21,069, 9 4.0 ms for 21,049, 1
/// 1.4 ms for 42,864; 7 is the knee, 2.8 ms for 21,352 (1 % over 8 and 9,
/// and over the 21,144 of miniz_oxide's level 6, the backend before, which
/// took 5.5 ms). Level 8 put ~5 ms on the median render of a write's six
/// feeds on 2 cores.
const GZIP_LEVEL: u32 = 7;
/// brotli quality: 11 takes ~1.5 s for a 300 KB feed for 5 % less than 9,
/// which takes ~50 ms, off the latency path (see the module invariants).
const BROTLI_QUALITY: u32 = 9;
/// The largest brotli window (4 MiB); a smaller input gets the smallest
/// window that holds it whole: the same compression, a fraction of the
/// encoder's memory (its ring buffer is the window).
const BROTLI_WINDOW: u32 = 22;

/// The content codings the cache holds, in the server's preference order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Brotli,
    Gzip,
    Identity,
}

impl Encoding {
    pub fn header(self) -> Option<&'static str> {
        match self {
            Encoding::Brotli => Some("br"),
            Encoding::Gzip => Some("gzip"),
            Encoding::Identity => None,
        }
    }
}

/// One stored representation: its bytes and its strong ETag.
#[derive(Debug, Clone)]
pub struct Representation {
    pub bytes: Bytes,
    pub etag: HeaderValue,
    pub length: HeaderValue,
    /// The same bytes in an anonymous in-memory file, made by the HTTP
    /// front the first time it sends them with `sendfile` (`None` if that
    /// failed); shared by the clones of this representation.
    pub file: Arc<OnceLock<Option<std::fs::File>>>,
}

/// One document of the cache (a feed or the index page).
#[derive(Debug, Clone)]
pub struct Entry {
    /// Decompressed from `gzip` on first use ([`Entry::identity`]);
    /// `Some(None)` if that failed, which the gzip form then stands in for.
    identity: OnceLock<Option<Representation>>,
    pub gzip: Representation,
    /// `None` until the brotli worker has compressed it ([`FeedCache::merge_brotli`]).
    pub brotli: Option<Representation>,
    pub content_type: HeaderValue,
    /// Last-Modified as an HTTP-date, and the instant for comparisons
    /// (whole seconds, as HTTP-dates carry).
    pub last_modified: HeaderValue,
    pub modified_at: SystemTime,
    /// The content hash the ETags are built on.
    pub hash: String,
    /// What the answer varies with: `Accept-Encoding`, and for a feed with
    /// `feeds.browser_view` also `Sec-Fetch-Dest` (its preview).
    pub vary: HeaderValue,
    /// `Link` headers, each sent as its own: a feed's WebSub hub and self
    /// ([`feed_headers`]); made once per render, not per request.
    pub links: Arc<[HeaderValue]>,
}

impl Entry {
    /// Renders nothing: gzips `bytes` and derives the validators. The
    /// brotli form is left for [`Entry::add_brotli`].
    pub fn new(bytes: Vec<u8>, content_type: &'static str, modified: DateTime<FixedOffset>) -> Entry {
        let hash = content_hash(&bytes);
        let gzip = gzip(&bytes);
        let modified_at = to_system_time(modified);
        Entry {
            identity: OnceLock::new(),
            gzip: representation(gzip, &format!("\"{hash}-gz\"")),
            brotli: None,
            content_type: HeaderValue::from_static(content_type),
            last_modified: header_value(&httpdate::fmt_http_date(modified_at)),
            modified_at,
            hash,
            vary: HeaderValue::from_static(VARY_ENCODING),
            links: Arc::new([]),
        }
    }

    /// The entry with these `Vary` and `Link` values.
    pub fn with_headers(self, vary: HeaderValue, links: Arc<[HeaderValue]>) -> Entry {
        Entry { vary, links, ..self }
    }

    /// The entry with its brotli form compressed.
    pub fn add_brotli(&self) -> Entry {
        let mut e = self.clone();
        if e.brotli.is_none() {
            let compressed = match self.identity.get() {
                Some(Some(identity)) => brotli(&identity.bytes),
                _ => match gunzip(&self.gzip.bytes) {
                    Ok(bytes) => brotli(&bytes),
                    // Cannot happen to bytes `Entry::new` compressed; gzip
                    // keeps standing in for brotli.
                    Err(_) => return e,
                },
            };
            e.brotli = Some(representation(compressed, &format!("\"{}-br\"", e.hash)));
        }
        e
    }

    /// The uncompressed bytes, decompressed and kept on first use; `None`
    /// only if the gzip form could not be read back, which cannot happen
    /// to bytes [`Entry::new`] compressed.
    pub fn identity(&self) -> Option<&Representation> {
        self.identity
            .get_or_init(|| match gunzip(&self.gzip.bytes) {
                Ok(bytes) => Some(representation(bytes, &format!("\"{}\"", self.hash))),
                Err(e) => {
                    tracing::error!(error = %e, "cannot decompress a cached feed; serving it gzip-encoded");
                    None
                }
            })
            .as_ref()
    }

    /// The stored representation for `encoding`; gzip stands in for a
    /// brotli form not compressed yet.
    pub fn get(&self, encoding: Encoding) -> (Encoding, &Representation) {
        match (encoding, &self.brotli) {
            (Encoding::Brotli, Some(br)) => (Encoding::Brotli, br),
            (Encoding::Brotli, None) | (Encoding::Gzip, _) => (Encoding::Gzip, &self.gzip),
            (Encoding::Identity, _) => match self.identity() {
                Some(identity) => (Encoding::Identity, identity),
                None => (Encoding::Gzip, &self.gzip),
            },
        }
    }

    /// Whether `tag` (an opaque-tag with quotes, without `W/`) names any
    /// representation of this content: all three carry the same bytes.
    pub fn has_tag(&self, tag: &str) -> bool {
        // The identity tag is the bare hash: no need to decompress to know it.
        tag.strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .is_some_and(|t| t == self.hash)
            || [Some(&self.gzip), self.brotli.as_ref()]
                .into_iter()
                .flatten()
                .any(|r| r.etag.as_bytes() == tag.as_bytes())
    }
}

/// What a feed was rendered from, to tell whether it must be rendered
/// again: its title (category names can change) and its items.
#[derive(Debug, Clone)]
struct Source {
    title: Option<String>,
    items: Vec<Arc<Article>>,
}

impl Source {
    fn same_as(&self, other: &Source) -> bool {
        self.title == other.title
            && self.items.len() == other.items.len()
            && self.items.iter().zip(&other.items).all(|(a, b)| {
                Arc::ptr_eq(a, b) || (a.id == b.id && a.modified() == b.modified() && **a == **b)
            })
    }
}

#[derive(Debug, Clone)]
struct Cached {
    /// Rendered at refresh, or for tag and author feeds on first request
    /// ([`lazy`]).
    body: Body,
    source: Source,
    /// The feed's preview page, made the first time a browser asks
    /// ([`FeedCache::document`]); shared with the next generations as long
    /// as the feed is carried over.
    preview: Arc<OnceLock<Arc<Entry>>>,
}

/// One immutable generation of the cache.
#[derive(Debug, Clone, Default)]
pub struct FeedCache {
    /// The catalog generation it was rendered from (0: nothing loaded yet).
    pub generation: u64,
    pub articles: usize,
    pub errors: usize,
    /// Route path without the leading slash → feed.
    feeds: HashMap<String, Cached>,
    index: Option<Arc<Entry>>,
    /// The settings the previews are rendered with; `None` with
    /// `feeds.browser_view` off.
    previews: Option<Arc<FeedSettings>>,
    /// What renders the on-demand feeds ([`lazy`]); `None` only before
    /// the first refresh.
    renderer: Option<Arc<Renderer>>,
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

    pub fn index(&self) -> Option<&Arc<Entry>> {
        self.index.as_ref()
    }

    /// What a GET of `path` answers with: the index page at `/`, else the
    /// feed at `path`; for a browser's top-level navigation (`navigation`:
    /// `Sec-Fetch-Dest: document`) with `feeds.browser_view`, the feed's
    /// preview page instead, rendered on the first such request and kept.
    pub fn document(&self, path: &str, navigation: bool) -> Option<&Arc<Entry>> {
        if path == "/" {
            return self.index();
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

    pub fn feed_paths(&self) -> impl Iterator<Item = &str> {
        self.feeds.keys().map(String::as_str)
    }

    pub fn is_loaded(&self) -> bool {
        self.generation > 0
    }

    /// The feeds whose content differs from `prev` (all of them without a
    /// `prev`), sorted: what a WebSub hub is told to fetch again.
    pub fn changed_paths(&self, prev: Option<&FeedCache>) -> Vec<String> {
        let mut paths: Vec<String> = self
            .feeds
            .iter()
            // Feeds only: a hub is not told about the OPML list or the sitemap.
            .filter(|(path, _)| FeedId::from_path(path).is_some())
            .filter(|(path, c)| prev.and_then(|p| p.feeds.get(*path)).is_none_or(|old| c.body.changed_from(&old.body)))
            .map(|(path, _)| path.clone())
            .collect();
        paths.sort();
        paths
    }

    /// Whether some entry rendered at refresh still lacks its brotli form
    /// (on-demand feeds get none: [`lazy`]).
    pub fn needs_brotli(&self) -> bool {
        self.index.as_ref().is_some_and(|e| e.brotli.is_none()) || self.ready().any(|e| e.brotli.is_none())
    }

    /// The entries rendered at refresh, not the on-demand ones.
    fn ready(&self) -> impl Iterator<Item = &Arc<Entry>> {
        self.feeds.values().filter_map(|c| match &c.body {
            Body::Ready(e) => Some(e),
            Body::OnDemand(..) => None,
        })
    }

    /// The entries still lacking their brotli form, by content hash.
    pub fn missing_brotli(&self) -> Vec<Arc<Entry>> {
        let mut seen = std::collections::HashSet::new();
        self.ready()
            .chain(self.index.iter())
            .filter(|e| e.brotli.is_none() && seen.insert(e.hash.clone()))
            .cloned()
            .collect()
    }

    /// The same cache with the brotli forms in `done` (content hash → the
    /// entry with brotli) filled in where the content still matches; `None`
    /// when nothing applies (the cache moved on to other content).
    pub fn merge_brotli(&self, done: &HashMap<String, Arc<Entry>>) -> Option<FeedCache> {
        let fill = |e: &Arc<Entry>| -> Option<Arc<Entry>> {
            if e.brotli.is_some() {
                return None;
            }
            let d = done.get(&e.hash)?;
            let mut filled = (**e).clone();
            filled.brotli = d.brotli.clone();
            Some(Arc::new(filled))
        };
        let mut next = self.clone();
        let mut any = false;
        for c in next.feeds.values_mut() {
            if let Body::Ready(old) = &c.body
                && let Some(e) = fill(old)
            {
                c.body = Body::Ready(e);
                any = true;
            }
        }
        if let Some(e) = self.index.as_ref().and_then(fill) {
            next.index = Some(e);
            any = true;
        }
        any.then_some(next)
    }
}

/// What one refresh did, for logs and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefreshStats {
    pub rendered: usize,
    /// On-demand feeds whose items changed: given an empty cell, rendered
    /// on their first request ([`lazy`]).
    pub deferred: usize,
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
    let started = Instant::now();
    let wanted = feeds::all_feeds(catalog, settings, now);
    let plans: Vec<(FeedId, Source, Option<Cached>)> = wanted
        .into_iter()
        .map(|feed| {
            let title = catalog.scope_name(&feed.scope).map(str::to_string);
            let source = Source { title, items: feeds::items(&feed, catalog, settings, now) };
            let kept = prev
                .and_then(|p| p.feeds.get(&feed.path()))
                .filter(|c| c.source.same_as(&source))
                .cloned();
            (feed, source, kept)
        })
        .collect();

    let mut stats = RefreshStats::default();
    let hub = settings.websub_hub.as_ref().and_then(|hub| link_value(hub.as_str(), "hub"));
    let rendered: Vec<(String, Option<Cached>, bool)> = plans
        .into_par_iter()
        .map(|(feed, source, kept)| {
            let path = feed.path();
            if let Some(k) = kept {
                return (path, Some(k), false);
            }
            if lazy::on_demand(&feed.scope) {
                let body = Body::empty(&source);
                return (path, Some(Cached { body, source, preview: Arc::default() }), true);
            }
            let entry = feeds::render(&feed, &source.items, catalog, settings).map(|bytes| {
                let (vary, links) = feed_headers(&feed, settings, hub.as_ref());
                let entry = Entry::new(bytes, feed.format.content_type(), feeds::newest_change(&source.items));
                Cached { body: Body::Ready(Arc::new(entry.with_headers(vary, links))), source, preview: Arc::default() }
            });
            (path, entry, true)
        })
        .collect();

    let mut next = HashMap::with_capacity(rendered.len());
    for (path, cached, fresh) in rendered {
        let Some(cached) = cached else { continue };
        if fresh && matches!(cached.body, Body::OnDemand(..)) {
            stats.deferred += 1;
        } else if fresh {
            stats.rendered += 1;
        } else {
            stats.kept += 1;
        }
        next.insert(path, cached);
    }
    documents::add(&mut next, prev, catalog, settings, now, &mut stats);
    stats.dropped = prev.map_or(0, |p| p.feeds.keys().filter(|k| !next.contains_key(*k)).count());

    let index_html = index::html(catalog, settings, now);
    let index = match prev.and_then(|p| p.index.clone()) {
        Some(old) if old.hash == content_hash(index_html.as_bytes()) => old,
        _ => Arc::new(Entry::new(index_html.into_bytes(), "text/html; charset=utf-8", catalog_modified(&next))),
    };

    stats.elapsed = started.elapsed();
    let cache = FeedCache {
        generation: catalog.generation,
        articles: catalog.len(),
        errors: catalog.errors().len(),
        feeds: next,
        index: Some(index),
        previews: settings.browser_view.then(|| Arc::new(settings.clone())),
        renderer: Some(Arc::new(Renderer { settings: settings.clone(), hub })),
    };
    (cache, stats)
}

/// The index page changes when a feed appears or goes; its Last-Modified
/// is the newest of the feeds'.
fn catalog_modified(feeds: &HashMap<String, Cached>) -> DateTime<FixedOffset> {
    let newest = feeds.values().map(|c| c.body.modified_at()).max().unwrap_or(SystemTime::UNIX_EPOCH);
    DateTime::<chrono::Utc>::from(newest).fixed_offset()
}

fn content_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

fn representation(bytes: Vec<u8>, etag: &str) -> Representation {
    Representation {
        length: HeaderValue::from(bytes.len()),
        bytes: Bytes::from(bytes),
        etag: header_value(etag),
        file: Arc::default(),
    }
}

fn header_value(s: &str) -> HeaderValue {
    // Only hex digits, quotes, dashes and HTTP-dates reach here: all visible
    // ASCII, which a header value always accepts.
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::with_capacity(bytes.len() / 4), flate2::Compression::new(GZIP_LEVEL));
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(bytes);
    enc.finish().unwrap_or_default()
}

fn gunzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::with_capacity(bytes.len() * 8);
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out)?;
    Ok(out)
}

fn brotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() / 4);
    {
        let mut enc = brotli::CompressorWriter::new(
            &mut out,
            64 * 1024,
            BROTLI_QUALITY,
            window_for(bytes.len()),
        );
        // Writing into a Vec cannot fail.
        let _ = enc.write_all(bytes);
    }
    out
}

/// log2 of the window that holds `len` bytes, within brotli's 16..=22
/// (a window of 2^n holds 2^n − 16 bytes).
fn window_for(len: usize) -> u32 {
    let mut bits = 16;
    while bits < BROTLI_WINDOW && (1usize << bits) - 16 < len {
        bits += 1;
    }
    bits
}

fn to_system_time(d: DateTime<FixedOffset>) -> SystemTime {
    // HTTP-dates have whole seconds; comparing If-Modified-Since against a
    // sub-second instant would never answer 304.
    let secs = d.timestamp();
    if secs <= 0 {
        SystemTime::UNIX_EPOCH
    } else {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// Settings of a site at yenbai.gov.vn with feeds at feeds.example.org.
    pub(super) fn feed_settings() -> FeedSettings {
        FeedSettings {
            site_title: "Cổng thông tin".into(),
            description: "Tin tức".into(),
            language: "vi".into(),
            base_url: url::Url::parse("https://yenbai.gov.vn/").unwrap(),
            public_url: url::Url::parse("https://feeds.example.org/").unwrap(),
            content: crate::config::ContentMode::Full,
            items: 50,
            websub_hub: None,
            browser_view: true,
            max_bytes: 2_000_000,
            icon: None,
            logo: None,
            tags: false,
            authors: false,
            news_sitemap: false,
            templates: crate::templates::Templates::shared_builtin(),
        }
    }

    #[test]
    fn brotli_window_fits_the_input_and_still_decodes() {
        assert_eq!(window_for(0), 16);
        assert_eq!(window_for((1 << 16) - 16), 16);
        assert_eq!(window_for((1 << 16) - 15), 17);
        assert_eq!(window_for(300_000), 19);
        assert_eq!(window_for(50 << 20), BROTLI_WINDOW);
        // Inputs on both sides of a window boundary, incompressible enough
        // that matches reach far back.
        for len in [(1 << 16) - 16, (1 << 16) + 5, 700_000] {
            let bytes: Vec<u8> = (0..len as u64)
                .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
                .collect();
            let mut back = Vec::new();
            brotli::Decompressor::new(brotli(&bytes).as_slice(), 4096)
                .read_to_end(&mut back)
                .unwrap();
            assert!(back == bytes, "{len} bytes round trip");
        }
    }

    #[test]
    fn compressed_forms_decode_to_the_identity_bytes() {
        let text = "Nghĩa Lộ: Hiệu quả từ những quyết sách lớn. ".repeat(200);
        let e = Entry::new(text.clone().into_bytes(), "text/plain", DateTime::UNIX_EPOCH.fixed_offset());
        assert!(e.brotli.is_none());
        assert_eq!(e.get(Encoding::Brotli).0, Encoding::Gzip);
        let e = e.add_brotli();
        assert_eq!(e.get(Encoding::Brotli).0, Encoding::Brotli);
        let mut gz = String::new();
        flate2::read::GzDecoder::new(e.gzip.bytes.as_ref()).read_to_string(&mut gz).unwrap();
        let mut br = String::new();
        brotli::Decompressor::new(e.get(Encoding::Brotli).1.bytes.as_ref(), 4096).read_to_string(&mut br).unwrap();
        assert_eq!(gz, text);
        assert_eq!(br, text);
        assert!(e.gzip.bytes.len() < text.len() / 5);
        assert_eq!(e.identity().unwrap().etag, HeaderValue::from_str(&format!("\"{}\"", e.hash)).unwrap());
        assert!(e.has_tag(&format!("\"{}-br\"", e.hash)));
    }
}
