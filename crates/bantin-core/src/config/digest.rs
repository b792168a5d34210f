//! `[digest]`: when the daily and weekly digests go out, how long they are,
//! how far a new subscriber's first one reaches back, and the seed
//! addresses that get a copy of every period's digest.

use super::{ConfigError, Origin, parse_duration};
use chrono::{NaiveTime, Weekday};
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Digest {
    pub daily_at: NaiveTime,
    pub weekly_on: Weekday,
    pub max_items: usize,
    pub first_backlog: Duration,
    /// Addresses (normalised as subscribers' are) that get the site-wide
    /// digest of every period a run queued news in: editors watching what
    /// goes out, deliverability monitors.
    pub seed: Vec<String>,
    /// Whether a confirmed subscriber is sent a welcome mail (the archive
    /// and preferences links): `digest.welcome`, on by default.
    pub welcome: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawDigest {
    daily_at: String,
    weekly_on: String,
    max_items: i64,
    first_backlog: String,
    seed: Vec<String>,
    welcome: bool,
}
impl Default for RawDigest {
    fn default() -> Self {
        RawDigest {
            daily_at: "07:00".into(),
            weekly_on: "mon".into(),
            max_items: 30,
            first_backlog: "7d".into(),
            seed: Vec::new(),
            welcome: true,
        }
    }
}

impl RawDigest {
    pub(super) fn validate(self, origin: &Origin) -> Result<Digest, ConfigError> {
        let daily_at = NaiveTime::parse_from_str(self.daily_at.trim(), "%H:%M").map_err(|_| {
            origin.bad("digest.daily_at", format!("{:?} is not a time such as \"07:00\"", self.daily_at))
        })?;
        let weekly_on: Weekday = self.weekly_on.trim().parse().map_err(|_| {
            origin.bad("digest.weekly_on", format!("{:?} is not a weekday such as \"mon\"", self.weekly_on))
        })?;
        if !(1..=1000).contains(&self.max_items) {
            return Err(origin.bad("digest.max_items", format!("{} is out of range; use 1 to 1000", self.max_items)));
        }
        let first_backlog = parse_duration(&self.first_backlog).map_err(|m| origin.bad("digest.first_backlog", m))?;
        let mut seed = Vec::with_capacity(self.seed.len());
        for raw in &self.seed {
            let address = crate::subscriber::normalize_address(raw)
                .map_err(|why| origin.bad("digest.seed", format!("{raw:?} {why}; write addresses such as \"editor@example.org\"")))?;
            if !seed.contains(&address) {
                seed.push(address);
            }
        }
        Ok(Digest { daily_at, weekly_on, max_items: self.max_items as usize, first_backlog, seed, welcome: self.welcome })
    }
}

#[cfg(test)]
mod tests {
    fn load(digest: &str) -> Result<crate::config::Settings, crate::config::ConfigError> {
        let text = format!("[site]\ntitle = \"T\"\nbase_url = \"https://x.org\"\n[digest]\n{digest}");
        crate::config::Settings::from_sources(std::path::Path::new("bantin.toml"), &text, [])
    }

    #[test]
    fn the_welcome_mail_is_on_unless_turned_off() {
        assert!(load("").unwrap().digest.welcome);
        assert!(!load("welcome = false").unwrap().digest.welcome);
        assert!(load("welcome = \"maybe\"").unwrap_err().to_string().contains("welcome"));
    }

    #[test]
    fn seed_addresses_are_normalised_and_a_bad_one_is_named() {
        assert!(load("").unwrap().digest.seed.is_empty());
        let seed = load("seed = [\"Editor@Example.ORG\", \" qa+seed@example.org \", \"Editor@example.org\"]").unwrap().digest.seed;
        assert_eq!(seed, ["Editor@example.org", "qa+seed@example.org"], "the domain lower-cased, one copy each");
        for bad in ["not-an-address", "a@b@example.org", "editor@localhost", "x@example.org\\r\\nBcc: y@example.org"] {
            let err = load(&format!("seed = [\"editor@example.org\", \"{bad}\"]")).unwrap_err().to_string();
            assert!(err.contains("digest.seed") && err.contains(&format!("{:?}", bad.replace("\\r\\n", "\r\n"))), "{bad}: {err}");
        }
    }
}
