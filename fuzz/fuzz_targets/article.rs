//! Any bytes as an article file: detection, every parser, normalisation
//! and the three renderers must never panic, and feeds stay well-formed.
#![no_main]
#[path = "common.rs"]
mod common;
libfuzzer_sys::fuzz_target!(|data: &[u8]| common::check_article(data));
