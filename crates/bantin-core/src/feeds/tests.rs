//! Feed names and their paths.

use super::*;

#[test]
fn paths_round_trip() {
    for path in [
        "feed.xml",
        "atom.xml",
        "feed.json",
        "categories/kinh-te/feed.xml",
        "categories/a1/feed.json",
        "tags/giao-thong/atom.xml",
        "authors/bao-yen-bai/feed.json",
    ] {
        assert_eq!(FeedId::from_path(path).map(|f| f.path()).as_deref(), Some(path));
    }
    for bad in [
        "",
        "feed.rss",
        "categories//feed.xml",
        "categories/../feed.xml",
        "categories/a/b/feed.xml",
        "categories/A/feed.xml",
        "tag/a/feed.xml",
        "authors/Bao/feed.xml",
        "feeds.opml",
    ] {
        assert_eq!(FeedId::from_path(bad), None, "{bad}");
    }
}
