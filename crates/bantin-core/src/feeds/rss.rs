//! RSS 2.0 with the `content`, `dc`, `atom` and Media RSS (`media`, when
//! an item has an image: [`super::media`]) extensions, via the `rss` crate
//! (which writes `content:encoded` as CDATA and splits `]]>`): the whole
//! channel, or as [`super::pieces`] an item's piece and the channel around.

use super::pieces::{cut_out, Frame, Piece};
use super::{full, item_id, Meta, GENERATOR};
use crate::article::Article;
use rss::extension::atom::{AtomExtension, Link};
use rss::extension::dublincore::DublinCoreExtension;
use rss::{Category, Channel, Guid, Item};
use std::collections::BTreeMap;
use std::sync::Arc;

const OPEN: &[u8] = b"<item>";
const CLOSE: &[u8] = b"</item>";

/// The whole channel with `items`; empty only on a failure of the
/// in-memory writer (an internal bug), as the crate's `to_string`.
pub fn render(meta: &Meta, items: &[Arc<Article>]) -> Vec<u8> {
    let items: Vec<Item> = items.iter().map(|a| item(meta, a)).collect();
    let media = items.iter().any(has_media);
    write(&channel(meta, items, media)).unwrap_or_default()
}

/// The item of `a`, cut out of a channel that holds it alone.
pub fn piece(meta: &Meta, a: &Article) -> Option<Piece> {
    let item = item(meta, a);
    let media = has_media(&item);
    let mut channel = Channel::default();
    channel.set_items(vec![item]);
    let doc = write(&channel)?;
    let (_, bytes, _) = cut_out(&doc, OPEN, CLOSE)?;
    Some(Piece::new(bytes, media))
}

/// The channel around its items; `media` when one of them has Media RSS
/// elements (the root then declares the namespace).
pub fn frame(meta: &Meta, media: bool) -> Option<Frame> {
    let doc = write(&channel(meta, vec![Item::default()], media))?;
    let (head, _, tail) = cut_out(&doc, OPEN, CLOSE)?;
    Some(Frame::new(head, tail))
}

/// Whether `item` has Media RSS elements (its only extensions).
fn has_media(item: &Item) -> bool {
    !item.extensions.is_empty()
}

/// The channel of `meta` with `items`.
fn channel(meta: &Meta, items: Vec<Item>, media: bool) -> Channel {
    let s = meta.settings;
    let mut links = vec![link(&meta.self_url, "self", "application/rss+xml")];
    if let Some(hub) = &s.websub_hub {
        links.push(link(hub.as_str(), "hub", ""));
    }
    let mut namespaces = BTreeMap::new();
    namespaces.insert("atom".to_string(), "http://www.w3.org/2005/Atom".to_string());
    namespaces.insert("dc".to_string(), "http://purl.org/dc/elements/1.1/".to_string());
    if full(meta) {
        namespaces.insert("content".to_string(), "http://purl.org/rss/1.0/modules/content/".to_string());
    }
    if media {
        namespaces.insert("media".to_string(), super::media::MEDIA_NS.to_string());
    }
    // Setters, not the crate's builders: `build()` clones every field.
    let mut channel = Channel::default();
    channel.set_title(meta.title.clone());
    channel.set_link(meta.home_url.clone());
    channel.set_description(meta.description.clone());
    channel.set_language(Some(s.language.clone()));
    channel.set_generator(Some(GENERATOR.to_string()));
    channel.set_last_build_date(Some(meta.updated.to_rfc2822()));
    channel.set_docs(Some("https://www.rssboard.org/rss-specification".to_string()));
    channel.set_namespaces(namespaces);
    channel.set_atom_ext(Some(AtomExtension { links }));
    channel.set_image(super::media::rss_channel_image(meta));
    channel.set_items(items);
    channel
}

/// The channel's bytes, written straight into bytes (`to_string` checked
/// them as UTF-8 and copied them twice); `None` only on a failure of the
/// in-memory writer (an internal bug).
fn write(channel: &Channel) -> Option<Vec<u8>> {
    channel.write_to(Vec::with_capacity(4096 + channel.items().len() * 2048)).ok()
}

/// The item of `a`.
fn item(meta: &Meta, a: &Article) -> Item {
    let mut item = Item::default();
    item.set_title(Some(a.title().to_string()));
    item.set_link(Some(a.url().into_owned()));
    item.set_description(Some(a.summary().to_string()));
    let mut guid = Guid::default();
    guid.set_value(item_id(&meta.settings.base_url, a));
    guid.set_permalink(false);
    item.set_guid(Some(guid));
    item.set_pub_date(Some(a.published.to_rfc2822()));
    item.set_categories(
        a.categories
            .iter()
            .map(|c| {
                let mut category = Category::default();
                category.set_name(c.name.clone());
                category
            })
            .collect::<Vec<_>>(),
    );
    if full(meta) {
        item.set_content(Some(a.content_html().to_string()));
    }
    if let Some(author) = &a.author {
        let dc = DublinCoreExtension { creators: vec![author.to_string()], ..DublinCoreExtension::default() };
        item.set_dublin_core_ext(Some(dc));
    }
    if let Some(image) = super::media::image_of(a) {
        item.set_extensions(super::media::rss_item(&image));
    }
    item
}

fn link(href: &str, rel: &str, mime: &str) -> Link {
    let mut l = Link::default();
    l.set_href(href);
    l.set_rel(rel);
    if !mime.is_empty() {
        l.set_mime_type(Some(mime.to_string()));
    }
    l
}
