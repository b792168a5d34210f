//! `/sitemap-news.xml`: Google's news sitemap (sitemap 0.9 with the news
//! 0.9 extension): the articles published in the last two days before
//! `now`, newest first, at most 1,000, each with the publication's name and
//! language, its publication date (W3C date-time) and title.
//!
//! It depends on the clock: an article leaves it two days after its
//! publication, with no change to the store. [`ages_out`] is that instant,
//! which the service waits for as it waits for a future article.

use crate::article::Article;
use crate::catalog::{Catalog, Scope};
use crate::feeds::FeedSettings;
use crate::text::escape_html;
use chrono::{DateTime, FixedOffset, SecondsFormat, TimeDelta};
use std::sync::Arc;

pub const PATH: &str = "sitemap-news.xml";
pub const CONTENT_TYPE: &str = "application/xml; charset=utf-8";
/// Google's limits: articles of the last two days, 1,000 at most a sitemap.
pub const WINDOW: TimeDelta = TimeDelta::days(2);
pub const MAX_URLS: usize = 1000;

/// The articles the sitemap lists at `now`, newest first.
pub fn items(catalog: &Catalog, now: DateTime<FixedOffset>) -> Vec<Arc<Article>> {
    let since = now - WINDOW;
    let mut items = catalog.newest(&Scope::Site, now, MAX_URLS);
    // Newest first: the ones in the window are a prefix.
    let keep = items.partition_point(|a| a.published >= since);
    items.truncate(keep);
    items
}

/// The first instant after which the oldest of `items` has left the
/// window, so the sitemap must be rendered again; `None` when empty.
pub fn ages_out(items: &[Arc<Article>]) -> Option<DateTime<FixedOffset>> {
    items.last().map(|a| a.published + WINDOW)
}

/// The next instant after `now` at which some document changes with no
/// change to the store: a future article's publication, or (with the news
/// sitemap on) the oldest article of the sitemap leaving it.
pub fn next_change(catalog: &Catalog, news_sitemap: bool, now: DateTime<FixedOffset>) -> Option<DateTime<FixedOffset>> {
    let ages = news_sitemap.then(|| ages_out(&items(catalog, now))).flatten();
    [catalog.next_publication(now), ages].into_iter().flatten().min()
}

/// The sitemap of `items` (from [`items`]).
pub fn render(items: &[Arc<Article>], settings: &FeedSettings) -> Vec<u8> {
    let name = escape_html(&settings.site_title);
    let language = escape_html(&language(&settings.language));
    let mut out = String::with_capacity(256 + items.len() * 512);
    out.push_str(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\" \
         xmlns:news=\"http://www.google.com/schemas/sitemap-news/0.9\">\n",
    );
    for a in items {
        out.push_str(&format!(
            "<url><loc>{}</loc><news:news><news:publication><news:name>{name}</news:name>\
             <news:language>{language}</news:language></news:publication>\
             <news:publication_date>{}</news:publication_date><news:title>{}</news:title></news:news></url>\n",
            escape_html(&a.url()),
            a.published.to_rfc3339_opts(SecondsFormat::Secs, false),
            escape_html(a.title()),
        ));
    }
    out.push_str("</urlset>\n");
    out.into_bytes()
}

/// The language as Google's news sitemap wants it: the ISO 639 code
/// (`vi-VN` → `vi`), except Chinese, which is `zh-cn` or `zh-tw`.
pub fn language(tag: &str) -> String {
    let tag = tag.trim().to_ascii_lowercase().replace('_', "-");
    let mut parts = tag.split('-');
    let primary = parts.next().unwrap_or_default().to_string();
    if primary != "zh" {
        return primary;
    }
    let traditional = parts.any(|p| matches!(p, "tw" | "hk" | "mo" | "hant"));
    if traditional { "zh-tw" } else { "zh-cn" }.to_string()
}

#[cfg(test)]
mod tests {
    use super::language;

    #[test]
    fn languages_are_the_codes_google_wants() {
        for (given, want) in [("vi", "vi"), ("vi-VN", "vi"), ("en_GB", "en"), ("zh-Hant-TW", "zh-tw"), ("zh", "zh-cn"), ("ZH-HK", "zh-tw")] {
            assert_eq!(language(given), want, "{given}");
        }
    }
}
