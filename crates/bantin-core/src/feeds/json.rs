//! JSON Feed 1.1 (https://jsonfeed.org/version/1.1) with serde. The site
//! icon is both `icon` and `favicon`; an item's image ([`super::media`])
//! is its `image`. No `banner_image`: an article has one image, and the
//! spec's banner is another one, which would not otherwise appear.
//! The whole feed, or as [`super::pieces`] an item's piece and the feed
//! around.

use super::pieces::{Frame, Piece};
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

/// The whole feed with `items`.
pub fn render(meta: &Meta, items: &[Arc<Article>]) -> Vec<u8> {
    // Serialising plain strings and numbers cannot fail.
    serde_json::to_vec_pretty(&feed(meta, items.iter().map(|a| item(meta, a)).collect())).unwrap_or_default()
}

/// The item of `a`, indented as an element of the feed's `items`.
pub fn piece(meta: &Meta, a: &Article) -> Option<Piece> {
    let item = serde_json::to_vec_pretty(&item(meta, a)).ok()?;
    let mut bytes = Vec::with_capacity(item.len() + item.len() / 16);
    bytes.extend_from_slice(ITEM_INDENT);
    // serde_json escapes a newline inside a string, so every raw newline
    // is the pretty printer's, before an indented line.
    for line in item.split_inclusive(|b| *b == b'\n') {
        bytes.extend_from_slice(line);
        if line.ends_with(b"\n") {
            bytes.extend_from_slice(ITEM_INDENT);
        }
    }
    Some(Piece::new(&bytes, false))
}

/// The pretty printer's indent of an element of `items`, two levels deep.
const ITEM_INDENT: &[u8] = b"    ";
/// How the feed without items ends: `items` is its last member.
const EMPTY_END: &[u8] = b"[]\n}";

/// The feed around its items, which follow each other after `,\n`; and
/// the feed without items, which has no room for one.
pub fn frame(meta: &Meta) -> Option<(Frame, Vec<u8>)> {
    let empty = serde_json::to_vec_pretty(&feed(meta, Vec::new())).ok()?;
    let start = empty.strip_suffix(EMPTY_END)?;
    let frame = Frame::new(&[start, b"[\n"].concat(), b"\n  ]\n}");
    Some((frame, empty))
}

/// The separator between two items' pieces.
pub const SEPARATOR: &[u8] = b",\n";

/// The feed of `meta` with `items`.
fn feed<'a>(meta: &'a Meta, items: Vec<Item<'a>>) -> Feed<'a> {
    let s = meta.settings;
    Feed {
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
        items,
    }
}

/// The item of `a`.
fn item<'a>(meta: &Meta, a: &'a Article) -> Item<'a> {
    let s = meta.settings;
    Item {
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
    }
}
