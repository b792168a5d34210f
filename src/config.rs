//! The configuration as the daemon reads it: which file
//! ([`locate`]), its text and the process's environment ([`load`]), and the
//! folders the settings name. What the keys mean and how they are validated
//! is the core's (`bantin_core::config`, re-exported here whole), which
//! touches neither the file system nor the environment.

pub use bantin_core::config::*;

use std::path::{Path, PathBuf};

/// Where the config file is looked for when `--config` is not given.
pub const SYSTEM_CONFIG: &str = "/etc/bantin/bantin.toml";
pub const LOCAL_CONFIG: &str = "config/bantin.toml";
pub const ENV_CONFIG: &str = "BANTIN_CONFIG";

/// Picks the config file: `--config`, else `$BANTIN_CONFIG`, else
/// `/etc/bantin/bantin.toml` if it exists, else `config/bantin.toml`.
pub fn locate(flag: Option<&Path>) -> PathBuf {
    if let Some(p) = flag {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os(ENV_CONFIG).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    if Path::new(SYSTEM_CONFIG).exists() {
        return PathBuf::from(SYSTEM_CONFIG);
    }
    PathBuf::from(LOCAL_CONFIG)
}

/// Reads and validates the configuration at `file`, with environment
/// overrides applied, and checks that the folders it names exist.
pub fn load(file: &Path) -> Result<Settings, ConfigError> {
    if !file.is_file() {
        return Err(ConfigError::Unreadable {
            file: file.to_path_buf(),
            detail: "not found or not a regular file (pass --config FILE, set BANTIN_CONFIG, or create \
                     /etc/bantin/bantin.toml)"
                .into(),
        });
    }
    // As the `config` crate read files: bytes that are not UTF-8 become
    // U+FFFD rather than an error.
    let bytes = std::fs::read(file).map_err(|e| ConfigError::Invalid { file: file.to_path_buf(), detail: e.to_string() })?;
    let env = environment(file)?;
    let settings = Settings::from_sources(file, &String::from_utf8_lossy(&bytes), env.iter().cloned())?;
    check_folders(&settings, &Origin::new(file, &env))?;
    Ok(settings)
}

/// The process's environment, for the core. As the `config` crate did when
/// it read the environment itself: a variable whose name is not Unicode is
/// skipped, a `BANTIN__…` one whose value is not Unicode is an error.
fn environment(file: &Path) -> Result<Vec<(String, String)>, ConfigError> {
    let mut env = Vec::new();
    for (key, value) in std::env::vars_os() {
        let Ok(key) = key.into_string() else { continue };
        match value.into_string() {
            Ok(value) => env.push((key, value)),
            Err(value) => {
                if let Some(rest) = key.to_lowercase().strip_prefix("bantin__") {
                    return Err(ConfigError::Invalid {
                        file: file.to_path_buf(),
                        detail: format!("env variable {rest:?} contains non-Unicode data: {value:?}"),
                    });
                }
            }
        }
    }
    Ok(env)
}

/// The folders the settings name must exist: a dir store's root and the
/// template overrides.
fn check_folders(settings: &Settings, origin: &Origin) -> Result<(), ConfigError> {
    let path = &settings.store.path;
    if settings.store.kind == StoreKind::Dir && !path.is_dir() {
        let shown = std::path::absolute(path).unwrap_or_else(|_| path.clone());
        return Err(origin.bad(
            "store.path",
            format!(
                "the article folder {} does not exist or is not a folder; create it or point store.path at the portal's export",
                shown.display()
            ),
        ));
    }
    if let Some(dir) = &settings.mail.templates_dir
        && !dir.is_dir()
    {
        return Err(origin.bad(
            "mail.templates_dir",
            format!("{} is not a folder; create it or remove the key to use the built-in templates", dir.display()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_postgres_example_config_is_valid() {
        let s = load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config/bantin-postgres.toml")).unwrap();
        assert_eq!(s.store.kind, StoreKind::Postgres);
        assert_eq!(s.store.columns.id, "ma_bai");
        assert_eq!(s.store.body_format, BodyFormat::Html);
        assert_eq!(s.store.shown(), "postgres://bantin@localhost/portal table cms.bai_viet");
    }

    #[test]
    fn the_folders_named_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bantin.toml");
        let write = |extra: &str| {
            let text = format!("[site]\ntitle = \"T\"\nbase_url = \"https://x.org\"\n[store]\npath = {:?}\n{extra}", dir.path().display().to_string());
            std::fs::write(&file, text).unwrap();
        };
        write("");
        assert_eq!(load(&file).unwrap().store.path, dir.path());
        write("[mail]\ntemplates_dir = \"/nonexistent/templates\"\n");
        let e = load(&file).unwrap_err().to_string();
        assert!(e.contains("mail.templates_dir") && e.contains("/nonexistent/templates is not a folder"), "{e}");
        std::fs::write(&file, "[site]\ntitle = \"T\"\nbase_url = \"https://x.org\"\n[store]\npath = \"/nonexistent/articles\"\n").unwrap();
        let e = load(&file).unwrap_err().to_string();
        assert!(e.contains("store.path") && e.contains("the article folder /nonexistent/articles does not exist"), "{e}");
        // An SQL store has no folder to check.
        std::fs::write(&file, "[site]\ntitle = \"T\"\nbase_url = \"https://x.org\"\n[store]\nkind = \"sqlite\"\nurl = \"sqlite:///x.db\"\npath = \"/nonexistent/articles\"\n").unwrap();
        assert!(load(&file).is_ok());
    }
}
