//! A subscriber's next digest shown before its time: what the CLI's
//! `digest preview` / `digest send-test` and the admin API's preview and
//! test send do, said once. The digest is planned as if the subscriber's
//! period ended now, whatever their status; a test send goes to another
//! address at once (`mail::copies`, `mail::direct`), records nothing and
//! is refused to an address that must never be mailed.

use super::{Digests, DigestError};
use crate::catalog::Catalog;
use crate::digest::plan::{self, Mode, PlannedDigest};
use crate::mail::smtp::Outcome;
use crate::state::{normalize_address, Frequency, Status, Subscriber};
use chrono::{DateTime, Utc};

/// What [`Digests::next_digest`] found.
pub enum Next {
    /// No subscriber has this address (normalised, as given back).
    Unknown(String),
    /// Nothing new for them: no digest would go out now.
    Nothing(String),
    /// Boxed: a plan is large beside the other answers.
    Digest(Box<PlannedDigest>),
}

/// What [`Digests::send_test`] did.
pub enum TestSend {
    /// `to` is suppressed or complained: never mailed, tests included.
    Refused(Subscriber),
    /// `to` is not an address (why).
    BadAddress(String),
    NotSent(Next),
    /// Sent to `to`, with this subject.
    Sent { of: String, to: String, subject: String },
    /// The relay did not take it (temporary) or refused it (permanent).
    Failed { permanent: bool, reason: String },
}

impl Digests {
    /// `email`'s next digest if their period ended `now` (with
    /// `frequency` instead of theirs, if given).
    pub async fn next_digest(&self, catalog: &Catalog, email: &str, frequency: Option<Frequency>, now: DateTime<Utc>) -> Result<Next, DigestError> {
        let normalized = normalize_address(email).unwrap_or_else(|_| email.trim().to_string());
        let Some(mut sub) = self.state.subscriber_by_email(&normalized).await? else { return Ok(Next::Unknown(normalized)) };
        if let Some(f) = frequency {
            sub.frequency = f;
        }
        sub.status = Status::Active;
        sub.last_period = None;
        let first_seen = self.state.first_seen(catalog.articles()).await?;
        let plans = plan::plan(&[sub], catalog.articles(), &first_seen, &self.plan, now, Mode::Now);
        Ok(match plans.into_iter().next() {
            Some(p) if !p.is_empty() => Next::Digest(Box::new(p)),
            _ => Next::Nothing(normalized),
        })
    }

    /// Sends `email`'s next digest to `to` at once.
    pub async fn send_test(&self, catalog: &Catalog, email: &str, to: &str, frequency: Option<Frequency>, now: DateTime<Utc>) -> Result<TestSend, DigestError> {
        let to = match normalize_address(to) {
            Ok(to) => to,
            Err(why) => return Ok(TestSend::BadAddress(format!("{to:?} {why}"))),
        };
        if let Some(sub) = self.state.never_mailed(&to).await? {
            return Ok(TestSend::Refused(sub));
        }
        let p = match self.next_digest(catalog, email, frequency, now).await? {
            Next::Digest(p) => p,
            other => return Ok(TestSend::NotSent(other)),
        };
        let message = self.composer.test_digest(&p, catalog, &to, now)?;
        Ok(match self.mailer.send_now(&to, &message.body).await {
            Outcome::Sent => TestSend::Sent { of: p.subscriber.email.clone(), to, subject: message.subject },
            Outcome::Temporary(reason) => TestSend::Failed { permanent: false, reason },
            Outcome::Permanent(_, reason) => TestSend::Failed { permanent: true, reason },
        })
    }
}
