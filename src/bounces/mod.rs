//! Bounces and complaints that arrive later, by mail (issue 20).

pub mod listen;
