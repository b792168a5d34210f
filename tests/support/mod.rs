//! The one support tree of the test binaries (`tests/it`, the library
//! suites in-process, and `tests/real`, the suites that run the real
//! `bantin` binary or drive real peers), included by both with
//! `#[path = "../support/mod.rs"] mod support;`:
//!
//! - [`common`]: the fixed clock, settings, loading and rendering a store,
//!   the generated corpus, and the strict feed readers;
//! - [`serve`]: the one way to start `bantin serve` ([`serve::Serve`]);
//! - [`harness`]: raw HTTP over a socket, memory from /proc, the fault
//!   suites' config and their figures;
//! - [`mailtest`]: a real SMTP server, state databases on both backends,
//!   and the digest config.

#![allow(dead_code)]

pub mod common;
pub mod harness;
#[macro_use]
pub mod mailtest;
pub mod serve;

