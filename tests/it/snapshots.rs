//! Proves that the feeds of the example store do not change unnoticed: the
//! exact bytes of the three site-wide feeds (RSS, Atom, JSON Feed), of
//! the three feeds of one category, one tag and one author, and of the
//! OPML list and the news sitemap, at the fixed `now` and with the
//! settings of config/bantin.toml, are kept as insta snapshots in
//! tests/it/snapshots/ (named `it__snapshots__*`, after this module's
//! path). Only the crate version is masked, so a release does not churn
//! them. After an intended change: `cargo insta review` (or
//! `INSTA_UPDATE=always cargo test --test it snapshots::`) and read the
//! diff.

use crate::support::common;

use bantin::feeds::{FeedId, FeedSettings, Format};
use bantin::Scope;
use common::*;

fn snapshot_text(scope: Scope, format: Format) -> String {
    let catalog = load(&example_store());
    let r = render_one(&catalog, &feed_settings(), now(), FeedId::new(scope, format));
    let version = env!("CARGO_PKG_VERSION");
    r.text()
        .replace(&format!("bantin {version}<"), "bantin [version]<")
        .replace(&format!("version=\"{version}\""), "version=\"[version]\"")
}

#[test]
fn site_rss() {
    insta::assert_snapshot!("site_feed.xml", snapshot_text(Scope::Site, Format::Rss));
}

#[test]
fn site_atom() {
    insta::assert_snapshot!("site_atom.xml", snapshot_text(Scope::Site, Format::Atom));
}

#[test]
fn site_json() {
    insta::assert_snapshot!("site_feed.json", snapshot_text(Scope::Site, Format::Json));
}

#[test]
fn category_du_lich() {
    let scope = Scope::Category("du-lich".into());
    insta::assert_snapshot!("du-lich_feed.xml", snapshot_text(scope.clone(), Format::Rss));
    insta::assert_snapshot!("du-lich_atom.xml", snapshot_text(scope.clone(), Format::Atom));
    insta::assert_snapshot!("du-lich_feed.json", snapshot_text(scope, Format::Json));
}

#[test]
fn tag_mu_cang_chai() {
    let scope = Scope::Tag("mu-cang-chai".into());
    insta::assert_snapshot!("tag_mu-cang-chai_feed.xml", snapshot_text(scope.clone(), Format::Rss));
    insta::assert_snapshot!("tag_mu-cang-chai_atom.xml", snapshot_text(scope.clone(), Format::Atom));
    insta::assert_snapshot!("tag_mu-cang-chai_feed.json", snapshot_text(scope, Format::Json));
}

#[test]
fn author_thanh_ha() {
    let scope = Scope::Author("thanh-ha".into());
    insta::assert_snapshot!("author_thanh-ha_feed.xml", snapshot_text(scope.clone(), Format::Rss));
    insta::assert_snapshot!("author_thanh-ha_atom.xml", snapshot_text(scope.clone(), Format::Atom));
    insta::assert_snapshot!("author_thanh-ha_feed.json", snapshot_text(scope, Format::Json));
}

/// The OPML list, the news sitemap and robots.txt of the example store
/// with every feed kind on, at a `now` two days after its newest articles.
#[test]
fn opml_news_sitemap_and_robots() {
    let catalog = load(&example_store());
    let fs = FeedSettings { tags: true, authors: true, news_sitemap: true, ..feed_settings() };
    let newest = catalog.newest(&Scope::Site, now(), 1)[0].published;
    let (cache, _) = bantin::cache::refresh(None, &catalog, &fs, newest + chrono::TimeDelta::hours(36));
    let text = |path: &str| String::from_utf8(cache.feed(path).unwrap().identity().unwrap().bytes.to_vec()).unwrap();
    insta::assert_snapshot!("feeds.opml", text("feeds.opml"));
    insta::assert_snapshot!("sitemap-news.xml", text("sitemap-news.xml"));
    insta::assert_snapshot!("robots.txt", text("robots.txt"));
    let fs = FeedSettings { public_url: url::Url::parse("https://tin.example.vn/ban-tin/").unwrap(), ..feed_settings() };
    let (cache, _) = bantin::cache::refresh(None, &catalog, &fs, now());
    let robots = String::from_utf8(cache.feed("robots.txt").unwrap().identity().unwrap().bytes.to_vec()).unwrap();
    assert!(robots.contains("\nDisallow: /ban-tin/admin/\n") && !robots.contains("Sitemap"), "below a path, no sitemap: {robots}");
}
