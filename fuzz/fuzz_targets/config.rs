//! Any text as the configuration file: validating it returns settings or
//! an error naming the file, never a panic.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // As the daemon's `config::load` reads a file: not UTF-8 becomes U+FFFD.
    let text = String::from_utf8_lossy(data);
    let file = std::path::Path::new("bantin.toml");
    if let Err(e) = bantin_core::config::Settings::from_sources(file, &text, []) {
        assert!(e.to_string().contains("bantin.toml"), "error does not name the file: {e}");
    }
});
