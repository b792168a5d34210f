//! From the planner to the outbox: notes which articles are visible for the
//! first time, plans the due digests (pure), renders them and commits each
//! batch (outbox rows and watermarks) in one transaction. Nothing is sent
//! here.
//!
//! Invariant: a message is in the outbox (committed) before any sender can
//! see it, and a digest's bookkeeping commits with its row, so a crash at
//! any point leaves each subscriber's period either wholly planned or not
//! at all; the next run plans what is missing, never twice.
//!
//! Seed copies (`digest.seed`, `digest::seed`) commit with the first batch
//! that queues news of their period: a period's news is in the outbox if
//! and only if its copies are, and a copy queued before (by a run that
//! crashed after, or another instance) is not queued again (its Message-ID).

use super::Digests;
use crate::mail::{Composer, MailError};
use crate::article::Article;
use crate::catalog::Catalog;
use crate::digest::plan::{self, Mode, PlanSettings, PlannedDigest, Visible};
use crate::digest::seed::SiteDigest;
use crate::digest::seen::FirstSeen;
use crate::state::Subscriber;
use crate::state::{ArchiveEntry, DigestCommit, OutboxMessage, StateError, StateStore};
use rayon::prelude::*;
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// Digests committed per transaction: large enough to amortise the commit,
/// small enough that the rendered bytes of one batch stay a few MB.
const BATCH: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Mail(#[from] MailError),
    #[error("rendering digests stopped: {0}; the digests not committed are planned again by the next run")]
    Render(String),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueReport {
    /// Subscribers whose period was due.
    pub due: usize,
    /// Of those, with nothing new (watermark moved, nothing sent).
    pub empty: usize,
    /// Digests written to the outbox.
    pub queued: usize,
    /// Seed copies written to the outbox.
    pub copies: usize,
    /// Nothing was done: another instance holds the planner lock.
    pub busy: bool,
}

/// What is due at `now`: every subscriber's digest, the seed copies
/// that go with them, and the archive entries of their periods.
#[derive(Debug, Default)]
pub struct Due {
    pub digests: Vec<PlannedDigest>,
    pub copies: Vec<PlannedDigest>,
    /// With `digest.archive`: each period's site-wide digest, recorded
    /// with the period's first committed digests.
    pub archive: Vec<ArchiveEntry>,
}

/// What a planning is asked for.
pub struct Ask<'a> {
    pub settings: &'a PlanSettings,
    /// `digest.seed`: the addresses that get a copy of each period.
    pub seeds: &'a [String],
    /// `digest.archive`: record each period's site-wide digest.
    pub archive: bool,
    pub now: DateTime<Utc>,
    pub mode: Mode,
}

/// Plans what is due at `ask.now` without writing anything: the digests,
/// the copies of their periods for each seed address that is not a
/// suppressed or complained subscriber, and with `archive` their periods'
/// entries.
pub async fn plan_due(state: &StateStore, catalog: &Catalog, ask: &Ask<'_>) -> Result<Due, QueueError> {
    let recipients = state.digest_recipients().await?;
    if recipients.is_empty() {
        // Nobody to plan for: no digest, so no seed copy or archive period
        // either (both follow the due digests' periods, `seed::site_wide`).
        // Skipping the first-seen read spares a service without
        // subscribers a pass over the table at each planning.
        return Ok(Due::default());
    }
    let articles = planning_list(catalog);
    let first_seen = state.first_seen(&articles).await?;
    plan_from(state, &recipients, &articles, &first_seen, ask).await
}

/// A list of the catalog's articles that is this planning's own (not the
/// catalog's kept one, see `Catalog::articles`): it is dropped with the
/// planning, off the path of a change.
fn planning_list(catalog: &Catalog) -> Vec<Arc<Article>> {
    catalog.iter().cloned().collect()
}

/// [`plan_due`] for `recipients` (not none), from `first_seen`.
async fn plan_from(
    state: &StateStore,
    recipients: &[Subscriber],
    articles: &[Arc<Article>],
    first_seen: &FirstSeen<'_>,
    ask: &Ask<'_>,
) -> Result<Due, QueueError> {
    let &Ask { settings, seeds, archive, now, mode } = ask;
    let visible = Visible::new(articles, first_seen, settings, now);
    let digests = plan::plan_for(recipients, &visible, settings, now, mode);
    let mut mailable = Vec::with_capacity(seeds.len());
    if digests.iter().any(|p| !p.is_empty()) {
        for seed in seeds {
            match state.never_mailed(seed).await? {
                Some(sub) => tracing::warn!("digest.seed {seed}: {} is {}, no copy is sent to it", sub.email, sub.status.as_str()),
                None => mailable.push(seed.clone()),
            }
        }
    }
    let site = if mailable.is_empty() && !archive {
        Vec::new()
    } else {
        crate::digest::seed::site_wide(&digests, &visible, settings, now, mode)
    };
    let copies = crate::digest::seed::copies(&mailable, &site);
    // Only periods the archive has a page for (`digest::archive` names
    // days and weeks).
    let archive = if archive { site.iter().filter_map(|d| archive_entry(d, now)).collect() } else { Vec::new() };
    Ok(Due { digests, copies, archive })
}

/// A period's archive entry from its site-wide digest, if the archive can
/// name the period.
fn archive_entry(site: &SiteDigest, now: DateTime<Utc>) -> Option<ArchiveEntry> {
    let period = &site.digest.period;
    crate::digest::archive::ArchivePeriod::from_key(&period.key)?;
    Some(ArchiveEntry {
        period_key: period.key.clone(),
        frequency: period.frequency,
        period_end: period.end,
        sent_at: now,
        article_ids: site.article_ids.clone(),
    })
}

/// Plans, renders and commits every digest due at `now`, the copies of
/// their periods for the seed addresses (`digest.seed`) and, with
/// `digest.archive`, each period's archive entry with its first committed
/// digest (a period none is committed for gets none).
///
/// Rendering and committing overlap: a blocking thread renders batch N+1
/// (on every core, rayon) while this task commits batch N, so neither the
/// cores nor the database wait for the other. Batches are committed in
/// plan order; at most two rendered batches wait for their commit.
pub async fn queue_digests(digests: &Digests, catalog: &Arc<Catalog>, now: DateTime<Utc>, mode: Mode) -> Result<QueueReport, QueueError> {
    let (state, composer) = (&digests.state, &digests.composer);
    let due = note_and_plan(digests, catalog, now, mode).await?;
    let mut copies = render_copies(composer, catalog, due.copies, now).await?;
    let plans = Arc::new(due.digests);
    let mut report = QueueReport { due: plans.len(), ..QueueReport::default() };
    let (rendered, mut to_commit) = tokio::sync::mpsc::channel::<Result<(usize, Vec<Option<OutboxMessage>>), MailError>>(2);
    let renderer = tokio::task::spawn_blocking({
        let (plans, composer, catalog) = (Arc::clone(&plans), Arc::clone(composer), Arc::clone(catalog));
        move || {
            // Digests with the same articles, period and topics are
            // rendered once (`mail::shape`).
            let shapes = crate::mail::shape::Shapes::default();
            for (n, chunk) in plans.chunks(BATCH).enumerate() {
                let messages = chunk
                    .par_iter()
                    .map(|p| if p.is_empty() { Ok(None) } else { composer.digest_in(&shapes, p, &catalog, now).map(Some) })
                    .collect::<Result<Vec<_>, MailError>>();
                let failed = messages.is_err();
                // The receiver is gone only when committing failed; its
                // error is the one reported.
                if rendered.blocking_send(messages.map(|m| (n * BATCH, m))).is_err() || failed {
                    return;
                }
            }
        }
    });
    while let Some(batch) = to_commit.recv().await {
        let (first, messages) = batch?;
        let chunk = &plans[first..first + messages.len()];
        let mut batch = Vec::with_capacity(chunk.len());
        for (p, message) in chunk.iter().zip(messages) {
            if message.is_none() {
                report.empty += 1;
            }
            batch.push(DigestCommit {
                subscriber_id: p.subscriber.id,
                period_key: p.period.key.clone(),
                planned_at: now,
                watermark: p.subscriber.last_digest_at,
                next_watermark: p.watermark,
                message,
            });
        }
        // The copies of the periods this batch queues news of, unless an
        // earlier batch took them.
        let (now_copies, later): (Vec<OutboxMessage>, Vec<OutboxMessage>) = copies.into_iter().partition(|c| {
            chunk.iter().any(|p| !p.is_empty() && p.period.key == c.period_key)
        });
        copies = later;
        let with: Vec<(&OutboxMessage, DateTime<Utc>)> = now_copies.iter().map(|c| (c, now)).collect();
        let (queued, copied) = state.commit_digests_with(&batch, &with, &due.archive).await?;
        report.queued += queued;
        report.copies += copied;
    }
    // A renderer that panicked sent nothing more; what it did not render
    // is planned again by the next run.
    renderer.await.map_err(|e| QueueError::Render(e.to_string()))?;
    Ok(report)
}

/// Notes what is visible for the first time and plans what is due, in
/// one pass over the first-seen table; the planning's lists are dropped
/// before rendering starts.
async fn note_and_plan(digests: &Digests, catalog: &Catalog, now: DateTime<Utc>, mode: Mode) -> Result<Due, QueueError> {
    let (state, settings) = (&digests.state, &digests.plan);
    let articles = planning_list(catalog);
    let first_seen = note_unseen(state, &articles, settings, now).await?;
    let recipients = state.digest_recipients().await?;
    if recipients.is_empty() {
        return Ok(Due::default());
    }
    let ask = Ask { settings, seeds: &digests.settings.digest.seed, archive: digests.settings.digest.archive, now, mode };
    plan_from(state, &recipients, &articles, &first_seen, &ask).await
}

/// Renders the seed copies (few: one per seed address and period) on a
/// blocking thread, as digests are: an article's body may be read from
/// its file on first use.
async fn render_copies(
    composer: &Arc<Composer>,
    catalog: &Arc<Catalog>,
    copies: Vec<PlannedDigest>,
    now: DateTime<Utc>,
) -> Result<Vec<OutboxMessage>, QueueError> {
    if copies.is_empty() {
        return Ok(Vec::new());
    }
    let (composer, catalog) = (Arc::clone(composer), Arc::clone(catalog));
    let rendered = tokio::task::spawn_blocking(move || {
        copies.iter().map(|c| composer.seed_digest(c, &catalog, now)).collect::<Result<Vec<_>, MailError>>()
    });
    rendered.await.map_err(|e| QueueError::Render(e.to_string()))?.map_err(QueueError::Mail)
}

/// Records the first-seen time of articles that are visible now and were
/// not seen before: the measure of "new" for the next digests.
pub async fn note_visible(state: &StateStore, catalog: &Catalog, settings: &PlanSettings, now: DateTime<Utc>) -> Result<(), QueueError> {
    let fresh = state.unseen(visible_ids(catalog.iter(), settings, now)).await?;
    if !fresh.is_empty() {
        state.note_articles_seen(&fresh, now).await?;
    }
    Ok(())
}

/// [`note_visible`] for a planning: the sightings of `articles` read
/// once, and those noted now recorded in them too.
async fn note_unseen<'a>(state: &StateStore, articles: &'a [Arc<Article>], settings: &PlanSettings, now: DateTime<Utc>) -> Result<FirstSeen<'a>, QueueError> {
    let mut first_seen = state.first_seen(articles).await?;
    // In id order, as the state writes them: no sorted copy (1.6 MB at a
    // first start of 100k articles).
    let fresh = visible_ids(first_seen.unseen(), settings, now);
    if !fresh.is_empty() {
        state.note_articles_seen(&fresh, now).await?;
        for id in fresh {
            first_seen.record(id, now);
        }
    }
    Ok(first_seen)
}

/// The ids of the articles visible at `now`.
fn visible_ids<'a>(articles: impl Iterator<Item = &'a Arc<Article>>, settings: &PlanSettings, now: DateTime<Utc>) -> Vec<&'a str> {
    let now_local = now.with_timezone(&settings.timezone).fixed_offset();
    articles.filter(|a| a.is_visible_at(now_local)).map(|a| a.id()).collect()
}
