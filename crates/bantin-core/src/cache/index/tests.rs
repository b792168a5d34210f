//! The index page's unit tests: the template, what it shows, when it is
//! made again, its two languages.

use super::*;
use crate::cache::refresh;
use std::sync::Arc;

fn feed_settings() -> FeedSettings {
    let url = url::Url::parse("https://yenbai.gov.vn/").unwrap();
    FeedSettings {
        site_title: "Cổng <thông tin>".into(),
        description: "Tin tức".into(),
        language: "vi".into(),
        base_url: url.clone(),
        public_url: url,
        content: crate::config::ContentMode::Full,
        items: 50,
        websub_hub: None,
        icon: None,
        logo: None,
        browser_view: true,
        max_bytes: 2_000_000,
        tags: false,
        authors: false,
        news_sitemap: false,
        timezone: chrono_tz::Asia::Ho_Chi_Minh,
        templates: Templates::shared_builtin(),
    }
}

#[test]
fn the_index_page_is_the_template_of_the_settings() {
    let now = DateTime::UNIX_EPOCH.fixed_offset();
    let over = |source: &'static str| {
        let t = Templates::build(|name| Ok((name == "index.html").then(|| source.to_string()))).unwrap();
        feed_settings().with_templates(Arc::new(t))
    };
    let catalog = Catalog::default();
    let own = over("{{ site_title }} {% for f in site.feeds %}{{ f.href }} {% endfor %}{{ subscribe_url }}\n");
    let (cache, _) = refresh(None, &catalog, &own, now);
    let page = cache.index().and_then(|e| e.identity()).map(|r| r.bytes.to_vec()).unwrap();
    assert_eq!(
        String::from_utf8(page).unwrap(),
        "Cổng &lt;thông tin&gt; https://yenbai.gov.vn/feed.xml https://yenbai.gov.vn/atom.xml \
         https://yenbai.gov.vn/feed.json https://yenbai.gov.vn/subscribe\n"
    );
    // An override that fails as it renders: the built-in page is served.
    let broken = over("{{ no_such_value }}");
    assert!(index_page(&catalog, &broken, now, false).is_err());
    let (cache, _) = refresh(None, &catalog, &broken, now);
    let page = cache.index().and_then(|e| e.identity()).map(|r| r.bytes.to_vec()).unwrap();
    assert_eq!(page, index_page(&catalog, &feed_settings(), now, false).unwrap().into_bytes());
}

/// Article `n` of category `cat`, published `n` hours after a fixed
/// time, with `body` as its text.
fn article(n: u32, cat: &str, body: &str) -> crate::article::Article {
    let ctx = crate::store::Context::new(chrono_tz::Asia::Ho_Chi_Minh, url::Url::parse("https://yenbai.gov.vn/").unwrap(), "tin-tuc/{slug}");
    let text = format!(
        "+++\ntitle = \"Tin số {n}\"\ndate = \"2026-11-01T{:02}:00:00+07:00\"\ncategories = [\"{cat}\"]\nimage = \"https://yenbai.gov.vn/anh/{n}.jpg\"\n+++\n\n{body}\n",
        n % 24
    );
    crate::store::parse_bytes(text.as_bytes(), &format!("tin/{n}.md"), &ctx).unwrap()
}

fn page_of(cache: &crate::cache::FeedCache) -> (String, String) {
    let e = cache.index().unwrap();
    (e.hash.clone(), String::from_utf8(e.identity().unwrap().bytes.to_vec()).unwrap())
}

#[test]
fn the_index_shows_the_newest_articles_and_each_categorys_newest_in_the_site_timezone() {
    let now = DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z").unwrap();
    let articles: Vec<_> = (0..20).map(|n| article(n, if n % 2 == 0 { "Kinh tế" } else { "Du lịch" }, &format!("Tóm tắt {n}."))).collect();
    let catalog = Catalog::new(articles, Vec::new(), &crate::store::Context::new(chrono_tz::Asia::Ho_Chi_Minh, url::Url::parse("https://yenbai.gov.vn/").unwrap(), "tin-tuc/{slug}"), 1);
    let page = index_page(&catalog, &feed_settings(), now, false).unwrap();
    let latest = &page[page.find("id=\"moi-nhat\"").unwrap()..page.find("id=\"chuyen-muc\"").unwrap()];
    assert_eq!(latest.matches("<li class=\"card\">").count(), LATEST, "{latest}");
    assert!(latest.find(">Tin số 19<").unwrap() < latest.find(">Tin số 18<").unwrap(), "newest first");
    assert!(!latest.contains(">Tin số 7<"), "only the newest {LATEST}");
    // 19:00+07:00 in Asia/Ho_Chi_Minh, written as the portal writes dates.
    assert!(latest.contains("<time datetime=\"2026-11-01T19:00:00+07:00\">01/11/2026 19:00</time>"), "{latest}");
    assert!(latest.contains("<img src=\"https://yenbai.gov.vn/anh/19.jpg\" alt=\"\" width=\"400\" height=\"225\""), "{latest}");
    assert!(latest.contains("<span class=\"cat\">Du lịch</span>") && latest.contains("<p>Tóm tắt 19.</p>"), "{latest}");
    let section = &page[page.find("id=\"cm-kinh-te\"").unwrap()..];
    let section = &section[..section.find("</section>").unwrap()];
    assert_eq!(section.matches("<li>").count(), PER_CATEGORY, "{section}");
    assert!(section.contains(">Tin số 18<") && !section.contains(">Tin số 19<"), "{section}");
}

/// The page is made again only when what it shows changes: an edit of
/// an old article it does not list keeps the page (and its ETag) without
/// a render; a new article changes it.
#[test]
fn an_edit_the_index_does_not_show_keeps_its_etag_and_a_new_article_changes_it() {
    let now = DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z").unwrap();
    let ctx = crate::store::Context::new(chrono_tz::Asia::Ho_Chi_Minh, url::Url::parse("https://yenbai.gov.vn/").unwrap(), "tin-tuc/{slug}");
    let catalog = |edited: &str, extra: bool| {
        let mut articles: Vec<_> = (0..20).map(|n| article(n, "Kinh tế", &format!("Tóm tắt {n}."))).collect();
        articles[0] = article(0, "Kinh tế", edited);
        if extra {
            articles.push(article(23, "Kinh tế", "Tin mới."));
        }
        Catalog::new(articles, Vec::new(), &ctx, 1)
    };
    let settings = feed_settings();
    let (first, _) = refresh(None, &catalog("Tóm tắt 0.", false), &settings, now);
    let (edited, _) = refresh(Some(&first), &catalog("Bản sửa của tin cũ.", false), &settings, now);
    assert_eq!(page_of(&edited).0, page_of(&first).0);
    assert!(Arc::ptr_eq(first.index().unwrap(), edited.index().unwrap()), "the page was made again");
    let (newer, _) = refresh(Some(&edited), &catalog("Bản sửa của tin cũ.", true), &settings, now);
    let (hash, page) = page_of(&newer);
    assert_ne!(hash, page_of(&edited).0);
    assert!(page.contains(">Tin số 23<"), "{page}");
}

#[test]
fn the_index_is_cached_in_vietnamese_and_english_and_varies_by_accept_language() {
    let now = DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z").unwrap();
    let ctx = crate::store::Context::new(chrono_tz::Asia::Ho_Chi_Minh, url::Url::parse("https://yenbai.gov.vn/").unwrap(), "tin-tuc/{slug}");
    let catalog = Catalog::new(vec![article(7, "Kinh tế", "Tóm tắt.")], Vec::new(), &ctx, 1);
    let (cache, _) = refresh(None, &catalog, &feed_settings(), now);
    let text = |e: &Arc<Entry>| String::from_utf8(e.identity().unwrap().bytes.to_vec()).unwrap();
    let (vi, en) = (cache.document_in("/", false, false).unwrap(), cache.document_in("/", false, true).unwrap());
    assert!(text(vi).contains("<html lang=\"vi\">") && text(vi).contains(">Tin mới nhất</h2>"));
    assert!(text(en).contains("<html lang=\"en\">") && text(en).contains(">Latest news</h2>"));
    assert!(text(en).contains(">1 Nov 2026, 07:00</time>"), "{}", text(en));
    assert_ne!(vi.hash, en.hash);
    for e in [vi, en] {
        assert_eq!(e.vary, "Accept-Encoding, Accept-Language");
    }
    assert!(Arc::ptr_eq(cache.index().unwrap(), vi) && Arc::ptr_eq(cache.document("/", false).unwrap(), vi));
}
