//! A persistent sorted sequence in shared chunks ([`Chunks`]): the
//! catalog's article orders (the whole store and each category, tag and
//! author, newest first) and its ledger's multisets of key hashes.
//!
//! A generation clones the list of chunks (one pointer per ~1k entries);
//! a change copies the one chunk it touches, a few KB. An entry costs its
//! own size (8 bytes for an article pointer or a hash) where a persistent
//! tree (imbl's ordered set, before) took ~25 bytes; and a sorted list
//! becomes one in a single pass, without a tree insert per entry.

use std::sync::Arc;

/// Entries per chunk when built; a chunk splits in two at twice this.
pub(super) const CHUNK: usize = 1024;

/// A sorted multiset (equal entries may repeat) in shared chunks.
///
/// Invariants: no chunk is empty; the chunks in order are one sorted
/// sequence; `len` is their total length.
#[derive(Debug, Clone)]
pub(super) struct Chunks<T> {
    chunks: Vec<Arc<Vec<T>>>,
    len: usize,
}

impl<T> Default for Chunks<T> {
    fn default() -> Chunks<T> {
        Chunks { chunks: Vec::new(), len: 0 }
    }
}

impl<T: Ord + Clone> Chunks<T> {
    /// The sequence of `sorted`, which must be sorted already (a caller's
    /// bug otherwise: debug builds check it), in full chunks that hold no
    /// room beyond their entries.
    pub(super) fn from_sorted(sorted: Vec<T>) -> Chunks<T> {
        debug_assert!(sorted.is_sorted());
        let len = sorted.len();
        let mut entries = sorted.into_iter();
        let mut chunks = Vec::with_capacity(len.div_ceil(CHUNK));
        loop {
            // `Take` knows its exact length, so each chunk is allocated once
            // at its size.
            let chunk: Vec<T> = entries.by_ref().take(CHUNK).collect();
            if chunk.is_empty() {
                break;
            }
            chunks.push(Arc::new(chunk));
        }
        Chunks { chunks, len }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every entry, in order.
    pub(super) fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flat_map(|c| c.iter())
    }

    /// Whether `other` is made of the very same chunks (not copies): what
    /// a generation shares with an older one it did not change.
    pub(super) fn shares_all(&self, other: &Chunks<T>) -> bool {
        self.len == other.len
            && self.chunks.len() == other.chunks.len()
            && self.chunks.iter().zip(&other.chunks).all(|(a, b)| Arc::ptr_eq(a, b))
    }

    /// The least entry.
    pub(super) fn first(&self) -> Option<&T> {
        self.chunks.first().and_then(|c| c.first())
    }

    /// The first chunk whose last entry is at least `x` (or the end): where
    /// the first entry equal to `x` is, if any.
    fn chunk_of(&self, x: &T) -> usize {
        self.chunks.partition_point(|c| c.last().is_some_and(|last| last < x))
    }

    /// How many entries equal `x`.
    pub(super) fn count(&self, x: &T) -> usize {
        // A run of equal entries may go on into the next chunks.
        self.chunks[self.chunk_of(x)..]
            .iter()
            .take_while(|c| c.first().is_some_and(|first| first <= x))
            .map(|c| c.partition_point(|e| e <= x) - c.partition_point(|e| e < x))
            .sum()
    }

    /// Adds `x` (beside any equal entries).
    pub(super) fn insert(&mut self, x: T) {
        let Some(last) = self.chunks.len().checked_sub(1) else {
            self.chunks.push(Arc::new(vec![x]));
            self.len = 1;
            return;
        };
        let i = self.chunk_of(&x).min(last);
        let chunk = self.chunk_mut(i);
        let at = chunk.partition_point(|e| *e < x);
        chunk.insert(at, x);
        if chunk.len() >= 2 * CHUNK {
            let tail = chunk.split_off(CHUNK);
            chunk.shrink_to_fit();
            self.chunks.insert(i + 1, Arc::new(tail));
        }
        self.len += 1;
    }

    /// Takes out one entry equal to `x`, if there is one.
    pub(super) fn remove(&mut self, x: &T) -> Option<T> {
        let i = self.chunk_of(x);
        let at = self.chunks.get(i)?.partition_point(|e| e < x);
        if self.chunks[i].get(at) != Some(x) {
            return None;
        }
        let chunk = self.chunk_mut(i);
        let taken = chunk.remove(at);
        if chunk.is_empty() {
            self.chunks.remove(i);
        }
        self.len -= 1;
        Some(taken)
    }

    /// Whether some entry is held twice.
    pub(super) fn has_repeats(&self) -> bool {
        let mut entries = self.iter();
        let Some(mut prev) = entries.next() else { return false };
        entries.any(|e| std::mem::replace(&mut prev, e) == e)
    }

    /// Chunk `i`, for writing: copied first when an older generation shares
    /// it, with room for one more entry (a copy that an insert then grows
    /// would double its room).
    fn chunk_mut(&mut self, i: usize) -> &mut Vec<T> {
        let chunk = &mut self.chunks[i];
        if Arc::get_mut(chunk).is_none() {
            let mut own = Vec::with_capacity(chunk.len() + 1);
            own.extend_from_slice(chunk);
            *chunk = Arc::new(own);
        }
        // Unshared now: this clones nothing.
        Arc::make_mut(chunk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Against a plain sorted vector, through inserts and removals
        /// that split chunks and empty them (a small key range, so runs of
        /// equal keys cross chunk boundaries).
        #[test]
        fn chunks_hold_what_a_sorted_vec_holds(
            start in proptest::collection::vec(0u64..40, 0..3000),
            ops in proptest::collection::vec((any::<bool>(), 0u64..40), 0..3000),
        ) {
            let mut model = start.clone();
            model.sort_unstable();
            let mut chunks = Chunks::from_sorted(model.clone());
            let shared = chunks.clone();
            for (up, k) in ops {
                let at = model.partition_point(|&x| x < k);
                if up {
                    chunks.insert(k);
                    model.insert(at, k);
                } else {
                    let held = model.get(at) == Some(&k);
                    prop_assert_eq!(chunks.remove(&k), held.then_some(k));
                    if held {
                        model.remove(at);
                    }
                }
            }
            let flat: Vec<u64> = chunks.iter().copied().collect();
            prop_assert_eq!(&flat, &model);
            prop_assert_eq!(chunks.len(), model.len());
            prop_assert_eq!(chunks.first(), model.first());
            prop_assert!(chunks.chunks.iter().all(|c| !c.is_empty()), "an empty chunk is kept");
            prop_assert!(chunks.chunks.iter().all(|c| c.len() < 2 * CHUNK), "a chunk did not split");
            for k in 0..41 {
                let want = model.iter().filter(|&&x| x == k).count();
                prop_assert_eq!(chunks.count(&k), want, "count of {}", k);
            }
            prop_assert_eq!(chunks.has_repeats(), model.windows(2).any(|w| w[0] == w[1]));
            // The generation before the changes is untouched.
            let mut before = start;
            before.sort_unstable();
            prop_assert_eq!(shared.iter().copied().collect::<Vec<_>>(), before);
        }
    }

    /// A sorted list becomes full chunks with no spare room, and a change
    /// copies only the chunk it touches, with room for one more entry.
    #[test]
    fn a_change_copies_one_chunk_at_its_size() {
        let sorted: Vec<u64> = (0..3 * CHUNK as u64 + 5).map(|k| 2 * k).collect();
        let built = Chunks::from_sorted(sorted);
        assert_eq!(built.chunks.len(), 4);
        assert!(built.chunks.iter().all(|c| c.capacity() == c.len()));
        let mut next = built.clone();
        // Between two keys of the third chunk (keys are 2k, CHUNK per chunk).
        next.insert(2 * (2 * CHUNK as u64) + 1);
        let copied: Vec<bool> = built.chunks.iter().zip(&next.chunks).map(|(a, b)| !Arc::ptr_eq(a, b)).collect();
        assert_eq!(copied, [false, false, true, false]);
        assert_eq!(next.chunks[2].capacity(), CHUNK + 1);
    }
}
