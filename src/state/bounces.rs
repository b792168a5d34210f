//! Reports received at the return path (issue 20): which message one names
//! ([`StateStore::bounce_target`], [`StateStore::bounce_target_by_message_id`])
//! and applying a message's reports once ([`StateStore::apply_reports`]);
//! whether they made an address one never to mail ([`StateStore::never_mailed`]).
//!
//! The bounce policy is here, in SQL, in one place; every path that learns
//! how a message fared goes through these statements:
//! - hard → suppressed ([`HARD`]): a report, or the relay refusing the
//!   recipient in bantin's own conversation ([`StateStore::apply_refusal`]);
//! - soft → counted in `bounce_count`, bouncing at the limit ([`SOFT`]):
//!   a report (`bounces.soft_limit`), or a 5xx to the sender or the message
//!   in bantin's own conversation ([`StateStore::record_bounce`],
//!   `mail.bounce_limit`). "In a row": a report counts on only if no
//!   message to the subscriber between their previous bounced message and
//!   this one went unreported; one did get through, so the count restarts
//!   ([`BROKEN_ROW`]);
//! - delivered → count 0, bouncing → active ([`DELIVERED`]): a DSN with
//!   `Action: delivered`; without `mail.return_path` the relay accepting
//!   the message ([`StateStore::record_delivered`]); with it, a message
//!   unreported for `bounces.delivered_after` ([`StateStore::settle_bouncing`]);
//! - complaint → complained ([`COMPLAINT`]);
//! - delayed and ignored → recorded only.
//!
//! Lifting a suppression by hand is `lift.rs`.

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
    Delivered,
    Complaint,
    Ignored,
}

impl ReportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::Hard => "hard",
            ReportKind::Soft => "soft",
            ReportKind::Delayed => "delayed",
            ReportKind::Delivered => "delivered",
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
        COALESCE(o.subscriber_id, (SELECT s.id FROM subscribers s WHERE LOWER(s.email) = LOWER(o.recipient))) AS subscriber_id
     FROM outbox o";

/// Hard: subscriber `$1` suppressed, `$2` the reason, `$3` the time. A
/// complaint stays a complaint.
const HARD: &str = "UPDATE subscribers SET last_bounce_reason = $2, last_bounce_at = $3,
        status = CASE WHEN status = 'complained' THEN status ELSE 'suppressed' END
     WHERE id = $1";

/// Soft: one failure more for subscriber `$1` (`$2` reason, `$3` time),
/// bouncing once `$4` (the limit) are counted.
const SOFT: &str = "UPDATE subscribers SET last_bounce_reason = $2, last_bounce_at = $3,
        bounce_count = bounce_count + 1,
        status = CASE WHEN bounce_count + 1 >= $4 AND status = 'active' THEN 'bouncing' ELSE status END
     WHERE id = $1";

/// Complaint: subscriber `$1` complained (`$2` reason, `$3` time).
const COMPLAINT: &str =
    "UPDATE subscribers SET last_bounce_reason = $2, last_bounce_at = $3, status = 'complained' WHERE id = $1";

/// Delivered: the failures were not in a row after all. Suppressed and
/// complained subscribers stay so (only an admin lifts them); the
/// statements below add which subscribers.
const DELIVERED: &str = "UPDATE subscribers SET bounce_count = 0,
        status = CASE WHEN status = 'bouncing' THEN 'active' ELSE status END
     WHERE status IN ('pending', 'active', 'bouncing')";

/// For a soft report about outbox row `$2` of subscriber `$1`: a message
/// to them went out between their previous bounced message and this one,
/// and no failure (hard or soft; a delay is not one) was reported for it.
/// Reports come in about the order the messages went out (a soft one
/// after the relay's queue lifetime, the same for each), so by the time
/// this one's comes, that one's would have: it was delivered, and this
/// report starts a new row.
const BROKEN_ROW: &str = "EXISTS (
        SELECT 1 FROM outbox m JOIN outbox x ON x.id = $2
        WHERE m.subscriber_id = $1 AND m.status = 'sent' AND m.sent_at < x.sent_at
          AND NOT EXISTS (SELECT 1 FROM bounce_reports r WHERE r.outbox_id = m.id AND r.kind IN ('hard', 'soft'))
          AND m.sent_at > COALESCE((
              SELECT MAX(p.sent_at) FROM outbox p JOIN bounce_reports b ON b.outbox_id = p.id
              WHERE p.subscriber_id = $1 AND p.sent_at < x.sent_at AND b.kind IN ('hard', 'soft')), -1))";

/// For [`StateStore::settle_bouncing`]: a subscriber with failures counted
/// has a message that went out after their last bounce and before `$1`
/// (`bounces.delivered_after` ago). A failure reported for it would have
/// moved `last_bounce_at` past it, so none was: it was delivered.
const DELIVERED_SINCE: &str = "bounce_count > 0 AND EXISTS (
        SELECT 1 FROM outbox m WHERE m.subscriber_id = subscribers.id AND m.status = 'sent'
          AND m.sent_at > COALESCE(subscribers.last_bounce_at, -1) AND m.sent_at <= $1)";

/// SQL put together here from the constants above, never data.
fn sql(text: String) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(text)
}

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
        let query = sqlx::query(super::statements::sql(text));
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
            if let Some(Target { outbox_id, subscriber_id: Some(id) }) = row.target {
                apply(&mut tx, id, outbox_id, row, soft_limit, now).await?;
            }
        }
        tx.commit().await.map_err(q("recording a bounce"))?;
        Ok(true)
    }

    /// The relay refused outbox row `outbox_id`'s recipient in bantin's own
    /// SMTP conversation (`550 5.1.1` to RCPT TO): a hard bounce, recorded
    /// and applied as a received report would be (`smtp/<id>` naming it,
    /// so a second call changes nothing). `reason`: the relay's answer.
    pub async fn apply_refusal(&self, outbox_id: i64, reason: &str, now: DateTime<Utc>) -> Result<()> {
        let target = self.bounce_target(outbox_id).await?;
        let row = ReportRow { kind: ReportKind::Hard, target, reason: bantin_core::report::reason_line(reason) };
        // A hard report takes no soft limit.
        self.apply_reports(&format!("smtp/{outbox_id}"), &[row], u32::MAX, now).await?;
        Ok(())
    }

    /// A permanent (5xx) failure about the sender or the message in
    /// bantin's own SMTP conversation (MAIL FROM, DATA): counted as a soft
    /// failure toward `limit` (`mail.bounce_limit`), `reason` (the relay's
    /// answer) kept as the last bounce's.
    pub async fn record_bounce(&self, id: i64, limit: u32, reason: &str, now: DateTime<Utc>) -> Result<()> {
        sqlx::query(SOFT)
            .bind(id)
            .bind(bantin_core::report::reason_line(reason))
            .bind(to_ms(now))
            .bind(i64::from(limit))
            .execute(&self.pool)
            .await
            .map_err(q("counting a bounce"))?;
        Ok(())
    }

    /// Without `mail.return_path` no report can come back, so the relay
    /// accepting a message to subscriber `id` is the delivery: their
    /// failures were not in a row. The sender calls it only for
    /// subscribers with failures counted (`OutboxRow::bounce_count`), so
    /// most messages cost nothing more than their mark.
    pub async fn record_delivered(&self, id: i64) -> Result<()> {
        let _writing = self.writing().await;
        sqlx::query(sql(format!("{DELIVERED} AND id = $1")))
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(q("recording a delivery"))?;
        Ok(())
    }

    /// With `mail.return_path`, the relay accepts everything and reports
    /// failures later: a message that went out after a subscriber's last
    /// bounce and before `delivered_before` (`bounces.delivered_after` ago)
    /// with no report was delivered. Such subscribers' counts go to 0 and
    /// bouncing ones are active again; how many. One statement, at the
    /// start of each digest run.
    pub async fn settle_bouncing(&self, delivered_before: DateTime<Utc>) -> Result<u64> {
        let _writing = self.writing().await;
        let n = sqlx::query(sql(format!("{DELIVERED} AND {DELIVERED_SINCE}")))
            .bind(to_ms(delivered_before))
            .execute(&self.pool)
            .await
            .map_err(q("returning delivered subscribers to active"))?
            .rows_affected();
        Ok(n)
    }

    /// The subscriber whose reports make `email` an address never to mail
    /// (`Status::never_mailed`: suppressed or complained), the address
    /// compared without regard to case: mailboxes ignore it, so a hard
    /// bounce of `Gone@example.org` is one of `gone@example.org` too.
    pub async fn never_mailed(&self, email: &str) -> Result<Option<Subscriber>> {
        Ok(self.subscriber_by_email(email).await?.filter(|sub| sub.status.never_mailed()))
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

/// Applies one report about outbox row `outbox_id` to subscriber `id`: the
/// policy's statement for its kind.
async fn apply(
    conn: &mut sqlx::AnyConnection,
    id: i64,
    outbox_id: i64,
    row: &ReportRow,
    soft_limit: u32,
    now: DateTime<Utc>,
) -> Result<()> {
    let failure = |text: &'static str| sqlx::query(text).bind(id).bind(row.reason.as_str()).bind(to_ms(now));
    let done = match row.kind {
        ReportKind::Hard => failure(HARD).execute(&mut *conn).await,
        ReportKind::Complaint => failure(COMPLAINT).execute(&mut *conn).await,
        ReportKind::Soft => {
            // A delivery since their previous bounce: this one starts a new row.
            sqlx::query(sql(format!("{DELIVERED} AND id = $1 AND {BROKEN_ROW}")))
                .bind(id)
                .bind(outbox_id)
                .execute(&mut *conn)
                .await
                .map_err(q("applying a bounce"))?;
            failure(SOFT).bind(i64::from(soft_limit)).execute(&mut *conn).await
        }
        ReportKind::Delivered => sqlx::query(sql(format!("{DELIVERED} AND id = $1"))).bind(id).execute(&mut *conn).await,
        ReportKind::Delayed | ReportKind::Ignored => return Ok(()),
    };
    done.map_err(q("applying a bounce"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{DIGEST_STATUSES, NEVER_MAILED_STATUSES, Status};

    #[test]
    /// Bouncing subscribers are retried at the next period: the digest
    /// query reads them as the planner plans them.
    fn the_digest_query_lists_the_statuses_that_get_digests() {
        for status in Status::ALL {
            let listed = DIGEST_STATUSES.contains(&format!("'{}'", status.as_str()));
            assert_eq!(listed, status.gets_digests(), "{status:?}");
        }
    }

    #[test]
    /// An unsubscribe leaves a never-mailed subscriber so: its query lists
    /// the statuses `Status::never_mailed` names.
    fn the_unsubscribe_query_lists_the_statuses_never_mailed() {
        for status in Status::ALL {
            let listed = NEVER_MAILED_STATUSES.contains(&format!("'{}'", status.as_str()));
            assert_eq!(listed, status.never_mailed(), "{status:?}");
        }
    }
}
