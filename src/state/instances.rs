//! Several instances on one state database: each process's name
//! ([`instance_id`]), which lease owners are still there, handing back the
//! rows of those that are gone, the planner's election (a PostgreSQL
//! advisory lock), and the token key shared through the database.

use super::{get, q, Backend, Result, StateStore};
use sqlx::{AnyConnection, Connection as _};
use std::collections::HashSet;
use std::sync::OnceLock;

/// The advisory lock key of the digest planner (per database): "bantin" and 1.
const PLANNER_LOCK: i64 = 0x6261_6e74_696e_0001;

/// This process's name among the instances sharing a state database:
/// `host:pid:random` (at most 63 bytes, PostgreSQL's limit for an
/// `application_name`). The random part keeps it unique where host names
/// and pids repeat (containers). It names outbox leases, and on PostgreSQL
/// it is every connection's `application_name`, so another instance can
/// tell whether the owner of a lease is still connected.
pub fn instance_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_else(|_| "localhost".into());
        let host: String = host
            .trim()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
            .take(32)
            .collect();
        let mut r = [0u8; 4];
        // Without randomness the id is still unique per host and pid.
        let _ = getrandom::fill(&mut r);
        format!("{}:{}:{:08x}", if host.is_empty() { "localhost" } else { &host }, std::process::id(), u32::from_le_bytes(r))
    })
}

/// The planner's election on PostgreSQL: a session advisory lock held on a
/// connection of its own (outside the pool) for the whole planning run.
/// [`PlannerLock::release`] ends it; if the process dies, the server drops
/// the connection and with it the lock, so another instance takes over.
#[derive(Debug)]
pub struct PlannerLock {
    conn: Option<AnyConnection>,
}

impl PlannerLock {
    pub async fn release(self) {
        if let Some(mut conn) = self.conn {
            let _ = sqlx::query("SELECT pg_advisory_unlock($1)").bind(PLANNER_LOCK).execute(&mut conn).await;
            // Closing the session releases the lock even if the unlock failed.
            let _ = conn.close().await;
        }
    }
}

impl StateStore {
    /// The owners of the rows being sent now.
    pub async fn lease_owners(&self) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT DISTINCT lease_owner FROM outbox WHERE status = 'sending' AND lease_owner IS NOT NULL")
            .fetch_all(&self.pool)
            .await
            .map_err(q("reading outbox leases"))?;
        rows.iter().map(|r| get(r, "lease_owner")).collect()
    }

    /// Hands back every row that `owner` is sending (it is gone, killed in
    /// the middle of a send), so they go out without waiting for the lease
    /// to run out. Returns how many.
    pub async fn release_leases_of(&self, owner: &str) -> Result<usize> {
        let n = sqlx::query(
            "UPDATE outbox SET status = 'queued', lease_owner = NULL, lease_until = NULL WHERE status = 'sending' AND lease_owner = $1",
        )
        .bind(owner)
        .execute(&self.pool)
        .await
        .map_err(q("releasing outbox leases"))?
        .rows_affected();
        Ok(n as usize)
    }

    /// Hands back the rows of every lease owner for which `alive` is false.
    pub async fn release_dead_leases(&self, alive: impl Fn(&str) -> bool) -> Result<usize> {
        let mut released = 0;
        for owner in self.lease_owners().await? {
            if !alive(&owner) {
                released += self.release_leases_of(&owner).await?;
            }
        }
        Ok(released)
    }

    /// On PostgreSQL, the instance ids ([`instance_id`]) with a session
    /// open on this database now: the live lease owners, wherever they
    /// run. None on SQLite (no sessions to see; local processes are looked
    /// up instead).
    pub async fn connected_instances(&self) -> Result<Option<HashSet<String>>> {
        if self.backend != Backend::Postgres {
            return Ok(None);
        }
        let rows = sqlx::query(
            "SELECT DISTINCT application_name FROM pg_stat_activity
             WHERE datname = current_database() AND application_name IS NOT NULL",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(q("listing connected instances"))?;
        Ok(Some(rows.iter().map(|r| get(r, "application_name")).collect::<Result<_>>()?))
    }

    /// Elects this instance to plan digests: Some while nobody else plans
    /// (always on SQLite, which has one host and serialises writers), None
    /// when another instance holds the planner lock now.
    pub async fn try_planner_lock(&self) -> Result<Option<PlannerLock>> {
        if self.backend != Backend::Postgres {
            return Ok(Some(PlannerLock { conn: None }));
        }
        let mut conn = self.pool.acquire().await.map_err(q("taking the planner lock"))?.detach();
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(PLANNER_LOCK)
            .fetch_one(&mut conn)
            .await
            .map_err(q("taking the planner lock"))?;
        if got {
            Ok(Some(PlannerLock { conn: Some(conn) }))
        } else {
            let _ = conn.close().await;
            Ok(None)
        }
    }

    /// The HMAC key for links, kept in the database (for instances sharing
    /// it without a common key file): the stored one, or `fresh` if there
    /// was none (the first caller's key wins; every caller gets the same).
    pub async fn shared_token_key(&self, fresh: &[u8]) -> Result<Vec<u8>> {
        sqlx::query("INSERT INTO token_key (id, key) VALUES (1, $1) ON CONFLICT (id) DO NOTHING")
            .bind(fresh)
            .execute(&self.pool)
            .await
            .map_err(q("storing the token key"))?;
        let row = sqlx::query("SELECT key FROM token_key WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(q("reading the token key"))?;
        get(&row, "key")
    }

}
