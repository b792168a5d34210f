//! Tag feeds and the OPML list from `serve::run` over a real store folder
//! (issue 21): every feed the OPML list names answers 200, and a tag whose
//! last article is edited away answers 404 afterwards, not a stale feed;
//! a tag feed a reader polls is rendered with the change that touches it;
//! the index page follows a change after its feeds.

use crate::support::harness::{body_of, get, headers_of, raw, status_of};
use crate::support::inproc::InProcess;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// GET `path` until `ok(status, body)` holds, or 60 s pass.
fn wait_for(addr: SocketAddr, path: &str, ok: impl Fn(u16, &str) -> bool) -> String {
    wait_until(path, || get(addr, path), |answer| ok(status_of(answer), body_of(answer)))
}

/// Asks `fetch` until its answer is `ok`, or 60 s pass (`what` names it).
fn wait_until(what: &str, fetch: impl Fn() -> String, ok: impl Fn(&str) -> bool) -> String {
    let started = Instant::now();
    loop {
        let answer = fetch();
        if ok(&answer) {
            return answer;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{what} did not answer as expected; last answer:\n{answer}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `serve::run` over a store folder holding the article with `tags`, with
/// the `[feeds]` lines `feeds`; the folder, the store and the service.
fn serve_article(tags: &str, feeds: &'static str) -> (tempfile::TempDir, std::path::PathBuf, InProcess) {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir(&store).unwrap();
    article(&store, tags);
    let service = InProcess::start(dir.path(), &store, move |_| format!("[feeds]\n{feeds}"));
    (dir, store, service)
}

/// GET `path` from `addr` accepting brotli (and gzip), the raw answer.
fn get_with_br(addr: SocketAddr, path: &str) -> String {
    let request = format!("GET {path} HTTP/1.1\r\nHost: t\r\nAccept-Encoding: br, gzip\r\nConnection: close\r\n\r\n");
    raw(addr, request.as_bytes(), Duration::from_secs(10))
}

fn article(store: &std::path::Path, tags: &str) {
    article_titled(store, "Lễ hội hoa sen", tags);
}

fn article_titled(store: &std::path::Path, title: &str, tags: &str) {
    let text = format!(
        "+++\ntitle = \"{title}\"\ndate = \"2024-05-02T08:00:00+07:00\"\ncategories = [\"Văn hóa\"]\ntags = [{tags}]\nauthor = \"Trần Thị Lan\"\n+++\n\nNội dung.\n"
    );
    std::fs::write(store.join("le-hoi.md"), text).unwrap();
}

#[test]
fn a_tag_edited_away_answers_404_and_the_opml_list_names_live_feeds() {
    let (_dir, store, service) = serve_article("\"Du lịch\", \"Nông thôn\"", "tags = true\nauthors = true\nnews_sitemap = true\n");
    let addr = service.addr;

    let opml = wait_for(addr, "/feeds.opml", |s, _| s == 200);
    let doc = roxmltree::Document::parse(body_of(&opml)).expect("the OPML list parses");
    let urls: Vec<&str> = doc.descendants().filter_map(|n| n.attribute("xmlUrl")).collect();
    assert_eq!(urls.len(), 1 + 1 + 2 + 1, "site, category, two tags, author: {urls:?}");
    for url in &urls {
        let path = url.strip_prefix("http://bantin.test").unwrap_or_else(|| panic!("{url} is not ours"));
        let answer = get(addr, path);
        assert_eq!(status_of(&answer), 200, "{path}:\n{answer}");
        assert!(body_of(&answer).contains("Lễ hội hoa sen"), "{path}");
    }
    assert_eq!(status_of(&get(addr, "/sitemap-news.xml")), 200);
    // Rendered on its first request (above); the next answers 304 to its ETag.
    let first = get(addr, "/tags/nong-thon/atom.xml");
    let etag = first.lines().find_map(|l| l.to_ascii_lowercase().starts_with("etag:").then(|| l[5..].trim().to_string())).expect("an ETag");
    let again = raw(
        addr,
        format!("GET /tags/nong-thon/atom.xml HTTP/1.1\r\nHost: t\r\nIf-None-Match: {etag}\r\nConnection: close\r\n\r\n").as_bytes(),
        Duration::from_secs(10),
    );
    assert_eq!(status_of(&again), 304, "{again}");
    assert!(first.to_ascii_lowercase().contains("vary: accept-encoding, sec-fetch-dest"), "{first}");

    // The tag is edited away in the store folder: its feeds go.
    article(&store, "\"Nông thôn\"");
    wait_for(addr, "/tags/du-lich/feed.xml", |s, _| s == 404);
    for path in ["/tags/du-lich/atom.xml", "/tags/du-lich/feed.json"] {
        assert_eq!(status_of(&get(addr, path)), 404, "{path}");
    }
    assert_eq!(status_of(&get(addr, "/tags/nong-thon/feed.xml")), 200);
    let opml = get(addr, "/feeds.opml");
    assert!(!body_of(&opml).contains("du-lich"), "the OPML list follows");

    let outcome = service.stop();
    assert!(outcome.is_ok(), "{outcome:?}");
}

/// A tag feed a reader polls is rendered by the refresh of the next change
/// that touches it, as the site's feeds are, so it also gets their brotli
/// form; one nobody asked for is rendered on its first request after the
/// change, and `br` clients get it gzipped (regression: every tag feed
/// waited for its first request after each change).
#[test]
fn a_polled_tag_feed_is_rendered_with_the_change_and_gets_its_brotli_form() {
    let (_dir, store, service) = serve_article("\"Du lịch\", \"Nông thôn\"", "tags = true\n");
    let addr = service.addr;
    let header = |answer: &str, name: &str| headers_of(answer, name).first().map(|v| v.to_string()).unwrap_or_default();

    let polled = "/tags/du-lich/feed.xml";
    let before = header(&wait_for(addr, polled, |s, _| s == 200), "etag");
    // An edit of the article's title: both tags' feeds change.
    article_titled(&store, "Lễ hội hoa sen Đồng Tháp", "\"Du lịch\", \"Nông thôn\"");
    wait_until(polled, || get_with_br(addr, polled), |answer| {
        let etag = header(answer, "etag");
        header(answer, "content-encoding") == "br" && etag.trim_end_matches("-br\"") != before.trim_end_matches('"')
    });
    let unpolled = get_with_br(addr, "/tags/nong-thon/feed.xml");
    assert_eq!(status_of(&unpolled), 200, "{unpolled}");
    assert_eq!(header(&unpolled, "content-encoding"), "gzip", "rendered on this request: no brotli form");

    let outcome = service.stop();
    assert!(outcome.is_ok(), "{outcome:?}");
}

/// The index page follows a change (made by the idle worker after the
/// feeds are out, no longer on the service core's thread), and gets its
/// brotli form like the feeds.
#[test]
fn the_index_page_follows_a_change_after_its_feeds() {
    let (_dir, store, service) = serve_article("\"Du lịch\"", "tags = true\n");
    let addr = service.addr;
    assert!(body_of(&wait_for(addr, "/", |s, _| s == 200)).contains("Lễ hội hoa sen"));
    std::fs::write(
        store.join("mua-vang.md"),
        "+++\ntitle = \"Mùa vàng Mù Cang Chải\"\ndate = \"2024-05-03T08:00:00+07:00\"\ncategories = [\"Du lịch\"]\n+++\n\nRuộng bậc thang.\n",
    )
    .unwrap();
    wait_for(addr, "/feed.xml", |_, body| body.contains("Mùa vàng Mù Cang Chải"));
    wait_for(addr, "/", |_, body| body.contains("Mùa vàng Mù Cang Chải"));
    wait_until("/ in brotli", || get_with_br(addr, "/"), |answer| headers_of(answer, "content-encoding").first().is_some_and(|v| *v == "br"));

    let outcome = service.stop();
    assert!(outcome.is_ok(), "{outcome:?}");
}
