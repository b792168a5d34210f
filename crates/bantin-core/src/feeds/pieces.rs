//! A feed as a frame (its head and tail) around its items' pieces. An
//! item's bytes depend on its article and the feed settings alone, not on
//! the feed it is in, so after a change that adds one article to a feed of
//! 50, one item is rendered: the other pieces are the ones the previous
//! refresh rendered ([`Pieces`]). Rendering the items was half of a
//! change's publish at 100k articles, the other half gzip (bench/HISTORY).
//!
//! The XML crates write an item only inside a whole document (their item
//! writers are private), so a piece is cut out of a document that holds
//! the item alone, and a frame out of the feed around a placeholder item
//! ([`cut_out`]): the joined bytes are the crates' own, byte for byte,
//! which the tests check against the crates' whole-document render. Each
//! format's module cuts its pieces and frames; `join.rs` joins them.

use super::Format;
use crate::article::Article;
use std::collections::HashMap;
use std::sync::Arc;

/// One item's bytes in one format.
#[derive(Debug, Clone)]
pub struct Piece {
    bytes: Arc<[u8]>,
    /// RSS: the item has Media RSS elements (the root declares `media`).
    media: bool,
}

impl Piece {
    pub(super) fn new(bytes: &[u8], media: bool) -> Piece {
        Piece { bytes: Arc::from(bytes), media }
    }

    /// A piece of the given bytes, for tests to tell a taken piece from a
    /// rendered one.
    #[cfg(test)]
    pub(crate) fn forged(bytes: &[u8]) -> Piece {
        Piece::new(bytes, false)
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub(super) fn has_media(&self) -> bool {
        self.media
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// A feed's bytes before and after its items.
#[derive(Debug)]
pub(super) struct Frame {
    head: Vec<u8>,
    tail: Vec<u8>,
}

impl Frame {
    pub(super) fn new(head: &[u8], tail: &[u8]) -> Frame {
        Frame { head: head.to_vec(), tail: tail.to_vec() }
    }

    /// The feed with `pieces`, with `separator` between two of them.
    pub(super) fn around(&self, pieces: &[Piece], separator: &[u8]) -> Vec<u8> {
        let items: usize = pieces.iter().map(|p| p.bytes.len() + separator.len()).sum();
        let mut out = Vec::with_capacity(self.head.len() + items + self.tail.len());
        out.extend_from_slice(&self.head);
        for (i, piece) in pieces.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(separator);
            }
            out.extend_from_slice(&piece.bytes);
        }
        out.extend_from_slice(&self.tail);
        out
    }
}

/// `doc` cut around its element from the first `open` to the last
/// `close`: what comes before, the element, what comes after. Text and
/// attributes are escaped, so the first `<item>` of a document is an
/// item's start tag; a piece's own content may hold `</item>` (in CDATA),
/// hence the last close.
pub(super) fn cut_out<'d>(doc: &'d [u8], open: &[u8], close: &[u8]) -> Option<(&'d [u8], &'d [u8], &'d [u8])> {
    let start = memchr::memmem::find(doc, open)?;
    let end = memchr::memmem::rfind(doc, close)? + close.len();
    (start < end).then(|| (&doc[..start], &doc[start..end], &doc[end..]))
}

/// The pieces by article (its address, see [`Pieces`]) and format.
type ByArticle = HashMap<(usize, Format), (Arc<Article>, Piece)>;

/// The pieces a refresh rendered or reused, by article and format, for
/// the next refresh of the same settings to reuse. An article is known by
/// its allocation: an edit makes a new `Arc<Article>`, and the entry holds
/// its `Arc`, so the address is not reused while it is here.
#[derive(Debug, Clone, Default)]
pub struct Pieces {
    known: Arc<ByArticle>,
}

/// A piece as a render reports it: for which article, in which format.
pub type Used = (Arc<Article>, Format, Piece);

impl Pieces {
    /// The pieces in `used` (the last of an article's in a format wins).
    pub fn from_used(used: impl IntoIterator<Item = Used>) -> Pieces {
        let known = used.into_iter().map(|(a, format, piece)| ((key(&a), format), (a, piece))).collect();
        Pieces { known: Arc::new(known) }
    }

    pub(super) fn get(&self, article: &Arc<Article>, format: Format) -> Option<&Piece> {
        self.known.get(&(key(article), format)).map(|(_, piece)| piece)
    }

    pub fn len(&self) -> usize {
        self.known.len()
    }

    pub fn is_empty(&self) -> bool {
        self.known.is_empty()
    }

    /// The bytes the pieces hold.
    pub fn bytes(&self) -> usize {
        self.known.values().map(|(_, piece)| piece.len()).sum()
    }
}

fn key(article: &Arc<Article>) -> usize {
    Arc::as_ptr(article) as usize
}

#[cfg(test)]
mod tests;
