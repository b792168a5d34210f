//! Reading a rendered feed back and checking it against the catalog: a
//! strict parser (roxmltree for XML, serde_json for JSON) takes it apart
//! into [`Parsed`], [`check_feed`] holds every field to the catalog and
//! the text oracles of `common`, and [`check_with_feed_rs`] reads it again
//! with an independent feed client.
//!
//! The oracles are written from DESIGN.md and the fixtures' READMEs, not
//! from bantin's code: visibility and the newest-first cut are checked as
//! properties, not re-implemented.

#![allow(dead_code)]

use super::common::*;
use bantin::feeds::{self, FeedSettings, Format};
use bantin::{Article, Catalog, Scope};
use chrono::{DateTime, FixedOffset, Utc};
use std::collections::{HashMap, HashSet};

// ---- reading a feed back --------------------------------------------------

/// One item as a feed shows it.
#[derive(Debug, Clone, Default)]
pub struct Item {
    pub id: String,
    /// RSS only: the `isPermaLink` attribute as written.
    pub permalink: Option<String>,
    pub title: String,
    pub link: String,
    pub published: Option<DateTime<FixedOffset>>,
    pub updated: Option<DateTime<FixedOffset>>,
    /// The date strings as written, for format checks.
    pub raw_dates: Vec<String>,
    /// RSS: category text; Atom: `term` (`label` in `labels`); JSON: tags.
    pub categories: Vec<String>,
    pub labels: Vec<String>,
    /// RSS: dc:creator; Atom: entry authors; JSON: item authors.
    pub authors: Vec<String>,
    pub summary: String,
    pub content: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub title: String,
    pub self_url: String,
    pub home_url: String,
    pub language: String,
    pub authors: Vec<String>,
    pub raw_dates: Vec<String>,
    pub items: Vec<Item>,
}

const ATOM: &str = "http://www.w3.org/2005/Atom";
const DC: &str = "http://purl.org/dc/elements/1.1/";
const CONTENT: &str = "http://purl.org/rss/1.0/modules/content/";

/// All text below `n`, CDATA sections included (a split `]]>` is several).
pub fn text_of(n: roxmltree::Node) -> String {
    n.descendants().filter(|d| d.is_text()).map(|d| d.text().unwrap_or("")).collect()
}

fn child<'a, 'i>(n: roxmltree::Node<'a, 'i>, ns: Option<&str>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    children(n, ns, name).next()
}

fn children<'a, 'i>(n: roxmltree::Node<'a, 'i>, ns: Option<&str>, name: &str) -> std::vec::IntoIter<roxmltree::Node<'a, 'i>> {
    n.children().filter(|c| c.is_element() && c.tag_name().name() == name && c.tag_name().namespace() == ns).collect::<Vec<_>>().into_iter()
}

/// Parses an XML feed strictly; panics with the parser's message.
pub fn strict_xml<'i>(what: &str, text: &'i str) -> roxmltree::Document<'i> {
    roxmltree::Document::parse(text).unwrap_or_else(|e| panic!("{what}: not well-formed XML: {e}"))
}

fn date(what: &str, s: &str, rfc822: bool) -> DateTime<FixedOffset> {
    let r = if rfc822 { DateTime::parse_from_rfc2822(s) } else { DateTime::parse_from_rfc3339(s) };
    r.unwrap_or_else(|e| panic!("{what}: bad date {s:?}: {e}"))
}

/// Reads a feed with the strict parser into [`Parsed`].
pub fn read_strict(what: &str, format: Format, bytes: &[u8]) -> Parsed {
    let text = std::str::from_utf8(bytes).unwrap_or_else(|e| panic!("{what}: not UTF-8: {e}"));
    match format {
        Format::Rss => read_rss(what, text),
        Format::Atom => read_atom(what, text),
        Format::Json => read_json(what, text),
    }
}

fn read_rss(what: &str, text: &str) -> Parsed {
    let doc = strict_xml(what, text);
    let rss = doc.root_element();
    assert_eq!(rss.tag_name().name(), "rss", "{what}");
    assert_eq!(rss.attribute("version"), Some("2.0"), "{what}");
    let ch = child(rss, None, "channel").unwrap_or_else(|| panic!("{what}: no channel"));
    let get = |n: roxmltree::Node, name: &str| child(n, None, name).map(text_of).unwrap_or_default();
    let mut p = Parsed {
        title: get(ch, "title"),
        home_url: get(ch, "link"),
        language: get(ch, "language"),
        ..Default::default()
    };
    p.self_url = children(ch, Some(ATOM), "link")
        .find(|l| l.attribute("rel") == Some("self"))
        .and_then(|l| l.attribute("href"))
        .unwrap_or_default()
        .to_string();
    p.raw_dates.extend(["lastBuildDate", "pubDate"].iter().filter_map(|n| child(ch, None, n)).map(text_of));
    for it in children(ch, None, "item") {
        let guid = child(it, None, "guid");
        let pub_date = get(it, "pubDate");
        p.items.push(Item {
            id: guid.map(text_of).unwrap_or_default(),
            permalink: guid.and_then(|g| g.attribute("isPermaLink")).map(str::to_string),
            title: get(it, "title"),
            link: get(it, "link"),
            published: (!pub_date.is_empty()).then(|| date(what, &pub_date, true)),
            updated: None,
            raw_dates: vec![pub_date],
            categories: children(it, None, "category").map(text_of).collect(),
            labels: Vec::new(),
            authors: children(it, Some(DC), "creator").map(text_of).collect(),
            summary: get(it, "description"),
            content: child(it, Some(CONTENT), "encoded").map(text_of),
        });
    }
    p
}

fn read_atom(what: &str, text: &str) -> Parsed {
    let doc = strict_xml(what, text);
    let feed = doc.root_element();
    assert_eq!((feed.tag_name().namespace(), feed.tag_name().name()), (Some(ATOM), "feed"), "{what}");
    let get = |n: roxmltree::Node, name: &str| child(n, Some(ATOM), name).map(text_of).unwrap_or_default();
    let link = |n: roxmltree::Node, rel: &str| {
        children(n, Some(ATOM), "link")
            .find(|l| l.attribute("rel").unwrap_or("alternate") == rel)
            .and_then(|l| l.attribute("href"))
            .unwrap_or_default()
            .to_string()
    };
    let names = |n: roxmltree::Node| -> Vec<String> {
        children(n, Some(ATOM), "author").map(|a| get(a, "name")).collect()
    };
    let mut p = Parsed {
        title: get(feed, "title"),
        self_url: link(feed, "self"),
        home_url: link(feed, "alternate"),
        language: feed.attribute((roxmltree::NS_XML_URI, "lang")).unwrap_or_default().to_string(),
        authors: names(feed),
        raw_dates: vec![get(feed, "updated")],
        items: Vec::new(),
    };
    for e in children(feed, Some(ATOM), "entry") {
        let published = get(e, "published");
        let updated = get(e, "updated");
        let content = child(e, Some(ATOM), "content");
        if let Some(c) = content {
            assert_eq!(c.attribute("type"), Some("html"), "{what}: content type");
        }
        p.items.push(Item {
            id: get(e, "id"),
            permalink: None,
            title: get(e, "title"),
            link: link(e, "alternate"),
            published: (!published.is_empty()).then(|| date(what, &published, false)),
            updated: (!updated.is_empty()).then(|| date(what, &updated, false)),
            raw_dates: vec![published, updated],
            categories: children(e, Some(ATOM), "category").map(|c| c.attribute("term").unwrap_or_default().to_string()).collect(),
            labels: children(e, Some(ATOM), "category").map(|c| c.attribute("label").unwrap_or_default().to_string()).collect(),
            authors: names(e),
            summary: get(e, "summary"),
            content: content.map(text_of),
        });
    }
    p
}

fn read_json(what: &str, text: &str) -> Parsed {
    use serde_json::Value;
    let v: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{what}: not JSON: {e}"));
    assert_no_forbidden_in_json(what, &v);
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let names = |v: &Value| -> Vec<String> {
        v.get("authors").and_then(Value::as_array).into_iter().flatten().map(|a| s(a, "name")).collect()
    };
    let mut p = Parsed {
        title: s(&v, "title"),
        self_url: s(&v, "feed_url"),
        home_url: s(&v, "home_page_url"),
        language: s(&v, "language"),
        authors: names(&v),
        raw_dates: Vec::new(),
        items: Vec::new(),
    };
    for it in v.get("items").and_then(Value::as_array).unwrap_or_else(|| panic!("{what}: no items array")) {
        let published = s(it, "date_published");
        let modified = s(it, "date_modified");
        p.items.push(Item {
            id: s(it, "id"),
            permalink: None,
            title: s(it, "title"),
            link: s(it, "url"),
            published: (!published.is_empty()).then(|| date(what, &published, false)),
            updated: (!modified.is_empty()).then(|| date(what, &modified, false)),
            raw_dates: vec![published, modified],
            categories: it
                .get("tags")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|t| t.as_str().unwrap_or_else(|| panic!("{what}: a tag that is not a string")).to_string())
                .collect(),
            labels: Vec::new(),
            authors: names(it),
            summary: s(it, "summary"),
            content: it.get("content_html").and_then(Value::as_str).map(str::to_string),
        });
    }
    p
}

fn assert_no_forbidden_in_json(what: &str, v: &serde_json::Value) {
    match v {
        serde_json::Value::String(s) => {
            assert!(!s.chars().any(forbidden), "{what}: JSON string with a forbidden character: {s:?}")
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| assert_no_forbidden_in_json(what, x)),
        serde_json::Value::Object(o) => o.values().for_each(|x| assert_no_forbidden_in_json(what, x)),
        _ => {}
    }
}

// ---- checking one feed against the catalog -------------------------------

/// Whether readers may see `a` at `now` (DESIGN.md: drafts and future
/// articles stay out until their time).
pub fn visible(a: &Article, now: DateTime<FixedOffset>) -> bool {
    !a.draft && a.published <= now
}

pub fn in_scope(a: &Article, scope: &Scope) -> bool {
    match scope {
        Scope::Site => true,
        Scope::Category(slug) => a.categories.iter().any(|c| &c.slug == slug),
        // Written out here, not asked of the catalog: the check is of it.
        Scope::Tag(slug) => a.tags().iter().any(|t| &bantin::text::slugify(t) == slug),
        Scope::Author(slug) => a.author.as_deref().is_some_and(|n| &bantin::text::slugify(n) == slug),
    }
}

/// Checks one rendered feed with both parsers against the catalog and the
/// settings, and returns what the strict parser read.
pub fn check_feed(r: &Rendered, catalog: &Catalog, fs: &FeedSettings, now: DateTime<FixedOffset>) -> Parsed {
    let what = r.feed.path();
    let what = what.as_str();
    let p = read_strict(what, r.feed.format, &r.bytes);

    // The feed itself.
    assert_eq!(p.self_url, served_url(fs, &r.feed), "{what}: self URL");
    assert!(is_absolute_http(&p.home_url), "{what}: home URL {:?}", p.home_url);
    assert_eq!(p.language, fs.language, "{what}: language");
    match &r.feed.scope {
        Scope::Site => assert_eq!(p.title, fs.site_title, "{what}: title"),
        scope => {
            let name = catalog.scope_name(scope).unwrap();
            assert!(p.title.contains(name) && p.title.contains(&fs.site_title), "{what}: title {:?}", p.title)
        }
    }

    // Which items: the newest visible ones of the scope, newest first.
    let pool: Vec<&Article> =
        catalog.articles().iter().map(|a| &**a).filter(|a| visible(a, now) && in_scope(a, &r.feed.scope)).collect();
    let want = pool.len().min(fs.items);
    assert!(r.bytes.len() <= fs.max_bytes, "{what}: {} bytes, over feeds.max_bytes", r.bytes.len());
    if p.items.len() != want {
        assert!(p.items.len() < want, "{what}: item count = min(feeds.items, visible)");
        // Fewer only by feeds.max_bytes: one item more would not fit.
        let more = FeedSettings { items: p.items.len() + 1, max_bytes: usize::MAX, ..fs.clone() };
        let bytes = feeds::render(&r.feed, &feeds::items(&r.feed, catalog, &more, now), catalog, &more).unwrap_or_default();
        assert!(bytes.len() > fs.max_bytes, "{what}: {} of {want} items in {} bytes, yet one more fits", p.items.len(), r.bytes.len());
    }
    let by_url: HashMap<String, &Article> = catalog.articles().iter().map(|a| (a.url().into_owned(), &**a)).collect();
    let mut shown = Vec::with_capacity(p.items.len());
    for it in &p.items {
        let a = by_url.get(it.link.as_str()).unwrap_or_else(|| panic!("{what}: item link {:?} names no article", it.link));
        assert!(visible(a, now), "{what}: {} is a draft or in the future", a.origin());
        assert!(in_scope(a, &r.feed.scope), "{what}: {} is not in this category", a.origin());
        shown.push(*a);
    }
    for w in shown.windows(2) {
        assert!(w[0].published >= w[1].published, "{what}: not newest first: {} before {}", w[0].origin(), w[1].origin());
    }
    if let Some(oldest) = shown.last() {
        let ids: HashSet<&str> = shown.iter().map(|a| a.id()).collect();
        for a in pool.iter().filter(|a| !ids.contains(a.id())) {
            assert!(a.published <= oldest.published, "{what}: {} is newer than the oldest item but left out", a.origin());
        }
    }

    // Every item, field by field.
    let mut ids = HashSet::new();
    let mut links = HashSet::new();
    for (it, a) in p.items.iter().zip(&shown) {
        let at = format!("{what}: {}", a.origin());
        assert!(ids.insert(it.id.clone()), "{at}: id {} twice", it.id);
        assert!(links.insert(it.link.clone()), "{at}: link twice");
        assert!(is_absolute_http(&it.link), "{at}: link {:?}", it.link);
        assert!(it.id.starts_with("urn:uuid:") && uuid::Uuid::parse_str(&it.id[9..]).is_ok(), "{at}: id {:?}", it.id);
        assert_eq!(&*it.title, a.title(), "{at}: title");
        assert!(!it.title.is_empty() && it.title == cleaned_line(&it.title), "{at}: title not clean: {:?}", it.title);
        assert_eq!(it.published, Some(a.published), "{at}: published");
        assert_eq!(it.summary, a.summary(), "{at}: summary");
        match r.feed.format {
            Format::Rss => {
                let names: Vec<&str> = a.categories.iter().map(|c| c.name.as_str()).collect();
                assert_eq!(it.categories, names, "{at}: categories");
                assert_eq!(it.authors, a.author.iter().map(|n| n.to_string()).collect::<Vec<_>>(), "{at}: dc:creator");
            }
            Format::Atom => {
                let slugs: Vec<&str> = a.categories.iter().map(|c| c.slug.as_str()).collect();
                let names: Vec<&str> = a.categories.iter().map(|c| c.name.as_str()).collect();
                assert_eq!(it.categories, slugs, "{at}: category terms");
                assert_eq!(it.labels, names, "{at}: category labels");
                assert_eq!(it.updated, Some(a.modified()), "{at}: updated");
                match &a.author {
                    Some(n) => assert_eq!(it.authors, [n.to_string()], "{at}: author"),
                    None => assert!(it.authors.is_empty() && !p.authors.is_empty(), "{at}: author via the feed"),
                }
            }
            Format::Json => {
                let mut tags: Vec<String> = a.categories.iter().map(|c| c.name.clone()).collect();
                tags.extend(a.tags().iter().cloned());
                assert_eq!(it.categories, tags, "{at}: tags");
                assert_eq!(it.updated, Some(a.modified()), "{at}: date_modified");
                assert_eq!(it.authors, a.author.iter().map(|n| n.to_string()).collect::<Vec<_>>(), "{at}: authors");
            }
        }
        match fs.content {
            bantin::config::ContentMode::Full => {
                assert_eq!(it.content.as_deref(), Some(&*a.content_html()), "{at}: full content");
                for u in html_urls(&a.content_html()) {
                    assert!(is_absolute_http(&u), "{at}: relative or odd URL {u:?} in the content");
                }
            }
            bantin::config::ContentMode::Summary => assert_eq!(it.content, None, "{at}: content in summary mode"),
        }
    }

    check_with_feed_rs(what, r, &p);
    p
}

/// The second, independent reader: feed-rs must see the same items.
pub fn check_with_feed_rs(what: &str, r: &Rendered, p: &Parsed) {
    let f = feed_rs::parser::parse(&r.bytes[..]).unwrap_or_else(|e| panic!("{what}: feed-rs: {e}"));
    let want_type = match r.feed.format {
        Format::Rss => feed_rs::model::FeedType::RSS2,
        Format::Atom => feed_rs::model::FeedType::Atom,
        Format::Json => feed_rs::model::FeedType::JSON,
    };
    assert_eq!(f.feed_type, want_type, "{what}: feed-rs type");
    assert_eq!(f.title.as_ref().map(|t| t.content.as_str()), Some(p.title.as_str()), "{what}: feed-rs feed title");
    assert_eq!(f.entries.len(), p.items.len(), "{what}: feed-rs entry count");
    for (e, it) in f.entries.iter().zip(&p.items) {
        let at = format!("{what}: {}", it.link);
        assert_eq!(e.id, it.id, "{at}: feed-rs id");
        assert_eq!(e.title.as_ref().map(|t| t.content.as_str()), Some(it.title.as_str()), "{at}: feed-rs title");
        assert_eq!(e.links.first().map(|l| l.href.as_str()), Some(it.link.as_str()), "{at}: feed-rs link");
        assert_eq!(e.published, it.published.map(|d| d.with_timezone(&Utc)), "{at}: feed-rs published");
        if it.updated.is_some() {
            assert_eq!(e.updated, it.updated.map(|d| d.with_timezone(&Utc)), "{at}: feed-rs updated");
        }
        let terms: Vec<&str> = e.categories.iter().map(|c| c.term.as_str()).collect();
        assert_eq!(terms, it.categories, "{at}: feed-rs categories");
        let names: Vec<&str> = e.authors.iter().map(|a| a.name.as_deref().unwrap_or_default()).collect();
        if r.feed.format == Format::Json && it.authors.is_empty() {
            // feed-rs gives an item without authors the feed's (JSON Feed 1.1 §authors).
            assert_eq!(names, p.authors, "{at}: feed-rs inherited authors");
        } else {
            assert_eq!(names, it.authors, "{at}: feed-rs authors");
        }
        // feed-rs reads an empty summary as none.
        assert_eq!(e.summary.as_ref().map_or("", |s| s.content.as_str()), it.summary, "{at}: feed-rs summary");
        if let Some(c) = &it.content {
            // feed-rs trims the white space around a body.
            // and reads an empty body as none.
            let body = e.content.as_ref().and_then(|c| c.body.as_deref()).map(str::trim).unwrap_or_default();
            assert!(body == c.trim(), "{at}: feed-rs content differs: {body:?}");
        }
    }
}

/// Link → id of every item of every feed; panics when one article gets two
/// ids (in two formats or two feeds).
pub fn ids_by_link(rendered: &[Rendered], parsed: &[Parsed]) -> HashMap<String, String> {
    let mut ids: HashMap<String, String> = HashMap::new();
    for (r, p) in rendered.iter().zip(parsed) {
        for it in &p.items {
            let prev = ids.entry(it.link.clone()).or_insert_with(|| it.id.clone());
            assert_eq!(*prev, it.id, "{}: {} has two ids", r.feed.path(), it.link);
        }
    }
    let distinct: HashSet<&String> = ids.values().collect();
    assert_eq!(distinct.len(), ids.len(), "two articles share an id");
    ids
}
