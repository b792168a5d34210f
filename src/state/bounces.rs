//! Reports received at the return path (issue 20): which message one names
//! ([`StateStore::bounce_target`], [`StateStore::bounce_target_by_message_id`])
//! and applying a message's reports once ([`StateStore::apply_reports`]);
//! whether they made an address one never to mail ([`StateStore::never_mailed`]).
//! The policy per kind is here, in SQL, in one place: hard → suppressed,
//! soft → counted in `bounce_count` (the same count as the synchronous
//! 5xx of [`StateStore::record_bounce`]) and bouncing at the limit,
//! complaint → complained, delayed and ignored → recorded only.

use super::{Result, StateStore, Subscriber, q, to_ms};
use chrono::{DateTime, Utc};
use sqlx::Connection as _;
use sqlx::Row as _;

/// The outbox row a report is about, and its subscriber if any is left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub outbox_id: i64,
    pub subscriber_id: Option<i64>,
}

/// What a report does to its subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    Hard,
    Soft,
    Delayed,
    Complaint,
    Ignored,
}

impl ReportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::Hard => "hard",
            ReportKind::Soft => "soft",
            ReportKind::Delayed => "delayed",
            ReportKind::Complaint => "complaint",
            ReportKind::Ignored => "ignored",
        }
    }
}

/// One recipient's report, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    pub kind: ReportKind,
    pub target: Option<Target>,
    /// One line, bounded by the parser (status and diagnostic, or why
    /// the report was ignored).
    pub reason: String,
}

/// The row and its subscriber; a confirmation mail's row may have only
/// the address.
const TARGET: &str = "SELECT o.id AS outbox_id,
        COALESCE(o.subscriber_id, (SELECT s.id FROM subscribers s WHERE s.email = o.recipient)) AS subscriber_id
     FROM outbox o";

impl StateStore {
    /// The outbox row `id` (from a VERP token), if it still exists.
    pub async fn bounce_target(&self, id: i64) -> Result<Option<Target>> {
        self.target(format!("{TARGET} WHERE o.id = $1"), Arg::Id(id)).await
    }

    /// The outbox row whose Message-ID is `message_id` (without `<>`).
    pub async fn bounce_target_by_message_id(&self, message_id: &str) -> Result<Option<Target>> {
        self.target(format!("{TARGET} WHERE o.message_id = $1"), Arg::Text(message_id)).await
    }

    async fn target(&self, text: String, arg: Arg<'_>) -> Result<Option<Target>> {
        let query = sqlx::query(super::outbox::sql(text));
        let query = match arg {
            Arg::Id(id) => query.bind(id),
            Arg::Text(t) => query.bind(t.to_string()),
        };
        let row = query.fetch_optional(&self.pool).await.map_err(q("finding a bounced message"))?;
        row.map(|r| {
            Ok(Target {
                outbox_id: r.try_get("outbox_id").map_err(q("outbox_id"))?,
                subscriber_id: r.try_get("subscriber_id").map_err(q("subscriber_id"))?,
            })
        })
        .transpose()
    }

    /// Records `rows` (the reports of one received message, `fingerprint`
    /// naming the message) and applies each to its subscriber, in one
    /// transaction. False, and nothing changed, if this message was
    /// recorded before (by this instance or another).
    pub async fn apply_reports(&self, fingerprint: &str, rows: &[ReportRow], soft_limit: u32, now: DateTime<Utc>) -> Result<bool> {
        let _writing = self.writing().await;
        let mut conn = self.pool.acquire().await.map_err(q("recording a bounce"))?;
        let mut tx = conn.begin().await.map_err(q("recording a bounce"))?;
        for (i, row) in rows.iter().enumerate() {
            let inserted = sqlx::query(
                "INSERT INTO bounce_reports (received_at, kind, subscriber_id, outbox_id, reason, fingerprint)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (fingerprint) DO NOTHING",
            )
            .bind(to_ms(now))
            .bind(row.kind.as_str())
            .bind(row.target.and_then(|t| t.subscriber_id))
            .bind(row.target.map(|t| t.outbox_id))
            .bind(&row.reason)
            .bind(format!("{fingerprint}/{i}"))
            .execute(&mut *tx)
            .await
            .map_err(q("recording a bounce"))?
            .rows_affected();
            if inserted == 0 {
                // Dropping the transaction rolls it back.
                return Ok(false);
            }
            let Some(id) = row.target.and_then(|t| t.subscriber_id) else { continue };
            let update = match row.kind {
                ReportKind::Hard => Some(
                    "UPDATE subscribers SET last_bounce_reason = $2, last_bounce_at = $3,
                        status = CASE WHEN status = 'complained' THEN status ELSE 'suppressed' END
                     WHERE id = $1 AND $4 >= 0",
                ),
                ReportKind::Soft => Some(
                    "UPDATE subscribers SET last_bounce_reason = $2, last_bounce_at = $3,
                        bounce_count = bounce_count + 1,
                        status = CASE WHEN bounce_count + 1 >= $4 AND status = 'active' THEN 'bouncing' ELSE status END
                     WHERE id = $1",
                ),
                ReportKind::Complaint => Some(
                    "UPDATE subscribers SET last_bounce_reason = $2, last_bounce_at = $3, status = 'complained'
                     WHERE id = $1 AND $4 >= 0",
                ),
                ReportKind::Delayed | ReportKind::Ignored => None,
            };
            if let Some(text) = update {
                // Every statement takes the same four parameters ($4, the
                // soft limit, only counts for a soft bounce).
                sqlx::query(text)
                    .bind(id)
                    .bind(&row.reason)
                    .bind(to_ms(now))
                    .bind(i64::from(soft_limit))
                    .execute(&mut *tx)
                    .await
                    .map_err(q("applying a bounce"))?;
            }
        }
        tx.commit().await.map_err(q("recording a bounce"))?;
        Ok(true)
    }

    /// The subscriber whose reports make `email` an address never to mail
    /// (`Status::never_mailed`: suppressed or complained), the address
    /// compared without regard to case: mailboxes ignore it, so a hard
    /// bounce of `Gone@example.org` is one of `gone@example.org` too.
    pub async fn never_mailed(&self, email: &str) -> Result<Option<Subscriber>> {
        let rows = sqlx::query(super::subscriber_sql("WHERE LOWER(email) = LOWER($1)"))
            .bind(email)
            .fetch_all(&self.pool)
            .await
            .map_err(q("reading a subscriber"))?;
        for row in &rows {
            let sub = super::subscriber_from_row(row)?;
            if sub.status.never_mailed() {
                return Ok(Some(sub));
            }
        }
        Ok(None)
    }

    /// Reports recorded, by kind (for the tests and the operator).
    pub async fn bounce_report_counts(&self) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query("SELECT kind, COUNT(*) AS n FROM bounce_reports GROUP BY kind ORDER BY kind")
            .fetch_all(&self.pool)
            .await
            .map_err(q("counting bounce reports"))?;
        rows.iter()
            .map(|r| Ok((r.try_get("kind").map_err(q("kind"))?, r.try_get("n").map_err(q("n"))?)))
            .collect()
    }
}

enum Arg<'a> {
    Id(i64),
    Text(&'a str),
}
