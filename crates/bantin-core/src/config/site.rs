//! `[site]`: the portal's title, public address, language and time zone,
//! where an article lives on it, and its icon and logo for the feeds.

use super::{ConfigError, Origin, absolute_url};
use chrono_tz::Tz;
use serde::Deserialize;
use url::Url;

#[derive(Debug, Clone)]
pub struct Site {
    pub title: String,
    pub description: String,
    /// Absolute, ends with `/` so relative links join under it.
    pub base_url: Url,
    pub language: String,
    pub timezone: Tz,
    /// Where an article lives on the portal: `{slug}` and `{id}` are
    /// replaced, the result is resolved against `base_url`.
    pub article_url: String,
    /// `icon`: a square image (RSS `<image>`, Atom `<icon>`, JSON Feed
    /// `icon`/`favicon`, the pages' `<link rel="icon">`).
    pub icon: Option<Url>,
    /// `logo`: Atom `<logo>` (wider than high).
    pub logo: Option<Url>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(test, derive(serde::Serialize, schemars::JsonSchema))]
pub(super) struct RawSite {
    /// The site's name: feed titles, mail headings and page headers.
    title: String,
    /// The portal's address (absolute). Article links are built on it.
    base_url: String,
    #[serde(default = "default_language")]
    /// Language of the feeds (`<language>`, `xml:lang`), e.g. `vi`.
    language: String,
    #[serde(default = "default_timezone")]
    /// IANA time zone for dates written without an offset and for the digest schedules.
    timezone: String,
    #[serde(default)]
    /// One line about the site: feed descriptions and the index page. Default: made from the title.
    description: Option<String>,
    #[serde(default = "default_article_url")]
    /// An article's page under `base_url` when the store gives none; `{slug}` is replaced.
    article_url: String,
    #[serde(default)]
    /// Square icon URL: RSS `<image>` (GIF/JPEG/PNG only), Atom `<icon>`, JSON Feed `icon`/`favicon`, pages.
    icon: Option<String>,
    #[serde(default)]
    /// Wide logo URL: Atom `<logo>`, the mail header.
    logo: Option<String>,
}
fn default_language() -> String {
    "vi".into()
}
fn default_timezone() -> String {
    "Asia/Ho_Chi_Minh".into()
}
fn default_article_url() -> String {
    "{slug}".into()
}

impl RawSite {
    pub(super) fn validate(self, origin: &Origin) -> Result<Site, ConfigError> {
        let title = crate::text::clean_line(&self.title);
        if title.is_empty() {
            return Err(origin.bad("site.title", "must not be empty".into()));
        }
        let base_url = absolute_url(&self.base_url).map_err(|m| {
            origin.bad("site.base_url", format!("{m} (the portal's public address, e.g. https://yenbai.gov.vn)"))
        })?;
        let timezone: Tz = self.timezone.parse().map_err(|_| {
            origin.bad(
                "site.timezone",
                format!("unknown time zone {:?}; use an IANA name such as \"Asia/Ho_Chi_Minh\"", self.timezone),
            )
        })?;
        let language = self.language.trim().to_string();
        if language.is_empty()
            || language.len() > 35
            || !language.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(origin.bad("site.language", format!("{language:?} is not a language tag; use e.g. \"vi\" or \"en\"")));
        }
        if !self.article_url.contains("{slug}") && !self.article_url.contains("{id}") {
            return Err(origin.bad(
                "site.article_url",
                "must contain {slug} or {id}, e.g. \"tin-tuc/{slug}.html\"".into(),
            ));
        }
        let description = self.description.as_deref().map(crate::text::clean_line).unwrap_or_else(|| title.clone());
        let icon = image_url(origin, "site.icon", self.icon.as_deref())?;
        let logo = image_url(origin, "site.logo", self.logo.as_deref())?;
        Ok(Site { title, description, base_url, language, timezone, article_url: self.article_url, icon, logo })
    }
}

/// An optional image URL of the site: absolute http(s), kept as written
/// (no slash added); empty means none.
fn image_url(origin: &Origin, key: &str, value: Option<&str>) -> Result<Option<Url>, ConfigError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else { return Ok(None) };
    Url::parse(value)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .map(Some)
        .ok_or_else(|| {
            origin.bad(key, format!("{value:?} must be an absolute http:// or https:// URL of an image, e.g. \"https://yenbai.gov.vn/icon-512.png\""))
        })
}

#[cfg(test)]
mod tests {
    use super::super::Settings;
    use std::path::Path;

    fn load(extra: &str) -> Result<Settings, super::ConfigError> {
        let text = format!("[site]\ntitle = \"T\"\nbase_url = \"https://x.org\"\n{extra}");
        Settings::from_sources(Path::new("bantin.toml"), &text, [])
    }

    #[test]
    fn icon_and_logo_are_absolute_http_urls_named_by_their_key() {
        let s = load("icon = \"https://x.org/icon-512.png\"\nlogo = \"http://x.org/logo.svg\"").unwrap();
        assert_eq!(s.site.icon.as_ref().map(url::Url::as_str), Some("https://x.org/icon-512.png"));
        assert_eq!(s.site.logo.as_ref().map(url::Url::as_str), Some("http://x.org/logo.svg"));
        assert_eq!(load("icon = \"\"").unwrap().site.icon, None);
        for (line, key) in [("icon = \"/icon.png\"", "site.icon"), ("logo = \"data:image/png;base64,AA\"", "site.logo"), ("icon = \"ftp://x.org/i.png\"", "site.icon")] {
            let e = load(line).unwrap_err().to_string();
            assert!(e.contains(key) && e.contains("http"), "{line}: {e}");
        }
    }
}
