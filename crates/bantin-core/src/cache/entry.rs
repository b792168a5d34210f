//! One cached document as it is served: its representations (identity,
//! gzip, brotli) with their strong ETags, and the compression and hashing
//! that make them. Part of the feed cache (see `cache.rs` for the invariants).

use super::*;

/// gzip level: compressed once per change (on the path from a write to
/// its feeds), served many times. A 347 KB full-content feed with flate2 on
/// zlib-rs (2026-12-02, one core of a slower machine): level 6 takes
/// 2.0 ms for 22,108 bytes, 8 3.2 ms for 21,069, 9 4.0 ms for 21,049, 1
/// 1.4 ms for 42,864; 7 is the knee, 2.8 ms for 21,352 (1 % over 8 and 9,
/// and over the 21,144 of miniz_oxide's level 6, the backend before, which
/// took 5.5 ms). Level 8 put ~5 ms on the median render of a write's six
/// feeds on 2 cores.
const GZIP_LEVEL: u32 = 7;
/// gzip level of the quick form a changed feed is first published with
/// ([`Entry::quick`]): 1.4 ms for 42,864 bytes where level 7 takes 2.8 ms
/// (see above), so a write's six feeds are out ~4 ms sooner on 2 cores;
/// the idle worker replaces it with the level-7 form moments later.
const QUICK_GZIP_LEVEL: u32 = 1;
/// The ETag suffixes after the content hash, one per form: identity, the
/// final gzip, the quick gzip (other bytes than the final form's, so another
/// strong validator) and brotli. [`Entry::has_tag`] knows them all.
const IDENTITY_SUFFIX: &str = "";
const GZIP_SUFFIX: &str = "-gz";
const QUICK_SUFFIX: &str = "-gz1";
const BROTLI_SUFFIX: &str = "-br";
/// brotli quality: the encoder's tables, not the time, decide it. The
/// brotli crate's quality 9 always takes its H9 hasher, 32 MiB of buckets
/// that a 400 KB feed touches nearly all of: ~28 MiB resident while each
/// feed compresses, the largest part of `serve`'s peak RSS (issue 24,
/// memory). On the 42 full-content feeds of the generated 10k corpus
/// (15.3 MB, 2026-12-04): quality 9 gives 603 KB in 460 ms with ~28 MiB of
/// tables, 8 610 KB / ~20 MiB, 7 620 KB / ~12 MiB, 6 646 KB (7 % over 9)
/// in 110 ms with ~7 MiB, 5 677 KB / ~5 MiB. 11 takes ~1.5 s a feed.
const BROTLI_QUALITY: u32 = 6;
/// The largest brotli window (4 MiB); a smaller input gets the smallest
/// window that holds it whole: the same compression, a fraction of the
/// encoder's memory (its ring buffer is the window).
pub(super) const BROTLI_WINDOW: u32 = 22;

/// The content codings the cache holds, in the server's preference order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Brotli,
    Gzip,
    Identity,
}

impl Encoding {
    pub fn header(self) -> Option<&'static str> {
        match self {
            Encoding::Brotli => Some("br"),
            Encoding::Gzip => Some("gzip"),
            Encoding::Identity => None,
        }
    }
}

/// One stored representation: its bytes and its strong ETag.
#[derive(Debug, Clone)]
pub struct Representation {
    pub bytes: Bytes,
    pub etag: HeaderValue,
    pub length: HeaderValue,
    /// The same bytes in an anonymous in-memory file, made by the HTTP
    /// front the first time it sends them with `sendfile` (`None` if that
    /// failed); shared by the clones of this representation.
    pub file: Arc<OnceLock<Option<std::fs::File>>>,
}

/// One document of the cache (a feed or the index page).
#[derive(Debug, Clone)]
pub struct Entry {
    /// Decompressed from `gzip` on first use ([`Entry::identity`]);
    /// `Some(None)` if that failed, which the gzip form then stands in for.
    identity: OnceLock<Option<Representation>>,
    pub gzip: Representation,
    /// `None` until the idle worker has compressed it ([`FeedCache::merge_finished`]).
    pub brotli: Option<Representation>,
    /// Whether `gzip` is the quick form ([`Entry::quick`]), which the
    /// idle worker replaces with the final one.
    pub quick: bool,
    pub content_type: HeaderValue,
    /// Last-Modified as an HTTP-date, and the instant for comparisons
    /// (whole seconds, as HTTP-dates carry).
    pub last_modified: HeaderValue,
    pub modified_at: SystemTime,
    /// The content hash the ETags are built on.
    pub hash: String,
    /// What the answer varies with: `Accept-Encoding`, and for a feed with
    /// `feeds.browser_view` also `Sec-Fetch-Dest` (its preview).
    pub vary: HeaderValue,
    /// `Link` headers, each sent as its own: a feed's WebSub hub and self
    /// ([`feed_headers`]); made once per render, not per request.
    pub links: Arc<[HeaderValue]>,
}

impl Entry {
    /// Renders nothing: gzips `bytes` and derives the validators. The
    /// brotli form is left for [`Entry::add_brotli`].
    pub fn new(bytes: Vec<u8>, content_type: &'static str, modified: DateTime<FixedOffset>) -> Entry {
        Entry::compressed(bytes, content_type, modified, false)
    }

    /// Like [`Entry::new`], with the quick gzip form (level 1, its own
    /// ETag): what a change's feeds are first published with, since gzip
    /// was the largest part of their render. [`Entry::final_gzip`] makes
    /// the final form.
    pub fn quick(bytes: Vec<u8>, content_type: &'static str, modified: DateTime<FixedOffset>) -> Entry {
        Entry::compressed(bytes, content_type, modified, true)
    }

    fn compressed(bytes: Vec<u8>, content_type: &'static str, modified: DateTime<FixedOffset>, quick: bool) -> Entry {
        let hash = content_hash(&bytes);
        let (level, suffix) = if quick { (QUICK_GZIP_LEVEL, QUICK_SUFFIX) } else { (GZIP_LEVEL, GZIP_SUFFIX) };
        let gzip = gzip_at(&bytes, level);
        let modified_at = to_system_time(modified);
        Entry {
            identity: OnceLock::new(),
            gzip: representation(gzip, &tag(&hash, suffix)),
            brotli: None,
            quick,
            content_type: HeaderValue::from_static(content_type),
            last_modified: header_value(&httpdate::fmt_http_date(modified_at)),
            modified_at,
            hash,
            vary: HeaderValue::from_static(VARY_ENCODING),
            links: Arc::new([]),
        }
    }

    /// The entry with these `Vary` and `Link` values.
    pub fn with_headers(self, vary: HeaderValue, links: Arc<[HeaderValue]>) -> Entry {
        Entry { vary, links, ..self }
    }

    /// Whether the idle worker still has work on this entry: its final
    /// gzip form or its brotli form.
    pub fn unfinished(&self) -> bool {
        self.quick || self.brotli.is_none()
    }

    /// The entry with its final gzip form in place of the quick one.
    pub fn final_gzip(&self) -> Entry {
        self.finished(false)
    }

    /// The entry with its brotli form compressed, and its final gzip form
    /// (see [`Entry::final_gzip`]).
    pub fn add_brotli(&self) -> Entry {
        self.finished(true)
    }

    /// The entry with the forms the idle worker makes: the final gzip in
    /// place of a quick one, and with `brotli` the brotli form, both from
    /// one read of the uncompressed bytes.
    fn finished(&self, brotli_too: bool) -> Entry {
        let mut e = self.clone();
        let want_brotli = brotli_too && e.brotli.is_none();
        if !e.quick && !want_brotli {
            return e;
        }
        // `None` cannot happen to bytes this entry compressed; the forms it
        // has keep standing in (gzip for brotli, the quick gzip for the final).
        let Some(bytes) = self.uncompressed() else { return e };
        if e.quick {
            e.gzip = representation(gzip(&bytes), &tag(&e.hash, GZIP_SUFFIX));
            e.quick = false;
        }
        if want_brotli {
            e.brotli = Some(representation(brotli(&bytes), &tag(&e.hash, BROTLI_SUFFIX)));
        }
        e
    }

    /// The uncompressed bytes: the identity form if it is held, else the
    /// gzip form read back (not kept: the worker needs them once).
    fn uncompressed(&self) -> Option<std::borrow::Cow<'_, [u8]>> {
        match self.identity.get() {
            Some(Some(identity)) => Some(std::borrow::Cow::Borrowed(&identity.bytes[..])),
            _ => gunzip(&self.gzip.bytes).ok().map(std::borrow::Cow::Owned),
        }
    }

    /// The uncompressed bytes, decompressed and kept on first use; `None`
    /// only if the gzip form could not be read back, which cannot happen
    /// to bytes [`Entry::new`] compressed.
    pub fn identity(&self) -> Option<&Representation> {
        self.identity
            .get_or_init(|| match gunzip(&self.gzip.bytes) {
                Ok(bytes) => Some(representation(bytes, &tag(&self.hash, IDENTITY_SUFFIX))),
                Err(e) => {
                    tracing::error!(error = %e, "cannot decompress a cached feed; serving it gzip-encoded");
                    None
                }
            })
            .as_ref()
    }

    /// The stored representation for `encoding`; gzip stands in for a
    /// brotli form not compressed yet.
    pub fn get(&self, encoding: Encoding) -> (Encoding, &Representation) {
        match (encoding, &self.brotli) {
            (Encoding::Brotli, Some(br)) => (Encoding::Brotli, br),
            (Encoding::Brotli, None) | (Encoding::Gzip, _) => (Encoding::Gzip, &self.gzip),
            (Encoding::Identity, _) => match self.identity() {
                Some(identity) => (Encoding::Identity, identity),
                None => (Encoding::Gzip, &self.gzip),
            },
        }
    }

    /// Whether `tag` (an opaque-tag with quotes, without `W/`) names any
    /// representation of this content: all of them carry the same bytes.
    /// Known by its form (the hash, and a coding's suffix), not by the
    /// forms held now: a reader that got the quick gzip form (or the final
    /// one, before a change made the same content again) is not sent the
    /// other form of the same content.
    pub fn has_tag(&self, tag: &str) -> bool {
        tag.strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .and_then(|t| t.strip_prefix(self.hash.as_str()))
            .is_some_and(|rest| [IDENTITY_SUFFIX, GZIP_SUFFIX, QUICK_SUFFIX, BROTLI_SUFFIX].contains(&rest))
    }
}

/// The name of a document's bytes in its ETags and in the cache's
/// merges: XXH3-128, as hex. A fingerprint, not a seal: the bytes are the
/// site's own, so nobody gains by making two feeds collide, and SHA-256
/// was a sixth of the render of a changed feed (perf, 2026-12-04).
pub(super) fn content_hash(bytes: &[u8]) -> String {
    format!("{:032x}", twox_hash::XxHash3_128::oneshot(bytes))
}

pub(super) fn representation(mut bytes: Vec<u8>, etag: &str) -> Representation {
    // `Bytes` keeps a vector's whole allocation, and each form was written
    // into room for a quarter of the feed (a 21 KB gzip form held 87 KB):
    // the slack of every cached form was ~6 MB of `serve` (massif).
    bytes.shrink_to_fit();
    Representation {
        length: HeaderValue::from(bytes.len()),
        bytes: Bytes::from(bytes),
        etag: header_value(etag),
        file: Arc::default(),
    }
}

pub(super) fn header_value(s: &str) -> HeaderValue {
    // Only hex digits, quotes, dashes and HTTP-dates reach here: all visible
    // ASCII, which a header value always accepts.
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

/// The strong ETag of the form with `suffix` of the content `hash`.
fn tag(hash: &str, suffix: &str) -> String {
    format!("\"{hash}{suffix}\"")
}

pub(super) fn gzip(bytes: &[u8]) -> Vec<u8> {
    gzip_at(bytes, GZIP_LEVEL)
}

fn gzip_at(bytes: &[u8], level: u32) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::with_capacity(bytes.len() / 4), flate2::Compression::new(level));
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(bytes);
    enc.finish().unwrap_or_default()
}

pub(super) fn gunzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::with_capacity(bytes.len() * 8);
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out)?;
    Ok(out)
}

pub(super) fn brotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() / 4);
    {
        let mut enc = brotli::CompressorWriter::new(
            &mut out,
            64 * 1024,
            BROTLI_QUALITY,
            window_for(bytes.len()),
        );
        // Writing into a Vec cannot fail.
        let _ = enc.write_all(bytes);
    }
    out
}

/// The smallest window [`window_for`] gives. Not brotli's own 16: at
/// qualities 5 to 9 a window of 2^16 asks the brotli crate for a hasher it
/// does not have (H40-H42), and its stand-in is an H6 with default
/// parameters, 32 MiB of buckets that a 40 KB index page touches nearly all
/// of (~30 MiB more RSS for each small document compressed). From 2^17 it
/// takes H5, ~2 MiB at quality 6; the output is the same size.
const MIN_BROTLI_WINDOW: u32 = 17;

/// log2 of the window that holds `len` bytes, within 17..=22 (a window of
/// 2^n holds 2^n − 16 bytes; see [`MIN_BROTLI_WINDOW`]).
pub(super) fn window_for(len: usize) -> u32 {
    let mut bits = MIN_BROTLI_WINDOW;
    while bits < BROTLI_WINDOW && (1usize << bits) - 16 < len {
        bits += 1;
    }
    bits
}

pub(super) fn to_system_time(d: DateTime<FixedOffset>) -> SystemTime {
    // HTTP-dates have whole seconds; comparing If-Modified-Since against a
    // sub-second instant would never answer 304.
    let secs = d.timestamp();
    if secs <= 0 {
        SystemTime::UNIX_EPOCH
    } else {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs as u64)
    }
}
