//! bantin ("bản tin": news bulletin) turns a news portal's article store
//! into RSS 2.0, Atom 1.0 and JSON Feed 1.1 feeds, and mails digests of new
//! articles to subscribers. See ARCHITECTURE.md for the map of the rooms.
//!
//! The library holds everything but the command line: `main.rs` only
//! parses arguments, calls in here and maps errors to exit codes.

pub mod article;
pub mod cache;
pub mod catalog;
pub mod config;
pub mod dates;
pub mod digest;
pub mod export;
pub mod feeds;
pub mod http;
pub mod mail;
pub mod metrics;
pub mod service;
pub mod state;
pub mod store;
pub mod subscription;
pub mod systemd;
pub mod text;
pub mod tokens;
pub mod watch;
pub mod websub;

pub use article::{Article, ArticleError, Category};
pub use catalog::{Catalog, Scope};
pub use config::Settings;

/// Reads the whole store named by the settings into a catalog.
pub fn load_catalog(settings: &Settings, generation: u64) -> Catalog {
    let ctx = store::Context::from_settings(&settings.site);
    let scan = store::dir::scan(&settings.store.path, &ctx);
    Catalog::new(scan.articles, scan.errors, &ctx, generation)
}
