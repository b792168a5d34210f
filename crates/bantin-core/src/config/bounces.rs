//! `[bounces]`: receiving the reports that come back to `mail.return_path`
//! (delivery status notifications, abuse complaints): where the inbound
//! SMTP listener listens, how many soft bounces in a row make a subscriber
//! bouncing, how long a message without a report takes to count as
//! delivered, and the largest message read.

use super::{ConfigError, Origin, parse_duration};
use serde::Deserialize;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounces {
    /// The inbound SMTP listener inside `serve`; none: no listener (an
    /// MTA pipes reports to `bantin bounces receive`).
    pub listen: Option<SocketAddr>,
    /// Soft bounces in a row after which a subscriber is marked bouncing.
    pub soft_limit: u32,
    /// With `mail.return_path`, a message with no report this long after
    /// it went out was delivered: the subscriber's failures were not in a
    /// row (a bouncing one is active again). postfix's
    /// `maximal_queue_lifetime`, 5 days by default, after which it reports
    /// a message it could not deliver.
    pub delivered_after: Duration,
    /// The largest report read, in bytes; larger ones are refused.
    pub max_message_bytes: usize,
}

/// The largest `max_message_bytes` allowed.
const MOST_BYTES: usize = 16 << 20;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[cfg_attr(test, derive(serde::Serialize, schemars::JsonSchema))]
pub(super) struct RawBounces {
    /// Inbound SMTP listener (inside serve) for reports sent to `mail.return_path`; unset: none (pipe them to `bantin bounces receive`).
    listen: Option<String>,
    /// Soft bounces (4.x.x) in a row before a subscriber is marked bouncing.
    soft_limit: i64,
    /// With `mail.return_path`: a message with no report this long after it went out counts as delivered.
    delivered_after: String,
    /// The largest report read, in bytes.
    max_message_bytes: i64,
}
impl Default for RawBounces {
    fn default() -> Self {
        RawBounces { listen: None, soft_limit: 3, delivered_after: "5d".into(), max_message_bytes: 10 << 20 }
    }
}

/// The range of `delivered_after`: at least an hour (a relay's first
/// retries), at most 100 days.
const DELIVERED_AFTER: std::ops::RangeInclusive<Duration> =
    Duration::from_secs(3600)..=Duration::from_secs(100 * 86400);

impl RawBounces {
    pub(super) fn validate(self, origin: &Origin) -> Result<Bounces, ConfigError> {
        let listen = match self.listen.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => Some(s.parse::<SocketAddr>().map_err(|_| {
                origin.bad("bounces.listen", format!("{s:?} is not an address and port such as \"127.0.0.1:2525\""))
            })?),
        };
        if !(1..=1000).contains(&self.soft_limit) {
            return Err(origin.bad("bounces.soft_limit", format!("{} is out of range; use 1 to 1000", self.soft_limit)));
        }
        let delivered_after = parse_duration(&self.delivered_after)
            .ok()
            .filter(|d| DELIVERED_AFTER.contains(d))
            .ok_or_else(|| {
                origin.bad(
                    "bounces.delivered_after",
                    format!(
                        "{:?} is not a duration from 1h to 100d; write the relay's queue lifetime, e.g. \"5d\" (postfix's maximal_queue_lifetime)",
                        self.delivered_after
                    ),
                )
            })?;
        // The report parser reads at most 16 MiB (its MAX_INPUT, a room of
        // the same rank as this one: a test checks the two agree).
        let most = MOST_BYTES as i64;
        if !(1024..=most).contains(&self.max_message_bytes) {
            return Err(origin.bad(
                "bounces.max_message_bytes",
                format!("{} is out of range; use 1024 to {most} (e.g. 10485760)", self.max_message_bytes),
            ));
        }
        Ok(Bounces {
            listen,
            soft_limit: self.soft_limit as u32,
            delivered_after,
            max_message_bytes: self.max_message_bytes as usize,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn load(extra: &str) -> Result<super::super::Settings, super::super::ConfigError> {
        let text = format!("[site]\ntitle = \"T\"\nbase_url = \"https://x.org\"\n{extra}");
        super::super::Settings::from_sources(Path::new("bantin.toml"), &text, [])
    }

    #[test]
    fn the_largest_message_is_what_the_parser_reads() {
        assert_eq!(super::MOST_BYTES, crate::report::MAX_INPUT);
    }

    #[test]
    fn bounces_have_defaults_and_are_checked() {
        let s = load("").unwrap();
        assert_eq!((s.bounces.listen, s.bounces.soft_limit, s.bounces.max_message_bytes), (None, 3, 10 << 20));
        assert_eq!(s.mail.return_path, None);
        assert_eq!(s.bounces.delivered_after, std::time::Duration::from_secs(5 * 86400));
        let s = load("[bounces]\nlisten = \"127.0.0.1:2525\"\nsoft_limit = 5\ndelivered_after = \"3d\"\n[mail]\nreturn_path = \"bounces@example.org\"\n").unwrap();
        assert_eq!(s.bounces.delivered_after, std::time::Duration::from_secs(3 * 86400));
        assert_eq!(s.bounces.listen.map(|a| a.port()), Some(2525));
        assert_eq!(s.bounces.soft_limit, 5);
        assert_eq!(s.mail.return_path.as_deref(), Some("bounces@example.org"));
        for (bad, key) in [
            ("[bounces]\nlisten = \"here\"\n", "bounces.listen"),
            ("[bounces]\nsoft_limit = 0\n", "bounces.soft_limit"),
            ("[bounces]\ndelivered_after = \"10m\"\n", "bounces.delivered_after"),
            ("[bounces]\ndelivered_after = \"soon\"\n", "bounces.delivered_after"),
            ("[bounces]\nmax_message_bytes = 10\n", "bounces.max_message_bytes"),
            ("[mail]\nreturn_path = \"Bounces <b@x.org>\"\n", "mail.return_path"),
            ("[mail]\nreturn_path = \"b+x@x.org\"\n", "mail.return_path"),
        ] {
            let e = load(bad).unwrap_err().to_string();
            assert!(e.contains(key), "{bad}: {e}");
        }
    }
}
