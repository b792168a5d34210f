//! `[site]`: the portal's title, public address, language and time zone,
//! and where an article lives on it.

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
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSite {
    title: String,
    base_url: String,
    #[serde(default = "default_language")]
    language: String,
    #[serde(default = "default_timezone")]
    timezone: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default = "default_article_url")]
    article_url: String,
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
        Ok(Site { title, description, base_url, language, timezone, article_url: self.article_url })
    }
}
