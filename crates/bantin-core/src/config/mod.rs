//! The configuration room: a TOML file plus `BANTIN__SECTION__KEY`
//! environment overrides, read with the `config` crate into raw serde
//! structs (unknown keys are refused) and then validated, all up front,
//! into typed [`Settings`]. Nothing later in the program re-reads or
//! re-checks config.
//!
//! One file per section (`site`, `store`, `feeds`, `http`, `state`, `mail`,
//! `digest`) holds that section's raw struct with its defaults, its typed
//! settings and the validation from one to the other; this file holds the
//! whole ([`Settings`], the top-level raw struct), the errors and the
//! helpers the sections share.
//!
//! Every error names the file, the key and what to write instead; the
//! binary maps them all to exit code 78 (EX_CONFIG).

mod digest;
mod feeds;
mod http;
mod mail;
mod site;
mod state;
mod store;

pub use digest::Digest;
pub use feeds::{ContentMode, Feeds};
pub use http::Http;
pub use mail::Mail;
pub use site::Site;
pub use state::State;
pub use store::{BodyFormat, Columns, FIELDS, Store, StoreKind};

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;
use url::Url;

/// Where the config file is looked for when `--config` is not given.
pub const SYSTEM_CONFIG: &str = "/etc/bantin/bantin.toml";
pub const LOCAL_CONFIG: &str = "config/bantin.toml";
pub const ENV_CONFIG: &str = "BANTIN_CONFIG";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read the configuration: {detail}")]
    Unreadable { file: PathBuf, detail: String },
    #[error("{file}: {detail}")]
    Invalid { file: PathBuf, detail: String },
    #[error("{file}: {key}: {message}{env}", env = env_hint(key))]
    Key { file: PathBuf, key: String, message: String },
}

fn env_hint(key: &str) -> String {
    let var = format!("BANTIN__{}", key.to_uppercase().replace('.', "__"));
    if std::env::var_os(&var).is_some() {
        format!(" (the value comes from the environment variable {var})")
    } else {
        String::new()
    }
}

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

/// Where the values being validated come from, for the errors: the file.
pub struct Origin<'a> {
    file: &'a Path,
}

impl Origin<'_> {
    /// An error at `key` (`section.key`) saying what is wrong and what to
    /// write instead.
    pub fn bad(&self, key: &str, message: String) -> ConfigError {
        ConfigError::Key { file: self.file.to_path_buf(), key: key.to_string(), message }
    }
}

// ---- validated settings ---------------------------------------------------

#[derive(Debug, Clone)]
pub struct Settings {
    /// The file these settings came from.
    pub file: PathBuf,
    pub site: Site,
    pub store: Store,
    pub feeds: Feeds,
    pub http: Http,
    pub state: State,
    pub mail: Mail,
    pub digest: Digest,
}

// ---- raw file shape -------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    site: site::RawSite,
    #[serde(default)]
    store: store::RawStore,
    #[serde(default)]
    feeds: feeds::RawFeeds,
    #[serde(default)]
    http: http::RawHttp,
    #[serde(default)]
    state: state::RawState,
    #[serde(default)]
    mail: mail::RawMail,
    #[serde(default)]
    digest: digest::RawDigest,
}

// ---- loading --------------------------------------------------------------

/// Reads and validates the configuration at `file`, with environment
/// overrides applied.
pub fn load(file: &Path) -> Result<Settings, ConfigError> {
    if !file.is_file() {
        return Err(ConfigError::Unreadable {
            file: file.to_path_buf(),
            detail: "not found or not a regular file (pass --config FILE, set BANTIN_CONFIG, or create \
                     /etc/bantin/bantin.toml)"
                .into(),
        });
    }
    let raw: RawConfig = config::Config::builder()
        .add_source(config::File::from(file).format(config::FileFormat::Toml))
        .add_source(
            config::Environment::with_prefix("BANTIN")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true),
        )
        .build()
        .and_then(|c| c.try_deserialize())
        .map_err(|e| ConfigError::Invalid { file: file.to_path_buf(), detail: explain(e) })?;
    validate(raw, file)
}

/// Turns the `config` crate's messages into ones that say where to look.
fn explain(e: config::ConfigError) -> String {
    let text = e.to_string();
    if text.contains("unknown field") {
        // The key may come from a BANTIN__… variable rather than the file.
        let field = text.split('`').nth(1).unwrap_or_default().to_lowercase();
        let from_env = std::env::vars_os().map(|(k, _)| k.to_string_lossy().into_owned()).find(|k| {
            k.strip_prefix("BANTIN__").is_some_and(|rest| rest.split("__").any(|part| part.to_lowercase() == field))
        });
        match from_env {
            Some(var) => format!("{text}; it comes from the environment variable {var}: unset it or fix its name"),
            None => format!("{text}; remove the key or fix its spelling (the keys are listed in config/bantin.toml)"),
        }
    } else if text.contains("missing field") {
        format!("{text}; add it to the file")
    } else {
        text
    }
}

fn validate(raw: RawConfig, file: &Path) -> Result<Settings, ConfigError> {
    let origin = Origin { file };
    let site = raw.site.validate(&origin)?;
    let store = raw.store.validate(&origin)?;
    let feeds = raw.feeds.validate(&origin)?;
    let http = raw.http.validate(&origin, &site.base_url)?;
    let state = raw.state.validate(&origin)?;
    let mail = raw.mail.validate(&origin)?;
    let digest = raw.digest.validate(&origin)?;
    Ok(Settings { file: file.to_path_buf(), site, store, feeds, http, state, mail, digest })
}

/// An optional string key, with `""` meaning unset.
fn non_empty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.is_empty())
}

/// An absolute http(s) URL, normalised to end with `/` so that joining a
/// relative path keeps the whole base path.
fn absolute_url(s: &str) -> Result<Url, String> {
    let mut url = Url::parse(s.trim())
        .map_err(|e| format!("{s:?} is not an absolute URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("{s:?} must be an absolute http:// or https:// URL"));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

/// The URL with any password replaced, for messages and logs: the
/// `user:password@` part and a `password=` query parameter (PostgreSQL
/// URLs may carry either).
pub fn redact(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) if u.password().is_some() || u.query_pairs().any(|(k, _)| k == "password") => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            let pairs: Vec<(String, String)> = u
                .query_pairs()
                .map(|(k, v)| {
                    let v = if k == "password" { "***".to_string() } else { v.into_owned() };
                    (k.into_owned(), v)
                })
                .collect();
            if u.query().is_some() {
                u.query_pairs_mut().clear().extend_pairs(pairs);
            }
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// `addr@domain` or `Name <addr@domain>`, without white space in the
/// address.
fn looks_like_mailbox(s: &str) -> bool {
    let addr = match (s.rfind('<'), s.rfind('>')) {
        (Some(l), Some(r)) if l < r && r == s.len() - 1 => &s[l + 1..r],
        (None, None) => s,
        _ => return false,
    };
    let mut parts = addr.split('@');
    matches!((parts.next(), parts.next(), parts.next()), (Some(l), Some(d), None)
        if !l.is_empty() && !d.is_empty() && !addr.chars().any(|c| c.is_whitespace() || c.is_control()))
}

/// Reads durations such as `500ms`, `90s`, `30m`, `12h`, `7d`, `2w`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("{s:?} is not a duration such as \"7d\", \"12h\" or \"30m\""))?;
    let secs = match unit.trim() {
        "ms" => return Ok(Duration::from_millis(n)),
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(format!("{s:?} has an unknown unit; use ms, s, m, h, d or w (e.g. \"7d\")")),
    };
    Ok(Duration::from_secs(n.saturating_mul(secs)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86400)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("7 days").is_err());
        assert!(parse_duration("d").is_err());
    }

    /// The settings of a minimal file plus `text` (in `[store]`).
    pub(super) fn load_text(text: &str) -> Result<Settings, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("articles")).unwrap();
        let file = dir.path().join("bantin.toml");
        let store = dir.path().join("articles");
        std::fs::write(&file, format!("[site]\ntitle = \"T\"\nbase_url = \"https://x.org\"\n[store]\npath = {:?}\n{text}", store.display().to_string())).unwrap();
        load(&file)
    }

    #[test]
    fn the_postgres_example_config_is_valid() {
        let s = load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/bantin-postgres.toml")).unwrap();
        assert_eq!(s.store.kind, StoreKind::Postgres);
        assert_eq!(s.store.columns.id, "ma_bai");
        assert_eq!(s.store.body_format, BodyFormat::Html);
        assert_eq!(s.store.shown(), "postgres://bantin@localhost/portal table cms.bai_viet");
    }

    #[test]
    fn base_url_gets_a_trailing_slash() {
        assert_eq!(absolute_url("https://x.org/portal").unwrap().as_str(), "https://x.org/portal/");
        assert!(absolute_url("/relative").is_err());
        assert!(absolute_url("ftp://x.org").is_err());
    }

    #[test]
    fn mailboxes() {
        assert!(looks_like_mailbox("Bản tin Yên Bái <bantin@example.org>"));
        assert!(looks_like_mailbox("bantin@example.org"));
        assert!(!looks_like_mailbox("bantin"));
        assert!(!looks_like_mailbox("a <b@c> d"));
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("smtp://u:secret@host:25"), "smtp://u:***@host:25");
        assert_eq!(redact("postgres://bantin:secret@db/bantin?sslmode=require"), "postgres://bantin:***@db/bantin?sslmode=require");
        let shown = redact("postgres://bantin@db/bantin?password=secret&sslmode=require");
        assert!(!shown.contains("secret") && shown.contains("sslmode=require"), "{shown}");
    }
}
