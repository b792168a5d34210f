//! A feed URL opened in a browser (issue 21): with `feeds.browser_view`
//! (on by default) a top-level navigation (`Sec-Fetch-Dest: document`)
//! gets the feed's HTML preview, every other client the feed's bytes as
//! before; both answers say `Vary: Sec-Fetch-Dest`, have validators of
//! their own and answer 304 to their own. With `feeds.websub_hub`, feed
//! answers carry the `Link` headers of WebSub's discovery. Feeds (not
//! pages) may be read by any site's scripts (CORS `*`). Against
//! `serve::run` in-process, on both paths a request can take (the
//! connection's front, and hyper after a hand-over).

use crate::support::harness::{body_of, headers_of, raw, status_of};
use crate::support::inproc::InProcess;
use std::net::SocketAddr;
use std::time::Duration;

/// `bantin serve` on the example store with `extra` config, until dropped.
struct Running {
    service: InProcess,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for Running {
    type Target = InProcess;
    fn deref(&self) -> &InProcess {
        &self.service
    }
}

impl Running {
    fn start(extra: impl Fn(SocketAddr) -> String) -> Running {
        let dir = tempfile::tempdir().unwrap();
        let service = InProcess::start(dir.path(), &crate::support::common::example_store(), extra);
        Running { service, _dir: dir }
    }

    /// GET `path` with `headers` (each `Name: value`); `routed` pads the
    /// head past what the front reads in place, so hyper answers it.
    fn get(&self, path: &str, headers: &[&str], routed: bool) -> Answer {
        self.request("GET", path, headers, routed)
    }

    fn request(&self, method: &str, path: &str, headers: &[&str], routed: bool) -> Answer {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n");
        for h in headers {
            head.push_str(&format!("{h}\r\n"));
        }
        if routed {
            (0..40).for_each(|i| head.push_str(&format!("X-Pad-{i}: v\r\n")));
        }
        head.push_str("\r\n");
        Answer(raw(self.addr, head.as_bytes(), Duration::from_secs(10)))
    }
}

struct Answer(String);

impl Answer {
    fn status(&self) -> u16 {
        status_of(&self.0)
    }
    /// Every value of header `name`, in order.
    fn all(&self, name: &str) -> Vec<&str> {
        headers_of(&self.0, name)
    }
    fn one(&self, name: &str) -> &str {
        match self.all(name)[..] {
            [v] => v,
            ref other => panic!("{name}: {other:?} in\n{}", self.0),
        }
    }
    fn body(&self) -> &str {
        body_of(&self.0)
    }
}

const NAVIGATION: &str = "Sec-Fetch-Dest: document";

#[test]
fn a_browser_gets_the_preview_and_readers_the_feed() {
    let on = Running::start(|hub| format!("[feeds]\nwebsub_hub = \"http://{hub}/hub\"\n"));
    for routed in [false, true] {
        for path in ["/feed.xml", "/atom.xml", "/feed.json", "/categories/du-lich/feed.xml"] {
            let at = format!("{path} (routed: {routed})");
            let feed = on.get(path, &[], routed);
            let page = on.get(path, &[NAVIGATION], routed);
            assert_eq!((feed.status(), page.status()), (200, 200), "{at}");
            assert!(feed.one("content-type").starts_with("application/"), "{at}: {}", feed.0);
            assert!(!feed.body().contains("<html"), "{at}: the feed's bytes");
            assert_eq!(page.one("content-type"), "text/html; charset=utf-8", "{at}");
            assert!(page.one("content-security-policy").starts_with("default-src 'none'"), "{at}: the pages' policy: no script");
            assert!(feed.all("content-security-policy").is_empty(), "{at}: a feed is no page");
            assert!(page.body().contains("<!DOCTYPE html>") && page.body().contains(&format!("http://bantin.test{path}")), "{at}");
            for answer in [&feed, &page] {
                assert_eq!(answer.one("vary"), "Accept-Encoding, Sec-Fetch-Dest", "{at}");
                let links = answer.all("link");
                assert_eq!(
                    links,
                    [format!("<http://{}/hub>; rel=\"hub\"", on.refusing), format!("<http://bantin.test{path}>; rel=\"self\"")],
                    "{at}: WebSub discovery, two Link headers"
                );
            }
            // A reader that sent Sec-Fetch-Dest of another kind is a reader.
            let fetched = on.get(path, &["Sec-Fetch-Dest: empty"], routed);
            assert_eq!(fetched.body(), feed.body(), "{at}: a web reader's fetch() gets the feed");
            // And a real feed parser reads what readers get (feed-rs, as Rust readers use).
            let parsed = feed_rs::parser::parse(feed.body().as_bytes()).unwrap_or_else(|e| panic!("{at}: feed-rs: {e}"));
            assert!(!parsed.entries.is_empty(), "{at}: feed-rs reads the items");
            assert!(feed_rs::parser::parse(page.body().as_bytes()).is_err(), "{at}: the preview is no feed");

            let (feed_tag, page_tag) = (feed.one("etag").to_string(), page.one("etag").to_string());
            assert_ne!(feed_tag, page_tag, "{at}: the preview has its own ETag");
            assert_eq!(feed.one("last-modified"), page.one("last-modified"), "{at}");
            let inm = |tag: &str| format!("If-None-Match: {tag}");
            assert_eq!(on.get(path, &[&inm(&feed_tag)], routed).status(), 304, "{at}: the feed's 304");
            assert_eq!(on.get(path, &[NAVIGATION, &inm(&page_tag)], routed).status(), 304, "{at}: the preview's 304");
            assert_eq!(on.get(path, &[NAVIGATION, &inm(&feed_tag)], routed).status(), 200, "{at}: the feed's tag is not the page's");
            assert_eq!(on.get(path, &[&inm(&page_tag)], routed).status(), 200, "{at}: the page's tag is not the feed's");
            let gz = on.get(path, &[NAVIGATION, "Accept-Encoding: gzip"], routed);
            assert_eq!((gz.one("content-encoding"), gz.one("content-type")), ("gzip", "text/html; charset=utf-8"), "{at}");
            let gz_tag = gz.one("etag").to_string();
            assert_eq!(on.get(path, &[NAVIGATION, "Accept-Encoding: gzip", &inm(&gz_tag)], routed).status(), 304, "{at}");
        }
    }
    // The index page is a page for everyone, and names no hub; it is in
    // Vietnamese, or English for a reader who puts English first or asks
    // with ?lang=en (issue 22), on the front's path and the router's alike.
    let index = on.get("/", &[NAVIGATION], false);
    assert_eq!((index.one("vary"), index.all("link").len()), ("Accept-Encoding, Accept-Language", 0));
    for routed in [false, true] {
        let vi = on.get("/", &["Accept-Language: vi-VN,en;q=0.8"], routed);
        let en = on.get("/", &["Accept-Language: en-GB,vi;q=0.5"], routed);
        let asked = on.get("/?lang=en", &[], routed);
        assert!(vi.body().contains("<html lang=\"vi\">") && en.body().contains("<html lang=\"en\">"), "routed {routed}");
        assert_eq!(asked.body(), en.body(), "routed {routed}");
        assert_ne!(vi.one("etag"), en.one("etag"));
        let tag = format!("If-None-Match: {}", en.one("etag"));
        assert_eq!(on.get("/", &["Accept-Language: en", &tag], routed).status(), 304);
    }
}

/// A web reader on another site (a portal's "latest news" box, an
/// in-browser reader) reads a feed with `fetch()`, which the browser allows
/// only when the answer says so (CORS): every feed kind, the OPML list and
/// their 304s say `Access-Control-Allow-Origin: *` (public bytes, no
/// credentials), and let its script read the ETag; pages, a feed's
/// preview included, say nothing. A reader that sends its own
/// `If-None-Match` makes the browser ask first (a preflight `OPTIONS`),
/// which a feed's path allows: before, it was a 405 and the fetch failed.
#[test]
fn feeds_may_be_fetched_by_any_site_and_pages_may_not() {
    let on = Running::start(|_| String::new());
    let origin = "Origin: https://tin.example.vn";
    for routed in [false, true] {
        for path in ["/feed.xml", "/atom.xml", "/feed.json", "/categories/du-lich/feed.json", "/feeds.opml"] {
            let at = format!("{path} (routed: {routed})");
            let feed = on.get(path, &[origin, "Sec-Fetch-Dest: empty", "Sec-Fetch-Mode: cors"], routed);
            assert_eq!((feed.status(), feed.one("access-control-allow-origin")), (200, "*"), "{at}");
            let tag = format!("If-None-Match: {}", feed.one("etag"));
            let revalidated = on.get(path, &[origin, &tag], routed);
            assert_eq!((revalidated.status(), revalidated.one("access-control-allow-origin")), (304, "*"), "{at}");
            for answer in [&feed, &revalidated] {
                assert_eq!(answer.one("access-control-expose-headers"), "ETag, Link", "{at}");
            }
            let asked = ["Access-Control-Request-Method: GET", "Access-Control-Request-Headers: if-none-match"];
            let preflight = on.request("OPTIONS", path, &[origin, asked[0], asked[1]], routed);
            assert_eq!(preflight.status(), 204, "{at}");
            assert_eq!(
                [preflight.one("access-control-allow-origin"), preflight.one("access-control-allow-methods"), preflight.one("access-control-allow-headers")],
                ["*", "GET, HEAD", "*"],
                "{at}"
            );
        }
        let page = on.request("OPTIONS", "/", &[origin, "Access-Control-Request-Method: GET"], routed);
        assert!(page.all("access-control-allow-origin").is_empty(), "a page allows no preflight");
        for (path, headers) in [("/", &[origin][..]), ("/feed.xml", &[origin, NAVIGATION][..])] {
            let page = on.get(path, headers, routed);
            assert_eq!(page.one("content-type"), "text/html; charset=utf-8", "{path} (routed: {routed})");
            assert!(page.all("access-control-allow-origin").is_empty(), "{path} (routed: {routed}): a page is not shared");
        }
    }
}

#[test]
fn with_browser_view_off_a_browser_gets_the_feed() {
    let off = Running::start(|_| "[feeds]\nbrowser_view = false\n".to_string());
    for routed in [false, true] {
        let feed = off.get("/feed.xml", &[], routed);
        let browser = off.get("/feed.xml", &[NAVIGATION], routed);
        assert_eq!(browser.one("content-type"), "application/rss+xml; charset=utf-8");
        assert_eq!((browser.body(), browser.one("etag")), (feed.body(), feed.one("etag")));
        assert_eq!(browser.one("vary"), "Accept-Encoding", "nothing varies with Sec-Fetch-Dest");
        assert!(browser.all("link").is_empty(), "no hub, no Link");
    }
}

/// The preview of the example store's site RSS feed and of a category's
/// Atom feed, kept as insta snapshots (the page is a template's).
#[test]
fn the_preview_pages_of_the_example_store() {
    use crate::support::common::*;
    let (cache, _) = bantin::cache::refresh(None, &load(&example_store()), &feed_settings(), now());
    for (name, path) in [("preview_site_feed.xml.html", "/feed.xml"), ("preview_du-lich_atom.xml.html", "/categories/du-lich/atom.xml")] {
        let entry = cache.document(path, true).unwrap();
        let html = String::from_utf8(entry.identity().unwrap().bytes.to_vec()).unwrap();
        insta::assert_snapshot!(name, html);
    }
}
