//! What the tests of the feeds and of the rooms above them share.

use super::FeedSettings;

/// Settings of a site at yenbai.gov.vn with feeds at feeds.example.org.
pub(crate) fn feed_settings() -> FeedSettings {
    FeedSettings {
        site_title: "Cổng thông tin".into(),
        description: "Tin tức".into(),
        language: "vi".into(),
        base_url: url::Url::parse("https://yenbai.gov.vn/").unwrap(),
        public_url: url::Url::parse("https://feeds.example.org/").unwrap(),
        content: crate::config::ContentMode::Full,
        items: 50,
        websub_hub: None,
        browser_view: true,
        max_bytes: 2_000_000,
        icon: None,
        logo: None,
        tags: false,
        authors: false,
        news_sitemap: false,
        timezone: chrono_tz::Asia::Ho_Chi_Minh,
        templates: crate::templates::Templates::shared_builtin(),
    }
}
