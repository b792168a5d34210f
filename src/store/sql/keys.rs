//! A few rows by key: what `serve` reads when a notification names the
//! rows that changed (`live::follow`), instead of the whole table. The
//! keys arrive as text (the trigger's `CAST(id AS TEXT)`); PostgreSQL
//! compares them with the key column after casting the text array to the
//! column's own type ([`key_type`]), so the primary key's index is used.

use super::{pg_value, quote, select_sql_where, sqlite_value, Pool, Row, Source, SqlStoreError};
use sqlx::{AssertSqlSafe, Row as _};

/// The most keys one read asks for (a bigger batch is read whole).
pub const MAX_KEYS: usize = 500;

/// PostgreSQL: the key column's type as the database writes it
/// (`bigint`, `character varying(64)`, `uuid`…), for the cast in
/// [`fetch_keys`]. SQLite compares by the column's affinity: `None`.
pub async fn key_type(pool: &Pool, src: &Source) -> Result<Option<String>, SqlStoreError> {
    let Pool::Postgres(p) = pool else { return Ok(None) };
    let fail = |source| SqlStoreError::Query { table: src.table.clone(), source };
    let found: Option<String> = sqlx::query_scalar(
        "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a \
         WHERE a.attrelid = CAST($1 AS regclass) AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped",
    )
    .bind(quote(&src.table))
    .bind(&src.columns.id)
    .fetch_optional(p)
    .await
    .map_err(fail)?;
    match found {
        Some(t) => Ok(Some(t)),
        None => Err(SqlStoreError::Mapping {
            table: src.table.clone(),
            detail: format!("no column {:?} in the catalog (store.columns.id)", src.columns.id),
        }),
    }
}

/// The rows whose key is one of `keys` (at most [`MAX_KEYS`]); a key
/// with no row is not in the answer (deleted). `key_type` is
/// [`key_type`]'s answer for this source.
pub async fn fetch_keys(pool: &Pool, src: &Source, key_type: Option<&str>, keys: &[String]) -> Result<Vec<Row>, SqlStoreError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let fail = |source| SqlStoreError::Query { table: src.table.clone(), source };
    let id = quote(&src.columns.id);
    let rows: Vec<Vec<_>> = match pool {
        Pool::Postgres(p) => {
            // The type name comes from the database's own catalog, never
            // from a row or a notification.
            let ty = key_type.unwrap_or("text");
            let sql = select_sql_where(src, &format!("{id} = ANY(CAST($1 AS text[])::{ty}[])"));
            sqlx::query(AssertSqlSafe(sql))
                .bind(keys)
                .fetch_all(p)
                .await
                .map_err(fail)?
                .iter()
                .map(|r| (0..r.len()).map(|i| pg_value(r, i)).collect())
                .collect()
        }
        Pool::Sqlite(p) => {
            let marks = vec!["?"; keys.len()].join(", ");
            let sql = select_sql_where(src, &format!("{id} IN ({marks})"));
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for key in keys {
                query = query.bind(key);
            }
            query
                .fetch_all(p)
                .await
                .map_err(fail)?
                .iter()
                .map(|r| (0..r.len()).map(|i| sqlite_value(r, i)).collect())
                .collect()
        }
    };
    Ok(rows.into_iter().map(Row::new).collect())
}
