//! The store followed: adds, edits, renames and deletes served with only
//! what changed re-rendered, the store folder removed and recreated, 5,000
//! files at once, a future article on time, and WebSub hubs told.

use super::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::{Arc, Mutex};

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
