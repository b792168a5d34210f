//! Which sites may post the sign-up form. A browser names the page a POST
//! comes from in `Origin` (and says `Sec-Fetch-Site: cross-site` when it
//! is another site's); without a check, any site could make its visitors'
//! browsers sign addresses up, each from a different IP, past the per-IP
//! limit. Allowed: our own origins (`site.base_url`, where the portal
//! embeds the form, and `http.public_url`, bantin's own index page) and
//! `subscription.allowed_origins`. A request with neither header (curl,
//! scripts, old browsers) is allowed: it is no browser acting for a site.

use crate::Settings;
use axum::http::{HeaderMap, header};

#[derive(Debug)]
pub(super) struct Origins(Vec<String>);

impl Origins {
    pub(super) fn from_settings(settings: &Settings) -> Origins {
        let own = [&settings.site.base_url, &settings.http.public_url].map(|u| u.origin().ascii_serialization());
        Origins(own.into_iter().chain(settings.subscription.allowed_origins.iter().cloned()).collect())
    }

    /// Whether a form posted with `headers` may be taken. An `Origin`
    /// decides when present (so an allowed embedding site passes even as
    /// `cross-site`); `null` and any other origin are refused.
    pub(super) fn allow(&self, headers: &HeaderMap) -> bool {
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("");
            return self.0.iter().any(|o| o.eq_ignore_ascii_case(origin.trim()));
        }
        headers.get("sec-fetch-site").is_none_or(|v| !v.as_bytes().eq_ignore_ascii_case(b"cross-site"))
    }
}
