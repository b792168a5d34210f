//! `[feeds]`: how many items a feed carries, whether it carries the whole
//! article, the WebSub hub to ping when one changes, and which further
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
    /// `/tags/{slug}/…` feeds (`feeds.tags`).
    pub tags: bool,
    /// `/authors/{slug}/…` feeds (`feeds.authors`).
    pub authors: bool,
    /// `/sitemap-news.xml` (`feeds.news_sitemap`).
    pub news_sitemap: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawFeeds {
    items: i64,
    content: String,
    websub_hub: String,
    tags: bool,
    authors: bool,
    news_sitemap: bool,
}
impl Default for RawFeeds {
    fn default() -> Self {
        RawFeeds {
            items: 50,
            content: "full".into(),
            websub_hub: String::new(),
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
        Ok(Feeds {
            items: self.items as usize,
            content,
            websub_hub,
            tags: self.tags,
            authors: self.authors,
            news_sitemap: self.news_sitemap,
        })
    }
}
