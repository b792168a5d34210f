//! How a [`TableState`] reads its table, on the service loop's blocking
//! thread through the runtime it belongs to. Three reads, from the
//! cheapest to the one that is always right:
//! - [`refresh_keys`](TableState::refresh_keys): the rows a notification
//!   named (`Command::Rows`): only those rows, by key;
//! - [`refresh_since`](TableState::refresh_since): what a poll asks for
//!   when the table's signature moved (`Command::Poll`): the rows whose
//!   `updated` is at or after the newest one seen (the watermark); then
//!   the whole table when that does not explain the signature (the row
//!   count or highest key differs from what is held: a delete, or a row
//!   written with an older `updated`), and on SQLite when it changed
//!   nothing (the file's data version, which the poll compares too,
//!   moves for an edit that left `updated` alone);
//! - [`refresh`](TableState::refresh): the whole table (`Command::Rescan`:
//!   every `store.rescan`, an old trigger's notification, a listener that
//!   reconnected). An edit no notification names and no signature shows
//!   (no trigger, `updated` untouched, PostgreSQL) waits for this one:
//!   at most one `store.rescan` period.
//!
//! A read that fails or cannot be taken row by row falls back to the next
//! one down; a failed full read changes nothing (the last catalog keeps
//! being served).

use super::table::TableState;
use crate::store::sql::{self, keys, Pool, Row, SqlStoreError};

impl TableState {
    /// Reads the table again and applies it. Whether anything changed.
    pub fn refresh(&mut self) -> bool {
        let started = std::time::Instant::now();
        let read = match tokio::runtime::Handle::try_current() {
            Ok(rt) => rt.block_on(async {
                // Taken before the rows, so every change it reflects is in
                // them; published before the fetch, so a poll during the
                // fetch does not ask for a second read of the same change.
                let signature = sql::signature(&self.pool, &self.source).await.ok();
                self.cover(signature.clone());
                let rows = sql::fetch(&self.pool, &self.source).await;
                if rows.is_err() {
                    self.cover(None);
                }
                rows.map(|rows| (signature, rows))
            }),
            Err(e) => Err(SqlStoreError::Unsupported { url: crate::config::redact(&self.source.url), detail: e.to_string() }),
        };
        match read {
            Ok((signature, rows)) => {
                if self.failing {
                    tracing::info!(store = %self.source.shown(), "the article table can be read again");
                    self.failing = false;
                }
                self.watermark = signature.as_deref().and_then(|s| Parts::of(s).newest).map(str::to_string);
                let (count, fetched) = (rows.len(), started.elapsed());
                let changed = self.apply(rows);
                tracing::debug!(
                    rows = count,
                    fetch_ms = fetched.as_millis() as u64,
                    apply_ms = (started.elapsed() - fetched).as_millis() as u64,
                    changed,
                    "article table read"
                );
                changed
            }
            Err(e) => {
                if !self.failing {
                    tracing::warn!("{e}; still serving the last catalog, trying again on the next change or poll");
                    self.failing = true;
                }
                false
            }
        }
    }

    /// The signature taken before the first read (`Following::read`):
    /// what the poller compares with, and the first watermark.
    pub fn first_read(&mut self, signature: Option<String>) {
        self.watermark = signature.as_deref().and_then(|s| Parts::of(s).newest).map(str::to_string);
        self.cover(signature);
    }

    fn cover(&self, signature: Option<String>) {
        // PostgreSQL only: SQLite's poller adds the data version, which
        // this signature lacks, so it never matches there anyway.
        if let (Pool::Postgres(_), Ok(mut covered)) = (&self.pool, self.covered.lock()) {
            *covered = signature;
        }
    }

    /// Reads the rows with these keys and applies them
    /// ([`apply_keys`](Self::apply_keys)); the whole table instead when
    /// there are more than `sql::keys::MAX_KEYS`, when the rows cannot be
    /// taken one by one, or when the read fails.
    pub fn refresh_keys(&mut self, keys: &[String]) -> bool {
        if keys.len() > keys::MAX_KEYS {
            return self.refresh();
        }
        let started = std::time::Instant::now();
        let Ok(rt) = tokio::runtime::Handle::try_current() else { return self.refresh() };
        let read = rt.block_on(async {
            if self.key_type.is_none() {
                self.key_type = Some(keys::column_type(&self.pool, &self.source, &self.source.columns.id).await?);
            }
            let key_type = self.key_type.as_ref().and_then(|t| t.as_deref());
            keys::fetch_keys(&self.pool, &self.source, key_type, keys).await
        });
        let rows = match read {
            Ok(rows) => rows,
            Err(e) => {
                tracing::debug!("reading {} changed rows: {e}; reading the whole table", keys.len());
                return self.refresh();
            }
        };
        let (count, fetched) = (rows.len(), started.elapsed());
        match self.apply_keys(keys, rows) {
            Some(changed) => {
                tracing::debug!(
                    keys = keys.len(),
                    rows = count,
                    fetch_ms = fetched.as_millis() as u64,
                    apply_ms = (started.elapsed() - fetched).as_millis() as u64,
                    changed,
                    "changed rows read"
                );
                changed
            }
            None => self.refresh(),
        }
    }

    /// Reads the rows changed since the watermark and applies them; the
    /// whole table when that does not account for the table's signature
    /// (see the module doc), when there is no watermark (no `updated`
    /// column, or no value in it yet) or when the read fails.
    pub fn refresh_since(&mut self) -> bool {
        let (Some(watermark), Some(updated)) = (self.watermark.clone(), self.source.columns.updated.clone()) else {
            return self.refresh();
        };
        let Ok(rt) = tokio::runtime::Handle::try_current() else { return self.refresh() };
        let read = rt.block_on(async {
            let signature = sql::signature(&self.pool, &self.source).await?;
            if self.updated_type.is_none() {
                self.updated_type = Some(keys::column_type(&self.pool, &self.source, &updated).await?);
            }
            let updated_type = self.updated_type.as_ref().and_then(|t| t.as_deref());
            let rows = keys::fetch_since(&self.pool, &self.source, updated_type, &watermark).await?;
            Ok::<_, SqlStoreError>((signature, rows))
        });
        let Ok((signature, rows)) = read else { return self.refresh() };
        let count = rows.len();
        let keys: Vec<String> = rows.iter().map(Row::key).collect();
        let Some(changed) = self.apply_keys(&keys, rows) else { return self.refresh() };
        let parts = Parts::of(&signature);
        let explained = parts.count == self.rows.len().to_string()
            && (parts.max_key.is_empty() || self.rows.contains_key(&crate::text::clean_line(parts.max_key)));
        tracing::debug!(watermark, rows = count, changed, explained, "rows changed since the watermark read");
        // On SQLite the poll also compares the file's data version, which
        // moves for an edit that left `updated` alone: nothing found means
        // such an edit. On PostgreSQL the signature is what was compared,
        // and a row a notification brought in already explains it.
        let unseen_edit = !changed && matches!(self.pool, Pool::Sqlite(_));
        if !explained || unseen_edit {
            return self.refresh() || changed;
        }
        self.watermark = parts.newest.map(str::to_string);
        self.cover(Some(signature));
        changed
    }
}

/// A [`sql::signature`] taken apart: row count, newest `updated` (none
/// when the column is not mapped or empty), highest key.
struct Parts<'a> {
    count: &'a str,
    newest: Option<&'a str>,
    max_key: &'a str,
}

impl<'a> Parts<'a> {
    fn of(signature: &'a str) -> Parts<'a> {
        let mut it = signature.splitn(3, '|');
        let count = it.next().unwrap_or_default();
        let newest = it.next().filter(|n| !n.is_empty());
        Parts { count, newest, max_key: it.next().unwrap_or_default() }
    }
}
