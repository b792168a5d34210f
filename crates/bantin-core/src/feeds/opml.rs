//! `/feeds.opml`: every feed the cache serves, as an OPML 2.0 subscription
//! list a reader imports in one go. One outline per scope (the site, each
//! category, tag and author), in one format: RSS (`type="rss"`), which
//! every reader takes; the Atom and JSON forms of a scope hold the same
//! items, so listing them too would subscribe a reader three times.
//! Outlines are grouped (site, categories, tags, authors) as readers show
//! folders. No dates in the head, so the bytes depend on the feeds alone.

use super::{title, FeedId, FeedSettings, Format};
use crate::catalog::Scope;
use crate::text::escape_html;

pub const PATH: &str = "feeds.opml";
pub const CONTENT_TYPE: &str = "text/x-opml; charset=utf-8";

/// The OPML document listing `feeds` (each with its scope's display name,
/// `None` for the site's); only their RSS form is listed.
pub fn render(feeds: &[(FeedId, Option<String>)], settings: &FeedSettings) -> Vec<u8> {
    let mut out = String::with_capacity(512 + feeds.len() * 256);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">\n<head>\n");
    out.push_str(&format!("<title>{}</title>\n", escape_html(&settings.site_title)));
    out.push_str("</head>\n<body>\n");
    type Member = fn(&Scope) -> bool;
    let groups: [(&str, Member); 4] = [
        ("", |s| *s == Scope::Site),
        ("Chuyên mục", |s| matches!(s, Scope::Category(_))),
        ("Thẻ", |s| matches!(s, Scope::Tag(_))),
        ("Tác giả", |s| matches!(s, Scope::Author(_))),
    ];
    for (group, member) in groups {
        let outlines: Vec<String> = feeds
            .iter()
            .filter(|(f, _)| f.format == Format::Rss && member(&f.scope))
            .map(|(f, name)| outline(f, name.as_deref(), settings))
            .collect();
        match (group, outlines.is_empty()) {
            (_, true) => {}
            ("", false) => out.push_str(&outlines.concat()),
            (group, false) => {
                let group = escape_html(group);
                out.push_str(&format!("<outline text=\"{group}\" title=\"{group}\">\n{}</outline>\n", outlines.concat()));
            }
        }
    }
    out.push_str("</body>\n</opml>\n");
    out.into_bytes()
}

fn outline(feed: &FeedId, name: Option<&str>, settings: &FeedSettings) -> String {
    let (title, _) = title(settings, name);
    let title = escape_html(&title);
    let xml_url = escape_html(&super::join(&settings.public_url, &feed.path()));
    let html_url = escape_html(settings.base_url.as_str());
    format!("<outline type=\"rss\" text=\"{title}\" title=\"{title}\" xmlUrl=\"{xml_url}\" htmlUrl=\"{html_url}\"/>\n")
}
