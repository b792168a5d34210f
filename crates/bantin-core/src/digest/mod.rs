//! Digests, the pure part: which articles each subscriber's next digest
//! holds, and when periods begin and end ([`plan`]; instant mail's
//! windows in [`instant`]; when a subscriber's next mail comes, in words,
//! [`next`]); the seed addresses'
//! copies of each period's site-wide digest ([`seed`]); when articles
//! were first seen ([`seen`]); the archive's
//! names for sent periods ([`archive`]). The runtime that
//! drives planning, rendering, committing and sending lives in the daemon
//! (`bantin::newsletter`).

pub mod archive;
pub mod instant;
#[cfg(test)]
mod never_twice;
pub mod next;
#[cfg(test)]
mod instant_tests;
pub mod plan;
pub mod seed;
pub mod seen;
