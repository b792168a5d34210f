//! `bantin serve` on PostgreSQL reading only the rows a notification
//! names (issue 24): the shipped trigger's `U:<key>`/`D:<key>` payloads
//! read those rows alone (no full read: the rescan counter stays put),
//! the previous trigger (the table's name as payload) and a TRUNCATE
//! still work by reading the whole table, and an edit no notification
//! or poll can see (no trigger, `updated` untouched) is caught by the
//! periodic full read. Polling (SQLite here, as for PostgreSQL without
//! the trigger) reads the rows changed since the newest `updated` seen,
//! and the whole table only for what that cannot explain (a delete).
//! The real binary, the real server; helpers shared with `serve_sql`.

use super::serve_sql::{config, Schema, Server, PG_TABLE, TRIGGER};
use crate::support::mailtest::PG;
use std::time::{Duration, Instant};

/// The trigger as shipped before issue 24: one notification per
/// statement, the table's name as payload.
const OLD_TRIGGER: &str = "CREATE OR REPLACE FUNCTION bantin_notify_articles() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('bantin_articles', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME);
    RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS bantin_notify ON articles;
CREATE TRIGGER bantin_notify
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON articles
    FOR EACH STATEMENT EXECUTE FUNCTION bantin_notify_articles();";

/// Full reads of the store since start (`/metrics`).
async fn rescans(server: &Server) -> u64 {
    let (_, metrics) = server.get("/metrics").await;
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("bantin_store_rescans_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no bantin_store_rescans_total in\n{metrics}"))
}

/// A schema with the test table and `trigger` installed, and `serve` on it
/// with polling and full reads once an hour unless `store` says otherwise.
async fn setup(tag: &str, trigger: Option<&str>, store: &str) -> (Schema, tempfile::TempDir, Server) {
    setup_with(tag, trigger, store, &[]).await
}

async fn setup_with(tag: &str, trigger: Option<&str>, store: &str, env: &[(&str, &str)]) -> (Schema, tempfile::TempDir, Server) {
    let schema = Schema::new(tag).await;
    let s = schema.name.clone();
    schema.exec(&format!("SET search_path TO {s}; {PG_TABLE}")).await;
    if let Some(trigger) = trigger {
        schema.exec(&format!("SET search_path TO {s};\n{trigger}")).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = config(dir.path(), &format!("[store]\nkind = \"postgres\"\nurl = \"{PG}\"\ntable = \"{s}.articles\"\n{store}"));
    let server = Server::start_with(&file, env);
    assert!(server.get("/feed.xml").await.1.contains("Khánh thành cầu mới"));
    (schema, dir, server)
}

const HOURLY: &str = "poll = \"1h\"\nrescan = \"1h\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_notified_rows_are_read_alone_for_insert_update_delete_and_a_changed_key() {
    let _exclusive = crate::support::exclusive();
    let (schema, _dir, server) = setup("rows_pg", Some(TRIGGER), HOURLY).await;
    let s = &schema.name;
    let before = rescans(&server).await;

    let t = Instant::now();
    schema.exec(&format!("INSERT INTO {s}.articles (id, title, date, categories) VALUES (3, 'Chợ phiên vùng cao', '2024-05-03T08:00:00+07:00', ARRAY['Kinh tế'])")).await;
    let a = server.within_a_second("insert", "/categories/kinh-te/feed.xml", t, |_, b| b.contains("Chợ phiên vùng cao")).await;

    // An edit that leaves `updated` alone: the row trigger names it all the same.
    let t = Instant::now();
    schema.exec(&format!("UPDATE {s}.articles SET title = 'Chợ phiên đông vui' WHERE id = 3")).await;
    let b = server.within_a_second("update", "/feed.xml", t, |_, b| b.contains("Chợ phiên đông vui") && !b.contains("Chợ phiên vùng cao")).await;

    let t = Instant::now();
    schema.exec(&format!("DELETE FROM {s}.articles WHERE id = 2")).await;
    let c = server.within_a_second("delete", "/categories/van-hoa/feed.xml", t, |status, _| status == 404).await;
    assert!(!server.get("/feed.xml").await.1.contains("Lễ hội đền Đông Cuông"));

    // A key changed by an update: the old key goes, the new one comes.
    let guid = |feed: &str| {
        let at = feed.find("Chợ phiên đông vui").unwrap_or_else(|| panic!("no item in {feed}"));
        feed[at..].split("<guid").nth(1).unwrap().split("</guid>").next().unwrap().to_string()
    };
    let old_guid = guid(&server.get("/feed.xml").await.1);
    let t = Instant::now();
    schema.exec(&format!("UPDATE {s}.articles SET id = 30 WHERE id = 3")).await;
    server.within_a_second("changed key", "/feed.xml", t, |_, b| b.contains("Chợ phiên đông vui") && guid(b) != old_guid).await;
    let (_, feed) = server.get("/feed.xml").await;
    assert_eq!(feed.matches("Chợ phiên đông vui").count(), 1, "one item for the row, under its new key: {feed}");

    // Several rows in one transaction: one burst, all applied.
    let t = Instant::now();
    schema
        .exec(&format!(
            "BEGIN; INSERT INTO {s}.articles (id, title, date) VALUES (4, 'Mùa lúa chín', '2024-05-04T08:00:00+07:00');
             UPDATE {s}.articles SET title = 'Cầu mới thông xe' WHERE id = 1; DELETE FROM {s}.articles WHERE id = 30; COMMIT;"
        ))
        .await;
    server
        .within_a_second("transaction", "/feed.xml", t, |_, b| b.contains("Mùa lúa chín") && b.contains("Cầu mới thông xe") && !b.contains("Chợ phiên"))
        .await;
    assert_eq!(rescans(&server).await, before, "named rows are read alone, never the whole table");

    // More rows at once than one read by key takes (500): one full read.
    let t = Instant::now();
    schema
        .exec(&format!(
            "INSERT INTO {s}.articles (id, title, date) SELECT 1000 + i, 'Tin nhanh số ' || i, timestamptz '2024-06-01 08:00+07' + i * interval '1 minute' FROM generate_series(1, 600) i"
        ))
        .await;
    server.within_a_second("bulk insert", "/feed.xml", t, |_, b| b.contains("Tin nhanh số 600")).await;
    // (The burst may be cut in two by the scheduler: at most two reads.)
    let bulk = rescans(&server).await - before;
    assert!((1..=2).contains(&bulk), "600 rows at once are read whole, once or twice, not by key: {bulk}");

    // TRUNCATE names no row: the whole table is read.
    let t = Instant::now();
    schema.exec(&format!("TRUNCATE {s}.articles")).await;
    server.within_a_second("truncate", "/feed.xml", t, |_, b| !b.contains("Mùa lúa chín") && !b.contains("Cầu mới") && !b.contains("Tin nhanh")).await;
    assert_eq!(rescans(&server).await, before + bulk + 1, "a TRUNCATE is one full read");
    eprintln!("PostgreSQL, rows named by the trigger: insert {a:?}, update {b:?}, delete {c:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_with_the_previous_trigger_still_follows_by_full_reads() {
    let _exclusive = crate::support::exclusive();
    let (schema, _dir, server) = setup("oldtrg_pg", Some(OLD_TRIGGER), HOURLY).await;
    let s = &schema.name;
    let before = rescans(&server).await;
    let t = Instant::now();
    schema.exec(&format!("UPDATE {s}.articles SET title = 'Cầu mới thông xe' WHERE id = 1")).await;
    server.within_a_second("update", "/feed.xml", t, |_, b| b.contains("Cầu mới thông xe")).await;
    let t = Instant::now();
    schema.exec(&format!("DELETE FROM {s}.articles WHERE id = 2")).await;
    server.within_a_second("delete", "/feed.xml", t, |_, b| !b.contains("Lễ hội đền Đông Cuông")).await;
    assert!(rescans(&server).await >= before + 2, "each notification without a row key is a full read");
    // An empty payload (what the new trigger sends for TRUNCATE) too.
    let t = Instant::now();
    schema.exec(&format!("DROP TRIGGER bantin_notify ON {s}.articles; INSERT INTO {s}.articles (id, title, date) VALUES (5, 'Mùa lúa chín', '2024-05-04T08:00:00+07:00'); NOTIFY bantin_articles")).await;
    server.within_a_second("empty payload", "/feed.xml", t, |_, b| b.contains("Mùa lúa chín")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_edit_without_updated_and_without_trigger_is_caught_by_the_rescan() {
    let _exclusive = crate::support::exclusive();
    let rescan = Duration::from_secs(2);
    let (schema, _dir, server) = setup_with("rescan_pg", None, "poll = \"250ms\"\nrescan = \"2s\"\n", &[("BANTIN_LOG", "info,bantin::live=debug")]).await;
    let s = &schema.name;
    // An edit that sets `updated`: the poll reads the rows at or after the
    // newest `updated` seen (the timestamptz round trip through text).
    let t = Instant::now();
    schema.exec(&format!("UPDATE {s}.articles SET title = 'Cầu mới thông xe', updated = now() WHERE id = 1")).await;
    server.within_a_second("update", "/feed.xml", t, |_, b| b.contains("Cầu mới thông xe")).await;
    let log = server.log();
    assert!(log.lines().any(|l| l.contains("rows changed since the watermark read") && l.contains("changed=true explained=true")), "{log}");

    // No trigger, and neither the row count, nor the newest `updated`, nor
    // the highest key moves: no poll can see this edit.
    let t = Instant::now();
    schema.exec(&format!("UPDATE {s}.articles SET title = 'Lễ hội xuân' WHERE id = 2")).await;
    loop {
        if server.get("/feed.xml").await.1.contains("Lễ hội xuân") {
            break;
        }
        assert!(t.elapsed() < rescan + Duration::from_secs(2), "not caught within one rescan period; log:\n{}", server.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("PostgreSQL without trigger, edit without updated: served after {:?} (store.rescan {rescan:?})", t.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_polling_reads_rows_changed_since_the_watermark_and_the_table_for_a_delete() {
    let _exclusive = crate::support::exclusive();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cms.db");
    let writer = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=rwc", db.display())).await.unwrap();
    let exec = |sql: String| {
        let writer = writer.clone();
        async move { sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone())).execute(&writer).await.unwrap_or_else(|e| panic!("{sql}: {e}")) }
    };
    exec("CREATE TABLE articles (id INTEGER PRIMARY KEY, title TEXT, date TEXT, updated TEXT);
          INSERT INTO articles VALUES (1, 'Mùa vàng', '2024-09-01 08:00', '2024-09-01 08:00'),
                                      (2, 'Hồ Thác Bà', '2024-09-02 08:00', '2024-09-02 08:00');".into())
    .await;
    let file = config(dir.path(), &format!("[store]\nkind = \"sqlite\"\nurl = \"sqlite://{}\"\nrescan = \"1h\"\n", db.display()));
    let server = Server::start_with(&file, &[("BANTIN_LOG", "info,bantin::live=debug")]);
    assert!(server.get("/feed.xml").await.1.contains("Mùa vàng"));
    let full_reads = |log: &str| log.matches("article table read").count();
    let partial = "rows changed since the watermark read";

    // An edit and an insert that set `updated`: read alone (two rows at
    // most: the changed one, and the one at the watermark), no full read.
    let t = Instant::now();
    exec("UPDATE articles SET title = 'Mùa vàng rực rỡ', updated = '2024-09-03 08:00' WHERE id = 1".into()).await;
    server.within_a_second("update", "/feed.xml", t, |_, b| b.contains("Mùa vàng rực rỡ")).await;
    let t = Instant::now();
    exec("INSERT INTO articles VALUES (3, 'Chợ phiên', '2024-09-04 08:00', '2024-09-04 08:00')".into()).await;
    server.within_a_second("insert", "/feed.xml", t, |_, b| b.contains("Chợ phiên")).await;
    let log = server.log();
    assert_eq!(log.matches(partial).count(), 2, "{log}");
    assert!(log.lines().filter(|l| l.contains(partial)).all(|l| l.contains("changed=true explained=true")), "{log}");
    assert_eq!(full_reads(&log), 0, "no full read for changes the watermark shows: {log}");

    // A delete: the row count tells, the whole table is read.
    let t = Instant::now();
    exec("DELETE FROM articles WHERE id = 2".into()).await;
    server.within_a_second("delete", "/feed.xml", t, |_, b| !b.contains("Hồ Thác Bà")).await;
    assert_eq!(full_reads(&server.log()), 1, "{}", server.log());
}
