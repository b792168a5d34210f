//! The bounce room: what becomes of a message received at the return
//! path (a bounce, a complaint, or nothing of ours). [`Bounces::receive`]
//! is the one entry point, for the inbound SMTP listener of `serve` and
//! for `bantin bounces receive`: the core's `report` parses the message
//! and decides per recipient; this room finds the outbox row (VERP token
//! first, then the original Message-ID) and applies the verdict to the
//! subscriber through the state room, once per message.

use crate::config::Settings;
use crate::state::{StateError, StateStore};
use crate::tokens::TokenKey;

/// What became of one received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Applied: `reports` recipients' verdicts were recorded.
    Applied { reports: usize },
    /// Not a bounce or complaint about a message of ours; recorded, with why.
    Ignored { reason: String },
    /// This very message was received before; nothing changed.
    Duplicate,
}

#[derive(Debug, thiserror::Error)]
pub enum BounceError {
    #[error(transparent)]
    State(#[from] StateError),
}

/// The apply step, with what it needs; cheap to clone.
#[derive(Clone)]
pub struct Bounces {
    state: StateStore,
    key: TokenKey,
    return_path: Option<String>,
    soft_limit: u32,
}

impl Bounces {
    pub fn new(state: StateStore, key: TokenKey, settings: &Settings) -> Bounces {
        Bounces { state, key, return_path: settings.mail.return_path.clone(), soft_limit: settings.bounces.soft_limit }
    }

    /// Parses `raw` (one whole RFC 5322 message as received) and applies it once;
    /// `rcpt_to`: the envelope recipient(s) the MTA gave (VERP address), if known.
    pub async fn receive(&self, raw: &[u8], rcpt_to: &[String]) -> Result<Applied, BounceError> {
        let _ = (raw, rcpt_to, &self.state, &self.key, &self.return_path, self.soft_limit);
        Ok(Applied::Ignored { reason: "not applied yet".into() })
    }
}
