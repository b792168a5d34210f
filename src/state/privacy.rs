//! What the state database forgets: a person on request
//! ([`StateStore::forget`], `bantin subscribers forget`), a sign-up never
//! confirmed once its links have expired
//! ([`StateStore::forget_expired_sign_ups`]: the address of someone who
//! never agreed, or of a stranger whose address was typed into the form,
//! is not kept), and the bodies of messages that went out once
//! `retention.mail_bodies` has passed ([`StateStore::drop_mail_bodies`]).
//!
//! What each table holds about a person (migrations 1–5):
//! - `subscribers`: the address, topics, frequency, status, the times of
//!   sign-up and confirmation, bounces, the digest watermark;
//! - `sent_articles`: which articles they were sent (by subscriber id), as
//!   bantin recorded it before the watermark alone decided what is new
//!   (`digest::plan`); nothing writes or reads it now, and an erasure
//!   still deletes a person's rows;
//! - `outbox`: every message to them (`recipient` is the address; a
//!   confirmation mail has it even when `subscriber_id` is not set), with
//!   the relay's last error, which may quote the address;
//! - `outbox_bodies`: the whole message (or its own part, when the rest is
//!   in `outbox_common`): address, name of the list, their links (tokens
//!   naming their subscriber id);
//! - `bounce_reports` (migrations 4, 5): the reports received about their
//!   messages (subscriber id, outbox id, the report's diagnostic, which
//!   may quote the address); `subscribers` also holds the last one's
//!   reason and time;
//! - `send_audit`: per attempt the outbox row, the Message-ID (a hash of
//!   subscriber id and period) and the relay's answer (may quote the
//!   address);
//! - `articles_seen`, `token_key`, `digest_archive` (migration 7: a
//!   period's site-wide article ids), `outbox_common` (migration 11: the
//!   parts of digests that all subscribers of a shape share, rendered with
//!   stand-ins for their address and links; the sender keeps those it read
//!   in memory, `common::Recent`), `day_counts` (migration 14: how many
//!   messages of each kind were sent, and reports of each kind received,
//!   each UTC day), `_sqlx_migrations`: nothing about anyone.
//!
//! An erasure (`forget`, or of an expired sign-up) deletes their
//! subscriber rows (`forget`: any case of the address), their
//! `sent_articles`, the bounce reports about them or their messages, every
//! outbox row to them (`forget`) or of their subscriber id and its body
//! (and the shared bytes no other body names), and makes their audit rows
//! anonymous: the outcome and time stay (the counts of sends and failures
//! stay true, as `day_counts` do), the outbox id,
//! Message-ID and relay answer go. Links in mails already delivered name a
//! subscriber id that no longer exists and that is never given again
//! (AUTOINCREMENT, BIGSERIAL), so they lead nowhere.
//!
//! On SQLite every connection runs with `secure_delete` (deleted content
//! is overwritten in the file, not left in free pages), and every erasure ends
//! with a WAL checkpoint that truncates the WAL, which held the old pages.
//! PostgreSQL keeps dead rows in its files until VACUUM (autovacuum, soon
//! after); backups are the operator's to expire.

use super::{Backend, Result, StateStore, q, to_ms};
use chrono::{DateTime, Utc};
use sqlx::Connection as _;

/// The subscriber rows of the address `$1`, in any case.
const THEIR_IDS: &str = concat!("SELECT id FROM subscribers WHERE ", super::same_address!());

/// The sign-ups whose confirmation links have all expired: pending
/// subscribers whose newest confirmation mail was queued before `$1`.
/// Pending subscribers with no confirmation mail (added by an operator,
/// imported) are the operator's to keep.
const EXPIRED_SIGN_UPS: &str = "SELECT s.id FROM subscribers s JOIN outbox o ON o.subscriber_id = s.id
     WHERE s.status = 'pending' AND o.period_key LIKE 'confirm:%'
     GROUP BY s.id HAVING MAX(o.created_at) < $1";

/// The bodies of messages sent or given up before `$1`, among the outbox
/// rows from `$2` (the oldest body kept) on. The status is asked with
/// `NOT IN`, which no index answers, so SQLite walks the rows by id from
/// `$2`: with `IN ('sent', 'failed')` it took the status index through
/// every sent row ever (2.0-2.7 s an hourly prune, the writer held, with
/// a year of 10,000 daily digests; 3 ms this way). The two lists are the
/// same rows: `status` has four values (migration 1).
const OLD_BODIES: &str = "DELETE FROM outbox_bodies WHERE outbox_id IN (
    SELECT id FROM outbox WHERE id >= $2 AND status NOT IN ('queued', 'sending') AND COALESCE(sent_at, created_at) < $1)";

/// How many subscribers one erasure of [`Whom::Subscribers`] takes: each
/// statement binds them all.
const ERASED_AT_ONCE: usize = 500;

/// Whom an erasure is of, bound from `$1` on in the statements of [`erase`].
#[derive(Clone, Copy)]
enum Whom<'a> {
    /// The subscriber rows `ids` of the address `email` (any case, read by
    /// [`THEIR_IDS`]) and every message to it: those of their ids, and
    /// those with no subscriber id (a confirmation mail or a seed copy;
    /// a message whose subscriber row was removed, `ON DELETE SET NULL`).
    /// Those are all: a message's subscriber is the person at its
    /// recipient address, which no statement changes. Found through the
    /// index on `outbox.subscriber_id` (it holds the no-ids too): by its
    /// recipient alone, the outbox was read whole four times (a year of
    /// 10,000 daily digests: 2.5-3.5 s on SQLite, the writer held, and
    /// 3.5 s on PostgreSQL; 0.3 and 0.6 s, the audit's read, this way).
    /// `$1` the address, the ids from `$2`.
    Address { email: &'a str, ids: &'a [i64] },
    /// The subscribers with these ids (at most [`ERASED_AT_ONCE`]) and the
    /// messages of their ids. Together, not one by one: making their
    /// audit rows anonymous reads the whole audit table, a row per attempt
    /// ever made (0.6 s with a year of 10,000 daily digests), once for
    /// all of them. An index on it would spare that read but cost every
    /// sent mark an entry (a group of three marks' commit 63 → 88 µs).
    Subscribers(&'a [i64]),
}

/// What [`StateStore::forget`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Forgotten {
    pub subscribers: u64,
    pub messages: u64,
    pub audit_rows: u64,
    pub sent_articles: u64,
}

impl StateStore {
    /// Erases the person at `email` from every table (see the module doc),
    /// in one transaction: all of it or, on an error, none.
    pub async fn forget(&self, email: &str) -> Result<Forgotten> {
        let _writing = self.writing().await;
        let mut conn = self.pool.acquire().await.map_err(q("forgetting a person"))?;
        let mut tx = conn.begin().await.map_err(q("forgetting a person"))?;
        let email = email.trim();
        let ids: Vec<i64> = sqlx::query_scalar(THEIR_IDS).bind(email).fetch_all(&mut *tx).await.map_err(q("forgetting a person"))?;
        let forgotten = erase(&mut tx, Whom::Address { email, ids: &ids }).await?;
        super::common::drop_unused(&mut tx).await?;
        tx.commit().await.map_err(q("forgetting a person"))?;
        self.truncate_wal(&mut conn).await;
        Ok(forgotten)
    }

    /// Erases, as [`forget`](Self::forget) does, every sign-up whose
    /// confirmation links were all made before `before` (see
    /// `EXPIRED_SIGN_UPS`): nobody agreed to be mailed at that address, and
    /// no link can confirm it any more. One transaction; how many.
    pub async fn forget_expired_sign_ups(&self, before: DateTime<Utc>) -> Result<u64> {
        const WHAT: &str = "forgetting sign-ups never confirmed";
        let _writing = self.writing().await;
        let mut conn = self.pool.acquire().await.map_err(q(WHAT))?;
        let mut tx = conn.begin().await.map_err(q(WHAT))?;
        // Read inside the transaction, before any row goes: the condition
        // reads the outbox rows that the erasure deletes.
        let ids: Vec<i64> = sqlx::query_scalar(EXPIRED_SIGN_UPS).bind(to_ms(before)).fetch_all(&mut *tx).await.map_err(q(WHAT))?;
        // Counted by the rows deleted: another instance pruning at the same
        // moment may have erased some of them first (PostgreSQL).
        let mut erased = 0;
        for some in ids.chunks(ERASED_AT_ONCE) {
            erased += erase(&mut tx, Whom::Subscribers(some)).await?.subscribers;
        }
        if erased > 0 {
            super::common::drop_unused(&mut tx).await?;
        }
        tx.commit().await.map_err(q(WHAT))?;
        if erased > 0 {
            self.truncate_wal(&mut conn).await;
        }
        Ok(erased)
    }

    /// Drops the bodies of messages sent (or given up) before `before`,
    /// keeping their outbox and audit rows; returns how many.
    ///
    /// Only the outbox rows from the oldest body kept on are looked at
    /// ([`OLD_BODIES`]): the rows before it lost theirs at an earlier
    /// prune, and they are the outbox's whole history.
    pub async fn drop_mail_bodies(&self, before: DateTime<Utc>) -> Result<u64> {
        const WHAT: &str = "dropping old message bodies";
        let _writing = self.writing().await;
        let mut conn = self.pool.acquire().await.map_err(q(WHAT))?;
        let mut tx = conn.begin().await.map_err(q(WHAT))?;
        let oldest: Option<i64> =
            sqlx::query_scalar("SELECT MIN(outbox_id) FROM outbox_bodies").fetch_one(&mut *tx).await.map_err(q(WHAT))?;
        let Some(oldest) = oldest else { return Ok(0) };
        let n = sqlx::query(OLD_BODIES)
            .bind(to_ms(before))
            .bind(oldest)
            .execute(&mut *tx)
            .await
            .map_err(q(WHAT))?
            .rows_affected();
        if n > 0 {
            super::common::drop_unused(&mut tx).await?;
        }
        tx.commit().await.map_err(q(WHAT))?;
        if n > 0 {
            self.truncate_wal(&mut conn).await;
        }
        Ok(n)
    }

    /// SQLite: copies the WAL into the database and empties it, so the
    /// pages that held what was just deleted are gone from the WAL too.
    /// A reader may hold it; then the next checkpoint does it (logged).
    async fn truncate_wal(&self, conn: &mut sqlx::pool::PoolConnection<sqlx::Any>) {
        if self.backend != Backend::Sqlite {
            return;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut **conn).await {
            tracing::warn!("state database: truncating the WAL after an erasure: {e}");
        }
    }
}

/// Deletes `whom`'s rows from every table and makes their audit rows
/// anonymous (see the module doc), inside `tx`.
async fn erase(tx: &mut sqlx::Transaction<'_, sqlx::Any>, whom: Whom<'_>) -> Result<Forgotten> {
    let mut counts = [0u64; 6];
    for (n, text) in counts.iter_mut().zip(erasure(whom)) {
        let query = sqlx::query(super::statements::sql(text));
        let query = match whom {
            Whom::Address { email, ids } => ids.iter().fold(query.bind(email), |query, id| query.bind(*id)),
            Whom::Subscribers(ids) => ids.iter().fold(query, |query, id| query.bind(*id)),
        };
        *n = query.execute(&mut **tx).await.map_err(q("forgetting a person"))?.rows_affected();
    }
    let [audit_rows, _, _, messages, sent_articles, subscribers] = counts;
    Ok(Forgotten { subscribers, messages, audit_rows, sent_articles })
}

/// The statements of an erasure of `whom` (bound from `$1` on), in order: their
/// audit rows made anonymous, then their bounce reports, bodies, messages,
/// sent articles and subscriber rows deleted.
fn erasure(whom: Whom<'_>) -> [String; 6] {
    let (ids, messages) = match whom {
        Whom::Address { ids, .. } => {
            let ids = super::statements::list(ids.len(), 2);
            let messages = format!("subscriber_id IN ({ids}) OR (subscriber_id IS NULL AND LOWER(recipient) = LOWER($1))");
            (ids, messages)
        }
        Whom::Subscribers(some) => {
            let ids = super::statements::list(some.len(), 1);
            let messages = format!("subscriber_id IN ({ids})");
            (ids, messages)
        }
    };
    [
        format!(
            "UPDATE send_audit SET outbox_id = 0, message_id = '', detail = NULL
             WHERE outbox_id IN (SELECT id FROM outbox WHERE {messages})"
        ),
        format!(
            "DELETE FROM bounce_reports
             WHERE subscriber_id IN ({ids}) OR outbox_id IN (SELECT id FROM outbox WHERE {messages})"
        ),
        format!("DELETE FROM outbox_bodies WHERE outbox_id IN (SELECT id FROM outbox WHERE {messages})"),
        format!("DELETE FROM outbox WHERE {messages}"),
        format!("DELETE FROM sent_articles WHERE subscriber_id IN ({ids})"),
        format!("DELETE FROM subscribers WHERE id IN ({ids})"),
    ]
}

#[cfg(test)]
mod tests;
