//! The configuration room: a TOML file plus `BANTIN__SECTION__KEY`
//! environment overrides, read with the `config` crate into raw serde
//! structs (unknown keys are refused) and then validated, all up front,
//! into typed [`Settings`]. Nothing later in the program re-reads or
//! re-checks config. The file's text and the environment are handed in
//! ([`Settings::from_sources`]): reading them, and checking that the folders
//! the settings name exist, is the daemon's `config::load`.
//!
//! One file per section (`site`, `store`, `feeds`, `http`, `state`, `mail`,
//! `digest`, `retention`, `subscription`, `bounces`, `admin`) holds that section's raw struct with its
//! defaults, its typed settings and the validation from one to the other; this file holds the
//! whole ([`Settings`], the top-level raw struct), the errors and the
//! helpers the sections share; `secrets.rs` keeps passwords out of the
//! messages (URLs, and the source lines TOML errors quote).
//!
//! Every error names the file, the key and what to write instead; the
//! binary maps them all to exit code 78 (EX_CONFIG).

mod admin;
mod advice;
mod bounces;
mod digest;
mod feeds;
mod http;
mod mail;
pub mod reference;
#[cfg(test)]
mod reference_doc;
mod retention;
mod secrets;
mod site;
mod state;
mod store;
mod subscription;

pub use admin::Admin;
pub use bounces::Bounces;
pub use digest::Digest;
pub use feeds::{ContentMode, Feeds};
pub use http::{Cidr, ForwardedHeader, Http};
pub use mail::{Mail, SmtpTls};
pub use retention::Retention;
pub use secrets::redact;
pub use site::Site;
pub use state::State;
pub use store::{BodyFormat, Columns, FIELDS, Store, StoreKind};
pub use subscription::Subscription;

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;
use url::Url;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read the configuration: {detail}")]
    Unreadable { file: PathBuf, detail: String },
    #[error("{file}: {detail}")]
    Invalid { file: PathBuf, detail: String },
    /// `env`: the environment variable the value came from, if it did.
    #[error("{file}: {key}: {message}{}", env_hint(env.as_deref()))]
    Key { file: PathBuf, key: String, message: String, env: Option<String> },
}

fn env_hint(var: Option<&str>) -> String {
    var.map(|var| format!(" (the value comes from the environment variable {var})")).unwrap_or_default()
}

/// The prefix and the separator of the variables that override keys:
/// `BANTIN__SECTION__KEY`.
const ENV_PREFIX: &str = "BANTIN";
const ENV_SEPARATOR: &str = "__";

/// Where the values being validated come from, for the errors: the file
/// and the environment that may override its keys.
pub struct Origin<'a> {
    file: &'a Path,
    env: &'a [(String, String)],
}

impl<'a> Origin<'a> {
    pub fn new(file: &'a Path, env: &'a [(String, String)]) -> Self {
        Origin { file, env }
    }

    /// An error at `key` (`section.key`) saying what is wrong and what to
    /// write instead; it names the `BANTIN__SECTION__KEY` variable when the
    /// environment sets one.
    pub fn bad(&self, key: &str, message: String) -> ConfigError {
        let var = format!("{ENV_PREFIX}{ENV_SEPARATOR}{}", key.to_uppercase().replace('.', ENV_SEPARATOR));
        let env = self.env.iter().any(|(k, _)| *k == var).then_some(var);
        ConfigError::Key { file: self.file.to_path_buf(), key: key.to_string(), message, env }
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
    pub retention: Retention,
    pub subscription: Subscription,
    pub bounces: Bounces,
    pub admin: Admin,
}

// ---- raw file shape -------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(test, derive(serde::Serialize, schemars::JsonSchema))]
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
    #[serde(default)]
    retention: retention::RawRetention,
    #[serde(default)]
    subscription: subscription::RawSubscription,
    #[serde(default)]
    bounces: bounces::RawBounces,
    #[serde(default)]
    admin: admin::RawAdmin,
}

// ---- from text to settings ------------------------------------------------

impl Settings {
    /// Validates the configuration `text` (of the file `file`, named in
    /// the errors) with the overrides among `env` (`BANTIN__SECTION__KEY`
    /// variables; the others are ignored) applied over it. Pure: reads
    /// neither the file system nor the process's environment, so whether
    /// `store.path` and `mail.templates_dir` exist is the caller's to check.
    pub fn from_sources(
        file: &Path,
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        let env: Vec<(String, String)> = env.into_iter().collect();
        let raw: RawConfig = config::Config::builder()
            .add_source(Toml { uri: file.display().to_string(), text: text.strip_prefix('\u{feff}').unwrap_or(text).into() })
            .add_source(
                config::Environment::with_prefix(ENV_PREFIX)
                    .prefix_separator(ENV_SEPARATOR)
                    .separator(ENV_SEPARATOR)
                    .try_parsing(true)
                    .source(Some(env.iter().cloned().collect())),
            )
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| ConfigError::Invalid { file: file.to_path_buf(), detail: explain(e, &env) })?;
        raw.validate(&Origin::new(file, &env))
    }
}

impl RawConfig {
    fn validate(self, origin: &Origin) -> Result<Settings, ConfigError> {
        let site = self.site.validate(origin)?;
        let store = self.store.validate(origin)?;
        let feeds = self.feeds.validate(origin)?;
        let http = self.http.validate(origin, &site.base_url)?;
        let state = self.state.validate(origin)?;
        let mail = self.mail.validate(origin)?;
        let digest = self.digest.validate(origin)?;
        let retention = self.retention.validate(origin)?;
        let subscription = self.subscription.validate(origin)?;
        let bounces = self.bounces.validate(origin)?;
        let admin = self.admin.validate(origin)?;
        if bounces.listen.is_some() && mail.return_path.is_none() {
            return Err(origin.bad(
                "bounces.listen",
                "receives mail for the domain of mail.return_path, which is not set: set mail.return_path (e.g. \"bounces@example.org\") or remove bounces.listen".into(),
            ));
        }
        Ok(Settings { file: origin.file.to_path_buf(), site, store, feeds, http, state, mail, digest, retention, subscription, bounces, admin })
    }
}

/// The file's text as a source of the `config` crate: what its own file
/// source gives (values and parse errors tagged "in <file>"), without
/// reading the file.
#[derive(Debug, Clone)]
struct Toml {
    uri: String,
    text: String,
}

impl config::Source for Toml {
    fn clone_into_box(&self) -> Box<dyn config::Source + Send + Sync> {
        Box::new(self.clone())
    }

    fn collect(&self) -> Result<config::Map<String, config::Value>, config::ConfigError> {
        use config::Format as _;
        config::FileFormat::Toml
            .parse(Some(&self.uri), &self.text)
            .map_err(|cause| config::ConfigError::FileParse { uri: Some(self.uri.clone()), cause })
    }
}

/// Turns the `config` crate's messages into ones that say where to look.
fn explain(e: config::ConfigError, env: &[(String, String)]) -> String {
    // A parse error quotes the offending line of the file, which may be
    // the one with a password.
    let text = secrets::scrub_quoted_source(&e.to_string());
    if text.contains("unknown field") {
        // The key may come from a BANTIN__… variable rather than the file.
        let field = text.split('`').nth(1).unwrap_or_default().to_lowercase();
        let from_env = env.iter().map(|(k, _)| k).find(|k| {
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

/// `addr@domain` or `Name <addr@domain>`, without white space in the
/// address.
fn looks_like_mailbox(s: &str) -> bool {
    let Some(addr) = mailbox_address(s) else { return false };
    let mut parts = addr.split('@');
    matches!((parts.next(), parts.next(), parts.next()), (Some(l), Some(d), None)
        if !l.is_empty() && !d.is_empty() && !addr.chars().any(|c| c.is_whitespace() || c.is_control()))
}

/// The address of `Name <user@host>` or `user@host`; `None` for any other
/// shape.
fn mailbox_address(s: &str) -> Option<&str> {
    match (s.rfind('<'), s.rfind('>')) {
        (Some(l), Some(r)) if l < r && r == s.len() - 1 => Some(&s[l + 1..r]),
        (None, None) => Some(s),
        _ => None,
    }
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
        let text = format!("[site]\ntitle = \"T\"\nbase_url = \"https://x.org\"\n[store]\n{text}");
        Settings::from_sources(Path::new("bantin.toml"), &text, [])
    }

    #[test]
    fn the_environment_overrides_the_file_and_is_named() {
        let env = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
        let file = Path::new("/etc/bantin/bantin.toml");
        let text = "[site]\ntitle = \"T\"\nbase_url = \"https://x.org\"\n[feeds]\nitems = 20\n";
        let s = Settings::from_sources(file, text, env(&[("BANTIN__FEEDS__ITEMS", "7"), ("HOME", "/root")])).unwrap();
        assert_eq!(s.feeds.items, 7);
        assert_eq!(s.file, file);
        let e = Settings::from_sources(file, text, env(&[("BANTIN__FEEDS__ITEMS", "0")])).unwrap_err().to_string();
        assert!(e.starts_with("/etc/bantin/bantin.toml: feeds.items: ") && e.ends_with("(the value comes from the environment variable BANTIN__FEEDS__ITEMS)"), "{e}");
        let e = Settings::from_sources(file, text, env(&[("BANTIN__SITE__TITEL", "x")])).unwrap_err().to_string();
        assert!(e.contains("titel") && e.contains("environment variable BANTIN__SITE__TITEL"), "{e}");
        // Without the variable the same bad value is the file's.
        let e = Settings::from_sources(file, &text.replace("20", "0"), []).unwrap_err().to_string();
        assert!(e.contains("feeds.items") && !e.contains("environment"), "{e}");
        let e = Settings::from_sources(file, "[site\n", []).unwrap_err().to_string();
        assert!(e.starts_with("/etc/bantin/bantin.toml: TOML parse error") && e.ends_with(" in /etc/bantin/bantin.toml"), "{e}");
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
}
