//! SQL article stores against real databases: the PostgreSQL server this
//! machine runs (127.0.0.1:5432, database `test`; each test in a schema of
//! its own, dropped afterwards) and an SQLite file. A CMS-like table with
//! its own column names is mapped, read, changed, and read again.

use bantin::store::sql::{self, BodyFormat, Columns, Pool, Source};
use bantin::store::Context;
use crate::support::mailtest::PG;
use sqlx::AssertSqlSafe;

fn ctx() -> Context {
    Context::new(chrono_tz::Asia::Ho_Chi_Minh, url::Url::parse("https://yenbai.gov.vn/").unwrap(), "tin-tuc/{slug}")
}

/// A CMS's own names for the article fields.
fn cms_columns() -> Columns {
    Columns {
        id: "ma_bai".into(),
        title: "tieu_de".into(),
        date: "ngay_dang".into(),
        updated: Some("cap_nhat".into()),
        summary: Some("sapo".into()),
        body: Some("noi_dung".into()),
        categories: Some("chuyen_muc".into()),
        tags: None,
        author: Some("tac_gia".into()),
        slug: None,
        draft: Some("nhap".into()),
        image: None,
        url: None,
        given: vec!["id", "title", "date", "updated", "summary", "body", "categories", "author", "draft"],
    }
}

async fn exec(pool: &Pool, sql: &str) {
    match pool {
        Pool::Postgres(p) => sqlx::raw_sql(AssertSqlSafe(sql.to_string())).execute(p).await.map(|_| ()),
        Pool::Sqlite(p) => sqlx::raw_sql(AssertSqlSafe(sql.to_string())).execute(p).await.map(|_| ()),
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn check_store(pool: &Pool, src: &Source, writer: &Pool) {
    let scan = sql::load(pool, src, &ctx()).await.unwrap();
    assert_eq!(scan.errors.len(), 1, "{:?}", scan.errors);
    assert!(scan.errors[0].origin.ends_with("#3") && scan.errors[0].reason.contains("no title"), "{}", scan.errors[0]);
    assert_eq!(scan.articles.len(), 2);
    let a = scan.articles.iter().find(|a| a.id() == "1").unwrap();
    assert_eq!(a.title(), "Nghĩa Lộ: Hiệu quả từ những quyết sách lớn");
    assert_eq!(a.published.to_rfc3339(), "2020-02-21T08:56:00+07:00");
    assert_eq!(
        a.summary(),
        "Năm 2019, thị xã đã hoàn thành vượt mức 42/44 chỉ tiêu."
    );
    let names: Vec<_> = a.categories.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["Kinh tế", "Chính trị"]);
    assert_eq!(a.author.as_deref(), Some("Báo Yên Bái"));
    assert!(a.content_html().contains("<strong>đột phá</strong>"), "{}", a.content_html());
    assert!(!a.content_html().contains("script"));
    assert_eq!(a.url(), "https://yenbai.gov.vn/tin-tuc/nghia-lo-hieu-qua-tu-nhung-quyet-sach-lon");
    let draft = scan.articles.iter().find(|a| a.id() == "2").unwrap();
    assert!(draft.draft);

    let before = sql::signature(pool, src).await.unwrap();
    exec(writer, &format!("UPDATE {} SET tieu_de = 'Tiêu đề mới', cap_nhat = '2020-02-22T09:00:00+07:00' WHERE ma_bai = 1", src.table)).await;
    let after_update = sql::signature(pool, src).await.unwrap();
    assert_ne!(before, after_update, "an update changes the signature");
    exec(writer, &format!("DELETE FROM {} WHERE ma_bai = 2", src.table)).await;
    assert_ne!(after_update, sql::signature(pool, src).await.unwrap(), "a delete changes the signature");

    let scan = sql::load(pool, src, &ctx()).await.unwrap();
    let a = scan.articles.iter().find(|a| a.id() == "1").unwrap();
    assert_eq!(a.title(), "Tiêu đề mới", "identity survives the edit");
    assert!(scan.articles.iter().all(|a| a.id() != "2"));
}

#[tokio::test]
async fn postgres_table_with_cms_column_names() {
    let admin = sql::connect(PG).await.expect("PostgreSQL on 127.0.0.1:5432 (database test)");
    let schema = format!("bantin_store_{}", std::process::id());
    exec(&admin, &format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")).await;
    exec(
        &admin,
        &format!(
            "CREATE TABLE {schema}.bai_viet (ma_bai BIGINT PRIMARY KEY, tieu_de TEXT, ngay_dang TIMESTAMPTZ,
               cap_nhat TIMESTAMPTZ, sapo TEXT, noi_dung TEXT, chuyen_muc TEXT[], tac_gia TEXT, nhap BOOLEAN NOT NULL DEFAULT false);
             INSERT INTO {schema}.bai_viet VALUES
               (1, 'Nghĩa Lộ: Hiệu quả từ những quyết sách lớn', '2020-02-21T08:56:00+07:00', NULL,
                'Năm 2019, thị xã đã hoàn thành vượt mức 42/44 chỉ tiêu.', 'Ba khâu **đột phá** <script>x()</script>',
                ARRAY['Kinh tế','Chính trị'], 'Báo Yên Bái', false),
               (2, 'Bản nháp', '2020-02-22 10:00', NULL, NULL, 'x', NULL, NULL, true),
               (3, NULL, '2020-02-23 10:00', NULL, NULL, 'không có tiêu đề', NULL, NULL, false);"
        ),
    )
    .await;
    let src = Source {
        url: PG.into(),
        table: format!("{schema}.bai_viet"),
        columns: cms_columns(),
        body_format: BodyFormat::Markdown,
    };
    let pool = sql::connect(PG).await.unwrap();
    check_store(&pool, &src, &admin).await;
    exec(&admin, &format!("DROP SCHEMA {schema} CASCADE")).await;
}

#[tokio::test]
async fn sqlite_table_with_text_columns() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("cms.db").display());
    let writer = sql::connect(&url.replace("?mode=rwc", "")).await;
    assert!(writer.is_err(), "the store opens the database read-only, so a missing file is an error");
    let writer = match sqlx::sqlite::SqlitePool::connect(&url).await {
        Ok(p) => Pool::Sqlite(p),
        Err(e) => panic!("{e}"),
    };
    exec(
        &writer,
        "CREATE TABLE bai_viet (ma_bai INTEGER PRIMARY KEY, tieu_de TEXT, ngay_dang TEXT, cap_nhat TEXT,
           sapo TEXT, noi_dung TEXT, chuyen_muc TEXT, tac_gia TEXT, nhap BOOLEAN NOT NULL DEFAULT 0);
         INSERT INTO bai_viet VALUES
           (1, 'Nghĩa Lộ: Hiệu quả từ những quyết sách lớn', '21/02/2020 08:56', NULL,
            'Năm 2019, thị xã đã hoàn thành vượt mức 42/44 chỉ tiêu.', 'Ba khâu **đột phá** <script>x()</script>',
            'Kinh tế, Chính trị', 'Báo Yên Bái', 0),
           (2, 'Bản nháp', '2020-02-22 10:00', NULL, NULL, 'x', NULL, NULL, 1),
           (3, NULL, '2020-02-23 10:00', NULL, NULL, 'không có tiêu đề', NULL, NULL, 0);",
    )
    .await;
    let src = Source {
        url: url.clone(),
        table: "bai_viet".into(),
        columns: cms_columns(),
        body_format: BodyFormat::Markdown,
    };
    let pool = sql::connect(&url.replace("?mode=rwc", "")).await.unwrap();
    check_store(&pool, &src, &writer).await;
}

#[tokio::test]
async fn defaulted_columns_the_table_lacks_are_skipped_named_ones_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("cms.db").display());
    let writer = Pool::Sqlite(sqlx::sqlite::SqlitePool::connect(&format!("{url}?mode=rwc")).await.unwrap());
    exec(
        &writer,
        "CREATE TABLE articles (id INTEGER PRIMARY KEY, title TEXT, date TEXT, body TEXT);
         INSERT INTO articles VALUES (7, 'Mùa lúa chín', '2024-09-01 08:00', 'Ruộng bậc thang **vàng**');",
    )
    .await;
    let pool = sql::connect(&url).await.unwrap();
    let src = Source { url: url.clone(), table: "articles".into(), columns: Columns::default(), body_format: BodyFormat::Markdown };
    let resolved = sql::resolve(&pool, &src).await.unwrap();
    assert_eq!(resolved.columns.body.as_deref(), Some("body"));
    assert_eq!(resolved.columns.image, None, "a defaulted column the table lacks is not read");
    let scan = sql::load(&pool, &resolved, &ctx()).await.unwrap();
    assert_eq!(scan.articles.len(), 1, "{:?}", scan.errors);
    assert_eq!(scan.articles[0].id(), "7");
    assert!(scan.articles[0].content_html().contains("<strong>vàng</strong>"));

    let mut named = src.clone();
    named.columns.set("image", Some("anh_dai_dien".into()));
    named.columns.given.push("image");
    let e = sql::resolve(&pool, &named).await.unwrap_err();
    let text = e.to_string();
    assert!(text.contains("store.columns.image") && text.contains("anh_dai_dien") && text.contains("id, title, date, body"), "{text}");
    assert!(!e.is_unavailable(), "a wrong mapping is a configuration error");

    let mut no_title = src.clone();
    no_title.columns.set("title", Some("tieu_de".into()));
    let e = sql::resolve(&pool, &no_title).await.unwrap_err().to_string();
    assert!(e.contains("store.columns.title"), "{e}");
}

/// What `serve` holds of a table: a row whose values did not change keeps
/// its article (the same `Arc`, so the cache skips its feeds), a changed
/// row is parsed again, a gone row goes, and a key used twice is reported
/// without hiding the first row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_state_keeps_unchanged_rows_and_reports_duplicate_keys() {
    use bantin::live::table::TableState;
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("cms.db").display());
    let writer = Pool::Sqlite(sqlx::sqlite::SqlitePool::connect(&format!("{url}?mode=rwc")).await.unwrap());
    // No key constraint: a CMS view or a badly chosen id column.
    exec(
        &writer,
        "CREATE TABLE articles (id TEXT, title TEXT, date TEXT);
         INSERT INTO articles VALUES ('a', 'Bài A', '2024-01-01 08:00'), ('b', 'Bài B', '2024-01-02 08:00'),
                                     ('c', 'Bài C', '2024-01-03 08:00'), ('c', 'Bài C trùng', '2024-01-04 08:00');",
    )
    .await;
    let pool = sql::connect(&url).await.unwrap();
    let src = sql::resolve(&pool, &Source { url: url.clone(), table: "articles".into(), columns: Columns::default(), body_format: BodyFormat::Markdown })
        .await
        .unwrap();
    let mut state = TableState::new(pool.clone(), src.clone(), ctx(), Default::default());
    assert!(state.apply(sql::fetch(&pool, &src).await.unwrap()));
    let first = state.catalog(1);
    assert_eq!(first.articles().len(), 3);
    assert_eq!(first.get("c").unwrap().title(), "Bài C", "the first row keeps a key used twice");
    assert_eq!(first.errors().len(), 1);
    assert!(first.errors()[0].origin == "articles#c" && first.errors()[0].reason.contains("same id"), "{}", first.errors()[0]);

    assert!(!state.apply(sql::fetch(&pool, &src).await.unwrap()), "reading an unchanged table changes nothing");
    // Which of the rows keeps a key used twice is the whole read's to say.
    let c_rows = sql::keys::fetch_keys(&pool, &src, None, &["c".to_string()]).await.unwrap();
    assert_eq!(c_rows.len(), 2);
    assert_eq!(state.apply_keys(&["c".to_string()], c_rows), None, "a table with a key used twice is only read whole");
    exec(&writer, "UPDATE articles SET title = 'Bài B mới' WHERE id = 'b'; DELETE FROM articles WHERE id = 'a';").await;
    assert!(state.apply(sql::fetch(&pool, &src).await.unwrap()));
    let second = state.next_catalog(&first);
    assert_eq!(second.generation, 2);
    assert!(
        Arc::ptr_eq(first.get("c").unwrap(), second.get("c").unwrap()),
        "an unchanged row keeps its article"
    );
    assert_eq!(second.get("b").unwrap().title(), "Bài B mới");
    assert!(second.get("a").is_none());
}
