//! `[retention]`: how long the state database keeps what it no longer
//! needs about people: the bodies of messages that went out (or were given
//! up), which hold the address and the links of their recipient.

use super::{ConfigError, Origin, parse_duration};
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Retention {
    /// A sent (or failed) message's body is dropped this long after it
    /// was sent (or queued); its outbox row and audit rows stay.
    pub mail_bodies: Duration,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[cfg_attr(test, derive(serde::Serialize, schemars::JsonSchema))]
pub(super) struct RawRetention {
    /// Bodies of messages sent (or given up) longer ago are dropped; their outbox and audit rows are kept.
    mail_bodies: String,
}
impl Default for RawRetention {
    fn default() -> Self {
        RawRetention { mail_bodies: "30d".into() }
    }
}

impl RawRetention {
    pub(super) fn validate(self, origin: &Origin) -> Result<Retention, ConfigError> {
        let mail_bodies = parse_duration(&self.mail_bodies).map_err(|m| origin.bad("retention.mail_bodies", m))?;
        // Bodies are read once, by the send; an hour leaves time to look
        // at what just went out. Ten years is "keep them".
        if mail_bodies < Duration::from_secs(3600) || mail_bodies > Duration::from_secs(3650 * 86_400) {
            return Err(origin.bad(
                "retention.mail_bodies",
                format!("{:?} is out of range; use 1h to 3650d (e.g. \"30d\")", self.mail_bodies),
            ));
        }
        Ok(Retention { mail_bodies })
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
    fn mail_bodies_default_to_30_days_and_are_checked() {
        assert_eq!(load("").unwrap().retention.mail_bodies.as_secs(), 30 * 86_400);
        assert_eq!(load("[retention]\nmail_bodies = \"7d\"\n").unwrap().retention.mail_bodies.as_secs(), 7 * 86_400);
        for bad in ["\"5m\"", "\"forever\""] {
            let e = load(&format!("[retention]\nmail_bodies = {bad}\n")).unwrap_err().to_string();
            assert!(e.contains("retention.mail_bodies"), "{e}");
        }
    }
}
