//! Atom 1.0 (RFC 4287) via the `atom_syndication` crate. The feed carries
//! the site as its author, so every entry has one (RFC 4287 §4.1.1); the
//! site's icon and logo, and each entry's image ([`super::media`]).
//! The whole feed, or as [`super::pieces`] an entry's piece and the feed
//! around.

use super::pieces::{cut_out, Frame, Piece};
use super::{full, item_id, Meta};
use crate::article::Article;
use atom_syndication::{CategoryBuilder, Content, Entry, Feed, Generator, LinkBuilder, PersonBuilder, Text};
use std::sync::Arc;

const OPEN: &[u8] = b"<entry>";
const CLOSE: &[u8] = b"</entry>";

/// The whole feed with `items`; empty only on a failure of the in-memory
/// writer (an internal bug), as the crate's `to_string`.
pub fn render(meta: &Meta, items: &[Arc<Article>]) -> Vec<u8> {
    write(&feed(meta, items.iter().map(|a| entry(meta, a)).collect())).unwrap_or_default()
}

/// The entry of `a`, cut out of a feed that holds it alone.
pub fn piece(meta: &Meta, a: &Article) -> Option<Piece> {
    let mut feed = Feed::default();
    feed.set_entries(vec![entry(meta, a)]);
    let doc = write(&feed)?;
    let (_, bytes, _) = cut_out(&doc, OPEN, CLOSE)?;
    Some(Piece::new(bytes, false))
}

/// The feed around its entries.
pub fn frame(meta: &Meta) -> Option<Frame> {
    let doc = write(&feed(meta, vec![Entry::default()]))?;
    let (head, _, tail) = cut_out(&doc, OPEN, CLOSE)?;
    Some(Frame::new(head, tail))
}

/// The feed of `meta` with `entries`.
fn feed(meta: &Meta, entries: Vec<Entry>) -> Feed {
    let s = meta.settings;
    let mut links = vec![
        LinkBuilder::default().href(meta.self_url.clone()).rel("self").mime_type(Some("application/atom+xml".into())).build(),
        LinkBuilder::default().href(meta.home_url.clone()).rel("alternate").mime_type(Some("text/html".into())).build(),
    ];
    if let Some(hub) = &s.websub_hub {
        links.push(LinkBuilder::default().href(hub.to_string()).rel("hub").build());
    }
    let feed_id = format!(
        "urn:uuid:{}",
        uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, meta.self_url.as_bytes())
    );
    // Setters, not `FeedBuilder`/`EntryBuilder`: their `build()` clones
    // every field.
    let mut feed = Feed::default();
    feed.set_title(Text::plain(meta.title.clone()));
    feed.set_subtitle(Some(Text::plain(meta.description.clone())));
    feed.set_id(feed_id);
    feed.set_updated(meta.updated);
    feed.set_authors(vec![PersonBuilder::default().name(s.site_title.clone()).uri(Some(s.base_url.to_string())).build()]);
    feed.set_links(links);
    feed.set_lang(Some(s.language.clone()));
    feed.set_icon(s.icon.as_ref().map(|u| u.to_string()));
    feed.set_logo(s.logo.as_ref().map(|u| u.to_string()));
    feed.set_generator(Some(Generator {
        value: "bantin".into(),
        uri: None,
        version: Some(env!("CARGO_PKG_VERSION").into()),
    }));
    feed.set_entries(entries);
    feed
}

/// The feed's bytes; `None` only on a failure of the in-memory writer
/// (an internal bug).
fn write(feed: &Feed) -> Option<Vec<u8>> {
    feed.write_to(Vec::with_capacity(4096 + feed.entries().len() * 2048)).ok()
}

/// The entry of `a`.
fn entry(meta: &Meta, a: &Article) -> Entry {
    let mut e = Entry::default();
    e.set_title(Text::plain(a.title()));
    e.set_id(item_id(&meta.settings.base_url, a));
    e.set_updated(a.modified());
    e.set_published(Some(a.published));
    let mut links = vec![LinkBuilder::default()
        .href(a.url().into_owned())
        .rel("alternate")
        .mime_type(Some("text/html".into()))
        .build()];
    links.extend(super::media::image_of(a).map(|image| super::media::atom_enclosure(&image)));
    e.set_links(links);
    e.set_summary(Some(Text::plain(a.summary().to_string())));
    e.set_categories(
        a.categories
            .iter()
            .map(|c| CategoryBuilder::default().term(c.slug.clone()).label(Some(c.name.clone())).build())
            .collect::<Vec<_>>(),
    );
    if let Some(author) = &a.author {
        e.set_authors(vec![PersonBuilder::default().name(author.to_string()).build()]);
    }
    if full(meta) {
        let mut content = Content::default();
        content.set_value(Some(a.content_html().to_string()));
        content.set_content_type(Some("html".into()));
        e.set_content(Some(content));
    }
    e
}
