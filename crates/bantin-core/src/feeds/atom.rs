//! Atom 1.0 (RFC 4287) via the `atom_syndication` crate. The feed carries
//! the site as its author, so every entry has one (RFC 4287 §4.1.1); the
//! site's icon and logo, and each entry's image ([`super::media`]).

use super::{full, item_id, Meta, GENERATOR};
use crate::article::Article;
use atom_syndication::{CategoryBuilder, Content, Entry, Feed, Generator, LinkBuilder, PersonBuilder, Text};
use std::sync::Arc;

pub fn render(meta: &Meta, items: &[Arc<Article>]) -> Vec<u8> {
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
    // every field, so each entry's full content was copied twice more (with
    // the allocations, most of the render of a changed feed, perf).
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
    feed.set_entries(items.iter().map(|a| entry(meta, a)).collect::<Vec<_>>());
    let _ = GENERATOR;
    let mut out = Vec::with_capacity(4096 + items.len() * 2048);
    match feed.write_to(&mut out) {
        Ok(_) => out,
        // Writing to memory fails only on an internal bug of the XML
        // writer; an empty body is then answered instead of a panic.
        Err(_) => Vec::new(),
    }
}

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
