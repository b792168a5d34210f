//! Digests: the pure [`plan`]ner, and [`Digests`], the running context that
//! ties the state database, the composer and the mailer together for the
//! CLI (`bantin digest run`), the subscription routes and the scheduler
//! that `bantin serve` starts with [`run_scheduler`].
//!
//! Flow: catalog → `mail::outbox::queue_digests` (plan, render, commit to
//! the outbox in one transaction per batch) → `mail::sender::Mailer`
//! (claim, send, mark). Nothing is sent that is not committed first.

pub use bantin_core::digest::plan;

use crate::catalog::Catalog;
use crate::mail::outbox::{self, QueueError, QueueReport};
use crate::mail::sender::{DeliveryReport, Mailer, SendError};
use crate::mail::{Composer, MailError};
use crate::state::{StateError, StateStore};
use crate::tokens::{KeyError, TokenKey};
use chrono::{DateTime, Utc};
use plan::{Mode, PlanSettings};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Where the current catalog comes from: `bantin serve` hands in a closure
/// over its live catalog, the CLI one over a catalog read once.
pub type CatalogSource = Arc<dyn Fn() -> Arc<Catalog> + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Mail(#[from] MailError),
    #[error(transparent)]
    Send(#[from] SendError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Everything the digest and subscription rooms need at run time.
pub struct Digests {
    pub settings: Arc<crate::Settings>,
    pub state: StateStore,
    pub composer: Arc<Composer>,
    pub mailer: Arc<Mailer>,
    pub catalog: CatalogSource,
    pub plan: PlanSettings,
}

impl std::fmt::Debug for Digests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Digests").field("state", &self.state).field("mailer", &self.mailer).finish_non_exhaustive()
    }
}

impl Digests {
    /// Opens the state database (migrating it), the token key (made at
    /// first start), the templates and the SMTP pool (not yet connected).
    pub async fn open(settings: Arc<crate::Settings>, catalog: CatalogSource) -> Result<Arc<Digests>, DigestError> {
        let state = StateStore::open(&settings.state.url).await?;
        let key = crate::tokens::load_key(&settings, &state).await?;
        Digests::with_parts(settings, catalog, state, key)
    }

    pub fn with_parts(
        settings: Arc<crate::Settings>,
        catalog: CatalogSource,
        state: StateStore,
        key: TokenKey,
    ) -> Result<Arc<Digests>, DigestError> {
        let composer = Arc::new(Composer::new(&settings, key)?);
        let mailer = Arc::new(Mailer::from_settings(&settings, state.clone())?);
        Ok(Arc::new(Digests { plan: PlanSettings::from_settings(&settings), settings, state, composer, mailer, catalog }))
    }

    /// Plans and queues what is due at `now`, unless another instance is
    /// planning right now (PostgreSQL): then nothing is done and the
    /// report says `busy`; ask again later (planning is idempotent, so the
    /// next try only plans what the other instance did not).
    pub async fn queue(&self, now: DateTime<Utc>, mode: Mode) -> Result<QueueReport, DigestError> {
        let Some(lock) = self.state.try_planner_lock().await? else {
            return Ok(QueueReport { busy: true, ..QueueReport::default() });
        };
        let catalog = (self.catalog)();
        let result = outbox::queue_digests(&self.state, &self.composer, &catalog, &self.plan, now, mode).await;
        lock.release().await;
        Ok(result?)
    }

    /// Sends everything due now.
    pub async fn deliver(&self) -> Result<DeliveryReport, DigestError> {
        Ok(self.mailer.deliver_due(Utc::now).await?)
    }

    /// Sends the outbox in the background (after a confirmation mail was
    /// queued by a request): the lease on each row keeps this from racing
    /// the scheduler's own delivery.
    pub fn deliver_soon(self: &Arc<Self>) {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            if let Err(e) = this.deliver().await {
                tracing::warn!("sending queued mail: {e}");
            }
        });
    }
}

/// How the scheduler runs: the defaults for production; tests shorten the
/// poll and move the clock (`bantin serve` reads `BANTIN_DIGEST_POLL_MS`
/// and `BANTIN_DIGEST_AT`, the scheduler's twin of `digest run --at`).
#[derive(Debug, Clone, Copy)]
pub struct SchedulerOptions {
    /// How often the outbox is looked at (and a busy planner retried).
    pub poll: Duration,
    /// The scheduler's clock starts here and runs on in real time.
    pub start_at: Option<DateTime<Utc>>,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        SchedulerOptions { poll: Duration::from_secs(15), start_at: None }
    }
}

/// The digest scheduler that `bantin serve` runs, with the default options.
pub async fn run_scheduler(digests: Arc<Digests>, shutdown: watch::Receiver<bool>) {
    run_scheduler_with(digests, shutdown, SchedulerOptions::default()).await
}

/// The scheduler: at start it hands back rows of dead senders and catches
/// up on the latest period (at most one digest per subscriber), then plans
/// at every period end and delivers the outbox (retries included) at least
/// every `poll`, until `shutdown` turns true or its sender is dropped.
///
/// With several instances on one PostgreSQL database every instance runs
/// this loop: one of them plans (the planner lock; the others find it busy
/// and try again at their next poll, so a planner that dies is replaced
/// within a poll), all of them deliver (rows claimed with SKIP LOCKED), and
/// rows leased by an instance that is gone are handed back at the next
/// sweep. Every error is logged and the loop goes on: a database or relay
/// outage delays mail, it never stops the service.
pub async fn run_scheduler_with(digests: Arc<Digests>, mut shutdown: watch::Receiver<bool>, options: SchedulerOptions) {
    let began = std::time::Instant::now();
    let clock = move || match options.start_at {
        Some(start) => start + chrono::Duration::from_std(began.elapsed()).unwrap_or_default(),
        None => Utc::now(),
    };
    if let Err(e) = digests.mailer.release_dead_leases().await {
        tracing::warn!("releasing leases of dead senders: {e}");
    }
    let mut suspects = std::collections::HashSet::new();
    let mut next_plan = clock();
    loop {
        if *shutdown.borrow() {
            return;
        }
        let now = clock();
        if now >= next_plan {
            match digests.queue(now, Mode::Scheduled).await {
                // Another instance plans now: look again at the next poll.
                Ok(r) if r.busy => {}
                Ok(r) => {
                    if r.due > 0 {
                        tracing::info!(due = r.due, queued = r.queued, empty = r.empty, "digests planned");
                    }
                    // Weekly periods end at a daily boundary too, so the next
                    // daily end is the next time anything can become due.
                    next_plan = plan::period_at(crate::state::Frequency::Daily, &digests.plan, now, Mode::Now).end;
                }
                Err(e) => tracing::error!("planning digests (trying again in {:?}): {e}", options.poll),
            }
        }
        match digests.mailer.sweep_dead_leases(&mut suspects).await {
            Ok(n) if n > 0 => tracing::warn!(messages = n, "messages leased by a stopped instance are queued again"),
            Ok(_) => {}
            Err(e) => tracing::error!("looking for leases of stopped instances: {e}"),
        }
        match digests.mailer.deliver_due(clock).await {
            Ok(r) if r.sent + r.retried + r.failed > 0 => {
                tracing::info!(sent = r.sent, retried = r.retried, failed = r.failed, "outbox delivered")
            }
            Ok(_) => {}
            Err(e) => tracing::error!("delivering the outbox (trying again in {:?}): {e}", options.poll),
        }
        let until_plan = (next_plan - clock()).to_std().unwrap_or(Duration::ZERO);
        tokio::select! {
            _ = tokio::time::sleep(until_plan.min(options.poll)) => {}
            changed = shutdown.changed() => if changed.is_err() { return },
        }
    }
}
