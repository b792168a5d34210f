//! Proves that the feeds of the example store do not change unnoticed: the
//! exact bytes of the three site-wide feeds (RSS, Atom, JSON Feed) and of
//! the three feeds of one category, at the fixed `now` and with the
//! settings of config/bantin.toml, are kept as insta snapshots in
//! tests/it/snapshots/ (named `it__snapshots__*`, after this module's
//! path). Only the crate version is masked, so a release does not churn
//! them. After an intended change: `cargo insta review` (or
//! `INSTA_UPDATE=always cargo test --test it snapshots::`) and read the
//! diff.

use crate::support::common;

use bantin::feeds::{FeedId, Format};
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
