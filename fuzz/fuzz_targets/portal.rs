//! The portal text export, after a banner, a title and a date line.
#![no_main]
#[path = "common.rs"]
mod common;
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let head: &[u8] = "Welcome to Yen Bai Portal\n  • English\n\nTiêu đề\n\n21/02/2020 08:56:00 Xem cỡ chữ\n".as_bytes();
    common::check_article(&[head, data].concat());
});
