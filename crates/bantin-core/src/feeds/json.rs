//! JSON Feed 1.1 (https://jsonfeed.org/version/1.1) with serde. The site
//! icon is both `icon` and `favicon`; an item's image ([`super::media`])
//! is its `image`. No `banner_image`: an article has one image, and the
//! spec's banner is another one, which would not otherwise appear.

use super::{full, item_id, Meta};
use crate::article::Article;
use serde::Serialize;
use std::sync::Arc;

#[derive(Serialize)]
struct Feed<'a> {
    version: &'static str,
    title: &'a str,
    home_page_url: &'a str,
    feed_url: &'a str,
    description: &'a str,
    language: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    icon: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    favicon: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hubs: Vec<Hub>,
    authors: Vec<Author<'a>>,
    items: Vec<Item<'a>>,
}

#[derive(Serialize)]
struct Hub {
    #[serde(rename = "type")]
    kind: &'static str,
    url: String,
}

#[derive(Serialize)]
struct Author<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
}

#[derive(Serialize)]
struct Item<'a> {
    id: String,
    url: std::borrow::Cow<'a, str>,
    title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_html: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_text: Option<&'a str>,
    summary: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<std::borrow::Cow<'a, str>>,
    date_published: String,
    date_modified: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authors: Vec<Author<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<&'a str>,
}

pub fn render(meta: &Meta, items: &[Arc<Article>]) -> Vec<u8> {
    let s = meta.settings;
    let feed = Feed {
        version: "https://jsonfeed.org/version/1.1",
        title: &meta.title,
        home_page_url: &meta.home_url,
        feed_url: &meta.self_url,
        description: &meta.description,
        language: &s.language,
        icon: s.icon.as_ref().map(url::Url::as_str),
        favicon: s.icon.as_ref().map(url::Url::as_str),
        hubs: s.websub_hub.iter().map(|h| Hub { kind: "WebSub", url: h.to_string() }).collect(),
        authors: vec![Author { name: &s.site_title, url: Some(s.base_url.as_str()) }],
        items: items
            .iter()
            .map(|a| Item {
                id: item_id(&s.base_url, a),
                url: a.url(),
                title: a.title(),
                content_html: full(meta).then(|| a.content_html().to_string()),
                // JSON Feed requires content_html or content_text.
                content_text: (!full(meta)).then_some(a.summary()),
                summary: a.summary(),
                image: super::media::image_of(a).map(|i| i.url),
                date_published: a.published.to_rfc3339(),
                date_modified: a.modified().to_rfc3339(),
                authors: a.author.iter().map(|n| Author { name: n, url: None }).collect(),
                tags: a.categories.iter().map(|c| c.name.as_str()).chain(a.tags().iter().map(String::as_str)).collect(),
            })
            .collect(),
    };
    // Serialising plain strings and numbers cannot fail.
    serde_json::to_vec_pretty(&feed).unwrap_or_default()
}
