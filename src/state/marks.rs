//! The outcome of a send, recorded: a leased message marked sent (many at
//! once, the relay's group of acceptances), queued again for a retry, or
//! failed for good; each with its audit row (`send_audit`) in the same
//! transaction. The lease that makes the marks safe is taken in
//! `outbox.rs` (`claim_due`).

use super::checkpoint::PAGES_A_MARK_GROUP;
use super::statements::{list, sql, ROWS_PER_STATEMENT};
use super::{q, to_ms, Backend, Result, StateStore};
use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, Connection as _};

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
        let mut conn = self.pool.acquire().await.map_err(q("marking messages sent"))?;
        self.mark_sent_on(&mut conn, ids, owner, now).await
    }

    /// What a sender marks its accepted messages through (`mail::marks`,
    /// kept from one delivery pass to the next): on SQLite a connection of
    /// its own. Through the pool each group of marks was three round trips
    /// to the connection's worker thread, one of them the statement: sqlx
    /// tests a connection before lending it (off for SQLite now,
    /// `connect.rs`) and, whatever its options, when it comes back (with
    /// the first, one in nine of a 10,000-digest run's context switches).
    /// The connection is detached, so it never counts against the pool
    /// that writers wait on while the marker waits for them (`writing`). On
    /// PostgreSQL a mark is a round trip to the server either way, and the
    /// pool's test replaces a connection the server dropped, so marks go
    /// through the pool there.
    pub async fn marking(&self) -> Result<Marking> {
        let own = match self.backend {
            Backend::Sqlite => Some(self.pool.acquire().await.map_err(q("marking messages sent"))?.detach()),
            Backend::Postgres => None,
        };
        Ok(Marking { state: self.clone(), own })
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

/// A sender's way to mark its messages sent: see [`StateStore::marking`].
pub struct Marking {
    state: StateStore,
    own: Option<AnyConnection>,
}

impl Marking {
    /// [`StateStore::mark_sent_many`], on this marking's own connection if
    /// it has one.
    pub async fn mark_sent_many(&mut self, ids: &[i64], owner: &str, now: DateTime<Utc>) -> Result<()> {
        match self.own.as_mut() {
            Some(conn) => {
                let _writing = self.state.writing().await;
                self.state.mark_sent_on(conn, ids, owner, now).await
            }
            None => self.state.mark_sent_many(ids, owner, now).await,
        }
    }
}

impl StateStore {
    /// Marks `ids` sent on `conn`: one statement up to ROWS_PER_STATEMENT
    /// ids (a sender's groups are at most `mail.connections`); beyond, a
    /// transaction. Counted toward the next checkpoint (`checkpoint`), which
    /// runs beside the writer that the caller holds (`StateStore::writing`).
    async fn mark_sent_on(&self, conn: &mut AnyConnection, ids: &[i64], owner: &str, now: DateTime<Utc>) -> Result<()> {
        if ids.len() <= ROWS_PER_STATEMENT {
            mark_sent_chunk(&mut *conn, ids, owner, now).await?;
        } else {
            let mut tx = conn.begin().await.map_err(q("marking messages sent"))?;
            for chunk in ids.chunks(ROWS_PER_STATEMENT) {
                mark_sent_chunk(&mut *tx, chunk, owner, now).await?;
            }
            tx.commit().await.map_err(q("marking messages sent"))?;
        }
        self.checkpoint_after(PAGES_A_MARK_GROUP);
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
