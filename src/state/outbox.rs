//! The outbox queries: committing planned digests (watermark, message) in
//! one transaction, queueing a single message, leasing due
//! messages to a sender (their outcomes: `marks.rs`).
//!
//! Bodies live in `outbox_bodies` (migration 3), written once with their
//! row and only read after that: the claim and the marks update the small
//! outbox row, not ~11 KB of message (each such UPDATE used to rewrite the
//! body's pages into SQLite's WAL, and the checkpoint wrote them again).
//! A body most of whose bytes other messages share is stored as a delta
//! against them (`common.rs`, migration 11).
//!
//! Statements go out several rows at a time (`statements.rs`).

use super::{Backend, DigestCommit, MessageBytes, MessageKind, OutboxCounts, OutboxMessage, OutboxRow, from_ms, get, q, to_ms};
use super::{ArchiveEntry, Result, StateError, StateStore};
use super::checkpoint::PAGES_A_DIGEST;
use super::common::StoredBody;
use super::statements::{list, sql, values, ROWS_PER_STATEMENT};
use crate::delta::Common;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

/// The outbox claim; `{lock}` is the row-locking clause of the backend.
/// Due rows and rows of an expired lease are looked up apart, each in the
/// order of the `outbox_due` index and at most `$4` of each, and only those
/// few are sorted: one `WHERE … OR …` had the database collect and sort
/// every due row at each claim (4 ms a claim with 10,000 queued, a claim
/// per ~60 messages: a third of the database's time in a digest run).
const CLAIM_SQL: &str =
    "UPDATE outbox SET status = 'sending', lease_owner = $1, lease_until = $2, attempts = attempts + 1
     WHERE id IN (
        SELECT id FROM (
            SELECT * FROM (SELECT id, next_attempt_at AS due FROM outbox
                WHERE status = 'queued' AND next_attempt_at <= $3 ORDER BY next_attempt_at, id LIMIT $4 {lock}) AS due
            UNION ALL
            SELECT * FROM (SELECT id, next_attempt_at AS due FROM outbox
                WHERE status = 'sending' AND lease_until < $3 ORDER BY next_attempt_at, id LIMIT $4 {lock}) AS expired
        ) AS claimable
        ORDER BY due, id LIMIT $4)
     RETURNING id, message_id, kind, subscriber_id, period_key, recipient, attempts";

/// [`CLAIM_SQL`] as `backend` runs it. On PostgreSQL two instances may
/// claim at the same instant: the inner SELECT locks its rows and skips
/// rows another claim holds, so each row goes to one of them and neither
/// waits. (SQLite serialises writers; the clause does not exist there.)
fn claim_statement(backend: Backend) -> String {
    match backend {
        Backend::Sqlite => CLAIM_SQL.replace("{lock}", ""),
        Backend::Postgres => CLAIM_SQL.replace("{lock}", "FOR UPDATE SKIP LOCKED"),
    }
}

/// The outbox rows queued, sending and failed, by status. The condition is
/// the one of the `outbox_due` index (migration 13), written as it is
/// there: SQLite reads a partial index for a statement whose condition
/// matches its own or names one of its terms, and `IN` is neither.
pub(super) const UNSENT_COUNTS: &str =
    "SELECT status, COUNT(*) AS n FROM outbox WHERE status = 'queued' OR status = 'sending' OR status = 'failed' GROUP BY status";

/// When the earliest queued message is due.
const NEXT_DUE: &str = "SELECT MIN(next_attempt_at) AS t FROM outbox WHERE status = 'queued'";

impl StateStore {
    /// Writes a batch of planned digests in one transaction: each one's
    /// outbox row (if it has a message) and the subscriber's new watermark.
    /// A digest whose subscriber already has this period is skipped
    /// (another run got there first).
    pub async fn commit_digests(&self, batch: &[DigestCommit]) -> Result<usize> {
        Ok(self.commit_digests_with(batch, &[], &[]).await?.0)
    }

    /// [`StateStore::commit_digests`], and `copies` (seed copies: nobody's
    /// digest, no watermark; each with the time it is queued at) in the
    /// same transaction, each unless a message of its
    /// Message-ID is there already; and the `archive` entries of the
    /// periods this batch commits a digest of (`state::archive`: a
    /// period's first entry is kept). How many digests and how many copies
    /// were queued.
    pub async fn commit_digests_with(
        &self,
        batch: &[DigestCommit],
        copies: &[(&OutboxMessage, DateTime<Utc>)],
        archive: &[ArchiveEntry],
    ) -> Result<(usize, usize)> {
        let writing = self.writing().await;
        let mut tx = self.pool.begin().await.map_err(q("starting the digest transaction"))?;
        // Claim the period on the subscriber rows first: a row that already
        // has it, or whose watermark moved since the plan read it, was
        // committed by another run (earlier, or concurrent: a plan for
        // another period may hold the same articles), and nothing else of
        // that digest must be written; the next run plans again from what
        // is there. Ids go in ascending order, the order in which
        // concurrent planners lock rows.
        let mut groups: BTreeMap<(&str, i64, Option<i64>), Vec<i64>> = BTreeMap::new();
        for d in batch {
            let key = (d.period_key.as_str(), to_ms(d.next_watermark), d.watermark.map(to_ms));
            groups.entry(key).or_default().push(d.subscriber_id);
        }
        let mut claimed: HashSet<(i64, &str)> = HashSet::new();
        for ((period, at, watermark), mut ids) in groups {
            ids.sort_unstable();
            ids.dedup();
            for chunk in ids.chunks(ROWS_PER_STATEMENT) {
                let text = format!(
                    "UPDATE subscribers SET last_period = $1, last_digest_at = $2
                     WHERE id IN ({}) AND (last_period IS NULL OR last_period <> $1)
                     AND last_digest_at IS NOT DISTINCT FROM $3 RETURNING id",
                    list(chunk.len(), 4)
                );
                let mut query = sqlx::query(sql(text)).bind(period).bind(at).bind(watermark);
                for id in chunk {
                    query = query.bind(*id);
                }
                for r in query.fetch_all(&mut *tx).await.map_err(q("moving digest watermarks"))? {
                    claimed.insert((get(&r, "id")?, period));
                }
            }
        }
        // Each claim lets one digest through (the first, should a batch
        // ever hold the same subscriber and period twice).
        let kept: Vec<&DigestCommit> =
            batch.iter().filter(|d| claimed.remove(&(d.subscriber_id, d.period_key.as_str()))).collect();
        let messages: Vec<(&OutboxMessage, DateTime<Utc>)> =
            kept.iter().filter_map(|d| d.message.as_ref().map(|m| (m, d.planned_at))).collect();
        let queued = insert_outbox(&mut tx, self.backend, &messages).await?;
        let copied = insert_outbox(&mut tx, self.backend, copies).await?;
        let sent: HashSet<&str> = kept.iter().filter(|d| d.message.is_some()).map(|d| d.period_key.as_str()).collect();
        let archived: Vec<&ArchiveEntry> = archive.iter().filter(|e| sent.contains(e.period_key.as_str())).collect();
        super::archive::record(&mut tx, &archived).await?;
        tx.commit().await.map_err(q("committing the digest transaction"))?;
        drop(writing);
        self.checkpoint_after(PAGES_A_DIGEST * (queued + copied));
        Ok((queued, copied))
    }

    /// Queues one message (a confirmation mail); false if a message with
    /// this Message-ID is already there.
    pub async fn enqueue(&self, m: &OutboxMessage, now: DateTime<Utc>) -> Result<bool> {
        let _writing = self.writing().await;
        let mut tx = self.pool.begin().await.map_err(q("queueing a message"))?;
        let n = insert_outbox(&mut tx, self.backend, &[(m, now)]).await?;
        tx.commit().await.map_err(q("queueing a message"))?;
        Ok(n == 1)
    }

    /// Leases up to `limit` due messages to `owner` until `now + lease`:
    /// queued ones whose time has come, and ones whose lease ran out (their
    /// sender died). Each claim counts as an attempt.
    pub async fn claim_due(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
        limit: i64,
    ) -> Result<Vec<OutboxRow>> {
        let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(5));
        let text = claim_statement(self.backend);
        let writing = self.writing().await;
        let rows = sqlx::query(sql(text))
            .bind(owner)
            .bind(to_ms(until))
            .bind(to_ms(now))
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(q("claiming outbox messages"))?;
        drop(writing);
        let mut out: Vec<OutboxRow> = rows
            .iter()
            .map(|r| {
                Ok(OutboxRow {
                    id: get(r, "id")?,
                    message_id: get(r, "message_id")?,
                    kind: {
                        let kind = get::<String>(r, "kind")?;
                        MessageKind::parse(&kind).ok_or_else(|| StateError::Corrupt(format!("outbox row of unknown kind {kind:?}")))?
                    },
                    subscriber_id: get(r, "subscriber_id")?,
                    period_key: get(r, "period_key")?,
                    recipient: get(r, "recipient")?,
                    body: Vec::new(),
                    attempts: get(r, "attempts")?,
                    bounce_count: 0,
                })
            })
            .collect::<Result<_>>()?;
        out.sort_by_key(|r| r.id);
        // The bodies of the leased rows, and their subscribers' failure
        // counts (in the same statement: the sender needs them only to
        // clear them). Bodies never change after the commit that wrote
        // them, so reading them after the claim, outside its statement,
        // reads what the claim leased.
        let mut stored: Vec<(i64, StoredBody)> = Vec::with_capacity(out.len());
        let mut bounce_counts: HashMap<i64, i64> = HashMap::with_capacity(out.len());
        for chunk in out.chunks(ROWS_PER_STATEMENT) {
            let text = format!(
                "SELECT b.outbox_id, b.body, b.common_key, COALESCE(s.bounce_count, 0) AS bounce_count
                 FROM outbox_bodies b JOIN outbox o ON o.id = b.outbox_id LEFT JOIN subscribers s ON s.id = o.subscriber_id
                 WHERE b.outbox_id IN ({})",
                list(chunk.len(), 1)
            );
            let mut query = sqlx::query(sql(text));
            for r in chunk {
                query = query.bind(r.id);
            }
            for b in query.fetch_all(&self.pool).await.map_err(q("reading outbox messages"))? {
                let id = get(&b, "outbox_id")?;
                bounce_counts.insert(id, get(&b, "bounce_count")?);
                stored.push((id, StoredBody { bytes: get(&b, "body")?, common_key: get(&b, "common_key")? }));
            }
        }
        let mut bodies = super::common::open_all(&self.pool, &self.recent, stored).await?;
        for r in &mut out {
            r.body = bodies.remove(&r.id).ok_or_else(|| {
                StateError::Corrupt(format!("outbox message {} has no body in outbox_bodies", r.message_id))
            })?;
            r.bounce_count = bounce_counts.get(&r.id).copied().unwrap_or(0);
        }
        Ok(out)
    }

    /// How many outbox rows are queued, sending and failed (ranges of the
    /// status index: the work in hand and the failures), and how many
    /// messages were ever sent (`tally`: the sent rows are the outbox's
    /// whole history).
    pub async fn outbox_counts(&self) -> Result<OutboxCounts> {
        let rows = sqlx::query(UNSENT_COUNTS)
            .fetch_all(&self.pool)
            .await
            .map_err(q("counting the outbox"))?;
        let mut c = OutboxCounts::default();
        for r in &rows {
            let n: i64 = get(r, "n")?;
            match get::<String>(r, "status")?.as_str() {
                "queued" => c.queued = n,
                "sending" => c.sending = n,
                _ => c.failed = n,
            }
        }
        c.sent = self.sent_ever().await?;
        Ok(c)
    }

    /// The earliest time a queued message becomes due, if any.
    pub async fn next_due(&self) -> Result<Option<DateTime<Utc>>> {
        let row = sqlx::query(NEXT_DUE)
            .fetch_one(&self.pool)
            .await
            .map_err(q("reading the outbox"))?;
        Ok(get::<Option<i64>>(&row, "t")?.map(from_ms))
    }

    /// The stored bytes of a message, by Message-ID.
    pub async fn outbox_message(&self, message_id: &str) -> Result<Option<(String, Vec<u8>)>> {
        let row = sqlx::query(
            "SELECT o.id, o.status, b.body, b.common_key FROM outbox o JOIN outbox_bodies b ON b.outbox_id = o.id
             WHERE o.message_id = $1",
        )
        .bind(message_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(q("reading the outbox"))?;
        let Some(r) = row else { return Ok(None) };
        let id: i64 = get(&r, "id")?;
        let stored = StoredBody { bytes: get(&r, "body")?, common_key: get(&r, "common_key")? };
        let mut bodies = super::common::open_all(&self.pool, &self.recent, vec![(id, stored)]).await?;
        let body = bodies.remove(&id).ok_or_else(|| StateError::Corrupt(format!("outbox message {message_id}: its body could not be read")))?;
        Ok(Some((get(&r, "status")?, body)))
    }
}


/// Inserts messages (skipping Message-IDs already there) and their bodies;
/// returns how many were new. The shared bytes their bodies name are
/// written once for all of them, between the rows and the bodies: each
/// ROWS_PER_STATEMENT rows wrote them again (a few shapes' ~14 KB each,
/// copied into every statement's arguments and looked up in the table,
/// seven times a batch of 200 digests).
async fn insert_outbox(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
    messages: &[(&OutboxMessage, DateTime<Utc>)],
) -> Result<usize> {
    let mut rows: Vec<(i64, &OutboxMessage)> = Vec::with_capacity(messages.len());
    for chunk in messages.chunks(ROWS_PER_STATEMENT) {
        insert_rows(tx, backend, chunk, &mut rows).await?;
    }
    // A shared body names its common bytes: they go first.
    let commons: Vec<&Common> = rows
        .iter()
        .filter_map(|(_, m)| match &m.bytes {
            MessageBytes::Shared(s) => Some(&*s.common),
            MessageBytes::Whole(_) => None,
        })
        .collect();
    super::common::write(tx, backend, &commons).await?;
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let text = format!("INSERT INTO outbox_bodies (outbox_id, body, common_key) VALUES {}", values(backend, chunk.len(), 3));
        let mut query = sqlx::query(sql(text));
        for (id, m) in chunk {
            query = match &m.bytes {
                MessageBytes::Shared(shared) => query.bind(*id).bind(shared.delta.as_slice()).bind(Some(shared.common.key().as_slice())),
                MessageBytes::Whole(body) => query.bind(*id).bind(body.as_slice()).bind(None::<&[u8]>),
            };
        }
        query.execute(&mut **tx).await.map_err(q("writing message bodies to the outbox"))?;
    }
    Ok(rows.len())
}

/// The outbox rows of `chunk` (at most ROWS_PER_STATEMENT), each unless
/// its Message-ID is there already; adds the new ones to `rows` with
/// their ids.
async fn insert_rows<'m>(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
    chunk: &[(&'m OutboxMessage, DateTime<Utc>)],
    rows: &mut Vec<(i64, &'m OutboxMessage)>,
) -> Result<()> {
    let text = format!(
        "INSERT INTO outbox (message_id, kind, subscriber_id, period_key, recipient, status, next_attempt_at, created_at)
         VALUES {} ON CONFLICT (message_id) DO NOTHING RETURNING id, message_id",
        values(backend, chunk.len(), 8)
    );
    let mut query = sqlx::query(sql(text));
    for (m, now) in chunk {
        query = query
            .bind(m.message_id.as_str())
            .bind(m.kind.as_str())
            .bind(m.subscriber_id)
            .bind(m.period_key.as_str())
            .bind(m.recipient.as_str())
            .bind("queued")
            .bind(to_ms(*now))
            .bind(to_ms(*now));
    }
    let inserted = query.fetch_all(&mut **tx).await.map_err(q("writing to the outbox"))?;
    if inserted.is_empty() {
        return Ok(());
    }
    // The first message of a Message-ID is the one that was written.
    let mut by_id: HashMap<&str, &OutboxMessage> = HashMap::with_capacity(chunk.len());
    for (m, _) in chunk {
        by_id.entry(m.message_id.as_str()).or_insert(m);
    }
    for r in &inserted {
        let message_id: String = get(r, "message_id")?;
        let m = by_id
            .get(message_id.as_str())
            .ok_or_else(|| StateError::Corrupt(format!("the outbox returned an unknown Message-ID {message_id}")))?;
        rows.push((get(r, "id")?, *m));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
