//! `bantin serve` end to end: the real binary on a random port with a
//! temporary store, driven over real HTTP and real signals.

use crate::support::serve::{self, Serve};

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BASE_CONFIG: &str = r#"
[site]
title = "Cổng thông tin thử nghiệm"
base_url = "https://portal.example.org"
timezone = "Asia/Ho_Chi_Minh"

[http]
listen = "127.0.0.1:0"
public_url = "http://feeds.example.org/"
"#;

/// A [`Serve`] on a store of its own in a temp folder.
struct Server {
    serve: Serve,
    base: String,
    dir: tempfile::TempDir,
}

impl Server {
    /// Starts `bantin serve` on a store in a temp folder with `articles`
    /// already in it; `extra` is appended to the config.
    fn start(articles: &[(&str, String)], extra: &str) -> Server {
        Server::launch(articles, extra, &[], None)
    }

    /// Like [`Server::start`], with extra environment variables, and
    /// optionally started through a wrapper command (such as
    /// systemd-socket-activate) that is given the bantin command line;
    /// `poke` is called once the process runs (a wrapper may wait for it).
    fn launch(articles: &[(&str, String)], extra: &str, env: &[(&str, &str)], wrapper: Option<(&[&str], &dyn Fn())>) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        std::fs::create_dir(&store).unwrap();
        for (name, text) in articles {
            write(&store.join(name), text);
        }
        std::fs::write(dir.path().join("bantin.toml"), config(&store, extra)).unwrap();
        let mut cmd = match wrapper {
            Some((w, _)) => {
                let mut c = Command::new(w[0]);
                c.args(&w[1..]).arg(env!("CARGO_BIN_EXE_bantin"));
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_bantin")),
        };
        serve::serve_args(&mut cmd, &dir.path().join("bantin.toml"));
        cmd.envs(env.iter().copied());
        let serve = Serve::launch(cmd, || {
            if let Some((_, poke)) = wrapper {
                poke();
            }
        });
        Server { base: serve.url(""), serve, dir }
    }

    fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    fn config_file(&self) -> PathBuf {
        self.dir.path().join("bantin.toml")
    }

    fn url(&self, path: &str) -> String {
        self.serve.url(path)
    }

    fn log(&self) -> String {
        self.serve.log()
    }

    fn signal(&self, name: &str) {
        let signal = match name {
            "HUP" => libc::SIGHUP,
            "TERM" => libc::SIGTERM,
            "INT" => libc::SIGINT,
            other => panic!("no signal {other} in these tests"),
        };
        self.serve.signal(signal);
    }

    /// Waits for the process to exit, at most `limit`.
    fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        self.serve.wait_exit(limit)
    }
}

/// The state database goes beside the store, in the test's temp folder.
fn config(store: &Path, extra: &str) -> String {
    let state = store.with_file_name("state").join("bantin.db");
    format!(
        "{BASE_CONFIG}\n[store]\npath = {:?}\ndebounce_ms = 50\nrescan = \"1h\"\n\n[state]\nurl = \"sqlite://{}\"\n{extra}",
        store.display().to_string(),
        state.display()
    )
}

/// Writes through a temporary name and a rename, as editors and rsync do.
fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let tmp = path.with_file_name(format!(".{}.tmp", path.file_name().unwrap().to_string_lossy()));
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn article(title: &str, date: &str, category: &str) -> String {
    format!(
        "+++\ntitle = \"{title}\"\ndate = \"{date}\"\ncategories = [\"{category}\"]\nsummary = \"Tóm tắt: {title}\"\n+++\n\nNội dung bài viết {title}.\n"
    )
}

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
    }
    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn request(method: reqwest::Method, url: &str, headers: &[(&str, &str)]) -> Reply {
    let mut req = client().request(method, url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.unwrap().to_vec();
    Reply { status, headers, body }
}

async fn get(url: &str) -> Reply {
    request(reqwest::Method::GET, url, &[]).await
}

/// Polls `url` until `pred` holds for its body (the store change has been
/// served), failing with the last body and the log after `limit`.
async fn until(server: &Server, path: &str, limit: Duration, pred: impl Fn(&Reply) -> bool) -> Reply {
    let deadline = Instant::now() + limit;
    loop {
        let reply = get(&server.url(path)).await;
        if pred(&reply) {
            return reply;
        }
        if Instant::now() > deadline {
            panic!("{path} never reached the expected state; last body:\n{}\nlog:\n{}", reply.text(), server.log());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const WAIT: Duration = Duration::from_secs(20);

fn health(reply: &Reply) -> serde_json::Value {
    serde_json::from_slice(&reply.body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feeds_follow_adds_edits_renames_and_deletes_and_only_what_changed() {
    let server = Server::start(
        &[
            ("kinh-te/cau-moi.md", article("Khánh thành cầu mới", "2024-05-01T08:00:00+07:00", "Kinh tế")),
            ("van-hoa/le-hoi.md", article("Lễ hội đền Đông Cuông", "2024-05-02T08:00:00+07:00", "Văn hóa")),
        ],
        "",
    );
    let site = get(&server.url("/feed.xml")).await;
    assert_eq!(site.status, 200);
    assert!(site.text().contains("Khánh thành cầu mới"));
    let culture = get(&server.url("/categories/van-hoa/feed.xml")).await;
    let culture_etag = culture.header("etag").to_string();
    let economy_etag = get(&server.url("/categories/kinh-te/atom.xml")).await.header("etag").to_string();
    assert_eq!(culture.status, 200);

    // Add: the site feed and its category change, the other category does not.
    write(&server.store().join("kinh-te/cho-phien.md"), &article("Chợ phiên vùng cao", "2024-05-03T08:00:00+07:00", "Kinh tế"));
    until(&server, "/feed.xml", WAIT, |r| r.text().contains("Chợ phiên vùng cao")).await;
    let economy = get(&server.url("/categories/kinh-te/atom.xml")).await;
    assert!(economy.text().contains("Chợ phiên vùng cao"));
    assert_ne!(economy.header("etag"), economy_etag);
    assert_eq!(get(&server.url("/categories/van-hoa/feed.xml")).await.header("etag"), culture_etag);
    let json = get(&server.url("/feed.json")).await;
    assert!(json.text().contains("Chợ phiên vùng cao"));

    // Edit in place.
    std::fs::write(
        server.store().join("kinh-te/cho-phien.md"),
        article("Chợ phiên vùng cao đông vui", "2024-05-03T08:00:00+07:00", "Kinh tế"),
    )
    .unwrap();
    until(&server, "/feed.xml", WAIT, |r| r.text().contains("Chợ phiên vùng cao đông vui")).await;
    assert_eq!(get(&server.url("/categories/van-hoa/feed.xml")).await.header("etag"), culture_etag);

    // Rename (a move inside the store, into a new folder): without a slug
    // the identity is the path, so the item's GUID changes and the item
    // stays in the feed once.
    let title = "<title>Chợ phiên vùng cao đông vui</title>";
    let before = get(&server.url("/feed.xml")).await.text();
    let guid_at = before.find(title).unwrap();
    let old_guid = before[guid_at..].split("<guid").nth(1).unwrap().split("</guid>").next().unwrap().to_string();
    std::fs::create_dir(server.store().join("moi")).unwrap();
    std::fs::rename(server.store().join("kinh-te/cho-phien.md"), server.store().join("moi/cho-phien-2.md")).unwrap();
    let site = until(&server, "/feed.xml", WAIT, |r| !r.text().contains(&old_guid)).await;
    assert_eq!(site.text().matches(title).count(), 1, "renamed article once: {}", site.text());
    assert_eq!(health(&get(&server.url("/healthz")).await)["articles"], 3);

    // A file that does not parse is an error, then an article once fixed.
    write(&server.store().join("hong.md"), "+++\ntitle = \"Chưa xong\n");
    until(&server, "/healthz", WAIT, |r| health(r)["errors"] == 1).await;
    assert!(server.log().contains("hong.md"), "the bad file is logged");
    write(&server.store().join("hong.md"), &article("Đã sửa xong", "2024-05-04T08:00:00+07:00", "Kinh tế"));
    until(&server, "/feed.xml", WAIT, |r| r.text().contains("Đã sửa xong")).await;
    assert_eq!(health(&get(&server.url("/healthz")).await)["errors"], 0);

    // Delete: the item goes; a category without articles goes with it (404).
    std::fs::remove_file(server.store().join("van-hoa/le-hoi.md")).unwrap();
    until(&server, "/feed.xml", WAIT, |r| !r.text().contains("Lễ hội đền Đông Cuông")).await;
    assert_eq!(get(&server.url("/categories/van-hoa/feed.xml")).await.status, 404);

    // A folder of articles removed at once.
    std::fs::remove_dir_all(server.store().join("moi")).unwrap();
    until(&server, "/feed.xml", WAIT, |r| !r.text().contains("Chợ phiên vùng cao đông vui")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_folder_removed_and_recreated_keeps_serving() {
    let server = Server::start(&[("a.md", article("Bài thứ nhất", "2024-05-01T08:00:00+07:00", "Tin tức"))], "");
    let store = server.store();
    std::fs::remove_dir_all(&store).unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // The last catalog keeps being served while the folder is gone.
    let reply = get(&server.url("/feed.xml")).await;
    assert_eq!(reply.status, 200);
    assert!(reply.text().contains("Bài thứ nhất"));
    std::fs::create_dir(&store).unwrap();
    write(&store.join("b.md"), &article("Bài sau khi tạo lại", "2024-05-02T08:00:00+07:00", "Tin tức"));
    until(&server, "/feed.xml", WAIT, |r| r.text().contains("Bài sau khi tạo lại") && !r.text().contains("Bài thứ nhất")).await;
    // And the new folder is watched.
    write(&store.join("c.md"), &article("Bài mới nhất", "2024-05-03T08:00:00+07:00", "Tin tức"));
    until(&server, "/feed.xml", WAIT, |r| r.text().contains("Bài mới nhất")).await;
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_applies_a_good_config_and_refuses_a_bad_one() {
    let server = Server::start(&[("a.md", article("Bài đầu tiên", "2024-05-01T08:00:00+07:00", "Tin tức"))], "");
    let store = server.store();
    let good = config(&store, "").replace("Cổng thông tin thử nghiệm", "Bản tin đã đổi tên");
    std::fs::write(server.config_file(), good).unwrap();
    server.signal("HUP");
    let renamed = until(&server, "/feed.xml", WAIT, |r| r.text().contains("Bản tin đã đổi tên")).await;
    // The line is logged once the service loop answers, which can be a
    // moment after the renamed feed is served (a flake seen under load).
    let deadline = Instant::now() + WAIT;
    while !server.log().contains("configuration reloaded") {
        assert!(Instant::now() < deadline, "no reload logged:\n{}", server.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let etag = renamed.header("etag").to_string();

    let bad = config(&store, "[feeds]\nitems = 0\n").replace("Cổng thông tin thử nghiệm", "Bản tin đã đổi tên");
    std::fs::write(server.config_file(), bad).unwrap();
    server.signal("HUP");
    let deadline = Instant::now() + WAIT;
    while !server.log().contains("configuration reload refused") {
        assert!(Instant::now() < deadline, "no refusal logged:\n{}", server.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let refusal = server.log().lines().find(|l| l.contains("configuration reload refused")).unwrap().to_string();
    assert!(refusal.contains("feeds.items"), "the refusal names the key: {refusal}");
    // Still serving, with the last good configuration.
    let reply = get(&server.url("/feed.xml")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("etag"), etag);
}

/// Sends a request head in two parts, so that the request is in flight
/// (its head half read) when SIGTERM arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_requests_in_flight_finish_and_exits_zero() {
    let mut server = Server::start(&[("a.md", article("Bài đầu tiên", "2024-05-01T08:00:00+07:00", "Tin tức"))], "");
    let addr = server.base.trim_start_matches("http://").to_string();
    let mut conn = TcpStream::connect(&addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    conn.write_all(b"GET /feed.xml HTTP/1.1\r\nHost: x\r\n").unwrap();
    // A burst of ordinary requests running while the signal lands.
    let base = server.base.clone();
    let burst = tokio::spawn(async move {
        let mut statuses = Vec::new();
        for _ in 0..200 {
            match client().get(format!("{base}/atom.xml")).send().await {
                Ok(r) => statuses.push(r.status().as_u16()),
                Err(_) => break, // refused once the listener is closed
            }
        }
        statuses
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.signal("TERM");
    tokio::time::sleep(Duration::from_millis(200)).await;
    conn.write_all(b"Accept-Encoding: identity\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "the request in flight is answered: {answer}");
    assert!(answer.contains("Bài đầu tiên"));
    let statuses = burst.await.unwrap();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let status = server.wait_exit(Duration::from_secs(5)).expect("bantin exits within 5 s of SIGTERM");
    assert!(status.success(), "exit status {status}; log:\n{}", server.log());
    assert!(server.log().contains("SIGTERM: shutting down"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_files_written_at_once_all_reach_the_catalog() {
    let _exclusive = crate::support::exclusive();
    const N: usize = 5000;
    // Every item in one feed: no byte budget either (5,000 items are ~2.5 MB).
    let server = Server::start(&[], "[feeds]\nitems = 10000\nmax_bytes = 1000000000\n");
    let store = server.store();
    let started = Instant::now();
    for i in 0..N {
        let day = 1 + i % 28;
        let text = article(&format!("Bài số {i:04}"), &format!("2024-03-{day:02}T{:02}:{:02}:00+07:00", i % 24, i % 60), &format!("Mục {}", i % 7));
        std::fs::write(store.join(format!("bai-{i:04}.md")), text).unwrap();
    }
    let written = started.elapsed();
    until(&server, "/healthz", Duration::from_secs(120), |r| health(r)["articles"] == N).await;
    let h = health(&get(&server.url("/healthz")).await);
    assert_eq!(h["errors"], 0);
    let feed = get(&server.url("/feed.json")).await;
    let json: serde_json::Value = serde_json::from_slice(&feed.body).unwrap();
    let titles: std::collections::BTreeSet<&str> =
        json["items"].as_array().unwrap().iter().map(|i| i["title"].as_str().unwrap()).collect();
    assert_eq!(titles.len(), N);
    for i in 0..N {
        assert!(titles.contains(format!("Bài số {i:04}").as_str()), "Bài số {i:04} missing");
    }
    eprintln!("wrote {N} files in {written:?}; all served after {:?}, generation {}", started.elapsed(), h["generation"]);
}

/// Under systemd: `NOTIFY_SOCKET` gets READY only once the feeds are
/// served, RELOADING/READY around a SIGHUP, WATCHDOG pings at half of
/// `WATCHDOG_USEC`, and STOPPING on SIGTERM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn systemd_notify_ready_reloading_watchdog_stopping() {
    let sock_dir = tempfile::tempdir().unwrap();
    let path = sock_dir.path().join("notify");
    let sock = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut server = Server::launch(
        &[("a.md", article("Bài đầu tiên", "2024-05-01T08:00:00+07:00", "Tin tức"))],
        "",
        &[("NOTIFY_SOCKET", path.to_str().unwrap()), ("WATCHDOG_USEC", "300000")],
        None,
    );
    let recv = |want: &str| -> Vec<String> {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = sock.recv(&mut buf).unwrap_or_else(|e| panic!("no {want} among {seen:?}: {e}"));
            let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
            let done = msg.lines().any(|l| l == want);
            seen.push(msg);
            if done {
                return seen;
            }
        }
    };
    let before_ready = recv("READY=1");
    assert!(!before_ready.iter().take(before_ready.len() - 1).any(|m| m.contains("READY=1")));
    // READY means the feeds are served: the address was logged first and a
    // feed answers right away. The log comes through a pipe read by a
    // thread of this test, which may lag the datagram by a moment under
    // load, so it is waited for (briefly) rather than read once.
    let logged = Instant::now() + Duration::from_secs(2);
    while !server.log().contains("listening on") {
        assert!(Instant::now() < logged, "READY=1 came but `listening on` was never logged:\n{}", server.log());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(get(&server.url("/feed.xml")).await.status, 200);
    let pings = recv("WATCHDOG=1");
    assert!(pings.iter().all(|m| !m.contains("STOPPING")));
    recv("WATCHDOG=1");

    server.signal("HUP");
    let reload = recv("RELOADING=1");
    let reloading = reload.last().unwrap();
    assert!(reloading.lines().any(|l| l.starts_with("MONOTONIC_USEC=")), "{reloading}");
    recv("READY=1");

    server.signal("TERM");
    recv("STOPPING=1");
    let status = server.wait_exit(Duration::from_secs(5)).expect("exits after SIGTERM");
    assert!(status.success());
}

/// With `LISTEN_FDS` (here from systemd-socket-activate, as bantin.socket
/// does) bantin serves on the passed socket, not on http.listen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_activation_serves_on_the_passed_socket() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let activate = which("systemd-socket-activate").expect("systemd-socket-activate (Debian package `systemd`) is needed");
    let wrapper = [activate.as_str(), "-l", listen.as_str(), "-E", "BANTIN_LOG=info"];
    let poke = || {
        // systemd-socket-activate starts bantin on the first connection;
        // the connection waits in the backlog and is answered once serving.
        let listen = listen.clone();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(mut c) = TcpStream::connect(&listen) {
                    let _ = c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
                    let mut out = String::new();
                    let _ = c.read_to_string(&mut out);
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
    };
    let server = Server::launch(
        &[("a.md", article("Bài đầu tiên", "2024-05-01T08:00:00+07:00", "Tin tức"))],
        "",
        &[],
        Some((&wrapper, &poke)),
    );
    assert_eq!(server.base, format!("http://{listen}"), "serves on the passed socket; log:\n{}", server.log());
    let reply = get(&server.url("/feed.xml")).await;
    assert_eq!(reply.status, 200);
    assert!(reply.text().contains("Bài đầu tiên"));
}

fn which(name: &str) -> Option<String> {
    std::env::var("PATH").ok()?.split(':').map(|d| format!("{d}/{name}")).find(|p| Path::new(p).is_file())
}

/// `BANTIN_LOG_FORMAT=json`: every log line is one JSON object with a level
/// and a message, for journald or a log shipper.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line() {
    let mut server = Server::launch(
        &[("a.md", article("Bài đầu tiên", "2024-05-01T08:00:00+07:00", "Tin tức"))],
        "",
        &[("BANTIN_LOG_FORMAT", "json")],
        None,
    );
    assert_eq!(get(&server.url("/feed.xml")).await.status, 200);
    server.signal("TERM");
    assert!(server.wait_exit(Duration::from_secs(5)).expect("exits").success());
    // The reader thread may still be draining the pipe.
    let deadline = Instant::now() + WAIT;
    while !server.log().contains("\"stopped\"") {
        assert!(Instant::now() < deadline, "no final line:\n{}", server.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = server.log();
    for line in log.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(v["level"].is_string() && v["message"].is_string(), "{line}");
    }
    assert!(log.lines().any(|l| l.contains("\"message\":\"listening on 127.0.0.1:")), "{log}");
}

/// A future-dated article is not served early, and appears at its time
/// without any change in the store (the service schedules a refresh).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_article_appears_on_time() {
    let _exclusive = crate::support::exclusive();
    let at = chrono::Utc::now() + chrono::Duration::seconds(3);
    let date = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    // The publication instant is the whole second written in the file.
    let at = chrono::DateTime::parse_from_rfc3339(&date).unwrap();
    let server = Server::start(
        &[
            ("a.md", article("Bài đã đăng", "2024-05-01T08:00:00+07:00", "Tin tức")),
            ("b.md", article("Bài hẹn giờ", &date, "Tin tức")),
        ],
        "",
    );
    let early = get(&server.url("/feed.xml")).await;
    assert!(!early.text().contains("Bài hẹn giờ"), "served before its time");
    let reply = until(&server, "/feed.xml", WAIT, |r| r.text().contains("Bài hẹn giờ")).await;
    assert!(chrono::Utc::now() >= at, "appeared before {at}");
    assert!(reply.text().contains("Bài đã đăng"));
}

/// A stand-in WebSub hub (no hub implementation is packaged for this
/// machine): it records each publish request's form body and answers the
/// first one with 503, the rest with 204, so a retry must happen.
fn fake_hub() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hub", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&bodies);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let first = {
                let mut b = seen.lock().unwrap();
                b.push(String::from_utf8_lossy(&body).into_owned());
                b.len() == 1
            };
            let status = if first { "503 Service Unavailable" } else { "204 No Content" };
            let _ = stream.write_all(format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").as_bytes());
        }
    });
    (url, bodies)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websub_hub_is_pinged_for_changed_feeds_with_retries() {
    let (hub, bodies) = fake_hub();
    let server = Server::launch(
        &[
            ("a.md", article("Bài một", "2024-05-01T08:00:00+07:00", "Kinh tế")),
            ("b.md", article("Bài hai", "2024-05-02T08:00:00+07:00", "Du lịch")),
        ],
        &format!("[feeds]\nwebsub_hub = \"{hub}\"\n"),
        &[("BANTIN_WEBSUB_RETRY_MS", "100")],
        None,
    );
    let feed = get(&server.url("/feed.xml")).await;
    assert!(feed.text().contains(&format!("<atom:link href=\"{hub}\" rel=\"hub\"/>")), "{}", feed.text());

    // Start-up announces every feed; the hub's 503 makes bantin try again.
    let deadline = Instant::now() + WAIT;
    while bodies.lock().unwrap().len() < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    {
        let b = bodies.lock().unwrap();
        assert!(b.len() >= 2, "no retry after the hub's 503: {b:?}");
        assert_eq!(b[0], b[1], "the retry repeats the same request");
        assert!(b[0].starts_with("hub.mode=publish&"), "{}", b[0]);
        assert!(b[0].contains("hub.url=http%3A%2F%2Ffeeds.example.org%2Ffeed.xml"), "{}", b[0]);
        assert!(b[0].contains("categories%2Fdu-lich%2Fatom.xml"), "{}", b[0]);
    }
    let before = bodies.lock().unwrap().len();

    // An article in one category: its feeds and the site's, not the other's.
    write(&server.store().join("c.md"), &article("Bài ba", "2024-05-03T08:00:00+07:00", "Kinh tế"));
    let deadline = Instant::now() + WAIT;
    while bodies.lock().unwrap().len() == before && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let b = bodies.lock().unwrap();
    let ping = b.last().unwrap();
    assert!(b.len() > before, "no ping after a change");
    assert!(ping.contains("hub.url=http%3A%2F%2Ffeeds.example.org%2Ffeed.json"), "{ping}");
    assert!(ping.contains("categories%2Fkinh-te%2Ffeed.xml"), "{ping}");
    assert!(!ping.contains("du-lich"), "an unchanged category's feeds were announced: {ping}");
}
