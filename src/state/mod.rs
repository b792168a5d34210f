//! The state database: subscribers, when each article was first seen, which
//! articles each subscriber was already sent, the outbox of rendered
//! messages and an audit of every send attempt.
//!
//! [`StateStore`] is the whole interface; nothing outside this room writes
//! SQL. `state.url` alone picks the backend ([`Backend`]): `sqlite:` (the
//! embedded default, WAL mode, one host) or `postgres://` (several
//! instances sharing one database). Both run through sqlx's `Any` driver,
//! so every query is written once: `$N` parameters, `ON CONFLICT`,
//! `RETURNING`, BIGINT milliseconds for times; the few PostgreSQL-only
//! statements (row locks, advisory locks, session liveness) branch on the
//! backend. Files: this one (the handle, subscribers), `digests.rs` (digest
//! bookkeeping: first-seen articles, recipients),
//! `connect.rs` (backends, pools, migrations), `outbox.rs` (digest commits,
//! the outbox: claims, marks, audit), `common.rs` (the bytes many outbox
//! messages share, stored once), `statements.rs` (multi-row statements), `instances.rs` (several
//! instances on one database: names, leases of the gone, the planner lock,
//! the shared token key), `bounces.rs` (reports received: matching them
//! to a message, applying them once; the bounce policy), `lift.rs` (an
//! admin lifting a suppression), `archive.rs` (each sent period's
//! site-wide digest, for `/archive/`), `privacy.rs` (erasing a person, dropping old
//! message bodies; what each table holds about a person), `checkpoint.rs`
//! (SQLite's log copied back beside the writer gate).
//!
//! Invariants:
//! - migrations (`migrations/sqlite`, `migrations/postgres`: the same
//!   tables) run in [`StateStore::open`], before anything else touches the
//!   database; sqlx's migrator holds a lock while it runs, so instances
//!   starting together migrate once;
//! - a digest's outbox row and the subscriber's watermark are written in
//!   one transaction
//!   ([`StateStore::commit_digests`]), so a crash leaves either all or none;
//! - `(subscriber, period)` has at most one outbox row (the Message-ID is a
//!   function of it and is UNIQUE, and the watermark is claimed with a
//!   conditional UPDATE that a concurrent transaction re-checks after the
//!   row lock), whichever instance plans it;
//! - an outbox row is leased to one sender at a time: on PostgreSQL the
//!   claim skips rows another transaction has locked (`FOR UPDATE SKIP
//!   LOCKED`), and an expired lease (a dead sender) can be claimed again.

mod admin;
mod archive;
mod checkpoint;
mod common;
mod connect;
mod instances;
mod outbox;
mod bounces;
mod choices;
mod digests;
mod lift;
mod marks;
mod privacy;
mod statements;
mod tally;

pub use admin::{AuditEntry, DayCounts, OutboxEntry, OutboxView};
pub use archive::{ArchiveEntry, ArchivePage};
pub use connect::{sqlite_path, Backend};
pub use instances::{instance_id, PlannerLock};
pub use bounces::{ReportKind, ReportRow, Target};
pub use digests::DIGEST_STATUSES;
pub use choices::Unsubscribe;
pub use lift::Lift;
pub use marks::Marking;
pub use privacy::Forgotten;
pub use bantin_core::subscriber::*;

/// A state store on a fresh SQLite file in a temporary folder, for the
/// rooms' own tests; the folder lasts as long as the returned guard.
#[cfg(test)]
pub(crate) async fn temp_sqlite() -> (tempfile::TempDir, StateStore) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let url = format!("sqlite://{}", dir.path().join("bantin.db").display());
    let state = StateStore::open(&url).await.expect("a fresh SQLite state");
    (dir, state)
}

/// SQLite's plan of `text`, with `binds` integer parameters bound: its
/// lines, for the rooms' tests of how much of the state a statement reads.
#[cfg(test)]
pub(crate) async fn plan(state: &StateStore, text: &str, binds: usize) -> Vec<String> {
    let explain = format!("EXPLAIN QUERY PLAN {text}");
    let mut query = sqlx::query(statements::sql(explain));
    for _ in 0..binds {
        query = query.bind(1_i64);
    }
    let rows = query.fetch_all(&state.pool).await.expect("a plan");
    rows.iter().map(|r| r.get::<String, _>("detail")).collect()
}

use std::sync::Arc;
use chrono::{DateTime, TimeZone, Utc};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state database {url}: cannot open it: {source}; check state.url and that the folder is writable")]
    Open { url: String, source: sqlx::Error },
    #[error("state database {url}: cannot connect: {source}; check state.url, that PostgreSQL runs and accepts this user")]
    Connect { url: String, source: sqlx::Error },
    #[error("state database {url}: {detail}")]
    Unsupported { url: String, detail: String },
    #[error("state database {url}: cannot create {folder}: {source}")]
    Folder { url: String, folder: PathBuf, source: std::io::Error },
    #[error("state database {url}: migrating the schema failed: {source}")]
    Migrate { url: String, source: sqlx::migrate::MigrateError },
    #[error("state database: {what}: {source}")]
    Query { what: &'static str, source: sqlx::Error },
    #[error("state database: {0}")]
    Corrupt(String),
}

type Result<T> = std::result::Result<T, StateError>;

fn q(what: &'static str) -> impl FnOnce(sqlx::Error) -> StateError {
    move |source| StateError::Query { what, source }
}

/// Milliseconds since the epoch, the unit of every time column.
pub fn to_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub fn from_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The handle on the state database; cheap to clone (a pool inside).
#[derive(Clone, Debug)]
pub struct StateStore {
    pool: AnyPool,
    backend: Backend,
    url: String,
    /// SQLite only: taken around the writes that run at the same time in a
    /// digest run (planning's commits, the sender's claims and marks).
    /// SQLite has one writer at a time anyway; a second one waits in its
    /// busy handler, which sleeps 1, 2, 5, 10… ms between tries (measured:
    /// ~190 sleeps in one 10k-digest run). Here it waits for the first to
    /// finish and goes on at once. PostgreSQL locks rows and needs none.
    writer: Option<Arc<tokio::sync::Mutex<()>>>,
    /// SQLite only: the checkpoints run beside the writer (`checkpoint`).
    checkpointer: Option<Arc<checkpoint::Checkpointer>>,
    /// Shared message bytes read lately (`common::Recent`).
    recent: Arc<common::Recent>,
    /// Messages ever sent, counted so far (`tally`).
    sent: Arc<tokio::sync::Mutex<tally::Sent>>,
}

/// The statuses never mailed, as an SQL list: those of
/// [`Status::never_mailed`] (a test holds the two together). A macro, so
/// queries are `concat!`ed constants.
macro_rules! never_mailed_statuses {
    () => {
        "('suppressed', 'complained')"
    };
}

pub(crate) use never_mailed_statuses;

/// [`never_mailed_statuses!`] as a value.
pub const NEVER_MAILED_STATUSES: &str = never_mailed_statuses!();

/// A subscriber row whose address is `$1` in any case: one subscriber per
/// address whatever its case (migration 12's unique index on the same
/// expression, which also serves the lookup). A macro, as above.
macro_rules! same_address {
    () => {
        "LOWER(email) = LOWER($1)"
    };
}
pub(crate) use same_address;

impl StateStore {
    /// Waits for this process's other SQLite writers (see `writer`).
    async fn writing(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match &self.writer {
            Some(gate) => Some(Arc::clone(gate).lock_owned().await),
            None => None,
        }
    }

    /// The URL with any password hidden, for messages.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Whether the database answers (for /healthz).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(q("ping"))?;
        Ok(())
    }

    // ---- subscribers ------------------------------------------------------

    /// Inserts a subscriber unless the address is already there, in any
    /// case; returns the stored subscriber and whether it was created now.
    pub async fn insert_subscriber(&self, new: &NewSubscriber) -> Result<(Subscriber, bool)> {
        let confirmed = (new.status == Status::Active).then(|| to_ms(new.now));
        let inserted = sqlx::query(
            "INSERT INTO subscribers (email, topics, frequency, status, created_at, confirmed_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(&new.email)
        .bind(new.topics.join(","))
        .bind(new.frequency.as_str())
        .bind(new.status.as_str())
        .bind(to_ms(new.now))
        .bind(confirmed)
        .execute(&self.pool)
        .await
        .map_err(q("adding a subscriber"))?
        .rows_affected()
            == 1;
        let sub = self
            .subscriber_by_email(&new.email)
            .await?
            .ok_or_else(|| StateError::Corrupt(format!("subscriber {} vanished after insert", new.email)))?;
        Ok((sub, inserted))
    }

    /// The subscriber at `email`, written in any case.
    pub async fn subscriber_by_email(&self, email: &str) -> Result<Option<Subscriber>> {
        let row = sqlx::query(subscriber_sql(concat!("WHERE ", same_address!())))
            .bind(email)
            .fetch_optional(&self.pool)
            .await
            .map_err(q("reading a subscriber"))?;
        row.map(|r| subscriber_from_row(&r)).transpose()
    }

    pub async fn subscriber_by_id(&self, id: i64) -> Result<Option<Subscriber>> {
        let row = sqlx::query(subscriber_sql("WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(q("reading a subscriber"))?;
        row.map(|r| subscriber_from_row(&r)).transpose()
    }

    /// Every subscriber, by address.
    pub async fn subscribers(&self) -> Result<Vec<Subscriber>> {
        let rows = sqlx::query(subscriber_sql("ORDER BY email"))
            .fetch_all(&self.pool)
            .await
            .map_err(q("listing subscribers"))?;
        rows.iter().map(subscriber_from_row).collect()
    }

    /// Deletes a subscriber and what refers to them (`sent_articles`); false
    /// if unknown. Their messages and audit rows stay: [`StateStore::forget`]
    /// erases those too.
    pub async fn remove_subscriber(&self, email: &str) -> Result<bool> {
        let n = sqlx::query(concat!("DELETE FROM subscribers WHERE ", same_address!()))
            .bind(email)
            .execute(&self.pool)
            .await
            .map_err(q("removing a subscriber"))?
            .rows_affected();
        Ok(n > 0)
    }

    /// How many subscribers are in each status (for /metrics: bouncing
    /// subscribers are the visible trace of permanent failures).
    pub async fn subscriber_counts(&self) -> Result<Vec<(Status, i64)>> {
        let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM subscribers GROUP BY status ORDER BY status")
            .fetch_all(&self.pool)
            .await
            .map_err(q("counting subscribers"))?;
        rows.iter()
            .map(|r| {
                let status = Status::parse(&get::<String>(r, "status")?)
                    .ok_or_else(|| StateError::Corrupt("a subscriber has an unknown status".into()))?;
                Ok((status, get::<i64>(r, "n")?))
            })
            .collect()
    }
}

const SUBSCRIBER_COLUMNS: &str = "SELECT id, email, topics, frequency, status, created_at, confirmed_at, bounce_count, \
     last_period, last_digest_at, last_bounce_reason, last_bounce_at FROM subscribers";

fn get<'r, T>(row: &'r AnyRow, col: &'static str) -> Result<T>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(col).map_err(q(col))
}

fn subscriber_from_row(r: &AnyRow) -> Result<Subscriber> {
    let topics: String = get(r, "topics")?;
    Ok(Subscriber {
        id: get(r, "id")?,
        email: get(r, "email")?,
        topics: split_topics(&topics),
        frequency: Frequency::parse(&get::<String>(r, "frequency")?)
            .ok_or_else(|| StateError::Corrupt("a subscriber has an unknown frequency".into()))?,
        status: Status::parse(&get::<String>(r, "status")?)
            .ok_or_else(|| StateError::Corrupt("a subscriber has an unknown status".into()))?,
        created_at: from_ms(get(r, "created_at")?),
        confirmed_at: get::<Option<i64>>(r, "confirmed_at")?.map(from_ms),
        bounce_count: get(r, "bounce_count")?,
        last_period: get(r, "last_period")?,
        last_digest_at: get::<Option<i64>>(r, "last_digest_at")?.map(from_ms),
        last_bounce_reason: get(r, "last_bounce_reason")?,
        last_bounce_at: get::<Option<i64>>(r, "last_bounce_at")?.map(from_ms),
    })
}

/// Topics as stored: comma-separated slugs, empty for the whole site.
pub fn split_topics(s: &str) -> Vec<String> {
    s.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect()
}

/// The subscriber SELECT with a constant tail (a WHERE or ORDER BY clause
/// written in this file, never data).
fn subscriber_sql(tail: &'static str) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(format!("{SUBSCRIBER_COLUMNS} {tail}"))
}
