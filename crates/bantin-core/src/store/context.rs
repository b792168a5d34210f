//! What the site settings contribute to reading an article ([`Context`]):
//! the zone dates are read in, the base URL relative links resolve
//! against, and the article URL template.

use crate::article::{AroundSlug, Link};
use crate::text;
use chrono_tz::Tz;
use std::sync::Arc;
use url::Url;

/// What the site settings contribute to reading an article.
#[derive(Debug, Clone)]
pub struct Context {
    pub timezone: Tz,
    pub base_url: Url,
    /// `{slug}`/`{id}` template resolved against `base_url`.
    pub article_url: String,
    /// The derived URL as text around the slug, when the template allows
    /// it (see [`Link::Slug`]); shared by every article read with it.
    around_slug: Option<Arc<AroundSlug>>,
    /// Whether the slug sits after the host in `around_slug`, where a slug
    /// of only `a-z`, `0-9` and `-` comes out of URL parsing unchanged, so
    /// [`Context::derived_url`] can put it in without parsing.
    slug_after_host: bool,
}

impl Context {
    pub fn new(timezone: Tz, base_url: Url, article_url: impl Into<String>) -> Self {
        let mut ctx =
            Context { timezone, base_url, article_url: article_url.into(), around_slug: None, slug_after_host: false };
        ctx.around_slug = ctx.split_at_slug().map(Arc::new);
        ctx.slug_after_host = ctx.around_slug.as_deref().is_some_and(|around| {
            around.before.split_once("://").is_some_and(|(_, authority_on)| authority_on.contains('/'))
        });
        ctx
    }

    pub fn from_settings(site: &crate::config::Site) -> Self {
        Context::new(site.timezone, site.base_url.clone(), site.article_url.clone())
    }

    /// `article_url` resolved with a marker for the slug, split there; only
    /// for templates that hold `{slug}` once and no `{id}`. Each article
    /// is checked against it anyway ([`AroundSlug::is`]) before it is kept
    /// as a [`Link::Slug`], so URL normalisation can never make it lie.
    fn split_at_slug(&self) -> Option<AroundSlug> {
        const MARK: &str = "bantin0slug0mark";
        if self.article_url.contains("{id}") || self.article_url.matches("{slug}").count() != 1 {
            return None;
        }
        // No `{id}` in the template (checked above).
        let url = self.derived_url(MARK, "")?;
        let (before, after) = url.split_once(MARK)?;
        (!after.contains(MARK)).then(|| AroundSlug { before: before.to_string(), after: after.to_string() })
    }

    /// The URL `site.article_url` gives an article with this slug and id.
    pub fn derived_url(&self, slug: &str, id: &str) -> Option<String> {
        // Every article's URL is derived at every cold build; a parse of
        // the joined URL was ~4 % of one.
        if self.slug_after_host
            && let Some(around) = &self.around_slug
            && text::is_plain_slug(slug)
        {
            return Some(around.url(slug));
        }
        self.absolute(&self.article_url.replace("{slug}", slug).replace("{id}", id))
    }

    /// The link of an article whose slug goes from `old` to `new` (a
    /// repeated slug's `-2` form), or `None` when it stays: a
    /// [`Link::Slug`] follows the slug by itself, an own URL only when it
    /// was the one derived from `old`.
    pub fn renamed_link(&self, link: &Link, id: &str, old: &str, new: &str) -> Option<Link> {
        let Link::Own(own) = link else { return None };
        if self.derived_url(old, id).as_deref() != Some(&**own) {
            return None;
        }
        self.derived_url(new, id).map(|url| Link::Own(url.into_boxed_str()))
    }

    /// How an article with this `url` and `slug` keeps its URL.
    pub fn link(&self, url: String, slug: &str) -> Link {
        match &self.around_slug {
            Some(around) if around.is(&url, slug) => Link::Slug(Arc::clone(around)),
            _ => Link::Own(url.into_boxed_str()),
        }
    }

    /// `s` made absolute against the site's base URL; `None` for something
    /// that is not a URL at all (or a `javascript:`-style scheme).
    pub fn absolute(&self, s: &str) -> Option<String> {
        let url = self.base_url.join(s.trim()).ok()?;
        matches!(url.scheme(), "http" | "https").then(|| url.to_string())
    }
}
