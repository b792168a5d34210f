//! Markdown with TOML or YAML front matter, and JSON articles: the first
//! byte chooses which, so the fuzzer spends its time inside each reader.
#![no_main]
#[path = "common.rs"]
mod common;
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((first, rest)) = data.split_first() else { return };
    let prefix: &[u8] = match first % 3 {
        0 => b"+++\n",
        1 => b"---\n",
        _ => b"{",
    };
    common::check_article(&[prefix, rest].concat());
});
