//! What the admin API reads and writes beyond the subscriber calls the CLI
//! uses too: a searched, paged subscriber list; the outbox's due and failed
//! messages with their reasons; counts per day (mail sent, reports
//! received); and the audit table of every change made through the API
//! (who by token name, what, to which subscriber id: never an address, so
//! `subscribers forget` leaves nothing of the person in it).

use super::statements::sql;
use super::{from_ms, get, q, subscriber_from_row, to_ms, Result, StateStore, Status, Subscriber, SUBSCRIBER_COLUMNS};
use chrono::{DateTime, Utc};

/// One row of the outbox as the admin sees it (no body).
#[derive(Debug, Clone, serde::Serialize)]
pub struct OutboxEntry {
    pub id: i64,
    pub message_id: String,
    pub kind: String,
    pub recipient: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Which outbox rows to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxView {
    /// Queued and due now or earlier, or being sent.
    Due,
    /// Given up (or refused for good), newest first.
    Failed,
}

/// One day (UTC) of activity.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DayCounts {
    pub day: String,
    /// Messages sent that day, by kind (`digest`, `confirm`, …).
    pub sent: std::collections::BTreeMap<String, i64>,
    /// Reports received that day, by kind (`hard`, `soft`, `complaint`, …).
    pub reports: std::collections::BTreeMap<String, i64>,
}

/// One audit row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub subscriber_id: Option<i64>,
    pub detail: String,
}

const DAY_MS: i64 = 86_400_000;

/// The kept counts of the days from `$1` (days since the epoch) on.
pub(super) const DAY_COUNTS: &str = "SELECT day, what, kind, n FROM day_counts WHERE day >= $1";

impl StateStore {
    /// Subscribers in `status` (any if `None`) whose address contains
    /// `search` (case-insensitive), by address, `limit` from `offset`; and
    /// how many match in all.
    pub async fn search_subscribers(&self, status: Option<Status>, search: &str, limit: i64, offset: i64) -> Result<(Vec<Subscriber>, i64)> {
        const MATCH: &str = "WHERE ($1 = '' OR status = $1) AND ($2 = '' OR LOWER(email) LIKE $3 ESCAPE '\\')";
        let status = status.map(Status::as_str).unwrap_or("");
        let needle = search.trim().to_lowercase();
        let pattern = format!("%{}%", needle.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        let total: i64 = get(
            &sqlx::query(sql(format!("SELECT COUNT(*) AS n FROM subscribers {MATCH}")))
                .bind(status)
                .bind(&needle)
                .bind(&pattern)
                .fetch_one(&self.pool)
                .await
                .map_err(q("counting subscribers"))?,
            "n",
        )?;
        let rows = sqlx::query(sql(format!("{SUBSCRIBER_COLUMNS} {MATCH} ORDER BY email LIMIT $4 OFFSET $5")))
            .bind(status)
            .bind(&needle)
            .bind(&pattern)
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await
            .map_err(q("listing subscribers"))?;
        Ok((rows.iter().map(subscriber_from_row).collect::<Result<_>>()?, total))
    }

    /// The outbox rows of `view`, at most `limit`.
    pub async fn outbox_entries(&self, view: OutboxView, now: DateTime<Utc>, limit: i64) -> Result<Vec<OutboxEntry>> {
        let filter = match view {
            OutboxView::Due => "WHERE (status = 'queued' AND next_attempt_at <= $1) OR status = 'sending' ORDER BY next_attempt_at",
            OutboxView::Failed => "WHERE status = 'failed' AND $1 >= 0 ORDER BY created_at DESC",
        };
        let text = format!(
            "SELECT id, message_id, kind, recipient, status, attempts, next_attempt_at, last_error, created_at FROM outbox {filter} LIMIT $2"
        );
        let rows = sqlx::query(sql(text)).bind(to_ms(now)).bind(limit).fetch_all(&self.pool).await.map_err(q("listing the outbox"))?;
        rows.iter()
            .map(|r| {
                Ok(OutboxEntry {
                    id: get(r, "id")?,
                    message_id: get(r, "message_id")?,
                    kind: get(r, "kind")?,
                    recipient: get(r, "recipient")?,
                    status: get(r, "status")?,
                    attempts: get(r, "attempts")?,
                    next_attempt_at: from_ms(get(r, "next_attempt_at")?),
                    last_error: get(r, "last_error")?,
                    created_at: from_ms(get(r, "created_at")?),
                })
            })
            .collect()
    }

    /// Mail sent and reports received per UTC day, from the day of `since`
    /// on, oldest first: the counts the database keeps as it marks a
    /// message sent or records a report (migration 14), a row a day and
    /// kind, so the cost is the days asked for, not the mail ever sent.
    pub async fn day_counts(&self, since: DateTime<Utc>) -> Result<Vec<DayCounts>> {
        let rows = sqlx::query(DAY_COUNTS).bind(to_ms(since).div_euclid(DAY_MS)).fetch_all(&self.pool).await.map_err(q("counting by day"))?;
        let mut days: std::collections::BTreeMap<i64, DayCounts> = Default::default();
        for r in &rows {
            let day: i64 = get(r, "day")?;
            let entry = days.entry(day).or_insert_with(|| DayCounts { day: from_ms(day * DAY_MS).format("%Y-%m-%d").to_string(), ..Default::default() });
            let counts = if get::<String>(r, "what")? == "sent" { &mut entry.sent } else { &mut entry.reports };
            counts.insert(get(r, "kind")?, get(r, "n")?);
        }
        Ok(days.into_values().collect())
    }

    /// Writes one audit row.
    pub async fn audit(&self, actor: &str, action: &str, subscriber_id: Option<i64>, detail: &str, now: DateTime<Utc>) -> Result<()> {
        let _writing = self.writing().await;
        sqlx::query("INSERT INTO admin_audit (at, actor, action, subscriber_id, detail) VALUES ($1, $2, $3, $4, $5)")
            .bind(to_ms(now))
            .bind(actor)
            .bind(action)
            .bind(subscriber_id)
            .bind(detail)
            .execute(&self.pool)
            .await
            .map_err(q("writing the admin audit"))?;
        Ok(())
    }

    /// The newest `limit` audit rows, newest first.
    pub async fn audit_entries(&self, limit: i64) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query("SELECT at, actor, action, subscriber_id, detail FROM admin_audit ORDER BY id DESC LIMIT $1")
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(q("reading the admin audit"))?;
        rows.iter()
            .map(|r| Ok(AuditEntry { at: from_ms(get(r, "at")?), actor: get(r, "actor")?, action: get(r, "action")?, subscriber_id: get(r, "subscriber_id")?, detail: get(r, "detail")? }))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::DAY_COUNTS;
    use crate::state::{plan, temp_sqlite};

    /// Issue 24 (a cost that grows gently): the console's counts by day
    /// read every outbox row and every report (`WHERE sent_at >= $1`, no
    /// index: 0.5 s with a year of 10,000 daily digests, at each load).
    /// Now they read the kept counts of the days asked for.
    #[tokio::test]
    async fn the_day_counts_read_the_days_asked_for_and_no_table_whole() {
        let (_dir, state) = temp_sqlite().await;
        assert_eq!(plan(&state, DAY_COUNTS, 1).await, ["SEARCH day_counts USING PRIMARY KEY (day>?)"]);
    }
}
