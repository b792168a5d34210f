//! Tag and author feeds, the OPML list and the news sitemap through the
//! library (issue 21): an edit that adds a tag makes its feeds appear and
//! re-renders only the feeds it touches; tags that slug alike are one
//! feed; a tag, author or category that empties has no feed any more;
//! the OPML list names every feed the cache serves; the sitemap keeps
//! Google's rules and follows the clock.

use bantin::cache::{self, FeedCache};
use bantin::config::ContentMode;
use bantin::feeds::{sitemap, FeedSettings};
use bantin::live::dir::StoreState;
use bantin::store::Context;
use chrono::{DateTime, FixedOffset, TimeDelta};
use std::path::Path;

pub(super) fn ctx() -> Context {
    Context::new(chrono_tz::Asia::Ho_Chi_Minh, url::Url::parse("https://portal.example.org/").unwrap(), "{slug}")
}

pub(super) fn settings() -> FeedSettings {
    FeedSettings {
        site_title: "Cổng thông tin".into(),
        description: "Tin tức".into(),
        language: "vi-VN".into(),
        base_url: url::Url::parse("https://portal.example.org/").unwrap(),
        public_url: url::Url::parse("https://feeds.example.org/").unwrap(),
        content: ContentMode::Full,
        items: 50,
        websub_hub: None,
        tags: true,
        authors: true,
        news_sitemap: true,
        timezone: chrono_tz::Asia::Ho_Chi_Minh,
        icon: None,
        logo: None,
        browser_view: true,
        max_bytes: 2_000_000,
        templates: bantin::templates::Templates::shared_builtin(),
    }
}

pub(super) fn article(dir: &Path, name: &str, title: &str, date: &str, category: &str, tags: &[&str], author: &str) {
    let tags: Vec<String> = tags.iter().map(|t| format!("{t:?}")).collect();
    std::fs::write(
        dir.join(name),
        format!(
            "+++\ntitle = \"{title}\"\ndate = \"{date}\"\ncategories = [\"{category}\"]\ntags = [{}]\nauthor = \"{author}\"\n+++\n\nNội dung {title}.\n",
            tags.join(", ")
        ),
    )
    .unwrap();
}

pub(super) fn text(c: &FeedCache, path: &str) -> String {
    let entry = c.feed(path).unwrap_or_else(|| panic!("{path} is not served"));
    String::from_utf8(entry.identity().unwrap().bytes.to_vec()).unwrap()
}

pub(super) fn now() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2025-01-01T00:00:00+07:00").unwrap()
}

#[test]
fn an_edit_that_adds_a_tag_makes_its_feeds_appear_and_renders_only_the_touched_feeds() {
    let dir = tempfile::tempdir().unwrap();
    article(dir.path(), "a.md", "Cầu mới", "2024-05-01T08:00:00+07:00", "Kinh tế", &["Giao thông"], "Minh Anh");
    article(dir.path(), "b.md", "Lễ hội", "2024-05-02T08:00:00+07:00", "Văn hóa", &["Nông thôn"], "Trần Thị Lan");
    let mut store = StoreState::load(dir.path(), &ctx());
    let first = store.catalog(1);
    let (c1, stats) = cache::refresh(None, &first, &settings(), now());
    // (site + 2 categories) × 3 formats, the OPML list, robots.txt and the
    // sitemap (empty at `now`: the articles are older); (2 tags + 2
    // authors) × 3 formats wait for their first request.
    assert_eq!((stats.rendered, stats.deferred, stats.kept), (12, 12, 0));
    assert!(text(&c1, "tags/giao-thong/feed.xml").contains("Cầu mới"));
    assert!(text(&c1, "authors/tran-thi-lan/atom.xml").contains("Lễ hội"));
    assert!(c1.feed("tags/du-lich/feed.xml").is_none(), "no article has the tag yet: 404");

    // b gains a tag: its feeds appear; what b is in renders again, the rest is kept.
    article(dir.path(), "b.md", "Lễ hội", "2024-05-02T08:00:00+07:00", "Văn hóa", &["Nông thôn", "Du lịch"], "Trần Thị Lan");
    assert!(store.apply(&[dir.path().join("b.md")]).changed);
    let second = store.next_catalog(&first);
    let (c2, stats) = cache::refresh(Some(&c1), &second, &settings(), now());
    // site, van-hoa: 2 × 3, and the OPML list (one feed more), and
    // tran-thi-lan's Atom feed, read above (a reader polls it); nong-thon,
    // du-lich (new) and tran-thi-lan's other two get fresh cells: 3 × 3 - 1;
    // kept: kinh-te, giao-thong, minh-anh, sitemap, robots.txt.
    assert_eq!((stats.rendered, stats.deferred, stats.kept, stats.warmed), (8, 8, 11, 1));
    for path in ["tags/du-lich/feed.xml", "tags/du-lich/atom.xml", "tags/du-lich/feed.json"] {
        assert!(text(&c2, path).contains("Lễ hội"), "{path}");
    }
    for path in ["tags/giao-thong/feed.xml", "authors/minh-anh/feed.json", "categories/kinh-te/atom.xml"] {
        assert_eq!(c2.feed(path).unwrap().hash, c1.feed(path).unwrap().hash, "{path} kept");
    }
    assert!(text(&c2, "feeds.opml").contains("https://feeds.example.org/tags/du-lich/feed.xml"));
    assert_eq!(c2.changed_paths(Some(&c1)).iter().filter(|p| p.starts_with("tags/du-lich/")).count(), 3);
    assert!(!c2.changed_paths(Some(&c1)).iter().any(|p| p == "feeds.opml"), "a hub hears of feeds only");
}

#[test]
fn a_tag_feed_renders_on_its_first_request_and_an_edit_renders_only_its_feeds_again() {
    let dir = tempfile::tempdir().unwrap();
    article(dir.path(), "a.md", "Cầu mới", "2024-05-01T08:00:00+07:00", "Kinh tế", &["Giao thông"], "Minh Anh");
    article(dir.path(), "b.md", "Lễ hội", "2024-05-02T08:00:00+07:00", "Văn hóa", &["Nông thôn"], "Minh Anh");
    let mut store = StoreState::load(dir.path(), &ctx());
    let first = store.catalog(1);
    let (c1, _) = cache::refresh(None, &first, &settings(), now());
    let (roads, village) = ("tags/giao-thong/feed.xml", "tags/nong-thon/atom.xml");
    assert!(c1.is_rendered("feed.xml") && c1.is_rendered("categories/kinh-te/feed.json"), "site and categories: eager");
    assert!(!c1.is_rendered(roads) && !c1.is_rendered("authors/minh-anh/feed.json"), "not rendered until asked");
    let etag = |c: &FeedCache, path: &str| c.feed(path).unwrap().gzip.etag.clone();
    let (roads_etag, village_etag) = (etag(&c1, roads), etag(&c1, village));
    assert!(c1.is_rendered(roads) && !c1.is_rendered("tags/giao-thong/atom.xml"), "one request, one feed");

    // A restart renders the same bytes: the ETag is the content's.
    let (again, _) = cache::refresh(None, &StoreState::load(dir.path(), &ctx()).catalog(1), &settings(), now());
    assert_eq!(etag(&again, roads), roads_etag);

    // An edit of b: its tag's feeds get fresh cells, rendered on the next
    // request with the new bytes, but the one a reader asked for is
    // rendered by the refresh (the reader will be back); a's tag keeps its
    // rendered feed.
    article(dir.path(), "b.md", "Lễ hội lớn", "2024-05-02T08:00:00+07:00", "Văn hóa", &["Nông thôn"], "Minh Anh");
    assert!(store.apply(&[dir.path().join("b.md")]).changed);
    let (c2, stats) = cache::refresh(Some(&c1), &store.next_catalog(&first), &settings(), now());
    assert!(c2.is_rendered(roads), "untouched: carried over rendered");
    assert_eq!(etag(&c2, roads), roads_etag);
    assert_eq!(stats.warmed, 1);
    assert!(c2.is_rendered(village), "touched and asked for: rendered at refresh");
    assert!(!c2.is_rendered("tags/nong-thon/feed.xml"), "touched, not asked for: a fresh cell");
    assert_ne!(etag(&c2, village), village_etag);
    assert!(text(&c2, village).contains("Lễ hội lớn"));
    let changed = c2.changed_paths(Some(&c1));
    assert!(changed.iter().any(|p| p == village) && changed.iter().any(|p| p == "authors/minh-anh/feed.xml"));
    assert!(!changed.iter().any(|p| p.starts_with("tags/giao-thong/")), "a hub hears of touched scopes only");
}

/// A tag feed a reader polls is rendered by the refresh of a change that
/// touches it, since its reader will be back (a first request after a
/// change waited for the render); the next change renders it only if
/// asked for again, and a change of many tags renders at most
/// `cache::WARM_LIMIT` of them, the rest waiting for their readers.
#[test]
fn a_tag_feed_a_reader_polls_is_rendered_by_the_next_change_that_touches_it_up_to_a_bound() {
    let dir = tempfile::tempdir().unwrap();
    let tags: Vec<String> = (1..=60).map(|k| format!("Chủ đề {k}")).collect();
    let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
    let edit = |title: &str| article(dir.path(), "a.md", title, "2024-05-01T08:00:00+07:00", "Kinh tế", &tags, "Minh Anh");
    edit("Cầu mới");
    let mut store = StoreState::load(dir.path(), &ctx());
    let mut catalog = store.catalog(1);
    let (mut served, _) = cache::refresh(None, &catalog, &settings(), now());
    let rss = |k: usize| format!("tags/chu-de-{k}/feed.xml");
    for k in 1..=60 {
        assert!(text(&served, &rss(k)).contains("Cầu mới"), "a reader polls every tag's RSS");
    }
    let mut change = |title: &str, served: &FeedCache| {
        edit(title);
        assert!(store.apply(&[dir.path().join("a.md")]).changed);
        catalog = store.next_catalog(&catalog);
        cache::refresh(Some(served), &catalog, &settings(), now())
    };

    let (next, stats) = change("Cầu mới khánh thành", &served);
    served = next;
    assert_eq!(stats.warmed, cache::WARM_LIMIT);
    assert_eq!((1..=60).filter(|&k| served.is_rendered(&rss(k))).count(), cache::WARM_LIMIT);
    assert!(!(1..=60).any(|k| served.is_rendered(&format!("tags/chu-de-{k}/atom.xml"))), "not asked for");
    assert!(!served.is_rendered("authors/minh-anh/feed.xml"), "not asked for");

    // Nobody asked since: the next change renders none of them.
    let (next, stats) = change("Cầu mới thông xe", &served);
    served = next;
    assert_eq!(stats.warmed, 0);
    assert!(!(1..=60).any(|k| served.is_rendered(&rss(k))));

    // One asked for again: rendered with the change that follows.
    assert!(text(&served, &rss(7)).contains("Cầu mới thông xe"));
    let (next, stats) = change("Cầu mới đón khách", &served);
    assert_eq!(stats.warmed, 1);
    assert!(next.is_rendered(&rss(7)) && !next.is_rendered(&rss(8)));
    assert!(text(&next, &rss(7)).contains("Cầu mới đón khách"));
}

#[test]
fn tags_that_slug_alike_are_one_feed_named_by_the_newest_article() {
    let dir = tempfile::tempdir().unwrap();
    article(dir.path(), "a.md", "Cầu mới", "2024-05-01T08:00:00+07:00", "Kinh tế", &["Giao thông"], "Minh Anh");
    article(dir.path(), "b.md", "Đường mới", "2024-05-03T08:00:00+07:00", "Kinh tế", &["GIAO THÔNG"], "minh anh");
    let mut store = StoreState::load(dir.path(), &ctx());
    let catalog = store.catalog(1);
    let tags = catalog.tags(now());
    assert_eq!(tags.len(), 1, "{tags:?}");
    assert_eq!((tags[0].slug.as_str(), tags[0].name.as_str()), ("giao-thong", "GIAO THÔNG"));
    let (c, _) = cache::refresh(None, &catalog, &settings(), now());
    let feed = text(&c, "tags/giao-thong/feed.xml");
    assert!(feed.contains("Cầu mới") && feed.contains("Đường mới"), "both articles in the one feed");
    assert!(feed.contains("<title>Cổng thông tin – GIAO THÔNG</title>"));
    let authors = catalog.authors(now());
    assert_eq!(authors.len(), 1, "{authors:?}");
    assert_eq!(authors[0].name, "minh anh");

    // The newest article writes the tag otherwise: the same feeds, renamed,
    // and the OPML list (kept while no feed appears, goes or is renamed)
    // names them anew.
    article(dir.path(), "b.md", "Đường mới", "2024-05-03T08:00:00+07:00", "Kinh tế", &["Giao Thông"], "minh anh");
    assert!(store.apply(&[dir.path().join("b.md")]).changed);
    let (c2, _) = cache::refresh(Some(&c), &store.next_catalog(&catalog), &settings(), now());
    assert!(text(&c2, "tags/giao-thong/feed.xml").contains("<title>Cổng thông tin – Giao Thông</title>"));
    let opml = text(&c2, "feeds.opml");
    assert!(opml.contains("Cổng thông tin – Giao Thông") && !opml.contains("GIAO THÔNG"), "{opml}");
}

#[test]
fn a_tag_author_or_category_that_empties_has_no_feed_afterwards() {
    let dir = tempfile::tempdir().unwrap();
    article(dir.path(), "a.md", "Cầu mới", "2024-05-01T08:00:00+07:00", "Kinh tế", &["Giao thông"], "Minh Anh");
    article(dir.path(), "b.md", "Lễ hội", "2024-05-02T08:00:00+07:00", "Văn hóa", &["Du lịch"], "Trần Thị Lan");
    let mut store = StoreState::load(dir.path(), &ctx());
    let first = store.catalog(1);
    let (c1, _) = cache::refresh(None, &first, &settings(), now());
    for path in ["tags/du-lich/feed.xml", "categories/van-hoa/atom.xml", "authors/tran-thi-lan/feed.json"] {
        assert!(c1.feed(path).is_some(), "{path}");
    }
    // b's tag and category are edited away, its author changes.
    article(dir.path(), "b.md", "Lễ hội", "2024-05-02T08:00:00+07:00", "Kinh tế", &[], "Minh Anh");
    assert!(store.apply(&[dir.path().join("b.md")]).changed);
    let second = store.next_catalog(&first);
    let (c2, stats) = cache::refresh(Some(&c1), &second, &settings(), now());
    assert_eq!(stats.dropped, 9);
    for path in ["tags/du-lich/feed.xml", "categories/van-hoa/atom.xml", "authors/tran-thi-lan/feed.json"] {
        assert!(c2.feed(path).is_none(), "{path} answers 404 once emptied");
    }
    assert!(!text(&c2, "feeds.opml").contains("du-lich"));
    // A draft only: still no feed.
    std::fs::write(
        dir.path().join("c.md"),
        "+++\ntitle = \"Nháp\"\ndate = \"2024-05-04T08:00:00+07:00\"\ntags = [\"Du lịch\"]\ndraft = true\n+++\n\nx\n",
    )
    .unwrap();
    assert!(store.apply(&[dir.path().join("c.md")]).changed);
    let third = store.next_catalog(&second);
    let (c3, _) = cache::refresh(Some(&c2), &third, &settings(), now());
    assert!(c3.feed("tags/du-lich/feed.xml").is_none(), "a tag of drafts only has no feed");
    // Deleting the last article of an author and a tag.
    std::fs::remove_file(dir.path().join("a.md")).unwrap();
    assert!(store.apply(&[dir.path().join("a.md")]).changed);
    let fourth = store.next_catalog(&third);
    let (c4, _) = cache::refresh(Some(&c3), &fourth, &settings(), now());
    assert!(c4.feed("tags/giao-thong/feed.xml").is_none());
    assert!(c4.feed("authors/minh-anh/feed.xml").is_some(), "b is still Minh Anh's");
}

/// A refresh carries a feed over unread while its scope's stamp holds
/// (`catalog::Stamp`); the clock alone must still end that: a scheduled
/// article appears in its tag's and author's feeds, and a tag of its own
/// gets its feeds and its line in the OPML list, at its time, though the
/// store did not change.
#[test]
fn a_scheduled_article_appears_in_its_tag_feeds_at_its_time_with_no_change_to_the_store() {
    let dir = tempfile::tempdir().unwrap();
    article(dir.path(), "a.md", "Cầu mới", "2024-05-01T08:00:00+07:00", "Kinh tế", &["Giao thông"], "Minh Anh");
    article(dir.path(), "b.md", "Hẹn giờ", "2025-02-01T08:00:00+07:00", "Kinh tế", &["Giao thông", "Du lịch"], "Minh Anh");
    let catalog = StoreState::load(dir.path(), &ctx()).catalog(1);
    let (c1, _) = cache::refresh(None, &catalog, &settings(), now());
    let scheduled = ["tags/giao-thong/feed.xml", "authors/minh-anh/atom.xml", "feed.json"];
    for path in scheduled {
        assert!(!text(&c1, path).contains("Hẹn giờ"), "{path} before its time");
    }
    assert!(c1.feed("tags/du-lich/feed.xml").is_none());

    // An hour later, nothing to show: everything is carried over.
    let (c2, stats) = cache::refresh(Some(&c1), &catalog, &settings(), now() + TimeDelta::hours(1));
    assert_eq!((stats.rendered, stats.deferred), (0, 0));

    let at = catalog.next_publication(now()).unwrap();
    let (c3, stats) = cache::refresh(Some(&c2), &catalog, &settings(), at);
    for path in scheduled {
        assert!(text(&c3, path).contains("Hẹn giờ"), "{path} at its time");
    }
    assert!(text(&c3, "tags/du-lich/feed.xml").contains("Hẹn giờ"));
    assert!(text(&c3, "feeds.opml").contains("https://feeds.example.org/tags/du-lich/feed.xml"));
    // site, kinh-te, the OPML list and the sitemap, and the two feeds of
    // giao-thong and minh-anh read above (a reader polls them); their
    // other formats and du-lich's on demand.
    assert_eq!((stats.rendered, stats.deferred, stats.warmed), (2 * 3 + 2 + 2, 3 * 3 - 2, 2));
}

#[test]
fn the_opml_list_names_every_feed_the_cache_serves() {
    let dir = tempfile::tempdir().unwrap();
    article(dir.path(), "a.md", "Cầu <mới> & cũ", "2024-05-01T08:00:00+07:00", "Kinh tế", &["Giao thông", "Nông thôn"], "Minh Anh");
    article(dir.path(), "b.md", "Lễ hội", "2024-05-02T08:00:00+07:00", "Văn hóa", &["Du lịch"], "Trần Thị \\\"Lan\\\"");
    let catalog = StoreState::load(dir.path(), &ctx()).catalog(1);
    let (c, _) = cache::refresh(None, &catalog, &settings(), now());
    let opml = text(&c, "feeds.opml");
    let doc = roxmltree::Document::parse(&opml).expect("the OPML list is well-formed XML");
    let root = doc.root_element();
    assert_eq!((root.tag_name().name(), root.attribute("version")), ("opml", Some("2.0")));
    let title = root.descendants().find(|n| n.has_tag_name("title")).and_then(|n| n.text());
    assert_eq!(title, Some("Cổng thông tin"));
    let feeds: Vec<_> = root.descendants().filter(|n| n.attribute("xmlUrl").is_some()).collect();
    let mut listed: Vec<String> = Vec::new();
    for o in &feeds {
        assert_eq!(o.attribute("type"), Some("rss"));
        assert_eq!(o.attribute("htmlUrl"), Some("https://portal.example.org/"));
        assert!(o.attribute("text").is_some_and(|t| t.starts_with("Cổng thông tin")) && o.attribute("title") == o.attribute("text"));
        let url = o.attribute("xmlUrl").unwrap();
        let path = url.strip_prefix("https://feeds.example.org/").unwrap_or_else(|| panic!("{url} is not ours"));
        assert!(c.feed(path).is_some(), "{path}: listed but not served");
        listed.push(path.to_string());
    }
    // Every RSS feed served, and nothing else.
    let mut served: Vec<String> = c.feed_paths().filter(|p| p.ends_with("feed.xml")).map(str::to_string).collect();
    served.sort();
    listed.sort();
    assert_eq!(listed, served);
    assert_eq!(listed.len(), 1 + 2 + 3 + 2);
    assert!(feeds.iter().any(|o| o.attribute("text") == Some("Cổng thông tin – Trần Thị \"Lan\"")));
    let entry = c.feed("feeds.opml").unwrap();
    assert_eq!(entry.content_type, "text/x-opml; charset=utf-8");
}

#[test]
fn the_news_sitemap_lists_the_last_two_days_at_most_1000_and_follows_the_clock() {
    let dir = tempfile::tempdir().unwrap();
    let now = now();
    // 1,003 articles a minute apart in the last day, one 3 days old, one
    // in the future, one draft.
    for i in 0..1003 {
        let date = (now - TimeDelta::hours(1) - TimeDelta::minutes(i)).to_rfc3339();
        article(dir.path(), &format!("n{i:04}.md"), &format!("Tin {i}"), &date, "Tin", &[], "A");
    }
    article(dir.path(), "old.md", "Tin cũ", &(now - TimeDelta::days(3)).to_rfc3339(), "Tin", &[], "A");
    article(dir.path(), "later.md", "Tin hẹn giờ", &(now + TimeDelta::hours(2)).to_rfc3339(), "Tin", &[], "A");
    let mut store = StoreState::load(dir.path(), &ctx());
    let catalog = store.catalog(1);
    let (c1, _) = cache::refresh(None, &catalog, &settings(), now);
    let xml = text(&c1, "sitemap-news.xml");
    let urls = check_sitemap(&xml, now);
    assert_eq!(urls, 1000, "at most 1,000 URLs");
    assert!(!xml.contains("Tin cũ") && !xml.contains("Tin hẹn giờ"));
    assert_eq!(c1.feed("sitemap-news.xml").unwrap().content_type, "application/xml; charset=utf-8");

    // Few articles: the oldest leaves when its two days are over, and the
    // service is told when that is.
    let dir = tempfile::tempdir().unwrap();
    let t1 = now - TimeDelta::hours(40);
    article(dir.path(), "a.md", "Tin một", &t1.to_rfc3339(), "Tin", &[], "A");
    article(dir.path(), "b.md", "Tin hai", &(now - TimeDelta::hours(1)).to_rfc3339(), "Tin", &[], "A");
    store = StoreState::load(dir.path(), &ctx());
    let catalog = store.catalog(1);
    let (c1, _) = cache::refresh(None, &catalog, &settings(), now);
    assert_eq!(check_sitemap(&text(&c1, "sitemap-news.xml"), now), 2);
    let at = sitemap::next_change(&catalog, true, now).expect("an article will age out");
    assert_eq!(at, t1 + TimeDelta::days(2));
    assert_eq!(sitemap::next_change(&catalog, false, now), None, "nothing to wait for without the sitemap");
    let (c2, stats) = cache::refresh(Some(&c1), &catalog, &settings(), at);
    assert_eq!(stats.rendered, 0, "still inside at the instant itself");
    let later = at + TimeDelta::seconds(1);
    let (c3, stats) = cache::refresh(Some(&c2), &catalog, &settings(), later);
    assert_eq!(stats.rendered, 1, "only the sitemap renders again");
    let xml = text(&c3, "sitemap-news.xml");
    assert_eq!(check_sitemap(&xml, later), 1);
    assert!(!xml.contains("Tin một"));
    assert_ne!(c3.feed("sitemap-news.xml").unwrap().hash, c1.feed("sitemap-news.xml").unwrap().hash);
}

/// Checks a news sitemap against Google's format; the number of URLs.
fn check_sitemap(xml: &str, now: DateTime<FixedOffset>) -> usize {
    const SITEMAP: &str = "http://www.sitemaps.org/schemas/sitemap/0.9";
    const NEWS: &str = "http://www.google.com/schemas/sitemap-news/0.9";
    let doc = roxmltree::Document::parse(xml).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!((root.tag_name().namespace(), root.tag_name().name()), (Some(SITEMAP), "urlset"));
    let news = |n: roxmltree::Node, name: &str| -> String {
        let found = n.descendants().find(|c| c.tag_name().namespace() == Some(NEWS) && c.tag_name().name() == name);
        found.and_then(|c| c.text()).unwrap_or_else(|| panic!("no news:{name}")).to_string()
    };
    let urls: Vec<_> = root.children().filter(|n| n.is_element()).collect();
    assert!(urls.len() <= 1000);
    for u in &urls {
        assert_eq!((u.tag_name().namespace(), u.tag_name().name()), (Some(SITEMAP), "url"));
        let loc = u.children().find(|c| c.has_tag_name((SITEMAP, "loc"))).and_then(|c| c.text()).expect("a loc");
        assert!(loc.starts_with("https://portal.example.org/"), "{loc}");
        assert_eq!(news(*u, "name"), "Cổng thông tin");
        assert_eq!(news(*u, "language"), "vi", "ISO 639 code, not vi-VN");
        assert!(!news(*u, "title").is_empty());
        let date = DateTime::parse_from_rfc3339(&news(*u, "publication_date")).expect("a W3C date-time");
        assert!(date <= now && now - date <= TimeDelta::days(2), "{date} is not of the last two days before {now}");
    }
    urls.len()
}
