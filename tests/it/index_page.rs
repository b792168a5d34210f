//! The index page (`GET /`) of the example store and of the tricky store,
//! kept as insta snapshots (`templates/index.html` in `layout.html`'s
//! frame, issue 22: the newest articles, each category's newest, the
//! form and the feeds), in Vietnamese and English, with the settings of
//! config/bantin.toml and with awkward ones (markup in the site's strings,
//! a public URL under a path).

use crate::support::common::*;
use bantin::cache;

/// The page as `index_page` gives it, checked to be the bytes the cache
/// serves and to end in exactly one newline (insta compares snapshots
/// with their trailing newlines trimmed).
fn page(store: &std::path::Path, settings: &bantin::feeds::FeedSettings) -> String {
    page_in(store, settings, false)
}

/// [`page`] in Vietnamese, or English with `english`.
fn page_in(store: &std::path::Path, settings: &bantin::feeds::FeedSettings, english: bool) -> String {
    let catalog = load(store);
    let html = cache::index_page(&catalog, settings, now(), english).unwrap();
    let (served, _) = cache::refresh(None, &catalog, settings, now());
    let served = served.index_in(english).and_then(|e| e.identity()).map(|r| r.bytes.to_vec());
    assert_eq!(served.as_deref(), Some(html.as_bytes()), "the cache serves index_page's bytes");
    assert!(html.ends_with("</html>\n") && !html.ends_with("\n\n"), "{html}");
    html
}

#[test]
fn of_the_example_store() {
    insta::assert_snapshot!("index_example.html", page(&example_store(), &feed_settings()));
}

/// The English page, which a reader whose first language is English gets
/// (see `cache::index`).
#[test]
fn of_the_example_store_in_english() {
    let html = page_in(&example_store(), &feed_settings(), true);
    assert!(html.contains("<html lang=\"en\">") && html.contains(">Latest news</h2>"), "{html}");
    insta::assert_snapshot!("index_example_en.html", html);
}

#[test]
fn of_the_tricky_store() {
    insta::assert_snapshot!("index_tricky.html", page(&tricky_store(), &feed_settings()));
}

#[test]
fn with_awkward_settings() {
    let mut fs = feed_settings();
    fs.site_title = "Tin <b>\"nóng\"</b> & 'mới'".into();
    fs.description = "a < b && c > d".into();
    fs.language = "vi\"><x".into();
    fs.public_url = url::Url::parse("https://feeds.example.org/tin/?q=a&b=<c>").unwrap();
    fs.base_url = url::Url::parse("https://yenbai.gov.vn/a?x=\"1\"&y=2").unwrap();
    insta::assert_snapshot!("index_awkward.html", page(&tricky_store(), &fs));
}

/// Tags and authors on: autodiscovery links for the site and categories
/// only, each tag and author one plain link (a 100k store's page carried
/// ~18,000 links, 1.7 MB, before: bench/HISTORY.md).
#[test]
fn with_tags_and_authors() {
    let mut fs = feed_settings();
    fs.tags = true;
    fs.authors = true;
    let html = page(&example_store(), &fs);
    let catalog = load(&example_store());
    let scopes = 1 + catalog.categories(now()).len();
    assert_eq!(html.matches("<link rel=\"alternate\"").count(), 3 * scopes, "site and categories only");
    assert!(!catalog.tags(now()).is_empty() && html.contains("<h3>Thẻ</h3>"), "the example store has tags");
    insta::assert_snapshot!("index_tags_authors.html", html);
}

/// A store with thousands of tags lists the 50 with the most articles
/// (by name) and says how many more the OPML list has: the page listed
/// all 2,000 of a 100k store, a wall of links on a phone and ~55 ms of
/// every change (bench/HISTORY.md, stop 41).
#[test]
fn with_more_tags_than_it_lists() {
    let dir = tempfile::tempdir().unwrap();
    // Tag k is on articles k..=59 (so tag 0 on 60 of them, tag 59 on one),
    // author "Phóng viên 0" on every article.
    for i in 0..60 {
        let tags: Vec<String> = (0..=i).map(|k| format!("\"Chủ đề {k:02}\"")).collect();
        std::fs::write(
            dir.path().join(format!("a{i}.md")),
            format!("+++\ntitle = \"Bài {i}\"\ndate = \"2024-05-01T08:{i:02}:00+07:00\"\ntags = [{}]\nauthor = \"Phóng viên 0\"\n+++\n\nNội dung.\n", tags.join(", ")),
        )
        .unwrap();
    }
    let mut fs = feed_settings();
    fs.tags = true;
    fs.authors = true;
    for (english, more) in [(false, "10 thẻ khác có trong danh sách OPML"), (true, "10 more tags are in the OPML list")] {
        let html = page_in(dir.path(), &fs, english);
        let listed: Vec<&str> = html.match_indices("/tags/chu-de-").map(|(at, _)| &html[at + 13..at + 15]).collect();
        let most_used: Vec<String> = (0..50).map(|k| format!("{k:02}")).collect();
        assert_eq!(listed, most_used, "the 50 tags on most articles, in order");
        assert!(html.contains(more), "{html}");
        assert!(html.contains("/authors/phong-vien-0/") && !html.contains("tác giả khác") && !html.contains("more authors"));
    }
}

#[test]
fn of_an_empty_store() {
    let dir = tempfile::tempdir().unwrap();
    insta::assert_snapshot!("index_empty.html", page(dir.path(), &feed_settings()));
}
