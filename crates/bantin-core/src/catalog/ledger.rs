//! The catalog's ledger: hashes of the ids every read article claims and
//! of the kept articles' own slugs, as sorted multisets in shared chunks
//! ([`Keys`]), so [`super::Catalog::apply`] can tell in a few lookups
//! whether a change could move another article's id or URL.

use crate::article::Article;
use std::collections::BTreeSet;
use std::hash::BuildHasher;
use std::sync::Arc;

/// The hashes of the ids every read article claims and of the own slugs
/// of the kept ones, each a sorted multiset ([`Keys`]), plus the slugs that
/// were renamed. A hash collision can only send a change down the full
/// rebuild, never skip it.
#[derive(Debug, Clone, Default)]
pub(super) struct Ledger {
    pub(super) ids: Keys,
    pub(super) slugs: Keys,
    /// Own slugs that some article had to give up for a `-N` form.
    pub(super) renamed: Arc<BTreeSet<String>>,
}

pub(super) fn key(s: &str) -> u64 {
    foldhash::fast::FixedState::default().hash_one(s)
}

pub(super) fn sorted_keys<'a>(strings: impl Iterator<Item = &'a str>) -> Keys {
    let mut keys: Vec<u64> = strings.map(key).collect();
    keys.sort_unstable();
    Keys::from_sorted(&keys)
}

pub(super) fn count(keys: &Keys, s: &str) -> usize {
    keys.count(key(s))
}

pub(super) fn bump(keys: &mut Keys, s: &str, up: bool) {
    if up {
        keys.insert(key(s));
    } else {
        keys.remove(key(s));
    }
}

/// Keys per chunk of a [`Keys`] when built; a chunk splits at twice this.
pub(super) const KEYS_CHUNK: usize = 1024;

/// A sorted multiset of 8-byte keys, in sorted chunks that generations
/// share: a change copies one chunk of a few KB. One flat vector (8 bytes
/// an article, like this) was copied whole by every generation that
/// changed it, twice 800 KB at 100k articles, fresh pages each time; a
/// persistent map costs ~50 bytes an entry.
///
/// Invariant: no chunk is empty, and the chunks in order are one sorted
/// sequence.
#[derive(Debug, Clone, Default)]
pub(super) struct Keys(pub(super) Vec<Arc<Vec<u64>>>);

impl Keys {
    pub(super) fn from_sorted(keys: &[u64]) -> Keys {
        Keys(keys.chunks(KEYS_CHUNK).map(|c| Arc::new(c.to_vec())).collect())
    }

    /// The first chunk whose last key is at least `k` (or the end): where
    /// the first `k` is, if any.
    pub(super) fn chunk_of(&self, k: u64) -> usize {
        self.0.partition_point(|c| c.last().is_some_and(|&last| last < k))
    }

    pub(super) fn count(&self, k: u64) -> usize {
        // A run of equal keys may go on into the next chunks.
        self.0[self.chunk_of(k)..]
            .iter()
            .take_while(|c| c.first().is_some_and(|&first| first <= k))
            .map(|c| c.partition_point(|&x| x <= k) - c.partition_point(|&x| x < k))
            .sum()
    }

    pub(super) fn insert(&mut self, k: u64) {
        let Some(last) = self.0.len().checked_sub(1) else {
            self.0.push(Arc::new(vec![k]));
            return;
        };
        let i = self.chunk_of(k).min(last);
        let chunk = Arc::make_mut(&mut self.0[i]);
        let at = chunk.partition_point(|&x| x < k);
        chunk.insert(at, k);
        if chunk.len() >= 2 * KEYS_CHUNK {
            let tail = chunk.split_off(KEYS_CHUNK);
            self.0.insert(i + 1, Arc::new(tail));
        }
    }

    /// Removes one `k`, if held.
    pub(super) fn remove(&mut self, k: u64) {
        let i = self.chunk_of(k);
        let Some(chunk) = self.0.get_mut(i) else { return };
        let at = chunk.partition_point(|&x| x < k);
        if chunk.get(at) != Some(&k) {
            return;
        }
        let chunk = Arc::make_mut(chunk);
        chunk.remove(at);
        if chunk.is_empty() {
            self.0.remove(i);
        }
    }

    /// Whether some key is held twice.
    pub(super) fn has_repeats(&self) -> bool {
        let mut keys = self.0.iter().flat_map(|c| c.iter());
        let Some(mut prev) = keys.next() else { return false };
        keys.any(|k| std::mem::replace(&mut prev, k) == k)
    }
}

impl Ledger {
    /// Whether `a`'s id and slug are held `held` times (itself, or not
    /// yet) and its slug is clear of every rename: then adding or removing
    /// it moves no other article's id or URL.
    pub(super) fn alone(&self, a: &Article, held: usize) -> bool {
        count(&self.ids, &a.id) == held
            && count(&self.slugs, &a.slug) == held
            && !self.near_rename(&a.slug)
    }

    /// Whether `slug` could take part in a rename: it was renamed, or has
    /// the shape (`base-…`) of a slug made from one that was.
    pub(super) fn near_rename(&self, slug: &str) -> bool {
        self.renamed.iter().any(|base| {
            slug == base
                || slug
                    .strip_prefix(base.as_str())
                    .is_some_and(|rest| rest.starts_with('-'))
        })
    }
}
