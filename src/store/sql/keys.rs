//! A few rows instead of the whole table: by key ([`fetch_keys`], what
//! `serve` reads when a notification names the rows that changed, see
//! `live::follow`), or changed since a watermark ([`fetch_since`], the
//! rows whose `updated` column is at or after the newest one seen, what a
//! poll reads). Keys and watermarks are held as text; PostgreSQL compares
//! them with the column after casting to the column's own type
//! ([`column_type`]), so the column's index is used.

use super::{pg_value, quote, select_sql_where, sqlite_value, Pool, Row, Source, SqlStoreError};
use sqlx::{AssertSqlSafe, Row as _};

/// The most keys one read asks for (a bigger batch is read whole).
pub const MAX_KEYS: usize = 500;

/// PostgreSQL: a column's type as the database writes it (`bigint`,
/// `character varying(64)`, `timestamp with time zone`…), for the casts
/// in [`fetch_keys`] and [`fetch_since`]. SQLite compares by the column's
/// affinity: `None`.
pub async fn column_type(pool: &Pool, src: &Source, column: &str) -> Result<Option<String>, SqlStoreError> {
    let Pool::Postgres(p) = pool else { return Ok(None) };
    let fail = |source| SqlStoreError::Query { table: src.table.clone(), source };
    let found: Option<String> = sqlx::query_scalar(
        "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a \
         WHERE a.attrelid = CAST($1 AS regclass) AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped",
    )
    .bind(quote(&src.table))
    .bind(column)
    .fetch_optional(p)
    .await
    .map_err(fail)?;
    match found {
        Some(t) => Ok(Some(t)),
        None => Err(SqlStoreError::Mapping {
            table: src.table.clone(),
            detail: format!("no column {column:?} in the database's catalog"),
        }),
    }
}

/// The rows whose key is one of `keys` (at most [`MAX_KEYS`]); a key
/// with no row is not in the answer (deleted). `key_type` is
/// [`column_type`]'s answer for the key column.
pub async fn fetch_keys(pool: &Pool, src: &Source, key_type: Option<&str>, keys: &[String]) -> Result<Vec<Row>, SqlStoreError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let id = quote(&src.columns.id);
    // The type name comes from the database's own catalog, never from a
    // row or a notification.
    let pg = format!("{id} = ANY(CAST($1 AS text[])::{}[])", key_type.unwrap_or("text"));
    let sqlite = format!("{id} IN ({})", vec!["?"; keys.len()].join(", "));
    query(pool, src, (&pg, &sqlite), Bind::Many(keys)).await
}

/// The rows whose `updated` column is at or after `watermark` (text, as
/// [`super::signature`] gives the newest one); at or after, so that rows
/// changed within the same instant as the last one seen are not missed
/// (those already held are recognised by their unchanged fingerprint).
/// `updated_type` is [`column_type`]'s answer for that column. No rows
/// when no `updated` column is mapped.
pub async fn fetch_since(pool: &Pool, src: &Source, updated_type: Option<&str>, watermark: &str) -> Result<Vec<Row>, SqlStoreError> {
    let Some(updated) = &src.columns.updated else { return Ok(Vec::new()) };
    let updated = quote(updated);
    let pg = format!("{updated} >= CAST(CAST($1 AS text) AS {})", updated_type.unwrap_or("text"));
    let sqlite = format!("{updated} >= ?");
    query(pool, src, (&pg, &sqlite), Bind::One(watermark)).await
}

/// What a query binds: one text or each of several.
enum Bind<'a> {
    One(&'a str),
    Many(&'a [String]),
}

/// The mapped columns of the rows a condition picks (PostgreSQL's form,
/// SQLite's form).
async fn query(pool: &Pool, src: &Source, (pg, sqlite): (&str, &str), bind: Bind<'_>) -> Result<Vec<Row>, SqlStoreError> {
    let fail = |source| SqlStoreError::Query { table: src.table.clone(), source };
    let rows: Vec<Vec<_>> = match pool {
        Pool::Postgres(p) => {
            let q = sqlx::query(AssertSqlSafe(select_sql_where(src, pg)));
            let q = match bind {
                Bind::One(v) => q.bind(v),
                Bind::Many(vs) => q.bind(vs),
            };
            q.fetch_all(p).await.map_err(fail)?.iter().map(|r| (0..r.len()).map(|i| pg_value(r, i)).collect()).collect()
        }
        Pool::Sqlite(p) => {
            let mut q = sqlx::query(AssertSqlSafe(select_sql_where(src, sqlite)));
            match bind {
                Bind::One(v) => q = q.bind(v),
                Bind::Many(vs) => {
                    for v in vs {
                        q = q.bind(v);
                    }
                }
            }
            q.fetch_all(p).await.map_err(fail)?.iter().map(|r| (0..r.len()).map(|i| sqlite_value(r, i)).collect()).collect()
        }
    };
    Ok(rows.into_iter().map(Row::new).collect())
}
