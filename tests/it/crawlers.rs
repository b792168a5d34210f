//! What crawlers are told: `/robots.txt` (the feeds, the index page and
//! the archive are theirs, the admin console is not) and `X-Robots-Tag:
//! noindex` on every page meant for one person (those a mail's links lead
//! to, the sign-up's answers, the console), whoever found its URL. Against
//! `serve::run` in-process, on both paths a request can take.

use crate::support::common::example_store;
use crate::support::harness::{body_of, headers_of, raw, status_of};
use crate::support::inproc::InProcess;
use std::time::Duration;

/// `method path` with `headers`; `routed` pads the head past what the
/// connection's front reads in place, so hyper answers it.
fn ask(on: &InProcess, method: &str, path: &str, headers: &str, routed: bool) -> String {
    let pad: String = if routed { (0..40).map(|i| format!("X-Pad-{i}: v\r\n")).collect() } else { String::new() };
    let head = format!("{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{headers}{pad}\r\n");
    raw(on.addr, head.as_bytes(), Duration::from_secs(10))
}

/// Regression: `/robots.txt` was a 404, and the pages a mail's links lead
/// to (the unsubscribe page shows the address; every such URL holds a
/// token that acts for its subscriber) said nothing to search engines.
#[test]
fn robots_txt_is_served_and_pages_for_one_person_say_noindex() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("admin.token");
    std::fs::write(&token, format!("ops:{}\n", "s".repeat(40))).unwrap();
    let extra = format!("[admin]\ntoken_file = \"{}\"\n", token.display());
    let on = InProcess::start(dir.path(), &example_store(), |_| extra.clone());

    for routed in [false, true] {
        let robots = ask(&on, "GET", "/robots.txt", "", routed);
        assert_eq!((status_of(&robots), headers_of(&robots, "content-type")), (200, vec!["text/plain; charset=utf-8"]), "{robots}");
        assert!(body_of(&robots).contains("User-agent: *\nDisallow: /admin/\n"), "{robots}");
        let tag = format!("If-None-Match: {}\r\n", headers_of(&robots, "etag")[0]);
        assert_eq!(status_of(&ask(&on, "GET", "/robots.txt", &tag, routed)), 304, "routed: {routed}");

        let public = ["/", "/feed.xml", "/feeds.opml", "/robots.txt", "/archive/"];
        for path in public {
            let answer = ask(&on, "GET", path, "", routed);
            assert_eq!(status_of(&answer), 200, "{path}: {answer}");
            assert!(headers_of(&answer, "x-robots-tag").is_empty(), "{path} (routed: {routed}) is for crawlers");
        }
    }
    let form = "email=nguoi.doc%40example.vn";
    let post = format!("Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}", form.len());
    let personal = ["/unsubscribe/not-a-token", "/confirm/not-a-token", "/preferences/not-a-token", "/manage", "/subscribe", "/admin/", "/admin/api/stats"];
    for path in personal {
        let answer = ask(&on, "GET", path, "", false);
        assert_eq!(headers_of(&answer, "x-robots-tag"), ["noindex, nofollow"], "{path}: {answer}");
    }
    let signed_up = raw(on.addr, format!("POST /subscribe HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{post}").as_bytes(), Duration::from_secs(10));
    assert_eq!(headers_of(&signed_up, "x-robots-tag"), ["noindex, nofollow"], "{signed_up}");
}
