//! Any bytes as the body of `POST /subscribe` (and of the preferences
//! form): the form parser and the address normaliser give a value or an
//! error, never a panic; an accepted address is one line with one `@`, no
//! white space or control characters (nothing that could break a mail
//! header), and normalising it again changes nothing.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let form = bantin_core::subscriber::parse_form(data);
    assert!(form.topics.iter().all(|t| !t.is_empty() && t.trim() == t), "{:?}", form.topics);
    if let Some(f) = &form.frequency {
        let _ = bantin_core::subscriber::Frequency::parse(f);
    }
    for t in &form.topics {
        let slug = bantin_core::text::slugify(t);
        assert!(!slug.chars().any(|c| c.is_control() || c.is_whitespace()), "{slug:?}");
    }
    if let Ok(address) = bantin_core::subscriber::normalize_address(&form.email) {
        assert!(!address.chars().any(|c| c.is_control() || c.is_whitespace()), "{address:?}");
        assert_eq!(address.matches('@').count(), 1, "{address:?}");
        assert!(address.len() <= 254, "{address:?}");
        assert_eq!(bantin_core::subscriber::normalize_address(&address).as_deref(), Ok(address.as_str()), "not idempotent");
    }
});
