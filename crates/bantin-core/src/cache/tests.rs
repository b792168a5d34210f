//! Unit tests of the feed cache, and the settings the cache's other
//! rooms' tests share (`feed_settings`).

use super::*;
use super::entry::*;
use std::io::Read;

pub(super) use crate::feeds::fixtures::feed_settings;

#[test]
fn brotli_window_fits_the_input_and_still_decodes() {
    assert_eq!(window_for(0), 17);
    assert_eq!(window_for((1 << 16) - 15), 17);
    assert_eq!(window_for((1 << 17) - 16), 17);
    assert_eq!(window_for((1 << 17) - 15), 18);
    assert_eq!(window_for(300_000), 19);
    assert_eq!(window_for(50 << 20), BROTLI_WINDOW);
    // Inputs on both sides of a window boundary, incompressible enough
    // that matches reach far back.
    for len in [(1 << 16) - 16, (1 << 16) + 5, 700_000] {
        let bytes: Vec<u8> = (0..len as u64)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        let mut back = Vec::new();
        brotli::Decompressor::new(brotli(&bytes).as_slice(), 4096)
            .read_to_end(&mut back)
            .unwrap();
        assert!(back == bytes, "{len} bytes round trip");
    }
}

#[test]
fn compressed_forms_decode_to_the_identity_bytes() {
    let text = "Nghĩa Lộ: Hiệu quả từ những quyết sách lớn. ".repeat(200);
    let e = Entry::new(text.clone().into_bytes(), "text/plain", DateTime::UNIX_EPOCH.fixed_offset());
    assert!(e.brotli.is_none());
    assert_eq!(e.get(Encoding::Brotli).0, Encoding::Gzip);
    let e = e.add_brotli();
    assert_eq!(e.get(Encoding::Brotli).0, Encoding::Brotli);
    let mut gz = String::new();
    flate2::read::GzDecoder::new(e.gzip.bytes.as_ref()).read_to_string(&mut gz).unwrap();
    let mut br = String::new();
    brotli::Decompressor::new(e.get(Encoding::Brotli).1.bytes.as_ref(), 4096).read_to_string(&mut br).unwrap();
    assert_eq!(gz, text);
    assert_eq!(br, text);
    assert!(e.gzip.bytes.len() < text.len() / 5);
    assert_eq!(e.identity().unwrap().etag, HeaderValue::from_str(&format!("\"{}\"", e.hash)).unwrap());
    assert!(e.has_tag(&format!("\"{}-br\"", e.hash)));
}

#[test]
fn a_quick_entry_has_its_own_tag_and_its_final_form_is_the_usual_one() {
    let text = "Nghĩa Lộ: Hiệu quả từ những quyết sách lớn. ".repeat(200);
    let at = DateTime::UNIX_EPOCH.fixed_offset();
    let usual = Entry::new(text.clone().into_bytes(), "text/plain", at);
    let quick = Entry::quick(text.clone().into_bytes(), "text/plain", at);
    assert!(!usual.quick && quick.quick && quick.unfinished());
    assert_eq!(quick.hash, usual.hash);
    assert_eq!(quick.gzip.etag, HeaderValue::from_str(&format!("\"{}-gz1\"", quick.hash)).unwrap());
    let mut gz = String::new();
    flate2::read::GzDecoder::new(quick.gzip.bytes.as_ref()).read_to_string(&mut gz).unwrap();
    assert_eq!(gz, text);
    // The final form is byte for byte what a start or a reload serves.
    let done = quick.final_gzip();
    assert!(!done.quick && done.brotli.is_none());
    assert_eq!((&done.gzip.bytes, &done.gzip.etag), (&usual.gzip.bytes, &usual.gzip.etag));
    // A reader holding either gzip tag is told its copy still stands.
    for e in [&quick, &done] {
        assert!(e.has_tag(&format!("\"{}-gz1\"", e.hash)));
        assert!(e.has_tag(&format!("\"{}-gz\"", e.hash)));
        assert!(!e.has_tag(&format!("\"{}-gz2\"", e.hash)));
    }
    let both = quick.add_brotli();
    assert!(!both.unfinished());
    assert_eq!(both.gzip.bytes, usual.gzip.bytes);
}

/// ETags are XXH3-128 of the identity bytes, so a restart or another
/// instance gives the same bytes the same validators. The values are the
/// reference C implementation's (Python's `xxhash.xxh3_128_hexdigest`):
/// no input, a short one, and one past the long-input (SIMD) threshold.
#[test]
fn the_content_hash_is_xxh3_128_in_hex() {
    assert_eq!(content_hash(b""), "99aa06d3014798d86001c324468d497f");
    assert_eq!(content_hash(b"bantin"), "403597eebe80458eee843133dfef279b");
    assert_ne!(content_hash(b"bantin"), content_hash(b"bantim"));
    assert_eq!(content_hash(&[7; 400_000]), "4896c7711e7e4b4a82daf263e5c11bff");
}

/// Every cached form holds only its own bytes: a gzip form of 21 KB kept
/// the 87 KB it was written into (a quarter of the feed), ~6 MB of
/// `serve` over a site's forms (issue 24, memory).
#[test]
fn cached_forms_hold_no_room_beyond_their_bytes() {
    let text = "Nghĩa Lộ: Hiệu quả từ những quyết sách lớn. ".repeat(2000);
    let e = Entry::new(text.into_bytes(), "text/plain", DateTime::UNIX_EPOCH.fixed_offset()).add_brotli();
    let forms = [
        ("gzip", Some(e.gzip.bytes.clone())),
        ("brotli", e.brotli.as_ref().map(|r| r.bytes.clone())),
        ("identity", e.identity().map(|r| r.bytes.clone())),
    ];
    // The entry gone, each handle is the only one: it can be had back as
    // the buffer it is, whose capacity tells the room it holds.
    drop(e);
    for (form, bytes) in forms {
        let bytes = bytes.unwrap_or_else(|| panic!("no {form} form"));
        let len = bytes.len();
        let buffer = bytes.try_into_mut().unwrap_or_else(|_| panic!("{form}: still shared"));
        assert_eq!(buffer.capacity(), len, "{form}: {len} bytes held in {}", buffer.capacity());
    }
}

/// Article `n` of category `cat`, published `n` hours after a fixed time.
fn shared_article(n: u32, cat: &str, body: &str) -> Arc<Article> {
    let text = format!(
        "+++\ntitle = \"Tin số {n}\"\ndate = \"2026-11-01T{:02}:00:00+07:00\"\ncategories = [\"{cat}\"]\n+++\n\n{body}\n",
        n % 24
    );
    Arc::new(crate::store::parse_bytes(text.as_bytes(), &format!("tin/{n}.md"), &test_context()).unwrap())
}

fn test_context() -> crate::store::Context {
    crate::store::Context::new(chrono_tz::Asia::Ho_Chi_Minh, url::Url::parse("https://yenbai.gov.vn/").unwrap(), "tin-tuc/{slug}")
}

fn bytes_of(cache: &FeedCache, path: &str) -> Vec<u8> {
    cache.feed(path).and_then(|e| e.identity()).map(|r| r.bytes.to_vec()).unwrap_or_default()
}

/// The items' pieces a refresh after a change rendered are taken by the
/// next one: its feeds are what a refresh from nothing renders, and a
/// piece it knows is not rendered again.
#[test]
fn a_refresh_after_a_change_takes_the_pieces_the_last_one_rendered() {
    let now = DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z").unwrap();
    let settings = feed_settings();
    let cat = |n: u32| if n.is_multiple_of(2) { "Kinh tế" } else { "Du lịch" };
    let articles: Vec<_> = (0..10).map(|n| shared_article(n, cat(n), "Tóm tắt.")).collect();
    let catalog = crate::catalog::Catalog::from_shared(articles.clone(), Vec::new(), &test_context(), 1);
    let (start, _) = refresh(None, &catalog, &settings, now);
    let pieces = |c: &FeedCache| c.renderer.as_ref().map(|r| r.pieces.get()).unwrap();
    assert!(pieces(&start).is_empty(), "a start keeps no pieces");

    let add = |catalog: &crate::catalog::Catalog, old: Option<&Arc<Article>>, new: Arc<Article>, generation| {
        let change = crate::catalog::Change { old: old.map(|a| Ok(Arc::clone(a))), new: Some(Ok(new)) };
        catalog.apply(&[change], generation).unwrap()
    };
    let changed = add(&catalog, None, shared_article(10, "Kinh tế", "Tin mới."), 2);
    let (after, _) = refresh(Some(&start), &changed, &settings, now);
    // The site's feeds hold all eleven: three pieces each.
    assert_eq!(pieces(&after).len(), 33);

    let edited = add(&changed, Some(&articles[3]), shared_article(3, "Du lịch", "Bản sửa."), 3);
    let (next, _) = refresh(Some(&after), &edited, &settings, now);
    let (fresh, _) = refresh(None, &edited, &settings, now);
    for path in ["feed.xml", "atom.xml", "feed.json", "categories/du-lich/atom.xml", "categories/kinh-te/feed.json"] {
        assert!(bytes_of(&next, path) == bytes_of(&fresh, path), "{path}");
    }
    assert!(String::from_utf8(bytes_of(&next, "atom.xml")).unwrap().contains("Bản sửa."));

    // A known piece is taken as it is (here a forged one, to tell).
    let forged = crate::feeds::Pieces::from_used(
        crate::feeds::render_known(&FeedId::new(crate::catalog::Scope::Site, crate::feeds::Format::Rss), &articles[5..6], None, &settings, &Default::default())
            .1
            .into_iter()
            .map(|(a, f, _)| (a, f, crate::feeds::Piece::forged(b"<item>forged</item>"))),
    );
    let renderer = Renderer { settings: settings.clone(), hub: None, pieces: Arc::new(lazy::Shelf::default()) };
    renderer.pieces.put(forged);
    let after = FeedCache { renderer: Some(Arc::new(renderer)), ..after };
    let (next, _) = refresh(Some(&after), &edited, &settings, now);
    assert!(String::from_utf8(bytes_of(&next, "feed.xml")).unwrap().contains("<item>forged</item>"));
    let shelved = pieces(&next);
    assert_eq!(refresh::within(shelved.clone(), shelved.bytes()).len(), shelved.len());
    assert!(refresh::within(shelved.clone(), shelved.bytes() - 1).is_empty(), "over the limit, none kept");
    assert!(String::from_utf8(bytes_of(&next, "categories/du-lich/feed.xml")).unwrap().contains("<item>forged</item>"));
    assert!(!String::from_utf8(bytes_of(&next, "atom.xml")).unwrap().contains("forged"));
}
