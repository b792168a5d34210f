//! Copying SQLite's write-ahead log back into the database file away from
//! the writer gate (`StateStore::writing`). A connection whose commit
//! takes the log past `wal_autocheckpoint` copies it itself, inside that
//! commit: ~30 ms each, six times in a 10,000-digest run, with the gate
//! held and every mark and claim waiting. So after each digest batch and
//! each group of sent marks (at most one every [`SPACING`]) a passive
//! checkpoint runs on a connection of its own, outside the gate: SQLite's
//! writers go on while it copies, and a log it leaves copied is started
//! over by the next writer, so the commits rarely find their own
//! checkpoint due (it stays the safety net of every other write).

use super::StateStore;
use sqlx::AnyConnection;
use std::sync::Arc;
use std::time::Duration;

/// The checkpointing connection; locked while a checkpoint runs and for
/// the rest of [`SPACING`], so one at a time and none queued behind it
/// (the next write asks again).
pub(super) type Checkpointer = Arc<tokio::sync::Mutex<Option<AnyConnection>>>;

/// The least time from one checkpoint's start to the next: the groups of
/// sent marks ask thousands of times a run, and each checkpoint syncs the
/// log and the database file.
const SPACING: Duration = Duration::from_millis(25);

impl StateStore {
    /// Starts a passive checkpoint unless one is running. SQLite only.
    pub(super) fn checkpoint_soon(&self) {
        let Some(checkpointer) = &self.checkpointer else { return };
        let Ok(mut slot) = Arc::clone(checkpointer).try_lock_owned() else { return };
        let pool = self.pool.clone();
        tokio::spawn(async move {
            let spaced = tokio::time::sleep(SPACING);
            if slot.is_none() {
                // Detached: never counted against the pool that the
                // planner and the sender draw from.
                *slot = pool.acquire().await.ok().map(|conn| conn.detach());
            }
            let Some(conn) = slot.as_mut() else { return };
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&mut *conn).await {
                // The commits' own checkpoints still come due: nothing is
                // lost but time. A new connection is tried next time.
                tracing::debug!("a checkpoint beside the writer failed: {e}");
                *slot = None;
            }
            spaced.await;
        });
    }
}
