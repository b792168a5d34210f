//! Proves that the seed article (the real Yên Bái portal page of
//! ../shared/seed/, copied byte for byte into examples/articles/portal/) is
//! read exactly as DESIGN.md says: the site chrome ("Welcome to …", the `•`
//! lines, the "Xem cỡ chữ" widget) is dropped from every field; the title;
//! 2020-02-21T08:56:00+07:00 read in site.timezone; the lead as summary; the
//! body paragraphs, first and last exact; the closing "Theo Báo Yên Bái" as
//! source/author and shown as the last paragraph; the Vietnamese slug; and
//! the same values in all three feeds.
//!
//! The full content (content_html) is the lead followed by the body, one
//! `<p>` per paragraph: feed readers show the content instead of the
//! summary, so the lead must not be lost there.

use crate::support::common;

use bantin::feeds::{FeedId, Format};
use bantin::Scope;
use common::*;
use crate::support::feed_check::*;

const ORIGIN: &str = "portal/yenbai-nghia-lo-2020-02-21.txt";
const TITLE: &str = "Nghĩa Lộ: Hiệu quả từ những quyết sách lớn";
const LEAD: &str =
    "Năm 2019, thị xã đã hoàn thành và hoàn thành vượt mức 42/44 chỉ tiêu theo Chương trình hành động 144 của Tỉnh ủy.";
const FIRST_BODY: &str = "Đồng chí Dương Văn Tiến - Phó Chủ tịch UBND tỉnh tham quan Hội chợ kích cầu phát triển thương mại, dịch vụ ở thị xã Nghĩa Lộ.";
const LAST_TEXT: &str = "Để hoàn thành những nhiệm vụ trọng tâm đó, đòi hỏi có sự chỉ đạo sát sao của Ban Chấp hành Đảng bộ thị xã và sự vào cuộc của cả hệ thống chính trị.";
const CHROME: &[&str] = &["Welcome to", "Yen Bai Portal", "•", "Đường dây nóng", "02163.818.555", "Xem cỡ chữ", "English"];

fn seed_bytes() -> Vec<u8> {
    std::fs::read(example_store().join(ORIGIN)).unwrap()
}

fn parse_seed() -> bantin::Article {
    let ctx = bantin::store::Context::from_settings(&settings().site);
    bantin::store::parse_bytes(&seed_bytes(), ORIGIN, &ctx).unwrap_or_else(|e| panic!("{e}"))
}

/// The paragraphs of `<p>…</p>` lines, unescaped.
fn paragraphs(html: &str) -> Vec<String> {
    html.lines()
        .map(|l| {
            let inner = l.strip_prefix("<p>").and_then(|l| l.strip_suffix("</p>"));
            let inner = inner.unwrap_or_else(|| panic!("not a <p> line: {l:?}"));
            assert!(!inner.contains('<'), "markup inside a paragraph: {l:?}");
            inner.replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        })
        .collect()
}

#[test]
fn the_copy_is_the_shared_seed() {
    let shared_seed = shared().join("seed/yenbai-nghia-lo-2020-02-21.txt");
    match std::fs::read(&shared_seed) {
        Ok(b) => assert!(b == seed_bytes(), "{ORIGIN} differs from {}", shared_seed.display()),
        Err(e) => eprintln!("note: {} not readable ({e}); the copy is checked on its own", shared_seed.display()),
    }
}

#[test]
fn seed_fields_are_exactly_as_designed() {
    let a = parse_seed();
    assert_eq!(a.title(), TITLE);
    assert_eq!(a.published.to_rfc3339(), "2020-02-21T08:56:00+07:00");
    assert_eq!(a.published.timestamp(), 1_582_250_160, "08:56 in Asia/Ho_Chi_Minh is 01:56 UTC");
    assert_eq!(a.updated, None);
    assert!(
        a.summary().starts_with("Năm 2019, thị xã đã hoàn thành"),
        "{}",
        a.summary()
    );
    assert_eq!(a.summary(), LEAD);
    assert_eq!(a.author.as_deref(), Some("Báo Yên Bái"));
    assert_eq!(a.slug(), "nghia-lo-hieu-qua-tu-nhung-quyet-sach-lon");
    assert_eq!(a.url(), "https://yenbai.gov.vn/tin-tuc/nghia-lo-hieu-qua-tu-nhung-quyet-sach-lon");
    assert_eq!(a.id(), "portal/yenbai-nghia-lo-2020-02-21", "identity: the path, not the title");
    assert!(a.categories.is_empty() && a.tags().is_empty(), "the portal export has no categories");
    assert!(!a.draft && a.image().is_none());

    for (field, value) in [
        ("title", a.title()),
        ("summary", a.summary()),
        ("content", &*a.content_html()),
        ("author", a.author.as_deref().unwrap()),
        ("slug", a.slug()),
        ("url", &*a.url()),
        ("id", a.id()),
    ] {
        for chrome in CHROME {
            assert!(!value.contains(chrome), "{field} keeps the banner text {chrome:?}");
        }
        assert!(!value.contains("21/02/2020"), "{field} keeps the date line");
    }
}

#[test]
fn seed_body_paragraphs_and_content_html() {
    let a = parse_seed();
    let paras = paragraphs(&a.content_html());
    // Shape: one `<p>` per line, nothing else, ending in a newline.
    assert!(a.content_html().starts_with("<p>") && a.content_html().ends_with("</p>\n"));
    assert_eq!(a.content_html().matches("<p>").count(), paras.len());

    // Lead, 11 body paragraphs (the photo caption first), the source line.
    assert_eq!(paras.len(), 13, "{paras:#?}");
    assert_eq!(paras[0], LEAD);
    assert_eq!(paras[1], FIRST_BODY);
    assert_eq!(paras[11], LAST_TEXT, "the trailing no-break spaces are trimmed");
    assert_eq!(paras[12], "Theo Báo Yên Bái");
    for p in &paras {
        assert!(!p.starts_with(char::is_whitespace) && !p.ends_with(char::is_whitespace), "{p:?}");
    }

    // Against the file itself: the blank-line-separated paragraphs after the
    // date line, white space folded.
    let text = String::from_utf8(seed_bytes()).unwrap();
    let after_date = text.split_once("Xem cỡ chữ\n").unwrap().1;
    let want: Vec<String> = after_date.split("\n\n").map(cleaned_line).filter(|p| !p.is_empty()).collect();
    assert_eq!(paras, want);
}

#[test]
fn seed_in_the_feeds() {
    let catalog = load(&example_store());
    let a = catalog
        .articles()
        .iter()
        .find(|a| a.origin() == ORIGIN)
        .expect("seed in the catalog");
    assert_eq!(**a, parse_seed(), "the dir store reads the same article");
    let fs = feed_settings();
    for format in Format::ALL {
        let r = render_one(&catalog, &fs, now(), FeedId::new(Scope::Site, format));
        let p = check_feed(&r, &catalog, &fs, now());
        let it = p.items.iter().find(|i| i.title == TITLE).unwrap_or_else(|| panic!("{format:?}: seed missing"));
        assert_eq!(it.link, a.url());
        assert_eq!(it.summary, LEAD);
        assert_eq!(it.authors, ["Báo Yên Bái"], "{format:?}");
        match format {
            Format::Rss => assert_eq!(it.raw_dates[0], "Fri, 21 Feb 2020 08:56:00 +0700"),
            Format::Atom | Format::Json => assert_eq!(it.raw_dates[0], "2020-02-21T08:56:00+07:00"),
        }
        for chrome in CHROME {
            assert!(!r.text().contains(chrome), "{format:?}: the feed shows {chrome:?}");
        }
    }
}
