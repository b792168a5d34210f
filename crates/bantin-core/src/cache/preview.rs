//! A feed's preview page: what a browser's navigation to a feed URL gets
//! (`Sec-Fetch-Dest: document`, with `feeds.browser_view`) instead of raw
//! XML or JSON, which Chromium shows as text (and XSLT is on its way out
//! of browsers). What a feed is, its address to copy into a reader, some
//! readers, and its newest items with dates, images and links; from the
//! template `feed.html` (built in, or `mail.templates_dir`'s override).
//!
//! Rendered on demand, once per feed content, and kept beside the feed
//! ([`super::FeedCache::document`]): the first browser to open a feed
//! after it changed renders at most [`PREVIEW_ITEMS`] items (a template
//! and a gzip, well under a millisecond), and feeds nobody opens in a
//! browser (nearly all of a large store's) cost neither render time on
//! the path from a change to its feeds nor memory. The items' summaries
//! were made when the feed was rendered, so this reads no file.

use super::Entry;
use crate::article::Article;
use crate::feeds::{self, FeedId, FeedSettings, Format};
use crate::templates::{TemplateError, Templates};
use chrono::{DateTime, FixedOffset};
use serde::Serialize;
use std::sync::Arc;

/// How many of a feed's newest items its preview shows.
pub const PREVIEW_ITEMS: usize = 20;

/// What `templates/feed.html` is rendered with.
#[derive(Serialize)]
struct PreviewPage {
    lang: String,
    site_title: String,
    /// `site.icon`, for the page's `<link rel="icon">`.
    site_icon: Option<String>,
    home: String,
    index_url: String,
    feed: FeedInfo,
    others: Vec<FeedInfo>,
    items: Vec<Item>,
    more: bool,
}

#[derive(Serialize)]
struct FeedInfo {
    title: String,
    description: String,
    url: String,
    /// The link's text (`RSS`, `Atom`, `JSON Feed`).
    kind: &'static str,
    mime: &'static str,
    /// The same as `url`, for the `others` list's links.
    href: String,
}

#[derive(Serialize)]
struct Item {
    title: String,
    url: String,
    /// As the site's readers write it, in the site's zone: `21/02/2020 08:56`.
    date: String,
    datetime: String,
    image: Option<String>,
    summary: String,
}

/// The preview of `feed` with its `items` (newest first) and its
/// category's display name, from the template `feed.html` of `settings`.
pub fn preview_page(
    feed: &FeedId,
    items: &[Arc<Article>],
    category_name: Option<&str>,
    settings: &FeedSettings,
) -> Result<String, TemplateError> {
    settings.templates.render("feed.html", context(feed, items, category_name, settings))
}

fn context(feed: &FeedId, items: &[Arc<Article>], category_name: Option<&str>, settings: &FeedSettings) -> PreviewPage {
    let url = |path: &str| settings.public_url.join(path).map(|u| u.to_string()).unwrap_or_else(|_| format!("/{path}"));
    let (title, description) = feeds::titles(feed, category_name, settings);
    let info = |format: Format| {
        let href = url(&FeedId::new(feed.scope.clone(), format).path());
        FeedInfo {
            title: title.clone(),
            description: description.clone(),
            url: href.clone(),
            kind: format.label(),
            mime: format.mime(),
            href,
        }
    };
    PreviewPage {
        lang: settings.language.clone(),
        site_title: settings.site_title.clone(),
        site_icon: settings.icon.as_ref().map(|u| u.to_string()),
        home: settings.base_url.to_string(),
        index_url: url(""),
        feed: info(feed.format),
        others: Format::ALL.into_iter().filter(|f| *f != feed.format).map(info).collect(),
        items: items.iter().take(PREVIEW_ITEMS).map(|a| item(a)).collect(),
        more: items.len() > PREVIEW_ITEMS,
    }
}

fn item(a: &Article) -> Item {
    Item {
        title: a.title().to_string(),
        url: a.url().into_owned(),
        date: a.published.format("%d/%m/%Y %H:%M").to_string(),
        datetime: a.published.to_rfc3339(),
        // The image the feeds carry: the article's own, else its body's first.
        image: feeds::media::image_of(a).map(|image| image.url.into_owned()),
        summary: a.summary().to_string(),
    }
}

/// The preview as a cache entry: its own validators (a hash of the page),
/// the feed's Last-Modified and headers. An override of `feed.html` that
/// fails as it renders gives the built-in page (the error logged).
pub(super) fn entry(
    feed: &FeedId,
    items: &[Arc<Article>],
    category_name: Option<&str>,
    settings: &FeedSettings,
    of: &Entry,
) -> Entry {
    let html = preview_page(feed, items, category_name, settings).unwrap_or_else(|e| {
        tracing::error!("the preview of {}: {e}; serving the built-in one", feed.path());
        let builtin = FeedSettings { templates: Templates::shared_builtin(), ..settings.clone() };
        preview_page(feed, items, category_name, &builtin).unwrap_or_default()
    });
    let modified: DateTime<FixedOffset> = DateTime::<chrono::Utc>::from(of.modified_at).fixed_offset();
    Entry::new(html.into_bytes(), "text/html; charset=utf-8", modified).with_headers(of.vary.clone(), of.links.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::{Encoding, FeedCache, refresh};
    use crate::catalog::Catalog;

    fn catalog(articles: usize) -> Catalog {
        let ctx = crate::store::Context::new(
            chrono_tz::Asia::Ho_Chi_Minh,
            url::Url::parse("https://yenbai.gov.vn/").unwrap(),
            "tin-tuc/{slug}",
        );
        let articles = (0..articles)
            .map(|i| {
                let image = if i == 0 { "image = \"/anh/cau.jpg\"\n" } else { "" };
                let text = format!(
                    "+++\ntitle = \"Bài <{i}>\"\ndate = 2026-11-{:02}T08:30:00+07:00\ncategories = [\"Du lịch\"]\n{image}+++\nĐoạn đầu của bài {i}.\n",
                    1 + i % 28
                );
                crate::store::parse_bytes(text.as_bytes(), &format!("bai-{i}.md"), &ctx).unwrap()
            })
            .collect();
        Catalog::new(articles, Vec::new(), &ctx, 1)
    }

    fn now() -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339("2026-12-01T00:00:00+07:00").unwrap()
    }

    fn html(cache: &FeedCache, path: &str) -> String {
        let entry = cache.document(path, true).unwrap();
        String::from_utf8(entry.get(Encoding::Identity).1.bytes.to_vec()).unwrap()
    }

    #[test]
    fn a_browser_gets_the_preview_and_every_other_client_the_feed() {
        let settings = crate::cache::tests::feed_settings();
        let (cache, _) = refresh(None, &catalog(3), &settings, now());
        for path in ["/feed.xml", "/categories/du-lich/atom.xml", "feed.json"] {
            let feed = cache.document(path, false).unwrap();
            assert!(Arc::ptr_eq(feed, cache.feed(path).unwrap()), "{path}: the feed, as today");
            let preview = cache.document(path, true).unwrap();
            assert_eq!(preview.content_type, "text/html; charset=utf-8");
            assert_ne!(preview.hash, feed.hash, "{path}: its own validators");
            assert!(!preview.has_tag(feed.gzip.etag.to_str().unwrap()), "{path}: the feed's ETag is not the page's");
            assert_eq!(preview.vary, "Accept-Encoding, Sec-Fetch-Dest");
            assert_eq!(feed.vary, "Accept-Encoding, Sec-Fetch-Dest");
            assert_eq!(preview.modified_at, feed.modified_at);
            assert!(Arc::ptr_eq(preview, cache.document(path, true).unwrap()), "{path}: rendered once");
        }
        let page = html(&cache, "/categories/du-lich/atom.xml");
        for shown in [
            "<title>Cổng thông tin – Du lịch – nguồn tin Atom</title>",
            "value=\"https://feeds.example.org/categories/du-lich/atom.xml\"",
            "<a href=\"https://yenbai.gov.vn/tin-tuc/bai-0\">Bài &lt;0&gt;</a>",
            "<time datetime=\"2026-11-01T08:30:00+07:00\">01/11/2026 08:30</time>",
            "<img src=\"https://yenbai.gov.vn/anh/cau.jpg\" alt=\"\" loading=\"lazy\">",
            "<p>Đoạn đầu của bài 2.</p>",
            "href=\"https://feeds.example.org/categories/du-lich/feed.xml\" type=\"application/rss+xml\">RSS</a>",
        ] {
            assert!(page.contains(shown), "{shown} in\n{page}");
        }
        assert!(!page.contains("<script"), "no script: the pages' CSP allows none");
        assert_eq!(page.matches("<img").count(), 1, "only the article with an image shows one");
    }

    #[test]
    fn the_preview_lives_as_long_as_its_feed() {
        let settings = crate::cache::tests::feed_settings();
        let (first, _) = refresh(None, &catalog(3), &settings, now());
        let before = Arc::clone(first.document("/feed.xml", true).unwrap());
        let (same, _) = refresh(Some(&first), &catalog(3), &settings, now());
        assert!(Arc::ptr_eq(&before, same.document("/feed.xml", true).unwrap()), "carried over with its feed");
        let (more, _) = refresh(Some(&same), &catalog(4), &settings, now());
        assert!(html(&more, "/feed.xml").contains("Bài &lt;3&gt;"), "a changed feed gets a new preview");
    }

    #[test]
    fn a_long_feed_shows_its_newest_items_and_browser_view_off_serves_the_feed() {
        let mut settings = crate::cache::tests::feed_settings();
        let (cache, _) = refresh(None, &catalog(PREVIEW_ITEMS + 5), &settings, now());
        let page = html(&cache, "/feed.xml");
        assert_eq!(page.matches("<time").count(), PREVIEW_ITEMS);
        assert!(page.contains("Trình đọc tin sẽ nhận thêm"), "says there is more");
        settings.browser_view = false;
        let (cache, _) = refresh(None, &catalog(2), &settings, now());
        let feed = cache.feed("/feed.xml").unwrap();
        assert!(Arc::ptr_eq(cache.document("/feed.xml", true).unwrap(), feed));
        assert_eq!(feed.vary, "Accept-Encoding");
    }

    #[test]
    fn a_broken_override_gives_the_built_in_preview() {
        let t = Templates::build(|name| Ok((name == "feed.html").then(|| "{{ no_such_value }}".to_string()))).unwrap();
        let settings = crate::cache::tests::feed_settings().with_templates(Arc::new(t));
        let (cache, _) = refresh(None, &catalog(1), &settings, now());
        assert!(html(&cache, "/feed.xml").contains("<h2 id=\"nguon-tin\">"));
    }
}
