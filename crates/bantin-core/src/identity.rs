//! The rules that give each article of a store its identity, its URL and
//! its place, stated once for the two that apply them: the catalog
//! ([`Catalog::from_shared`](crate::Catalog::from_shared), over whole
//! articles) and the daemon's static build plan (`bantin::export::plan`,
//! over the few fields of each file's head it keeps). What a store holds
//! then looks the same through both.
//!
//! 1. Ids are unique: of the articles claiming one id, the one whose origin
//!    sorts first keeps it; each other is reported ([`same_identity`]) and
//!    left out ([`keep_first_ids`], given the articles in origin order).
//! 2. Articles are ordered by publication time, then by id
//!    ([`sort_oldest_first`]); feeds and the catalog show them newest first
//!    (the reverse).
//! 3. URLs are unique: a slug that an older article has (its own or one made
//!    here) is renamed `-2`, `-3`… in publication order, so the first
//!    article keeps its URL ([`renames`], [`rename`]).
//! 4. A category's name is the one its newest article gives it: whoever
//!    walks the articles newest first names a category at its first sight.

use crate::article::{Article, ArticleError};
use crate::store::Context;
use chrono::{DateTime, FixedOffset};
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// The hasher of the per-build sets over every id and slug: the keys come
/// from the portal's own files, not from requests, so HashDoS resistance
/// buys nothing, and SipHash was a fifth of a 100k-article catalog (perf).
pub type Fast = foldhash::fast::RandomState;

/// What the rules read of an article.
pub trait Claim {
    fn id(&self) -> &str;
    /// The article's own slug (before any rename).
    fn slug(&self) -> &str;
    fn published(&self) -> DateTime<FixedOffset>;
}

impl Claim for Article {
    fn id(&self) -> &str {
        self.id()
    }
    fn slug(&self) -> &str {
        self.slug()
    }
    fn published(&self) -> DateTime<FixedOffset> {
        self.published
    }
}

impl<T: Claim> Claim for Arc<T> {
    fn id(&self) -> &str {
        (**self).id()
    }
    fn slug(&self) -> &str {
        (**self).slug()
    }
    fn published(&self) -> DateTime<FixedOffset> {
        (**self).published()
    }
}

/// Why the article at `origin` was left out: `first` has its `id`.
pub fn same_identity(origin: &str, id: &str, first: &str) -> ArticleError {
    ArticleError {
        origin: origin.to_string(),
        line: None,
        reason: format!("has the same identity ({id:?}) as {first}; give one of them another `slug`"),
    }
}

/// Leaves out of `items` (in origin order) every one whose id an earlier
/// one has, telling `repeated(left_out, first)` of each (rule 1).
pub fn keep_first_ids<T: Claim>(items: &mut Vec<T>, mut repeated: impl FnMut(&T, &T)) {
    let keep: Vec<bool> = {
        let mut owner: HashMap<&str, usize, Fast> = HashMap::with_capacity_and_hasher(items.len(), Fast::default());
        items
            .iter()
            .enumerate()
            .map(|(i, a)| match owner.entry(a.id()) {
                Entry::Occupied(first) => {
                    repeated(a, &items[*first.get()]);
                    false
                }
                Entry::Vacant(slot) => {
                    slot.insert(i);
                    true
                }
            })
            .collect()
    };
    let mut keep = keep.into_iter();
    items.retain(|_| keep.next().unwrap_or(true));
}

/// Sorts `items` oldest first, ties by id (rule 2). Sorted by a compact
/// key (one read of each item) and then moved into place, not by comparing
/// the items themselves: at 100k articles behind `Arc`s every such
/// comparison missed the cache twice.
pub fn sort_oldest_first<T: Claim>(items: &mut [T]) {
    let mut order: Vec<(i64, u32, usize)> = items
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let at = a.published();
            (at.timestamp(), at.timestamp_subsec_nanos(), i)
        })
        .collect();
    order.sort_unstable_by(|x, y| (x.0, x.1).cmp(&(y.0, y.1)).then_with(|| items[x.2].id().cmp(items[y.2].id())));
    let mut from: Vec<usize> = order.into_iter().map(|(_, _, i)| i).collect();
    permute(items, &mut from);
}

/// Puts `items[from[j]]` at `j` for every `j`, in place (by following
/// the permutation's cycles); `from` is used up.
fn permute<T>(items: &mut [T], from: &mut [usize]) {
    const DONE: usize = usize::MAX;
    for start in 0..items.len() {
        let mut j = start;
        while from[j] != DONE {
            let src = std::mem::replace(&mut from[j], DONE);
            if src == start {
                break;
            }
            items.swap(j, src);
            j = src;
        }
    }
}

/// Position → new slug for every article of `oldest_first` (ids unique,
/// rule 2's order) whose slug an older one took (rule 3), by position.
pub fn renames<T: Claim>(oldest_first: &[T]) -> Vec<(usize, String)> {
    // Slugs taken so far: the articles' own, and the ones made here.
    let mut taken: HashSet<&str, Fast> = HashSet::with_capacity_and_hasher(oldest_first.len(), Fast::default());
    let mut made: HashSet<String> = HashSet::new();
    // Next suffix to try per repeated slug: a portal with hundreds of
    // articles titled alike would otherwise cost quadratic time on every
    // generation.
    let mut next_suffix: HashMap<&str, usize> = HashMap::new();
    let mut renames = Vec::new();
    for (i, a) in oldest_first.iter().enumerate() {
        let slug = a.slug();
        if !made.contains(slug) && taken.insert(slug) {
            continue;
        }
        let counter = next_suffix.entry(slug).or_insert(2);
        let mut n = *counter;
        let renamed = loop {
            let candidate = format!("{slug}-{n}");
            if !taken.contains(candidate.as_str()) && !made.contains(&candidate) {
                break candidate;
            }
            n += 1;
        };
        *counter = n + 1;
        made.insert(renamed.clone());
        renames.push((i, renamed));
    }
    renames
}

/// The new slug of the article at `position`, if [`renames`] gave one.
pub fn renamed(renames: &[(usize, String)], position: usize) -> Option<&str> {
    let at = renames.binary_search_by_key(&position, |(i, _)| *i).ok()?;
    Some(&renames[at].1)
}

/// Gives `a` the slug `slug` (rule 3), and the URL that goes with it when
/// its URL was the one derived from its own slug.
pub fn rename(a: &mut Article, slug: &str, ctx: &Context) {
    if let Some(link) = ctx.renamed_link(&a.link, a.id(), a.slug(), slug) {
        a.link = link;
    }
    a.names = a.names.with_slug(slug);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    struct Head(&'static str, &'static str, i64);

    impl Claim for Head {
        fn id(&self) -> &str {
            self.0
        }
        fn slug(&self) -> &str {
            self.1
        }
        fn published(&self) -> DateTime<FixedOffset> {
            DateTime::from_timestamp(self.2, 0).unwrap_or_default().fixed_offset()
        }
    }

    #[test]
    fn the_first_keeps_an_id_and_the_oldest_a_slug() {
        let mut heads = vec![Head("a", "bai", 3), Head("b", "bai", 1), Head("a", "x", 0), Head("c", "bai-2", 2)];
        let mut left_out = Vec::new();
        keep_first_ids(&mut heads, |h, first| left_out.push((h.1, first.1)));
        assert_eq!(left_out, [("x", "bai")]);
        sort_oldest_first(&mut heads);
        assert_eq!(heads.iter().map(|h| h.0).collect::<Vec<_>>(), ["b", "c", "a"]);
        // "bai-2" is c's own, so a's repeat of "bai" becomes "bai-3".
        let r = renames(&heads);
        assert_eq!(r, [(2, "bai-3".to_string())]);
        assert_eq!((renamed(&r, 2), renamed(&r, 1)), (Some("bai-3"), None));
    }

    proptest! {
        #[test]
        fn permute_moves_each_item_where_the_order_says(mut order in Just((0..40usize).collect::<Vec<_>>()).prop_shuffle()) {
            let mut items: Vec<usize> = (100..140).collect();
            let want: Vec<usize> = order.iter().map(|&i| items[i]).collect();
            permute(&mut items, &mut order);
            prop_assert_eq!(items, want);
        }
    }
}
