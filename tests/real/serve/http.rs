//! The HTTP contract over a real socket: conditional requests (ETag,
//! Last-Modified), HEAD, gzip and brotli, 404s and 405s, the head's size
//! limit, the index page, `/healthz` and `/metrics`.

use super::*;
use std::io::{Read, Write};
use std::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditional_get_head_gzip_and_br() {
    let server = Server::start(
        &[
            ("a.md", article("Mùa vàng Mù Cang Chải", "2024-09-01T08:00:00+07:00", "Du lịch")),
            ("b.md", article("Hồ Thác Bà mùa hè", "2024-06-01T08:00:00+07:00", "Du lịch")),
        ],
        "",
    );
    for (path, mime) in [
        ("/feed.xml", "application/rss+xml; charset=utf-8"),
        ("/atom.xml", "application/atom+xml; charset=utf-8"),
        ("/feed.json", "application/feed+json; charset=utf-8"),
        ("/categories/du-lich/feed.xml", "application/rss+xml; charset=utf-8"),
    ] {
        let url = server.url(path);
        let full = get(&url).await;
        assert_eq!(full.status, 200, "{path}");
        assert_eq!(full.header("content-type"), mime);
        assert_eq!(full.header("vary"), "Accept-Encoding, Sec-Fetch-Dest", "a browser gets the preview (feeds.browser_view)");
        assert_eq!(full.header("cache-control"), "public, max-age=300");
        assert_eq!(full.header("content-length"), full.body.len().to_string());
        let etag = full.header("etag").to_string();
        assert!(etag.starts_with('"') && etag.ends_with('"'), "strong ETag: {etag}");
        // Last-Modified is the newest item's date.
        assert_eq!(full.header("last-modified"), "Sun, 01 Sep 2024 01:00:00 GMT");

        // Conditional GET.
        let r = request(reqwest::Method::GET, &url, &[("if-none-match", &etag)]).await;
        assert_eq!((r.status, r.body.len()), (304, 0));
        assert_eq!(r.header("etag"), etag);
        let weak = format!("\"nope\", W/{etag}");
        assert_eq!(request(reqwest::Method::GET, &url, &[("if-none-match", &weak)]).await.status, 304);
        assert_eq!(request(reqwest::Method::GET, &url, &[("if-none-match", "*")]).await.status, 304);
        assert_eq!(request(reqwest::Method::GET, &url, &[("if-none-match", "\"stale\"")]).await.status, 200);
        let lm = full.header("last-modified").to_string();
        assert_eq!(request(reqwest::Method::GET, &url, &[("if-modified-since", &lm)]).await.status, 304);
        let older = "Sat, 31 Aug 2024 00:00:00 GMT";
        assert_eq!(request(reqwest::Method::GET, &url, &[("if-modified-since", older)]).await.status, 200);
        // If-None-Match wins over If-Modified-Since.
        let both = [("if-none-match", "\"stale\""), ("if-modified-since", lm.as_str())];
        assert_eq!(request(reqwest::Method::GET, &url, &both).await.status, 200);

        // HEAD: same headers, no body.
        let head = request(reqwest::Method::HEAD, &url, &[]).await;
        assert_eq!(head.status, 200);
        assert!(head.body.is_empty());
        for h in ["etag", "last-modified", "content-type", "content-length", "vary", "cache-control"] {
            assert_eq!(head.header(h), full.header(h), "HEAD {path} header {h}");
        }

        // gzip and br decode to the identity bytes, with their own ETags.
        let gz = request(reqwest::Method::GET, &url, &[("accept-encoding", "gzip")]).await;
        assert_eq!(gz.header("content-encoding"), "gzip");
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&gz.body[..]).read_to_end(&mut plain).unwrap();
        assert_eq!(plain, full.body);
        assert_ne!(gz.header("etag"), etag);
        // The brotli forms are compressed right after the first publication;
        // until then a br client gets gzip.
        let deadline = Instant::now() + WAIT;
        let br = loop {
            let r = request(reqwest::Method::GET, &url, &[("accept-encoding", "gzip, deflate, br")]).await;
            if r.header("content-encoding") == "br" {
                break r;
            }
            assert_eq!(r.header("content-encoding"), "gzip");
            assert!(Instant::now() < deadline, "no brotli form for {path}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let mut plain = Vec::new();
        brotli::Decompressor::new(&br.body[..], 4096).read_to_end(&mut plain).unwrap();
        assert_eq!(plain, full.body);
        let refused = request(reqwest::Method::GET, &url, &[("accept-encoding", "br;q=0, gzip;q=0")]).await;
        assert_eq!(refused.header("content-encoding"), "");
        assert_eq!(refused.body, full.body);
        let gz304 = request(reqwest::Method::GET, &url, &[("accept-encoding", "gzip"), ("if-none-match", gz.header("etag"))]).await;
        assert_eq!(gz304.status, 304);
    }

    // Unknown categories, files and escapes are 404s, never files.
    for path in ["/categories/khong-co/feed.xml", "/feed.rss", "/../../etc/passwd", "/categories/du-lich/../../Cargo.toml", "/bantin.toml"] {
        assert_eq!(get(&server.url(path)).await.status, 404, "{path}");
    }

    // A request head beyond the size limit is refused, not buffered.
    let addr = server.base.trim_start_matches("http://").to_string();
    let mut conn = TcpStream::connect(&addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let big = format!("GET /feed.xml HTTP/1.1\r\nHost: x\r\nX-Filler: {}\r\n\r\n", "a".repeat(64 * 1024));
    let _ = conn.write_all(big.as_bytes());
    let mut answer = String::new();
    let _ = conn.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 431"), "oversized head: {answer:.80}");
    // Methods other than GET/HEAD on a feed are refused by the router.
    assert_eq!(request(reqwest::Method::POST, &server.url("/feed.xml"), &[]).await.status, 405);

    // The index page lists the feeds with autodiscovery links.
    let index = get(&server.url("/")).await;
    assert_eq!(index.status, 200);
    assert_eq!(index.header("content-type"), "text/html; charset=utf-8");
    let html = index.text();
    assert!(html.contains("<html lang=\"vi\">"));
    assert!(html.contains(r#"<link rel="alternate" type="application/rss+xml" title="Cổng thông tin thử nghiệm (RSS)" href="http://feeds.example.org/feed.xml">"#), "{html}");
    assert!(html.contains(r#"href="http://feeds.example.org/categories/du-lich/atom.xml""#));

    let health = get(&server.url("/healthz")).await;
    assert_eq!(health.status, 200);
    let h: serde_json::Value = serde_json::from_slice(&health.body).unwrap();
    assert_eq!((h["articles"].as_u64(), h["errors"].as_u64(), h["generation"].as_u64()), (Some(2), Some(0), Some(1)));

    let metrics = get(&server.url("/metrics")).await.text();
    assert!(metrics.contains(r#"bantin_http_requests_total{route="/feed.xml",status="304"}"#), "{metrics}");
    assert!(metrics.contains(r#"route="/categories/{slug}/{file}",status="404""#), "{metrics}");
    assert!(metrics.contains("bantin_http_not_modified_total "));
    assert!(metrics.contains("bantin_catalog_generation 1"));
    assert!(metrics.contains("bantin_cache_refresh_seconds_bucket"));
    assert!(metrics.contains("bantin_catalog_article_errors 0"));
}
