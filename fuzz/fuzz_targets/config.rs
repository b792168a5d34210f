//! Any text as the configuration file: loading returns settings or an
//! error naming the file, never a panic.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    let file = dir.path().join("bantin.toml");
    if std::fs::write(&file, data).is_err() {
        return;
    }
    if let Err(e) = bantin_core::config::load(&file) {
        assert!(e.to_string().contains("bantin.toml"), "error does not name the file: {e}");
    }
});
