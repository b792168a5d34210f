//! The feed cache through the library: a change re-renders only the feeds
//! it touches, and the store state keeps unchanged articles shared.

use bantin::cache;
use bantin::config::ContentMode;
use bantin::feeds::FeedSettings;
use bantin::live::dir::StoreState;
use bantin::store::Context;
use chrono::DateTime;
use std::path::Path;

fn ctx() -> Context {
    Context::new(chrono_tz::Asia::Ho_Chi_Minh, url::Url::parse("https://portal.example.org/").unwrap(), "{slug}")
}

fn settings() -> FeedSettings {
    FeedSettings {
        site_title: "Cổng thông tin".into(),
        description: "Tin tức".into(),
        language: "vi".into(),
        base_url: url::Url::parse("https://portal.example.org/").unwrap(),
        public_url: url::Url::parse("https://feeds.example.org/").unwrap(),
        content: ContentMode::Full,
        items: 50,
        websub_hub: None,
        icon: None,
        logo: None,
        browser_view: true,
        max_bytes: 2_000_000,
        tags: false,
        authors: false,
        news_sitemap: false,
        timezone: chrono_tz::Asia::Ho_Chi_Minh,
        templates: bantin::templates::Templates::shared_builtin(),
    }
}

fn article(dir: &Path, name: &str, title: &str, date: &str, category: &str) {
    std::fs::write(
        dir.join(name),
        format!("+++\ntitle = \"{title}\"\ndate = \"{date}\"\ncategories = [\"{category}\"]\n+++\n\nNội dung {title}.\n"),
    )
    .unwrap();
}

#[test]
fn a_change_re_renders_only_the_feeds_it_touches() {
    let dir = tempfile::tempdir().unwrap();
    article(dir.path(), "a.md", "Cầu mới", "2024-05-01T08:00:00+07:00", "Kinh tế");
    article(dir.path(), "b.md", "Lễ hội", "2024-05-02T08:00:00+07:00", "Văn hóa");
    let now = DateTime::parse_from_rfc3339("2025-01-01T00:00:00+07:00").unwrap();
    let mut store = StoreState::load(dir.path(), &ctx());
    let first = store.catalog(1);
    let (c1, stats) = cache::refresh(None, &first, &settings(), now);
    // site + two categories, three formats each, the OPML list and robots.txt
    assert_eq!((stats.rendered, stats.kept), (11, 0));
    let culture_etag = c1.feed("categories/van-hoa/feed.xml").unwrap().identity().unwrap().etag.clone();

    // Nothing changed on disk: no change, no render.
    assert!(!store.rescan().changed);
    let second = store.catalog(2);
    let (c2, stats) = cache::refresh(Some(&c1), &second, &settings(), now);
    assert_eq!((stats.rendered, stats.kept), (0, 11));
    assert_eq!(c2.feed("feed.xml").unwrap().hash, c1.feed("feed.xml").unwrap().hash);

    // An edit in one category: the site feeds and that category only.
    article(dir.path(), "a.md", "Cầu mới khánh thành", "2024-05-01T08:00:00+07:00", "Kinh tế");
    let applied = store.apply(&[dir.path().join("a.md")]);
    assert!(applied.changed);
    // The service's path: the previous generation plus the change.
    let third = store.next_catalog(&second);
    let (c3, stats) = cache::refresh(Some(&c2), &third, &settings(), now);
    // (The OPML list and robots.txt are kept: the same feeds and settings.)
    assert_eq!((stats.rendered, stats.kept), (6, 5));
    assert_eq!(c3.feed("categories/van-hoa/feed.xml").unwrap().identity().unwrap().etag, culture_etag);
    assert_ne!(c3.feed("categories/kinh-te/feed.xml").unwrap().hash, c2.feed("categories/kinh-te/feed.xml").unwrap().hash);

    // Rewriting a file with the same content is not a change.
    article(dir.path(), "b.md", "Lễ hội", "2024-05-02T08:00:00+07:00", "Văn hóa");
    assert!(!store.apply(&[dir.path().join("b.md")]).changed);

    // Deleting the only article of a category drops its feeds (404s).
    std::fs::remove_file(dir.path().join("b.md")).unwrap();
    assert!(store.apply(&[dir.path().join("b.md")]).changed);
    let fourth = store.next_catalog(&third);
    assert_eq!(fourth.generation, 4);
    let (c4, stats) = cache::refresh(Some(&c3), &fourth, &settings(), now);
    assert_eq!(stats.dropped, 3);
    assert!(c4.feed("categories/van-hoa/feed.xml").is_none());
    assert_eq!(c4.feed_paths().count(), 6, "six feeds (the OPML list and robots.txt are no feeds)");
    assert!(c4.feed("feeds.opml").is_some() && c4.feed("robots.txt").is_some());

    // Brotli forms come later, merged by content: only entries whose
    // content matches get them, and the other forms stay as they were.
    let missing = c4.unfinished_entries();
    assert!(!missing.is_empty());
    let done: std::collections::HashMap<String, std::sync::Arc<cache::Entry>> =
        missing.iter().map(|e| (e.hash.clone(), std::sync::Arc::new(e.add_brotli()))).collect();
    let c5 = c4.merge_finished(&done).unwrap();
    assert!(!c5.needs_finishing());
    // A feed rendered after a change went out with the quick gzip form;
    // the merge puts the final one in its place. The content stays.
    let (old, new) = (c4.feed("feed.xml").unwrap(), c5.feed("feed.xml").unwrap());
    assert!(old.quick && !new.quick);
    assert_eq!(old.gzip.etag, format!("\"{}-gz1\"", old.hash));
    assert_eq!(new.gzip.etag, format!("\"{}-gz\"", old.hash));
    assert_eq!(new.identity().unwrap().etag, old.identity().unwrap().etag);
    assert!(new.has_tag(old.gzip.etag.to_str().unwrap()));
    assert!(c5.merge_finished(&done).is_none(), "nothing left to merge");
}

#[test]
fn a_future_article_appears_when_its_time_comes() {
    let dir = tempfile::tempdir().unwrap();
    article(
        dir.path(),
        "a.md",
        "Đã đăng",
        "2024-05-01T08:00:00+07:00",
        "Tin",
    );
    article(
        dir.path(),
        "b.md",
        "Hẹn giờ",
        "2024-06-01T08:00:00+07:00",
        "Tin",
    );
    let mut store = StoreState::load(dir.path(), &ctx());
    let catalog = store.catalog(1);
    let before = DateTime::parse_from_rfc3339("2024-05-15T00:00:00+07:00").unwrap();
    let (c1, _) = cache::refresh(None, &catalog, &settings(), before);
    let text = |c: &cache::FeedCache| String::from_utf8(c.feed("feed.xml").unwrap().identity().unwrap().bytes.to_vec()).unwrap();
    assert!(!text(&c1).contains("Hẹn giờ"));
    let at = catalog.next_publication(before).unwrap();
    assert_eq!(at, DateTime::parse_from_rfc3339("2024-06-01T08:00:00+07:00").unwrap());
    let (c2, stats) = cache::refresh(Some(&c1), &catalog, &settings(), at);
    assert!(text(&c2).contains("Hẹn giờ"));
    assert_eq!(stats.rendered, 6);
}

/// Regression: Last-Modified was the newest item's date, so a retracted
/// article below the newest left it as it was, and a reader asking with
/// If-Modified-Since alone got 304 and kept the article. A change that
/// does not move the newest item now moves Last-Modified to the change.
#[test]
fn a_retracted_article_moves_last_modified_and_if_modified_since_gets_the_feed() {
    let dir = tempfile::tempdir().unwrap();
    article(dir.path(), "a.md", "Tin mới nhất", "2024-05-02T08:00:00+07:00", "Tin");
    article(dir.path(), "b.md", "Tin bị gỡ", "2024-05-01T08:00:00+07:00", "Tin");
    let now = DateTime::parse_from_rfc3339("2025-01-01T00:00:00+07:00").unwrap();
    let mut store = StoreState::load(dir.path(), &ctx());
    let first = store.catalog(1);
    let (c1, _) = cache::refresh(None, &first, &settings(), now);
    let before = c1.feed("feed.xml").unwrap();
    assert_eq!(before.last_modified.to_str().unwrap(), "Thu, 02 May 2024 01:00:00 GMT", "the newest item's date");
    let asked = before.last_modified.to_str().unwrap().to_string();
    assert!(bantin::http::negotiate::not_modified(before, None, Some(&asked)));

    std::fs::remove_file(dir.path().join("b.md")).unwrap();
    assert!(store.apply(&[dir.path().join("b.md")]).changed);
    let second = store.next_catalog(&first);
    let later = DateTime::parse_from_rfc3339("2025-01-02T09:30:00+07:00").unwrap();
    let (c2, _) = cache::refresh(Some(&c1), &second, &settings(), later);
    for path in ["feed.xml", "atom.xml", "feed.json", "categories/tin/feed.xml"] {
        let after = c2.feed(path).unwrap();
        assert_eq!(after.last_modified.to_str().unwrap(), "Thu, 02 Jan 2025 02:30:00 GMT", "{path}: the change's moment");
        assert!(!bantin::http::negotiate::not_modified(after, None, Some(&asked)), "{path}: the new bytes, not a 304");
    }
}

/// The same after a reload whose settings change a feed's bytes (here,
/// fewer items): every feed is rendered again and its Last-Modified moves
/// past the one served, where it went back to the newest item's date.
#[test]
fn a_reload_that_changes_the_feeds_moves_their_last_modified() {
    let dir = tempfile::tempdir().unwrap();
    article(dir.path(), "a.md", "Tin mới nhất", "2024-05-02T08:00:00+07:00", "Tin");
    article(dir.path(), "b.md", "Tin cũ", "2024-05-01T08:00:00+07:00", "Tin");
    let now = DateTime::parse_from_rfc3339("2025-01-01T00:00:00+07:00").unwrap();
    let catalog = StoreState::load(dir.path(), &ctx()).catalog(1);
    let (served, _) = cache::refresh(None, &catalog, &settings(), now);
    let asked = served.feed("feed.xml").unwrap().last_modified.to_str().unwrap().to_string();
    let fewer = FeedSettings { items: 1, ..settings() };
    let later = DateTime::parse_from_rfc3339("2025-01-02T09:30:00+07:00").unwrap();
    let (reloaded, stats) = cache::refresh_all(&served, &catalog, &fewer, later);
    assert_eq!(stats.kept, 0, "nothing reused");
    let feed = reloaded.feed("feed.xml").unwrap();
    assert_ne!(feed.hash, served.feed("feed.xml").unwrap().hash);
    assert_eq!(feed.last_modified.to_str().unwrap(), "Thu, 02 Jan 2025 02:30:00 GMT");
    assert!(!bantin::http::negotiate::not_modified(feed, None, Some(&asked)));
}
