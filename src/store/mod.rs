//! Article stores as the daemon reads them: a folder of files ([`dir`],
//! read by [`readers`] when many are read) or an SQL table ([`sql`]).
//! The formats themselves (detection, front matter, the portal export,
//! Markdown, normalisation) are the core's (`bantin_core::store`),
//! re-exported here.

pub use bantin_core::store::*;

pub mod dir;
pub mod readers;
pub mod sql;

use crate::{Catalog, Settings};

/// Reads the whole store named by the settings into a catalog. A dir store
/// always gives one (bad files are its errors); an SQL store fails when
/// its database cannot be reached or the table does not match the mapping.
/// Callable from inside or outside an async runtime (an SQL read runs on a
/// thread and runtime of its own).
pub fn load_catalog(settings: &Settings, generation: u64) -> Result<Catalog, sql::SqlStoreError> {
    let ctx = Context::from_settings(&settings.site);
    let scan = match settings.store.kind {
        crate::config::StoreKind::Dir => dir::scan(&settings.store.path, &ctx),
        crate::config::StoreKind::Postgres | crate::config::StoreKind::Sqlite => {
            let source = sql::Source::from_settings(&settings.store);
            let read = async {
                let pool = sql::connect(&source.url).await?;
                let source = sql::resolve(&pool, &source).await?;
                sql::load(&pool, &source, &ctx).await
            };
            std::thread::scope(|s| {
                s.spawn(|| {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| sql::SqlStoreError::Unsupported {
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

/// Opens a store file for reading. Non-blocking: opening a FIFO for
/// reading waits for a writer, forever if none comes, so a FIFO dropped
/// into the store would hang whoever opens it; what is not a regular file
/// is refused after the open, by the handle's metadata.
pub(crate) fn open_file(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path)
}
