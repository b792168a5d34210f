//! The key every link token is signed with, at rest: a file of mode 0600
//! (`mail.token_secret_file`, else beside the SQLite state database) or,
//! for instances sharing a PostgreSQL state database without a file, a row
//! of that database. Signing and verifying are the core's
//! (`bantin_core::tokens`).

pub use bantin_core::tokens::*;

use std::path::{Path, PathBuf};

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

/// Reads the key file, creating it (32 random bytes, mode 0600) if it
/// does not exist yet.
pub fn load_or_create(path: &Path) -> Result<TokenKey, KeyError> {
    match std::fs::read(path) {
        Ok(bytes) if bytes.len() >= KEY_LEN => return Ok(TokenKey::from_vec(bytes)),
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
            Ok(TokenKey::from_vec(key))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load_or_create(path),
        Err(e) => Err(write_err(e)),
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
        return load_or_create(&path);
    }
    let mut fresh = vec![0u8; KEY_LEN];
    getrandom::fill(&mut fresh).map_err(|e| KeyError::Random(e.to_string()))?;
    let key = state.shared_token_key(&fresh).await.map_err(|e| KeyError::Shared(e.to_string()))?;
    if key.len() < KEY_LEN {
        return Err(KeyError::Shared(format!("the stored key has {} bytes, fewer than {KEY_LEN}", key.len())));
    }
    Ok(TokenKey::from_vec(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_file_is_made_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/bantin.secret");
        let a = load_or_create(&path).unwrap();
        let b = load_or_create(&path).unwrap();
        assert_eq!(a.sign(Purpose::Confirm, 1, None), b.sign(Purpose::Confirm, 1, None));
        assert_eq!(a.len(), 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
}
