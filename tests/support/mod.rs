//! The one support tree of the test binaries (`tests/it`, the library
//! suites in-process, and `tests/real`, the suites that run the real
//! `bantin` binary or drive real peers), included by both with
//! `#[path = "../support/mod.rs"] mod support;`:
//!
//! - [`common`]: the fixed clock, settings, loading and rendering a store,
//!   the text oracles, the generated corpus;
//! - [`feed_check`]: the strict feed readers, and a rendered feed checked
//!   against its catalog;
//! - [`serve`]: the one way to start `bantin serve` ([`serve::Serve`]);
//! - [`inproc`]: `serve::run` in-process on its own runtime ([`inproc::InProcess`]);
//! - [`harness`]: raw HTTP over a socket, memory from /proc, the fault
//!   suites' config and their figures;
//! - [`mailtest`]: a real SMTP server, state databases on both backends,
//!   the digest config, and the one way to add a subscriber;
//! - [`postfix`]: a private, real postfix in a temp directory (root only)
//!   that writes real DSNs to a return-path domain routed to a test port.
//!
//! Tests in one binary run in parallel threads; [`exclusive`] is the lock
//! the heavy and timing-sensitive suites take so that no two of them run
//! at the same time (see its doc).

#![allow(dead_code)]

pub mod common;
pub mod feed_check;
pub mod harness;
pub mod inproc;
#[macro_use]
pub mod mailtest;
pub mod postfix;
pub mod serve;

use std::sync::{Mutex, MutexGuard};

/// Held for the whole of a test that must not share the machine with
/// another such test: the ones that load it (thousands of sockets or
/// files, 1,000-subscriber runs, several servers, SIGKILL trials) and the
/// ones that hold it to a deadline (a change served within a second, an
/// article shown on time, a kill window measured in milliseconds). Before
/// the suites were folded into two binaries each ran in a binary of its
/// own, one binary after another; now they share the test threads, and
/// this keeps two of them from overlapping. A test that panicked while
/// holding it does not poison it for the others.
pub fn exclusive() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
