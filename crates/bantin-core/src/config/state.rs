//! `[state]`: the database of subscribers, tokens, the outbox and digest
//! watermarks.

use super::{ConfigError, Origin, redact};
use serde::Deserialize;

#[derive(Debug, Clone)]
pub struct State {
    pub url: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[cfg_attr(test, derive(serde::Serialize, schemars::JsonSchema))]
pub(super) struct RawState {
    /// The state database (subscribers, outbox): `sqlite://path` or `postgres://user@host/db` (several instances may share it).
    url: String,
}
impl Default for RawState {
    fn default() -> Self {
        RawState { url: "sqlite://var/bantin.db".into() }
    }
}

impl RawState {
    pub(super) fn validate(self, origin: &Origin) -> Result<State, ConfigError> {
        let url = self.url.trim().to_string();
        if !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(origin.bad("state.url", format!("{:?} must start with sqlite:// or postgres://", redact(&url))));
        }
        Ok(State { url })
    }
}
