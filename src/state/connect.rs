//! Opening the state database: which backend `state.url` names, the pool
//! for each (SQLite: WAL and a busy timeout on every connection;
//! PostgreSQL: sessions named after this instance, a short acquire timeout
//! so an unreachable server fails fast at start), and the migrations of
//! each backend (same versions, same tables), run before anything else.

use super::{instances::instance_id, Result, StateError, StateStore};
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, Executor as _};
use std::path::PathBuf;
use std::time::Duration;

/// An SQLite connection's page cache: 2 MiB, SQLite's default, set again
/// after a pass over a whole table took a smaller one for its time
/// (`digests.rs`). Not more: a queueing run writes every digest's body
/// once and reads none of it back through the cache, so a larger cache
/// only filled with those pages, in each of the pool's four connections
/// (16 MiB each was ~20 MB of `serve`'s peak after 1,000 digests of 30
/// full articles; mail at 10,000 digests went as fast with 2 MiB).
pub(super) const CACHE_SIZE: &str = "PRAGMA cache_size = -2048;";

/// The migrations of each backend, embedded so the binary works from any
/// folder. Same versions, same tables; only the column types differ.
const SQLITE_MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "subscribers outbox", include_str!("../../migrations/sqlite/0001_subscribers_outbox.sql")),
    (2, "token key", include_str!("../../migrations/sqlite/0002_token_key.sql")),
    (3, "outbox bodies", include_str!("../../migrations/sqlite/0003_outbox_bodies.sql")),
    (4, "bounces", include_str!("../../migrations/sqlite/0004_bounces.sql")),
    (5, "delivered", include_str!("../../migrations/sqlite/0005_delivered.sql")),
    (6, "instant", include_str!("../../migrations/sqlite/0006_instant.sql")),
    (7, "digest archive", include_str!("../../migrations/sqlite/0007_digest_archive.sql")),
    (10, "admin audit", include_str!("../../migrations/sqlite/0010_admin_audit.sql")),
    (11, "outbox common", include_str!("../../migrations/sqlite/0011_outbox_common.sql")),
    (12, "address any case", include_str!("../../migrations/sqlite/0012_address_any_case.sql")),
    (13, "outbox due unsent", include_str!("../../migrations/sqlite/0013_outbox_due_unsent.sql")),
    (14, "day counts", include_str!("../../migrations/sqlite/0014_day_counts.sql")),
];
const POSTGRES_MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "subscribers outbox", include_str!("../../migrations/postgres/0001_subscribers_outbox.sql")),
    (2, "token key", include_str!("../../migrations/postgres/0002_token_key.sql")),
    (3, "outbox bodies", include_str!("../../migrations/postgres/0003_outbox_bodies.sql")),
    (4, "bounces", include_str!("../../migrations/postgres/0004_bounces.sql")),
    (5, "delivered", include_str!("../../migrations/postgres/0005_delivered.sql")),
    (6, "instant", include_str!("../../migrations/postgres/0006_instant.sql")),
    (7, "digest archive", include_str!("../../migrations/postgres/0007_digest_archive.sql")),
    (10, "admin audit", include_str!("../../migrations/postgres/0010_admin_audit.sql")),
    (11, "outbox common", include_str!("../../migrations/postgres/0011_outbox_common.sql")),
    (12, "address any case", include_str!("../../migrations/postgres/0012_address_any_case.sql")),
    (13, "outbox due unsent", include_str!("../../migrations/postgres/0013_outbox_due_unsent.sql")),
    (14, "day counts", include_str!("../../migrations/postgres/0014_day_counts.sql")),
];

/// Which database `state.url` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// One file, one host: the embedded default.
    Sqlite,
    /// Shared by every instance that points at it.
    Postgres,
}

impl Backend {
    pub fn of(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }
}

/// Where an `sqlite:` URL keeps its file, if it names one.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    if path.is_empty() || path == ":memory:" { None } else { Some(PathBuf::from(path)) }
}

impl StateStore {
    /// Opens (creating the SQLite file and its folder if needed; connecting
    /// to PostgreSQL) and migrates.
    pub async fn open(url: &str) -> Result<StateStore> {
        let (pool, backend, shown) = connect_and_migrate(url, i64::MAX).await?;
        let sqlite = backend == Backend::Sqlite;
        let writer = sqlite.then(|| std::sync::Arc::new(tokio::sync::Mutex::new(())));
        let checkpointer = sqlite.then(Default::default);
        Ok(StateStore { pool, backend, url: shown, writer, checkpointer, recent: Default::default(), sent: Default::default() })
    }

    /// Opens and migrates up to schema `version` only, as an older release
    /// left the database: for the tests of an upgrade.
    #[doc(hidden)]
    pub async fn open_at_version(url: &str, version: i64) -> Result<AnyPool> {
        Ok(connect_and_migrate(url, version).await?.0)
    }
}

/// The pool of `url`'s backend, migrated up to `version`; the backend and
/// the URL as messages show it.
async fn connect_and_migrate(url: &str, version: i64) -> Result<(AnyPool, Backend, String)> {
    sqlx::any::install_default_drivers();
    let shown = crate::config::redact(url);
    let backend = Backend::of(url).ok_or_else(|| StateError::Unsupported {
        url: shown.clone(),
        detail: "is neither sqlite: nor postgres://; write e.g. sqlite://var/bantin.db".into(),
    })?;
    let pool = match backend {
        Backend::Sqlite => open_sqlite(url, &shown).await?,
        Backend::Postgres => open_postgres(url, &shown).await?,
    };
    migrate(&pool, backend, version, &shown).await?;
    Ok((pool, backend, shown))
}

/// Runs the backend's migrations up to `version` that have not run.
async fn migrate(pool: &AnyPool, backend: Backend, version: i64, shown: &str) -> Result<()> {
    let all = match backend {
        Backend::Sqlite => SQLITE_MIGRATIONS,
        Backend::Postgres => POSTGRES_MIGRATIONS,
    };
    let migrations = all
        .iter()
        .filter(|(v, _, _)| *v <= version)
        .map(|(v, d, sql)| {
            // sqlx's marker: the migration runs its own transaction
            // (SQLite's table rebuild needs foreign keys off, which
            // cannot change inside one).
            let no_tx = sql.starts_with("-- no-transaction");
            Migration::new(*v, (*d).into(), MigrationType::Simple, sqlx::SqlStr::from_static(sql), no_tx)
        })
        .collect();
    Migrator::with_migrations(migrations)
        .run(pool)
        .await
        .map_err(|source| StateError::Migrate { url: shown.to_string(), source })
}

async fn open_sqlite(url: &str, shown: &str) -> Result<AnyPool> {
    if let Some(path) = sqlite_path(url) {
        let folder = path.parent().filter(|p| !p.as_os_str().is_empty());
        let made = match folder {
            Some(folder) => std::fs::create_dir_all(folder),
            None => Ok(()),
        };
        // Only where SQLite would create the file (`mode=rwc`, our default).
        let create = !url.contains("mode=") || url.contains("mode=rwc");
        made.and_then(|()| if create { create_private(&path) } else { Ok(()) }).map_err(|source| StateError::Folder {
            url: shown.to_string(),
            folder: folder.unwrap_or(&path).to_path_buf(),
            source,
        })?;
    }
    // Create the file if missing, unless the URL says otherwise.
    let url = if url.contains("mode=") {
        url.to_string()
    } else {
        format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
    };
    AnyPoolOptions::new()
        .max_connections(4)
        // The test before lending a connection is a round trip to its
        // worker thread ahead of every statement through the pool; a
        // connection to a local file is not dropped by a server.
        .test_before_acquire(false)
        .after_connect(|conn, _| {
            Box::pin(async move {
                // Several connections (planner, mailer, HTTP) share one
                // file: wait for a writer instead of failing at once.
                // Durability, in WAL mode: synchronous = NORMAL survives
                // any process crash (SIGKILL included); only a power cut
                // or an OS crash can lose the last commits (not corrupt
                // the file), which at worst resends a message marked sent
                // a moment before. FULL would fsync the WAL at every commit
                // (each group of sent marks). wal_autocheckpoint = 8192
                // pages (32 MiB, default 1000): queueing 10,000 digests
                // writes ~115 MB of bodies, and each checkpoint syncs the
                // database file, so fewer, larger ones; the WAL file grows
                // to about that size and is reused. cache_size: see
                // `CACHE_SIZE`. secure_delete:
                // what is deleted (an erased person, old message bodies) is
                // overwritten in the file, not left in its free pages.
                conn.execute(
                    "PRAGMA busy_timeout = 30000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                     PRAGMA wal_autocheckpoint = 8192; PRAGMA secure_delete = ON;",
                )
                .await?;
                conn.execute(CACHE_SIZE).await?;
                Ok(())
            })
        })
        .connect(&url)
        .await
        .map_err(|source| StateError::Open { url: shown.to_string(), source })
}

/// Creates the database file, empty (SQLite reads that as a new
/// database), readable by this user alone, unless it exists. SQLite makes
/// the `-wal` and `-shm` files with the database file's mode, so all three
/// are 0600 whatever the umask (outside the unit's `UMask=0077` it is
/// often 022, and subscribers' addresses were world-readable).
fn create_private(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

async fn open_postgres(url: &str, shown: &str) -> Result<AnyPool> {
    // Every session is named after this instance (see `instance_id`).
    let mut parsed = url::Url::parse(url).map_err(|e| StateError::Unsupported {
        url: shown.to_string(),
        detail: format!("is not a URL ({e}); write e.g. postgres://bantin@db.example.org/bantin"),
    })?;
    let pairs: Vec<(String, String)> =
        parsed.query_pairs().filter(|(k, _)| k != "application_name").map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    parsed.query_pairs_mut().clear().extend_pairs(pairs).append_pair("application_name", instance_id());
    AnyPoolOptions::new()
        .max_connections(8)
        .min_connections(1)
        // During an outage a query waits this long for a connection, then
        // fails; the scheduler logs it and tries again at its next round.
        // At start it bounds how long an unreachable server is waited for
        // before exit 69.
        .acquire_timeout(Duration::from_secs(5))
        .connect(parsed.as_str())
        .await
        .map_err(|source| StateError::Connect { url: shown.to_string(), source })
}


#[cfg(test)]
mod tests {
    use super::StateStore;
    use std::os::unix::fs::PermissionsExt as _;

    /// Issue 19: the files were made with the process's umask (0644 under
    /// the usual 022), so every local user could read the addresses.
    #[tokio::test]
    async fn the_sqlite_files_are_readable_by_their_owner_alone() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("state/bantin.db");
        let state = StateStore::open(&format!("sqlite://{}", db.display())).await.unwrap();
        state.subscribers().await.unwrap();
        for file in ["bantin.db", "bantin.db-wal", "bantin.db-shm"] {
            let mode = std::fs::metadata(dir.path().join("state").join(file)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
    }
}
