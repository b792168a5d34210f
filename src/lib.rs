//! bantin ("bản tin": news bulletin) turns a news portal's article store
//! into RSS 2.0, Atom 1.0 and JSON Feed 1.1 feeds, and mails digests of new
//! articles to subscribers. See ARCHITECTURE.md for the map of the rooms.
//!
//! This crate is the daemon around the pure core (`bantin_core`, whose
//! rooms it re-exports under the same names): everything with I/O. The
//! command line is `main.rs`, which only parses arguments, loads config,
//! binds and maps errors to exit codes; `bantin serve` is [`serve::run`].
//!
//! Rooms from the bottom up (a room imports only from rooms below it; the
//! order is checked by `layering.rs` and stated in ARCHITECTURE.md): the
//! core and `config` → `store` (dir and SQL adapters), `state`, `tls`,
//! `metrics`, `systemd` → `tokens`, `live`, `websub`, `export` → `mail`,
//! `bounces` →
//! `newsletter` → `shared` → `http`, `subscription`, `admin` → `serve` → the
//! binary (`main.rs`, `cli/`).

pub use bantin_core::{article, cache, catalog, dates, delta, digest, feeds, ratelimit, subscriber, templates, text};

pub mod admin;
pub mod archive;
pub mod bounces;
pub mod config;
pub mod export;
pub mod http;
pub mod live;
pub mod mail;
pub mod malloc;
pub mod metrics;
pub mod newsletter;
pub mod serve;
pub mod shared;
pub mod state;
pub mod store;
pub mod subscription;
pub mod systemd;
pub mod tls;
pub mod tokens;
pub mod websub;

pub use bantin_core::{Article, ArticleError, Catalog, Category, Scope, Settings};

/// Now, as the service sees it: the clock in `site.timezone`.
pub fn now_in(settings: &Settings) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::Utc::now().with_timezone(&settings.site.timezone).fixed_offset()
}

#[cfg(test)]
mod layering;
