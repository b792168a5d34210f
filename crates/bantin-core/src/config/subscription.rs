//! `[subscription]`: the limits on the sign-up form and its confirmation
//! mails, and which other sites may post the form.

use super::{ConfigError, Origin};
use serde::Deserialize;
use url::Url;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// Sign-up requests for one mailbox (lower-cased, `+tag` cut) a day.
    pub per_address_per_day: u32,
    /// Sign-up requests from one client (IPv4 address, IPv6 /64) an hour.
    pub per_ip_per_hour: u32,
    /// Sign-up mails (confirmations; preferences links to subscribers who sign up again) an hour, all addresses together.
    pub max_confirmations_per_hour: u32,
    /// Origins (`https://host[:port]`, as a browser sends them in `Origin`)
    /// besides `site.base_url`'s and `http.public_url`'s that may post the
    /// form.
    pub allowed_origins: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[cfg_attr(test, derive(serde::Serialize, schemars::JsonSchema))]
pub(super) struct RawSubscription {
    /// Sign-ups for one mailbox a day (case and +tags count as one).
    per_address_per_day: i64,
    /// Sign-ups from one client an hour (IPv4 address, IPv6 /64); then 429.
    per_ip_per_hour: i64,
    /// Sign-up mails (confirmations; preferences links to subscribers who sign up again) an hour, all addresses together.
    max_confirmations_per_hour: i64,
    /// Other sites whose pages may post the sign-up form, e.g. `["https://portal.example.org"]`.
    allowed_origins: Vec<String>,
}

impl Default for RawSubscription {
    fn default() -> Self {
        RawSubscription { per_address_per_day: 3, per_ip_per_hour: 20, max_confirmations_per_hour: 1000, allowed_origins: Vec::new() }
    }
}

impl Default for Subscription {
    fn default() -> Self {
        let raw = RawSubscription::default();
        Subscription {
            per_address_per_day: raw.per_address_per_day as u32,
            per_ip_per_hour: raw.per_ip_per_hour as u32,
            max_confirmations_per_hour: raw.max_confirmations_per_hour as u32,
            allowed_origins: Vec::new(),
        }
    }
}

impl RawSubscription {
    pub(super) fn validate(self, origin: &Origin) -> Result<Subscription, ConfigError> {
        let count = |key: &str, v: i64, max: i64| {
            u32::try_from(v)
                .ok()
                .filter(|n| (1..=max).contains(&i64::from(*n)))
                .ok_or_else(|| origin.bad(key, format!("{v} is out of range; use 1 to {max}")))
        };
        let per_address_per_day = count("subscription.per_address_per_day", self.per_address_per_day, 1000)?;
        let per_ip_per_hour = count("subscription.per_ip_per_hour", self.per_ip_per_hour, 1_000_000)?;
        let max_confirmations_per_hour = count("subscription.max_confirmations_per_hour", self.max_confirmations_per_hour, 1_000_000)?;
        let allowed_origins = self
            .allowed_origins
            .iter()
            .map(|o| web_origin(o).map_err(|m| origin.bad("subscription.allowed_origins", m)))
            .collect::<Result<_, _>>()?;
        Ok(Subscription { per_address_per_day, per_ip_per_hour, max_confirmations_per_hour, allowed_origins })
    }
}

/// `scheme://host[:port]` of an http(s) URL, as browsers write `Origin`.
fn web_origin(s: &str) -> Result<String, String> {
    let what = "an origin such as \"https://portal.example.org\" (scheme, host and port only)";
    let url = Url::parse(s.trim()).map_err(|_| format!("{s:?} is not {what}"))?;
    let bare = url.path() == "/" && url.query().is_none() && url.fragment().is_none() && url.username().is_empty();
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() || !bare {
        return Err(format!("{s:?} is not {what}"));
    }
    Ok(url.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use crate::config::Settings;
    use std::path::Path;

    fn load(section: &str) -> Result<Settings, String> {
        let text = format!("[site]\ntitle = \"T\"\nbase_url = \"https://x.org\"\n[subscription]\n{section}");
        Settings::from_sources(Path::new("bantin.toml"), &text, []).map_err(|e| e.to_string())
    }

    #[test]
    fn the_defaults_are_todays_limits() {
        let s = load("").unwrap().subscription;
        assert_eq!((s.per_address_per_day, s.per_ip_per_hour, s.max_confirmations_per_hour), (3, 20, 1000));
        assert!(s.allowed_origins.is_empty());
    }

    #[test]
    fn origins_are_kept_as_browsers_send_them_and_limits_in_range() {
        let s = load("allowed_origins = [\"https://Portal.Example.org/\", \"http://a.vn:8080\"]\nper_ip_per_hour = 5").unwrap();
        assert_eq!(s.subscription.allowed_origins, ["https://portal.example.org", "http://a.vn:8080"]);
        assert_eq!(s.subscription.per_ip_per_hour, 5);
        for bad in ["\"portal.example.org\"", "\"https://a.vn/form\"", "\"ftp://a.vn\"", "\"https://a.vn/?x=1\""] {
            let e = load(&format!("allowed_origins = [{bad}]")).unwrap_err();
            assert!(e.contains("subscription.allowed_origins") && e.contains("an origin such as"), "{bad}: {e}");
        }
        let e = load("per_address_per_day = 0").unwrap_err();
        assert!(e.contains("subscription.per_address_per_day: 0 is out of range; use 1 to 1000"), "{e}");
        assert!(load("max_confirmations_per_hour = -1").is_err());
        assert!(load("per_adress_per_day = 2").unwrap_err().contains("per_adress_per_day"));
    }
}
