//! A feed joined from its items' pieces ([`super::pieces`]): each item's
//! piece taken from the ones an earlier render kept or rendered, and the
//! format's frame around them. The frame is rendered once a feed, however
//! many item counts the byte budget tries ([`super::budget`]).

use super::pieces::{Frame, Piece, Pieces};
use super::{atom, json, rss, Format, Meta};
use crate::article::Article;
use std::cell::OnceCell;
use std::sync::Arc;

/// The pieces of `items` in `format`: from `known`, or rendered. `None`
/// only on a failure of an in-memory writer (an internal bug).
pub(super) fn pieces_of(format: Format, meta: &Meta, items: &[Arc<Article>], known: &Pieces) -> Option<Vec<Piece>> {
    items
        .iter()
        .map(|a| match known.get(a, format) {
            Some(piece) => Some(piece.clone()),
            None => piece_of(format, meta, a),
        })
        .collect()
}

/// The piece of article `a` in `format`.
fn piece_of(format: Format, meta: &Meta, a: &Article) -> Option<Piece> {
    match format {
        Format::Rss => rss::piece(meta, a),
        Format::Atom => atom::piece(meta, a),
        Format::Json => json::piece(meta, a),
    }
}

/// One feed's frames, each rendered on first use. RSS has two: its root
/// declares the Media RSS namespace only when an item has an image, and a
/// budget cut may leave out the only such item.
pub(super) struct Frames<'m> {
    format: Format,
    meta: &'m Meta<'m>,
    /// By the media flag (RSS).
    cells: [OnceCell<Option<Framed>>; 2],
}

/// A frame, and (JSON Feed) the feed without items, which has no room
/// for one.
type Framed = (Frame, Vec<u8>);

impl<'m> Frames<'m> {
    pub(super) fn new(format: Format, meta: &'m Meta<'m>) -> Frames<'m> {
        Frames { format, meta, cells: [OnceCell::new(), OnceCell::new()] }
    }

    /// The feed with `pieces`; empty only on a failure of an in-memory
    /// writer (an internal bug), as the crates' `to_string`.
    pub(super) fn join(&self, pieces: &[Piece]) -> Vec<u8> {
        let media = self.format == Format::Rss && pieces.iter().any(Piece::has_media);
        let Some((frame, empty)) = self.cells[usize::from(media)].get_or_init(|| self.frame(media)) else {
            return Vec::new();
        };
        match (self.format, pieces) {
            (Format::Json, []) => empty.clone(),
            (Format::Json, _) => frame.around(pieces, json::SEPARATOR),
            _ => frame.around(pieces, b""),
        }
    }

    fn frame(&self, media: bool) -> Option<Framed> {
        match self.format {
            Format::Rss => rss::frame(self.meta, media).map(|f| (f, Vec::new())),
            Format::Atom => atom::frame(self.meta).map(|f| (f, Vec::new())),
            Format::Json => json::frame(self.meta),
        }
    }
}
