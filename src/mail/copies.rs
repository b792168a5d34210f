//! Digests that go to someone else than their subscriber: a test send
//! (`bantin digest send-test EMAIL --to ADDR`, EMAIL's next digest to ADDR)
//! and the seed addresses' copies (`digest.seed`, the site-wide digest of
//! each period). They are rendered by the same templates as every digest;
//! what differs is the personal part.
//!
//! Invariant: no link or header of a copy acts on a subscription. A test
//! send carries EMAIL's digest, and a tester clicking its "unsubscribe"
//! must not end EMAIL's subscription; a seed address has no subscription
//! a token could name. So a copy has no List-Unsubscribe (a mail client's
//! own "unsubscribe" button would POST it), and its unsubscribe and
//! preferences links go to the site's home page. Its "view in browser"
//! link (`digest.archive`) stays: it names a period and topics, no one.

use super::shape::Personal;
use super::{Composer, MailError, Rendered};
use crate::catalog::Catalog;
use crate::digest::plan::PlannedDigest;
use crate::state::{MessageKind, MessageBytes, OutboxMessage};
use chrono::{DateTime, Utc};

/// What a test send hands to the relay, and what the CLI says of it.
#[derive(Debug, Clone)]
pub struct TestMessage {
    pub subject: String,
    pub message_id: String,
    pub body: Vec<u8>,
}

/// What the subject of a test send starts with.
pub const TEST_PREFIX: &str = "[TEST] ";

impl Composer {
    /// A copy's values of its own: the address it shows (`email`), and the
    /// site's home page for both links (see the module's invariant).
    fn neutral(&self, email: &str) -> Personal {
        let home = self.site_url.to_string();
        Personal { email: email.to_string(), unsubscribe_url: home.clone(), preferences_url: home }
    }

    /// `plan` (a subscriber's next digest) as a test to `to`: the text the
    /// subscriber would get, their address in it, `[TEST] ` before the
    /// subject, a fresh Message-ID, and the neutral links of a copy.
    pub fn test_digest(&self, plan: &PlannedDigest, catalog: &Catalog, to: &str, now: DateTime<Utc>) -> Result<TestMessage, MailError> {
        let mut r = self.render_digest_with(plan, catalog, &self.neutral(&plan.subscriber.email))?;
        r.subject = format!("{TEST_PREFIX}{}", r.subject);
        let message_id = self.fresh_message_id(now);
        let body = self.copy(to, &r, &message_id, now)?;
        Ok(TestMessage { subject: r.subject, message_id, body })
    }

    /// A seed copy for the outbox: `plan` from `digest::seed::plan_copies`
    /// (its subscriber is the seed address). Its Message-ID is a function
    /// of the address and the period, so the outbox keeps one copy of a
    /// period whichever run or instance plans it and however often.
    pub fn seed_digest(&self, plan: &PlannedDigest, catalog: &Catalog, now: DateTime<Utc>) -> Result<OutboxMessage, MailError> {
        let to = &plan.subscriber.email;
        let r = self.render_digest_with(plan, catalog, &self.neutral(to))?;
        let message_id = self.seed_message_id(to, &plan.period.key);
        let body = self.copy(to, &r, &message_id, now)?;
        Ok(OutboxMessage {
            message_id,
            kind: MessageKind::Digest,
            subscriber_id: None,
            period_key: plan.period.key.clone(),
            recipient: to.clone(),
            bytes: MessageBytes::Whole(body),
        })
    }

    /// The message of a copy: a digest's, with List-Id but without the
    /// List-Unsubscribe headers. Signed (DKIM) as every mail is.
    fn copy(&self, to: &str, r: &Rendered, message_id: &str, now: DateTime<Utc>) -> Result<Vec<u8>, MailError> {
        self.build(to, r, message_id, now, vec![("List-Id", self.list_id())])
    }
}
