//! An item's image and the channel's icon, as the three formats carry
//! them: RSS through Media RSS (`media:content` with `media:description`,
//! `media:thumbnail`) and the channel's `<image>`; Atom through
//! `link rel="enclosure"`, `<icon>` and `<logo>`; JSON Feed through the
//! item's `image` and the feed's `icon` and `favicon`.
//!
//! An article's image is its own (`image` in the front matter or column,
//! already absolute and http(s), see `store::image`), else the first
//! http(s) `<img>` of its sanitised body. Its caption is the
//! `<figcaption>` of the `<figure>` that holds it (the portal export's
//! caption paragraph is made into one, `store::image`). The media type
//! comes from the file extension, and is left out when that says nothing:
//! there is no configured default. No byte length is ever known, so RSS
//! gets no `<enclosure>` (its `length` is required and would be invented)
//! and Atom's enclosure link has no `length`.

use super::Meta;
use crate::article::Article;
use rss::extension::{Extension, ExtensionMap};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// The Media RSS namespace.
pub const MEDIA_NS: &str = "http://search.yahoo.com/mrss/";

/// An item's image as the feeds show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image<'a> {
    /// Absolute http(s) URL.
    pub url: Cow<'a, str>,
    /// Plain text, when the body gives the image a caption.
    pub caption: Option<String>,
    /// From the extension, when it names a known image type.
    pub mime: Option<&'static str>,
}

/// The image of `article` (see the module doc), reading its body if the
/// article names none of its own.
pub fn image_of(article: &Article) -> Option<Image<'_>> {
    let html = article.content_html();
    let (url, caption) = match article.image() {
        Some(own) => (Cow::Borrowed(own), find_img(&html, Some(own)).and_then(|img| img.caption)),
        None => {
            let img = find_img(&html, None)?;
            (Cow::Owned(img.src), img.caption)
        }
    };
    let mime = mime_of(&url);
    Some(Image { url, caption, mime })
}

/// The media type an image URL's extension names (path only, any case).
pub fn mime_of(url: &str) -> Option<&'static str> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let name = path.rsplit('/').next().unwrap_or(path);
    let (_, ext) = name.rsplit_once('.')?;
    Some(match ext.to_ascii_lowercase().as_str() {
        "jpg" | "jpeg" | "jpe" | "jfif" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "svg" => "image/svg+xml",
        "ico" => "image/vnd.microsoft.icon",
        "bmp" => "image/bmp",
        _ => return None,
    })
}

/// Whether RSS 2.0 allows `url` as a channel `<image>`: "a GIF, JPEG or
/// PNG image". One whose extension names another type (SVG, WebP, ICO…)
/// is left out of RSS (the W3C validator warns on it); Atom and JSON Feed
/// still carry it.
pub fn rss_may_show(url: &str) -> bool {
    mime_of(url).is_none_or(|m| matches!(m, "image/gif" | "image/jpeg" | "image/png"))
}

/// An `<img>` found in sanitised HTML.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Found {
    src: String,
    caption: Option<String>,
}

/// The first http(s) `<img>` of `html` (or the first whose `src` is
/// `want`), with its figure's caption. `html` is ammonia's output, or
/// our own escaped paragraphs: attributes are double-quoted, `&`, `<`,
/// `>` and `"` escaped, so a plain scan reads it exactly.
fn find_img(html: &str, want: Option<&str>) -> Option<Found> {
    let mut at = 0;
    // memmem, not `str::find`: every item of every feed a change renders
    // scans its whole body here (most bodies have no image), and the
    // two-way search was ~6 % of a write's render.
    while let Some(i) = memchr::memmem::find(&html.as_bytes()[at..], b"<img ") {
        let start = at + i;
        let end = start + html[start..].find('>')?;
        at = end;
        let Some(src) = attribute(&html[start..end], "src") else { continue };
        let fits = match want {
            Some(w) => src == w,
            None => src.starts_with("https://") || src.starts_with("http://"),
        };
        if fits {
            return Some(Found { caption: figcaption(html, start, end), src });
        }
    }
    None
}

/// The value of `name="…"` in one start tag, entities decoded.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let from = tag.find(&key)? + key.len();
    let len = tag[from..].find('"')?;
    Some(decode(&tag[from..from + len]))
}

/// The text of the `<figcaption>` of the figure the image at
/// `start..end` stands in, if it stands in one.
fn figcaption(html: &str, start: usize, end: usize) -> Option<String> {
    let open = html[..start].rfind("<figure")?;
    // The figure must still be open where the image is.
    if html[open..start].contains("</figure>") {
        return None;
    }
    let close = end + html[end..].find("</figure>")?;
    let inner = &html[open..close];
    let cap = inner.find("<figcaption")?;
    let body = cap + inner[cap..].find('>')? + 1;
    let stop = body + inner[body..].find("</figcaption>")?;
    let text = crate::text::clean_line(&decode(&strip_tags(&inner[body..stop])));
    (!text.is_empty()).then_some(text)
}

fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// The entities html5ever's serialiser and `text::escape_html` write.
fn decode(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

// ---- RSS --------------------------------------------------------------------

fn element(name: &str, attrs: &[(&str, &str)], value: Option<String>) -> Extension {
    let mut e = Extension::default();
    e.set_name(name);
    e.set_value(value);
    e.attrs = attrs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    e
}

/// The item's Media RSS elements: `media:content` (medium image, type
/// when known, the caption as `media:description`) and `media:thumbnail`.
pub(super) fn rss_item(image: &Image) -> ExtensionMap {
    let mut attrs = vec![("url", image.url.as_ref()), ("medium", "image")];
    if let Some(mime) = image.mime {
        attrs.push(("type", mime));
    }
    let mut content = element("media:content", &attrs, None);
    if let Some(caption) = &image.caption {
        content.children.insert(
            "description".into(),
            vec![element("media:description", &[("type", "plain")], Some(caption.clone()))],
        );
    }
    let thumbnail = element("media:thumbnail", &[("url", image.url.as_ref())], None);
    let mut media = BTreeMap::new();
    media.insert("content".to_string(), vec![content]);
    media.insert("thumbnail".to_string(), vec![thumbnail]);
    let mut map = ExtensionMap::new();
    map.insert("media".to_string(), media);
    map
}

/// The channel's `<image>`: the site icon, with the channel's own title
/// and link, as RSS 2.0 requires (the W3C validator checks both match).
pub(super) fn rss_channel_image(meta: &Meta) -> Option<rss::Image> {
    let icon = meta.settings.icon.as_ref().filter(|u| rss_may_show(u.as_str()))?;
    let mut image = rss::Image::default();
    image.set_url(icon.to_string());
    image.set_title(meta.title.clone());
    image.set_link(meta.home_url.clone());
    Some(image)
}

// ---- Atom -------------------------------------------------------------------

/// The entry's `link rel="enclosure"` (type when known; no length, which
/// is never known).
pub(super) fn atom_enclosure(image: &Image) -> atom_syndication::Link {
    let mut link = atom_syndication::Link::default();
    link.set_href(image.url.to_string());
    link.set_rel("enclosure");
    link.set_mime_type(image.mime.map(str::to_string));
    if let Some(caption) = &image.caption {
        link.set_title(Some(caption.clone()));
    }
    link
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_the_extension_only() {
        assert_eq!(mime_of("https://a.vn/x/anh.JPG?w=300#top"), Some("image/jpeg"));
        assert_eq!(mime_of("https://a.vn/icon.svg"), Some("image/svg+xml"));
        assert_eq!(mime_of("https://a.vn/image?id=3"), None);
        assert_eq!(mime_of("https://a.vn/dir.png/photo"), None, "a dot in a folder is no extension");
        assert!(rss_may_show("https://a.vn/i.png") && rss_may_show("https://a.vn/i") && !rss_may_show("https://a.vn/i.webp"));
    }

    #[test]
    fn the_first_http_image_and_its_figure_caption() {
        let html = "<p><img src=\"ftp://x/a.jpg\"></p><figure><img src=\"https://a.vn/b.jpg?x=1&amp;y=2\" alt=\"b\">\
                    <figcaption>Ảnh: <em>Thanh Hà</em> &amp; cộng sự</figcaption></figure><img src=\"https://a.vn/c.png\">";
        let found = find_img(html, None).unwrap();
        assert_eq!(found.src, "https://a.vn/b.jpg?x=1&y=2");
        assert_eq!(found.caption.as_deref(), Some("Ảnh: Thanh Hà & cộng sự"));
        let own = find_img(html, Some("https://a.vn/c.png")).unwrap();
        assert_eq!(own.caption, None, "outside any figure");
        assert_eq!(find_img("<p>no image</p>", None), None);
    }

    #[test]
    fn a_caption_belongs_only_to_its_own_figure() {
        let html = "<figure><img src=\"https://a.vn/1.jpg\"><figcaption>một</figcaption></figure><p><img src=\"https://a.vn/2.jpg\"></p>";
        assert_eq!(find_img(html, Some("https://a.vn/2.jpg")).unwrap().caption, None);
        assert_eq!(find_img(html, None).unwrap().caption.as_deref(), Some("một"));
    }
}
