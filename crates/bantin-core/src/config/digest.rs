//! `[digest]`: when the daily and weekly digests go out, how long they are,
//! how far a new subscriber's first one reaches back, the window that
//! instant mail gathers articles over, and the seed addresses that get a
//! copy of every period's digest.

use super::{ConfigError, Origin, parse_duration};
use chrono::{NaiveTime, Weekday};
use serde::Deserialize;
use std::time::Duration;

/// The windows instant mail may gather over: a minute at least (a mail per
/// article is what the window exists to avoid), a day at most (the daily
/// digest is there for that).
const INSTANT_WINDOW: std::ops::RangeInclusive<Duration> = Duration::from_secs(60)..=Duration::from_secs(86_400);

#[derive(Debug, Clone)]
pub struct Digest {
    pub daily_at: NaiveTime,
    pub weekly_on: Weekday,
    pub max_items: usize,
    pub first_backlog: Duration,
    /// Frequency `instant`: the articles first seen within one window of
    /// this length go out in one mail when it closes (1 minute to 24 hours).
    pub instant_window: Duration,
    /// Addresses (normalised as subscribers' are) that get the site-wide
    /// digest of every period a run queued news in: editors watching what
    /// goes out, deliverability monitors.
    pub seed: Vec<String>,
    /// Whether each sent period's site-wide digest is readable at
    /// `/archive/` and mails link it ("view in browser").
    pub archive: bool,
    /// Whether a confirmed subscriber is sent a welcome mail (the archive
    /// and preferences links): `digest.welcome`, on by default.
    pub welcome: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[cfg_attr(test, derive(serde::Serialize, schemars::JsonSchema))]
pub(super) struct RawDigest {
    /// When the daily digest goes out, local time in `site.timezone` (`HH:MM`).
    daily_at: String,
    /// The weekly digest's day (`mon` … `sun`), at `daily_at`.
    weekly_on: String,
    /// Most articles listed in full in one digest; the rest are counted (1 to 1000).
    max_items: i64,
    /// How far back a new subscriber's first digest reaches.
    first_backlog: String,
    /// Frequency `instant`: articles first seen within one window of this length (aligned on UTC) go out in one mail when it closes; 1m to 24h.
    instant_window: String,
    /// Addresses that get the site-wide digest of every period a run sends news in (editors, deliverability monitors).
    seed: Vec<String>,
    /// Keep every sent period's site-wide digest readable at `/archive/` (no personal data), and link it from each mail ("view in browser").
    archive: bool,
    /// Send a welcome mail (the archive and preferences links) after a subscriber confirms.
    welcome: bool,
}
impl Default for RawDigest {
    fn default() -> Self {
        RawDigest {
            daily_at: "07:00".into(),
            weekly_on: "mon".into(),
            max_items: 30,
            first_backlog: "7d".into(),
            instant_window: "10m".into(),
            seed: Vec::new(),
            archive: true,
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
        let instant_window = parse_duration(&self.instant_window).map_err(|m| origin.bad("digest.instant_window", m))?;
        if !INSTANT_WINDOW.contains(&instant_window) || instant_window.subsec_nanos() != 0 {
            return Err(origin.bad(
                "digest.instant_window",
                format!("{:?} is out of range; use whole seconds from 1m to 24h, such as \"10m\"", self.instant_window),
            ));
        }
        let mut seed = Vec::with_capacity(self.seed.len());
        for raw in &self.seed {
            let address = crate::subscriber::normalize_address(raw)
                .map_err(|why| origin.bad("digest.seed", format!("{raw:?} {why}; write addresses such as \"editor@example.org\"")))?;
            if !seed.contains(&address) {
                seed.push(address);
            }
        }
        Ok(Digest { daily_at, weekly_on, max_items: self.max_items as usize, first_backlog, instant_window, seed, archive: self.archive, welcome: self.welcome })
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
        assert!(load("").unwrap().digest.archive, "the archive is on by default");
        assert!(!load("archive = false").unwrap().digest.archive);
        let seed = load("seed = [\"Editor@Example.ORG\", \" qa+seed@example.org \", \"Editor@example.org\"]").unwrap().digest.seed;
        assert_eq!(seed, ["Editor@example.org", "qa+seed@example.org"], "the domain lower-cased, one copy each");
        for bad in ["not-an-address", "a@b@example.org", "editor@localhost", "x@example.org\\r\\nBcc: y@example.org"] {
            let err = load(&format!("seed = [\"editor@example.org\", \"{bad}\"]")).unwrap_err().to_string();
            assert!(err.contains("digest.seed") && err.contains(&format!("{:?}", bad.replace("\\r\\n", "\r\n"))), "{bad}: {err}");
        }
    }

    #[test]
    fn instant_window_defaults_to_ten_minutes_and_is_held_to_a_minute_to_a_day() {
        assert_eq!(load("").unwrap().digest.instant_window, std::time::Duration::from_secs(600));
        assert_eq!(load("instant_window = \"1m\"").unwrap().digest.instant_window, std::time::Duration::from_secs(60));
        assert_eq!(load("instant_window = \"24h\"").unwrap().digest.instant_window, std::time::Duration::from_secs(86_400));
        for bad in ["30s", "59999ms", "25h", "2d", "0m", "90500ms", "ten minutes"] {
            let err = load(&format!("instant_window = \"{bad}\"")).unwrap_err().to_string();
            assert!(err.contains("digest.instant_window") && err.contains(bad), "{bad}: {err}");
        }
        let err = load("instant_window = \"30s\"").unwrap_err().to_string();
        assert!(err.contains("1m to 24h") && err.contains("\"10m\""), "says what to write: {err}");
    }
}
