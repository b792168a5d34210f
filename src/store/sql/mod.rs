//! SQL article stores: the rows of a table in PostgreSQL or SQLite, such as
//! a CMS's own articles table, read as articles. Which column holds which
//! field is configured ([`Columns`]), so an existing table is used as it is;
//! a column left out is simply not read.
//!
//! Every row goes through the same normaliser as a file, so the invariants
//! of the dir store hold here too (clean text, sanitised HTML, a bad row
//! reported as `table#id: reason` and never hiding the others). The
//! article's identity is the row's `id` column, stable across edits.
//!
//! Reading is split in two so the service can keep articles that did not
//! change: [`fetch`] (async, the query) gives [`Row`]s with a fingerprint
//! of their values, and [`article`] (CPU: Markdown, sanitising) turns one
//! row into an article; [`load`] does both for a one-off read.

pub mod keys;
mod value;

use super::raw::{normalize, Body, BodyPolicy, RawArticle};
use super::{dir::Scan, Context};
use crate::article::ArticleError;
pub use crate::config::{BodyFormat, Columns, FIELDS};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
// The SQL is built from identifiers that config validation restricted to
// letters, digits, `_` and `.`, and quotes them besides; no value is ever
// spliced in.
use sqlx::{AssertSqlSafe, Column, ConnectOptions, Executor, Row as _, SqlSafeStr, Statement};
use value::{pg_value, sqlite_value, Value};
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum SqlStoreError {
    #[error("article store {url}: cannot connect: {source}; check store.url and that the database is running")]
    Connect { url: String, source: sqlx::Error },
    #[error("article store {url}: {detail}")]
    Unsupported { url: String, detail: String },
    #[error("article store table {table}: {source}; check store.table and the [store.columns] mapping")]
    Query { table: String, source: sqlx::Error },
    #[error("article store table {table}: {detail}")]
    Mapping { table: String, detail: String },
}

impl SqlStoreError {
    /// Whether the database is out of reach (down, refused, timed out), as
    /// opposed to answering that the table or a column is wrong.
    pub fn is_unavailable(&self) -> bool {
        match self {
            SqlStoreError::Connect { .. } => true,
            SqlStoreError::Query { source, .. } => !matches!(source, sqlx::Error::Database(_) | sqlx::Error::ColumnNotFound(_)),
            SqlStoreError::Unsupported { .. } | SqlStoreError::Mapping { .. } => false,
        }
    }
}


/// Everything needed to read articles from a table.
#[derive(Debug, Clone)]
pub struct Source {
    pub url: String,
    /// A plain or schema-qualified table name (checked by the config).
    pub table: String,
    pub columns: Columns,
    pub body_format: BodyFormat,
}

impl Source {
    /// The source an SQL store's settings name (`store.url` is checked to
    /// be set for SQL kinds by the config).
    pub fn from_settings(store: &crate::config::Store) -> Source {
        Source {
            url: store.url.clone().unwrap_or_default(),
            table: store.table.clone(),
            columns: store.columns.clone(),
            body_format: store.body_format,
        }
    }

    /// Where the articles come from, for logs: the URL without its
    /// password, and the table.
    pub fn shown(&self) -> String {
        format!("{} table {}", crate::config::redact(&self.url), self.table)
    }
}

/// A connection pool to the article database.
#[derive(Debug, Clone)]
pub enum Pool {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// Connects to the database named by `url` (postgres:// or sqlite:).
pub async fn connect(url: &str) -> Result<Pool, SqlStoreError> {
    let shown = crate::config::redact(url);
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(|source| SqlStoreError::Connect { url: shown, source })?;
        Ok(Pool::Postgres(pool))
    } else if url.starts_with("sqlite:") {
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|source| SqlStoreError::Connect { url: shown.clone(), source })?
            .read_only(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(opts)
            .await
            .map_err(|source| SqlStoreError::Connect { url: shown, source })?;
        Ok(Pool::Sqlite(pool))
    } else {
        Err(SqlStoreError::Unsupported { url: shown, detail: "an SQL store URL starts with postgres:// or sqlite:".into() })
    }
}

/// Quotes an identifier, or a `schema.table` pair, for either database.
fn quote(name: &str) -> String {
    name.split('.').map(|part| format!("\"{}\"", part.replace('"', "\"\""))).collect::<Vec<_>>().join(".")
}

/// The mapped columns, in a fixed order: (field, column).
fn selected(c: &Columns) -> Vec<(&'static str, &str)> {
    let mut out = vec![("id", c.id.as_str()), ("title", c.title.as_str()), ("date", c.date.as_str())];
    for (field, col) in [
        ("updated", &c.updated),
        ("summary", &c.summary),
        ("body", &c.body),
        ("categories", &c.categories),
        ("tags", &c.tags),
        ("author", &c.author),
        ("slug", &c.slug),
        ("draft", &c.draft),
        ("image", &c.image),
        ("url", &c.url),
    ] {
        if let Some(col) = col {
            out.push((field, col.as_str()));
        }
    }
    out
}

fn select_sql(src: &Source) -> String {
    select_sql_where(src, "1 = 1")
}

/// The mapped columns of the rows `condition` picks, ordered by key.
fn select_sql_where(src: &Source, condition: &str) -> String {
    let cols: Vec<String> = selected(&src.columns).iter().map(|(_, c)| quote(c)).collect();
    format!("SELECT {} FROM {} WHERE {condition} ORDER BY {}", cols.join(", "), quote(&src.table), quote(&src.columns.id))
}

/// Checks the mapping against the table's real columns: a required or
/// configured column that the table lacks is an error naming the key; a
/// defaulted optional one is dropped (so a table without, say, `image`
/// needs no `image = ""`).
pub async fn resolve(pool: &Pool, src: &Source) -> Result<Source, SqlStoreError> {
    let sql = AssertSqlSafe(format!("SELECT * FROM {}", quote(&src.table))).into_sql_str();
    let fail = |source| SqlStoreError::Query { table: src.table.clone(), source };
    let present: Vec<String> = match pool {
        Pool::Postgres(p) => p.prepare(sql).await.map_err(fail)?.columns().iter().map(|c| c.name().to_string()).collect(),
        Pool::Sqlite(p) => p.prepare(sql).await.map_err(fail)?.columns().iter().map(|c| c.name().to_string()).collect(),
    };
    let mut out = src.clone();
    for (field, column) in selected(&src.columns) {
        if present.iter().any(|c| c == column) {
            continue;
        }
        let required = matches!(field, "id" | "title" | "date");
        if required || src.columns.given.contains(&field) {
            return Err(SqlStoreError::Mapping {
                table: src.table.clone(),
                detail: format!(
                    "store.columns.{field}: the table has no column {column:?} (its columns: {}); name the column that holds the {field}{}",
                    present.join(", "),
                    if required { "" } else { ", or write \"\" if there is none" }
                ),
            });
        }
        out.columns.set(field, None);
    }
    Ok(out)
}

/// One row of the table, as read: the mapped values and a fingerprint of
/// them (equal fingerprints, equal article: nothing to parse again).
#[derive(Debug, Clone)]
pub struct Row {
    values: Vec<Value>,
    fingerprint: u64,
}

impl Row {
    fn new(values: Vec<Value>) -> Row {
        use std::hash::{Hash, Hasher};
        // Hashed as values, not as formatted text: escaping every character
        // of 10,000 bodies for a Debug string took longer than the query.
        let mut h = std::collections::hash_map::DefaultHasher::new();
        values.hash(&mut h);
        Row { fingerprint: h.finish(), values }
    }

    /// The row key (the `id` column), cleaned as an article id is.
    pub fn key(&self) -> String {
        crate::text::clean_line(&self.values.first().cloned().and_then(Value::text).unwrap_or_default())
    }

    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }
}

/// Reads every row of the table (the query only; see [`article`]).
pub async fn fetch(pool: &Pool, src: &Source) -> Result<Vec<Row>, SqlStoreError> {
    let sql = select_sql(src);
    let fail = |source| SqlStoreError::Query { table: src.table.clone(), source };
    let rows: Vec<Vec<Value>> = match pool {
        Pool::Postgres(p) => sqlx::query(AssertSqlSafe(sql.clone()))
            .fetch_all(p)
            .await
            .map_err(fail)?
            .iter()
            .map(|r| (0..r.len()).map(|i| pg_value(r, i)).collect())
            .collect(),
        Pool::Sqlite(p) => sqlx::query(AssertSqlSafe(sql.clone()))
            .fetch_all(p)
            .await
            .map_err(fail)?
            .iter()
            .map(|r| (0..r.len()).map(|i| sqlite_value(r, i)).collect())
            .collect(),
    };
    Ok(rows.into_iter().map(Row::new).collect())
}

/// Reads every row of the table as an article.
pub async fn load(pool: &Pool, src: &Source, ctx: &Context) -> Result<Scan, SqlStoreError> {
    let rows = fetch(pool, src).await?;
    let mut scan = Scan::default();
    for row in &rows {
        match article(row, src, ctx) {
            Ok(a) => scan.articles.push(a),
            Err(e) => scan.errors.push(e),
        }
    }
    Ok(scan)
}

/// What `serve` compares between polls: [`signature`], plus on SQLite the
/// database's `PRAGMA data_version`, read on a connection of its own (the
/// value only moves for commits of *other* connections), so that an edit
/// leaving the `updated` column alone, or setting it to an older time, is
/// noticed too. Any commit to the file moves it, so an unrelated write
/// costs one read of the table, in which no row has changed.
pub struct Poller {
    url: String,
    sqlite: Option<sqlx::SqliteConnection>,
}

impl Poller {
    pub fn new(url: &str) -> Poller {
        Poller { url: url.to_string(), sqlite: None }
    }

    pub async fn signature(&mut self, pool: &Pool, src: &Source) -> Result<String, SqlStoreError> {
        let mut sig = signature(pool, src).await?;
        if let Pool::Sqlite(_) = pool {
            let fail = |source| SqlStoreError::Query { table: src.table.clone(), source };
            let conn = match &mut self.sqlite {
                Some(c) => c,
                slot => {
                    let opts = SqliteConnectOptions::from_str(&self.url).map_err(fail)?.read_only(true);
                    slot.insert(opts.connect().await.map_err(fail)?)
                }
            };
            match sqlx::query_scalar::<_, i64>("PRAGMA data_version").fetch_one(&mut *conn).await {
                Ok(v) => sig.push_str(&format!("|{v}")),
                Err(e) => {
                    // Made again on the next poll.
                    self.sqlite = None;
                    return Err(fail(e));
                }
            }
        }
        Ok(sig)
    }
}

/// A short signature of the table's state (row count and newest change),
/// compared between polls to notice inserts, updates and deletes cheaply.
pub async fn signature(pool: &Pool, src: &Source) -> Result<String, SqlStoreError> {
    let newest = match &src.columns.updated {
        Some(col) => format!("CAST(MAX({}) AS TEXT)", quote(col)),
        None => "NULL".to_string(),
    };
    let sql = format!(
        "SELECT CAST(COUNT(*) AS TEXT), {newest}, CAST(MAX({}) AS TEXT) FROM {}",
        quote(&src.columns.id),
        quote(&src.table)
    );
    let fail = |source| SqlStoreError::Query { table: src.table.clone(), source };
    let parts: Vec<Value> = match pool {
        Pool::Postgres(p) => {
            let r = sqlx::query(AssertSqlSafe(sql.clone())).fetch_one(p).await.map_err(fail)?;
            (0..3).map(|i| pg_value(&r, i)).collect()
        }
        Pool::Sqlite(p) => {
            let r = sqlx::query(AssertSqlSafe(sql.clone())).fetch_one(p).await.map_err(fail)?;
            (0..3).map(|i| sqlite_value(&r, i)).collect()
        }
    };
    Ok(parts.into_iter().map(|v| v.text().unwrap_or_default()).collect::<Vec<_>>().join("|"))
}

/// One row as an article (body rendered and sanitised), or the reason it
/// is not one, named `table#key`.
pub fn article(row: &Row, src: &Source, ctx: &Context) -> Result<crate::Article, ArticleError> {
    let fields = selected(&src.columns);
    let mut raw = RawArticle::default();
    let mut id = String::new();
    for ((field, _), value) in fields.iter().zip(row.values.iter().cloned()) {
        match *field {
            "id" => id = value.text().unwrap_or_default(),
            "title" => raw.title = value.text(),
            "date" => raw.date = value.text(),
            "updated" => raw.updated = value.text(),
            "summary" => raw.summary = value.text(),
            "body" => {
                let text = value.text().unwrap_or_default();
                raw.body = match src.body_format {
                    BodyFormat::Markdown => Body::Markdown(text),
                    BodyFormat::Html => Body::Html(text),
                    BodyFormat::Text => Body::Paragraphs(
                        text.split("\n\n").map(|p| p.split_whitespace().collect::<Vec<_>>().join(" ")).collect(),
                    ),
                };
            }
            "categories" => raw.categories = value.list(),
            "tags" => raw.tags = value.list(),
            "author" => raw.author = value.text(),
            "slug" => raw.slug = value.text(),
            "draft" => raw.draft = value.truthy(),
            "image" => raw.image = value.text(),
            "url" => raw.url = value.text(),
            _ => {}
        }
    }
    let id = crate::text::clean_line(&id);
    let origin = format!("{}#{}", src.table, id);
    if id.is_empty() {
        return Err(ArticleError { origin, line: None, reason: format!("the row has no {} value", src.columns.id) });
    }
    let mut article = normalize(raw, &origin, ctx, BodyPolicy::Now)?;
    // The row key is the identity: a CMS may change a slug, never the key.
    article.names = article.names.with_id(&id);
    article.fingerprint = row.fingerprint;
    Ok(article)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote("articles"), "\"articles\"");
        assert_eq!(quote("cms.bai_viet"), "\"cms\".\"bai_viet\"");
        assert_eq!(quote("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn list_columns() {
        assert_eq!(Value::Text("Kinh tế, Du lịch".into()).list(), ["Kinh tế", "Du lịch"]);
        assert_eq!(Value::Text("[\"a, b\",\"c\"]".into()).list(), ["a, b", "c"]);
        assert_eq!(Value::List(vec!["x".into()]).list(), ["x"]);
        assert!(Value::Null.list().is_empty());
    }
}
