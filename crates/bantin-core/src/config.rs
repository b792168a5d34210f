//! The configuration: a TOML file plus `BANTIN__SECTION__KEY` environment
//! overrides, read with the `config` crate into raw serde structs (unknown
//! keys are refused) and then validated, all up front, into typed
//! [`Settings`]. Nothing later in the program re-reads or re-checks config.
//!
//! Every error names the file, the key and what to write instead; the
//! binary maps them all to exit code 78 (EX_CONFIG).

use chrono::{NaiveTime, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;
use std::net::SocketAddr;
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

#[derive(Debug, Clone)]
pub struct Site {
    pub title: String,
    pub description: String,
    /// Absolute, ends with `/` so relative links join under it.
    pub base_url: Url,
    pub language: String,
    pub timezone: Tz,
    /// Where an article lives on the portal: `{slug}` and `{id}` are
    /// replaced, the result is resolved against `base_url`.
    pub article_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreKind {
    Dir,
    Postgres,
    Sqlite,
}

#[derive(Debug, Clone)]
pub struct Store {
    pub kind: StoreKind,
    /// Root folder of a `dir` store.
    pub path: PathBuf,
    /// Connection URL of an SQL store.
    pub url: Option<String>,
    /// Table of an SQL store (plain or `schema.table`).
    pub table: String,
    /// Which column of the table holds which article field.
    pub columns: Columns,
    /// How the body column is written.
    pub body_format: BodyFormat,
    /// How often `serve` compares an SQL store's signature (row count,
    /// newest change) with the last one: the only way to notice changes
    /// on SQLite, the safety net beside LISTEN/NOTIFY on PostgreSQL.
    pub poll: Duration,
    /// How often `serve` compares the whole dir store with what it holds,
    /// catching anything the file-system events missed.
    pub rescan: Duration,
    /// How long `serve` waits for a burst of file events to settle.
    pub debounce: Duration,
}

impl Store {
    /// Where the articles come from, for messages: the folder, or the
    /// database URL without its password and the table.
    pub fn shown(&self) -> String {
        match self.kind {
            StoreKind::Dir => self.path.display().to_string(),
            StoreKind::Postgres | StoreKind::Sqlite => {
                format!("{} table {}", redact(self.url.as_deref().unwrap_or_default()), self.table)
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentMode {
    Full,
    Summary,
}

#[derive(Debug, Clone)]
pub struct Feeds {
    pub items: usize,
    pub content: ContentMode,
    pub websub_hub: Option<Url>,
}

#[derive(Debug, Clone)]
pub struct Http {
    pub listen: SocketAddr,
    /// Where readers reach bantin's own routes (feeds, subscription pages);
    /// defaults to `site.base_url`. Ends with `/`.
    pub public_url: Url,
}

#[derive(Debug, Clone)]
pub struct State {
    pub url: String,
}

#[derive(Debug, Clone)]
pub struct Mail {
    pub smtp_url: Url,
    pub from: String,
    pub dkim_selector: Option<String>,
    pub dkim_domain: Option<String>,
    pub dkim_key_file: Option<PathBuf>,
    pub max_per_second: u32,
    pub token_secret_file: Option<PathBuf>,
    /// A folder whose `digest.html`, `confirm.txt`… replace the built-in
    /// templates (each file separately).
    pub templates_dir: Option<PathBuf>,
    /// Permanent (5xx) failures after which a subscriber is marked bouncing.
    pub bounce_limit: u32,
    /// The first retry delay after a temporary failure; doubled each time.
    pub retry_base: Duration,
    /// The longest delay between retries.
    pub retry_max: Duration,
    /// Attempts after which a message that keeps failing temporarily is
    /// given up (marked failed).
    pub max_attempts: u32,
    /// SMTP connections kept open in the pool.
    pub connections: u32,
}

#[derive(Debug, Clone)]
pub struct Digest {
    pub daily_at: NaiveTime,
    pub weekly_on: Weekday,
    pub max_items: usize,
    pub first_backlog: Duration,
}

// ---- raw file shape -------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    site: RawSite,
    #[serde(default)]
    store: RawStore,
    #[serde(default)]
    feeds: RawFeeds,
    #[serde(default)]
    http: RawHttp,
    #[serde(default)]
    state: RawState,
    #[serde(default)]
    mail: RawMail,
    #[serde(default)]
    digest: RawDigest,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSite {
    title: String,
    base_url: String,
    #[serde(default = "default_language")]
    language: String,
    #[serde(default = "default_timezone")]
    timezone: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default = "default_article_url")]
    article_url: String,
}
fn default_language() -> String {
    "vi".into()
}
fn default_timezone() -> String {
    "Asia/Ho_Chi_Minh".into()
}
fn default_article_url() -> String {
    "{slug}".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawStore {
    kind: String,
    path: String,
    url: Option<String>,
    table: String,
    columns: RawColumns,
    body_format: String,
    poll: String,
    rescan: String,
    debounce_ms: i64,
}
impl Default for RawStore {
    fn default() -> Self {
        RawStore {
            kind: "dir".into(),
            path: "articles".into(),
            url: None,
            table: "articles".into(),
            columns: RawColumns::default(),
            body_format: "markdown".into(),
            poll: "250ms".into(),
            rescan: "5m".into(),
            debounce_ms: 200,
        }
    }
}

/// `[store.columns]`: article field → column name; a field left out is read
/// from the column of its own name, `""` means the table has no such column.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawColumns {
    id: Option<String>,
    title: Option<String>,
    date: Option<String>,
    updated: Option<String>,
    summary: Option<String>,
    body: Option<String>,
    categories: Option<String>,
    tags: Option<String>,
    author: Option<String>,
    slug: Option<String>,
    draft: Option<String>,
    image: Option<String>,
    url: Option<String>,
}

impl RawColumns {
    fn given(&self) -> [(&'static str, &Option<String>); 13] {
        [
            ("id", &self.id),
            ("title", &self.title),
            ("date", &self.date),
            ("updated", &self.updated),
            ("summary", &self.summary),
            ("body", &self.body),
            ("categories", &self.categories),
            ("tags", &self.tags),
            ("author", &self.author),
            ("slug", &self.slug),
            ("draft", &self.draft),
            ("image", &self.image),
            ("url", &self.url),
        ]
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawFeeds {
    items: i64,
    content: String,
    websub_hub: String,
}
impl Default for RawFeeds {
    fn default() -> Self {
        RawFeeds { items: 50, content: "full".into(), websub_hub: String::new() }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawHttp {
    listen: String,
    public_url: Option<String>,
}
impl Default for RawHttp {
    fn default() -> Self {
        RawHttp { listen: "127.0.0.1:8080".into(), public_url: None }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawState {
    url: String,
}
impl Default for RawState {
    fn default() -> Self {
        RawState { url: "sqlite://var/bantin.db".into() }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawMail {
    smtp_url: String,
    from: String,
    dkim_selector: Option<String>,
    dkim_domain: Option<String>,
    dkim_key_file: Option<String>,
    max_per_second: i64,
    token_secret_file: Option<String>,
    templates_dir: Option<String>,
    bounce_limit: i64,
    retry_base: String,
    retry_max: String,
    max_attempts: i64,
    connections: i64,
}
impl Default for RawMail {
    fn default() -> Self {
        RawMail {
            smtp_url: "smtp://127.0.0.1:25".into(),
            from: "bantin <bantin@localhost>".into(),
            dkim_selector: None,
            dkim_domain: None,
            dkim_key_file: None,
            max_per_second: 50,
            token_secret_file: None,
            templates_dir: None,
            bounce_limit: 3,
            retry_base: "1m".into(),
            retry_max: "6h".into(),
            max_attempts: 12,
            connections: 4,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawDigest {
    daily_at: String,
    weekly_on: String,
    max_items: i64,
    first_backlog: String,
}
impl Default for RawDigest {
    fn default() -> Self {
        RawDigest {
            daily_at: "07:00".into(),
            weekly_on: "mon".into(),
            max_items: 30,
            first_backlog: "7d".into(),
        }
    }
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
    let bad = |key: &str, message: String| ConfigError::Key {
        file: file.to_path_buf(),
        key: key.to_string(),
        message,
    };

    // [site]
    let title = crate::text::clean_line(&raw.site.title);
    if title.is_empty() {
        return Err(bad("site.title", "must not be empty".into()));
    }
    let base_url = absolute_url(&raw.site.base_url)
        .map_err(|m| bad("site.base_url", format!("{m} (the portal's public address, e.g. https://yenbai.gov.vn)")))?;
    let timezone: Tz = raw.site.timezone.parse().map_err(|_| {
        bad(
            "site.timezone",
            format!("unknown time zone {:?}; use an IANA name such as \"Asia/Ho_Chi_Minh\"", raw.site.timezone),
        )
    })?;
    let language = raw.site.language.trim().to_string();
    if language.is_empty()
        || language.len() > 35
        || !language.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(bad("site.language", format!("{language:?} is not a language tag; use e.g. \"vi\" or \"en\"")));
    }
    if !raw.site.article_url.contains("{slug}") && !raw.site.article_url.contains("{id}") {
        return Err(bad(
            "site.article_url",
            "must contain {slug} or {id}, e.g. \"tin-tuc/{slug}.html\"".into(),
        ));
    }
    let description = raw.site.description.as_deref().map(crate::text::clean_line).unwrap_or_else(|| title.clone());

    // [store]
    let kind = match raw.store.kind.as_str() {
        "dir" => StoreKind::Dir,
        "postgres" => StoreKind::Postgres,
        "sqlite" => StoreKind::Sqlite,
        other => return Err(bad("store.kind", format!("{other:?} is not a store kind; use \"dir\", \"postgres\" or \"sqlite\""))),
    };
    let path = PathBuf::from(&raw.store.path);
    if kind == StoreKind::Dir && !path.is_dir() {
        let shown = std::path::absolute(&path).unwrap_or_else(|_| path.clone());
        return Err(bad(
            "store.path",
            format!(
                "the article folder {} does not exist or is not a folder; create it or point store.path at the portal's export",
                shown.display()
            ),
        ));
    }
    let store_url = raw.store.url.as_deref().map(str::trim).unwrap_or_default();
    match kind {
        StoreKind::Dir => {}
        StoreKind::Postgres if store_url.starts_with("postgres://") || store_url.starts_with("postgresql://") => {}
        StoreKind::Sqlite if store_url.starts_with("sqlite:") => {}
        StoreKind::Postgres => {
            return Err(bad("store.url", format!("{:?}: a postgres store needs a URL such as \"postgres://bantin@localhost/portal\"", redact(store_url))));
        }
        StoreKind::Sqlite => {
            return Err(bad("store.url", format!("{:?}: an sqlite store needs a URL such as \"sqlite:///var/lib/cms/cms.db\"", redact(store_url))));
        }
    }
    let identifier = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !raw.store.table.split('.').all(identifier) || raw.store.table.split('.').count() > 2 {
        return Err(bad(
            "store.table",
            format!("{:?} is not a table name; use letters, digits and _, optionally schema.table", raw.store.table),
        ));
    }
    let mut columns = Columns::default();
    for (field, column) in raw.store.columns.given() {
        let Some(column) = column else { continue };
        let key = format!("store.columns.{field}");
        let column = column.trim();
        if column.is_empty() && matches!(field, "id" | "title" | "date") {
            return Err(bad(&key, format!("an article needs a {field}; name the column that holds it")));
        }
        if !column.is_empty() && !identifier(column) {
            return Err(bad(&key, format!("{column:?} is not a column name; use letters, digits and _")));
        }
        columns.set(field, (!column.is_empty()).then(|| column.to_string()));
        columns.given.push(field);
    }
    let body_format = match raw.store.body_format.trim() {
        "markdown" => BodyFormat::Markdown,
        "html" => BodyFormat::Html,
        "text" => BodyFormat::Text,
        other => {
            return Err(bad("store.body_format", format!("{other:?} is not a body format; use \"markdown\", \"html\" or \"text\"")));
        }
    };
    let poll = parse_duration(&raw.store.poll).map_err(|m| bad("store.poll", m))?;
    if poll < Duration::from_millis(50) || poll > Duration::from_secs(3600) {
        return Err(bad("store.poll", format!("{:?} is out of range; use 50ms to 1h (e.g. \"250ms\")", raw.store.poll)));
    }

    let rescan = parse_duration(&raw.store.rescan).map_err(|m| bad("store.rescan", m))?;
    if rescan < Duration::from_secs(1) || rescan > Duration::from_secs(86_400) {
        return Err(bad("store.rescan", format!("{:?} is out of range; use 1s to 1d (e.g. \"5m\")", raw.store.rescan)));
    }
    if !(10..=60_000).contains(&raw.store.debounce_ms) {
        return Err(bad(
            "store.debounce_ms",
            format!("{} is out of range; use 10 to 60000 milliseconds (e.g. 200)", raw.store.debounce_ms),
        ));
    }
    let debounce = Duration::from_millis(raw.store.debounce_ms as u64);

    // [feeds]
    if !(1..=10_000).contains(&raw.feeds.items) {
        return Err(bad("feeds.items", format!("{} is out of range; use 1 to 10000", raw.feeds.items)));
    }
    let content = match raw.feeds.content.as_str() {
        "full" => ContentMode::Full,
        "summary" => ContentMode::Summary,
        other => return Err(bad("feeds.content", format!("{other:?} is not \"full\" or \"summary\""))),
    };
    let websub_hub = match raw.feeds.websub_hub.trim() {
        "" => None,
        // The hub is an endpoint, not a base: its path is kept as written
        // (no trailing slash added).
        hub => Some(
            Url::parse(hub)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
                .ok_or_else(|| bad("feeds.websub_hub", format!("{hub:?} must be an absolute http:// or https:// URL")))?,
        ),
    };

    // [http]
    let listen: SocketAddr = raw.http.listen.parse().map_err(|_| {
        bad("http.listen", format!("{:?} is not an address:port such as \"127.0.0.1:8080\"", raw.http.listen))
    })?;
    let public_url = match raw.http.public_url.as_deref().map(str::trim) {
        None | Some("") => base_url.clone(),
        Some(u) => absolute_url(u).map_err(|m| bad("http.public_url", m))?,
    };

    // [state]
    let state_url = raw.state.url.trim().to_string();
    if !(state_url.starts_with("sqlite:") || state_url.starts_with("postgres://") || state_url.starts_with("postgresql://")) {
        return Err(bad("state.url", format!("{state_url:?} must start with sqlite:// or postgres://")));
    }

    // [mail]
    let smtp_url = Url::parse(&raw.mail.smtp_url)
        .ok()
        .filter(|u| matches!(u.scheme(), "smtp" | "smtps") && u.host_str().is_some())
        .ok_or_else(|| {
            bad("mail.smtp_url", format!("{:?} must look like smtp://host:25 or smtps://user:pass@host:465", redact(&raw.mail.smtp_url)))
        })?;
    let from = crate::text::clean_line(&raw.mail.from);
    if !looks_like_mailbox(&from) {
        return Err(bad("mail.from", format!("{from:?} is not an address such as \"Bản tin <bantin@example.org>\"")));
    }
    if !(1..=100_000).contains(&raw.mail.max_per_second) {
        return Err(bad("mail.max_per_second", format!("{} is out of range; use 1 to 100000", raw.mail.max_per_second)));
    }
    let dkim = [&raw.mail.dkim_selector, &raw.mail.dkim_domain, &raw.mail.dkim_key_file];
    let set = dkim.iter().filter(|v| v.as_deref().is_some_and(|s| !s.is_empty())).count();
    if set != 0 && set != 3 {
        return Err(bad(
            "mail.dkim_selector",
            "DKIM needs all three of mail.dkim_selector, mail.dkim_domain and mail.dkim_key_file".into(),
        ));
    }
    let non_empty = |v: Option<String>| v.filter(|s| !s.is_empty());
    if !(1..=1000).contains(&raw.mail.bounce_limit) {
        return Err(bad("mail.bounce_limit", format!("{} is out of range; use 1 to 1000", raw.mail.bounce_limit)));
    }
    if !(1..=1000).contains(&raw.mail.max_attempts) {
        return Err(bad("mail.max_attempts", format!("{} is out of range; use 1 to 1000", raw.mail.max_attempts)));
    }
    if !(1..=64).contains(&raw.mail.connections) {
        return Err(bad("mail.connections", format!("{} is out of range; use 1 to 64", raw.mail.connections)));
    }
    let retry_base = parse_duration(&raw.mail.retry_base).map_err(|m| bad("mail.retry_base", m))?;
    let retry_max = parse_duration(&raw.mail.retry_max).map_err(|m| bad("mail.retry_max", m))?;
    if retry_base.is_zero() || retry_max < retry_base {
        return Err(bad(
            "mail.retry_max",
            "mail.retry_base must be at least 1s and mail.retry_max at least mail.retry_base".into(),
        ));
    }
    let templates_dir = non_empty(raw.mail.templates_dir).map(PathBuf::from);
    if let Some(dir) = &templates_dir
        && !dir.is_dir()
    {
        return Err(bad(
            "mail.templates_dir",
            format!("{} is not a folder; create it or remove the key to use the built-in templates", dir.display()),
        ));
    }

    // [digest]
    let daily_at = NaiveTime::parse_from_str(raw.digest.daily_at.trim(), "%H:%M")
        .map_err(|_| bad("digest.daily_at", format!("{:?} is not a time such as \"07:00\"", raw.digest.daily_at)))?;
    let weekly_on: Weekday = raw.digest.weekly_on.trim().parse().map_err(|_| {
        bad("digest.weekly_on", format!("{:?} is not a weekday such as \"mon\"", raw.digest.weekly_on))
    })?;
    if !(1..=1000).contains(&raw.digest.max_items) {
        return Err(bad("digest.max_items", format!("{} is out of range; use 1 to 1000", raw.digest.max_items)));
    }
    let first_backlog = parse_duration(&raw.digest.first_backlog).map_err(|m| bad("digest.first_backlog", m))?;

    Ok(Settings {
        file: file.to_path_buf(),
        site: Site {
            title,
            description,
            base_url,
            language,
            timezone,
            article_url: raw.site.article_url,
        },
        store: Store {
            kind,
            path,
            url: non_empty(raw.store.url.map(|u| u.trim().to_string())),
            table: raw.store.table,
            columns,
            body_format,
            poll,
            rescan,
            debounce,
        },
        feeds: Feeds { items: raw.feeds.items as usize, content, websub_hub },
        http: Http { listen, public_url },
        state: State { url: state_url },
        mail: Mail {
            smtp_url,
            from,
            dkim_selector: non_empty(raw.mail.dkim_selector),
            dkim_domain: non_empty(raw.mail.dkim_domain),
            dkim_key_file: non_empty(raw.mail.dkim_key_file).map(PathBuf::from),
            max_per_second: raw.mail.max_per_second as u32,
            token_secret_file: non_empty(raw.mail.token_secret_file).map(PathBuf::from),
            templates_dir,
            bounce_limit: raw.mail.bounce_limit as u32,
            retry_base,
            retry_max,
            max_attempts: raw.mail.max_attempts as u32,
            connections: raw.mail.connections as u32,
        },
        digest: Digest {
            daily_at,
            weekly_on,
            max_items: raw.digest.max_items as usize,
            first_backlog,
        },
    })
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

// ---- The SQL store's column mapping (`[store.columns]`, `store.body_format`) ----

/// Which column holds which article field. `None`: the table has no such
/// column. By default every field is read from the column of its own name
/// (`url` included); the SQL store's `resolve` drops the defaulted ones a table lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    pub id: String,
    pub title: String,
    pub date: String,
    pub updated: Option<String>,
    pub summary: Option<String>,
    pub body: Option<String>,
    pub categories: Option<String>,
    pub tags: Option<String>,
    pub author: Option<String>,
    pub slug: Option<String>,
    pub draft: Option<String>,
    pub image: Option<String>,
    pub url: Option<String>,
    /// The fields whose column was named in the config: a table without
    /// such a column is an error, not a column quietly skipped.
    pub given: Vec<&'static str>,
}

/// The article fields, in the order [`Columns`] lists them.
pub const FIELDS: [&str; 13] =
    ["id", "title", "date", "updated", "summary", "body", "categories", "tags", "author", "slug", "draft", "image", "url"];

impl Default for Columns {
    fn default() -> Self {
        let some = |s: &str| Some(s.to_string());
        Columns {
            id: "id".into(),
            title: "title".into(),
            date: "date".into(),
            updated: some("updated"),
            summary: some("summary"),
            body: some("body"),
            categories: some("categories"),
            tags: some("tags"),
            author: some("author"),
            slug: some("slug"),
            draft: some("draft"),
            image: some("image"),
            url: some("url"),
            given: Vec::new(),
        }
    }
}

impl Columns {
    /// The column of an optional field, to set or clear it by name.
    pub fn optional_mut(&mut self, field: &str) -> Option<&mut Option<String>> {
        Some(match field {
            "updated" => &mut self.updated,
            "summary" => &mut self.summary,
            "body" => &mut self.body,
            "categories" => &mut self.categories,
            "tags" => &mut self.tags,
            "author" => &mut self.author,
            "slug" => &mut self.slug,
            "draft" => &mut self.draft,
            "image" => &mut self.image,
            "url" => &mut self.url,
            _ => return None,
        })
    }

    /// Sets the column of `field` (one of [`FIELDS`]); `None` leaves an
    /// optional field unread. False for an unknown field, or `None` for a
    /// required one.
    pub fn set(&mut self, field: &str, column: Option<String>) -> bool {
        match (field, column) {
            ("id", Some(c)) => self.id = c,
            ("title", Some(c)) => self.title = c,
            ("date", Some(c)) => self.date = c,
            (f, c) => match self.optional_mut(f) {
                Some(slot) => *slot = c,
                None => return false,
            },
        }
        true
    }
}

/// How the body column is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    Markdown,
    Html,
    /// Plain text, paragraphs separated by blank lines.
    Text,
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

    fn load_text(text: &str) -> Result<Settings, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("articles")).unwrap();
        let file = dir.path().join("bantin.toml");
        let store = dir.path().join("articles");
        std::fs::write(&file, format!("[site]\ntitle = \"T\"\nbase_url = \"https://x.org\"\n[store]\npath = {:?}\n{text}", store.display().to_string())).unwrap();
        load(&file)
    }

    #[test]
    fn store_rescan_and_debounce() {
        let s = load_text("").unwrap();
        assert_eq!(s.store.rescan, Duration::from_secs(300));
        assert_eq!(s.store.debounce, Duration::from_millis(200));
        let s = load_text("rescan = \"30s\"\ndebounce_ms = 50\n").unwrap();
        assert_eq!(s.store.rescan, Duration::from_secs(30));
        assert_eq!(s.store.debounce, Duration::from_millis(50));
        let e = load_text("rescan = \"0s\"\n").unwrap_err().to_string();
        assert!(e.contains("store.rescan"), "{e}");
        let e = load_text("debounce_ms = 0\n").unwrap_err().to_string();
        assert!(e.contains("store.debounce_ms"), "{e}");
    }

    #[test]
    fn sql_store_keys() {
        let s = load_text("kind = \"postgres\"\nurl = \"postgres://u:pw@db/portal\"\ntable = \"cms.bai_viet\"\npoll = \"250ms\"\n[store.columns]\nid = \"ma_bai\"\nimage = \"\"\n").unwrap();
        assert_eq!(s.store.kind, StoreKind::Postgres);
        assert_eq!(s.store.poll, Duration::from_millis(250));
        assert_eq!(s.store.columns.id, "ma_bai");
        assert_eq!(s.store.columns.title, "title");
        assert_eq!(s.store.columns.image, None);
        assert_eq!(s.store.columns.given, ["id", "image"]);
        let e = load_text("kind = \"sqlite\"\nurl = \"postgres://db/x\"\n").unwrap_err().to_string();
        assert!(e.contains("store.url") && e.contains("sqlite:"), "{e}");
        let e = load_text("kind = \"postgres\"\nurl = \"postgres://u:secret@db/x\"\ntable = \"a;drop\"\n").unwrap_err().to_string();
        assert!(e.contains("store.table"), "{e}");
        let e = load_text("kind = \"postgres\"\nurl = \"postgres://db/x\"\n[store.columns]\ntitle = \"\"\n").unwrap_err().to_string();
        assert!(e.contains("store.columns.title"), "{e}");
        let e = load_text("kind = \"postgres\"\nurl = \"postgres://db/x\"\n[store.columns]\nheadline = \"h\"\n").unwrap_err().to_string();
        assert!(e.contains("headline"), "{e}");
        let e = load_text("kind = \"postgres\"\nurl = \"postgres://db/x\"\nbody_format = \"rtf\"\n").unwrap_err().to_string();
        assert!(e.contains("store.body_format"), "{e}");
        let e = load_text("poll = \"10ms\"\n").unwrap_err().to_string();
        assert!(e.contains("store.poll"), "{e}");
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
