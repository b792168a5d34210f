//! The W3C Feed Validation Service's rules for images and icons, written
//! out as checks (from its sources: `media.py`, `image.py`, `link.py`,
//! `item.py`), and JSON Feed 1.1's for `icon`, `favicon`, `image` and
//! `banner_image`. Called on every feed by `feed_rules` and `media`.
//!
//! - Media RSS: the `media` prefix is bound to http://search.yahoo.com/mrss/;
//!   `media:content` carries only the spec's attributes, an absolute `url`,
//!   `medium` one of image/audio/video/document/executable, a MIME `type`;
//!   `media:description` at most once, `type` plain or html, no undeclared
//!   HTML in plain text; `media:thumbnail` has an absolute `url` and only
//!   height/time/url/width.
//! - RSS `<enclosure>`: url, a non-negative integer `length` and a MIME
//!   `type` are all required, so bantin (which never knows a length) writes
//!   none; at most one per item.
//! - RSS channel `<image>`: `url`, `title`, `link`; the title and link must
//!   be the channel's (ImageTitleDoesntMatch, ImageLinkDoesntMatch); the
//!   url a GIF, JPEG or PNG (ImageUrlFormat); width ≤ 144, height ≤ 400.
//! - Atom: at most one `icon` and one `logo`, absolute IRIs; an enclosure
//!   link has an absolute href, a MIME type if any, a non-negative integer
//!   length if any, a non-blank title if any.
//! - JSON Feed 1.1: `icon`, `favicon`, item `image` and `banner_image` are
//!   strings holding absolute URLs.

use crate::support::common::*;
use crate::support::feed_check::*;

pub const MEDIA: &str = "http://search.yahoo.com/mrss/";
const ATOM: &str = "http://www.w3.org/2005/Atom";

fn is_mime(s: &str) -> bool {
    // The validator's mime_re: type/subtype with token characters.
    let token = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b));
    s.split_once('/').is_some_and(|(t, sub)| token(t) && token(sub.split(';').next().unwrap_or("").trim()))
}

fn is_count(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn elements<'a, 'i>(n: roxmltree::Node<'a, 'i>, ns: Option<&str>, name: &str) -> Vec<roxmltree::Node<'a, 'i>> {
    n.children().filter(|c| c.is_element() && c.tag_name().name() == name && c.tag_name().namespace() == ns).collect()
}

fn only_attributes(what: &str, n: roxmltree::Node, allowed: &[&str]) {
    for a in n.attributes() {
        assert!(a.namespace().is_none() && allowed.contains(&a.name()), "{what}: unexpected attribute {} on <{}>", a.name(), n.tag_name().name());
    }
}

/// Looks like markup in a plain-text field (the validator's
/// ContainsUndeclaredHTML: a tag such as `<b>` or `</p>`).
fn has_markup(s: &str) -> bool {
    s.match_indices('<').any(|(i, _)| s[i + 1..].chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '/'))
}

pub fn rss_media_rules(what: &str, text: &str) {
    let doc = strict_xml(what, text);
    let rss = doc.root_element();
    let media_used = doc.descendants().any(|n| n.tag_name().namespace() == Some(MEDIA));
    if media_used {
        assert_eq!(rss.lookup_namespace_uri(Some("media")), Some(MEDIA), "{what}: xmlns:media");
    }
    let ch = rss.children().find(|c| c.has_tag_name("channel")).expect("channel");
    let channel_text = |name: &str| elements(ch, None, name).first().map(|n| text_of(*n)).unwrap_or_default();
    for image in elements(ch, None, "image") {
        let get = |name: &str| {
            let found = elements(image, None, name);
            assert_eq!(found.len(), 1, "{what}: channel image needs one <{name}>");
            text_of(found[0])
        };
        let url = get("url");
        assert!(is_absolute_http(&url), "{what}: image url {url:?}");
        let ext = url.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
        let word = !ext.is_empty() && ext.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        assert!(!word || ["jpg", "jpeg", "gif", "png"].contains(&ext.as_str()), "{what}: image url must be GIF, JPEG or PNG: {url}");
        assert_eq!(get("title"), channel_text("title"), "{what}: image title must be the channel's");
        assert_eq!(get("link"), channel_text("link"), "{what}: image link must be the channel's");
        for (name, max) in [("width", 144), ("height", 400)] {
            for n in elements(image, None, name) {
                let v: u32 = text_of(n).parse().unwrap_or(0);
                assert!((1..=max).contains(&v), "{what}: image {name} {v}");
            }
        }
    }
    assert!(elements(ch, None, "image").len() <= 1, "{what}: one channel image");
    for item in elements(ch, None, "item") {
        let at = format!("{what}: {}", elements(item, None, "link").first().map(|l| text_of(*l)).unwrap_or_default());
        let enclosures = elements(item, None, "enclosure");
        assert!(enclosures.len() <= 1, "{at}: one enclosure at most");
        for e in enclosures {
            assert!(e.attribute("url").is_some_and(is_absolute_http), "{at}: enclosure url");
            assert!(e.attribute("length").is_some_and(is_count), "{at}: enclosure length is required");
            assert!(e.attribute("type").is_some_and(is_mime), "{at}: enclosure type is required");
        }
        for c in elements(item, Some(MEDIA), "content") {
            only_attributes(&at, c, &["bitrate", "channels", "duration", "expression", "fileSize", "framerate", "height", "isDefault", "lang", "medium", "samplingrate", "type", "url", "width"]);
            assert!(c.attribute("url").is_some_and(is_absolute_http), "{at}: media:content url");
            if let Some(m) = c.attribute("medium") {
                assert!(["image", "audio", "video", "document", "executable"].contains(&m), "{at}: medium {m}");
            }
            if let Some(t) = c.attribute("type") {
                assert!(is_mime(t), "{at}: media:content type {t:?}");
            }
            let descriptions = elements(c, Some(MEDIA), "description");
            assert!(descriptions.len() <= 1, "{at}: one media:description");
            for d in descriptions {
                let kind = d.attribute("type").unwrap_or("plain");
                assert!(["plain", "html"].contains(&kind), "{at}: media:description type {kind}");
                let text = text_of(d);
                assert!(!text.trim().is_empty(), "{at}: empty media:description");
                assert!(kind == "html" || !has_markup(&text), "{at}: HTML in a plain media:description: {text:?}");
            }
        }
        for t in elements(item, Some(MEDIA), "thumbnail") {
            only_attributes(&at, t, &["height", "time", "url", "width"]);
            assert!(t.attribute("url").is_some_and(is_absolute_http), "{at}: media:thumbnail url");
        }
    }
}

pub fn atom_media_rules(what: &str, text: &str) {
    let doc = strict_xml(what, text);
    let feed = doc.root_element();
    for name in ["icon", "logo"] {
        let found = elements(feed, Some(ATOM), name);
        assert!(found.len() <= 1, "{what}: at most one <{name}>");
        for n in found {
            assert!(is_absolute_http(text_of(n).trim()), "{what}: {name} {:?}", text_of(n));
        }
    }
    for entry in elements(feed, Some(ATOM), "entry") {
        for l in elements(entry, Some(ATOM), "link").into_iter().filter(|l| l.attribute("rel") == Some("enclosure")) {
            let at = format!("{what}: enclosure {:?}", l.attribute("href"));
            assert!(l.attribute("href").is_some_and(is_absolute_http), "{at}: href");
            if let Some(t) = l.attribute("type") {
                assert!(is_mime(t), "{at}: type");
            }
            if let Some(n) = l.attribute("length") {
                assert!(is_count(n), "{at}: length");
            }
            if let Some(title) = l.attribute("title") {
                assert!(!title.trim().is_empty() && !has_markup(title), "{at}: title");
            }
        }
    }
}

pub fn json_media_rules(what: &str, text: &str) {
    let v: serde_json::Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{what}: {e}"));
    let url_field = |o: &serde_json::Value, key: &str, at: &str| {
        if let Some(u) = o.get(key) {
            assert!(u.as_str().is_some_and(is_absolute_http), "{at}: {key} must be an absolute URL string: {u}");
        }
    };
    url_field(&v, "icon", what);
    url_field(&v, "favicon", what);
    for it in v["items"].as_array().into_iter().flatten() {
        let at = format!("{what}: {}", it["id"]);
        url_field(it, "image", &at);
        url_field(it, "banner_image", &at);
    }
}

#[test]
fn the_rules_reject_what_the_validator_rejects() {
    let ok = r#"<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>T</title><link>https://a.vn/</link>
<image><url>https://a.vn/i.png</url><title>T</title><link>https://a.vn/</link></image>
<item><link>https://a.vn/1</link><media:content url="https://a.vn/1.jpg" medium="image" type="image/jpeg"><media:description type="plain">Ảnh</media:description></media:content><media:thumbnail url="https://a.vn/1.jpg"/></item></channel></rss>"#;
    rss_media_rules("ok", ok);
    for (bad, from, to) in [
        ("image title", "<title>T</title><link>https://a.vn/</link></image>", "<title>U</title><link>https://a.vn/</link></image>"),
        ("image url", "i.png", "i.svg"),
        ("medium", "medium=\"image\"", "medium=\"picture\""),
        ("enclosure without length", "<media:thumbnail", "<enclosure url=\"https://a.vn/1.jpg\" type=\"image/jpeg\"/><media:thumbnail"),
        ("markup", ">Ảnh<", ">&lt;b&gt;Ảnh&lt;/b&gt;<"),
        ("thumbnail url", "<media:thumbnail url=\"https://a.vn/1.jpg\"/>", "<media:thumbnail width=\"3\"/>"),
    ] {
        let text = ok.replacen(from, to, 1);
        assert_ne!(text, ok, "{bad}");
        assert!(std::panic::catch_unwind(|| rss_media_rules(bad, &text)).is_err(), "{bad} passed");
    }
    assert!(std::panic::catch_unwind(|| json_media_rules("json", r#"{"icon": "/i.png", "items": []}"#)).is_err());
}
