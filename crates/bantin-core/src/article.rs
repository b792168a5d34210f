//! The plain data that every room passes around: an [`Article`] as the store
//! read it, already clean (NFC, no forbidden characters, HTML sanitised,
//! URLs absolute), and an [`ArticleError`] for a file that could not be read.

use chrono::{DateTime, FixedOffset};
use std::borrow::Cow;
use std::fmt;
pub use crate::intern::Shared;
use crate::intern::Interner;
use once_cell::race::OnceBox;
use std::sync::{Arc, LazyLock, Mutex};

mod names;
pub use names::{Names, OriginKey};

/// One article, ready for feeds and digests.
///
/// Equality compares the metadata and the source `fingerprint`, not the
/// body or summary: the fingerprint (of the whole file or row) already
/// tells whether they changed, and comparing them would load every body
/// the comparison touches.
#[derive(Debug, Clone)]
pub struct Article {
    /// Id, slug, title and origin, in one allocation; read them with
    /// [`Article::id`], [`Article::slug`], [`Article::title`] and
    /// [`Article::origin`].
    pub names: Names,
    /// The absolute URL of the article on the portal; read it with
    /// [`Article::url`].
    pub link: Link,
    pub published: DateTime<FixedOffset>,
    /// When the article itself last changed, if the store says so.
    pub updated: Option<DateTime<FixedOffset>>,
    /// The sanitised HTML body with absolute links and the plain-text
    /// summary, made the first time a feed or digest asks for them (see
    /// [`Content`]); use [`Article::content_html`] and [`Article::summary`].
    pub content: Content,
    /// A hash of the article's source (the whole file), to tell cheaply
    /// whether an article changed between two scans.
    pub fingerprint: u64,
    /// Category display names, in the article's order, without duplicates;
    /// one shared list per distinct set (see [`Category::set`]).
    pub categories: Shared<[Category]>,
    /// The writer, or the source for portal exports ("Báo Yên Bái"); one
    /// shared string per distinct name ([`shared_name`]).
    pub author: Option<Shared<str>>,
    /// Tags, lead image and problem, when the article has any ([`Rare`]);
    /// read them with [`Article::tags`], [`Article::image`] and
    /// [`Article::problem`].
    pub rare: Option<Box<Rare>>,
    pub draft: bool,
}

impl PartialEq for Article {
    fn eq(&self, o: &Self) -> bool {
        self.fingerprint == o.fingerprint
            && self.names == o.names
            && self.link == o.link
            && self.published == o.published
            && self.updated == o.updated
            && self.categories == o.categories
            && self.author == o.author
            && self.rare == o.rare
            && self.draft == o.draft
    }
}

impl Eq for Article {}

/// A category: its display name and its URL slug (`/categories/{slug}/…`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Category {
    pub slug: String,
    pub name: String,
}

/// The fields many articles leave empty, boxed together: an article
/// without any pays 8 bytes for them instead of 56 (5 MB at 100k); one
/// with a tag or an image pays those 8 and a 48-byte allocation, no more
/// than the fields took inline (each is exact-sized for that).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rare {
    pub tags: Box<[String]>,
    /// Absolute http(s) URL of the lead image the store names (front
    /// matter or column); the feeds fall back to the body's first image
    /// (`feeds::media::image_of`).
    pub image: Option<Box<str>>,
    /// What was dropped from the article while it was kept (an image URL
    /// that is not http(s)): listed with the store's errors
    /// ([`crate::Catalog::errors`]), so `bantin check` shows it.
    pub problem: Option<Box<ArticleError>>,
}

impl Rare {
    /// The box an article holds: `None` when there is nothing in it.
    pub fn boxed(tags: Vec<String>, image: Option<String>, problem: Option<ArticleError>) -> Option<Box<Rare>> {
        let rare = Rare { tags: tags.into(), image: image.map(Into::into), problem: problem.map(Box::new) };
        (rare != Rare::default()).then(|| Box::new(rare))
    }
}

/// Every distinct list of categories in use: a portal has a few dozen
/// categories and a few hundred combinations, and a list of its own per
/// article was ~250 bytes each (25 MB at 100k).
static CATEGORY_SETS: LazyLock<Mutex<Interner<[Category]>>> = LazyLock::new(Interner::new);

/// Every distinct author name in use: a portal has a few dozen writers,
/// and most of its exports name the portal itself ("Báo Yên Bái"), so a
/// string per article was ~32 bytes each.
static NAMES: LazyLock<Mutex<Interner<str>>> = LazyLock::new(Interner::new);

impl Category {
    /// The shared list equal to `list`.
    pub fn set(list: Vec<Category>) -> Shared<[Category]> {
        Interner::get(&CATEGORY_SETS, list.as_slice(), || list.clone().into_boxed_slice())
    }
}

/// The shared string equal to `name` (see [`Article::author`]).
pub fn shared_name(name: &str) -> Shared<str> {
    Interner::get(&NAMES, name, || Box::from(name))
}

/// Where an article's URL comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// A URL of its own: the front matter's `url`, or any URL that is not
    /// the site's article URL with this article's slug put in.
    Own(Box<str>),
    /// `site.article_url` with the article's slug put in, kept as the text
    /// around the slug, one allocation for the whole store (a copy of the
    /// URL was ~100 bytes an article, 10 MB at 100k). It follows the slug:
    /// a renamed duplicate's URL changes with it.
    Slug(Arc<AroundSlug>),
}

/// The text of a derived article URL before and after the slug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AroundSlug {
    pub before: String,
    pub after: String,
}

impl AroundSlug {
    /// The URL of the article whose slug is `slug`.
    pub fn url(&self, slug: &str) -> String {
        [self.before.as_str(), slug, self.after.as_str()].concat()
    }

    /// Whether `url` is exactly this text around `slug`.
    pub fn is(&self, url: &str, slug: &str) -> bool {
        url.len() == self.before.len() + slug.len() + self.after.len()
            && url.starts_with(&self.before)
            && url.ends_with(&self.after)
            && &url[self.before.len()..url.len() - self.after.len()] == slug
    }
}

impl Article {
    /// Identity: the front-matter `slug` when given, else the article's path
    /// in the store without its extension (an SQL store's row key). Never
    /// derived from mtime or from the title, so it survives edits and
    /// restarts; feed GUIDs/ids and the digest's "already sent" bookkeeping
    /// are keyed on it.
    pub fn id(&self) -> &str {
        self.names.id()
    }

    /// The URL slug (front-matter `slug`, else made from the title).
    pub fn slug(&self) -> &str {
        self.names.slug()
    }

    pub fn title(&self) -> &str {
        self.names.title()
    }

    /// Where the article came from, for messages: a store-relative path,
    /// or an SQL store's `table#key`.
    pub fn origin(&self) -> &str {
        self.names.origin()
    }

    /// The absolute URL of the article on the portal.
    pub fn url(&self) -> Cow<'_, str> {
        match &self.link {
            Link::Own(url) => Cow::Borrowed(url),
            Link::Slug(around) => Cow::Owned(around.url(self.slug())),
        }
    }

    /// The tags, in the article's order (see [`Rare`]).
    pub fn tags(&self) -> &[String] {
        self.rare.as_ref().map_or(&[], |r| &r.tags)
    }

    /// The lead image the store names (see [`Rare::image`]).
    pub fn image(&self) -> Option<&str> {
        self.rare.as_ref()?.image.as_deref()
    }

    /// What was dropped from the article while it was kept (see
    /// [`Rare::problem`]).
    pub fn problem(&self) -> Option<&ArticleError> {
        self.rare.as_ref()?.problem.as_deref()
    }

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

    /// The HTML body. An empty body is stood in for by the summary.
    pub fn content_html(&self) -> Arc<str> {
        match self.content.body(self.origin()) {
            Some(body) if !body.html.trim().is_empty() => Arc::clone(&body.html),
            Some(body) => Arc::from(format!(
                "<p>{}</p>\n",
                crate::text::escape_html(&body.summary)
            )),
            // Its file vanished since the scan: the title stands in.
            None => Arc::from(format!(
                "<p>{}</p>\n",
                crate::text::escape_html(self.title())
            )),
        }
    }

    /// The plain-text lead or summary (empty when the body cannot be
    /// produced any more).
    pub fn summary(&self) -> &str {
        self.content.body(self.origin()).map_or("", |body| &body.summary)
    }
}

/// What [`Content`] holds once made: the HTML body and the summary, which
/// for most articles is drawn from the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    pub html: Arc<str>,
    pub summary: Arc<str>,
}

/// Where a deferred body comes from: the store that read the article,
/// asked again for the article at `origin` (re-read the file, render it).
/// One per store, shared by all its articles.
pub trait BodySource: Send + Sync {
    fn body(&self, origin: &str) -> Result<Body, String>;
}

/// A [`BodySource`] as articles hold it: the `Box` makes the shared
/// pointer thin (8 bytes, not the 16 of an `Arc<dyn BodySource>`), which
/// every article of a store carries.
pub type SharedSource = Arc<Box<dyn BodySource>>;

/// An article's HTML body and summary, made at most once and only when
/// wanted.
///
/// Rendering Markdown and sanitising HTML is most of the cost of reading a
/// store, and holding every body (and even every ~350-byte summary) is most
/// of its memory, while feeds and digests only show the newest few dozen
/// articles. So a store may hand out a body as a [`BodySource`] that makes
/// it on first use; the result is kept. It is held inline in its article
/// (a separate allocation and a boxed closure per article were ~130 bytes
/// each, 13 MB at 100k), and asked for through the article, which knows
/// its origin: [`Article::content_html`], [`Article::summary`]. The cell is
/// one pointer, set once ([`OnceBox`]): 16 bytes with the source, where a
/// `OnceLock` and a fat source pointer were 32 (1.6 MB at 100k). Two
/// threads asking for the same body at the same moment may both make it;
/// the first kept is the one every later reader gets.
#[derive(Clone)]
pub struct Content {
    body: OnceBox<Option<Body>>,
    source: Option<SharedSource>,
}

impl Content {
    /// A body and summary that are already made.
    pub fn ready(html: String, summary: String) -> Content {
        let body = OnceBox::new();
        let _ = body.set(Box::new(Some(Body { html: Arc::from(html), summary: Arc::from(summary) })));
        Content { body, source: None }
    }

    /// A body made by `source` on first use; an `Err` is logged and the
    /// body is then treated as missing.
    pub fn deferred(source: SharedSource) -> Content {
        Content { body: OnceBox::new(), source: Some(source) }
    }

    /// The body and summary of the article at `origin`, made now if needed.
    pub fn body(&self, origin: &str) -> Option<&Body> {
        self.body
            .get_or_init(|| {
                Box::new(match &self.source {
                    Some(source) => match source.body(origin) {
                        Ok(body) => Some(body),
                        Err(reason) => {
                            tracing::warn!("article body unavailable: {reason}");
                            None
                        }
                    },
                    None => None,
                })
            })
            .as_ref()
    }

    /// Whether the body has been made (and is held in memory).
    pub fn is_loaded(&self) -> bool {
        self.body.get().is_some()
    }
}

impl fmt::Debug for Content {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.body.get().map(Option::as_ref) {
            Some(Some(body)) => write!(f, "Content({} bytes)", body.html.len()),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every article of a store is held in memory (100k of them for a
    /// large portal, issue 24's memory target): a field that grows the
    /// record grows `serve` by 100 bytes an article at 100k. Rare fields
    /// go in [`Rare`], the body cell stays one pointer, the four strings
    /// one allocation ([`Names`]).
    #[test]
    fn the_article_record_stays_compact() {
        assert!(std::mem::size_of::<Article>() <= 136, "Article is {} bytes", std::mem::size_of::<Article>());
        assert_eq!(std::mem::size_of::<Content>(), 16);
        assert!(std::mem::size_of::<Rare>() <= 40, "Rare is {} bytes", std::mem::size_of::<Rare>());
    }

    #[test]
    fn rare_fields_take_no_box_when_empty() {
        assert!(Rare::boxed(Vec::new(), None, None).is_none());
        let rare = Rare::boxed(vec!["Mường Lò".into()], None, None).expect("a tag is kept");
        assert_eq!(&*rare.tags, ["Mường Lò"]);
    }
}
