//! Bytes that many messages share, stored once. The subscribers of one
//! digest shape (`mail::shape`) get the same quoted-printable pieces, with their
//! own headers, address and links between them. The outbox keeps a
//! shape's pieces once ([`Common`], by a hash of its bytes) and each
//! message as a [`Delta`] against them: ~2 KB of its own instead of ~15 KB.
//! Committing 10,000 digests then writes ~130 MB less into SQLite's WAL,
//! and the sends' marks, which wait for the same single writer, no longer
//! wait behind it.
//!
//! A delta is the decoded length, then operations, each a tag byte and
//! LEB128 numbers: [`LITERAL`] `len bytes` or [`COPY`] `offset len` (from the
//! common bytes). Decoding checks every length and offset against what is
//! there: a damaged delta is an error, never a panic or a wrong message.

use memchr::memmem::Finder;
use sha2::{Digest as _, Sha256};
use std::ops::Range;
use std::sync::Arc;

const LITERAL: u8 = 0;
const COPY: u8 = 1;

/// Pieces shorter than this stay in the message's own bytes: a copy costs
/// a few bytes of delta and a search.
const MIN_COPY: usize = 64;

/// How much of a piece's start its search looks for before comparing the
/// rest, and how many places with that start it compares before it takes
/// the search of the whole piece (see [`Common::find`]).
const PREFIX: usize = 32;
const PREFIX_TRIES: usize = 8;

/// The largest message a delta may decode to (a mail server takes far
/// less): a damaged length cannot make the reader allocate more.
pub const MAX_MESSAGE: usize = 64 << 20;

/// The bytes a group of messages share, and where each of their pieces is.
#[derive(Debug)]
pub struct Common {
    bytes: Vec<u8>,
    /// Each piece's place in `bytes`, and searchers of its first
    /// [`PREFIX`] bytes and of the whole piece, built once: building one
    /// for a long piece costs more than searching a message for it.
    pieces: Vec<Piece>,
    key: [u8; 16],
}

impl Common {
    /// The pieces, in the order they appear in every message that shares
    /// them; those shorter than [`MIN_COPY`] are left out.
    pub fn new<'a>(pieces: impl IntoIterator<Item = &'a [u8]>) -> Common {
        let mut bytes = Vec::new();
        let mut ranges = Vec::new();
        for piece in pieces.into_iter().filter(|p| p.len() >= MIN_COPY) {
            ranges.push(Piece {
                at: bytes.len()..bytes.len() + piece.len(),
                prefix: Finder::new(&piece[..PREFIX]).into_owned(),
                whole: Finder::new(piece).into_owned(),
            });
            bytes.extend_from_slice(piece);
        }
        let key = Self::key_of(&bytes);
        Common { bytes, pieces: ranges, key }
    }

    /// The name the stored bytes go by: the first 128 bits of their
    /// SHA-256, so equal bytes from two runs are stored once and a key
    /// never names other bytes.
    pub fn key_of(bytes: &[u8]) -> [u8; 16] {
        let hash = Sha256::digest(bytes);
        let mut key = [0; 16];
        key.copy_from_slice(&hash[..16]);
        key
    }

    pub fn key(&self) -> &[u8; 16] {
        &self.key
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// `message` as a delta against these bytes: each piece found in
    /// order, the rest literal. `None` when less than half of the message
    /// would be shared (it is then stored whole).
    pub fn delta(&self, message: &[u8]) -> Option<Vec<u8>> {
        let mut delta = Vec::with_capacity(message.len() / 4);
        put(&mut delta, message.len() as u64);
        let (mut at, mut copied) = (0, 0);
        for piece in &self.pieces {
            let Some(found) = self.find(piece, &message[at..]) else { continue };
            let piece = &piece.at;
            literal(&mut delta, &message[at..at + found]);
            delta.push(COPY);
            put(&mut delta, piece.start as u64);
            put(&mut delta, piece.len() as u64);
            at += found + piece.len();
            copied += piece.len();
        }
        literal(&mut delta, &message[at..]);
        (copied * 2 >= message.len()).then_some(delta)
    }

    /// Where `piece` first occurs in `hay`: its start found, the rest
    /// compared. The search of a whole piece (kilobytes of
    /// quoted-printable) runs its two-way matcher a byte at a time, ~30 %
    /// of a digest's rendering; a short needle takes memchr's vector
    /// search, and a piece is found just after the few personal bytes
    /// before it. A start that repeats (a template's long rule of `-`)
    /// falls back on the whole search, which stays linear.
    fn find(&self, piece: &Piece, hay: &[u8]) -> Option<usize> {
        let bytes = &self.bytes[piece.at.clone()];
        let mut from = 0;
        for _ in 0..PREFIX_TRIES {
            let at = from + piece.prefix.find(&hay[from..])?;
            if hay[at..].starts_with(bytes) {
                return Some(at);
            }
            from = at + 1;
        }
        piece.whole.find(&hay[from..]).map(|i| from + i)
    }
}

/// One piece of [`Common`]: where it is, and its searchers.
#[derive(Debug)]
struct Piece {
    at: Range<usize>,
    prefix: Finder<'static>,
    whole: Finder<'static>,
}

/// A message's bytes as the outbox stores them when it shares most of
/// them: the common bytes (stored once for all their messages) and the
/// message's delta against them.
#[derive(Debug, Clone)]
pub struct Shared {
    pub common: Arc<Common>,
    pub delta: Vec<u8>,
}

impl Shared {
    /// `message` as shared bytes of `common`, if it shares enough.
    pub fn of(common: &Arc<Common>, message: &[u8]) -> Option<Shared> {
        common.delta(message).map(|delta| Shared { common: Arc::clone(common), delta })
    }
}

fn literal(delta: &mut Vec<u8>, bytes: &[u8]) {
    if !bytes.is_empty() {
        delta.push(LITERAL);
        put(delta, bytes.len() as u64);
        delta.extend_from_slice(bytes);
    }
}

/// Appends `n` as LEB128.
fn put(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// What is wrong with a stored delta.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DeltaError {
    #[error("the delta ends inside an operation")]
    Truncated,
    #[error("a number in the delta is malformed or out of range")]
    Number,
    #[error("unknown operation {0} in the delta")]
    Operation(u8),
    #[error("a copy reaches past the shared bytes ({end} of {len})")]
    OutOfCommon { end: usize, len: usize },
    #[error("the delta makes {made} bytes, its header says {said}")]
    Length { made: usize, said: usize },
}

/// Reads a delta's operations from the bytes after its header.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, DeltaError> {
        let (&b, rest) = self.rest.split_first().ok_or(DeltaError::Truncated)?;
        self.rest = rest;
        Ok(b)
    }

    /// A LEB128 number that fits in `usize` and is at most `MAX_MESSAGE`.
    fn number(&mut self) -> Result<usize, DeltaError> {
        let mut n: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return usize::try_from(n).ok().filter(|&n| n <= MAX_MESSAGE).ok_or(DeltaError::Number);
            }
        }
        Err(DeltaError::Number)
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], DeltaError> {
        if len > self.rest.len() {
            return Err(DeltaError::Truncated);
        }
        let (taken, rest) = self.rest.split_at(len);
        self.rest = rest;
        Ok(taken)
    }
}

/// The message `delta` was made of, given the common bytes it names.
pub fn decode(delta: &[u8], common: &[u8]) -> Result<Vec<u8>, DeltaError> {
    let mut r = Reader { rest: delta };
    let said = r.number()?;
    // Not `said` itself: a damaged header must not reserve 64 MiB.
    let mut out = Vec::with_capacity(said.min(1 << 20));
    while !r.rest.is_empty() {
        let part = match r.byte()? {
            LITERAL => {
                let len = r.number()?;
                r.take(len)?
            }
            COPY => {
                let (start, len) = (r.number()?, r.number()?);
                let end = start + len;
                common.get(start..end).ok_or(DeltaError::OutOfCommon { end, len: common.len() })?
            }
            other => return Err(DeltaError::Operation(other)),
        };
        if out.len() + part.len() > said {
            return Err(DeltaError::Length { made: out.len() + part.len(), said });
        }
        out.extend_from_slice(part);
    }
    if out.len() != said {
        return Err(DeltaError::Length { made: out.len(), said });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn piece(seed: u8, len: usize) -> Vec<u8> {
        (0..len).map(|i| b'a' + (seed as usize * 7 + i * 13) as u8 % 26).collect()
    }

    #[test]
    fn a_message_of_shared_pieces_is_stored_small_and_read_back_whole() {
        let (a, b) = (piece(1, 4000), piece(2, 3000));
        let common = Common::new([a.as_slice(), b"short", b.as_slice()]);
        let message = [b"To: x@example.org\r\n\r\n".as_slice(), &a, b"x@example.org", &b, b"\r\n--end--"].concat();
        let delta = common.delta(&message).expect("mostly shared");
        assert!(delta.len() < 100, "{} bytes of delta", delta.len());
        assert_eq!(decode(&delta, common.bytes()).unwrap(), message);
    }

    /// A piece that starts like much of the message before it (a rule of
    /// `-` in a template) is still found where it is, past every place
    /// that starts alike, and found in turn by the whole-piece search.
    #[test]
    fn a_piece_whose_start_repeats_before_it_is_found_where_it_is() {
        let rule = vec![b'-'; 2000];
        let a = [rule.as_slice(), &piece(1, 3000)].concat();
        let b = [rule.as_slice(), &piece(2, 3000)].concat();
        let common = Common::new([a.as_slice(), b.as_slice()]);
        // Before each piece, a longer rule than its own and a near miss.
        let near = [rule.as_slice(), &piece(1, 400)].concat();
        let message = [rule.as_slice(), &near, &a, b"x@example.org", &rule, &b].concat();
        let delta = common.delta(&message).expect("mostly shared");
        assert_eq!(decode(&delta, common.bytes()).unwrap(), message);
        assert!(delta.len() < message.len() - a.len() - b.len() + 64, "both pieces copied: {} bytes of delta", delta.len());
    }

    #[test]
    fn a_message_that_shares_little_is_stored_whole() {
        let common = Common::new([piece(1, 100).as_slice()]);
        let message = [piece(1, 100), piece(3, 1000)].concat();
        assert_eq!(common.delta(&message), None);
    }

    #[test]
    fn equal_bytes_have_one_key_and_other_bytes_another() {
        let (a, b) = (piece(1, 100), piece(2, 100));
        assert_eq!(Common::new([a.as_slice()]).key(), Common::new([a.as_slice()]).key());
        assert_ne!(Common::new([a.as_slice()]).key(), Common::new([b.as_slice()]).key());
    }

    #[test]
    fn damaged_deltas_are_errors() {
        let common = piece(1, 100);
        assert_eq!(decode(&[], &common), Err(DeltaError::Truncated));
        assert_eq!(decode(&[5, LITERAL, 9, b'x'], &common), Err(DeltaError::Truncated));
        assert_eq!(decode(&[5, COPY, 90, 20], &common), Err(DeltaError::OutOfCommon { end: 110, len: 100 }));
        assert_eq!(decode(&[5, 7], &common), Err(DeltaError::Operation(7)));
        assert_eq!(decode(&[2, COPY, 0, 3], &common), Err(DeltaError::Length { made: 3, said: 2 }));
        assert_eq!(decode(&[4, COPY, 0, 3], &common), Err(DeltaError::Length { made: 3, said: 4 }));
        assert_eq!(decode(&[0xff; 12], &common), Err(DeltaError::Number));
    }

    proptest! {
        /// Whatever the message, a delta made of it reads back as it.
        #[test]
        fn every_delta_reads_back_as_its_message(
            pieces in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..6),
            between in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 7),
            shuffle in any::<bool>(),
        ) {
            let common = Common::new(pieces.iter().map(Vec::as_slice));
            let mut message = Vec::new();
            let order: Vec<usize> = if shuffle { (0..pieces.len()).rev().collect() } else { (0..pieces.len()).collect() };
            for (i, &p) in order.iter().enumerate() {
                message.extend_from_slice(&between[i]);
                message.extend_from_slice(&pieces[p]);
            }
            if let Some(delta) = common.delta(&message) {
                prop_assert_eq!(decode(&delta, common.bytes()).unwrap(), message);
            }
        }

        /// No input makes decoding panic or allocate past its bound.
        #[test]
        fn any_bytes_decode_to_a_message_or_an_error(delta in proptest::collection::vec(any::<u8>(), 0..200), common in proptest::collection::vec(any::<u8>(), 0..100)) {
            if let Ok(message) = decode(&delta, &common) {
                prop_assert!(message.len() <= MAX_MESSAGE);
            }
        }
    }
}
