//! The index page (`GET /`): the newest articles, each category's newest
//! few, the feeds with autodiscovery links and the digest sign-up form,
//! rendered from the template `index.html` (built in, or
//! `mail.templates_dir`'s override; it extends `layout.html`) with the
//! context below. Plain HTML, no script, so it reads well in any browser
//! or screen reader.
//!
//! Two cached documents, Vietnamese and English ([`Pages`]), each with its
//! ETag and `Vary: Accept-Encoding, Accept-Language`; a request gets one by
//! `negotiate::english` (`?lang=`, else the first language of
//! `Accept-Language`), the rule of the subscription pages, so the request
//! path still only looks up bytes.
//!
//! Re-rendered only when what it shows changes: [`refresh`] hashes each
//! page's context (the shown articles' data, the sections, the settings)
//! and keeps the previous page, unrendered, while that hash holds.

use super::entry::{Entry, content_hash};
use crate::article::{Article, Category};
use crate::catalog::{Catalog, Scope};
use crate::feeds::{FeedId, FeedSettings, Format, media};
use crate::templates::{TemplateError, Templates};
use chrono::{DateTime, FixedOffset};
use serde::Serialize;
use std::sync::Arc;

/// How many of the newest articles the page lists first.
const LATEST: usize = 12;
/// How many of each category's newest it lists in the category's section.
const PER_CATEGORY: usize = 4;
/// How many tags, and how many authors, the page lists: those with the
/// most articles (a large store has thousands of tags, a wall of links on
/// a phone and ~50 ms of every change to render; all are in the OPML
/// list).
const TOP_FACETS: usize = 50;
/// A summary is cut to this many characters (at a word).
const SUMMARY_CHARS: usize = 220;

/// One list item of the index page: a scope's name and its three feeds.
#[derive(Serialize)]
struct Section {
    /// "" for the site.
    slug: String,
    name: String,
    feeds: Vec<FeedLink>,
}

#[derive(Serialize)]
struct FeedLink {
    href: String,
    mime: &'static str,
    kind: &'static str,
}

/// An article as the page shows it.
#[derive(Serialize)]
struct Card {
    title: String,
    url: String,
    /// In `site.timezone`, as the page's language writes dates.
    date: String,
    /// RFC 3339, for `<time datetime>`.
    datetime: String,
    /// The first category's name ("" without one).
    category: String,
    /// The article's image (its own, else its body's first), when known.
    image: Option<String>,
    summary: String,
}

/// A category's newest few.
#[derive(Serialize)]
struct CategoryNews {
    slug: String,
    name: String,
    /// The category's RSS feed.
    feed: String,
    articles: Vec<Card>,
}

/// What `templates/index.html` is rendered with.
#[derive(Serialize)]
struct IndexPage {
    /// "vi" or "en": the language of the page's words.
    lang: &'static str,
    site_title: String,
    description: String,
    home: String,
    subscribe_url: String,
    /// `site.icon`: the page's `<link rel="icon">` and header image.
    icon: Option<String>,
    site_icon: Option<String>,
    /// `/feeds.opml`, every feed for a reader to import.
    opml_url: String,
    site: Section,
    categories: Vec<Section>,
    /// Empty unless `feeds.tags` / `feeds.authors` publish them; the
    /// `TOP_FACETS` of each with the most articles, by name.
    tags: Vec<Section>,
    authors: Vec<Section>,
    /// How many tags and authors with feeds the lists leave out.
    more_tags: usize,
    more_authors: usize,
    latest: Vec<Card>,
    by_category: Vec<CategoryNews>,
}

/// The index page: the site and its feeds, with autodiscovery links, and
/// the digest sign-up form (handled by the subscription routes at
/// `POST /subscribe`), from the template `index.html` of
/// [`FeedSettings::templates`].
/// Vietnamese, or English with `english`.
pub fn index_page(catalog: &Catalog, settings: &FeedSettings, now: DateTime<FixedOffset>, english: bool) -> Result<String, TemplateError> {
    let listed = Listed::of(catalog, settings, now);
    settings.templates.render("index.html", index_context(catalog, settings, now, &listed, lang_code(english)))
}

fn lang_code(english: bool) -> &'static str {
    if english { "en" } else { "vi" }
}

/// The tags and authors the pages list, chosen once for both languages
/// (choosing reads every group's newest article).
struct Listed {
    tags: (Vec<Category>, usize),
    authors: (Vec<Category>, usize),
}

impl Listed {
    fn of(catalog: &Catalog, settings: &FeedSettings, now: DateTime<FixedOffset>) -> Listed {
        Listed {
            tags: if settings.tags { catalog.most_used_tags(now, TOP_FACETS) } else { Default::default() },
            authors: if settings.authors { catalog.most_used_authors(now, TOP_FACETS) } else { Default::default() },
        }
    }
}

fn index_context(catalog: &Catalog, settings: &FeedSettings, now: DateTime<FixedOffset>, listed: &Listed, lang: &'static str) -> IndexPage {
    let url = |path: &str| {
        settings.public_url.join(path).map(|u| u.to_string()).unwrap_or_else(|_| format!("/{path}"))
    };
    let section = |slug: &str, name: &str, scope: Scope| Section {
        slug: slug.to_string(),
        name: name.to_string(),
        feeds: Format::ALL
            .into_iter()
            .map(|format| FeedLink {
                href: url(&FeedId::new(scope.clone(), format).path()),
                mime: format.mime(),
                kind: format.label(),
            })
            .collect(),
    };
    let card = |a: &Arc<Article>| card(a, settings, lang);
    let categories = catalog.categories(now);
    let ((tags, more_tags), (authors, more_authors)) = (&listed.tags, &listed.authors);
    let icon = settings.icon.as_ref().map(|u| u.to_string());
    IndexPage {
        lang,
        site_title: settings.site_title.clone(),
        description: settings.description.clone(),
        home: settings.base_url.to_string(),
        subscribe_url: url("subscribe"),
        site_icon: icon.clone(),
        icon,
        opml_url: url(crate::feeds::opml::PATH),
        site: section("", &settings.site_title, Scope::Site),
        latest: catalog.newest(&Scope::Site, now, LATEST).iter().map(card).collect(),
        by_category: categories
            .iter()
            .map(|c| {
                let scope = Scope::Category(c.slug.clone());
                CategoryNews {
                    slug: c.slug.clone(),
                    name: c.name.clone(),
                    feed: url(&FeedId::new(scope.clone(), Format::Rss).path()),
                    articles: catalog.newest(&scope, now, PER_CATEGORY).iter().map(card).collect(),
                }
            })
            .collect(),
        categories: categories
            .into_iter()
            .map(|c| section(&c.slug, &c.name, Scope::Category(c.slug.clone())))
            .collect(),
        tags: tags.iter().map(|c| section(&c.slug, &c.name, Scope::Tag(c.slug.clone()))).collect(),
        authors: authors.iter().map(|c| section(&c.slug, &c.name, Scope::Author(c.slug.clone()))).collect(),
        more_tags: *more_tags,
        more_authors: *more_authors,
    }
}

fn card(a: &Article, settings: &FeedSettings, lang: &str) -> Card {
    let local = a.published.with_timezone(&settings.timezone);
    let date = if lang == "en" { local.format("%-d %b %Y, %H:%M") } else { local.format("%d/%m/%Y %H:%M") };
    Card {
        title: a.title().to_string(),
        url: a.url().into_owned(),
        date: date.to_string(),
        datetime: local.to_rfc3339(),
        category: a.categories.first().map(|c| c.name.clone()).unwrap_or_default(),
        image: media::image_of(a).map(|i| i.url.into_owned()),
        summary: crate::text::excerpt(a.summary(), SUMMARY_CHARS),
    }
}

/// The page of `context` from `settings`' templates, or when an override
/// of `index.html` fails to render, from the built-in one (the error
/// logged).
fn html_of(context: &IndexPage, settings: &FeedSettings) -> String {
    settings.templates.render("index.html", context).unwrap_or_else(|e| {
        tracing::error!("the index page: {e}; serving the built-in one");
        Templates::shared_builtin().render("index.html", context).unwrap_or_default()
    })
}

/// The index page in each language, with the hash of what each shows.
#[derive(Debug, Clone)]
pub(super) struct Pages {
    vi: Arc<Entry>,
    en: Arc<Entry>,
    keys: [String; 2],
}

impl Pages {
    pub(super) fn get(&self, english: bool) -> &Arc<Entry> {
        if english { &self.en } else { &self.vi }
    }

    /// Whether `other` holds the very same entries (nothing re-rendered).
    pub(super) fn same_as(&self, other: &Pages) -> bool {
        Arc::ptr_eq(&self.vi, &other.vi) && Arc::ptr_eq(&self.en, &other.en) && self.keys == other.keys
    }

    pub(super) fn entries(&self) -> impl Iterator<Item = &Arc<Entry>> {
        [&self.vi, &self.en].into_iter()
    }

    /// The pages with each entry replaced by `fill`'s where it gives one;
    /// `None` when it gives none.
    pub(super) fn filled(&self, fill: impl Fn(&Arc<Entry>) -> Option<Arc<Entry>>) -> Option<Pages> {
        let (vi, en) = (fill(&self.vi), fill(&self.en));
        if vi.is_none() && en.is_none() {
            return None;
        }
        Some(Pages { vi: vi.unwrap_or_else(|| Arc::clone(&self.vi)), en: en.unwrap_or_else(|| Arc::clone(&self.en)), keys: self.keys.clone() })
    }
}

/// A page's `Vary`: its encodings, and its language by `Accept-Language`.
const VARY: &str = "Accept-Encoding, Accept-Language";

/// The index pages of this generation: each the previous one, not
/// rendered again, while the hash of what it shows is the same; else
/// rendered, and still the previous entry (same ETag) if its bytes are
/// equal. `modified` is a new page's Last-Modified.
pub(super) fn refresh(
    prev: Option<&Pages>,
    catalog: &Catalog,
    settings: &FeedSettings,
    now: DateTime<FixedOffset>,
    modified: impl Fn() -> DateTime<FixedOffset>,
) -> Pages {
    let listed = Listed::of(catalog, settings, now);
    let one = |english: bool| {
        let context = index_context(catalog, settings, now, &listed, lang_code(english));
        // The templates are part of what the page is made of: a reload
        // with other overrides is another page.
        let templates = Arc::as_ptr(&settings.templates) as usize;
        let mut shown = serde_json::to_vec(&context).unwrap_or_default();
        shown.extend_from_slice(&templates.to_le_bytes());
        let key = content_hash(&shown);
        let old = prev.map(|p| (p.get(english), &p.keys[usize::from(english)]));
        let entry = match old {
            Some((old, old_key)) if *old_key == key => Arc::clone(old),
            _ => {
                let html = html_of(&context, settings);
                match old {
                    Some((old, _)) if old.hash == content_hash(html.as_bytes()) => Arc::clone(old),
                    _ => {
                        let entry = Entry::new(html.into_bytes(), "text/html; charset=utf-8", modified());
                        Arc::new(entry.with_headers(http::HeaderValue::from_static(VARY), Arc::new([])))
                    }
                }
            }
        };
        (entry, key)
    };
    let ((vi, vi_key), (en, en_key)) = (one(false), one(true));
    Pages { vi, en, keys: [vi_key, en_key] }
}

#[cfg(test)]
mod tests;
