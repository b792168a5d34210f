//! bantin's pure core: everything that turns input into output without
//! touching the file system, the network, a database or the clock. Article
//! formats into clean [`Article`]s, the immutable [`Catalog`], feeds, the
//! cached documents and their HTTP negotiation, the digest planner, mail
//! shaping and encoding (and the outbox's [`delta`]s against the bytes a
//! shape's messages share), link tokens, bounce and complaint reports, the subscriber model and settings.
//!
//! The daemon crate (`bantin`) does the I/O around it. Nothing here depends
//! on tokio, sqlx, axum, hyper or lettre, and the compiler holds that: this
//! crate does not have them. See ARCHITECTURE.md for the order of the rooms.

pub mod article;
pub mod cache;
pub mod catalog;
pub mod config;
pub mod dates;
pub mod delta;
pub mod digest;
pub mod feeds;
pub mod identity;
pub mod intern;
pub mod mail;
pub mod negotiate;
pub mod ratelimit;
pub mod report;
pub mod store;
pub mod subscriber;
pub mod templates;
pub mod text;
pub mod tokens;

pub use article::{Article, ArticleError, Category};
pub use catalog::{Catalog, Scope};
pub use config::Settings;
