//! The newsletter runtime: [`Digests`], the running context that ties the
//! state database, the composer and the mailer together for the CLI
//! (`bantin digest run`), the subscription routes and the scheduler that
//! `bantin serve` starts ([`run_scheduler`]). The planner it drives is the
//! core's (`crate::digest::plan`, pure); the mail it sends is `crate::mail`.
//!
//! Flow: catalog → [`pipeline::queue_digests`] (plan, render, commit to the
//! outbox in one transaction per batch) → `mail::sender::Mailer` (claim,
//! send, mark). Nothing is sent that is not committed first.

pub mod pipeline;
pub mod preview;
mod scheduler;

pub use scheduler::{run_scheduler, run_scheduler_with, SchedulerOptions};

use crate::digest::plan;

use crate::catalog::Catalog;
use pipeline::{QueueError, QueueReport};
use crate::mail::sender::{DeliveryReport, Mailer, SendError};
use crate::mail::{Composer, MailError};
use crate::state::{StateError, StateStore, Unsubscribe};
use crate::metrics::{Metrics, SignUpOutcome, SignUps, Unsubscribes, Via};
use crate::tokens::{KeyError, TokenKey};
use chrono::{DateTime, Utc};
use plan::{Mode, PlanSettings};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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
    soon: Soon,
    /// Where unsubscribes are counted: serve's registry once
    /// [`Digests::count_in`] was called, nowhere before.
    unsubscribes: std::sync::OnceLock<Unsubscribes>,
    /// Where sign-ups are counted, likewise.
    sign_ups: std::sync::OnceLock<SignUps>,
}

/// What [`Digests::prune`] let go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Bodies of messages older than `retention.mail_bodies`.
    pub bodies: u64,
    /// Sign-ups never confirmed whose links had expired, erased.
    pub sign_ups: u64,
}

/// The state of [`Digests::deliver_soon`]'s one background loop.
#[derive(Default)]
struct Soon {
    running: AtomicBool,
    /// Asked for since the loop's last look at the outbox.
    wanted: AtomicBool,
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
        let mailer = Arc::new(Mailer::from_settings(&settings, state.clone(), &key)?);
        let composer = Arc::new(Composer::new(&settings, key)?);
        Ok(Arc::new(Digests {
            plan: PlanSettings::from_settings(&settings),
            settings,
            state,
            composer,
            mailer,
            catalog,
            soon: Soon::default(),
            unsubscribes: std::sync::OnceLock::new(),
            sign_ups: std::sync::OnceLock::new(),
        }))
    }

    /// Counts what readers and operators do here in `metrics` (serve's
    /// registry, so the counters reach its `/metrics`).
    pub fn count_in(&self, metrics: &Metrics) {
        let _ = self.unsubscribes.set(metrics.unsubscribes.clone());
        let _ = self.sign_ups.set(metrics.sign_ups.clone());
    }

    /// Counts a sign-up form posted, by what became of it.
    pub fn count_sign_up(&self, outcome: SignUpOutcome) {
        if let Some(sign_ups) = self.sign_ups.get() {
            sign_ups.count(outcome);
        }
    }

    /// Ends subscriber `id`'s subscription (`StateStore::unsubscribe`),
    /// counted by `via` when it did.
    pub async fn unsubscribe(&self, id: i64, via: Via) -> Result<Unsubscribe, StateError> {
        let done = self.state.unsubscribe(id).await?;
        if let (Unsubscribe::Done, Some(unsubscribes)) = (done, self.unsubscribes.get()) {
            unsubscribes.count(via);
        }
        Ok(done)
    }

    /// Plans and queues what is due at `now`, unless another instance is
    /// planning right now (PostgreSQL): then nothing is done and the
    /// report says `busy`; ask again later (planning is idempotent, so the
    /// next try only plans what the other instance did not).
    pub async fn queue(&self, now: DateTime<Utc>, mode: Mode) -> Result<QueueReport, DigestError> {
        let Some(lock) = self.state.try_planner_lock().await? else {
            return Ok(QueueReport { busy: true, ..QueueReport::default() });
        };
        let result = self.queue_locked(now, mode).await;
        lock.release().await;
        result
    }

    /// At the close of an instant window (`digest.instant_window`): plans
    /// and queues like [`Digests::queue`], but only when an instant mail
    /// can be due, i.e. an article was first seen after the oldest instant
    /// subscriber's watermark (the planner's rule, `digest::instant`).
    /// A quiet window costs two aggregate queries and the first-seen note,
    /// and none of that without instant subscribers.
    pub async fn queue_instant(&self, now: DateTime<Utc>) -> Result<QueueReport, DigestError> {
        // Read before the lock: a watermark another instance moves meanwhile
        // only makes this look once for nothing.
        let Some(oldest) = self.state.instant_watermark().await? else {
            return Ok(QueueReport::default());
        };
        let Some(lock) = self.state.try_planner_lock().await? else {
            return Ok(QueueReport { busy: true, ..QueueReport::default() });
        };
        let result = async {
            pipeline::note_visible(&self.state, &(self.catalog)(), &self.plan, now).await?;
            match self.state.newest_seen().await? {
                Some(newest) if newest > oldest => self.queue_locked(now, Mode::Scheduled).await,
                _ => Ok(QueueReport::default()),
            }
        }
        .await;
        lock.release().await;
        result
    }

    /// [`Digests::queue`] with the planner lock held: first the bouncing
    /// subscribers whose mail went unreported for `bounces.delivered_after`
    /// are active again (the same run mails them either way: bouncing ones
    /// are retried at each period), then the digests.
    async fn queue_locked(&self, now: DateTime<Utc>, mode: Mode) -> Result<QueueReport, DigestError> {
        let wait = chrono::Duration::from_std(self.settings.bounces.delivered_after).unwrap_or(chrono::Duration::MAX);
        let settled = self.state.settle_bouncing(now.checked_sub_signed(wait).unwrap_or(DateTime::<Utc>::MIN_UTC)).await?;
        if settled > 0 {
            tracing::info!(subscribers = settled, "failures no longer in a row: a later message went unreported for bounces.delivered_after");
        }
        let catalog = (self.catalog)();
        Ok(pipeline::queue_digests(self, &catalog, now, mode).await?)
    }

    /// What the state keeps no longer at `now`: the bodies of messages
    /// that went out more than `retention.mail_bodies` before (their rows
    /// stay), and the sign-ups whose confirmation links have all expired.
    pub async fn prune(&self, now: DateTime<Utc>) -> Result<Pruned, DigestError> {
        let keep = chrono::Duration::from_std(self.settings.retention.mail_bodies).unwrap_or(chrono::Duration::MAX);
        let before = now.checked_sub_signed(keep).unwrap_or(DateTime::<Utc>::MIN_UTC);
        let bodies = self.state.drop_mail_bodies(before).await?;
        let links_made_before = now - chrono::Duration::days(crate::mail::CONFIRM_VALID_DAYS);
        let sign_ups = self.state.forget_expired_sign_ups(links_made_before).await?;
        Ok(Pruned { bodies, sign_ups })
    }

    /// Sends everything due now.
    pub async fn deliver(&self) -> Result<DeliveryReport, DigestError> {
        Ok(self.mailer.deliver_due(Utc::now).await?)
    }

    /// Sends the outbox in the background (after a confirmation mail was
    /// queued by a request). One such loop at a time: a call while it runs
    /// only makes it look again before it ends, so a burst of sign-ups is
    /// one delivery loop, not one each. The lease on each row keeps it from
    /// racing the scheduler's own delivery, and the mailer's rate and
    /// session bounds hold across both.
    pub fn deliver_soon(self: &Arc<Self>) {
        self.soon.wanted.store(true, Ordering::SeqCst);
        if self.soon.running.swap(true, Ordering::SeqCst) {
            return;
        }
        let this = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                this.soon.wanted.store(false, Ordering::SeqCst);
                if let Err(e) = this.deliver().await {
                    tracing::warn!("sending queued mail: {e}");
                }
                if this.soon.wanted.load(Ordering::SeqCst) {
                    continue;
                }
                this.soon.running.store(false, Ordering::SeqCst);
                // A call that came between the check and the store saw the
                // loop running and left: take its request, unless another
                // call already started a loop of its own.
                if !this.soon.wanted.load(Ordering::SeqCst) || this.soon.running.swap(true, Ordering::SeqCst) {
                    break;
                }
            }
        });
    }
}
