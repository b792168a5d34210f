//! What a store changed since its last catalog, origin by origin, and
//! how the next generation is made from it: [`Catalog::apply`] when the
//! changes stay local, else the store's whole rebuild.

use super::Catalog;
use crate::article::{Article, ArticleError};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One change of the store between two generations: what an origin (file
/// or row) gave before and what it gives now (`None`: nothing, the origin
/// is new or gone).
#[derive(Debug, Clone)]
pub struct Change {
    pub old: Option<Result<Arc<Article>, ArticleError>>,
    pub new: Option<Result<Arc<Article>, ArticleError>>,
}

/// What a store changed since its last catalog, by origin: the first old
/// and the last new result of each, so two edits of one file in a batch
/// are one change. Both the dir store's and the SQL table's state keep one.
#[derive(Debug, Clone, Default)]
pub struct Pending(BTreeMap<String, Change>);

type Read = Option<Result<Arc<Article>, ArticleError>>;

impl Pending {
    /// Notes that `origin` went from `old` to `new`.
    pub fn record(&mut self, origin: &str, old: Read, new: Read) {
        match self.0.get_mut(origin) {
            Some(change) => change.new = new,
            None => {
                self.0.insert(origin.to_string(), Change { old, new });
            }
        }
    }

    /// Forgets the changes (a whole catalog was built with them).
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// The generation after `prev` (the store's catalog before these
    /// changes): `prev` with the changes when they stay local (see
    /// [`Catalog::apply`]), else `rebuild(generation)`, the whole catalog
    /// of what the store holds now. The changes are taken either way.
    pub fn next(&mut self, prev: &Catalog, rebuild: impl FnOnce(u64) -> Catalog) -> Catalog {
        let changes: Vec<Change> = std::mem::take(&mut self.0).into_values().collect();
        prev.apply(&changes, prev.generation + 1)
            .unwrap_or_else(|| rebuild(prev.generation + 1))
    }
}
