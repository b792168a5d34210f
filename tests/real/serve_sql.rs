//! `bantin serve`, `check` and `build` on SQL article stores, end to end:
//! the real binary against the PostgreSQL server this machine runs
//! (127.0.0.1:5432, database `test`; each test in a schema of its own,
//! dropped afterwards) and against an SQLite file in a temporary folder.
//! Rows are inserted, updated and deleted by a second connection, as a CMS
//! would, and each change must be served within a second.

use crate::support::mailtest::PG;
use crate::support::serve::Serve;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The DESIGN.md promise: a change reaches the feeds within a second.
pub(crate) const WITHIN: Duration = Duration::from_secs(1);
pub(crate) const TRIGGER: &str = include_str!("../../docs/sql/postgres-notify-trigger.sql");

pub(crate) fn config(dir: &Path, store: &str) -> std::path::PathBuf {
    let file = dir.join("bantin.toml");
    let text = format!(
        "[site]\ntitle = \"Cổng thông tin thử nghiệm\"\nbase_url = \"https://portal.example.org\"\n\
         [http]\nlisten = \"127.0.0.1:0\"\npublic_url = \"http://feeds.example.org/\"\n\
         [state]\nurl = \"sqlite://{}\"\n{store}",
        dir.join("state.db").display()
    );
    std::fs::write(&file, text).unwrap();
    file
}

/// A [`Serve`] with async requests for these tests.
pub(crate) struct Server {
    serve: Serve,
}

impl Server {
    pub(crate) fn start(config: &Path) -> Server {
        Server { serve: Serve::start(config) }
    }

    /// With extra environment variables (`BANTIN_LOG`, to see the reads).
    pub(crate) fn start_with(config: &Path, env: &[(&str, &str)]) -> Server {
        Server { serve: Serve::start_with(config, env) }
    }

    pub(crate) fn log(&self) -> String {
        self.serve.log()
    }

    pub(crate) async fn get(&self, path: &str) -> (u16, String) {
        let resp = self.response(path).await;
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap())
    }

    async fn response(&self, path: &str) -> reqwest::Response {
        let url = self.serve.url(path);
        reqwest::Client::builder().no_proxy().build().unwrap().get(&url).send().await.unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    async fn etag(&self, path: &str) -> String {
        let resp = self.response(path).await;
        resp.headers().get("etag").map(|v| v.to_str().unwrap().to_string()).unwrap_or_else(|| panic!("{path}: no ETag"))
    }

    /// Polls `path` until `pred` holds, failing when that takes longer than
    /// a second; returns how long it took.
    pub(crate) async fn within_a_second(&self, what: &str, path: &str, since: Instant, pred: impl Fn(u16, &str) -> bool) -> Duration {
        loop {
            let (status, body) = self.get(path).await;
            if pred(status, &body) {
                return since.elapsed();
            }
            if since.elapsed() > WITHIN {
                panic!("{what}: {path} did not follow within {WITHIN:?} (status {status}); body:\n{body}\nlog:\n{}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn wait_log(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.log().contains(needle) {
            assert!(Instant::now() < deadline, "no {needle:?} in the log:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn bantin(args: &[&str], config: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_bantin")).args(args).arg("--config").arg(config).output().unwrap()
}

/// A schema of the test's own in the `test` database, dropped on drop.
pub(crate) struct Schema {
    pub(crate) name: String,
    pub(crate) pool: sqlx::PgPool,
}

impl Schema {
    pub(crate) async fn new(tag: &str) -> Schema {
        let pool = sqlx::PgPool::connect(PG).await.expect("PostgreSQL on 127.0.0.1:5432 (database test)");
        let name = format!("bantin_{tag}_{}", std::process::id());
        let schema = Schema { name, pool };
        schema.exec(&format!("DROP SCHEMA IF EXISTS {0} CASCADE; CREATE SCHEMA {0}", schema.name)).await;
        schema
    }

    pub(crate) async fn exec(&self, sql: &str) {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string())).execute(&self.pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let (url, name) = (PG.to_string(), self.name.clone());
        // The test's runtime may be gone; drop the schema on a runtime of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                if let Ok(pool) = sqlx::PgPool::connect(&url).await {
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {name} CASCADE"))).execute(&pool).await;
                }
            })
        })
        .join();
    }
}

/// The table of DESIGN.md's field names (bantin's default mapping), as a
/// CMS would keep it; no `tags`, `image` or `url` columns.
pub(crate) const PG_TABLE: &str = "CREATE TABLE articles (id BIGINT PRIMARY KEY, title TEXT, date TIMESTAMPTZ NOT NULL,
    updated TIMESTAMPTZ NOT NULL DEFAULT now(), summary TEXT, body TEXT, categories TEXT[], author TEXT,
    slug TEXT, draft BOOLEAN NOT NULL DEFAULT false);
  INSERT INTO articles (id, title, date, summary, body, categories) VALUES
    (1, 'Khánh thành cầu mới', '2024-05-01T08:00:00+07:00', 'Cầu mới nối hai bờ.', 'Nội dung **cầu**.', ARRAY['Kinh tế']),
    (2, 'Lễ hội đền Đông Cuông', '2024-05-02T08:00:00+07:00', 'Lễ hội đầu xuân.', 'Nội dung lễ hội.', ARRAY['Văn hóa']);";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_rows_reach_the_feeds_within_a_second_by_notify_and_after_the_listener_is_cut() {
    let _exclusive = crate::support::exclusive();
    let schema = Schema::new("serve_pg").await;
    let s = &schema.name;
    schema.exec(&format!("SET search_path TO {s}; {PG_TABLE}")).await;
    // The shipped trigger, installed as its header says.
    schema.exec(&format!("SET search_path TO {s};\n{TRIGGER}")).await;
    let app = format!("bantin_serve_pg_{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    // Polling only once an hour: only the notification can be this fast.
    let file = config(
        dir.path(),
        &format!("[store]\nkind = \"postgres\"\nurl = \"{PG}?application_name={app}\"\ntable = \"{s}.articles\"\npoll = \"1h\"\nrescan = \"1h\"\n"),
    );
    let server = Server::start(&file);
    let (status, feed) = server.get("/feed.xml").await;
    assert_eq!(status, 200);
    assert!(feed.contains("Khánh thành cầu mới") && feed.contains("Lễ hội đền Đông Cuông"), "{feed}");
    assert!(server.log().contains("listening for article changes"), "{}", server.log());

    // Insert: the site feed and the row's category follow; the other
    // category's feed is not rendered again (same ETag).
    let culture_etag = server.etag("/categories/van-hoa/feed.xml").await;
    let t = Instant::now();
    schema.exec(&format!("INSERT INTO {s}.articles (id, title, date, summary, body, categories) VALUES (3, 'Chợ phiên vùng cao', '2024-05-03T08:00:00+07:00', 'Chợ họp sáng chủ nhật.', 'Nội dung chợ.', ARRAY['Kinh tế'])")).await;
    let a = server.within_a_second("insert", "/feed.xml", t, |_, b| b.contains("Chợ phiên vùng cao")).await;
    let (_, economy) = server.get("/categories/kinh-te/feed.xml").await;
    assert!(economy.contains("Chợ phiên vùng cao"), "the category feed follows with the site feed: {economy}");
    assert_eq!(server.etag("/categories/van-hoa/feed.xml").await, culture_etag, "an untouched feed keeps its bytes");

    // Update: same row key, same item id, new title.
    let guid = |feed: &str, title: &str| {
        let at = feed.find(title).unwrap_or_else(|| panic!("no {title} in {feed}"));
        feed[at..].split("<guid").nth(1).unwrap().split("</guid>").next().unwrap().to_string()
    };
    let old_guid = guid(&server.get("/feed.xml").await.1, "Chợ phiên vùng cao");
    let t = Instant::now();
    schema.exec(&format!("UPDATE {s}.articles SET title = 'Chợ phiên vùng cao đông vui', updated = now() WHERE id = 3")).await;
    let b = server.within_a_second("update", "/categories/kinh-te/feed.xml", t, |_, b| b.contains("Chợ phiên vùng cao đông vui")).await;
    assert_eq!(guid(&server.get("/feed.xml").await.1, "Chợ phiên vùng cao đông vui"), old_guid, "the row key is the identity");

    // Delete: the item goes, and with the last article of a category its feed.
    let t = Instant::now();
    schema.exec(&format!("DELETE FROM {s}.articles WHERE id = 2")).await;
    let c = server.within_a_second("delete", "/feed.xml", t, |_, b| !b.contains("Lễ hội đền Đông Cuông")).await;
    assert_eq!(server.get("/categories/van-hoa/feed.xml").await.0, 404);

    // A bad row is reported by table and key, and hides no other row.
    let t = Instant::now();
    schema.exec(&format!("INSERT INTO {s}.articles (id, title, date) VALUES (4, NULL, '2024-05-04T08:00:00+07:00')")).await;
    server.within_a_second("bad row", "/healthz", t, |_, b| serde_json::from_str::<serde_json::Value>(b).is_ok_and(|h| h["errors"] == 1)).await;
    server.wait_log(&format!("{s}.articles#4")).await;
    let (_, metrics) = server.get("/metrics").await;
    assert!(metrics.contains("bantin_catalog_article_errors 1"), "{metrics}");
    assert!(server.get("/feed.xml").await.1.contains("Khánh thành cầu mới"));

    // The listener's connection cut (as a database restart does): it is
    // made again, and changes are followed as fast as before.
    let listeners = || async {
        sqlx::query_scalar::<_, i32>("SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query ILIKE 'LISTEN%'")
            .bind(&app)
            .fetch_all(&schema.pool)
            .await
            .unwrap()
    };
    let old = listeners().await;
    assert_eq!(old.len(), 1, "one listening connection");
    schema.exec(&format!("SELECT pg_terminate_backend({})", old[0])).await;
    let log_before = server.log().len();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !server.log()[log_before..].contains("listener") {
        assert!(Instant::now() < deadline, "the lost listener was not noticed; log:\n{}", server.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if listeners().await.iter().any(|pid| *pid != old[0]) {
            break;
        }
        assert!(Instant::now() < deadline, "the listener did not come back; log:\n{}", server.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let t = Instant::now();
    schema.exec(&format!("UPDATE {s}.articles SET title = 'Cầu mới thông xe', updated = now() WHERE id = 1")).await;
    let d = server.within_a_second("update after reconnect", "/feed.xml", t, |_, b| b.contains("Cầu mới thông xe")).await;
    eprintln!("PostgreSQL, notified: insert {a:?}, update {b:?}, delete {c:?}, after reconnect {d:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_without_the_trigger_follows_by_polling_within_a_second() {
    let _exclusive = crate::support::exclusive();
    let schema = Schema::new("poll_pg").await;
    let s = &schema.name;
    schema.exec(&format!("SET search_path TO {s}; {PG_TABLE}")).await;
    let dir = tempfile::tempdir().unwrap();
    let file = config(dir.path(), &format!("[store]\nkind = \"postgres\"\nurl = \"{PG}\"\ntable = \"{s}.articles\"\n"));
    let server = Server::start(&file);
    let t = Instant::now();
    schema.exec(&format!("INSERT INTO {s}.articles (id, title, date, categories) VALUES (5, 'Đường cao tốc mới', '2024-05-05T08:00:00+07:00', ARRAY['Giao thông'])")).await;
    let a = server.within_a_second("insert", "/categories/giao-thong/feed.xml", t, |status, b| status == 200 && b.contains("Đường cao tốc mới")).await;
    let t = Instant::now();
    schema.exec(&format!("UPDATE {s}.articles SET title = 'Đường cao tốc thông xe', updated = now() WHERE id = 5")).await;
    let b = server.within_a_second("update", "/feed.xml", t, |_, b| b.contains("Đường cao tốc thông xe")).await;
    let t = Instant::now();
    schema.exec(&format!("DELETE FROM {s}.articles WHERE id = 5")).await;
    let c = server.within_a_second("delete", "/categories/giao-thong/feed.xml", t, |status, _| status == 404).await;
    eprintln!("PostgreSQL without the trigger, polled every 250 ms (the default): insert {a:?}, update {b:?}, delete {c:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_rows_reach_the_feeds_within_a_second_by_polling_alone() {
    let _exclusive = crate::support::exclusive();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cms.db");
    let writer = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=rwc", db.display())).await.unwrap();
    let exec = |sql: String| {
        let writer = writer.clone();
        async move { sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone())).execute(&writer).await.unwrap_or_else(|e| panic!("{sql}: {e}")) }
    };
    // A CMS's own column names, mapped in the config; no trigger exists.
    exec("CREATE TABLE bai_viet (ma INTEGER PRIMARY KEY, tieu_de TEXT, ngay TEXT, sua TEXT, sapo TEXT, noi_dung TEXT, chuyen_muc TEXT);
          INSERT INTO bai_viet VALUES (1, 'Mùa vàng Mù Cang Chải', '2024-09-01 08:00', '2024-09-01 08:00', 'Ruộng bậc thang.', '<p>Nội dung</p>', 'Du lịch');".into()).await;
    let file = config(
        dir.path(),
        &format!(
            "[store]\nkind = \"sqlite\"\nurl = \"sqlite://{}\"\ntable = \"bai_viet\"\nbody_format = \"html\"\n\
             [store.columns]\nid = \"ma\"\ntitle = \"tieu_de\"\ndate = \"ngay\"\nupdated = \"sua\"\nsummary = \"sapo\"\nbody = \"noi_dung\"\ncategories = \"chuyen_muc\"\n",
            db.display()
        ),
    );
    let server = Server::start(&file);
    assert!(server.get("/feed.xml").await.1.contains("Mùa vàng Mù Cang Chải"));

    let t = Instant::now();
    exec("INSERT INTO bai_viet VALUES (2, 'Hồ Thác Bà mùa hè', '2024-06-01 08:00', '2024-06-01 08:00', 'Hồ đẹp.', '<p>Hồ</p>', 'Du lịch')".into()).await;
    let a = server.within_a_second("insert", "/categories/du-lich/feed.xml", t, |_, b| b.contains("Hồ Thác Bà mùa hè")).await;
    // `sua` stays older than the newest one: the newest-change column
    // alone cannot tell, the database's data version does.
    let t = Instant::now();
    exec("UPDATE bai_viet SET tieu_de = 'Hồ Thác Bà rực nắng', sua = '2024-06-02 09:00' WHERE ma = 2".into()).await;
    let b = server.within_a_second("update", "/feed.xml", t, |_, b| b.contains("Hồ Thác Bà rực nắng")).await;
    let t = Instant::now();
    exec("DELETE FROM bai_viet WHERE ma = 1".into()).await;
    let c = server.within_a_second("delete", "/feed.json", t, |_, b| !b.contains("Mùa vàng Mù Cang Chải")).await;
    assert!(server.get("/feed.json").await.1.contains("Hồ Thác Bà rực nắng"));
    eprintln!("SQLite, polled every 250 ms (the default): insert {a:?}, update {b:?}, delete {c:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_a_bad_row_and_build_writes_the_good_ones() {
    let schema = Schema::new("check_pg").await;
    let s = &schema.name;
    schema.exec(&format!("SET search_path TO {s}; {PG_TABLE} INSERT INTO articles (id, title, date) VALUES (9, '', '2024-05-09T08:00:00+07:00');")).await;
    let dir = tempfile::tempdir().unwrap();
    let file = config(dir.path(), &format!("[store]\nkind = \"postgres\"\nurl = \"{PG}\"\ntable = \"{s}.articles\"\n"));

    let out = bantin(&["check"], &file);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(&format!("error: {s}.articles#9: ")) && stdout.contains("title"), "{stdout}");
    assert!(stdout.contains("2 articles read from postgres://postgres@127.0.0.1:5432/test table") && stdout.contains("1 rows with errors"), "{stdout}");
    assert_eq!(bantin(&["check", "--strict"], &file).status.code(), Some(65));

    let out_dir = dir.path().join("out");
    let out = bantin(&["build", "--out", out_dir.to_str().unwrap()], &file);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let feed = std::fs::read_to_string(out_dir.join("feed.xml")).unwrap();
    assert!(feed.contains("Khánh thành cầu mới") && feed.contains("Lễ hội đền Đông Cuông"), "{feed}");
    assert!(out_dir.join("categories/van-hoa/feed.xml").is_file());

    // A database that does not answer: 69, the URL shown without its password.
    let down = config(dir.path(), "[store]\nkind = \"postgres\"\nurl = \"postgres://postgres:geheim@127.0.0.1:1/test\"\n");
    // (Both at once: each waits out the connect timeout.)
    std::thread::scope(|scope| {
        for args in [&["check"][..], &["serve"][..]] {
            let down = &down;
            scope.spawn(move || {
                let out = bantin(args, down);
                let stderr = String::from_utf8_lossy(&out.stderr);
                assert_eq!(out.status.code(), Some(69), "{args:?}: {stderr}");
                assert!(stderr.contains("postgres://postgres:***@127.0.0.1:1/test") && !stderr.contains("geheim"), "{args:?}: {stderr}");
            });
        }
    });

    // A mapping the table does not have: 78, naming the key.
    let wrong = config(dir.path(), &format!("[store]\nkind = \"postgres\"\nurl = \"{PG}\"\ntable = \"{s}.articles\"\n[store.columns]\nimage = \"anh\"\n"));
    let out = bantin(&["check"], &wrong);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    assert!(stderr.contains("store.columns.image") && stderr.contains("\"anh\""), "{stderr}");
}
