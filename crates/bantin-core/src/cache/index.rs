//! The index page (`GET /`): the site and its feeds with autodiscovery
//! links, and the digest sign-up form, rendered from the template
//! `index.html` (built in, or `mail.templates_dir`'s override) with the
//! context below. Plain HTML, no script, so it reads well in any browser
//! or screen reader.

use crate::catalog::{Catalog, Scope};
use crate::feeds::{FeedId, FeedSettings, Format};
use crate::templates::{TemplateError, Templates};
use chrono::{DateTime, FixedOffset};
use serde::Serialize;

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

/// What `templates/index.html` is rendered with.
#[derive(Serialize)]
struct IndexPage {
    lang: String,
    site_title: String,
    description: String,
    home: String,
    subscribe_url: String,
    /// `site.icon`: the page's `<link rel="icon">`.
    icon: Option<String>,
    /// `/feeds.opml`, every feed for a reader to import.
    opml_url: String,
    site: Section,
    categories: Vec<Section>,
    /// Empty unless `feeds.tags` / `feeds.authors` publish them.
    tags: Vec<Section>,
    authors: Vec<Section>,
}

/// The index page: the site and its feeds, with autodiscovery links, and
/// the digest sign-up form (handled by the subscription routes at
/// `POST /subscribe`), from the template `index.html` of
/// [`FeedSettings::templates`].
pub fn index_page(catalog: &Catalog, settings: &FeedSettings, now: DateTime<FixedOffset>) -> Result<String, TemplateError> {
    settings.templates.render("index.html", index_context(catalog, settings, now))
}

fn index_context(catalog: &Catalog, settings: &FeedSettings, now: DateTime<FixedOffset>) -> IndexPage {
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
    IndexPage {
        lang: settings.language.clone(),
        site_title: settings.site_title.clone(),
        description: settings.description.clone(),
        home: settings.base_url.to_string(),
        subscribe_url: url("subscribe"),
        icon: settings.icon.as_ref().map(|u| u.to_string()),
        opml_url: url(crate::feeds::opml::PATH),
        site: section("", &settings.site_title, Scope::Site),
        categories: catalog
            .categories(now)
            .into_iter()
            .map(|c| section(&c.slug, &c.name, Scope::Category(c.slug.clone())))
            .collect(),
        tags: if settings.tags { catalog.tags(now) } else { Vec::new() }
            .into_iter()
            .map(|c| section(&c.slug, &c.name, Scope::Tag(c.slug.clone())))
            .collect(),
        authors: if settings.authors { catalog.authors(now) } else { Vec::new() }
            .into_iter()
            .map(|c| section(&c.slug, &c.name, Scope::Author(c.slug.clone())))
            .collect(),
    }
}

/// [`index_page`], or when an override of `index.html` fails to render,
/// the built-in page (the error logged).
pub(super) fn html(catalog: &Catalog, settings: &FeedSettings, now: DateTime<FixedOffset>) -> String {
    index_page(catalog, settings, now).unwrap_or_else(|e| {
        tracing::error!("the index page: {e}; serving the built-in one");
        let builtin = FeedSettings { templates: Templates::shared_builtin(), ..settings.clone() };
        index_page(catalog, &builtin, now).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::refresh;
    use std::sync::Arc;

    fn feed_settings() -> FeedSettings {
        let url = url::Url::parse("https://yenbai.gov.vn/").unwrap();
        FeedSettings {
            site_title: "Cổng <thông tin>".into(),
            description: "Tin tức".into(),
            language: "vi".into(),
            base_url: url.clone(),
            public_url: url,
            content: crate::config::ContentMode::Full,
            items: 50,
            websub_hub: None,
            icon: None,
            logo: None,
            browser_view: true,
            max_bytes: 2_000_000,
            tags: false,
            authors: false,
            news_sitemap: false,
            templates: Templates::shared_builtin(),
        }
    }

    #[test]
    fn the_index_page_is_the_template_of_the_settings() {
        let now = DateTime::UNIX_EPOCH.fixed_offset();
        let over = |source: &'static str| {
            let t = Templates::build(|name| Ok((name == "index.html").then(|| source.to_string()))).unwrap();
            feed_settings().with_templates(Arc::new(t))
        };
        let catalog = Catalog::default();
        let own = over("{{ site_title }} {% for f in site.feeds %}{{ f.href }} {% endfor %}{{ subscribe_url }}\n");
        let (cache, _) = refresh(None, &catalog, &own, now);
        let page = cache.index().and_then(|e| e.identity()).map(|r| r.bytes.to_vec()).unwrap();
        assert_eq!(
            String::from_utf8(page).unwrap(),
            "Cổng &lt;thông tin&gt; https://yenbai.gov.vn/feed.xml https://yenbai.gov.vn/atom.xml \
             https://yenbai.gov.vn/feed.json https://yenbai.gov.vn/subscribe\n"
        );
        // An override that fails as it renders: the built-in page is served.
        let broken = over("{{ no_such_value }}");
        assert!(index_page(&catalog, &broken, now).is_err());
        let (cache, _) = refresh(None, &catalog, &broken, now);
        let page = cache.index().and_then(|e| e.identity()).map(|r| r.bytes.to_vec()).unwrap();
        assert_eq!(page, index_page(&catalog, &feed_settings(), now).unwrap().into_bytes());
    }
}
