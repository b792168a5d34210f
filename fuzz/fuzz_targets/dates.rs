//! Any text as a date, in a zone with DST: a date or a message, no panic.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = bantin_core::dates::parse(s, chrono_tz::Europe::Paris);
        let _ = bantin_core::dates::parse(s, chrono_tz::Asia::Ho_Chi_Minh);
    }
});
