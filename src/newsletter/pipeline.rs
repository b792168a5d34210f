//! From the planner to the outbox: notes which articles are visible for the
//! first time, plans the due digests (pure), renders them and commits each
//! batch — outbox rows, sent-article bookkeeping and watermarks — in one
//! transaction. Nothing is sent here.
//!
//! Invariant: a message is in the outbox (committed) before any sender can
//! see it, and a digest's bookkeeping commits with its row, so a crash at
//! any point leaves each subscriber's period either wholly planned or not
//! at all; the next run plans what is missing, never twice.

use crate::mail::{Composer, MailError};
use crate::article::Article;
use crate::catalog::Catalog;
use crate::digest::plan::{self, Mode, PlanSettings, PlannedDigest};
use crate::state::{DigestCommit, OutboxMessage, StateError, StateStore};
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
    /// Messages written to the outbox.
    pub queued: usize,
    /// Nothing was done: another instance holds the planner lock.
    pub busy: bool,
}

/// Plans what is due at `now` without writing anything.
pub async fn plan_due(
    state: &StateStore,
    catalog: &Catalog,
    settings: &PlanSettings,
    now: DateTime<Utc>,
    mode: Mode,
) -> Result<Vec<PlannedDigest>, QueueError> {
    let recipients = state.digest_recipients().await?;
    let first_seen = state.articles_seen().await?;
    // A list of this planning's own (not the catalog's kept one, see
    // `Catalog::articles`): it is dropped here, off the path of a change.
    let articles: Vec<Arc<Article>> = catalog.iter().cloned().collect();
    Ok(plan::plan(&recipients, &articles, &first_seen, settings, now, mode))
}

/// Plans, renders and commits every digest due at `now`.
///
/// Rendering and committing overlap: a blocking thread renders batch N+1
/// (on every core, rayon) while this task commits batch N, so neither the
/// cores nor the database wait for the other. Batches are committed in
/// plan order; at most two rendered batches wait for their commit.
pub async fn queue_digests(
    state: &StateStore,
    composer: &Arc<Composer>,
    catalog: &Arc<Catalog>,
    settings: &PlanSettings,
    now: DateTime<Utc>,
    mode: Mode,
) -> Result<QueueReport, QueueError> {
    note_visible(state, catalog, settings, now).await?;
    let plans = Arc::new(plan_due(state, catalog, settings, now, mode).await?);
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
                article_ids: p.article_ids.clone(),
                message,
            });
        }
        report.queued += state.commit_digests(&batch).await?;
    }
    // A renderer that panicked sent nothing more; what it did not render
    // is planned again by the next run.
    renderer.await.map_err(|e| QueueError::Render(e.to_string()))?;
    Ok(report)
}

/// Records the first-seen time of articles that are visible now and were
/// not seen before: the measure of "new" for the next digests.
pub async fn note_visible(state: &StateStore, catalog: &Catalog, settings: &PlanSettings, now: DateTime<Utc>) -> Result<(), QueueError> {
    let now_local = now.with_timezone(&settings.timezone).fixed_offset();
    let visible: Vec<&str> = catalog
        .iter()
        .filter(|a| a.is_visible_at(now_local))
        .map(|a| a.id.as_ref())
        .collect();
    let fresh = state.unseen(&visible).await?;
    if !fresh.is_empty() {
        state.note_articles_seen(&fresh, now).await?;
    }
    Ok(())
}
