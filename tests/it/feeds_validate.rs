//! Proves that every feed bantin renders (site-wide and per category, in RSS
//! 2.0, Atom 1.0 and JSON Feed 1.1) reads back correctly, for the example
//! store, the tricky fixtures and a generated 1,000-article corpus in both
//! the Markdown and the portal format: a strict parser (roxmltree /
//! serde_json) accepts it, an independent feed client (feed-rs) sees the
//! same items, and every field matches what the store holds (titles cleaned
//! and NFC with `]]>`, `&`, `<` kept as text, absolute links, unique ids
//! that survive reloads and edits, dates, categories, authors, item counts,
//! drafts and future articles absent, bad files reported with path + line).
//! All at a fixed `now` (support::common::NOW), so the tests never go stale.

use crate::support::common;

use bantin::feeds::Format;
use bantin::{Catalog, Scope};
use chrono::DateTime;
use common::*;
use crate::support::feed_check::*;
use std::collections::{HashMap, HashSet};

fn check_all(catalog: &Catalog, fs: &bantin::feeds::FeedSettings) -> (Vec<Rendered>, Vec<Parsed>) {
    let rendered = render_all(catalog, fs, now());
    let parsed: Vec<Parsed> = rendered.iter().map(|r| check_feed(r, catalog, fs, now())).collect();
    // One id per article, the same in every format and feed.
    ids_by_link(&rendered, &parsed);
    (rendered, parsed)
}

fn site<'a>(rendered: &[Rendered], parsed: &'a [Parsed], format: Format) -> &'a Parsed {
    let i = rendered.iter().position(|r| r.feed.scope == Scope::Site && r.feed.format == format).expect("site feed");
    &parsed[i]
}

/// origin, title, published, author, category names.
type Expected = (&'static str, &'static str, &'static str, Option<&'static str>, &'static [&'static str]);

/// The example articles, read off the files of examples/articles by hand.
const EXAMPLE: &[Expected] = &[
    ("json/ho-thac-ba-mua-he-don-khach.json", "Hồ Thác Bà mùa hè nhộn nhịp du khách", "2026-07-10T19:00:00+07:00", Some("Thanh Hà"), &["Du lịch", "Văn hóa - Xã hội"]),
    ("json/san-pham-ocop-vung-cao-vao-sieu-thi.json", "Sản phẩm OCOP vùng cao tìm đường vào siêu thị và sàn thương mại điện tử", "2025-11-08T15:30:00+07:00", Some("Ngọc Anh"), &["Kinh tế"]),
    ("json/tram-y-te-xa-kham-chua-benh-tu-xa.json", "Trạm y tế xã vùng cao kết nối khám chữa bệnh từ xa", "2026-01-20T10:00:00+07:00", Some("Phạm Hoa"), &["Y tế"]),
    ("markdown/du-lich/mu-cang-chai-vao-mua-vang.md", "Mù Cang Chải vào mùa vàng, du khách tăng mạnh", "2025-09-20T07:45:00+07:00", Some("Thanh Hà"), &["Du lịch", "Văn hóa - Xã hội"]),
    ("markdown/giao-duc/truong-vung-cao-san-sang-nam-hoc-moi.md", "Trường vùng cao sẵn sàng cho năm học mới 2026 - 2027", "2026-08-25T08:00:00+07:00", Some("Hồng Duyên"), &["Giáo dục - Đào tạo"]),
    ("markdown/kinh-te/cai-tao-quoc-lo-32-qua-deo-khau-pha.md", "Cải tạo Quốc lộ 32 qua đèo Khau Phạ trước mùa mưa lũ", "2026-05-02T14:00:00+07:00", Some("Đức Toàn"), &["Kinh tế", "Du lịch"]),
    ("markdown/nong-nghiep/que-van-yen-vao-vu-thu-hoach.md", "Người trồng quế Văn Yên phấn khởi vào vụ bóc vỏ đầu năm", "2026-03-14T09:30:00+07:00", Some("Minh Thúy"), &["Nông nghiệp - Nông thôn", "Kinh tế"]),
    ("markdown/van-hoa/khai-mac-tuan-van-hoa-muong-lo-2027.md", "Khai mạc Tuần Văn hóa - Du lịch Mường Lò năm 2027", "2027-06-01T08:00:00+07:00", Some("Thanh Hà"), &["Văn hóa - Xã hội"]),
    ("portal/yenbai-ky-thi-tot-nghiep-thpt-2025-06-12.txt", "Yên Bái sẵn sàng cho Kỳ thi tốt nghiệp THPT năm 2025", "2025-06-12T10:15:00+07:00", Some("Cổng TTĐT tỉnh Yên Bái"), &[]),
    ("portal/yenbai-mu-cang-chai-tet-at-ty-2025-02-03.txt", "Mù Cang Chải đón hơn 28.000 lượt khách dịp Tết Ất Tỵ", "2025-02-03T16:20:00+07:00", Some("Báo Yên Bái"), &[]),
    ("portal/yenbai-nghia-lo-2020-02-21.txt", "Nghĩa Lộ: Hiệu quả từ những quyết sách lớn", "2020-02-21T08:56:00+07:00", Some("Báo Yên Bái"), &[]),
    ("portal/yenbai-tran-yen-tiem-vac-xin-soi-2025-04-22.txt", "Trấn Yên: Hơn 3.000 trẻ em được tiêm vắc xin phòng sởi", "2025-04-22T14:47:30+07:00", Some("Báo Yên Bái"), &[]),
    ("portal/yenbai-van-chan-che-shan-tuyet-2025-03-18.txt", "Văn Chấn: Nâng cao giá trị cây chè Shan tuyết", "2025-03-18T09:05:00+07:00", Some("Cổng TTĐT tỉnh Yên Bái"), &[]),
];
const DRAFT: &str = "markdown/giao-duc/truong-vung-cao-san-sang-nam-hoc-moi.md";
const FUTURE: &str = "markdown/van-hoa/khai-mac-tuan-van-hoa-muong-lo-2027.md";

#[test]
fn example_store_feeds_read_back_field_by_field() {
    let catalog = load(&example_store());
    assert!(catalog.errors().is_empty(), "{:?}", catalog.errors());
    assert_eq!(catalog.articles().len(), 13, "examples/articles/README.md: 13 articles");
    for (origin, title, date, author, cats) in EXAMPLE {
        let a = catalog
            .articles()
            .iter()
            .find(|a| a.origin() == *origin)
            .unwrap_or_else(|| panic!("{origin} missing"));
        assert_eq!(a.title(), *title, "{origin}");
        assert_eq!(a.published, DateTime::parse_from_rfc3339(date).unwrap(), "{origin}");
        assert_eq!(a.published.to_rfc3339(), *date, "{origin}: shown in the site's zone");
        assert_eq!(a.author.as_deref(), *author, "{origin}");
        let names: Vec<&str> = a.categories.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, *cats, "{origin}");
        assert_eq!(a.draft, *origin == DRAFT, "{origin}");
    }

    let fs = feed_settings();
    let (rendered, parsed) = check_all(&catalog, &fs);
    let paths: Vec<String> = rendered.iter().map(|r| r.feed.path()).collect();
    let mut cats: Vec<&str> = paths.iter().filter_map(|p| p.strip_prefix("categories/")).filter_map(|p| p.strip_suffix("/atom.xml")).collect();
    cats.sort();
    // giao-duc holds only the draft: it has no feed.
    assert_eq!(cats, ["du-lich", "kinh-te", "nong-nghiep-nong-thon", "van-hoa-xa-hoi", "y-te"]);
    assert_eq!(rendered.len(), 18);

    for format in Format::ALL {
        let p = site(&rendered, &parsed, format);
        assert_eq!(p.items.len(), 11, "{format:?}: 11 of 13 articles are published at {NOW}");
        let titles: HashSet<&str> = p.items.iter().map(|i| i.title.as_str()).collect();
        for (origin, title, ..) in EXAMPLE {
            assert_eq!(titles.contains(title), *origin != DRAFT && *origin != FUTURE, "{format:?}: {origin}");
        }
    }
    // Neither the draft nor the future article is in any feed, by any field.
    for hidden in [DRAFT, FUTURE] {
        let a = catalog
            .articles()
            .iter()
            .find(|a| a.origin() == hidden)
            .unwrap();
        for r in &rendered {
            assert!(!r.text().contains(a.title()) && !r.text().contains(&*a.url()), "{}: shows {hidden}", r.feed.path());
        }
    }
    // The future article appears once its time has come.
    let later = DateTime::parse_from_rfc3339("2027-06-01T08:00:00+07:00").unwrap();
    let items = bantin::feeds::items(
        &bantin::feeds::FeedId::new(Scope::Site, Format::Atom),
        &catalog,
        &fs,
        later,
    );
    assert!(
        items.iter().any(|a| a.origin() == FUTURE) && !items.iter().any(|a| a.origin() == DRAFT)
    );

    // Relative links and images in bodies were made absolute.
    let road = catalog.articles().iter().find(|a| a.origin().contains("quoc-lo-32")).unwrap();
    assert!(road.content_html().contains("src=\"https://yenbai.gov.vn/images/mcc.jpg\""), "{}", road.content_html());
}

/// origin → (title as feeds show it, published), from tests/fixtures/tricky/README.md.
const TRICKY_OK: &[(&str, &str, &str)] = &[
    ("control-chars.md", "Ký tự điều khiển trong tiêu đề", "2026-02-10T08:00:00+07:00"),
    ("cdata.md", "Chuỗi ]]> và <![CDATA[ trong tiêu đề", "2026-02-11T08:00:00+07:00"),
    ("markup-title.md", "Tăng trưởng <5% & a<b>c \"quoted\"", "2026-02-12T08:00:00+07:00"),
    ("nfd.md", "Văn hóa Thái ở Mường Lò được gìn giữ", "2026-02-13T08:00:00+07:00"),
    ("emoji.json", "Nông dân 👩‍🌾 vui mùa vàng 🇻🇳", "2026-02-14T08:00:00+07:00"),
    ("dup-title-1.txt", "Hội nghị triển khai nhiệm vụ năm 2026", "2026-02-16T07:30:00+07:00"),
    ("dup-title-2.txt", "Hội nghị triển khai nhiệm vụ năm 2026", "2026-02-17T15:10:00+07:00"),
    ("crlf.txt", "Trồng rừng đầu xuân năm 2026", "2026-02-18T09:00:00+07:00"),
    ("local-date.md", "Giờ địa phương không kèm múi giờ", "2026-01-15T08:30:00+07:00"),
];

/// Tag and author feeds (issue 21) read back with both parsers and hold
/// the newest visible articles of their tag or author, titled by its name.
#[test]
fn tag_and_author_feeds_of_the_example_store_read_back() {
    let catalog = load(&example_store());
    let fs = bantin::feeds::FeedSettings { tags: true, authors: true, ..feed_settings() };
    let (rendered, parsed) = check_all(&catalog, &fs);
    let count = |prefix: &str| rendered.iter().filter(|r| r.feed.path().starts_with(prefix)).count();
    assert_eq!(count("tags/"), 3 * catalog.tags(now()).len());
    assert_eq!(count("authors/"), 3 * catalog.authors(now()).len());
    assert!(count("tags/") >= 3 * 5 && count("authors/") >= 3 * 3, "the example store has tags and authors");
    let (r, p) = rendered
        .iter()
        .zip(&parsed)
        .find(|(r, _)| r.feed.path() == "authors/thanh-ha/feed.xml")
        .expect("Thanh Hà's feed");
    assert!(p.title.ends_with("– Thanh Hà"), "{}: {:?}", r.feed.path(), p.title);
    assert!(!p.items.is_empty());
}

#[test]
fn tricky_store_feeds_are_well_formed_and_exact() {
    let catalog = load(&tricky_store());
    let by_origin: HashMap<&str, &bantin::Article> = catalog
        .articles()
        .iter()
        .map(|a| (a.origin(), &**a))
        .collect();
    assert_eq!(catalog.articles().len(), 9, "{:?}", by_origin.keys());
    for (origin, title, date) in TRICKY_OK {
        let a = by_origin.get(origin).unwrap_or_else(|| panic!("{origin} not parsed"));
        assert_eq!(a.title(), *title, "{origin}");
        assert_eq!(a.published, DateTime::parse_from_rfc3339(date).unwrap(), "{origin}");
    }
    let src = |o: &str| by_origin[o].author.clone();
    assert_eq!(src("dup-title-1.txt").as_deref(), Some("Báo Yên Bái"));
    assert_eq!(src("dup-title-2.txt").as_deref(), Some("Cổng TTĐT tỉnh Yên Bái"));
    assert_eq!(src("crlf.txt").as_deref(), Some("Báo Yên Bái"), "no \\r in the source");
    let emoji = by_origin["emoji.json"];
    assert_eq!(emoji.summary(), "Lúa chín 🌾 khắp bản, cờ 🇻🇳 tung bay");
    assert!(emoji.content_html().contains("👨‍👩‍👧‍👦") && emoji.content_html().contains("𝐀"));
    let nfd = by_origin["nfd.md"];
    assert_eq!(nfd.categories.iter().map(|c| (c.slug.as_str(), c.name.as_str())).collect::<Vec<_>>(), [("van-hoa-xa-hoi", "Văn hóa - Xã hội")]);
    assert_eq!(nfd.tags(), ["Xòe Thái", "Mường Lò"]);
    for a in catalog.articles() {
        for (field, s) in [
            ("title", &a.title().to_string()),
            ("summary", &a.summary().to_string()),
            ("content", &a.content_html().to_string()),
        ] {
            assert!(
                !s.chars().any(forbidden),
                "{}: {field} keeps a forbidden character",
                a.origin()
            );
            assert!(!s.contains('\r'), "{}: {field} keeps a CR", a.origin());
            use unicode_normalization::UnicodeNormalization;
            assert_eq!(**s, s.nfc().collect::<String>(), "{}: {field} is not NFC", a.origin());
        }
    }
    let (d1, d2) = (by_origin["dup-title-1.txt"], by_origin["dup-title-2.txt"]);
    assert_ne!(d1.id(), d2.id());
    assert_ne!(d1.url(), d2.url(), "the same title must not give two articles one URL");

    // The six reported files: path, line where the README expects one, reason.
    let errors: HashMap<&str, &bantin::ArticleError> = catalog.errors().iter().map(|e| (e.origin.as_str(), e)).collect();
    assert_eq!(errors.len(), 6, "{:#?}", catalog.errors());
    let expect = |origin: &str, lines: &[usize], words: &[&str]| {
        let e = errors.get(origin).unwrap_or_else(|| panic!("{origin} not reported"));
        if !lines.is_empty() {
            assert!(e.line.is_some_and(|l| lines.contains(&l)), "{origin}: line {:?}, want one of {lines:?}: {e}", e.line);
        }
        let text = e.to_string();
        assert!(text.starts_with(origin), "{text}");
        for w in words {
            assert!(text.to_lowercase().contains(&w.to_lowercase()), "{origin}: {text:?} lacks {w:?}");
        }
    };
    expect("no-date.md", &[], &["date"]);
    expect("no-title.txt", &[], &["title"]);
    expect("broken-front-matter.md", &[3], &["TOML"]);
    expect("broken-yaml.md", &[4, 5], &["YAML"]);
    expect("latin1.txt", &[2], &["UTF-8"]);
    expect("bad-json.json", &[4], &["JSON"]);
    assert!(errors["broken-front-matter.md"].to_string().starts_with("broken-front-matter.md:3: "));

    let fs = feed_settings();
    let (rendered, parsed) = check_all(&catalog, &fs);
    for format in Format::ALL {
        let p = site(&rendered, &parsed, format);
        let titles: Vec<&str> = p.items.iter().map(|i| i.title.as_str()).collect();
        for (origin, title, _) in TRICKY_OK {
            assert!(titles.contains(title), "{format:?}: {origin}: {title:?} not in {titles:?}");
        }
        let dups: HashSet<&str> = p.items.iter().filter(|i| i.title.starts_with("Hội nghị")).map(|i| i.id.as_str()).collect();
        assert_eq!(dups.len(), 2, "{format:?}: the duplicate titles keep two ids");
        let cdata = p.items.iter().find(|i| i.title.starts_with("Chuỗi")).unwrap();
        assert!(cdata.summary.contains("]]>]]>"), "{format:?}: {:?}", cdata.summary);
    }
    // No raw forbidden character or stray CR in any output byte.
    for r in &rendered {
        assert!(!r.text().chars().any(|c| forbidden(c) || c == '\r'), "{}", r.feed.path());
    }
}

/// What the manifest promises for every corpus article, checked in the
/// catalog and in the site feeds rendered with room for every article.
fn check_corpus(format: &'static str) {
    let corpus = corpus(format, 1000);
    let catalog = load(&corpus.dir);
    assert!(catalog.errors().is_empty(), "{:#?}", &catalog.errors()[..catalog.errors().len().min(5)]);
    assert_eq!(catalog.articles().len(), 1000);
    let by_origin: HashMap<&str, &bantin::Article> = catalog
        .articles()
        .iter()
        .map(|a| (a.origin(), &**a))
        .collect();
    for row in &corpus.rows {
        let at = format!("{format} #{} ({:?})", row.index, row.tricky);
        let a = by_origin.get(row.file.as_str()).unwrap_or_else(|| panic!("{at}: {} not read", row.file));
        assert_eq!(a.title(), cleaned_line(&row.title), "{at}: title");
        assert_eq!(
            a.published,
            DateTime::parse_from_rfc3339(&row.date).unwrap(),
            "{at}: date"
        );
        assert_eq!(a.summary(), cleaned_line(&row.summary), "{at}: summary");
        if format == "markdown" {
            let want: Vec<String> = row.categories.iter().map(|c| cleaned_line(c)).collect();
            let got: Vec<&str> = a.categories.iter().map(|c| c.name.as_str()).collect();
            assert_eq!(got, want, "{at}: categories");
            assert_eq!(*a.id(), *row.slug, "{at}: the front-matter slug is the identity");
        }
    }

    // Default settings: every feed holds min(feeds.items, visible) items,
    // or fewer where feeds.max_bytes leaves the oldest out.
    let fs = feed_settings();
    check_all(&catalog, &fs);

    // Room for everything (site feeds only; the categories were checked
    // above; no byte budget either): every article once, with the
    // manifest's title and date.
    let mut all = fs.clone();
    all.items = 10_000;
    all.max_bytes = usize::MAX;
    let rendered = render_site(&catalog, &all, now());
    let parsed: Vec<Parsed> = rendered.iter().map(|r| check_feed(r, &catalog, &all, now())).collect();
    ids_by_link(&rendered, &parsed);
    for format in Format::ALL {
        let p = site(&rendered, &parsed, format);
        let mut by_title_date: HashMap<(String, i64), usize> = HashMap::new();
        for it in &p.items {
            *by_title_date.entry((it.title.clone(), it.published.unwrap().timestamp())).or_default() += 1;
        }
        assert_eq!(p.items.len(), 1000, "{format:?}");
        let mut want: HashMap<(String, i64), usize> = HashMap::new();
        for row in &corpus.rows {
            *want.entry((cleaned_line(&row.title), DateTime::parse_from_rfc3339(&row.date).unwrap().timestamp())).or_default() += 1;
        }
        assert_eq!(by_title_date, want, "{format:?}: site feed vs manifest");
    }
}

#[test]
fn corpus_of_1000_markdown_articles_matches_its_manifest() {
    check_corpus("markdown");
}

#[test]
fn corpus_of_1000_portal_articles_matches_its_manifest() {
    check_corpus("portal");
}

#[test]
fn ids_are_stable_across_loads_and_edits() {
    let fs = feed_settings();
    let ids_of = |catalog: &Catalog| {
        let rendered = render_all(catalog, &fs, now());
        let parsed: Vec<Parsed> = rendered.iter().map(|r| read_strict(&r.feed.path(), r.feed.format, &r.bytes)).collect();
        let by_link = ids_by_link(&rendered, &parsed);
        let by_origin: HashMap<String, String> = catalog
            .articles()
            .iter()
            .filter_map(|a| {
                by_link
                    .get(&*a.url())
                    .map(|id| (a.origin().to_string(), id.clone()))
            })
            .collect();
        (rendered, parsed, by_origin)
    };

    // Two loads of the same store: the same bytes, hence the same ids.
    let (r1, _, ids1) = ids_of(&load(&example_store()));
    let (r2, _, ids2) = ids_of(&load(&example_store()));
    assert_eq!(ids1, ids2);
    assert_eq!(ids1.len(), 11);
    for (a, b) in r1.iter().zip(&r2) {
        assert!(a.bytes == b.bytes, "{}: two loads render different bytes", a.feed.path());
    }

    // Edit titles and bodies in a copy: one article per format, with and without a slug.
    let tmp = tempfile::tempdir().unwrap();
    copy_tree(&example_store(), tmp.path());
    let edits = [
        ("portal/yenbai-nghia-lo-2020-02-21.txt", "Nghĩa Lộ: Hiệu quả từ những quyết sách lớn", "Nghĩa Lộ: Tiêu đề đã sửa"),
        ("markdown/nong-nghiep/que-van-yen-vao-vu-thu-hoach.md", "Người trồng quế Văn Yên phấn khởi", "Tiêu đề mới về quế Văn Yên"),
        ("markdown/du-lich/mu-cang-chai-vao-mua-vang.md", "Mù Cang Chải vào mùa vàng", "Mù Cang Chải: tiêu đề sửa"),
        ("json/tram-y-te-xa-kham-chua-benh-tu-xa.json", "Trạm y tế xã vùng cao", "Trạm y tế (đã sửa)"),
    ];
    for (origin, old, new) in edits {
        let path = tmp.path().join(origin);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(old), "{origin}");
        // A new title, and a body sentence changed too.
        let text = text.replacen(old, new, 1).replacen("Yên Bái", "Yên Bái (sửa)", 1);
        std::fs::write(&path, text).unwrap();
    }
    let edited = load(tmp.path());
    let (r3, p3, ids3) = ids_of(&edited);
    assert_eq!(ids3, ids1, "an edit of title or body changed an id");
    let site_atom = r3.iter().position(|r| r.feed.scope == Scope::Site && r.feed.format == Format::Atom).unwrap();
    for (origin, _, new) in edits {
        let a = edited
            .articles()
            .iter()
            .find(|a| a.origin() == origin)
            .unwrap();
        assert!(a.title().starts_with(new), "{origin}: {}", a.title());
        let it = p3[site_atom].items.iter().find(|i| i.id == ids1[origin]).unwrap();
        assert_eq!(&*it.title, a.title(), "{origin}: the same id carries the new title");
    }
    // `updated` comes from the articles (front matter), never from the clock
    // or file times: a reload after the edit leaves every entry's as it was.
    let (_, p1, _) = ids_of(&load(&example_store()));
    let updated = |p: &Parsed| -> HashMap<String, Option<chrono::DateTime<chrono::FixedOffset>>> {
        p.items.iter().map(|i| (i.id.clone(), i.updated)).collect()
    };
    let (u1, u3) = (updated(&p1[site_atom]), updated(&p3[site_atom]));
    assert_eq!(u1, u3, "no article's updated moved");
}

#[test]
fn summary_mode_few_items_and_a_websub_hub() {
    let catalog = load(&example_store());
    let mut fs = feed_settings();
    fs.content = bantin::config::ContentMode::Summary;
    fs.items = 3;
    let hub = "https://pubsubhubbub.appspot.com/";
    fs.websub_hub = Some(url::Url::parse(hub).unwrap());
    let (rendered, parsed) = check_all(&catalog, &fs);
    for (r, p) in rendered.iter().zip(&parsed) {
        let what = r.feed.path();
        assert!(p.items.len() <= 3 && !p.items.is_empty(), "{what}");
        assert!(p.items.iter().all(|i| i.content.is_none()), "{what}: no full content in summary mode");
        match r.feed.format {
            Format::Rss | Format::Atom => {
                let doc = strict_xml(&what, r.text());
                let hubs: Vec<_> = doc
                    .descendants()
                    .filter(|n| n.tag_name().name() == "link" && n.attribute("rel") == Some("hub"))
                    .map(|n| n.attribute("href").unwrap_or_default().to_string())
                    .collect();
                assert_eq!(hubs, [hub], "{what}: rel=hub");
                assert!(!r.text().contains("content:encoded") && !r.text().contains("<content"), "{what}");
            }
            Format::Json => {
                let v: serde_json::Value = serde_json::from_slice(&r.bytes).unwrap();
                assert_eq!(v["hubs"], serde_json::json!([{"type": "WebSub", "url": hub}]), "{what}");
                for (item, it) in v["items"].as_array().unwrap().iter().zip(&p.items) {
                    assert_eq!(item["content_text"].as_str(), Some(it.summary.as_str()), "{what}: content_text is the summary");
                    assert!(item.get("content_html").is_none(), "{what}");
                }
            }
        }
    }
    assert_eq!(site(&rendered, &parsed, Format::Atom).items.len(), 3);
}
