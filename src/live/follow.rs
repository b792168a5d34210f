//! The follower of an SQL article store: tells the service loop which
//! rows to read again, or that it must read the table ([`start`], [`run`]);
//! the table's state itself is [`super::table`], its reads
//! [`super::reads`].
//!
//! The follower has three ways of noticing a change, from fastest to
//! slowest, so a missed notification delays an article but never loses it:
//! - PostgreSQL only: `LISTEN bantin_articles`, which the trigger of
//!   `docs/sql/postgres-notify-trigger.sql` notifies for every row
//!   inserted, updated or deleted, naming it (`U:<key>`, `D:<key>`): a
//!   burst of them (each within [`GATHER`] of the last) becomes one
//!   `Command::Rows` with their keys, only those rows read; more than
//!   `sql::keys::MAX_KEYS` keys, or a notification naming no row (the
//!   previous trigger's, a TRUNCATE's), is a `Command::Rescan`, the whole
//!   table. Reconnected with backoff after the database restarts; a
//!   reconnect is followed by a full read, since notifications sent
//!   meanwhile are lost;
//! - every `store.poll`: the table's [`signature`](sql::signature) (row
//!   count, newest `updated`, highest key; on SQLite also the file's
//!   `data_version`, see [`sql::Poller`]) compared with the last one; a
//!   change is a `Command::Poll`, which reads the rows changed since the
//!   newest `updated` seen (and the whole table when that does not
//!   explain it: a delete, see `reads`). The only mechanism on SQLite or
//!   without the trigger; skipped while notifications name their rows
//!   (the trigger is there and says more: from the first such
//!   notification until one that names none, or the listener is lost; a
//!   trigger dropped meanwhile goes unnoticed until the next
//!   `store.rescan`);
//! - every `store.rescan`: a full read whatever the signature says
//!   (catches an edit that did not touch the `updated` column on
//!   PostgreSQL without the trigger, or anything missed: at most one
//!   `store.rescan` period late).
//!
//! Rows whose values did not change keep their `Arc`, so only changed rows
//! are parsed and only the feeds they touch re-rendered.

use super::table::Covered;
use super::Command;
use crate::store::sql::{self, keys, Pool, Source};
use sqlx::postgres::{PgListener, PgNotification};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// The notification channel the trigger notifies and `serve` listens on.
pub const CHANNEL: &str = "bantin_articles";

/// How long a burst of notifications may pause and still be read as one.
const GATHER: Duration = Duration::from_millis(3);

/// Longest wait between two attempts to get the listener back.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct FollowSettings {
    pub poll: Duration,
    pub rescan: Duration,
}

/// A follower ready to run: listening already (PostgreSQL), and with the
/// signature taken before the first read, so a change made during the
/// read is noticed.
pub struct Follower {
    listener: Option<PgListener>,
    poller: sql::Poller,
    signature: Option<String>,
    covered: Covered,
}

impl Follower {
    /// For the [`TableState`] this follower works for.
    pub fn covered(&self) -> Covered {
        Arc::clone(&self.covered)
    }
}

/// Starts listening (PostgreSQL) and takes the table's signature; call it
/// before the first read of the table. A listener that cannot be set up is
/// logged and retried by [`run`]; polling covers the meantime.
pub async fn start(pool: &Pool, source: &Source) -> Follower {
    let listener = match pool {
        Pool::Postgres(_) => match listen(&source.url).await {
            Ok(l) => {
                tracing::info!(store = %source.shown(), channel = CHANNEL, "listening for article changes");
                Some(l)
            }
            Err(e) => {
                tracing::warn!(
                    store = %source.shown(),
                    "cannot listen for article changes ({e}); polling every store.poll meanwhile, retrying"
                );
                None
            }
        },
        Pool::Sqlite(_) => None,
    };
    let mut poller = sql::Poller::new(&source.url);
    let signature = poller.signature(pool, source).await.ok();
    Follower { listener, poller, signature, covered: Covered::default() }
}

/// A listener on [`CHANNEL`], given up after 5 s (the database may be
/// down; the caller tries again later).
async fn listen(url: &str) -> Result<PgListener, sqlx::Error> {
    let attempt = async {
        let mut listener = PgListener::connect(url).await?;
        listener.listen(CHANNEL).await?;
        Ok(listener)
    };
    tokio::time::timeout(Duration::from_secs(5), attempt).await.unwrap_or(Err(sqlx::Error::PoolTimedOut))
}

/// Runs the follower until shutdown: the listener (PostgreSQL), the
/// signature poll and the periodic full read, each sending
/// `Command::Rescan` when the table must be read again.
pub async fn run(
    pool: Pool,
    source: Source,
    settings: FollowSettings,
    started: Follower,
    tx: mpsc::UnboundedSender<Command>,
    shutdown: watch::Receiver<bool>,
) {
    let Follower { listener, poller, signature, covered } = started;
    // Set while the listener gets notifications that name their rows: the
    // trigger is there, so the signature poll has nothing to add.
    let keyed = AtomicBool::new(false);
    let listening = async {
        if matches!(pool, Pool::Postgres(_)) {
            follow_notifications(&source, listener, &tx, &keyed, shutdown.clone()).await;
        }
    };
    let polling = poll(&pool, &source, &settings, (poller, signature, covered), (&tx, &keyed), shutdown.clone());
    tokio::join!(listening, polling);
}

async fn poll(
    pool: &Pool,
    source: &Source,
    settings: &FollowSettings,
    (mut poller, mut last, covered): (sql::Poller, Option<String>, Covered),
    (tx, keyed): (&mpsc::UnboundedSender<Command>, &AtomicBool),
    mut shutdown: watch::Receiver<bool>,
) {
    let mut poll = tokio::time::interval(settings.poll);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    poll.tick().await;
    let mut rescan = tokio::time::interval(settings.rescan);
    rescan.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    rescan.tick().await;
    let mut failing = false;
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            _ = rescan.tick() => { let _ = tx.send(Command::Rescan("periodic rescan")); }
            // While the trigger names every change, no query.
            _ = poll.tick() => if !keyed.load(Ordering::Relaxed) { match poller.signature(pool, source).await {
                Ok(now) => {
                    if failing {
                        tracing::info!(store = %source.shown(), "the article database answers again");
                        failing = false;
                    }
                    // A notification that named its rows may have come
                    // while the query ran (a whole-table query, tens of ms
                    // at 100k rows): that read covers this change.
                    let read_already = keyed.load(Ordering::Relaxed) || covered.lock().is_ok_and(|c| c.as_ref() == Some(&now));
                    if last.is_none() && !read_already {
                        let _ = tx.send(Command::Rescan("the article database answers again"));
                    } else if last.as_ref() != Some(&now) && !read_already {
                        let _ = tx.send(Command::Poll);
                    }
                    last = Some(now);
                }
                Err(e) => {
                    if !failing {
                        tracing::warn!("cannot poll the article table: {e}; serving the last catalog, polling on");
                        failing = true;
                    }
                    // Read everything once it answers again.
                    last = None;
                }
            }},
        }
    }
}

async fn follow_notifications(
    source: &Source,
    mut listener: Option<PgListener>,
    tx: &mpsc::UnboundedSender<Command>,
    keyed: &AtomicBool,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = Duration::from_millis(500);
    loop {
        let Some(l) = listener.as_mut() else {
            keyed.store(false, Ordering::Relaxed);
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
            let attempt = tokio::select! {
                _ = shutdown.changed() => return,
                r = listen(&source.url) => r,
            };
            if let Ok(l) = attempt {
                tracing::info!(store = %source.shown(), channel = CHANNEL, "listening for article changes again");
                backoff = Duration::from_millis(500);
                listener = Some(l);
                // Whatever was notified while it was away is lost.
                let _ = tx.send(Command::Rescan("the listener reconnected"));
            }
            continue;
        };
        let received = tokio::select! {
            _ = shutdown.changed() => return,
            r = l.try_recv() => r,
        };
        // A burst ends in quiet, or in a lost connection handled below.
        let mut received = received;
        let ended = loop {
            match received {
                Ok(Some(first)) => {
                    // At once, before the burst is gathered: a poll whose
                    // query saw this change must not read it again.
                    keyed.store(payload_key(first.payload()).is_some(), Ordering::Relaxed);
                    let (burst, after) = gather(l, first.payload()).await;
                    let _ = tx.send(burst.command());
                    match after {
                        Some(r) => received = r,
                        None => break Ok(()),
                    }
                }
                Ok(None) => break Err(None),
                Err(e) => break Err(Some(e)),
            }
        };
        match ended {
            Ok(()) => {}
            Err(None) => {
                tracing::warn!(store = %source.shown(), "the listener's connection was lost and made again; reading the table");
                keyed.store(false, Ordering::Relaxed);
                let _ = tx.send(Command::Rescan("the listener reconnected"));
            }
            Err(Some(e)) => {
                tracing::warn!(
                    store = %source.shown(),
                    "lost the listener connection ({e}); polling every store.poll meanwhile, reconnecting"
                );
                listener = None;
            }
        }
    }
}

/// The rows a burst of notifications named, or `None`: read the table.
struct Burst {
    keys: Option<Vec<String>>,
}

impl Burst {
    fn command(self) -> Command {
        match self.keys {
            Some(keys) => Command::Rows(keys),
            None => Command::Rescan("an article change was notified"),
        }
    }
}

/// The row key a notification names: `U:<key>` (inserted or updated) or
/// `D:<key>` (deleted), as `docs/sql/postgres-notify-trigger.sql` sends
/// them. Anything else (the earlier trigger's `schema.table`, a
/// TRUNCATE's or a too long key's empty payload) names no row: `None`,
/// and the whole table is read.
pub fn payload_key(payload: &str) -> Option<&str> {
    let (op, key) = payload.split_once(':')?;
    matches!(op, "U" | "D").then_some(key)
}

/// Collects the notifications that follow the first one within
/// [`GATHER`] of each other (a transaction's rows arrive together), up to
/// `sql::keys::MAX_KEYS` keys; past that, or for a notification naming no
/// row, the burst is a full read (drained all the same, so it costs one).
/// A burst of keys lasts at most 50 ms, one to be read whole 1 s.
/// Also returns what ended the burst, if it was not the quiet: a lost
/// connection.
async fn gather(l: &mut PgListener, first: &str) -> (Burst, Option<Result<Option<PgNotification>, sqlx::Error>>) {
    let mut keys = payload_key(first).map(|k| vec![k.to_string()]);
    let started = tokio::time::Instant::now();
    loop {
        // A steady stream is cut into bursts all the same: at most 50 ms of
        // keys wait, or 1 s of notifications a full read will cover.
        let limit = if keys.is_some() { Duration::from_millis(50) } else { Duration::from_secs(1) };
        if started.elapsed() > limit {
            return (Burst { keys }, None);
        }
        let next = match tokio::time::timeout(GATHER, l.try_recv()).await {
            Err(_quiet) => return (Burst { keys }, None),
            Ok(Ok(Some(n))) => n,
            Ok(other) => return (Burst { keys: None }, Some(other)),
        };
        match (payload_key(next.payload()), keys.as_mut()) {
            (Some(k), Some(held)) if held.len() < keys::MAX_KEYS => held.push(k.to_string()),
            _ => keys = None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::payload_key;

    #[test]
    fn a_payload_names_a_row_only_in_the_shipped_form() {
        assert_eq!(payload_key("U:12"), Some("12"));
        assert_eq!(payload_key("D:bai-viet:7"), Some("bai-viet:7"), "the key is everything after the first colon");
        assert_eq!(payload_key("U:"), Some(""), "an empty key is read (and found or deleted) like any other");
        // The previous trigger's payload, a TRUNCATE's, anything else: read the table.
        assert_eq!(payload_key("public.articles"), None);
        assert_eq!(payload_key(""), None);
        assert_eq!(payload_key("X:12"), None);
    }
}
