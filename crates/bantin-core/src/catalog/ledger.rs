//! The catalog's ledger: hashes of the ids every read article claims and
//! of the kept articles' own slugs, as sorted multisets in shared chunks
//! ([`Keys`]: one flat vector was copied whole by every generation that
//! changed it, twice 800 KB at 100k articles), so
//! [`super::Catalog::apply`] can tell in a few lookups whether a change
//! could move another article's id or URL.

use super::chunks::Chunks;
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

/// A sorted multiset of 8-byte string hashes.
pub(super) type Keys = Chunks<u64>;

pub(super) fn key(s: &str) -> u64 {
    foldhash::fast::FixedState::default().hash_one(s)
}

pub(super) fn sorted_keys<'a>(strings: impl Iterator<Item = &'a str>) -> Keys {
    let mut keys: Vec<u64> = strings.map(key).collect();
    keys.sort_unstable();
    Keys::from_sorted(keys)
}

pub(super) fn count(keys: &Keys, s: &str) -> usize {
    keys.count(&key(s))
}

pub(super) fn bump(keys: &mut Keys, s: &str, up: bool) {
    if up {
        keys.insert(key(s));
    } else {
        keys.remove(&key(s));
    }
}

impl Ledger {
    /// Whether `a`'s id and slug are held `held` times (itself, or not
    /// yet) and its slug is clear of every rename: then adding or removing
    /// it moves no other article's id or URL.
    pub(super) fn alone(&self, a: &Article, held: usize) -> bool {
        count(&self.ids, a.id()) == held
            && count(&self.slugs, a.slug()) == held
            && !self.near_rename(a.slug())
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
