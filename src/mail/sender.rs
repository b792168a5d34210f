//! The mailer: claims due messages from the outbox (a lease per row, so a
//! dead sender's rows come back), sends their stored bytes unchanged over a
//! pool of SMTP sessions (`mail::smtp`, tokio, rustls) at most
//! `mail.max_per_second`, and records the outcome.
//!
//! Outcomes: 2xx → sent (without `mail.return_path`, also the delivery
//! that clears the subscriber's failures in a row); 4xx, a refused or
//! broken connection, a timeout → queued again after an exponential
//! backoff with jitter (given up after `mail.max_attempts`); 5xx → failed,
//! and the bounce policy (`state::bounces`): a recipient refused at RCPT
//! TO (`550 5.1.1`) is a hard bounce, suppressed as if reported later;
//! any other 5xx (the sender, the message, the relay's policy) counts
//! toward `mail.bounce_limit` (`smtp::Refused` says which). Every attempt
//! is audited.
//!
//! Invariant: only rows the outbox handed to this sender's lease are sent,
//! and a row is marked sent only after the server accepted it; a crash in
//! between resends the same bytes (same Message-ID), never a different mail.

mod leases;
mod relay_url;

pub use leases::{owner_alive, owner_name};
use super::marks::Marker;
use super::pace::{Pace, Sessions};
use super::smtp::{DirectPool, Gate, Outcome, Refused};
use crate::state::{Marking, OutboxRow, StateError, StateStore};
use chrono::{DateTime, Utc};
use lettre::Address;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

/// How long a claimed row stays ours before another sender may take it.
const LEASE: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("mail.smtp_url {url}: {detail}")]
    Config { url: String, detail: String },
    #[error("SMTP server {url} is not reachable: {detail}; check mail.smtp_url and that the relay runs")]
    Unreachable { url: String, detail: String },
    #[error(transparent)]
    State(#[from] StateError),
    #[error("marking sent messages stopped: {0}")]
    Marker(String),
}

#[derive(Debug, Clone)]
pub struct SenderSettings {
    pub max_per_second: u32,
    pub retry_base: Duration,
    pub retry_max: Duration,
    pub max_attempts: u32,
    pub bounce_limit: u32,
    pub connections: u32,
}

impl SenderSettings {
    pub fn from_settings(s: &crate::Settings) -> SenderSettings {
        SenderSettings {
            max_per_second: s.mail.max_per_second,
            retry_base: s.mail.retry_base,
            retry_max: s.mail.retry_max,
            max_attempts: s.mail.max_attempts,
            bounce_limit: s.mail.bounce_limit,
            connections: s.mail.connections,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
    /// When the relay accepted the first message of the pass.
    pub first_sent: Option<std::time::Instant>,
}

pub struct Mailer {
    /// Sessions to the relay (`mail::smtp`), for `smtp://` and `smtps://`.
    /// (The fields a test send reads, `mail::direct`, are the room's.)
    pub(super) relay: Arc<DirectPool>,
    state: StateStore,
    pub(super) envelope_from: Address,
    /// `mail.return_path` and the token key: each message's envelope
    /// sender is then the return path with its row's VERP token.
    pub(super) verp: Option<(String, crate::tokens::TokenKey)>,
    settings: SenderSettings,
    pub(super) url: String,
    /// Lease owner name: this instance's [`crate::state::instance_id`].
    owner: String,
    /// `mail.max_per_second` and `mail.connections`, for all delivery
    /// loops of this mailer together.
    pace: Pace,
    sessions: Sessions,
    /// The connection marks went through in the last delivery pass, for
    /// the next (`Marker`): a pass is often short, and each would open one.
    spare_marking: std::sync::Mutex<Option<Marking>>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("url", &self.url).field("owner", &self.owner).finish_non_exhaustive()
    }
}

/// What a send task ends with.
enum Delivered {
    /// Accepted by the relay; its mark is with the `Marker`.
    Accepted,
    /// Accepted, but the marker had stopped on a database error: the row
    /// stays leased and is resent after the lease.
    Unmarked,
    /// Not accepted: recorded by `Mailer::record`.
    Not(Outcome),
}

impl Mailer {
    pub fn new(smtp_url: &url::Url, from: Address, state: StateStore, settings: SenderSettings) -> Result<Mailer, SendError> {
        let shown = crate::config::redact(smtp_url.as_str());
        let relay = relay_url::relay_of(smtp_url).map_err(|detail| SendError::Config { url: shown.clone(), detail })?;
        Ok(Mailer {
            relay: Arc::new(DirectPool::new(relay, settings.connections as usize)),
            state,
            envelope_from: from,
            verp: None,
            pace: Pace::new(settings.max_per_second),
            sessions: Sessions::new(settings.connections),
            spare_marking: std::sync::Mutex::new(None),
            settings,
            url: shown,
            owner: owner_name(),
        })
    }

    /// With `mail.return_path` set, the envelope sender of each message
    /// names its outbox row (VERP), signed with `key`.
    pub fn from_settings(s: &crate::Settings, state: StateStore, key: &crate::tokens::TokenKey) -> Result<Mailer, SendError> {
        let from = super::parse_mailbox(&s.mail.from)
            .map_err(|e| SendError::Config { url: crate::config::redact(s.mail.smtp_url.as_str()), detail: e.to_string() })?
            .email;
        let mut mailer = Mailer::new(&s.mail.smtp_url, from, state, SenderSettings::from_settings(s))?;
        mailer.verp = s.mail.return_path.clone().map(|r| (r, key.clone()));
        Ok(mailer)
    }

    /// The envelope sender (MAIL FROM) of outbox row `id`: the return path
    /// with the row's token, else `mail.from`'s address. The `From:`
    /// header is in the stored bytes and stays as it is.
    fn envelope_for(&self, id: i64) -> Address {
        let Some((return_path, key)) = &self.verp else { return self.envelope_from.clone() };
        let verp = bantin_core::report::verp::address(return_path, &crate::tokens::bounce::make(key, id));
        // The return path is checked as an address at load and the token
        // is base32: this parses; if not, the plain sender still works.
        verp.parse().unwrap_or_else(|_| self.envelope_from.clone())
    }

    /// Opens a session and says hello: for exit 69 at start.
    pub async fn check_connection(&self) -> Result<(), SendError> {
        self.relay.check().await.map_err(|detail| SendError::Unreachable { url: self.url.clone(), detail })
    }

    pub fn state(&self) -> &StateStore {
        &self.state
    }

    /// Sends one message's stored bytes; `accepted` as for
    /// [`DirectPool::send`].
    async fn send_row(relay: &DirectPool, from: &Address, row: &OutboxRow, accepted: impl FnOnce() -> Option<Gate>) -> Outcome {
        if let Err(e) = row.recipient.parse::<Address>() {
            // Our own row, not the relay's answer about the mailbox: counted.
            return Outcome::Permanent(Refused::Other, format!("recipient {:?} is not an address: {e}", row.recipient));
        }
        relay.send(from.as_ref(), &row.recipient, &row.body, accepted).await
    }

    /// The delay before attempt `attempts + 1`: `retry_base` doubled per
    /// attempt, at most `retry_max`, with "equal jitter" (half fixed, half
    /// random) so many failed messages do not all come back at once.
    pub fn backoff(&self, attempts: i64, random: u64) -> Duration {
        let exp = attempts.clamp(1, 32) as u32 - 1;
        let full = self.settings.retry_base.saturating_mul(2u32.saturating_pow(exp)).min(self.settings.retry_max);
        let half = full / 2;
        let spread = half.as_millis() as u64;
        half + Duration::from_millis(if spread == 0 { 0 } else { random % (spread + 1) })
    }

    /// Sends everything due at `now` (time is a parameter so that tests can
    /// step over retry delays), until the outbox has nothing due.
    pub async fn deliver_due(&self, now: impl Fn() -> DateTime<Utc>) -> Result<DeliveryReport, SendError> {
        let mut report = DeliveryReport::default();
        let parallel = self.settings.connections.max(1) as usize;
        let relay = Arc::clone(&self.relay);
        let spare = self.spare_marking.lock().ok().and_then(|mut slot| slot.take());
        let marking = match spare {
            Some(marking) => marking,
            None => self.state.marking().await?,
        };
        let (marks, marker) = Marker::start(marking, self.owner.clone(), parallel);
        let mut running: JoinSet<(OutboxRow, Delivered)> = JoinSet::new();
        let result = async {
            loop {
                let rows = self.state.claim_due(&self.owner, now(), LEASE, (parallel * 8) as i64).await?;
                if rows.is_empty() {
                    if running.is_empty() {
                        return Ok::<(), SendError>(());
                    }
                    // What is still in flight may come back as retries that
                    // are due: settle it all, then look again.
                    while !running.is_empty() {
                        self.settle(&mut running, &now, &mut report).await?;
                    }
                    continue;
                }
                // An accepted message's mark is committed before the relay
                // can accept another on the same session (its `Gate`), and
                // a session serves one task at a time, so after a SIGKILL
                // at most one message per connection was accepted and not
                // marked (resent, same bytes). Marks of messages accepted
                // at about the same time share one transaction (`Marker`):
                // a group commit, not a batch held back (marking a whole
                // claimed batch at its end resent all of it after a
                // SIGKILL: tests/crash_safety.rs, tests/digest_kill.rs).
                for row in rows {
                    self.pace.next().await;
                    while running.len() >= parallel {
                        self.settle(&mut running, &now, &mut report).await?;
                    }
                    let session = self.sessions.acquire().await;
                    let relay = Arc::clone(&relay);
                    let from = self.envelope_for(row.id);
                    let marks = marks.clone();
                    let at = now();
                    running.spawn(async move {
                        let _session = session;
                        let mut handed_in = false;
                        let outcome = Mailer::send_row(&relay, &from, &row, || {
                            let gate = marks.mark(row.id, at);
                            handed_in = gate.is_some();
                            gate
                        })
                        .await;
                        let delivered = match outcome {
                            Outcome::Sent if handed_in => Delivered::Accepted,
                            Outcome::Sent => Delivered::Unmarked,
                            other => Delivered::Not(other),
                        };
                        (row, delivered)
                    });
                }
            }
        }
        .await;
        drop(marks);
        let marked = marker.await;
        result?;
        match marked {
            Ok(Ok(marking)) => {
                if let Ok(mut slot) = self.spare_marking.lock() {
                    slot.get_or_insert(marking);
                }
                Ok(report)
            }
            Ok(Err(e)) => Err(e.into()),
            Err(e) => Err(SendError::Marker(e.to_string())),
        }
    }

    /// Waits for at least one send task to finish, takes every other one
    /// that has finished meanwhile, and records the outcomes of the
    /// messages that were not accepted (the accepted ones are marked by
    /// the `Marker` already).
    async fn settle(
        &self,
        running: &mut JoinSet<(OutboxRow, Delivered)>,
        now: &impl Fn() -> DateTime<Utc>,
        report: &mut DeliveryReport,
    ) -> Result<(), SendError> {
        let Some(first) = running.join_next().await else {
            return Ok(());
        };
        let mut done = vec![first];
        while let Some(more) = running.try_join_next() {
            done.push(more);
        }
        for d in done {
            match d {
                Ok((row, Delivered::Accepted)) => {
                    report.sent += 1;
                    report.first_sent.get_or_insert_with(std::time::Instant::now);
                    self.delivered(&row).await?;
                }
                // The marker stopped on a database error, which
                // `deliver_due` reports once the marker is joined.
                Ok((_, Delivered::Unmarked)) => return Ok(()),
                Ok((row, Delivered::Not(outcome))) => self.record(row, outcome, now, report).await?,
                // A panicking send task leaves its row leased; the lease
                // runs out and the row is tried again.
                Err(e) => tracing::error!("a send task failed: {e}"),
            }
        }
        Ok(())
    }

    /// Records a message that was not accepted: retry later or failed.
    async fn record(
        &self,
        row: OutboxRow,
        outcome: Outcome,
        now: &impl Fn() -> DateTime<Utc>,
        report: &mut DeliveryReport,
    ) -> Result<(), SendError> {
        let t = now();
        match outcome {
            Outcome::Sent => {
                self.state.mark_sent(row.id, &self.owner, t).await?;
                report.sent += 1;
            }
            Outcome::Temporary(err) if row.attempts < i64::from(self.settings.max_attempts) => {
                let delay = self.backoff(row.attempts, random_u64());
                let next = t + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::hours(1));
                tracing::warn!(message_id = %row.message_id, subscriber_id = row.subscriber_id, attempt = row.attempts, "temporary failure, retrying in {delay:?}: {err}");
                self.state.mark_retry(row.id, t, next, &err).await?;
                report.retried += 1;
            }
            Outcome::Temporary(err) => {
                tracing::error!(message_id = %row.message_id, subscriber_id = row.subscriber_id, "giving up after {} attempts: {err}", row.attempts);
                self.state.mark_failed(row.id, t, &format!("gave up after {} attempts: {err}", row.attempts)).await?;
                report.failed += 1;
            }
            Outcome::Permanent(whose, err) => {
                tracing::error!(message_id = %row.message_id, subscriber_id = row.subscriber_id, to = %row.recipient, "permanent failure: {err}");
                self.state.mark_failed(row.id, t, &err).await?;
                match whose {
                    // The relay says the mailbox does not exist: the same
                    // hard bounce, through the same apply step, as a report
                    // received later.
                    Refused::Recipient => self.state.apply_refusal(row.id, &err, t).await?,
                    // About the sender or the message (or the relay's own
                    // policy): not this address's fault, and the same for
                    // every subscriber if the relay is misconfigured, so it
                    // only counts.
                    Refused::Other => {
                        if let Some(id) = row.subscriber_id {
                            self.state.record_bounce(id, self.settings.bounce_limit, &err, t).await?;
                        }
                    }
                }
                report.failed += 1;
            }
        }
        Ok(())
    }

    /// The relay accepted `row`. Without `mail.return_path` no report can
    /// follow, so that is its delivery, and clears the subscriber's
    /// failures in a row; only for those with failures counted when the
    /// row was claimed (one UPDATE for them, nothing for the rest). With a
    /// return path the relay's acceptance says nothing yet: a report, or
    /// none for `bounces.delivered_after`, does (`state::bounces`).
    async fn delivered(&self, row: &OutboxRow) -> Result<(), SendError> {
        if let (None, Some(id), true) = (&self.verp, row.subscriber_id, row.bounce_count > 0) {
            self.state.record_delivered(id).await?;
        }
        Ok(())
    }
}

fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    // Jitter only spreads retries; if the OS has no randomness to give, no
    // jitter is still correct.
    let _ = getrandom::fill(&mut b);
    u64::from_le_bytes(b)
}
