//! Signed tokens for the links in mails: confirm, unsubscribe, preferences.
//!
//! A token is `base64url(payload || HMAC-SHA256(key, payload))` with the
//! payload `version (1) | purpose (1) | subscriber id (8) | expiry (8,
//! Unix seconds, 0 = none)`. Nothing is stored: the signature is the proof.
//! Invariants: a token verifies only for the purpose it was made for, the
//! MAC is compared in constant time (`Mac::verify_slice`), and the key is
//! 32 random bytes kept in a file of mode 0600.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::path::{Path, PathBuf};

type HmacSha256 = Hmac<Sha256>;

const VERSION: u8 = 1;
const PAYLOAD_LEN: usize = 18;
const MAC_LEN: usize = 32;
const KEY_LEN: usize = 32;

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

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: cannot read the token secret: {source}; check mail.token_secret_file and its permissions")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: cannot create the token secret: {source}; check that the folder exists and is writable")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{path}: the token secret must hold at least {KEY_LEN} bytes; delete the file to have a new one made")]
    Short { path: PathBuf },
    #[error("cannot get random bytes from the operating system: {0}")]
    Random(String),
    #[error("the token key kept in the state database: {0}")]
    Shared(String),
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

    /// Reads the key file, creating it (32 random bytes, mode 0600) if it
    /// does not exist yet.
    pub fn load_or_create(path: &Path) -> Result<TokenKey, KeyError> {
        match std::fs::read(path) {
            Ok(bytes) if bytes.len() >= KEY_LEN => return Ok(TokenKey { key: bytes }),
            Ok(_) => return Err(KeyError::Short { path: path.to_path_buf() }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(KeyError::Read { path: path.to_path_buf(), source }),
        }
        let mut key = vec![0u8; KEY_LEN];
        getrandom::fill(&mut key).map_err(|e| KeyError::Random(e.to_string()))?;
        let write_err = |source| KeyError::Write { path: path.to_path_buf(), source };
        if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(folder).map_err(write_err)?;
        }
        let mut options = std::fs::OpenOptions::new();
        // create_new: two processes starting at once must not overwrite
        // each other's key; the loser reads the winner's.
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(path) {
            Ok(mut f) => {
                std::io::Write::write_all(&mut f, &key).map_err(write_err)?;
                f.sync_all().map_err(write_err)?;
                Ok(TokenKey { key })
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Self::load_or_create(path),
            Err(e) => Err(write_err(e)),
        }
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
        Ok(i64::from_be_bytes(id))
    }
}

/// Where the key file lives: `mail.token_secret_file`, else beside the
/// SQLite state database. None: no file (PostgreSQL state without
/// `mail.token_secret_file`; the key lives in the database, see [`load_key`]).
pub fn secret_path(settings: &crate::Settings) -> Option<PathBuf> {
    if let Some(p) = &settings.mail.token_secret_file {
        return Some(p.clone());
    }
    crate::state::sqlite_path(&settings.state.url).map(|db| db.with_file_name("bantin.secret"))
}

/// The key every link is signed with. Instances that share a PostgreSQL
/// state database must share it too, or a link mailed by one would be
/// refused by another: a configured `mail.token_secret_file` must then hold
/// the same bytes on every instance; without one, the key is kept in the
/// database itself (made by the first instance that starts).
pub async fn load_key(settings: &crate::Settings, state: &crate::state::StateStore) -> Result<TokenKey, KeyError> {
    if let Some(path) = secret_path(settings) {
        return TokenKey::load_or_create(&path);
    }
    let mut fresh = vec![0u8; KEY_LEN];
    getrandom::fill(&mut fresh).map_err(|e| KeyError::Random(e.to_string()))?;
    let key = state.shared_token_key(&fresh).await.map_err(|e| KeyError::Shared(e.to_string()))?;
    if key.len() < KEY_LEN {
        return Err(KeyError::Shared(format!("the stored key has {} bytes, fewer than {KEY_LEN}", key.len())));
    }
    Ok(TokenKey { key })
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
    }

    #[test]
    fn the_key_file_is_made_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/bantin.secret");
        let a = TokenKey::load_or_create(&path).unwrap();
        let b = TokenKey::load_or_create(&path).unwrap();
        assert_eq!(a.key, b.key);
        assert_eq!(a.key.len(), 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
}
