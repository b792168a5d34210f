//! An SQL article store as `bantin serve` holds it: every row's parsed
//! result ([`TableState`]), kept while the row's values stay the same. A
//! read of the table (each `Command::Rescan`, see [`super::follow`] for
//! what sends one) keeps the `Arc` of every row whose fingerprint is
//! unchanged, parses changed rows in parallel and drops gone ones, so only
//! the feeds changed rows touch are re-rendered. A notification that
//! names its rows, or a poll, reads just the changed rows (the reads are
//! [`super::reads`]) and applies them as upserts and deletes
//! ([`apply_keys`](TableState::apply_keys)), with the same outcome as a
//! read of the whole table (a property test in
//! `tests/it/sql_incremental.rs` holds them together).

use crate::article::{Article, ArticleError};
use crate::catalog::{Catalog, Pending};
use crate::store::sql::{self, Pool, Row, Source};
use crate::store::Context;
use rayon::prelude::*;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub(super) struct Held {
    fingerprint: u64,
    result: Result<Arc<Article>, ArticleError>,
}

/// Every row of the table, parsed; keyed by the row key.
pub struct TableState {
    pub(super) pool: Pool,
    pub(super) source: Source,
    ctx: Context,
    pub(super) rows: BTreeMap<String, Held>,
    /// What changed since the last catalog, by row key (the first old, the
    /// last new result), for [`Catalog::apply`].
    pending: Pending,
    /// The last read failed (logged once until a read succeeds again).
    pub(super) failing: bool,
    pub(super) covered: Covered,
    /// The last full read met a key used by several rows: such a state is
    /// only ever read whole (which row keeps the key is the full read's).
    pub(super) duplicates: bool,
    /// PostgreSQL: the key column's type, asked once (`sql::keys`).
    pub(super) key_type: Option<Option<String>>,
    /// PostgreSQL: the `updated` column's type, asked once.
    pub(super) updated_type: Option<Option<String>>,
    /// The newest `updated` value as of the last read (the database's
    /// text for it): a poll reads the rows at or after it.
    pub(super) watermark: Option<String>,
}

/// PostgreSQL: the signature taken just before the last successful read,
/// so the poller does not read the table a second time for a change a
/// notification already brought in.
pub type Covered = Arc<std::sync::Mutex<Option<String>>>;

impl TableState {
    /// An empty state; [`apply`](Self::apply) the first read.
    pub fn new(pool: Pool, source: Source, ctx: Context, covered: Covered) -> TableState {
        TableState {
            pool,
            source,
            ctx,
            rows: BTreeMap::new(),
            pending: Pending::default(),
            failing: false,
            covered,
            duplicates: false,
            key_type: None,
            updated_type: None,
            watermark: None,
        }
    }

    pub fn source(&self) -> &Source {
        &self.source
    }

    /// Takes a fresh read of the whole table: unchanged rows (same
    /// fingerprint) keep their article, changed and new rows are parsed
    /// (in parallel), gone rows are dropped. Whether anything changed.
    pub fn apply(&mut self, rows: Vec<Row>) -> bool {
        let mut next: BTreeMap<String, Held> = BTreeMap::new();
        let mut to_parse: Vec<(String, Row)> = Vec::new();
        let mut duplicates: Vec<(String, ArticleError)> = Vec::new();
        let mut seen: HashSet<String> = HashSet::with_capacity(rows.len());
        for row in rows {
            let key = row.key();
            if !seen.insert(key.clone()) {
                // Not a key after all: the first row keeps the identity.
                let origin = format!("{}#{key}", self.source.table);
                let reason = format!(
                    "another row has the same {} value; only the first is read (store.columns.id must name a unique column)",
                    self.source.columns.id
                );
                duplicates.push((format!("{key}\u{1f}{}", duplicates.len()), ArticleError { origin, line: None, reason }));
                continue;
            }
            match self.rows.get(&key) {
                Some(held) if held.fingerprint == row.fingerprint() => {
                    next.insert(key, held.clone());
                }
                _ => to_parse.push((key, row)),
            }
        }
        let (source, ctx) = (&self.source, &self.ctx);
        let parsed: Vec<(String, Held)> = to_parse
            .into_par_iter()
            .map(|(key, row)| {
                let result = sql::article(&row, source, ctx).map(Arc::new);
                (key, Held { fingerprint: row.fingerprint(), result })
            })
            .collect();
        let mut changed = !parsed.is_empty();
        next.extend(parsed);
        let had_duplicates = !duplicates.is_empty();
        for (key, e) in duplicates {
            let fingerprint = crate::store::fingerprint(e.to_string().as_bytes());
            changed |= self.rows.get(&key).is_none_or(|h| h.fingerprint != fingerprint);
            next.insert(key, Held { fingerprint, result: Err(e) });
        }
        self.duplicates = had_duplicates;
        changed |= next.len() != self.rows.len() || self.rows.keys().any(|k| !next.contains_key(k));
        if changed {
            self.note_changes(&next);
        }
        self.rows = next;
        changed
    }

    /// Records every row whose result differs between what is held and
    /// `next` (both ordered by key, so one merge walk).
    fn note_changes(&mut self, next: &BTreeMap<String, Held>) {
        let same = |a: &Held, b: &Held| match (&a.result, &b.result) {
            (Ok(x), Ok(y)) => Arc::ptr_eq(x, y),
            (Err(x), Err(y)) => x == y,
            _ => false,
        };
        let mut old = self.rows.iter().peekable();
        let mut new = next.iter().peekable();
        loop {
            let (key, before, after) = match (old.peek(), new.peek()) {
                (None, None) => break,
                (Some((k, o)), Some((l, n))) if k == l => {
                    let (k, o, n) = (*k, *o, *n);
                    old.next();
                    new.next();
                    if same(o, n) {
                        continue;
                    }
                    (k, Some(o), Some(n))
                }
                (Some((k, o)), Some((l, _))) if k < l => {
                    let (k, o) = (*k, *o);
                    old.next();
                    (k, Some(o), None)
                }
                (Some((k, o)), None) => {
                    let (k, o) = (*k, *o);
                    old.next();
                    (k, Some(o), None)
                }
                (_, Some((l, n))) => {
                    let (l, n) = (*l, *n);
                    new.next();
                    (l, None, Some(n))
                }
            };
            let (before, after) = (
                before.map(|h| h.result.clone()),
                after.map(|h| h.result.clone()),
            );
            self.pending.record(key, before, after);
        }
    }

    /// Takes a fresh read of the rows with these keys (`rows`: those of
    /// them that still exist): a key with a row is upserted (parsed unless
    /// its fingerprint is unchanged), a key without one is deleted. The
    /// result is what [`apply`](Self::apply) of the whole table would hold.
    /// `None` when it cannot be (a key used by several rows, here or
    /// before): read the whole table instead.
    pub fn apply_keys(&mut self, keys: &[String], rows: Vec<Row>) -> Option<bool> {
        if self.duplicates {
            return None;
        }
        let mut found: BTreeMap<String, Row> = BTreeMap::new();
        for row in rows {
            if found.insert(row.key(), row).is_some() {
                return None;
            }
        }
        // Keys as the rows' keys are made (a notification carries them raw).
        let mut gone: Vec<String> = keys.iter().map(|k| crate::text::clean_line(k)).filter(|k| !found.contains_key(k)).collect();
        gone.sort();
        gone.dedup();
        let to_parse: Vec<(String, Row)> = found
            .into_iter()
            .filter(|(key, row)| self.rows.get(key).is_none_or(|held| held.fingerprint != row.fingerprint()))
            .collect();
        let (source, ctx) = (&self.source, &self.ctx);
        let parsed: Vec<(String, Held)> = to_parse
            .into_par_iter()
            .map(|(key, row)| {
                let result = sql::article(&row, source, ctx).map(Arc::new);
                (key, Held { fingerprint: row.fingerprint(), result })
            })
            .collect();
        let mut changed = false;
        for key in gone {
            if let Some(old) = self.rows.remove(&key) {
                self.pending.record(&key, Some(old.result), None);
                changed = true;
            }
        }
        for (key, held) in parsed {
            let old = self.rows.insert(key.clone(), held.clone());
            self.pending.record(&key, old.map(|h| h.result), Some(held.result));
            changed = true;
        }
        Some(changed)
    }

    /// New parse settings (time zone, base URL, article URL): every row is
    /// parsed again on the next [`refresh`](Self::refresh).
    pub fn set_context(&mut self, ctx: Context) {
        self.ctx = ctx;
        self.rows.clear();
    }

    /// The catalog of what is held now, built whole; the changes held
    /// for [`next_catalog`](Self::next_catalog) are in it.
    pub fn catalog(&mut self, generation: u64) -> Catalog {
        self.pending.clear();
        Catalog::from_results(
            self.rows.values().map(|held| held.result.as_ref()),
            &self.ctx,
            generation,
        )
    }

    /// The generation after `prev` (the catalog of this state before the
    /// reads applied since): `prev` with just the changed rows when they
    /// stay local, else the whole catalog again.
    pub fn next_catalog(&mut self, prev: &Catalog) -> Catalog {
        let (rows, ctx) = (&self.rows, &self.ctx);
        self.pending.next(prev, |generation| Catalog::from_results(rows.values().map(|held| held.result.as_ref()), ctx, generation))
    }
}
