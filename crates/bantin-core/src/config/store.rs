//! `[store]`: where the articles come from (a folder, or an SQL table and
//! its column mapping, `[store.columns]` and `store.body_format`) and how
//! often `serve` looks again.

use super::{ConfigError, Origin, non_empty, parse_duration, redact};
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreKind {
    Dir,
    Postgres,
    Sqlite,
}

#[derive(Debug, Clone)]
pub struct Store {
    pub kind: StoreKind,
    /// Root folder of a `dir` store (that it exists is checked where the
    /// file system is, by the daemon's `config::load`).
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[cfg_attr(test, derive(serde::Serialize, schemars::JsonSchema))]
pub(super) struct RawStore {
    /// Where articles live: `dir` (a folder of Markdown, JSON and portal text files), `postgres` or `sqlite` (a CMS table).
    kind: String,
    /// dir: the root folder, searched recursively (a relative path is from the working directory).
    path: String,
    /// postgres/sqlite: the connection URL (SQLite is opened read-only). Passwords are never logged.
    url: Option<String>,
    /// postgres/sqlite: the table, or `schema.table`; letters, digits and `_`.
    table: String,
    /// postgres/sqlite: which column holds each field (`[store.columns]`, below).
    columns: RawColumns,
    /// postgres/sqlite: how the body column is written: `markdown`, `html` (sanitised) or `text`.
    body_format: String,
    /// serve, postgres/sqlite: how often the table's row count and newest `updated` are compared.
    poll: String,
    /// serve: how often the whole store is compared (catches changes the watcher or poll missed).
    rescan: String,
    /// serve, dir: how long a burst of file changes may settle before the catalog is rebuilt (milliseconds).
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

impl RawStore {
    pub(super) fn validate(self, origin: &Origin) -> Result<Store, ConfigError> {
        let kind = match self.kind.as_str() {
            "dir" => StoreKind::Dir,
            "postgres" => StoreKind::Postgres,
            "sqlite" => StoreKind::Sqlite,
            other => {
                return Err(origin.bad("store.kind", format!("{other:?} is not a store kind; use \"dir\", \"postgres\" or \"sqlite\"")));
            }
        };
        check_url(&kind, self.url.as_deref().map(str::trim).unwrap_or_default(), origin)?;
        if !self.table.split('.').all(identifier) || self.table.split('.').count() > 2 {
            return Err(origin.bad(
                "store.table",
                format!("{:?} is not a table name; use letters, digits and _, optionally schema.table", self.table),
            ));
        }
        let columns = self.columns.validate(origin)?;
        let body_format = match self.body_format.trim() {
            "markdown" => BodyFormat::Markdown,
            "html" => BodyFormat::Html,
            "text" => BodyFormat::Text,
            other => {
                return Err(origin.bad("store.body_format", format!("{other:?} is not a body format; use \"markdown\", \"html\" or \"text\"")));
            }
        };
        let poll = parse_duration(&self.poll).map_err(|m| origin.bad("store.poll", m))?;
        if poll < Duration::from_millis(50) || poll > Duration::from_secs(3600) {
            return Err(origin.bad("store.poll", format!("{:?} is out of range; use 50ms to 1h (e.g. \"250ms\")", self.poll)));
        }
        let rescan = parse_duration(&self.rescan).map_err(|m| origin.bad("store.rescan", m))?;
        if rescan < Duration::from_secs(1) || rescan > Duration::from_secs(86_400) {
            return Err(origin.bad("store.rescan", format!("{:?} is out of range; use 1s to 1d (e.g. \"5m\")", self.rescan)));
        }
        if !(10..=60_000).contains(&self.debounce_ms) {
            return Err(origin.bad(
                "store.debounce_ms",
                format!("{} is out of range; use 10 to 60000 milliseconds (e.g. 200)", self.debounce_ms),
            ));
        }
        Ok(Store {
            kind,
            path: PathBuf::from(self.path),
            url: non_empty(self.url.map(|u| u.trim().to_string())),
            table: self.table,
            columns,
            body_format,
            poll,
            rescan,
            debounce: Duration::from_millis(self.debounce_ms as u64),
        })
    }
}

/// An SQL store's URL must be of its kind; a dir store has none.
fn check_url(kind: &StoreKind, url: &str, origin: &Origin) -> Result<(), ConfigError> {
    match kind {
        StoreKind::Dir => Ok(()),
        StoreKind::Postgres if url.starts_with("postgres://") || url.starts_with("postgresql://") => Ok(()),
        StoreKind::Sqlite if url.starts_with("sqlite:") => Ok(()),
        StoreKind::Postgres => Err(origin.bad(
            "store.url",
            format!("{:?}: a postgres store needs a URL such as \"postgres://bantin@localhost/portal\"", redact(url)),
        )),
        StoreKind::Sqlite => Err(origin.bad(
            "store.url",
            format!("{:?}: an sqlite store needs a URL such as \"sqlite:///var/lib/cms/cms.db\"", redact(url)),
        )),
    }
}

/// A table or column name bantin puts into SQL as it stands.
fn identifier(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

// ---- The SQL store's column mapping (`[store.columns]`, `store.body_format`) ----

/// `[store.columns]`: article field → column name; a field left out is read
/// from the column of its own name, `""` means the table has no such column.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[cfg_attr(test, derive(serde::Serialize, schemars::JsonSchema))]
struct RawColumns {
    /// The row key: the article's identity (feed item ids, digest dedup).
    id: Option<String>,
    /// The title column.
    title: Option<String>,
    /// Publication time (a timestamp, or text as in front matter).
    date: Option<String>,
    /// Last change; keep it current, the poll watches it.
    updated: Option<String>,
    /// The lead.
    summary: Option<String>,
    /// The body, in `store.body_format`.
    body: Option<String>,
    /// `text[]` on PostgreSQL, or `a, b` / a JSON array in text.
    categories: Option<String>,
    /// Like categories.
    tags: Option<String>,
    /// The author's name.
    author: Option<String>,
    /// The URL slug; default: made from the title.
    slug: Option<String>,
    /// Boolean; drafts are not published.
    draft: Option<String>,
    /// The lead image's URL.
    image: Option<String>,
    /// The article's page; default: `site.article_url`.
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

    fn validate(self, origin: &Origin) -> Result<Columns, ConfigError> {
        let mut columns = Columns::default();
        for (field, column) in self.given() {
            let Some(column) = column else { continue };
            let key = format!("store.columns.{field}");
            let column = column.trim();
            if column.is_empty() && matches!(field, "id" | "title" | "date") {
                return Err(origin.bad(&key, format!("an article needs a {field}; name the column that holds it")));
            }
            if !column.is_empty() && !identifier(column) {
                return Err(origin.bad(&key, format!("{column:?} is not a column name; use letters, digits and _")));
            }
            columns.set(field, (!column.is_empty()).then(|| column.to_string()));
            columns.given.push(field);
        }
        Ok(columns)
    }
}

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
    use super::super::tests::load_text;
    use super::*;

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
}
