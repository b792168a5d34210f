//! A feed's byte budget (`feeds.max_bytes`, Google News' 2 MB by default):
//! a feed whose uncompressed bytes would go over it leaves out its oldest
//! items, keeping the newest that fit. Readers and aggregators cut or
//! refuse documents past such a size, and a cut one is not XML any more.
//!
//! How: the feed as it is first (nearly every feed fits, one render); over
//! budget, a binary search on how many of the newest items to keep, a
//! render per step (log2 of `feeds.items` renders, only for such feeds).
//! A feed's size grows with its items, so the search finds the most that
//! fit. Should even the feed without items be over, that empty feed is it:
//! nothing smaller can be written.

/// What [`fit`] kept: the bytes and how many items they carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fitted {
    pub bytes: Vec<u8>,
    pub kept: usize,
}

/// The rendering of the most leading items (of `items`) whose bytes stay
/// within `max_bytes`; `render(n)` renders the first `n` items.
pub fn fit(max_bytes: usize, items: usize, render: impl Fn(usize) -> Vec<u8>) -> Fitted {
    let whole = render(items);
    if whole.len() <= max_bytes || items == 0 {
        return Fitted { bytes: whole, kept: items };
    }
    // Invariant: `items[..hi]` is over the budget; `lo` fits or is 0.
    let (mut lo, mut hi) = (0, items);
    let mut best: Option<Vec<u8>> = None;
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        let bytes = render(mid);
        if bytes.len() <= max_bytes {
            lo = mid;
            best = Some(bytes);
        } else {
            hi = mid;
        }
    }
    let bytes = match best {
        Some(bytes) => bytes,
        None => render(0),
    };
    Fitted { bytes, kept: lo }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// A made-up feed: a 100-byte head and item `i` of `sizes[i]` bytes.
    fn feed(sizes: &[usize]) -> impl Fn(usize) -> Vec<u8> + '_ {
        move |n| vec![b'x'; 100 + sizes[..n].iter().sum::<usize>()]
    }

    #[test]
    fn a_feed_within_budget_is_rendered_once() {
        let renders = Cell::new(0);
        let sizes = [50; 10];
        let f = fit(600, 10, |n| {
            renders.set(renders.get() + 1);
            feed(&sizes)(n)
        });
        assert_eq!((f.kept, f.bytes.len(), renders.get()), (10, 600, 1));
    }

    #[test]
    fn the_newest_items_that_fit_are_kept() {
        let sizes = [300, 200, 100, 400, 50];
        for (max, kept) in [(1150, 5), (1149, 4), (1100, 4), (1099, 3), (700, 3), (699, 2), (600, 2), (599, 1), (400, 1), (399, 0), (100, 0)] {
            let f = fit(max, sizes.len(), feed(&sizes));
            assert_eq!(f.kept, kept, "budget {max}");
            assert_eq!(f.bytes, feed(&sizes)(kept), "budget {max}");
            assert!(f.bytes.len() <= max, "budget {max}");
        }
    }

    #[test]
    fn a_head_over_the_budget_leaves_an_empty_feed() {
        let f = fit(10, 3, feed(&[1, 1, 1]));
        assert_eq!((f.kept, f.bytes.len()), (0, 100));
        assert_eq!(fit(10, 0, feed(&[])).kept, 0);
    }

    #[test]
    fn the_search_takes_few_renders() {
        let renders = Cell::new(0);
        let sizes = vec![1000; 10_000];
        let f = fit(2_000_000, sizes.len(), |n| {
            renders.set(renders.get() + 1);
            feed(&sizes)(n)
        });
        assert_eq!(f.kept, 1999);
        assert!(renders.get() <= 16, "{} renders", renders.get());
    }
}
