//! The outcome of a send, recorded: a leased message marked sent (many at
//! once, the relay's group of acceptances), queued again for a retry, or
//! failed for good; each with its audit row (`send_audit`) in the same
//! transaction. The lease that makes the marks safe is taken in
//! `outbox.rs` (`claim_due`).

use super::statements::{list, sql, ROWS_PER_STATEMENT};
use super::{q, to_ms, Result, StateStore};
use chrono::{DateTime, Utc};

impl StateStore {
    /// Marks a leased message sent, if this owner still holds it.
    pub async fn mark_sent(&self, id: i64, owner: &str, now: DateTime<Utc>) -> Result<()> {
        self.mark_sent_many(&[id], owner, now).await
    }

    /// Marks leased messages sent (those this owner still holds) in one
    /// statement, so one transaction: the group commit of the messages a
    /// relay accepted at about the same time. Their audit rows come from
    /// the `outbox_sent_audit` trigger (migration 3), in the same statement.
    pub async fn mark_sent_many(&self, ids: &[i64], owner: &str, now: DateTime<Utc>) -> Result<()> {
        let _writing = self.writing().await;
        // One statement up to ROWS_PER_STATEMENT ids (the sender's groups
        // are at most `mail.connections`); beyond, a transaction.
        if ids.len() <= ROWS_PER_STATEMENT {
            return mark_sent_chunk(&self.pool, ids, owner, now).await;
        }
        let mut tx = self.pool.begin().await.map_err(q("marking messages sent"))?;
        for chunk in ids.chunks(ROWS_PER_STATEMENT) {
            mark_sent_chunk(&mut *tx, chunk, owner, now).await?;
        }
        tx.commit().await.map_err(q("marking messages sent"))?;
        Ok(())
    }

    /// A temporary failure: back to queued, tried again at `next_at`.
    pub async fn mark_retry(&self, id: i64, now: DateTime<Utc>, next_at: DateTime<Utc>, error: &str) -> Result<()> {
        self.mark_unsent(id, now, Some(next_at), error).await
    }

    /// A permanent failure: the message will not be tried again.
    pub async fn mark_failed(&self, id: i64, now: DateTime<Utc>, error: &str) -> Result<()> {
        self.mark_unsent(id, now, None, error).await
    }

    /// A message the relay did not take, with its audit row: queued again
    /// for `retry_at`, or (`None`) failed for good.
    async fn mark_unsent(&self, id: i64, now: DateTime<Utc>, retry_at: Option<DateTime<Utc>>, error: &str) -> Result<()> {
        let (status, outcome, doing) = match retry_at {
            Some(_) => ("queued", "retry", "scheduling a retry"),
            None => ("failed", "failed", "marking a message failed"),
        };
        let _writing = self.writing().await;
        let mut tx = self.pool.begin().await.map_err(q(doing))?;
        sqlx::query(
            "UPDATE outbox SET status = $2, next_attempt_at = COALESCE($3, next_attempt_at), last_error = $4,
             lease_owner = NULL, lease_until = NULL
             WHERE id = $1",
        )
        .bind(id)
        .bind(status)
        .bind(retry_at.map(to_ms))
        .bind(error)
        .execute(&mut *tx)
        .await
        .map_err(q(doing))?;
        audit(&mut tx, id, now, outcome, Some(error)).await?;
        tx.commit().await.map_err(q(doing))?;
        Ok(())
    }
}

async fn mark_sent_chunk<'c, E>(executor: E, ids: &[i64], owner: &str, now: DateTime<Utc>) -> Result<()>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    if ids.is_empty() {
        return Ok(());
    }
    let text = format!(
        "UPDATE outbox SET status = 'sent', sent_at = $2, lease_owner = NULL, lease_until = NULL, last_error = NULL
         WHERE lease_owner = $1 AND id IN ({})",
        list(ids.len(), 3)
    );
    let mut query = sqlx::query(sql(text)).bind(owner).bind(to_ms(now));
    for id in ids {
        query = query.bind(*id);
    }
    query.execute(executor).await.map_err(q("marking messages sent"))?;
    Ok(())
}

async fn audit(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    outbox_id: i64,
    now: DateTime<Utc>,
    outcome: &str,
    detail: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO send_audit (outbox_id, message_id, at, outcome, detail)
         SELECT id, message_id, $2, $3, $4 FROM outbox WHERE id = $1",
    )
    .bind(outbox_id)
    .bind(to_ms(now))
    .bind(outcome)
    .bind(detail)
    .execute(&mut **tx)
    .await
    .map_err(q("writing the send audit"))?;
    Ok(())
}
