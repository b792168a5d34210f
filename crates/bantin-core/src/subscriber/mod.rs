//! Subscribers as plain data: what the state room hands out and takes in
//! (subscriber, status, frequency, outbox message kinds); the rules for
//! what a subscriber's address may be are in `address`.

use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Frequency {
    Daily,
    Weekly,
    /// One mail per `digest.instant_window` that has new articles.
    Instant,
}

impl Frequency {
    /// Every frequency, in the order forms and help list them.
    pub const ALL: [Frequency; 3] = [Frequency::Daily, Frequency::Weekly, Frequency::Instant];

    pub fn as_str(self) -> &'static str {
        match self {
            Frequency::Daily => "daily",
            Frequency::Weekly => "weekly",
            Frequency::Instant => "instant",
        }
    }
    pub fn parse(s: &str) -> Option<Frequency> {
        match s.trim().to_ascii_lowercase().as_str() {
            "daily" | "day" => Some(Frequency::Daily),
            "weekly" | "week" => Some(Frequency::Weekly),
            "instant" => Some(Frequency::Instant),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Signed up, has not clicked the confirmation link yet.
    Pending,
    Active,
    Unsubscribed,
    /// Too many delivery failures in a row (synchronous 5xx, soft
    /// bounces). Still mailed: each period's digest is the retry, and a
    /// message known delivered makes them active again.
    Bouncing,
    /// A hard bounce (`5.x.x`) reported later: the address does not
    /// exist. Never mailed again until an admin lifts it.
    Suppressed,
    /// The person reported a mail as abuse: never mailed again, not even a
    /// confirmation.
    Complained,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Active => "active",
            Status::Unsubscribed => "unsubscribed",
            Status::Bouncing => "bouncing",
            Status::Suppressed => "suppressed",
            Status::Complained => "complained",
        }
    }
    /// Whether this subscriber gets digests: active ones, and bouncing
    /// ones, retried at the next period (a soft bounce is a full mailbox or
    /// a server away, which pass). Pending, unsubscribed, suppressed and
    /// complained ones never do. The state database's digest query lists
    /// the same statuses (`state::DIGEST_STATUSES`, held to this by a test).
    pub fn gets_digests(self) -> bool {
        matches!(self, Status::Active | Status::Bouncing)
    }

    /// Every status, for the tests that hold other lists to this one.
    pub const ALL: [Status; 6] =
        [Status::Pending, Status::Active, Status::Unsubscribed, Status::Bouncing, Status::Suppressed, Status::Complained];

    /// Suppressed (hard bounce) or complained: nothing is sent to the
    /// address, not a digest, a confirmation, a seed copy or a test send.
    pub fn never_mailed(self) -> bool {
        matches!(self, Status::Suppressed | Status::Complained)
    }

    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "pending" => Some(Status::Pending),
            "active" => Some(Status::Active),
            "unsubscribed" => Some(Status::Unsubscribed),
            "bouncing" => Some(Status::Bouncing),
            "suppressed" => Some(Status::Suppressed),
            "complained" => Some(Status::Complained),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Subscriber {
    pub id: i64,
    /// Normalised by [`normalize_address`].
    pub email: String,
    /// Category slugs; empty means the whole site.
    pub topics: Vec<String>,
    pub frequency: Frequency,
    pub status: Status,
    pub created_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub bounce_count: i64,
    /// The last digest period planned for this subscriber (`daily:2026-11-25`).
    pub last_period: Option<String>,
    /// When that digest was planned: articles first seen later are new.
    pub last_digest_at: Option<DateTime<Utc>>,
    /// The last bounce or complaint received about them: why (the
    /// report's status and diagnostic, or the complaint's type) and when.
    pub last_bounce_reason: Option<String>,
    pub last_bounce_at: Option<DateTime<Utc>>,
}

impl Subscriber {
    /// Whether a confirmation link made at `issued` (to the second, as the
    /// link carries it) may make this subscriber active: only a pending
    /// one, and only with a link made after their last confirmation. An
    /// older link belongs to an earlier sign-up: once they have left, the
    /// address typed in again by anyone must not let that link bring them
    /// back.
    pub fn confirmable_by(&self, issued: DateTime<Utc>) -> bool {
        self.status == Status::Pending && self.confirmed_at.is_none_or(|c| c < issued + chrono::Duration::seconds(1))
    }
}

#[derive(Debug, Clone)]
pub struct NewSubscriber {
    pub email: String,
    pub topics: Vec<String>,
    pub frequency: Frequency,
    pub status: Status,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    Digest,
    Confirm,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Digest => "digest",
            MessageKind::Confirm => "confirm",
        }
    }
    /// The kind a stored `kind` column names; `None` for any other text
    /// (the state room reports that row as corrupt).
    pub fn parse(s: &str) -> Option<MessageKind> {
        match s {
            "digest" => Some(MessageKind::Digest),
            "confirm" => Some(MessageKind::Confirm),
            _ => None,
        }
    }
}

/// A rendered message on its way into the outbox.
#[derive(Debug, Clone)]
pub struct OutboxMessage {
    pub message_id: String,
    pub kind: MessageKind,
    pub subscriber_id: Option<i64>,
    pub period_key: String,
    pub recipient: String,
    pub bytes: MessageBytes,
}

impl OutboxMessage {
    /// The exact RFC 5322 bytes that will go over SMTP, made from the
    /// delta when they are shared. An error means a broken delta encoder.
    pub fn body(&self) -> Result<std::borrow::Cow<'_, [u8]>, crate::delta::DeltaError> {
        match &self.bytes {
            MessageBytes::Whole(bytes) => Ok(bytes.into()),
            MessageBytes::Shared(shared) => crate::delta::decode(&shared.delta, shared.common.bytes()).map(Into::into),
        }
    }
}

/// A message's bytes as the outbox stores them.
#[derive(Debug, Clone)]
pub enum MessageBytes {
    /// The exact RFC 5322 bytes that will go over SMTP.
    Whole(Vec<u8>),
    /// Most of them shared with other messages (a digest's shape:
    /// `delta`): the common bytes, stored once, and this message's delta.
    /// Only the delta is kept: a queueing run holds up to four batches of
    /// rendered digests, and a digest of 30 full articles is ~60 KB whole
    /// where its delta is a few hundred bytes (the whole bytes of 800 of
    /// them were ~45 MB of `serve`'s peak).
    Shared(crate::delta::Shared),
}

/// A message claimed from the outbox for sending.
#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub id: i64,
    pub message_id: String,
    pub kind: MessageKind,
    pub subscriber_id: Option<i64>,
    pub period_key: String,
    pub recipient: String,
    pub body: Vec<u8>,
    /// Including the current one.
    pub attempts: i64,
    /// The subscriber's failures in a row when the row was claimed (0
    /// without a subscriber): the sender clears them when the message is
    /// known delivered, and only then needs to.
    pub bounce_count: i64,
}

/// One subscriber's planned digest, as committed.
#[derive(Debug, Clone)]
pub struct DigestCommit {
    pub subscriber_id: i64,
    pub period_key: String,
    pub planned_at: DateTime<Utc>,
    /// The subscriber's `last_digest_at` the plan was made from: the
    /// commit drops the digest when another run moved it since (two
    /// processes planning at once on SQLite, which has no planner lock).
    pub watermark: Option<DateTime<Utc>>,
    /// Where the subscriber's watermark moves (`PlannedDigest::watermark`).
    pub next_watermark: DateTime<Utc>,
    /// None for an empty period: only the watermark moves.
    pub message: Option<OutboxMessage>,
}

/// The outbox by status: rows queued, being sent and failed for good, and
/// messages ever sent (an erased person's included: their audit stays).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OutboxCounts {
    pub queued: i64,
    pub sending: i64,
    pub sent: i64,
    pub failed: i64,
}

mod address;
mod typo;
pub use address::{canonical_mailbox, normalize_address, parse_form, smtp_address, AddressError, Form, TRAP_FIELD};
pub use typo::likely_meant;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_frequency_reads_back_from_its_name_and_nothing_else_is_one() {
        for f in Frequency::ALL {
            assert_eq!(Frequency::parse(f.as_str()), Some(f));
            assert_eq!(Frequency::parse(&format!(" {} ", f.as_str().to_uppercase())), Some(f), "as a CSV or form may write it");
        }
        assert_eq!(Frequency::parse("instant"), Some(Frequency::Instant));
        for bad in ["", "hourly", "instantly", "ngay"] {
            assert_eq!(Frequency::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_confirmation_link_confirms_only_a_pending_subscriber_and_only_if_made_after_their_last_confirmation() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let mut sub = Subscriber {
            id: 1,
            email: "a@b.vn".into(),
            topics: vec![],
            frequency: Frequency::Daily,
            status: Status::Pending,
            created_at: at("2026-01-01T00:00:00Z"),
            confirmed_at: None,
            bounce_count: 0,
            last_period: None,
            last_digest_at: None,
            last_bounce_reason: None,
            last_bounce_at: None,
        };
        assert!(sub.confirmable_by(at("2026-01-01T00:00:00Z")), "never confirmed: any link of theirs");
        sub.confirmed_at = Some(at("2026-02-01T10:00:00.500Z"));
        assert!(!sub.confirmable_by(at("2026-02-01T09:59:59Z")), "a link of the earlier sign-up");
        assert!(sub.confirmable_by(at("2026-02-01T10:00:00Z")), "a link made in the same second (links carry seconds)");
        assert!(sub.confirmable_by(at("2026-03-01T00:00:00Z")));
        for status in [Status::Active, Status::Unsubscribed, Status::Bouncing] {
            sub.status = status;
            assert!(!sub.confirmable_by(at("2026-03-01T00:00:00Z")), "{status:?}");
        }
    }
}
