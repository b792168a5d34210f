//! An article's four strings (id, slug, title, origin) in one allocation.
//!
//! Every article of a store is held in memory (issue 24: 100k of them in
//! `serve`). Held apart, the four were three allocations (a front-matter
//! slug shares the id's) and 64 bytes of the record: ~280 bytes an article
//! on the generated corpus, against ~200 in one. A slug equal to the id
//! (the usual front-matter case) is stored once.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

/// The four strings, back to back in `text`: id, slug (absent when it is
/// the id), title, origin. Always made by [`Names::new`], so equal names
/// have equal `text` and `ends`.
#[derive(Clone, PartialEq, Eq)]
pub struct Names {
    text: Arc<str>,
    /// Where the id, the slug and the title end in `text`; the slug's end
    /// is [`SAME_AS_ID`] when the slug is the id.
    ends: [u32; 3],
}

/// The slug's end when the slug is the id and not stored again.
const SAME_AS_ID: u32 = u32::MAX;

impl Names {
    /// The names of one article. The ends are `u32`, so each string is
    /// cut (at a character boundary) to 1 GiB, far beyond any id, slug,
    /// title or origin (a dir store reads no file over 8 MiB).
    pub fn new(id: &str, slug: &str, title: &str, origin: &str) -> Names {
        let [id, slug, title, origin] = [id, slug, title, origin].map(fit);
        let same = slug == id;
        let mut text = String::with_capacity(id.len() + if same { 0 } else { slug.len() } + title.len() + origin.len());
        text.push_str(id);
        let id_end = text.len();
        if !same {
            text.push_str(slug);
        }
        let slug_end = if same { SAME_AS_ID } else { text.len() as u32 };
        text.push_str(title);
        let title_end = text.len();
        text.push_str(origin);
        Names { text: Arc::from(text), ends: [id_end as u32, slug_end, title_end as u32] }
    }

    pub fn id(&self) -> &str {
        &self.text[..self.ends[0] as usize]
    }

    pub fn slug(&self) -> &str {
        match self.ends[1] {
            SAME_AS_ID => self.id(),
            end => &self.text[self.ends[0] as usize..end as usize],
        }
    }

    pub fn title(&self) -> &str {
        &self.text[self.title_start()..self.ends[2] as usize]
    }

    pub fn origin(&self) -> &str {
        &self.text[self.ends[2] as usize..]
    }

    fn title_start(&self) -> usize {
        match self.ends[1] {
            SAME_AS_ID => self.ends[0] as usize,
            end => end as usize,
        }
    }

    /// The same names with the id replaced.
    pub fn with_id(&self, id: &str) -> Names {
        Names::new(id, self.slug(), self.title(), self.origin())
    }

    pub fn with_slug(&self, slug: &str) -> Names {
        Names::new(self.id(), slug, self.title(), self.origin())
    }

    pub fn with_title(&self, title: &str) -> Names {
        Names::new(self.id(), self.slug(), title, self.origin())
    }

    pub fn with_origin(&self, origin: &str) -> Names {
        Names::new(self.id(), self.slug(), self.title(), origin)
    }

    /// The origin as a map key that shares this allocation.
    pub fn origin_key(&self) -> OriginKey {
        OriginKey { text: Arc::clone(&self.text), start: self.ends[2] }
    }
}

impl fmt::Debug for Names {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Names")
            .field("id", &self.id())
            .field("slug", &self.slug())
            .field("title", &self.title())
            .field("origin", &self.origin())
            .finish()
    }
}

/// The longest prefix of `s` of at most 1 GiB, so that four of them fit
/// the `u32` ends with [`SAME_AS_ID`] to spare.
fn fit(s: &str) -> &str {
    let mut end = s.len().min(u32::MAX as usize / 4);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A store-relative origin as the dir store's index keys its files: the
/// tail of an article's [`Names`] (no allocation of its own), or a string
/// of its own for a file that gave no article. Compares, hashes and
/// borrows as the origin `str`, so the index is looked up by `&str`.
#[derive(Clone)]
pub struct OriginKey {
    text: Arc<str>,
    start: u32,
}

impl OriginKey {
    pub fn as_str(&self) -> &str {
        &self.text[self.start as usize..]
    }
}

impl From<String> for OriginKey {
    fn from(origin: String) -> OriginKey {
        OriginKey { text: Arc::from(origin), start: 0 }
    }
}

impl Borrow<str> for OriginKey {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for OriginKey {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for OriginKey {}

impl PartialOrd for OriginKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OriginKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl std::hash::Hash for OriginKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl fmt::Debug for OriginKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_str().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the four strings, each reads back as it was given, and
        /// names are equal exactly when their four strings are.
        #[test]
        fn names_give_back_what_they_were_made_of(
            id in ".{0,12}", slug in ".{0,12}", title in ".{0,20}", origin in ".{0,12}", same in any::<bool>(),
        ) {
            let slug = if same { id.clone() } else { slug };
            let n = Names::new(&id, &slug, &title, &origin);
            prop_assert_eq!((n.id(), n.slug(), n.title(), n.origin()), (&*id, &*slug, &*title, &*origin));
            let key = n.origin_key();
            prop_assert_eq!(key.as_str(), &*origin);
            prop_assert_eq!(&n.with_slug(&slug), &n);
            let other = n.with_title(&format!("{title}x"));
            prop_assert_ne!(&other, &n);
            prop_assert_eq!(other.title(), format!("{title}x"));
        }
    }

    #[test]
    fn a_slug_equal_to_the_id_is_stored_once() {
        let n = Names::new("bai-mot", "bai-mot", "Bài một", "a.md");
        assert_eq!(&*n.text, "bai-motBài mộta.md");
        assert_eq!(n.slug(), "bai-mot");
        let renamed = n.with_slug("bai-mot-2");
        assert_eq!((renamed.id(), renamed.slug(), renamed.title(), renamed.origin()), ("bai-mot", "bai-mot-2", "Bài một", "a.md"));
    }

    #[test]
    fn an_origin_key_borrows_as_its_origin() {
        let mut map = std::collections::BTreeMap::new();
        map.insert(Names::new("b", "b", "B", "posts/b.md").origin_key(), 1);
        map.insert(OriginKey::from("posts/a.md".to_string()), 2);
        assert_eq!(map.get("posts/b.md"), Some(&1));
        assert_eq!(map.keys().map(OriginKey::as_str).collect::<Vec<_>>(), ["posts/a.md", "posts/b.md"]);
    }
}
