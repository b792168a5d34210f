//! The plain data that every room passes around: an [`Article`] as the store
//! read it, already clean (NFC, no forbidden characters, HTML sanitised,
//! URLs absolute), and an [`ArticleError`] for a file that could not be read.

use chrono::{DateTime, FixedOffset};
use std::fmt;
use std::sync::{Arc, OnceLock};

/// One article, ready for feeds and digests.
///
/// Equality compares the metadata and the source `fingerprint`, not the
/// rendered body: the fingerprint already tells whether the body changed,
/// and comparing bodies would render every body the comparison touches.
#[derive(Debug, Clone)]
pub struct Article {
    /// Identity: the front-matter `slug` when given, else the article's path
    /// in the store without its extension. Never derived from mtime or from
    /// the title, so it survives edits and restarts; feed GUIDs/ids and the
    /// digest's "already sent" bookkeeping are keyed on it.
    pub id: String,
    /// The URL slug (front-matter `slug`, else made from the title).
    pub slug: String,
    /// The absolute URL of the article on the portal.
    pub url: String,
    pub title: String,
    pub published: DateTime<FixedOffset>,
    /// When the article itself last changed, if the store says so.
    pub updated: Option<DateTime<FixedOffset>>,
    /// Plain-text lead or summary.
    pub summary: String,
    /// The sanitised HTML body with absolute links, rendered the first time
    /// a feed asks for it (see [`Content`]); use [`Article::content_html`].
    pub content: Content,
    /// A hash of the article's source (the whole file), to tell cheaply
    /// whether an article changed between two scans.
    pub fingerprint: u64,
    /// Category display names, in the article's order, without duplicates.
    pub categories: Vec<Category>,
    pub tags: Vec<String>,
    /// The writer, or the source for portal exports ("Báo Yên Bái").
    pub author: Option<String>,
    /// Absolute URL of the lead image.
    pub image: Option<String>,
    pub draft: bool,
    /// Where the article came from, for messages: a store-relative path.
    pub origin: String,
}

impl PartialEq for Article {
    fn eq(&self, o: &Self) -> bool {
        self.fingerprint == o.fingerprint
            && self.id == o.id
            && self.slug == o.slug
            && self.url == o.url
            && self.title == o.title
            && self.published == o.published
            && self.updated == o.updated
            && self.summary == o.summary
            && self.categories == o.categories
            && self.tags == o.tags
            && self.author == o.author
            && self.image == o.image
            && self.draft == o.draft
            && self.origin == o.origin
    }
}

impl Eq for Article {}

/// A category: its display name and its URL slug (`/categories/{slug}/…`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Category {
    pub slug: String,
    pub name: String,
}

impl Article {
    /// The instant the article last changed: `updated`, else `published`.
    pub fn modified(&self) -> DateTime<FixedOffset> {
        self.updated.map_or(self.published, |u| u.max(self.published))
    }

    /// Whether readers may see it at `now`: not a draft, not in the future.
    pub fn is_visible_at(&self, now: DateTime<FixedOffset>) -> bool {
        !self.draft && self.published <= now
    }

    pub fn in_category(&self, slug: &str) -> bool {
        self.categories.iter().any(|c| c.slug == slug)
    }

    /// The HTML body. When the body cannot be produced any more (its file
    /// vanished since the scan), the summary stands in for it.
    pub fn content_html(&self) -> Arc<str> {
        match self.content.html() {
            Some(html) if !html.trim().is_empty() => html,
            _ => Arc::from(format!("<p>{}</p>\n", crate::text::escape_html(&self.summary))),
        }
    }
}

type Loader = Box<dyn Fn() -> Result<String, String> + Send + Sync>;

/// An article's HTML body, rendered at most once and only when wanted.
///
/// Rendering Markdown and sanitising HTML is most of the cost of reading a
/// store, and holding every body is most of its memory, while feeds only
/// show the newest few dozen articles. So a store may hand out a body as a
/// loader (re-read the file, render it) that runs on first use; the result
/// is kept, and clones share it.
#[derive(Clone)]
pub struct Content {
    inner: Arc<ContentInner>,
}

struct ContentInner {
    html: OnceLock<Option<Arc<str>>>,
    loader: Option<Loader>,
}

impl Content {
    /// A body that is already rendered.
    pub fn ready(html: String) -> Content {
        let cell = OnceLock::new();
        let _ = cell.set(Some(Arc::from(html)));
        Content { inner: Arc::new(ContentInner { html: cell, loader: None }) }
    }

    /// A body rendered by `loader` on first use; an `Err` is logged once
    /// and the body is then treated as missing.
    pub fn lazy(loader: impl Fn() -> Result<String, String> + Send + Sync + 'static) -> Content {
        Content { inner: Arc::new(ContentInner { html: OnceLock::new(), loader: Some(Box::new(loader)) }) }
    }

    /// The rendered HTML, rendering it now if needed.
    pub fn html(&self) -> Option<Arc<str>> {
        self.inner
            .html
            .get_or_init(|| match &self.inner.loader {
                Some(load) => match load() {
                    Ok(html) => Some(Arc::from(html)),
                    Err(reason) => {
                        tracing::warn!("article body unavailable: {reason}");
                        None
                    }
                },
                None => None,
            })
            .clone()
    }

    /// Whether the body has been rendered (and is held in memory).
    pub fn is_loaded(&self) -> bool {
        self.inner.html.get().is_some()
    }
}

impl PartialEq for Content {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner) || self.html() == other.html()
    }
}

impl Eq for Content {}

impl fmt::Debug for Content {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.inner.html.get() {
            Some(Some(html)) => write!(f, "Content({} bytes)", html.len()),
            Some(None) => f.write_str("Content(unavailable)"),
            None => f.write_str("Content(not rendered yet)"),
        }
    }
}

/// Why one file of the store did not become an article.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleError {
    /// Store-relative path (or row key for SQL stores).
    pub origin: String,
    /// 1-based line in the file, where known.
    pub line: Option<usize>,
    pub reason: String,
}

impl fmt::Display for ArticleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.origin, line, self.reason),
            None => write!(f, "{}: {}", self.origin, self.reason),
        }
    }
}

impl std::error::Error for ArticleError {}
