//! Proves that item images and the site's icon and logo reach every
//! format the way tests/fixtures/images/README.md says, on a content
//! folder laid out as Hugo, Zola and Jekyll write it: each article's image
//! (front matter, else the body's first http(s) `<img>`), its type, its
//! figure caption; the one non-http(s) image dropped and reported while
//! its article is still served; the portal export's photo caption (the
//! seed, read through an SQL row that names an image). Every feed passes
//! the strict reader and feed-rs field checks (`feed_check::check_feed`), the
//! W3C rules (`feed_rules`, `media_rules`), and feed-rs sees the media,
//! the icon and the logo; the index page links the icon. Snapshots: the
//! fixture store's site feeds with the icon and logo set.

use crate::media_rules::*;
use crate::support::common::*;
use crate::support::feed_check::*;

use bantin::feeds::{media, FeedId, FeedSettings, Format};
use bantin::{Catalog, Scope};
use std::collections::HashMap;

pub fn images_store() -> std::path::PathBuf {
    root().join("tests/fixtures/images")
}

/// The example settings with `site.icon` and `site.logo` set.
pub fn identity_settings() -> FeedSettings {
    let mut fs = feed_settings();
    fs.icon = Some(url::Url::parse("https://yenbai.gov.vn/icon-512.png").unwrap());
    fs.logo = Some(url::Url::parse("https://yenbai.gov.vn/logo.svg").unwrap());
    fs
}

/// An image as the README states it: URL, type, caption.
type Shown = (&'static str, Option<&'static str>, Option<&'static str>);

/// origin → its image, from the fixture README.
const EXPECTED: &[(&str, Option<Shown>)] = &[
    ("hugo/posts/thac-ba-mua-nuoc-noi.md", Some(("https://yenbai.gov.vn/images/thac-ba.jpg", Some("image/jpeg"), None))),
    (
        "hugo/posts/ruong-bac-thang.md",
        Some(("https://yenbai.gov.vn/images/ruong-bac-thang.webp", Some("image/webp"), Some("Ruộng bậc thang xã La Pán Tẩn mùa nước đổ & mây sớm"))),
    ),
    ("hugo/posts/cau-treo-moi.md", Some(("https://cdn.yenbai.example/anh/cau-treo.PNG?w=1200&h=630", Some("image/png"), None))),
    ("hugo/posts/cho-phien-bac-ha.md", Some(("https://yenbai.gov.vn/images/cho-phien.jpg", Some("image/jpeg"), Some("Chợ phiên Nghĩa Lộ sáng chủ nhật")))),
    ("jekyll/_posts/2026-09-01-seo-image.md", Some(("https://yenbai.gov.vn/assets/img/com-tu-le.png", Some("image/png"), None))),
    ("zola/content/blog/che-shan-tuyet.md", Some(("https://yenbai.gov.vn/images/che-shan.png", Some("image/png"), None))),
    ("zola/content/blog/khong-co-anh.md", None),
    ("jekyll/_posts/2026-08-01-mu-cang-chai-bieu-trung.md", Some(("https://yenbai.gov.vn/assets/img/mu-cang-chai.svg", Some("image/svg+xml"), None))),
    ("jekyll/_posts/2026-07-15-tuong-dai-tuong-niem.md", Some(("https://yenbai.gov.vn/assets/img/tuong-niem.jpeg?v=2", Some("image/jpeg"), None))),
    ("jekyll/_posts/2026-06-10-anh-ftp.md", None),
    ("jekyll/_posts/2026-06-20-anh-trong-bai.md", Some(("https://cdn.yenbai.example/anh/truong-hoc.jpg", Some("image/jpeg"), None))),
    ("json/ocop-sieu-thi.json", Some(("https://cdn.yenbai.example/anh/ocop.JPG", Some("image/jpeg"), None))),
];

fn by_origin(catalog: &Catalog) -> HashMap<&str, &bantin::Article> {
    catalog.articles().iter().map(|a| (a.origin(), &**a)).collect()
}

#[test]
fn fixture_images_types_and_captions_are_as_the_readme_says() {
    let catalog = load(&images_store());
    let articles = by_origin(&catalog);
    assert_eq!(articles.len(), 12, "{:?}", articles.keys());
    assert_eq!(EXPECTED.len(), 12);
    for (origin, want) in EXPECTED {
        let a = articles.get(origin).unwrap_or_else(|| panic!("{origin} not read"));
        let got = media::image_of(a);
        let got = got.as_ref().map(|i| (i.url.as_ref(), i.mime, i.caption.as_deref()));
        assert_eq!(got, *want, "{origin}");
    }
    // The FTP image: reported with the store's errors, article kept.
    let errors: Vec<String> = catalog.errors().iter().map(|e| e.to_string()).collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(errors[0].starts_with("jekyll/_posts/2026-06-10-anh-ftp.md: image \"ftp://"), "{}", errors[0]);
    assert!(errors[0].contains("served without it"), "{}", errors[0]);
    assert!(articles["jekyll/_posts/2026-06-10-anh-ftp.md"].image().is_none());
}

#[test]
fn an_edit_that_fixes_the_image_clears_its_report() {
    let tmp = tempfile::tempdir().unwrap();
    copy_tree(&images_store(), tmp.path());
    let path = tmp.path().join("jekyll/_posts/2026-06-10-anh-ftp.md");
    let text = std::fs::read_to_string(&path).unwrap().replace("ftp://files.yenbai.example", "https://files.yenbai.example");
    std::fs::write(&path, text).unwrap();
    let catalog = load(tmp.path());
    assert!(catalog.errors().is_empty(), "{:?}", catalog.errors());
    let a = catalog.articles().iter().find(|a| a.origin().ends_with("anh-ftp.md")).unwrap();
    assert_eq!(a.image(), Some("https://files.yenbai.example/anh/ngay-hoi.jpg"));
}

#[test]
fn every_feed_reads_back_and_follows_the_rules_with_images_and_icon() {
    let catalog = load(&images_store());
    let fs = identity_settings();
    let rendered = render_all(&catalog, &fs, now());
    assert!(rendered.len() >= 3 * 6, "{}", rendered.len());
    let articles = by_origin(&catalog);
    for r in &rendered {
        let what = r.feed.path();
        check_feed(r, &catalog, &fs, now());
        let items = bantin::feeds::items(&r.feed, &catalog, &fs, now());
        match r.feed.format {
            Format::Rss => rss_media_rules(&what, r.text()),
            Format::Atom => atom_media_rules(&what, r.text()),
            Format::Json => json_media_rules(&what, r.text()),
        }
        feed_rs_sees_media(&what, r, &items, &fs);
    }
    // The FTP article is in the site feeds, without an image.
    let ftp = articles["jekyll/_posts/2026-06-10-anh-ftp.md"];
    let site = rendered.iter().find(|r| r.feed == FeedId::new(Scope::Site, Format::Rss)).unwrap();
    assert!(site.text().contains(ftp.title()) && !site.text().contains("ftp://"));
}

/// feed-rs, as a reader, finds each item's image, type and caption, and
/// the icon and logo where its model has them.
fn feed_rs_sees_media(what: &str, r: &Rendered, items: &[std::sync::Arc<bantin::Article>], fs: &FeedSettings) {
    let f = feed_rs::parser::parse(&r.bytes[..]).unwrap_or_else(|e| panic!("{what}: feed-rs: {e}"));
    let icon = fs.icon.as_ref().map(|u| u.to_string());
    let logo = fs.logo.as_ref().map(|u| u.to_string());
    let uri = |i: &Option<feed_rs::model::Image>| i.as_ref().map(|i| i.uri.clone());
    match r.feed.format {
        // RSS's <image> is feed-rs's logo; JSON's icon is its logo, favicon its icon.
        Format::Rss => assert_eq!(uri(&f.logo), icon, "{what}: RSS image"),
        Format::Atom => assert_eq!((uri(&f.icon), uri(&f.logo)), (icon, logo), "{what}: Atom icon, logo"),
        Format::Json => assert_eq!((uri(&f.icon), uri(&f.logo)), (icon.clone(), icon), "{what}: JSON favicon, icon"),
    }
    assert_eq!(f.entries.len(), items.len(), "{what}");
    for (e, a) in f.entries.iter().zip(items) {
        let at = format!("{what}: {}", a.origin());
        let want = media::image_of(a);
        match r.feed.format {
            Format::Rss => {
                let contents: Vec<_> = e.media.iter().flat_map(|m| &m.content).collect();
                let thumbs: Vec<_> = e.media.iter().flat_map(|m| &m.thumbnails).collect();
                let captions: Vec<_> = e.media.iter().filter_map(|m| m.description.as_ref()).map(|d| d.content.as_str()).collect();
                let Some(want) = want else {
                    assert!(contents.is_empty() && thumbs.is_empty(), "{at}: media without an image");
                    continue;
                };
                assert_eq!(contents.len(), 1, "{at}: media:content");
                assert_eq!(contents[0].url.as_ref().map(|u| u.as_str()), Some(want.url.as_ref()), "{at}: media:content url");
                assert_eq!(contents[0].content_type.as_ref().map(|t| t.to_string()), want.mime.map(str::to_string), "{at}: type");
                assert_eq!(thumbs.iter().map(|t| t.image.uri.as_str()).collect::<Vec<_>>(), [want.url.as_ref()], "{at}: thumbnail");
                assert_eq!(captions, want.caption.as_deref().into_iter().collect::<Vec<_>>(), "{at}: media:description");
            }
            Format::Atom => {
                let enclosures: Vec<_> = e.links.iter().filter(|l| l.rel.as_deref() == Some("enclosure")).collect();
                let got: Vec<_> = enclosures.iter().map(|l| (l.href.as_str(), l.media_type.as_deref())).collect();
                let want: Vec<_> = want.iter().map(|w| (w.url.as_ref(), w.mime)).collect();
                assert_eq!(got, want, "{at}: enclosure link");
            }
            // feed-rs reads no item image from JSON Feed: the strict read checks it.
            Format::Json => {
                let v: serde_json::Value = serde_json::from_slice(&r.bytes).unwrap();
                let item = v["items"].as_array().unwrap().iter().find(|i| i["url"] == *a.url()).unwrap();
                assert_eq!(item["image"].as_str(), want.as_ref().map(|w| w.url.as_ref()), "{at}: JSON image");
                assert!(item.get("banner_image").is_none(), "{at}: no banner_image");
            }
        }
    }
}

#[test]
fn without_an_icon_no_channel_image_and_an_svg_icon_stays_out_of_rss() {
    let catalog = load(&images_store());
    let mut fs = feed_settings();
    let site = |fs: &FeedSettings, f| render_one(&catalog, fs, now(), FeedId::new(Scope::Site, f));
    assert!(!site(&fs, Format::Rss).text().contains("<image>") && !site(&fs, Format::Atom).text().contains("<icon>"));
    assert!(!site(&fs, Format::Json).text().contains("\"icon\""));
    fs.icon = Some(url::Url::parse("https://yenbai.gov.vn/icon.svg").unwrap());
    assert!(!site(&fs, Format::Rss).text().contains("<image>"), "RSS 2.0: a GIF, JPEG or PNG only");
    assert!(site(&fs, Format::Atom).text().contains("<icon>https://yenbai.gov.vn/icon.svg</icon>"));
}

/// The seed (a portal export) as an SQL row's text body with an image:
/// the paragraph after the lead becomes the photo's caption.
#[test]
fn the_portal_caption_paragraph_becomes_the_image_caption() {
    let seed = std::fs::read_to_string(shared().join("seed/yenbai-nghia-lo-2020-02-21.txt")).unwrap();
    let mut raw = bantin::store::portal::parse(&seed).unwrap();
    raw.image = Some("/uploads/2020/02/nghia-lo.jpg".into());
    let ctx = bantin::store::Context::from_settings(&settings().site);
    let a = bantin::store::raw::normalize(raw, "seed.txt", &ctx, bantin::store::raw::BodyPolicy::Now).unwrap();
    let image = media::image_of(&a).unwrap();
    assert_eq!(image.url, "https://yenbai.gov.vn/uploads/2020/02/nghia-lo.jpg");
    assert_eq!(image.mime, Some("image/jpeg"));
    let caption = image.caption.unwrap();
    assert!(caption.starts_with("Đồng chí Dương Văn Tiến - Phó Chủ tịch UBND tỉnh tham quan"), "{caption}");
    assert!(a.summary().starts_with("Năm 2019, thị xã đã hoàn thành"), "the lead stays the summary");
    // The photo stands after the lead; the caption is no body paragraph any more.
    let html = a.content_html();
    let (lead, figure) = (html.find("Năm 2019").unwrap(), html.find("<figure>").unwrap());
    assert!(lead < figure && !html.contains(&format!("<p>{caption}</p>")), "{html}");
}

fn snapshot_text(format: Format) -> String {
    let catalog = load(&images_store());
    let r = render_one(&catalog, &identity_settings(), now(), FeedId::new(Scope::Site, format));
    let version = env!("CARGO_PKG_VERSION");
    r.text()
        .replace(&format!("bantin {version}<"), "bantin [version]<")
        .replace(&format!("version=\"{version}\""), "version=\"[version]\"")
}

#[test]
fn snapshots_of_a_store_with_images_and_an_icon() {
    insta::assert_snapshot!("images_feed.xml", snapshot_text(Format::Rss));
    insta::assert_snapshot!("images_atom.xml", snapshot_text(Format::Atom));
    insta::assert_snapshot!("images_feed.json", snapshot_text(Format::Json));
}

/// The index page names the site icon for browsers, and only when set.
#[test]
fn the_index_page_links_the_icon() {
    let catalog = load(&images_store());
    let with = bantin::cache::index_page(&catalog, &identity_settings(), now(), false).unwrap();
    assert!(with.contains(r#"<link rel="icon" href="https://yenbai.gov.vn/icon-512.png">"#), "{with}");
    let without = bantin::cache::index_page(&catalog, &feed_settings(), now(), false).unwrap();
    assert!(!without.contains("rel=\"icon\""));
}
