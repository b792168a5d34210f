//! Copying SQLite's write-ahead log back into the database file away from
//! the writer gate (`StateStore::writing`). A connection whose commit
//! takes the log past `wal_autocheckpoint` copies it itself, inside that
//! commit: ~30 ms each, six times in a 10,000-digest run, with the gate
//! held and every mark and claim waiting. So the digest batches and the
//! groups of sent marks count the log pages they add, and once about
//! [`DUE`] are owed a passive checkpoint runs on a connection of its own,
//! outside the gate: SQLite's writers go on while it copies, and a log it
//! leaves copied is started over by the next writer, so the commits rarely
//! find their own checkpoint due (it stays the safety net of every other
//! write).

use super::StateStore;
use sqlx::AnyConnection;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// About how many log pages a queued digest adds: its row, its body (a
/// delta of ~2 KB), its index entries (~48,000 pages for a run of 10,000
/// digests, stop 58's `strace`, marks included).
pub(super) const PAGES_A_DIGEST: usize = 3;

/// About how many log pages a group of sent marks adds: the rows' page,
/// the due index, the audit rows, the day's count, the audit's sequence.
pub(super) const PAGES_A_MARK_GROUP: usize = 6;

/// The pages owed that start a checkpoint: 4 MiB, an eighth of
/// `wal_autocheckpoint`, so that a digest run's commits stay far from it,
/// while a paced delivery (50 messages a second, a group each) starts one
/// every few seconds, not one a message: each syncs the log and the file.
const DUE: usize = 1024;

/// The least time from one checkpoint's start to the next.
const SPACING: Duration = Duration::from_millis(25);

/// What starts the checkpoints of one database (SQLite only).
#[derive(Debug, Default)]
pub(super) struct Checkpointer {
    /// Log pages written since the last checkpoint started, as the
    /// writers guess them.
    owed: AtomicUsize,
    /// The checkpointing connection; locked while a checkpoint runs and
    /// for the rest of [`SPACING`], so one at a time and none queued
    /// behind it (the next write asks again).
    conn: Arc<tokio::sync::Mutex<Option<AnyConnection>>>,
}

impl StateStore {
    /// Counts `pages` added to the log by a commit, and starts a passive
    /// checkpoint if about [`DUE`] are owed and none is running.
    pub(super) fn checkpoint_after(&self, pages: usize) {
        let Some(checkpointer) = &self.checkpointer else { return };
        if checkpointer.owed.fetch_add(pages, Ordering::Relaxed) + pages < DUE {
            return;
        }
        let Ok(mut slot) = Arc::clone(&checkpointer.conn).try_lock_owned() else { return };
        checkpointer.owed.store(0, Ordering::Relaxed);
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
