//! The digest archive's rows (`digest_archive`, migration 7): for each
//! period that digests were committed for, its site-wide digest's article
//! ids, newest first. Written by the digest commit (`outbox.rs`) in the
//! transaction of the period's first committed digests, so a period has a
//! row if and only if some digest of it is in the outbox; read by the
//! archive pages (`crate::archive`). Nothing about a person is stored.

use super::{from_ms, get, q, to_ms, Frequency, Result, StateError, StateStore};
use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;

/// A sent period's site-wide digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveEntry {
    /// The planner's key: `daily:2026-11-30`, `weekly:2026-W49`.
    pub period_key: String,
    pub frequency: Frequency,
    /// The scheduled end of the period: the archive's order.
    pub period_end: DateTime<Utc>,
    /// When its first digests were committed.
    pub sent_at: DateTime<Utc>,
    /// Newest first, listed and counted ones alike.
    pub article_ids: Vec<String>,
}

/// A page of the archive, newest first.
#[derive(Debug, Clone, Default)]
pub struct ArchivePage {
    pub entries: Vec<ArchiveEntry>,
    /// Periods in the whole archive.
    pub total: u64,
    /// When the latest period was recorded; `None` while it is empty.
    pub newest: Option<DateTime<Utc>>,
}

/// Records `entries`, keeping a period's first row (a later run or another
/// instance committing more digests of it changes nothing). A statement
/// each: a run has a period or two.
pub(super) async fn record(tx: &mut sqlx::Transaction<'_, sqlx::Any>, entries: &[&ArchiveEntry]) -> Result<()> {
    for e in entries {
        let ids = serde_json::to_string(&e.article_ids).map_err(|err| StateError::Corrupt(format!("archive ids: {err}")))?;
        sqlx::query(
            "INSERT INTO digest_archive (period_key, frequency, period_end, sent_at, article_ids) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (period_key) DO NOTHING",
        )
        .bind(e.period_key.as_str())
        .bind(e.frequency.as_str())
        .bind(to_ms(e.period_end))
        .bind(to_ms(e.sent_at))
        .bind(ids)
        .execute(&mut **tx)
        .await
        .map_err(q("recording the digest archive"))?;
    }
    Ok(())
}

macro_rules! columns {
    () => {
        "SELECT period_key, frequency, period_end, sent_at, article_ids FROM digest_archive "
    };
}

fn entry(r: &AnyRow) -> Result<ArchiveEntry> {
    let period_key: String = get(r, "period_key")?;
    let frequency: String = get(r, "frequency")?;
    let ids: String = get(r, "article_ids")?;
    Ok(ArchiveEntry {
        frequency: Frequency::parse(&frequency)
            .ok_or_else(|| StateError::Corrupt(format!("digest_archive {period_key}: frequency {frequency:?}")))?,
        article_ids: serde_json::from_str(&ids)
            .map_err(|e| StateError::Corrupt(format!("digest_archive {period_key}: article ids: {e}")))?,
        period_end: from_ms(get(r, "period_end")?),
        sent_at: from_ms(get(r, "sent_at")?),
        period_key,
    })
}

impl StateStore {
    /// The archived digest of a period, if digests of it were sent.
    pub async fn archive_entry(&self, period_key: &str) -> Result<Option<ArchiveEntry>> {
        let row = sqlx::query(concat!(columns!(), "WHERE period_key = $1")).bind(period_key).fetch_optional(&self.pool).await.map_err(q("reading the digest archive"))?;
        row.as_ref().map(entry).transpose()
    }

    /// Up to `limit` archived periods from the `skip`-th, newest first,
    /// how many there are in all and when the last was recorded.
    pub async fn archive_entries(&self, skip: u64, limit: u64) -> Result<ArchivePage> {
        let rows = sqlx::query(concat!(columns!(), "ORDER BY period_end DESC, period_key DESC LIMIT $1 OFFSET $2"))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .bind(i64::try_from(skip).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(q("reading the digest archive"))?;
        let all = sqlx::query("SELECT COUNT(*) AS n, MAX(sent_at) AS newest FROM digest_archive")
            .fetch_one(&self.pool)
            .await
            .map_err(q("counting the digest archive"))?;
        let total: i64 = get(&all, "n")?;
        let newest: Option<i64> = get(&all, "newest")?;
        Ok(ArchivePage {
            entries: rows.iter().map(entry).collect::<Result<Vec<_>>>()?,
            total: u64::try_from(total).unwrap_or(0),
            newest: newest.map(from_ms),
        })
    }
}
