//! A digest's polish with the real templates: the guard against Gmail's
//! clipping (`mail::clip`: a digest of 200 articles with long titles,
//! long summaries and images stays under 102 KB of HTML, measured and
//! printed, showing the most it can in full and the rest as title links;
//! one that fits is untouched; the per-subscriber render and the shared
//! shape's alike), the preheader, thumbnails, dark-mode colours, the "view
//! in browser" link (only with `digest.archive`), and the digest in
//! Vietnamese and in English (`site.language`), snapshotted.

use crate::support::mailtest::{self, fixed_now as now};
use bantin::digest::plan::{self, Mode, PlanSettings};
use bantin::mail::clip::{BUDGET, GMAIL_CLIP};
use bantin::mail::Composer;
use bantin::state::{Frequency, Status, Subscriber};
use bantin::tokens::TokenKey;
use std::collections::HashMap;

/// A store of `n` articles, each with a ~100-character title, a summary
/// of ~600 characters (the digest cuts it to 300) and an image.
fn store(dir: &std::path::Path, n: usize) -> std::path::PathBuf {
    let root = dir.join("articles");
    std::fs::create_dir_all(&root).unwrap();
    let summary = "Người dân vùng cao Yên Bái phấn khởi đón mùa thu hoạch với nhiều mô hình sản xuất mới, liên kết chuỗi giá trị và ứng dụng khoa học kỹ thuật. ".repeat(4);
    for i in 0..n {
        let text = format!(
            "---\ntitle: \"Bài số {i}: Tỉnh Yên Bái đẩy mạnh chuyển đổi số trong nông nghiệp, du lịch và chăm sóc sức khỏe người dân vùng cao\"\ndate: 2026-08-{day:02} {hour:02}:{min:02}\ndescription: \"{summary}\"\ncategories: [\"Kinh tế\"]\nimage: \"/images/bai-{i}.jpg\"\nslug: bai-so-{i}\n---\n\nNội dung bài {i}.\n",
            day = 20 + i % 10,
            hour = i % 24,
            min = i % 60,
        );
        std::fs::write(root.join(format!("bai-{i}.md")), text).unwrap();
    }
    root
}

fn reader() -> Subscriber {
    Subscriber {
        id: 7,
        email: "doc.gia@example.vn".into(),
        topics: vec![],
        frequency: Frequency::Daily,
        status: Status::Active,
        created_at: "2026-01-01T00:00:00Z".parse().unwrap(),
        confirmed_at: Some("2026-01-01T00:00:00Z".parse().unwrap()),
        bounce_count: 0,
        last_period: None,
        last_digest_at: None,
        last_bounce_reason: None,
        last_bounce_at: None,
    }
}

struct Digest {
    _dir: tempfile::TempDir,
    catalog: bantin::Catalog,
    composer: Composer,
    plan: plan::PlannedDigest,
}

fn digest_of(n: usize) -> Digest {
    let dir = tempfile::tempdir().unwrap();
    let root = store(dir.path(), n);
    digest_in(dir, &root, "", "", &[])
}

/// The digest of `reader` with `topics` of the store at `root`, with
/// `site` added to [site] and `digest` to [digest].
fn digest_in(dir: tempfile::TempDir, root: &std::path::Path, site: &str, digest: &str, topics: &[&str]) -> Digest {
    let cfg = mailtest::write_config(dir.path(), root, "smtp://127.0.0.1:1", "https://bantin.yenbai.gov.vn/", "");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, text.replace("[site]\n", &format!("[site]\n{site}\n")).replace("[digest]\n", &format!("[digest]\n{digest}\n"))).unwrap();
    let settings = mailtest::load(&cfg);
    let catalog = bantin::store::load_catalog(&settings, 1).unwrap();
    let composer = Composer::new(&settings, TokenKey::from_bytes(&[3; 32])).unwrap();
    let mut s = PlanSettings::from_settings(&settings);
    s.max_items = catalog.len();
    let mut sub = reader();
    sub.topics = topics.iter().map(|t| t.to_string()).collect();
    let mut plans = plan::plan(&[sub], catalog.articles(), &HashMap::new(), &s, now(), Mode::Scheduled);
    let plan = plans.remove(0);
    assert!(!plan.articles.is_empty());
    Digest { _dir: dir, catalog, composer, plan }
}

/// Articles shown in full (each has one "Đọc tiếp »"), and the title links.
fn shown(html: &str) -> (usize, usize) {
    let full = html.matches("Đọc tiếp »").count();
    let links = html.split("bài khác:</td>").nth(1).map_or(0, |rest| rest.split("</td>").next().unwrap_or("").matches("<div style=\"padding:3px 0;\">").count());
    (full, links)
}

#[test]
fn a_digest_of_200_articles_stays_under_gmails_clipping_limit() {
    let d = digest_of(200);
    assert_eq!(d.plan.articles.len(), 200);
    let r = d.composer.render_digest(&d.plan, &d.catalog).unwrap();
    let (full, links) = shown(&r.html);
    println!("digest of 200 articles: HTML {} bytes ({full} in full, {links} as title links; Gmail clips at {GMAIL_CLIP})", r.html.len());
    assert!(r.html.len() <= BUDGET, "{} bytes", r.html.len());
    assert!((10..200).contains(&full), "{full} in full");
    assert_eq!(full + links, 200, "every article is in the mail, in full or as a link");
    assert!(r.html.contains(&format!("Và {links} bài khác:")), "the rest announced");
    assert!(r.html.contains("href=\"https://yenbai.gov.vn/tin-tuc/bai-so-199\""), "the oldest is linked");
    // The text part lists the same split.
    assert_eq!(r.text.matches("Đọc tiếp:").count(), full);
    // The unsubscribe link is inside what Gmail shows.
    assert!(r.html.contains("/unsubscribe/"));

    // The shared shape's message (how a digest run builds it) is as small.
    let shapes = bantin::mail::shape::Shapes::default();
    let message = d.composer.digest_in(&shapes, &d.plan, &d.catalog, now()).unwrap();
    let body = message.body().unwrap();
    let parsed = mailtest::parse(&body);
    let html = parsed.body_html(0).unwrap();
    println!("the same from its shape: HTML {} bytes, {} in full", html.len(), shown(&html).0);
    assert!(html.len() < GMAIL_CLIP);
    assert_eq!(shown(&html), (full, links));
}

#[test]
fn a_digest_that_fits_lists_every_article_in_full() {
    let d = digest_of(30);
    let r = d.composer.render_digest(&d.plan, &d.catalog).unwrap();
    println!("digest of 30 articles: HTML {} bytes", r.html.len());
    assert!(r.html.len() <= BUDGET);
    assert_eq!(shown(&r.html), (30, 0));
    assert!(!r.html.contains("bài khác"));
    // Each has its thumbnail: absolute URL, a fixed box, alt text.
    assert_eq!(r.html.matches("<img src=\"https://yenbai.gov.vn/images/bai-").count(), 30);
    assert_eq!(r.html.matches("width=\"120\" height=\"80\" alt=\"").count(), 30);
}

/// The example store's digest for a reader of two topics.
fn example(site: &str, digest: &str) -> Digest {
    digest_in(tempfile::tempdir().unwrap(), &mailtest::examples(), site, digest, &["kinh-te", "du-lich"])
}

#[test]
fn the_digest_has_a_hidden_preheader_thumbnails_dark_mode_and_its_archive_link() {
    let d = example("", "");
    let r = d.composer.render_digest(&d.plan, &d.catalog).unwrap();
    let html = &r.html;
    // The preheader: first in the body, hidden, the first titles, padded.
    let body = html.split("<body").nth(1).unwrap();
    let preheader = body.split("<div style=\"display:none;").nth(1).unwrap().split("</div>").next().unwrap();
    assert!(body.find("display:none").unwrap() < body.find("<table").unwrap(), "before anything shown");
    let first = bantin::text::escape_html(d.plan.articles[0].title());
    assert!(preheader.contains(&first) && preheader.contains("&zwnj;&nbsp;"), "{preheader}");
    assert!(preheader.contains("max-height:0") || body.contains("max-height:0;max-width:0;opacity:0;overflow:hidden"));
    // Thumbnails: absolute, sized, with alt text, in a box of their own size.
    let with_image = d.plan.articles.iter().filter(|a| bantin::feeds::media::image_of(a).is_some()).count();
    assert!(with_image > 0 && with_image < d.plan.articles.len(), "the example store has both");
    assert_eq!(html.matches("<img src=\"https://").count(), with_image);
    assert_eq!(html.matches("<td width=\"120\" height=\"80\"").count(), with_image, "the box keeps the place of a blocked image");
    assert!(!html.contains("alt=\"\""));
    // Dark mode: declared, and no text colour without a background of its own.
    assert!(html.contains("<meta name=\"color-scheme\" content=\"light dark\">") && html.contains("prefers-color-scheme: dark"));
    assert!(!html.contains("color:#ffffff;\"><a") && !html.contains("background:transparent"));
    // The period's archive page, filtered by the reader's topics, in both parts.
    let link = "https://bantin.yenbai.gov.vn/archive/daily/2026-08-31?topics=kinh-te,du-lich";
    assert!(html.contains(&format!("href=\"{link}\"")) && html.contains("Xem trên trình duyệt"), "{html}");
    assert!(r.text.contains(&format!("Xem trên trình duyệt: {link}")), "{}", r.text);

    let off = example("", "archive = false");
    let r = off.composer.render_digest(&off.plan, &off.catalog).unwrap();
    assert!(!r.html.contains("/archive/") && !r.text.contains("/archive/") && !r.html.contains("Xem trên trình duyệt"));
}

#[test]
fn digest_mail_in_vietnamese_and_english() {
    for (lang, site) in [("vi", ""), ("en", "language = \"en\"")] {
        let d = example(site, "");
        let r = d.composer.render_digest(&d.plan, &d.catalog).unwrap();
        insta::assert_snapshot!(format!("digest_{lang}_subject"), r.subject);
        insta::assert_snapshot!(format!("digest_{lang}_html"), r.html);
        insta::assert_snapshot!(format!("digest_{lang}_text"), r.text);
    }
}
