//! Signed tokens for the links in mails: confirm, unsubscribe, preferences.
//!
//! A token is `base64url(payload || HMAC-SHA256(key, payload))` with the
//! payload `version (1) | purpose (1) | subscriber id (8) | expiry (8,
//! Unix seconds, 0 = none)`. Nothing is stored: the signature is the proof.
//! Invariants: a token verifies only for the purpose it was made for, the
//! MAC is compared in constant time (`Mac::verify_slice`), and the key is
//! 32 random bytes, kept by the daemon (`bantin::tokens`: a file of mode 0600
//! or the state database).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

const VERSION: u8 = 1;
const PAYLOAD_LEN: usize = 18;
const MAC_LEN: usize = 32;
/// Bytes of a key: what a new key has and the least a stored one must hold.
pub const KEY_LEN: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Confirm,
    Unsubscribe,
    Preferences,
}

impl Purpose {
    fn byte(self) -> u8 {
        match self {
            Purpose::Confirm => 1,
            Purpose::Unsubscribe => 2,
            Purpose::Preferences => 3,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the link is damaged or was not made by this site")]
    Invalid,
    #[error("the link is meant for another page")]
    WrongPurpose,
    #[error("the link has expired; ask for a new one")]
    Expired,
}

/// The HMAC key. Debug does not print it.
#[derive(Clone)]
pub struct TokenKey {
    key: Vec<u8>,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(…)")
    }
}

impl TokenKey {
    pub fn from_bytes(key: &[u8]) -> TokenKey {
        TokenKey { key: key.to_vec() }
    }

    /// A fresh key from bytes the caller got from the operating system.
    pub fn from_vec(key: Vec<u8>) -> TokenKey {
        TokenKey { key }
    }

    /// How many bytes the key holds.
    pub fn len(&self) -> usize {
        self.key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.key.is_empty()
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length, so this cannot fail.
        HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length")
    }

    /// Makes a token; `expires` only matters for confirmation links.
    pub fn sign(&self, purpose: Purpose, subscriber: i64, expires: Option<DateTime<Utc>>) -> String {
        let mut buf = Vec::with_capacity(PAYLOAD_LEN + MAC_LEN);
        buf.push(VERSION);
        buf.push(purpose.byte());
        buf.extend_from_slice(&subscriber.to_be_bytes());
        buf.extend_from_slice(&expires.map_or(0, |t| t.timestamp().max(1)).to_be_bytes());
        let mut mac = self.mac();
        mac.update(&buf);
        buf.extend_from_slice(&mac.finalize().into_bytes());
        URL_SAFE_NO_PAD.encode(buf)
    }

    /// Checks a token and returns the subscriber id it carries.
    pub fn verify(&self, token: &str, purpose: Purpose, now: DateTime<Utc>) -> Result<i64, TokenError> {
        self.verify_claims(token, purpose, now).map(|c| c.subscriber)
    }

    /// Checks a token and returns what it carries: the subscriber and,
    /// for a confirmation link, its expiry (which tells when it was made).
    pub fn verify_claims(&self, token: &str, purpose: Purpose, now: DateTime<Utc>) -> Result<Claims, TokenError> {
        if token.len() > 128 {
            return Err(TokenError::Invalid);
        }
        let bytes = URL_SAFE_NO_PAD.decode(token.trim()).map_err(|_| TokenError::Invalid)?;
        if bytes.len() != PAYLOAD_LEN + MAC_LEN || bytes[0] != VERSION {
            return Err(TokenError::Invalid);
        }
        let (payload, tag) = bytes.split_at(PAYLOAD_LEN);
        let mut mac = self.mac();
        mac.update(payload);
        mac.verify_slice(tag).map_err(|_| TokenError::Invalid)?;
        if payload[1] != purpose.byte() {
            return Err(TokenError::WrongPurpose);
        }
        let mut id = [0u8; 8];
        id.copy_from_slice(&payload[2..10]);
        let mut exp = [0u8; 8];
        exp.copy_from_slice(&payload[10..18]);
        let expires = i64::from_be_bytes(exp);
        if expires != 0 && now.timestamp() > expires {
            return Err(TokenError::Expired);
        }
        let expires = if expires == 0 { None } else { DateTime::from_timestamp(expires, 0) };
        Ok(Claims { subscriber: i64::from_be_bytes(id), expires })
    }
}

/// Return-path tokens: the `+token` of an address at `mail.return_path`
/// (`report::verp`). [`bounce::make`]'s names an outbox row (the VERP
/// envelope sender, where reports come back); [`bounce::make_unsubscribe`]'s
/// names a subscriber (the `mailto:` of List-Unsubscribe: a mail to it
/// unsubscribes). `id || HMAC-SHA256(key, version | purpose | id as 8
/// bytes)[..8]`, the id in as few big-endian bytes as it takes, in
/// lower-case base32 (RFC 4648's alphabet, no padding): 15 to 26
/// characters that survive an MTA lower-casing the local part. Purpose
/// bytes 4 and 5 and the shorter MAC input keep them apart from each other
/// and from link tokens. A 64-bit MAC is enough here: a forged token can
/// at worst record a bounce or end a subscription, and each guess costs
/// the forger a mail.
pub mod bounce {
    use crate::tokens::{TokenKey, VERSION};
    use hmac::Mac;

    const OUTBOX_ROW: u8 = 4;
    const UNSUBSCRIBE: u8 = 5;
    const TAG_LEN: usize = 8;
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

    /// The token of outbox row `row`.
    pub fn make(key: &TokenKey, row: i64) -> String {
        make_for(key, OUTBOX_ROW, row)
    }

    /// The row `token` names, if this key made it; any case. The MAC is
    /// compared in constant time.
    pub fn verify(key: &TokenKey, token: &str) -> Option<i64> {
        verify_for(key, OUTBOX_ROW, token)
    }

    /// The token of `subscriber`'s unsubscribe-by-mail address.
    pub fn make_unsubscribe(key: &TokenKey, subscriber: i64) -> String {
        make_for(key, UNSUBSCRIBE, subscriber)
    }

    /// The subscriber an unsubscribe-by-mail `token` names, as [`verify`].
    pub fn verify_unsubscribe(key: &TokenKey, token: &str) -> Option<i64> {
        verify_for(key, UNSUBSCRIBE, token)
    }

    fn make_for(key: &TokenKey, purpose: u8, id: i64) -> String {
        let id = id.to_be_bytes();
        let skip = id[..7].iter().take_while(|b| **b == 0).count();
        let mut bytes = id[skip..].to_vec();
        bytes.extend_from_slice(&tag(key, purpose, &id)[..TAG_LEN]);
        encode(&bytes)
    }

    fn verify_for(key: &TokenKey, purpose: u8, token: &str) -> Option<i64> {
        if token.len() > 32 {
            return None;
        }
        let bytes = decode(token)?;
        if !(TAG_LEN + 1..=TAG_LEN + 8).contains(&bytes.len()) {
            return None;
        }
        let (short, given) = bytes.split_at(bytes.len() - TAG_LEN);
        if short.len() > 1 && short[0] == 0 {
            return None; // only the shortest form is made
        }
        let mut id = [0u8; 8];
        id[8 - short.len()..].copy_from_slice(short);
        let mut mac = key.mac();
        mac.update(&[VERSION, purpose]);
        mac.update(&id);
        mac.verify_truncated_left(given).ok()?;
        Some(i64::from_be_bytes(id))
    }

    fn tag(key: &TokenKey, purpose: u8, id: &[u8; 8]) -> Vec<u8> {
        let mut mac = key.mac();
        mac.update(&[VERSION, purpose]);
        mac.update(id);
        mac.finalize().into_bytes().to_vec()
    }

    fn encode(bytes: &[u8]) -> String {
        let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
        let (mut acc, mut bits) = (0u32, 0u32);
        for &b in bytes {
            acc = (acc << 8) | u32::from(b);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(char::from(ALPHABET[((acc >> bits) & 31) as usize]));
            }
        }
        if bits > 0 {
            out.push(char::from(ALPHABET[((acc << (5 - bits)) & 31) as usize]));
        }
        out
    }

    /// Strict: only lengths an encoding can have, unused bits zero.
    fn decode(text: &str) -> Option<Vec<u8>> {
        if matches!(text.len() % 8, 1 | 3 | 6) {
            return None;
        }
        let mut out = Vec::with_capacity(text.len() * 5 / 8);
        let (mut acc, mut bits) = (0u32, 0u32);
        for c in text.bytes() {
            let v = ALPHABET.iter().position(|a| *a == c.to_ascii_lowercase())? as u32;
            acc = ((acc << 5) | v) & 0xFFFF;
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
            }
        }
        (acc & ((1 << bits) - 1) == 0).then_some(out)
    }
}

/// What a verified token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claims {
    pub subscriber: i64,
    /// To the second; `None` for links that do not expire.
    pub expires: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap()
    }

    #[test]
    fn a_token_round_trips_for_its_purpose_only() {
        let k = TokenKey::from_bytes(&[7; 32]);
        let t = k.sign(Purpose::Unsubscribe, 42, None);
        assert_eq!(k.verify(&t, Purpose::Unsubscribe, now()), Ok(42));
        assert_eq!(k.verify(&t, Purpose::Preferences, now()), Err(TokenError::WrongPurpose));
        assert!(t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{t}");
    }

    #[test]
    fn tampered_or_foreign_tokens_fail() {
        let k = TokenKey::from_bytes(&[7; 32]);
        let other = TokenKey::from_bytes(&[8; 32]);
        let t = k.sign(Purpose::Unsubscribe, 42, None);
        assert_eq!(other.verify(&t, Purpose::Unsubscribe, now()), Err(TokenError::Invalid));
        let mut bytes = URL_SAFE_NO_PAD.decode(&t).unwrap();
        bytes[9] ^= 1; // subscriber 42 → 43
        let forged = URL_SAFE_NO_PAD.encode(bytes);
        assert_eq!(k.verify(&forged, Purpose::Unsubscribe, now()), Err(TokenError::Invalid));
        assert_eq!(k.verify("not a token", Purpose::Unsubscribe, now()), Err(TokenError::Invalid));
        assert_eq!(k.verify("", Purpose::Unsubscribe, now()), Err(TokenError::Invalid));
    }

    #[test]
    fn confirmation_tokens_expire() {
        let k = TokenKey::from_bytes(&[7; 32]);
        let t = k.sign(Purpose::Confirm, 1, Some(now() + chrono::Duration::days(7)));
        assert_eq!(k.verify(&t, Purpose::Confirm, now()), Ok(1));
        assert_eq!(k.verify(&t, Purpose::Confirm, now() + chrono::Duration::days(8)), Err(TokenError::Expired));
        let claims = k.verify_claims(&t, Purpose::Confirm, now()).unwrap();
        assert_eq!(claims, Claims { subscriber: 1, expires: Some(now() + chrono::Duration::days(7)) });
        let t = k.sign(Purpose::Unsubscribe, 2, None);
        assert_eq!(k.verify_claims(&t, Purpose::Unsubscribe, now()).unwrap().expires, None);
    }

    #[test]
    fn a_bounce_token_round_trips_in_any_case_and_fails_when_tampered() {
        let k = TokenKey::from_bytes(&[7; 32]);
        for row in [0, 1, 255, 256, 123_456_789, i64::MAX, -1] {
            let t = bounce::make(&k, row);
            assert!((15..=26).contains(&t.len()), "{t}");
            assert!(t.bytes().all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)), "{t}");
            assert_eq!(bounce::verify(&k, &t), Some(row));
            assert_eq!(bounce::verify(&k, &t.to_ascii_uppercase()), Some(row));
            assert_eq!(bounce::verify(&TokenKey::from_bytes(&[8; 32]), &t), None);
            for at in 0..t.len() {
                let mut b = t.clone().into_bytes();
                b[at] = if b[at] == b'a' { b'b' } else { b'a' };
                assert_eq!(bounce::verify(&k, &String::from_utf8(b).unwrap()), None, "{t} changed at {at}");
            }
        }
        assert_eq!(bounce::make(&k, 1_000_000).len(), 18); // 3 id bytes + 8
        for junk in ["", "a", "!!!!!!!!!!!!!!!!", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "ééééééééééééééé"]
        {
            assert_eq!(bounce::verify(&k, junk), None, "{junk}");
        }
        // A link token's MAC is no bounce token's.
        let link = k.sign(Purpose::Unsubscribe, 5, None);
        assert_eq!(bounce::verify(&k, &link.to_ascii_lowercase()), None);
    }

    /// A mail to the List-Unsubscribe address ends a subscription, so its
    /// token names a subscriber and verifies for that purpose only: a VERP
    /// sender's token (an outbox row, in every message's envelope) must
    /// not unsubscribe the subscriber whose id equals the row's.
    #[test]
    fn an_unsubscribe_token_and_a_bounce_token_of_one_id_do_not_mix() {
        let k = TokenKey::from_bytes(&[7; 32]);
        for id in [1, 42, 1_000_000, i64::MAX] {
            let (leave, row) = (bounce::make_unsubscribe(&k, id), bounce::make(&k, id));
            assert_ne!(leave, row);
            assert_eq!(bounce::verify_unsubscribe(&k, &leave.to_ascii_uppercase()), Some(id));
            assert_eq!(bounce::verify_unsubscribe(&k, &row), None, "a VERP token is no unsubscribe token");
            assert_eq!(bounce::verify(&k, &leave), None, "an unsubscribe token is no VERP token");
            assert_eq!(bounce::verify_unsubscribe(&TokenKey::from_bytes(&[8; 32]), &leave), None);
        }
    }
}
