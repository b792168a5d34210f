//! The live store: what `bantin serve` holds of the article store and how
//! it follows changes. A folder ([`dir`]: every file's parsed result,
//! followed by [`watch`], on [`inotify`]) or an SQL table
//! ([`table`]: every row's parsed result, followed by [`follow`]: LISTEN,
//! polling, periodic reads). Both tell the service loop what to do with a
//! [`Command`]; the loop applies it to the [`Store`] and asks it for the
//! next catalog generation.
//!
//! Below it: the core (formats, catalog) and the store adapters
//! (`crate::store::{dir, sql}`). Above it: `crate::serve`, which runs the
//! loop.

pub mod dir;
pub mod follow;
mod inotify;
pub mod reads;
pub mod table;
pub mod watch;

use crate::catalog::Catalog;
use crate::config::Settings;
use crate::store::sql;
use crate::store::Context;
use dir::{Applied, StoreState};
use std::path::PathBuf;
use table::TableState;
use tokio::sync::{mpsc, oneshot};

/// Work for the service loop.
#[derive(Debug)]
pub enum Command {
    /// Paths the watcher saw change (files or folders, absolute).
    Changed(Vec<PathBuf>),
    /// Compare the whole store with what is held (periodic, or the watcher
    /// lost track: queue overflow, store folder recreated). For an SQL
    /// store: read the table again (notified, signature changed, periodic).
    Rescan(&'static str),
    /// SQL store: the keys of rows a notification named (inserted, updated
    /// or deleted); only these rows are read again.
    Rows(Vec<String>),
    /// SQL store: the poll saw the table's signature move; the rows changed
    /// since the last read are read (see `reads`).
    Poll,
    /// New, already validated settings; the sender learns when the feeds
    /// have been rendered with them.
    Reload(Box<Settings>, oneshot::Sender<()>),
}

/// An SQL store's batch short of a full read: the keys notifications
/// named, and whether a poll saw the signature move.
#[derive(Debug, Default)]
pub struct Rows {
    pub keys: Vec<String>,
    pub poll: bool,
}

/// What the service holds of the article store, by kind.
pub enum Store {
    Dir(StoreState),
    /// Boxed: a table state (pool, mapping) is much larger than a dir's.
    Table(Box<TableState>),
}

impl Store {
    /// Reads the dir store the settings name (blocking).
    pub fn read_dir(settings: &Settings) -> Store {
        Store::Dir(StoreState::load(&settings.store.path, &Context::from_settings(&settings.site)))
    }

    /// The whole catalog of what is held, built from scratch.
    pub fn catalog(&mut self, generation: u64) -> Catalog {
        match self {
            Store::Dir(s) => s.catalog(generation),
            Store::Table(t) => t.catalog(generation),
        }
    }

    /// The generation after `prev`: `prev` with the changes applied since
    /// (see [`Catalog::apply`]), or the whole catalog built again.
    pub fn next_catalog(&mut self, prev: &Catalog) -> Catalog {
        match self {
            Store::Dir(s) => s.next_catalog(prev),
            Store::Table(t) => t.next_catalog(prev),
        }
    }

    /// Applies a batch of changes: watcher paths, or changed row keys and
    /// a poll's read; a full rescan covers them all.
    pub fn apply(&mut self, paths: &[PathBuf], rows: &Rows, rescan: bool) -> Applied {
        match self {
            Store::Dir(store) => {
                let mut applied = if paths.is_empty() { Applied::default() } else { store.apply(paths) };
                if rescan {
                    let r = store.rescan();
                    applied.changed |= r.changed;
                    applied.root_missing |= r.root_missing;
                }
                if applied.root_missing {
                    tracing::warn!(
                        store = %store.root().display(),
                        "the store folder is missing; still serving the last catalog until it is back"
                    );
                }
                applied
            }
            Store::Table(table) => {
                let changed = if rescan {
                    table.refresh()
                } else {
                    let named = !rows.keys.is_empty() && table.refresh_keys(&rows.keys);
                    (rows.poll && table.refresh_since()) || named
                };
                Applied { changed, root_missing: false }
            }
        }
    }
}

/// Connects to an SQL store and checks its table against the column
/// mapping: the start-up of an SQL store (`serve`, before the first read).
pub async fn open_table(settings: &Settings) -> Result<(sql::Pool, sql::Source), sql::SqlStoreError> {
    let source = sql::Source::from_settings(&settings.store);
    let pool = sql::connect(&source.url).await?;
    let source = sql::resolve(&pool, &source).await?;
    Ok((pool, source))
}

/// Sleeps until `at`, or forever when there is nothing to wait for: the
/// timer branch of a `select!` that has no deadline armed.
pub async fn sleep_until_or_never(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}


/// An SQL store's connection and resolved mapping.
pub type Table = (sql::Pool, sql::Source);

/// How the store is followed, started before its first read so that a
/// change made during the read arrives as an event (at worst a file or row
/// is read twice), never lost.
// One value per process, moved once: the size of the larger variant costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Following {
    Dir { settings: watch::WatchSettings, watcher: watch::Watcher },
    Table { table: Table, follower: follow::Follower, settings: follow::FollowSettings },
}

/// Why the live store could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The SQL store's database or table (unreachable: exit 69, else 78).
    #[error(transparent)]
    Sql(#[from] sql::SqlStoreError),
    #[error("starting the store watcher: {0}")]
    Watcher(String),
}

impl Following {
    /// Connects to an SQL store (its database must answer at start, its
    /// table match the mapping) or starts the folder watcher.
    pub async fn start(settings: &Settings) -> Result<Following, StartError> {
        match settings.store.kind {
            crate::config::StoreKind::Dir => {
                let ws = watch::WatchSettings {
                    root: settings.store.path.clone(),
                    debounce: settings.store.debounce,
                    rescan: settings.store.rescan,
                };
                let started = ws.clone();
                let watcher = tokio::task::spawn_blocking(move || watch::start(&started))
                    .await
                    .map_err(|e| StartError::Watcher(e.to_string()))?;
                Ok(Following::Dir { settings: ws, watcher })
            }
            crate::config::StoreKind::Postgres | crate::config::StoreKind::Sqlite => {
                let table = open_table(settings).await?;
                let follower = follow::start(&table.0, &table.1).await;
                let settings = follow::FollowSettings { poll: settings.store.poll, rescan: settings.store.rescan };
                Ok(Following::Table { table, follower, settings })
            }
        }
    }

    /// The first read of the whole store (blocking work on the blocking
    /// pool).
    pub async fn read(&self, settings: &Settings) -> Result<Store, ReadError> {
        match self {
            Following::Dir { .. } => {
                let s = settings.clone();
                Ok(tokio::task::spawn_blocking(move || Store::read_dir(&s)).await?)
            }
            Following::Table { table: (pool, source), follower, .. } => {
                // Before the rows, as every read takes it (see `reads`).
                let signature = sql::signature(pool, source).await.ok();
                let rows = sql::fetch(pool, source).await?;
                let (pool, source, covered) = (pool.clone(), source.clone(), follower.covered());
                let ctx = Context::from_settings(&settings.site);
                Ok(tokio::task::spawn_blocking(move || {
                    let mut state = TableState::new(pool, source, ctx, covered);
                    state.first_read(signature);
                    state.apply(rows);
                    Store::Table(Box::new(state))
                })
                .await?)
            }
        }
    }

    /// Follows the store from now on, sending commands on `tx`, until
    /// `shutdown` turns true.
    pub async fn run(self, tx: mpsc::UnboundedSender<Command>, shutdown: tokio::sync::watch::Receiver<bool>) {
        match self {
            Following::Dir { settings, watcher } => watch::run(settings, watcher, tx, shutdown).await,
            Following::Table { table: (pool, source), follower, settings } => {
                follow::run(pool, source, settings, follower, tx, shutdown).await
            }
        }
    }
}

/// Why the first read of the store failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Sql(#[from] sql::SqlStoreError),
    #[error("reading the store: {0}")]
    Join(#[from] tokio::task::JoinError),
}

impl ReadError {
    /// Whether the store's database is out of reach (exit 69).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, ReadError::Sql(e) if e.is_unavailable())
    }
}
