//! The digest scheduler that `bantin serve` runs: plans at start and at
//! each period end, looks for instant mail at each instant window's close
//! (`digest.instant_window`), hands back the leases of vanished instances, delivers
//! the outbox at least every `poll`, drops old message bodies and forgets
//! sign-ups whose confirmation links expired hourly.

use super::Digests;
use crate::digest::plan::{self, Mode};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How often the bodies past `retention.mail_bodies` are dropped (and
/// expired sign-ups forgotten).
const PRUNE_EVERY: chrono::Duration = chrono::Duration::hours(1);

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
    let mut next_instant = clock();
    let mut next_prune = clock();
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
                        tracing::info!(due = r.due, queued = r.queued, empty = r.empty, seed_copies = r.copies, "digests planned");
                        give_back();
                    }
                    // Weekly periods end at a daily boundary too, so the next
                    // daily end is the next time anything can become due.
                    next_plan = plan::period_at(crate::state::Frequency::Daily, &digests.plan, now, Mode::Now).end;
                    next_instant = plan::next_close(&digests.plan, now);
                }
                Err(e) => tracing::error!("planning digests (trying again in {:?}): {e}", options.poll),
            }
        } else if now >= next_instant {
            // An instant window closed: an article is mailed at most one
            // window (and a poll, when another instance plans) after it
            // was first seen.
            match digests.queue_instant(now).await {
                Ok(r) if r.busy => {}
                Ok(r) => {
                    if r.due > 0 {
                        tracing::info!(due = r.due, queued = r.queued, empty = r.empty, seed_copies = r.copies, "instant mail planned");
                    }
                    next_instant = plan::next_close(&digests.plan, now);
                }
                Err(e) => tracing::error!("planning instant mail (trying again in {:?}): {e}", options.poll),
            }
        }
        match digests.mailer.sweep_dead_leases(&mut suspects).await {
            Ok(n) if n > 0 => tracing::warn!(messages = n, "messages leased by a stopped instance are queued again"),
            Ok(_) => {}
            Err(e) => tracing::error!("looking for leases of stopped instances: {e}"),
        }
        match digests.mailer.deliver_due(clock).await {
            Ok(r) if r.sent + r.retried + r.failed > 0 => {
                tracing::info!(sent = r.sent, retried = r.retried, failed = r.failed, "outbox delivered");
                give_back();
            }
            Ok(_) => {}
            Err(e) => tracing::error!("delivering the outbox (trying again in {:?}): {e}", options.poll),
        }
        if clock() >= next_prune {
            match digests.prune(clock()).await {
                Ok(p) => {
                    if p.bodies > 0 {
                        tracing::info!(bodies = p.bodies, "bodies of sent messages past retention.mail_bodies dropped");
                    }
                    if p.sign_ups > 0 {
                        tracing::info!(subscribers = p.sign_ups, "sign-ups never confirmed forgotten: their confirmation links had expired");
                    }
                }
                Err(e) => tracing::error!("dropping old message bodies and expired sign-ups (trying again in an hour): {e}"),
            }
            next_prune = clock() + PRUNE_EVERY;
        }
        let until_plan = (next_plan.min(next_instant) - clock()).to_std().unwrap_or(Duration::ZERO);
        tokio::select! {
            _ = tokio::time::sleep(until_plan.min(options.poll)) => {}
            changed = shutdown.changed() => if changed.is_err() { return },
        }
    }
}

/// `malloc::give_back` on a blocking thread: a trim walks every heap (a
/// few ms after a run), which on this task held up one of the runtime's
/// threads, and with it the HTTP connections it was serving.
fn give_back() {
    drop(tokio::task::spawn_blocking(crate::malloc::give_back));
}
