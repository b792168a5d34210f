//! The suites that run the real `bantin` binary (`serve`, `digest run`,
//! `check`, the CLI) or drive real peers (SMTP servers, PostgreSQL,
//! systemd's tools): one test binary (`cargo test --test real`) instead
//! of one per file, each former `tests/<name>.rs` a module here (`cargo
//! test --test real serve_sql::` runs one). Support code is shared with
//! the library suites (`tests/it/`) in `tests/support/`.
//!
//! The tests of one binary run in parallel threads (before, the suites
//! ran one binary after another): the heavy and timing-sensitive ones
//! take `support::exclusive()` so that no two of them overlap.

// Holding `support::exclusive()`'s guard across the test's awaits is its
// purpose: each test runs on a runtime of its own, and the lock only keeps
// two tests (threads) apart, so it cannot deadlock a runtime.
#![allow(clippy::await_holding_lock)]

#[macro_use]
#[path = "../support/mod.rs"]
mod support;

mod admin_api;
mod bounce_loop;
mod bounce_policy;
mod bounces;
mod bounces_shared;
mod cli;
mod cli_subscribers;
mod crash_safety;
mod digest_kill;
mod digest_smtp;
mod erasure;
mod http_abuse;
mod http_front;
mod http_limits;
mod injection;
mod instant_kill;
mod instant_mail;
mod journald;
mod mail_limits;
mod mail_faults;
mod multi_instance;
mod postfix_delivery;
mod postfix_peer;
mod serve;
mod serve_digest;
mod secrets;
mod serve_sql;
mod serve_sql_rows;
mod signup_abuse;
mod smtp_peers;
mod store_faults;
mod systemd_units;
mod test_sends;
