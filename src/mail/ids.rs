//! Message-IDs. Mail that goes through the outbox has one derived from
//! what it is, so that every build of it (a retry, a second run, another
//! instance planning the same period) has the same one and the outbox's
//! UNIQUE `message_id` keeps one: a digest's from (subscriber, period), a
//! seed copy's from (seed address, period). A test send is never in the
//! outbox and never resent: each gets a fresh one.

use super::Composer;
use chrono::{DateTime, Utc};
use sha2::{Digest as _, Sha256};

impl Composer {
    /// The Message-ID of `(subscriber, period)`: the same for every build
    /// of that digest, different for every other one.
    pub fn message_id(&self, subscriber: i64, period_key: &str) -> String {
        self.derived_id(&[b"bantin message-id\0", &subscriber.to_be_bytes(), period_key.as_bytes()], period_key)
    }

    /// The Message-ID of the seed copy of `period_key` to `address`.
    pub fn seed_message_id(&self, address: &str, period_key: &str) -> String {
        self.derived_id(&[b"bantin seed message-id\0", address.as_bytes(), b"\0", period_key.as_bytes()], period_key)
    }

    /// A Message-ID no other message has: 128 random bits.
    pub(super) fn fresh_message_id(&self, now: DateTime<Utc>) -> String {
        let mut random = [0u8; 16];
        if getrandom::fill(&mut random).is_err() {
            // No randomness from the OS: the time and process still make
            // an id that this sender has not used.
            let seed = format!("{}:{}", now.timestamp_nanos_opt().unwrap_or_default(), std::process::id());
            random.copy_from_slice(&Sha256::digest(seed.as_bytes())[..16]);
        }
        let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
        format!("<test.{hex}@{}>", self.domain)
    }

    /// `<period.hash@domain>`: the period readable, the hash of `parts`
    /// telling the messages of one period apart.
    fn derived_id(&self, parts: &[&[u8]], period_key: &str) -> String {
        let mut h = Sha256::new();
        for part in parts {
            h.update(part);
        }
        let digest = h.finalize();
        let hash: String = digest[..10].iter().map(|b| format!("{b:02x}")).collect();
        let period: String =
            period_key.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '.' }).collect();
        format!("<{period}.{hash}@{}>", self.domain)
    }
}
