//! A generation's feeds and documents by route path (no leading slash):
//! [`Feeds`]. The site's and categories' feeds and the documents, a few
//! dozen that every reader polls, are one map, made again at each refresh
//! and looked up with one hash. The tag and author feeds ([`lazy`]), ~6,200
//! at 100k articles, are in [`SHARDS`] maps shared by the generations that
//! did not change them: a refresh after a change copies the few shards its
//! touched scopes' feeds are in and leaves the others alone, where making
//! and dropping a whole map cost two reference counts and an insert a feed
//! at every change (bench/HISTORY.md, stop 45).
//!
//! The paths and entries are shared by the generations that carry a feed
//! over. foldhash: the keys are the site's own paths.

use super::{lazy, Cached};
use crate::feeds::FeedId;
use std::collections::HashMap;
use std::hash::BuildHasher as _;
use std::sync::Arc;

type Map = HashMap<Arc<str>, Arc<Cached>, crate::identity::Fast>;

/// How many maps the on-demand feeds are spread over: ~50 feeds each at
/// 100k articles with tags, so a change that touches a dozen feeds copies
/// a few hundred entries, and a clone of the whole is 128 reference counts.
const SHARDS: usize = 128;

/// A generation's feeds and documents by path.
#[derive(Debug, Clone, Default)]
pub(super) struct Feeds {
    eager: Map,
    /// Empty until the first on-demand feed is inserted.
    lazy: Vec<Arc<Map>>,
    lazy_len: usize,
}

/// Whether `path` is an on-demand feed's, kept in the shards.
fn in_shards(path: &str) -> bool {
    FeedId::from_path(path).is_some_and(|feed| lazy::on_demand(&feed.scope))
}

fn shard_of(path: &str) -> usize {
    // A fixed seed: the shard of a path is the same in every generation.
    // The top bits: the shards' own maps use the low ones.
    (foldhash::fast::FixedState::default().hash_one(path) >> 57) as usize % SHARDS
}

impl Feeds {
    /// A map with `prev`'s on-demand feeds and nothing else, for a refresh
    /// that plans only the scopes a change touched (and every eager one).
    pub(super) fn with_lazy_of(prev: &Feeds) -> Feeds {
        Feeds { eager: Map::default(), lazy: prev.lazy.clone(), lazy_len: prev.lazy_len }
    }

    pub(super) fn get(&self, path: &str) -> Option<&Arc<Cached>> {
        self.get_key_value(path).map(|(_, cached)| cached)
    }

    pub(super) fn get_key_value(&self, path: &str) -> Option<(&Arc<str>, &Arc<Cached>)> {
        self.eager.get_key_value(path).or_else(|| self.lazy.get(shard_of(path))?.get_key_value(path))
    }

    pub(super) fn contains_key(&self, path: &str) -> bool {
        self.get(path).is_some()
    }

    pub(super) fn len(&self) -> usize {
        self.eager.len() + self.lazy_len
    }

    /// How many on-demand feeds it holds.
    pub(super) fn lazy_len(&self) -> usize {
        self.lazy_len
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (&Arc<str>, &Arc<Cached>)> {
        self.eager.iter().chain(self.lazy.iter().flat_map(|shard| shard.iter()))
    }

    pub(super) fn values(&self) -> impl Iterator<Item = &Arc<Cached>> {
        self.iter().map(|(_, cached)| cached)
    }

    /// Inserts or replaces `path`'s entry; an on-demand feed's shard is
    /// copied first if another generation shares it.
    pub(super) fn insert(&mut self, path: Arc<str>, cached: Arc<Cached>) {
        if !in_shards(&path) {
            self.eager.insert(path, cached);
            return;
        }
        if self.lazy.is_empty() {
            self.lazy = (0..SHARDS).map(|_| Arc::default()).collect();
        }
        let shard = shard_of(&path);
        if Arc::make_mut(&mut self.lazy[shard]).insert(path, cached).is_none() {
            self.lazy_len += 1;
        }
    }

    /// Removes `path`'s entry, copying its shard only if it is there.
    pub(super) fn remove(&mut self, path: &str) {
        if self.eager.remove(path).is_some() {
            return;
        }
        let Some(shard) = self.lazy.get_mut(shard_of(path)) else { return };
        if shard.contains_key(path) {
            Arc::make_mut(shard).remove(path);
            self.lazy_len -= 1;
        }
    }
}

impl Extend<(Arc<str>, Arc<Cached>)> for Feeds {
    fn extend<I: IntoIterator<Item = (Arc<str>, Arc<Cached>)>>(&mut self, entries: I) {
        for (path, cached) in entries {
            self.insert(path, cached);
        }
    }
}
