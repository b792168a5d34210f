//! The library suites, in-process: one test binary (`cargo test --test
//! it`) instead of one per file, each former `tests/<name>.rs` a module
//! here (`cargo test --test it feeds_validate::` runs one). They call
//! `bantin::…` directly; the suites that run the real binary or drive
//! real peers are in `tests/real/`. Support code is shared with that
//! binary in `tests/support/`.

#[macro_use]
#[path = "../support/mod.rs"]
mod support;

mod archive_pages;
mod bounce_listen;
mod bounces_apply;
mod browser_view;
mod build_plan;
mod cache;
mod crawlers;
mod digest_polish;
mod digest_render;
mod feed_rules;
mod feeds_validate;
mod index_page;
mod instant_queue;
mod instant_render;
mod media;
mod media_rules;
mod outbox_store;
mod jekyll_store;
mod prop_feeds;
mod prop_identity;
mod seed;
mod serve_run;
mod snapshots;
mod sql_incremental;
mod sql_store;
mod state_backends;
mod state_instant;
mod tag_feeds;
mod tag_feeds_plan;
mod tag_feeds_serve;
