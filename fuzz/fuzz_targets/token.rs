//! Link tokens: any text verifies to an error or an id, never a panic;
//! a token made from fuzzed (purpose, id, expiry) verifies to that id for
//! that purpose only, and any one changed character makes it invalid.
#![no_main]
use bantin_core::tokens::{Purpose, TokenKey};
use chrono::{DateTime, Utc};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let key = TokenKey::from_bytes(&[42; 32]);
    let now = DateTime::<Utc>::from_timestamp(1_790_000_000, 0).unwrap();
    let purposes = [Purpose::Confirm, Purpose::Unsubscribe, Purpose::Preferences];
    if let Ok(text) = std::str::from_utf8(data) {
        for p in purposes {
            let _ = key.verify(text, p, now);
        }
    }
    if data.len() < 18 {
        return;
    }
    let purpose = purposes[usize::from(data[0]) % 3];
    let id = i64::from_be_bytes(data[1..9].try_into().unwrap());
    let expiry = i64::from_be_bytes(data[9..17].try_into().unwrap()) % 4_000_000_000;
    let expires = (data[17] & 1 == 1).then(|| DateTime::<Utc>::from_timestamp(expiry, 0)).flatten();
    let token = key.sign(purpose, id, expires);
    let fresh = expires.is_none_or(|e| e.timestamp().max(1) >= now.timestamp());
    if fresh {
        assert_eq!(key.verify(&token, purpose, now), Ok(id));
    }
    for other in purposes.into_iter().filter(|p| *p != purpose) {
        assert!(key.verify(&token, other, now).is_err());
    }
    // Change one character (chosen by the input) to another base64url one.
    let at = usize::from(data[17]) % token.len();
    let mut chars: Vec<char> = token.chars().collect();
    chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
    let tampered: String = chars.into_iter().collect();
    // Even the last character: its unused bits must be zero (strict
    // base64), so no change goes unnoticed.
    assert!(key.verify(&tampered, purpose, now).is_err(), "tampered token accepted: {tampered}");
    assert!(TokenKey::from_bytes(&[43; 32]).verify(&token, purpose, now).is_err(), "another key accepted the token");
});
