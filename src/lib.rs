//! bantin ("bản tin": news bulletin) turns a news portal's article store
//! into RSS 2.0, Atom 1.0 and JSON Feed 1.1 feeds, and mails digests of new
//! articles to subscribers. See ARCHITECTURE.md for the map of the rooms.
//!
//! The library holds everything but the command line: `main.rs` only
//! parses arguments, calls in here and maps errors to exit codes.

pub use bantin_core::{article, cache, catalog, dates, feeds, subscriber, text};

pub mod config;
pub mod digest;
pub mod export;
pub mod http;
pub mod mail;
pub mod metrics;
pub mod service;
pub mod state;
pub mod store;
pub mod subscription;
pub mod systemd;
pub mod table;
pub mod tokens;
pub mod watch;
pub mod websub;

pub use bantin_core::{Article, ArticleError, Catalog, Category, Scope, Settings};

/// Reads the whole store named by the settings into a catalog. A dir store
/// always gives one (bad files are its errors); an SQL store fails when
/// its database cannot be reached or the table does not match the mapping.
/// Callable from inside or outside an async runtime (an SQL read runs on a
/// thread and runtime of its own).
pub fn load_catalog(settings: &Settings, generation: u64) -> Result<Catalog, store::sql::SqlStoreError> {
    let ctx = store::Context::from_settings(&settings.site);
    let scan = match settings.store.kind {
        crate::config::StoreKind::Dir => store::dir::scan(&settings.store.path, &ctx),
        crate::config::StoreKind::Postgres | crate::config::StoreKind::Sqlite => {
            let source = store::sql::Source::from_settings(&settings.store);
            let read = async {
                let pool = store::sql::connect(&source.url).await?;
                let source = store::sql::resolve(&pool, &source).await?;
                store::sql::load(&pool, &source, &ctx).await
            };
            std::thread::scope(|s| {
                s.spawn(|| {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| store::sql::SqlStoreError::Unsupported {
                            url: crate::config::redact(&source.url),
                            detail: format!("cannot start a runtime to read it: {e}"),
                        })?
                        .block_on(read)
                })
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })?
        }
    };
    Ok(Catalog::new(scan.articles, scan.errors, &ctx, generation))
}
