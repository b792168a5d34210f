//! The guard against Gmail's clipping: Gmail shows "[Message clipped]"
//! and hides the rest (the unsubscribe and preferences links included) of
//! an HTML part over 102 KB. A digest whose HTML would exceed [`BUDGET`]
//! lists fewer items in full and the rest as title links ("và N bài
//! khác"); should even the titles not fit (a `max_items` of hundreds),
//! the last titles are only counted, as items beyond `max_items` are.
//!
//! The split is found by renders, not estimated: a template may put
//! anything around an item. The size never shrinks as more is shown (a
//! full item is longer than its title link, a title link longer than
//! nothing), so a binary search over the levels of [`Split::at`] finds the
//! most that fits in about log₂(2n) renders, and only for a digest over
//! budget; one that fits costs the one render it needed anyway.

/// Where Gmail clips an HTML part.
pub const GMAIL_CLIP: usize = 102 * 1024;

/// The largest HTML part a digest is rendered to: the distance to
/// [`GMAIL_CLIP`] covers the personal values (decided with stand-ins) and
/// quoted-printable's soft breaks, which Gmail may count.
pub const BUDGET: usize = 90 * 1024;

/// How `n` listed items are shown: the first `full` in full, the next
/// `links` as title links, the last `hidden` only counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    pub full: usize,
    pub links: usize,
    pub hidden: usize,
}

impl Split {
    /// Every item in full.
    pub fn all(n: usize) -> Split {
        Split { full: n, links: 0, hidden: 0 }
    }

    /// Level `level` of `0..=2n`, from showing nothing to showing all in
    /// full: up to `n` it is `level` title links, above it `level - n`
    /// items in full and the others as links.
    pub fn at(n: usize, level: usize) -> Split {
        let level = level.min(2 * n);
        if level <= n {
            Split { full: 0, links: level, hidden: n - level }
        } else {
            Split { full: level - n, links: 2 * n - level, hidden: 0 }
        }
    }
}

/// The most of `n` items that `render` keeps within `budget` bytes
/// (`size` of a render), with that render. All in full when it fits;
/// else the largest fitting level (binary search); if nothing fits, the
/// render that shows nothing.
pub fn fit<T, E>(
    n: usize,
    budget: usize,
    mut render: impl FnMut(Split) -> Result<T, E>,
    size: impl Fn(&T) -> usize,
) -> Result<(Split, T), E> {
    let whole = render(Split::all(n))?;
    if size(&whole) <= budget || n == 0 {
        return Ok((Split::all(n), whole));
    }
    // Invariant: level `lo` fits (or is 0), level `hi` does not.
    let (mut lo, mut hi) = (0, 2 * n);
    let mut best = None;
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        let r = render(Split::at(n, mid))?;
        if size(&r) <= budget {
            (lo, best) = (mid, Some(r));
        } else {
            hi = mid;
        }
    }
    let best = match best {
        Some(r) => r,
        None => render(Split::at(n, lo))?,
    };
    Ok((Split::at(n, lo), best))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    /// A made-up render: 1,000 bytes of frame, 2,000 a full item, 100 a link.
    fn size_of(s: Split) -> usize {
        1_000 + 2_000 * s.full + 100 * s.links
    }

    fn fitted(n: usize, budget: usize) -> (Split, usize, usize) {
        let mut renders = 0;
        let (split, size) = fit(
            n,
            budget,
            |s| {
                renders += 1;
                Ok::<_, Infallible>(size_of(s))
            },
            |s| *s,
        )
        .unwrap();
        (split, size, renders)
    }

    #[test]
    fn levels_run_from_nothing_through_links_to_all_in_full() {
        assert_eq!(Split::at(3, 0), Split { full: 0, links: 0, hidden: 3 });
        assert_eq!(Split::at(3, 2), Split { full: 0, links: 2, hidden: 1 });
        assert_eq!(Split::at(3, 3), Split { full: 0, links: 3, hidden: 0 });
        assert_eq!(Split::at(3, 4), Split { full: 1, links: 2, hidden: 0 });
        assert_eq!(Split::at(3, 6), Split::all(3));
        assert_eq!(Split::at(3, 99), Split::all(3));
        for level in 0..=6 {
            let s = Split::at(3, level);
            assert_eq!(s.full + s.links + s.hidden, 3);
        }
    }

    #[test]
    fn a_digest_that_fits_is_rendered_once_in_full() {
        assert_eq!(fitted(30, 90 * 1024), (Split::all(30), 61_000, 1));
        assert_eq!(fitted(0, 10), (Split::all(0), 1_000, 1), "nothing to shorten");
    }

    #[test]
    fn an_oversized_digest_shows_the_most_full_items_that_fit_and_the_rest_as_links() {
        // 200 items: 1,000 + 2,000 f + 100 (200 − f) ≤ 50,000 → f = 15.
        let (split, size, renders) = fitted(200, 50_000);
        assert_eq!(split, Split { full: 15, links: 185, hidden: 0 });
        assert!(size <= 50_000 && size_of(Split::at(200, 216)) > 50_000, "the largest that fits");
        assert!(renders <= 1 + 9, "a binary search: {renders} renders");
    }

    #[test]
    fn when_even_the_titles_do_not_fit_the_last_are_counted() {
        // 1,000 + 100 l ≤ 10,000 → 90 links, 110 counted.
        assert_eq!(fitted(200, 10_000).0, Split { full: 0, links: 90, hidden: 110 });
        // Not even the frame: the render that shows nothing.
        assert_eq!(fitted(5, 500).0, Split { full: 0, links: 0, hidden: 5 });
    }
}
