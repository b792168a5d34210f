//! `bantin serve` on an SQL article store: what the service holds of the
//! table ([`TableState`]: every row's parsed result, kept while the row's
//! values stay the same) and the follower that tells the service loop when
//! to read the table again ([`start`], [`run`]).
//!
//! The follower has three ways of noticing a change, from fastest to
//! slowest, so a missed notification delays an article but never loses it:
//! - PostgreSQL only: `LISTEN bantin_articles`, which the trigger of
//!   `docs/sql/postgres-notify-trigger.sql` notifies on every insert,
//!   update and delete (reconnected with backoff after the database
//!   restarts; a reconnect is followed by a read, since notifications sent
//!   meanwhile are lost);
//! - every `store.poll`: the table's [`signature`](sql::signature) (row
//!   count, newest `updated`, highest key; on SQLite also the file's
//!   `data_version`, see [`sql::Poller`]) compared with the last one; the
//!   only mechanism on SQLite or without the trigger;
//! - every `store.rescan`: a full read whatever the signature says
//!   (catches an edit that did not touch the `updated` column).
//!
//! Every trigger is a `Command::Rescan` for the service loop, which reads
//! the whole table; rows whose values did not change keep their `Arc`, so
//! only changed rows are parsed and only the feeds they touch re-rendered.

use crate::article::{Article, ArticleError};
use crate::catalog::{Catalog, Pending};
use crate::service::Command;
use crate::store::sql::{self, Pool, Row, Source, SqlStoreError};
use crate::store::Context;
use rayon::prelude::*;
use sqlx::postgres::PgListener;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// The notification channel the trigger notifies and `serve` listens on.
pub const CHANNEL: &str = "bantin_articles";

/// Longest wait between two attempts to get the listener back.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
struct Held {
    fingerprint: u64,
    result: Result<Arc<Article>, ArticleError>,
}

/// Every row of the table, parsed; keyed by the row key.
pub struct TableState {
    pool: Pool,
    source: Source,
    ctx: Context,
    rows: BTreeMap<String, Held>,
    /// What changed since the last catalog, by row key (the first old, the
    /// last new result), for [`Catalog::apply`].
    pending: Pending,
    /// The last read failed (logged once until a read succeeds again).
    failing: bool,
    covered: Covered,
}

/// PostgreSQL: the signature taken just before the last successful read,
/// so the poller does not read the table a second time for a change a
/// notification already brought in.
pub type Covered = Arc<std::sync::Mutex<Option<String>>>;

impl TableState {
    /// An empty state; [`apply`](Self::apply) the first read.
    pub fn new(pool: Pool, source: Source, ctx: Context, covered: Covered) -> TableState {
        TableState {
            pool,
            source,
            ctx,
            rows: BTreeMap::new(),
            pending: Pending::default(),
            failing: false,
            covered,
        }
    }

    pub fn source(&self) -> &Source {
        &self.source
    }

    /// Takes a fresh read of the whole table: unchanged rows (same
    /// fingerprint) keep their article, changed and new rows are parsed
    /// (in parallel), gone rows are dropped. Whether anything changed.
    pub fn apply(&mut self, rows: Vec<Row>) -> bool {
        let mut next: BTreeMap<String, Held> = BTreeMap::new();
        let mut to_parse: Vec<(String, Row)> = Vec::new();
        let mut duplicates: Vec<(String, ArticleError)> = Vec::new();
        let mut seen: HashSet<String> = HashSet::with_capacity(rows.len());
        for row in rows {
            let key = row.key();
            if !seen.insert(key.clone()) {
                // Not a key after all: the first row keeps the identity.
                let origin = format!("{}#{key}", self.source.table);
                let reason = format!(
                    "another row has the same {} value; only the first is read (store.columns.id must name a unique column)",
                    self.source.columns.id
                );
                duplicates.push((format!("{key}\u{1f}{}", duplicates.len()), ArticleError { origin, line: None, reason }));
                continue;
            }
            match self.rows.get(&key) {
                Some(held) if held.fingerprint == row.fingerprint() => {
                    next.insert(key, held.clone());
                }
                _ => to_parse.push((key, row)),
            }
        }
        let (source, ctx) = (&self.source, &self.ctx);
        let parsed: Vec<(String, Held)> = to_parse
            .into_par_iter()
            .map(|(key, row)| {
                let result = sql::article(&row, source, ctx).map(Arc::new);
                (key, Held { fingerprint: row.fingerprint(), result })
            })
            .collect();
        let mut changed = !parsed.is_empty();
        next.extend(parsed);
        for (key, e) in duplicates {
            let fingerprint = crate::store::fingerprint(e.to_string().as_bytes());
            changed |= self.rows.get(&key).is_none_or(|h| h.fingerprint != fingerprint);
            next.insert(key, Held { fingerprint, result: Err(e) });
        }
        changed |= next.len() != self.rows.len() || self.rows.keys().any(|k| !next.contains_key(k));
        if changed {
            self.note_changes(&next);
        }
        self.rows = next;
        changed
    }

    /// Records every row whose result differs between what is held and
    /// `next` (both ordered by key, so one merge walk).
    fn note_changes(&mut self, next: &BTreeMap<String, Held>) {
        let same = |a: &Held, b: &Held| match (&a.result, &b.result) {
            (Ok(x), Ok(y)) => Arc::ptr_eq(x, y),
            (Err(x), Err(y)) => x == y,
            _ => false,
        };
        let mut old = self.rows.iter().peekable();
        let mut new = next.iter().peekable();
        loop {
            let (key, before, after) = match (old.peek(), new.peek()) {
                (None, None) => break,
                (Some((k, o)), Some((l, n))) if k == l => {
                    let (k, o, n) = (*k, *o, *n);
                    old.next();
                    new.next();
                    if same(o, n) {
                        continue;
                    }
                    (k, Some(o), Some(n))
                }
                (Some((k, o)), Some((l, _))) if k < l => {
                    let (k, o) = (*k, *o);
                    old.next();
                    (k, Some(o), None)
                }
                (Some((k, o)), None) => {
                    let (k, o) = (*k, *o);
                    old.next();
                    (k, Some(o), None)
                }
                (_, Some((l, n))) => {
                    let (l, n) = (*l, *n);
                    new.next();
                    (l, None, Some(n))
                }
            };
            let (before, after) = (
                before.map(|h| h.result.clone()),
                after.map(|h| h.result.clone()),
            );
            self.pending.record(key, before, after);
        }
    }

    /// Reads the table again (on the calling blocking thread, through the
    /// runtime it belongs to) and applies it. A failed read changes
    /// nothing: the last catalog keeps being served.
    pub fn refresh(&mut self) -> bool {
        let started = std::time::Instant::now();
        let read = match tokio::runtime::Handle::try_current() {
            Ok(rt) => rt.block_on(async {
                // Taken before the rows, so every change it reflects is in
                // them; published before the fetch, so a poll during the
                // fetch does not ask for a second read of the same change.
                let signature = match self.pool {
                    Pool::Postgres(_) => sql::signature(&self.pool, &self.source).await.ok(),
                    Pool::Sqlite(_) => None,
                };
                let cover = |signature| {
                    if let Ok(mut covered) = self.covered.lock() {
                        *covered = signature;
                    }
                };
                cover(signature);
                let rows = sql::fetch(&self.pool, &self.source).await;
                if rows.is_err() {
                    cover(None);
                }
                rows
            }),
            Err(e) => Err(SqlStoreError::Unsupported { url: crate::config::redact(&self.source.url), detail: e.to_string() }),
        };
        match read {
            Ok(rows) => {
                if self.failing {
                    tracing::info!(store = %self.source.shown(), "the article table can be read again");
                    self.failing = false;
                }
                let (count, fetched) = (rows.len(), started.elapsed());
                let changed = self.apply(rows);
                tracing::debug!(
                    rows = count,
                    fetch_ms = fetched.as_millis() as u64,
                    apply_ms = (started.elapsed() - fetched).as_millis() as u64,
                    changed,
                    "article table read"
                );
                changed
            }
            Err(e) => {
                if !self.failing {
                    tracing::warn!("{e}; still serving the last catalog, trying again on the next change or poll");
                    self.failing = true;
                }
                false
            }
        }
    }

    /// New parse settings (time zone, base URL, article URL): every row is
    /// parsed again on the next [`refresh`](Self::refresh).
    pub fn set_context(&mut self, ctx: Context) {
        self.ctx = ctx;
        self.rows.clear();
    }

    /// The catalog of what is held now, built whole; the changes held
    /// for [`next_catalog`](Self::next_catalog) are in it.
    pub fn catalog(&mut self, generation: u64) -> Catalog {
        self.pending.clear();
        Catalog::from_results(
            self.rows.values().map(|held| held.result.as_ref()),
            &self.ctx,
            generation,
        )
    }

    /// The generation after `prev` (the catalog of this state before the
    /// reads applied since): `prev` with just the changed rows when they
    /// stay local, else the whole catalog again.
    pub fn next_catalog(&mut self, prev: &Catalog) -> Catalog {
        let (rows, ctx) = (&self.rows, &self.ctx);
        self.pending.next(prev, |generation| Catalog::from_results(rows.values().map(|held| held.result.as_ref()), ctx, generation))
    }
}

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
    let listening = async {
        if matches!(pool, Pool::Postgres(_)) {
            follow_notifications(&source, listener, &tx, shutdown.clone()).await;
        }
    };
    tokio::join!(listening, poll(&pool, &source, &settings, (poller, signature, covered), &tx, shutdown.clone()));
}

async fn poll(
    pool: &Pool,
    source: &Source,
    settings: &FollowSettings,
    (mut poller, mut last, covered): (sql::Poller, Option<String>, Covered),
    tx: &mpsc::UnboundedSender<Command>,
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
            _ = poll.tick() => match poller.signature(pool, source).await {
                Ok(now) => {
                    if failing {
                        tracing::info!(store = %source.shown(), "the article database answers again");
                        failing = false;
                    }
                    let read_already = covered.lock().is_ok_and(|c| c.as_ref() == Some(&now));
                    if last.as_ref() != Some(&now) && !read_already {
                        let _ = tx.send(Command::Rescan("the table's signature changed"));
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
            },
        }
    }
}

async fn follow_notifications(
    source: &Source,
    mut listener: Option<PgListener>,
    tx: &mpsc::UnboundedSender<Command>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = Duration::from_millis(500);
    loop {
        let Some(l) = listener.as_mut() else {
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
        match received {
            Ok(Some(_)) => {
                let _ = tx.send(Command::Rescan("an article change was notified"));
            }
            Ok(None) => {
                tracing::warn!(store = %source.shown(), "the listener's connection was lost and made again; reading the table");
                let _ = tx.send(Command::Rescan("the listener reconnected"));
            }
            Err(e) => {
                tracing::warn!(
                    store = %source.shown(),
                    "lost the listener connection ({e}); polling every store.poll meanwhile, reconnecting"
                );
                listener = None;
            }
        }
    }
}
