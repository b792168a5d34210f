//! `[feeds]`: how many items a feed carries, whether it carries the whole
//! article, the WebSub hub to ping when one changes, the byte budget of a
//! feed, whether a browser gets a feed's preview page, and which further
//! kinds of feed are published (tags, authors, the news sitemap).

use super::{ConfigError, Origin, redact};
use serde::Deserialize;
use url::Url;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentMode {
    Full,
    Summary,
}

#[derive(Debug, Clone)]
pub struct Feeds {
    pub items: usize,
    pub content: ContentMode,
    pub websub_hub: Option<Url>,
    /// `feeds.browser_view`: a browser's navigation to a feed gets its preview page.
    pub browser_view: bool,
    /// `feeds.max_bytes`: the most uncompressed bytes a feed may have.
    pub max_bytes: usize,
    /// `/tags/{slug}/…` feeds (`feeds.tags`).
    pub tags: bool,
    /// `/authors/{slug}/…` feeds (`feeds.authors`).
    pub authors: bool,
    /// `/sitemap-news.xml` (`feeds.news_sitemap`).
    pub news_sitemap: bool,
}

/// The most and least `feeds.max_bytes` may be: Google News' 2 MB by
/// default; less than 10 kB would leave most feeds empty.
const MAX_BYTES_RANGE: std::ops::RangeInclusive<i64> = 10_000..=1_000_000_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[cfg_attr(test, derive(serde::Serialize, schemars::JsonSchema))]
pub(super) struct RawFeeds {
    /// Newest items per feed.
    items: i64,
    /// What an item carries: `full` (the body) or `summary`.
    content: String,
    /// A WebSub hub to ping when a feed changes (and to advertise); empty: none.
    websub_hub: String,
    /// A browser navigating to a feed URL gets a readable HTML preview.
    browser_view: bool,
    /// A feed's most uncompressed bytes: items past it are left out (Google News' limit is 2 MB).
    max_bytes: i64,
    /// `/tags/{slug}/feed.xml|atom.xml|feed.json` for each tag (rendered on first request); the index page lists the 50 with the most articles, the OPML list all.
    tags: bool,
    /// `/authors/{slug}/…` for each author (rendered on first request); the index page lists the 50 with the most articles, the OPML list all.
    authors: bool,
    /// `/sitemap-news.xml` (Google News: articles of the last 2 days).
    news_sitemap: bool,
}
impl Default for RawFeeds {
    fn default() -> Self {
        RawFeeds {
            items: 50,
            content: "full".into(),
            websub_hub: String::new(),
            browser_view: true,
            max_bytes: 2_000_000,
            tags: false,
            authors: false,
            news_sitemap: false,
        }
    }
}

impl RawFeeds {
    pub(super) fn validate(self, origin: &Origin) -> Result<Feeds, ConfigError> {
        if !(1..=10_000).contains(&self.items) {
            return Err(origin.bad("feeds.items", format!("{} is out of range; use 1 to 10000", self.items)));
        }
        let content = match self.content.as_str() {
            "full" => ContentMode::Full,
            "summary" => ContentMode::Summary,
            other => return Err(origin.bad("feeds.content", format!("{other:?} is not \"full\" or \"summary\""))),
        };
        let websub_hub = match self.websub_hub.trim() {
            "" => None,
            // The hub is an endpoint, not a base: its path is kept as written
            // (no trailing slash added).
            hub => {
                let url = Url::parse(hub)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
                    .ok_or_else(|| {
                        origin.bad("feeds.websub_hub", format!("{:?} must be an absolute http:// or https:// URL", redact(hub)))
                    })?;
                // Every feed names its hub: a password in it would be public.
                if !url.username().is_empty() || url.password().is_some() {
                    return Err(origin.bad(
                        "feeds.websub_hub",
                        format!("{:?}: every feed names the hub, so its URL must carry no user or password", redact(hub)),
                    ));
                }
                Some(url)
            }
        };
        if !MAX_BYTES_RANGE.contains(&self.max_bytes) {
            return Err(origin.bad(
                "feeds.max_bytes",
                format!("{} is out of range; use {} to {} (bytes)", self.max_bytes, MAX_BYTES_RANGE.start(), MAX_BYTES_RANGE.end()),
            ));
        }
        Ok(Feeds {
            items: self.items as usize,
            content,
            websub_hub,
            browser_view: self.browser_view,
            max_bytes: self.max_bytes as usize,
            tags: self.tags,
            authors: self.authors,
            news_sitemap: self.news_sitemap,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::Settings;
    use std::path::Path;

    fn load(feeds: &str, env: &[(&str, &str)]) -> Result<Settings, String> {
        let text = format!("[site]\ntitle = \"T\"\nbase_url = \"https://x.org\"\n[feeds]\n{feeds}");
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Settings::from_sources(Path::new("bantin.toml"), &text, env).map_err(|e| e.to_string())
    }

    #[test]
    fn browser_view_and_max_bytes() {
        let s = load("", &[]).unwrap();
        assert!(s.feeds.browser_view, "the preview is on by default");
        assert_eq!(s.feeds.max_bytes, 2_000_000, "Google News' limit by default");
        let s = load("browser_view = false\nmax_bytes = 50000\n", &[]).unwrap();
        assert_eq!((s.feeds.browser_view, s.feeds.max_bytes), (false, 50_000));
        let s = load("", &[("BANTIN__FEEDS__BROWSER_VIEW", "false")]).unwrap();
        assert!(!s.feeds.browser_view);
        let e = load("max_bytes = 100\n", &[]).unwrap_err();
        assert!(e.contains("feeds.max_bytes") && e.contains("10000"), "{e}");
        let e = load("browser_view = \"maybe\"\n", &[]).unwrap_err();
        assert!(e.contains("browser_view"), "{e}");
    }
}
