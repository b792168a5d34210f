//! The plain data that every room passes around: an [`Article`] as the store
//! read it, already clean (NFC, no forbidden characters, HTML sanitised,
//! URLs absolute), and an [`ArticleError`] for a file that could not be read.

use chrono::{DateTime, FixedOffset};
use std::fmt;
use std::sync::Arc;

/// One article, ready for feeds and digests.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// Sanitised HTML body with absolute links; shared because feeds and
    /// digests render it many times.
    pub content_html: Arc<str>,
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
