//! The feed renderer: pure functions from a catalog snapshot to the bytes
//! of RSS 2.0, Atom 1.0 and JSON Feed 1.1 documents. No I/O and no clock:
//! `now` is an argument, and a feed's dates come from its articles, so the
//! same catalog always renders the same bytes (and the same ETag).
//!
//! Feeds follow the W3C Feed Validation Service's rules: RSS `author` is
//! left out (it must be an e-mail address; names go in `dc:creator`), RSS
//! dates are RFC 822 and Atom/JSON dates RFC 3339, GUIDs are not permalinks
//! (they are `urn:uuid`s derived from the site and the article's identity,
//! so they survive edits, renames of the title and restarts), every Atom
//! entry has an author through the feed-level one, and `rel=self` is the
//! URL the feed is served at (`http.public_url` + the route).

mod atom;
mod budget;
#[cfg(test)]
pub(crate) mod fixtures;
mod join;
mod json;
pub mod media;
pub mod opml;
mod pieces;
pub mod robots;
mod rss;
pub mod sitemap;

use crate::article::Article;
use crate::catalog::{Catalog, Scope, Stamped};
use crate::config::{ContentMode, Settings};
use crate::templates::Templates;
use chrono::{DateTime, FixedOffset};
use std::sync::Arc;
use url::Url;

pub use pieces::{Piece, Pieces, Used};

pub const GENERATOR: &str = concat!("bantin ", env!("CARGO_PKG_VERSION"));

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    Rss,
    Atom,
    Json,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Rss, Format::Atom, Format::Json];

    pub fn file_name(self) -> &'static str {
        match self {
            Format::Rss => "feed.xml",
            Format::Atom => "atom.xml",
            Format::Json => "feed.json",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Rss => "application/rss+xml; charset=utf-8",
            Format::Atom => "application/atom+xml; charset=utf-8",
            Format::Json => "application/feed+json; charset=utf-8",
        }
    }

    /// The media type without parameters, for `<link type>`.
    pub fn mime(self) -> &'static str {
        self.content_type().split(';').next().unwrap_or_default()
    }

    /// The format's name for people: `RSS`, `Atom`, `JSON Feed`.
    pub fn label(self) -> &'static str {
        match self {
            Format::Rss => "RSS",
            Format::Atom => "Atom",
            Format::Json => "JSON Feed",
        }
    }

    fn from_file_name(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.file_name() == name)
    }
}

/// One feed: what it covers and in which format.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FeedId {
    pub scope: Scope,
    pub format: Format,
}

impl FeedId {
    pub fn new(scope: Scope, format: Format) -> FeedId {
        FeedId { scope, format }
    }

    /// The route, without the leading slash: `feed.xml`,
    /// `categories/kinh-te/atom.xml`, `tags/{slug}/…`, `authors/{slug}/…`
    pub fn path(&self) -> String {
        let mut path = String::new();
        self.write_path(&mut path);
        path
    }

    /// [`FeedId::path`] written over `out` (a buffer reused for look-ups).
    pub fn write_path(&self, out: &mut String) {
        FeedId::write_path_of(&self.scope, self.format, out);
    }

    /// [`FeedId::write_path`] of the feed of `scope` in `format`.
    pub fn write_path_of(scope: &Scope, format: Format, out: &mut String) {
        out.clear();
        let (kind, slug) = match scope {
            Scope::Site => ("", ""),
            Scope::Category(slug) => ("categories/", slug.as_str()),
            Scope::Tag(slug) => ("tags/", slug.as_str()),
            Scope::Author(slug) => ("authors/", slug.as_str()),
        };
        for part in [kind, slug, if slug.is_empty() { "" } else { "/" }, format.file_name()] {
            out.push_str(part);
        }
    }

    /// The feed a request path names, if any (leading slash optional).
    pub fn from_path(path: &str) -> Option<FeedId> {
        let path = path.strip_prefix('/').unwrap_or(path);
        if let Some(format) = Format::from_file_name(path) {
            return Some(FeedId::new(Scope::Site, format));
        }
        let (kind, rest) = path.split_once('/')?;
        let (slug, file) = rest.split_once('/')?;
        let valid = !slug.is_empty() && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        let format = Format::from_file_name(file)?;
        let slug = valid.then(|| slug.to_string())?;
        let scope = match kind {
            "categories" => Scope::Category(slug),
            "tags" => Scope::Tag(slug),
            "authors" => Scope::Author(slug),
            _ => return None,
        };
        Some(FeedId::new(scope, format))
    }
}

/// The settings a feed needs, taken from the configuration once.
#[derive(Debug, Clone)]
pub struct FeedSettings {
    pub site_title: String,
    pub description: String,
    pub language: String,
    pub base_url: Url,
    pub public_url: Url,
    pub content: ContentMode,
    pub items: usize,
    pub websub_hub: Option<Url>,
    /// `site.icon` (square): RSS `<image>`, Atom `<icon>`, JSON Feed
    /// `icon` and `favicon`, the pages' `<link rel="icon">`.
    pub icon: Option<Url>,
    /// `site.logo`: Atom `<logo>`.
    pub logo: Option<Url>,
    /// `feeds.browser_view`: a browser gets a feed's preview page.
    pub browser_view: bool,
    /// `feeds.max_bytes`: a feed's budget of uncompressed bytes ([`budget`]).
    pub max_bytes: usize,
    /// Whether tag and author feeds and the news sitemap are published.
    pub tags: bool,
    pub authors: bool,
    pub news_sitemap: bool,
    /// `site.timezone`: the index page's dates.
    pub timezone: chrono_tz::Tz,
    /// The templates the index page is rendered from (`index.html`):
    /// the built-ins from [`FeedSettings::from_settings`]; the daemon puts
    /// in the ones with `mail.templates_dir`'s overrides
    /// ([`FeedSettings::with_templates`]).
    pub templates: Arc<Templates>,
}

impl FeedSettings {
    pub fn from_settings(s: &Settings) -> FeedSettings {
        FeedSettings {
            site_title: s.site.title.clone(),
            description: s.site.description.clone(),
            language: s.site.language.clone(),
            base_url: s.site.base_url.clone(),
            public_url: s.http.public_url.clone(),
            content: s.feeds.content,
            items: s.feeds.items,
            websub_hub: s.feeds.websub_hub.clone(),
            icon: s.site.icon.clone(),
            logo: s.site.logo.clone(),
            browser_view: s.feeds.browser_view,
            max_bytes: s.feeds.max_bytes,
            tags: s.feeds.tags,
            authors: s.feeds.authors,
            news_sitemap: s.feeds.news_sitemap,
            timezone: s.site.timezone,
            templates: Templates::shared_builtin(),
        }
    }

    /// The same settings with the index page rendered from `templates`.
    pub fn with_templates(self, templates: Arc<Templates>) -> FeedSettings {
        FeedSettings { templates, ..self }
    }
}

/// Everything a renderer writes about the feed itself.
pub struct Meta<'a> {
    pub settings: &'a FeedSettings,
    pub title: String,
    pub description: String,
    /// Where this feed is served (`rel=self`).
    pub self_url: String,
    /// The HTML page the feed stands for.
    pub home_url: String,
    /// Newest change among the items: the feed's `updated`/`lastBuildDate`.
    pub updated: DateTime<FixedOffset>,
}

impl<'a> Meta<'a> {
    /// What `feed` with `items` says of itself.
    fn of(feed: &FeedId, items: &[Arc<Article>], category_name: Option<&str>, settings: &'a FeedSettings) -> Meta<'a> {
        let (title, description) = titles(feed, category_name, settings);
        Meta {
            settings,
            title,
            description,
            self_url: join(&settings.public_url, &feed.path()),
            home_url: settings.base_url.to_string(),
            updated: newest_change(items),
        }
    }
}

/// Every feed the catalog has at `now`: the site's three and three per
/// category, and (when `settings` publish them) per tag and per author,
/// with a visible article. A group without one has no feed: a 404.
pub fn all_feeds(catalog: &Catalog, settings: &FeedSettings, now: DateTime<FixedOffset>) -> Vec<FeedId> {
    all_scopes(catalog, settings, now)
        .into_iter()
        .flat_map(|s| Format::ALL.into_iter().map(move |f| FeedId::new(s.scope.clone(), f)))
        .collect()
}

/// The scopes of [`all_feeds`], each of which has a feed in every format,
/// with their names and stamps.
pub fn all_scopes<'c>(catalog: &'c Catalog, settings: &FeedSettings, now: DateTime<FixedOffset>) -> Vec<Stamped<'c>> {
    catalog.stamped_scopes(now, settings.tags, settings.authors)
}

/// Whether `settings` publish feeds of `scope` (tag and author feeds are
/// optional).
pub fn publishes(settings: &FeedSettings, scope: &Scope) -> bool {
    match scope {
        Scope::Tag(_) => settings.tags,
        Scope::Author(_) => settings.authors,
        Scope::Site | Scope::Category(_) => true,
    }
}

/// The items of `feed` at `now`, newest first.
pub fn items(feed: &FeedId, catalog: &Catalog, settings: &FeedSettings, now: DateTime<FixedOffset>) -> Vec<Arc<Article>> {
    catalog.newest(&feed.scope, now, settings.items)
}

/// Renders `feed` with the given items. `None` when the feed names a
/// category, tag or author that the catalog does not have.
pub fn render(feed: &FeedId, items: &[Arc<Article>], catalog: &Catalog, settings: &FeedSettings) -> Option<Vec<u8>> {
    let name = match &feed.scope {
        Scope::Site => None,
        scope => Some(catalog.scope_name(scope)?),
    };
    Some(render_named(feed, items, name, settings))
}

/// A feed's title and description: the site's, with the name of its
/// category, tag or author after a dash.
pub fn title(settings: &FeedSettings, name: Option<&str>) -> (String, String) {
    match name {
        None => (settings.site_title.clone(), settings.description.clone()),
        Some(name) => (format!("{} – {}", settings.site_title, name), format!("{} – {}", settings.description, name)),
    }
}

/// Like [`render`], given the scope's display name (ignored for the
/// site's feeds) instead of a catalog to look it up in. Whole documents:
/// the least memory where no piece is kept (a start, a build).
pub fn render_named(feed: &FeedId, items: &[Arc<Article>], category_name: Option<&str>, settings: &FeedSettings) -> Vec<u8> {
    let meta = Meta::of(feed, items, category_name, settings);
    let whole = |n: usize| match feed.format {
        Format::Rss => rss::render(&meta, &items[..n]),
        Format::Atom => atom::render(&meta, &items[..n]),
        Format::Json => json::render(&meta, &items[..n]),
    };
    fit(feed, items.len(), settings, whole)
}

/// [`render_named`] as [`pieces`]: taking the items' pieces that `known`
/// has (from an earlier render with the same `settings`) and rendering
/// the others; with every item's piece, for the next render to take.
pub fn render_known(
    feed: &FeedId,
    items: &[Arc<Article>],
    category_name: Option<&str>,
    settings: &FeedSettings,
    known: &Pieces,
) -> (Vec<u8>, Vec<Used>) {
    let meta = Meta::of(feed, items, category_name, settings);
    let Some(pieces) = join::pieces_of(feed.format, &meta, items, known) else {
        return (Vec::new(), Vec::new());
    };
    let frames = join::Frames::new(feed.format, &meta);
    let bytes = fit(feed, items.len(), settings, |n| frames.join(&pieces[..n]));
    let used = items.iter().cloned().zip(pieces).map(|(a, piece)| (a, feed.format, piece)).collect();
    (bytes, used)
}

/// The rendering (`render(n)`: of the first `n` items) of the most of
/// `feed`'s newest items that `feeds.max_bytes` holds ([`budget`]).
fn fit(feed: &FeedId, items: usize, settings: &FeedSettings, render: impl Fn(usize) -> Vec<u8>) -> Vec<u8> {
    let fitted = budget::fit(settings.max_bytes, items, render);
    if fitted.kept < items {
        // Once per render: a feed is rendered once per change, not per request.
        tracing::warn!(
            feed = %feed.path(),
            kept = fitted.kept,
            items,
            max_bytes = settings.max_bytes,
            "the feed is over feeds.max_bytes: its oldest items are left out"
        );
    }
    fitted.bytes
}

/// A feed's title and description: [`title`] with its scope's display name
/// (none for the site's own feeds).
pub fn titles(feed: &FeedId, name: Option<&str>, settings: &FeedSettings) -> (String, String) {
    title(settings, if feed.scope == Scope::Site { None } else { name })
}

/// The newest change among `items`; the Unix epoch for an empty feed, so
/// that an empty feed's bytes do not depend on the clock either.
pub fn newest_change(items: &[Arc<Article>]) -> DateTime<FixedOffset> {
    items
        .iter()
        .map(|a| a.modified())
        .max()
        .unwrap_or_else(|| DateTime::UNIX_EPOCH.fixed_offset())
}

/// The item id of an article: a name-based UUID of the site and the
/// article's identity.
pub fn item_id(base_url: &Url, article: &Article) -> String {
    let name = format!("{}#{}", base_url.as_str(), article.id());
    format!("urn:uuid:{}", uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, name.as_bytes()))
}

fn join(base: &Url, path: &str) -> String {
    base.join(path).map(|u| u.to_string()).unwrap_or_else(|_| format!("{base}{path}"))
}

/// Whether the item carries the full body.
fn full(meta: &Meta) -> bool {
    meta.settings.content == ContentMode::Full
}

#[cfg(test)]
mod tests;
