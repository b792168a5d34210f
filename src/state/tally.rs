//! How many messages were ever sent, counted without reading them all
//! each time: `/metrics` asks at most every 5 s, the admin API's `stats` on
//! demand, and the outbox keeps a row per message ever sent (counting the
//! `sent` rows by status read every one: 0.34 s with a year of 10,000
//! daily digests, ten times that at 100,000, past the probe's 2 s).
//!
//! The count is of the audit's `sent` rows (the `outbox_sent_audit`
//! trigger writes one as a message turns sent; nothing deletes them, an
//! erasure only makes them anonymous), so it only grows, as the alerts on
//! its `delta` expect. [`Sent`] keeps it up to an audit id; each call
//! counts the rows after that. The last [`RECOUNTED`] ids are counted
//! again every time: on PostgreSQL a transaction can commit its row after
//! rows with later ids, and one that takes longer than that many marks
//! would be missed.

use super::{q, Result, StateStore};

/// The audit ids counted again at every call (see the module doc).
const RECOUNTED: i64 = 10_000;

/// The most audit ids one statement counts: a first count of a long
/// history goes in steps, each kept, so that a caller that gives up (the
/// metrics probe's timeout) leaves the next one less to do.
const STEP: i64 = 1_000_000;

/// The `sent` audit rows with ids in `($1, $2]`.
const SENT_BETWEEN: &str = "SELECT COUNT(*) FROM send_audit WHERE id > $1 AND id <= $2 AND outcome = 'sent'";

/// The `sent` audit rows with ids up to `upto`.
#[derive(Debug, Default)]
pub(super) struct Sent {
    upto: i64,
    sent: i64,
}

impl StateStore {
    /// How many messages were ever sent (see the module doc).
    pub(super) async fn sent_ever(&self) -> Result<i64> {
        let mut kept = self.sent.lock().await;
        let last: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM send_audit")
            .fetch_one(&self.pool)
            .await
            .map_err(q("counting sent messages"))?;
        let settled = last - RECOUNTED;
        while kept.upto < settled {
            let to = settled.min(kept.upto + STEP);
            kept.sent += self.sent_between(kept.upto, to).await?;
            kept.upto = to;
        }
        Ok(kept.sent + self.sent_between(kept.upto, last).await?)
    }

    /// The `sent` audit rows with ids in `(after, upto]`.
    async fn sent_between(&self, after: i64, upto: i64) -> Result<i64> {
        sqlx::query_scalar(SENT_BETWEEN)
            .bind(after)
            .bind(upto)
            .fetch_one(&self.pool)
            .await
            .map_err(q("counting sent messages"))
    }
}

#[cfg(test)]
mod tests {
    use super::{RECOUNTED, SENT_BETWEEN};
    use crate::state::outbox::UNSENT_COUNTS;
    use crate::state::{plan, temp_sqlite, StateStore};

    /// Issue 24 (a cost that grows gently): the counts `/metrics` shows
    /// read every outbox row, most of them sent (0.34 s with a year of
    /// 10,000 daily digests, at most every 5 s). Now the unsent ones come
    /// from the status index and the sent from a range of audit ids.
    #[tokio::test]
    async fn the_outbox_counts_read_no_table_whole() {
        let (_dir, state) = temp_sqlite().await;
        let unsent = plan(&state, UNSENT_COUNTS, 0).await;
        assert!(unsent.iter().any(|l| l.starts_with("SEARCH outbox USING COVERING INDEX outbox_due (status=?)")), "{unsent:?}");
        let sent = plan(&state, SENT_BETWEEN, 2).await;
        assert_eq!(sent, ["SEARCH send_audit USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"]);
        for line in unsent.iter().chain(&sent) {
            assert!(!line.starts_with("SCAN"), "{unsent:?} {sent:?}");
        }
    }

    /// Audit rows `ids`, each of `outcome`.
    async fn audit(state: &StateStore, ids: impl Iterator<Item = i64>, outcome: &str) {
        for id in ids {
            sqlx::query("INSERT INTO send_audit (id, outbox_id, message_id, at, outcome) VALUES ($1, $1, '', 0, $2)")
                .bind(id)
                .bind(outcome)
                .execute(&state.pool)
                .await
                .unwrap();
        }
    }

    /// Each call counts what came since, and a row committed late under
    /// an id already passed (PostgreSQL) is still counted within the
    /// recounted ids; anonymous rows (an erasure's) still count.
    #[tokio::test]
    async fn messages_sent_are_counted_once_each_as_they_come() {
        let (_dir, state) = temp_sqlite().await;
        assert_eq!(state.sent_ever().await.unwrap(), 0);
        audit(&state, 1..=3, "sent").await;
        audit(&state, 4..=4, "retry").await;
        assert_eq!(state.sent_ever().await.unwrap(), 3);
        let far = 3 * RECOUNTED;
        audit(&state, far..=far + 1, "sent").await;
        assert_eq!(state.sent_ever().await.unwrap(), 5);
        assert_eq!(state.sent.lock().await.upto, far + 1 - RECOUNTED, "all but the last ids kept");
        audit(&state, far - 5..=far - 5, "sent").await; // committed after later ids
        sqlx::query("UPDATE send_audit SET outbox_id = 0, message_id = '' WHERE id = 2").execute(&state.pool).await.unwrap();
        assert_eq!(state.sent_ever().await.unwrap(), 6);
        assert_eq!(state.sent_ever().await.unwrap(), 6, "nothing twice");
    }
}
