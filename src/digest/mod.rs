//! Digests: the pure [`plan`]ner, and [`Digests`], the running context that
//! ties the state database, the composer and the mailer together for the
//! CLI (`bantin digest run`), the subscription routes and the scheduler
//! that `bantin serve` starts with [`run_scheduler`].
//!
//! Flow: catalog → `mail::outbox::queue_digests` (plan, render, commit to
//! the outbox in one transaction per batch) → `mail::sender::Mailer`
//! (claim, send, mark). Nothing is sent that is not committed first.

pub mod plan;

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
        let key = TokenKey::load_or_create(&crate::tokens::secret_path(&settings))?;
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

    /// Plans and queues what is due at `now`.
    pub async fn queue(&self, now: DateTime<Utc>, mode: Mode) -> Result<QueueReport, DigestError> {
        let catalog = (self.catalog)();
        Ok(outbox::queue_digests(&self.state, &self.composer, &catalog, &self.plan, now, mode).await?)
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

/// The digest scheduler that `bantin serve` runs: at start it hands back
/// rows of dead senders and catches up on the latest period (at most one
/// digest per subscriber), then plans at every period end and delivers
/// the outbox (retries included) at least every `poll`, until `shutdown`
/// turns true or its sender is dropped.
pub async fn run_scheduler(digests: Arc<Digests>, mut shutdown: watch::Receiver<bool>) {
    const POLL: Duration = Duration::from_secs(15);
    if let Err(e) = digests.mailer.release_dead_leases().await {
        tracing::warn!("releasing leases of dead senders: {e}");
    }
    let mut next_plan = Utc::now();
    loop {
        if *shutdown.borrow() {
            return;
        }
        let now = Utc::now();
        if now >= next_plan {
            match digests.queue(now, Mode::Scheduled).await {
                Ok(r) if r.due > 0 => tracing::info!(due = r.due, queued = r.queued, empty = r.empty, "digests planned"),
                Ok(_) => {}
                Err(e) => tracing::error!("planning digests: {e}"),
            }
            // Weekly periods end at a daily boundary too, so the next daily
            // end is the next time anything can become due.
            next_plan = plan::period_at(crate::state::Frequency::Daily, &digests.plan, now, Mode::Now).end;
        }
        match digests.deliver().await {
            Ok(r) if r.sent + r.retried + r.failed > 0 => {
                tracing::info!(sent = r.sent, retried = r.retried, failed = r.failed, "outbox delivered")
            }
            Ok(_) => {}
            Err(e) => tracing::error!("delivering the outbox: {e}"),
        }
        let until_plan = (next_plan - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        tokio::select! {
            _ = tokio::time::sleep(until_plan.min(POLL)) => {}
            changed = shutdown.changed() => if changed.is_err() { return },
        }
    }
}
