//! The connection front (`http::front`) answers cached documents itself;
//! hyper answers everything else. These tests drive the real `bantin
//! serve` over raw sockets and hold the two to the same answers: every
//! request is sent once as is (the front takes it) and once with an
//! `Upgrade` header the front leaves to hyper (which ignores it on a
//! GET), and status, headers (but Date) and body must be equal. Also:
//! pipelined requests answered in order, HTTP/1.0 keep-alive, and a
//! connection that goes on after hyper took it.

use crate::support::harness;

use crate::support::serve::Serve;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn article(title: &str, date: &str) -> String {
    format!("+++\ntitle = \"{title}\"\ndate = \"{date}\"\ncategories = [\"Tin tức\"]\n+++\n\nNội dung của {title}: đủ dài để được nén.\n")
}

fn start() -> (tempfile::TempDir, Serve) {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("articles");
    std::fs::create_dir_all(&store).unwrap();
    for i in 0..20 {
        std::fs::write(store.join(format!("a{i}.md")), article(&format!("Bài số {i}"), &format!("2024-05-{:02}T08:00:00+07:00", i + 1))).unwrap();
    }
    let cfg = harness::write_config(dir.path(), &store, "smtp://127.0.0.1:9", "");
    let serve = Serve::start(&cfg);
    (dir, serve)
}

/// One HTTP/1.1 response read off a stream: status line, headers (names
/// lowercased, in order) and body (by Content-Length; none for 304/HEAD).
#[derive(Debug, PartialEq)]
struct Answer {
    status: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Without what differs by nature between two answers: the Date.
    fn comparable(mut self) -> Answer {
        self.headers.retain(|(n, _)| n != "date");
        self.headers.sort();
        self
    }
}

fn read_answer(s: &mut TcpStream, head_only: bool) -> Answer {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).expect("the answer arrives"), 1, "closed before the head ended: {:?}", String::from_utf8_lossy(&head));
        head.push(byte[0]);
    }
    let text = String::from_utf8(head).unwrap();
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    let status = lines.next().unwrap().to_string();
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (n, v) = l.split_once(':').expect("a header line");
            (n.trim().to_ascii_lowercase(), v.trim().to_string())
        })
        .collect();
    let length: usize = headers.iter().find(|(n, _)| n == "content-length").map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = vec![0u8; if head_only || status.contains(" 304 ") { 0 } else { length }];
    s.read_exact(&mut body).unwrap();
    Answer { status, headers, body }
}

fn ask(serve: &Serve, request: &str) -> Answer {
    let mut s = TcpStream::connect(serve.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    read_answer(&mut s, request.starts_with("HEAD"))
}

/// The same request through the front and through hyper.
fn both(serve: &Serve, method: &str, path: &str, extra: &str) -> (Answer, Answer) {
    let front = ask(serve, &format!("{method} {path} HTTP/1.1\r\nHost: t\r\n{extra}\r\n"));
    let hyper = ask(serve, &format!("{method} {path} HTTP/1.1\r\nHost: t\r\nUpgrade: not-taken\r\n{extra}\r\n"));
    (front, hyper)
}

/// Waits until the idle worker has made `path`'s brotli form, so that
/// two requests in a row get the same representation.
fn until_brotli(serve: &Serve, path: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while ask(serve, &format!("GET {path} HTTP/1.1\r\nHost: t\r\nAccept-Encoding: br\r\n\r\n")).header("content-encoding") != Some("br") {
        assert!(std::time::Instant::now() < deadline, "{path} never got its brotli form");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Regression (a flake of CI, 2026-12-05): the brotli form of /feed.xml
/// arrived between the front's request and hyper's, so one got gzip and
/// the other brotli; the comparison starts once the worker is done.
#[test]
fn the_front_and_hyper_give_the_same_answers() {
    let (_dir, serve) = start();
    until_brotli(&serve, "/feed.xml");
    let etag = ask(&serve, "GET /feed.xml HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n").header("etag").unwrap().to_string();
    let plain = ask(&serve, "GET /atom.xml HTTP/1.1\r\nHost: t\r\n\r\n");
    let modified = plain.header("last-modified").unwrap().to_string();
    let cases = [
        ("GET", "/feed.xml", String::new()),
        ("GET", "/feed.xml", "Accept-Encoding: gzip, br\r\n".into()),
        ("GET", "/feed.xml", "Accept-Encoding: br;q=0, gzip\r\n".into()),
        ("GET", "/feed.xml?utm_source=x", "Accept-Encoding: gzip\r\n".into()),
        ("GET", "/feed.xml", format!("Accept-Encoding: gzip\r\nIf-None-Match: {etag}\r\n")),
        ("GET", "/feed.xml", format!("If-None-Match: \"other\", W/{etag}\r\n")),
        ("GET", "/feed.xml", "If-None-Match: \"other\"\r\n".into()),
        ("GET", "/atom.xml", format!("If-Modified-Since: {modified}\r\n")),
        ("GET", "/atom.xml", "If-Modified-Since: Mon, 01 Jan 1990 00:00:00 GMT\r\n".into()),
        ("HEAD", "/feed.json", "Accept-Encoding: gzip\r\n".into()),
        ("GET", "/", String::new()),
        ("GET", "/categories/tin-tuc/feed.xml", "Accept-Encoding: identity\r\n".into()),
        ("GET", "/feed.xml", "Connection: close\r\n".into()),
    ];
    for (method, path, extra) in cases {
        let (front, hyper) = both(&serve, method, path, &extra);
        assert!(front.header("date").is_some(), "{method} {path} {extra:?}: the front sends a Date");
        assert_eq!(front.comparable(), hyper.comparable(), "{method} {path} {extra:?}");
    }
    let metrics = ask(&serve, "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
    let page = String::from_utf8(metrics.body).unwrap();
    assert!(harness::metric(&page, "bantin_http_requests_total{route=\"/feed.xml\",status=\"304\"}").unwrap_or(0.0) >= 4.0, "{page}");
}

#[test]
fn pipelined_requests_are_answered_in_order_and_hyper_takes_over_mid_connection() {
    let (_dir, serve) = start();
    let mut s = TcpStream::connect(serve.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // Three cached documents, then a route only hyper serves, then a
    // cached one again (now answered by hyper), all in one write.
    s.write_all(
        b"GET /feed.xml HTTP/1.1\r\nHost: t\r\n\r\n\
          HEAD /atom.xml HTTP/1.1\r\nHost: t\r\n\r\n\
          GET /feed.json HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n\
          GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n\
          GET /feed.xml HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let a = read_answer(&mut s, false);
    assert!(a.status.ends_with("200 OK") && a.header("content-type") == Some("application/rss+xml; charset=utf-8"), "{a:?}");
    assert!(String::from_utf8_lossy(&a.body).contains("Bài số 19"));
    let b = read_answer(&mut s, true);
    assert_eq!(b.header("content-type"), Some("application/atom+xml; charset=utf-8"));
    let c = read_answer(&mut s, false);
    assert_eq!((c.header("content-type"), c.header("content-encoding")), (Some("application/feed+json; charset=utf-8"), Some("gzip")));
    let d = read_answer(&mut s, false);
    assert!(String::from_utf8_lossy(&d.body).contains("\"status\""), "{d:?}");
    let e = read_answer(&mut s, false);
    assert_eq!(e.body, a.body, "the same feed, through hyper this time");
    let mut rest = Vec::new();
    assert_eq!(s.read_to_end(&mut rest).unwrap(), 0, "closed after the request that asked for it");
}

#[test]
fn http_1_0_keeps_the_connection_only_when_asked() {
    let (_dir, serve) = start();
    let mut s = TcpStream::connect(serve.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /feed.xml HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").unwrap();
    let a = read_answer(&mut s, false);
    assert_eq!(a.header("connection"), Some("keep-alive"));
    s.write_all(b"GET /feed.xml HTTP/1.0\r\n\r\n").unwrap();
    let b = read_answer(&mut s, false);
    assert_eq!(b.header("connection"), Some("close"));
    assert_eq!(a.body, b.body);
    let mut rest = Vec::new();
    assert_eq!(s.read_to_end(&mut rest).unwrap(), 0, "an HTTP/1.0 request without keep-alive ends the connection");
}
