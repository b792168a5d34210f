//! The mailer: claims due messages from the outbox (a lease per row, so a
//! dead sender's rows come back), sends their stored bytes unchanged over a
//! pool of SMTP connections (lettre, tokio, rustls) at most
//! `mail.max_per_second`, and records the outcome.
//!
//! Outcomes: 2xx → sent; 4xx, a refused or broken connection, a timeout →
//! queued again after an exponential backoff with jitter (given up after
//! `mail.max_attempts`); 5xx → failed, and the subscriber's bounce count
//! goes up (bouncing at `mail.bounce_limit`). Every attempt is audited.
//!
//! Invariant: only rows the outbox handed to this sender's lease are sent,
//! and a row is marked sent only after the server accepted it; a crash in
//! between resends the same bytes (same Message-ID), never a different mail.

use super::smtp::DirectPool;
use crate::state::{OutboxRow, StateError, StateStore};
use chrono::{DateTime, Utc};
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::PoolConfig;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
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
}

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// 4xx or no connection: try again later.
    Temporary(String),
    /// 5xx: the server refused this message for good.
    Permanent(String),
}

/// How messages reach the relay: our own connections for `smtp://`
/// (TCP_NODELAY, see `mail::smtp`), lettre's pool for `smtps://`.
enum Transport {
    Direct(DirectPool),
    Lettre(AsyncSmtpTransport<Tokio1Executor>),
}

pub struct Mailer {
    transport: Arc<Transport>,
    state: StateStore,
    envelope_from: Address,
    settings: SenderSettings,
    url: String,
    /// Lease owner name: this instance's [`crate::state::instance_id`].
    owner: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("url", &self.url).field("owner", &self.owner).finish_non_exhaustive()
    }
}

/// This process's lease-owner name (`host:pid:random`).
pub fn owner_name() -> String {
    crate::state::instance_id().to_string()
}

/// Whether the process named by a lease owner may still run, seen from
/// this host alone (the SQLite case): owners on other hosts are assumed
/// alive (their lease will run out), local ones are looked up in /proc.
pub fn owner_alive(owner: &str) -> bool {
    let mut mine = crate::state::instance_id().splitn(3, ':');
    let my_host = mine.next().unwrap_or_default();
    let mut theirs = owner.splitn(3, ':');
    match (theirs.next(), theirs.next()) {
        (Some(host), Some(pid)) if host == my_host => {
            owner == crate::state::instance_id() || std::path::Path::new(&format!("/proc/{pid}")).exists()
        }
        _ => true,
    }
}

impl Mailer {
    pub fn new(smtp_url: &url::Url, from: Address, state: StateStore, settings: SenderSettings) -> Result<Mailer, SendError> {
        let shown = crate::config::redact(smtp_url.as_str());
        let bad = |detail: String| SendError::Config { url: shown.clone(), detail };
        let host = smtp_url.host_str().ok_or_else(|| bad("has no host".into()))?.to_string();
        let tls = TlsParameters::new(host.clone()).map_err(|e| bad(format!("TLS set-up failed: {e}")))?;
        let credentials = (!smtp_url.username().is_empty()).then(|| {
            Credentials::new(percent_decode(smtp_url.username()), percent_decode(smtp_url.password().unwrap_or("")))
        });
        let transport = if smtp_url.scheme() == "smtps" {
            let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
                .port(smtp_url.port().unwrap_or(465))
                .tls(Tls::Wrapper(tls))
                .timeout(Some(Duration::from_secs(30)))
                .pool_config(PoolConfig::new().max_size(settings.connections).idle_timeout(Duration::from_secs(30)));
            if let Some(c) = credentials {
                builder = builder.credentials(c);
            }
            Transport::Lettre(builder.build())
        } else {
            // STARTTLS when the server offers it: a loopback relay or a
            // local postfix often does not, and mail must still flow.
            let port = smtp_url.port().unwrap_or(25);
            Transport::Direct(DirectPool::new(host, port, tls, credentials, settings.connections as usize))
        };
        Ok(Mailer {
            transport: Arc::new(transport),
            state,
            envelope_from: from,
            settings,
            url: shown,
            owner: owner_name(),
        })
    }

    pub fn from_settings(s: &crate::Settings, state: StateStore) -> Result<Mailer, SendError> {
        let from = super::parse_mailbox(&s.mail.from)
            .map_err(|e| SendError::Config { url: crate::config::redact(s.mail.smtp_url.as_str()), detail: e.to_string() })?
            .email;
        Mailer::new(&s.mail.smtp_url, from, state, SenderSettings::from_settings(s))
    }

    /// Opens a connection and says hello: for exit 69 at start.
    pub async fn check_connection(&self) -> Result<(), SendError> {
        let result = match &*self.transport {
            Transport::Direct(pool) => pool.check().await,
            Transport::Lettre(t) => match t.test_connection().await {
                Ok(true) => Ok(()),
                Ok(false) => Err("the server did not answer NOOP".into()),
                Err(e) => Err(e.to_string()),
            },
        };
        result.map_err(|detail| SendError::Unreachable { url: self.url.clone(), detail })
    }

    pub fn state(&self) -> &StateStore {
        &self.state
    }

    /// Sends one message's stored bytes.
    async fn send_row(transport: &Transport, from: &Address, row: &OutboxRow) -> Outcome {
        let to: Address = match row.recipient.parse() {
            Ok(a) => a,
            Err(e) => return Outcome::Permanent(format!("recipient {:?} is not an address: {e}", row.recipient)),
        };
        let envelope = match Envelope::new(Some(from.clone()), vec![to]) {
            Ok(e) => e,
            Err(e) => return Outcome::Permanent(format!("no envelope: {e}")),
        };
        match transport {
            Transport::Direct(pool) => pool.send(&envelope, &row.body).await,
            Transport::Lettre(t) => match t.send_raw(&envelope, &row.body).await {
                Ok(_) => Outcome::Sent,
                Err(e) => super::smtp::classify(e),
            },
        }
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
        let rate = self.settings.max_per_second.max(1);
        let mut ticker = tokio::time::interval(Duration::from_secs(1) / rate);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let parallel = self.settings.connections.max(1) as usize;
        let transport = Arc::clone(&self.transport);
        let mut running: JoinSet<(OutboxRow, Outcome)> = JoinSet::new();
        loop {
            let rows = self.state.claim_due(&self.owner, now(), LEASE, (parallel * 8) as i64).await?;
            if rows.is_empty() {
                if running.is_empty() {
                    return Ok(report);
                }
                // What is still in flight may come back as retries that
                // are due: settle it all, then look again.
                while !running.is_empty() {
                    self.settle(&mut running, &now, &mut report).await?;
                }
                continue;
            }
            // A connection takes its next message only once the outcome of
            // its last one is committed, so after a SIGKILL at most one
            // message per connection was accepted and not marked (resent,
            // same bytes). Marks of messages accepted at about the same
            // time share one statement (`settle`): a group commit, not a
            // batch held back (marking a whole claimed batch at its end
            // resent all of it after a SIGKILL: tests/crash_safety.rs,
            // tests/digest_kill.rs). The next claim does not wait for the
            // last sends of this one.
            for row in rows {
                ticker.tick().await;
                while running.len() >= parallel {
                    self.settle(&mut running, &now, &mut report).await?;
                }
                let transport = Arc::clone(&transport);
                let from = self.envelope_from.clone();
                running.spawn(async move {
                    let outcome = Mailer::send_row(&transport, &from, &row).await;
                    (row, outcome)
                });
            }
        }
    }

    /// Waits for at least one send to finish, takes every other one that
    /// has finished meanwhile, and commits their outcomes: the accepted
    /// ones marked sent in one transaction, the others one by one.
    async fn settle(
        &self,
        running: &mut JoinSet<(OutboxRow, Outcome)>,
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
        let mut accepted = Vec::with_capacity(done.len());
        for d in done {
            match d {
                Ok((row, Outcome::Sent)) => accepted.push(row.id),
                Ok((row, outcome)) => self.record(row, outcome, now, report).await?,
                // A panicking send task leaves its row leased; the lease
                // runs out and the row is tried again.
                Err(e) => tracing::error!("a send task failed: {e}"),
            }
        }
        if !accepted.is_empty() {
            self.state.mark_sent_many(&accepted, &self.owner, now()).await?;
            report.sent += accepted.len();
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
                tracing::warn!(message_id = %row.message_id, attempt = row.attempts, "temporary failure, retrying in {delay:?}: {err}");
                self.state.mark_retry(row.id, t, next, &err).await?;
                report.retried += 1;
            }
            Outcome::Temporary(err) => {
                tracing::error!(message_id = %row.message_id, "giving up after {} attempts: {err}", row.attempts);
                self.state.mark_failed(row.id, t, &format!("gave up after {} attempts: {err}", row.attempts)).await?;
                report.failed += 1;
            }
            Outcome::Permanent(err) => {
                tracing::error!(message_id = %row.message_id, to = %row.recipient, "permanent failure: {err}");
                self.state.mark_failed(row.id, t, &err).await?;
                if let Some(id) = row.subscriber_id {
                    self.state.record_bounce(id, self.settings.bounce_limit).await?;
                }
                report.failed += 1;
            }
        }
        Ok(())
    }

    /// Puts back rows leased by senders that are gone: on PostgreSQL the
    /// owners without a session on the database (any host), on SQLite dead
    /// local processes (see [`owner_alive`]). For start-up, when a
    /// predecessor's rows should go out at once.
    pub async fn release_dead_leases(&self) -> Result<usize, SendError> {
        let alive = self.liveness().await?;
        Ok(self.state.release_dead_leases(alive).await?)
    }

    /// Whether a lease owner still runs: on PostgreSQL, whether it has a
    /// session on the database (any host); on SQLite, [`owner_alive`].
    async fn liveness(&self) -> Result<impl Fn(&str) -> bool, SendError> {
        let connected = self.state.connected_instances().await?;
        Ok(move |owner: &str| match &connected {
            Some(sessions) => sessions.contains(owner),
            None => owner_alive(owner),
        })
    }

    /// The same while running, with a second look: an owner is released
    /// only when it was already missing at the previous sweep (kept in
    /// `suspects`), so an instance that is reconnecting after a database
    /// restart is not taken for dead at its first absence.
    pub async fn sweep_dead_leases(&self, suspects: &mut std::collections::HashSet<String>) -> Result<usize, SendError> {
        let alive = self.liveness().await?;
        let mut released = 0;
        let mut missing = std::collections::HashSet::new();
        for owner in self.state.lease_owners().await? {
            if alive(&owner) {
                continue;
            }
            if suspects.contains(&owner) {
                released += self.state.release_leases_of(&owner).await?;
            } else {
                missing.insert(owner);
            }
        }
        *suspects = missing;
        Ok(released)
    }
}

fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    // Jitter only spreads retries; if the OS has no randomness to give, no
    // jitter is still correct.
    let _ = getrandom::fill(&mut b);
    u64::from_le_bytes(b)
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}
