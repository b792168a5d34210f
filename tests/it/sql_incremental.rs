//! Reading only the rows a notification names gives what reading the whole
//! table gives (issue 24). Random sequences of inserts, updates (of
//! titles, dates, slugs, categories; some making a bad row) and deletes,
//! a few in one step, are run on a real SQLite table; after each step one
//! `TableState` reads just the touched keys (`sql::keys::fetch_keys` →
//! `apply_keys`, the catalog made by `next_catalog` from the previous
//! one) and another reads the whole table (`fetch` → `apply`, the catalog
//! built whole). Both must hold the same articles with the same ids, URLs
//! and titles, in the same order, and the same errors. Slugs are drawn to
//! collide, so the repeated-slug ids (`-2`, `-3`…) are exercised. 48 cases.

use bantin::live::table::TableState;
use bantin::store::sql::{self, keys, BodyFormat, Columns, Source};
use bantin::store::Context;
use bantin::Catalog;
use proptest::prelude::*;
use sqlx::AssertSqlSafe;

const TITLES: &[&str] = &["Tin mới", "Đà Lạt", "", "Hội nghị 2026", "Tin mới"];
const SLUGS: &[&str] = &["trung", "tin-moi", "da-lat", ""];
const CATEGORIES: &[&str] = &["Kinh tế", "Văn hóa", "Kinh tế, Du lịch", ""];

#[derive(Debug, Clone)]
enum Op {
    /// Insert or replace the row (an update when it exists).
    Put { key: u8, title: usize, day: u8, slug: usize, category: usize },
    Delete { key: u8 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u8..8, 0..TITLES.len(), 1u8..5, 0..SLUGS.len(), 0..CATEGORIES.len())
            .prop_map(|(key, title, day, slug, category)| Op::Put { key, title, day, slug, category }),
        1 => (0u8..8).prop_map(|key| Op::Delete { key }),
    ]
}

impl Op {
    fn key(&self) -> u8 {
        match self {
            Op::Put { key, .. } | Op::Delete { key } => *key,
        }
    }

    fn sql(&self) -> String {
        match self {
            Op::Put { key, title, day, slug, category } => format!(
                "INSERT OR REPLACE INTO articles (id, title, date, slug, categories) VALUES ({key}, '{}', '2024-05-0{day} 08:00', {}, '{}')",
                TITLES[*title],
                if SLUGS[*slug].is_empty() { "NULL".to_string() } else { format!("'{}'", SLUGS[*slug]) },
                CATEGORIES[*category]
            ),
            Op::Delete { key } => format!("DELETE FROM articles WHERE id = {key}"),
        }
    }
}

/// What a catalog holds, comparable: (id, URL, title) in catalog order,
/// and the errors.
fn seen(c: &Catalog) -> (Vec<(String, String, String)>, Vec<String>) {
    let articles = c.articles().iter().map(|a| (a.id().to_string(), a.url().into_owned(), a.title().to_string())).collect();
    let mut errors: Vec<String> = c.errors().iter().map(|e| e.to_string()).collect();
    errors.sort();
    (articles, errors)
}

async fn exec(pool: &sqlx::SqlitePool, sql: &str) {
    sqlx::raw_sql(AssertSqlSafe(sql.to_string())).execute(pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

fn run(steps: Vec<Vec<Op>>) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let _in_runtime = rt.enter();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("cms.db").display());
    rt.block_on(async {
        let writer = sqlx::SqlitePool::connect(&format!("{url}?mode=rwc")).await.unwrap();
        exec(&writer, "CREATE TABLE articles (id INTEGER PRIMARY KEY, title TEXT, date TEXT, slug TEXT, categories TEXT);
                       INSERT INTO articles VALUES (0, 'Khai mạc', '2024-05-01 07:00', 'trung', 'Kinh tế')")
            .await;
        let pool = sql::connect(&url).await.unwrap();
        let src = Source { url: url.clone(), table: "articles".into(), columns: Columns::default(), body_format: BodyFormat::Markdown };
        let src = sql::resolve(&pool, &src).await.unwrap();
        let ctx = Context::new(chrono_tz::Asia::Ho_Chi_Minh, url::Url::parse("https://yenbai.gov.vn/").unwrap(), "tin-tuc/{slug}");
        let mut inc = TableState::new(pool.clone(), src.clone(), ctx.clone(), Default::default());
        let mut full = TableState::new(pool.clone(), src.clone(), ctx, Default::default());
        let all = sql::fetch(&pool, &src).await.unwrap();
        inc.apply(all.clone());
        full.apply(all);
        let mut catalog = inc.catalog(1);
        for (n, step) in steps.iter().enumerate() {
            for op in step {
                exec(&writer, &op.sql()).await;
            }
            let touched: Vec<String> = step.iter().map(|op| op.key().to_string()).collect();
            let rows = keys::fetch_keys(&pool, &src, None, &touched).await.unwrap();
            assert!(rows.len() <= touched.len(), "only the touched rows are read");
            let whole_changed = full.apply(sql::fetch(&pool, &src).await.unwrap());
            assert_eq!(inc.apply_keys(&touched, rows), Some(whole_changed), "step {n}: {step:?}");
            catalog = inc.next_catalog(&catalog);
            let whole = full.catalog(catalog.generation);
            assert_eq!(seen(&catalog), seen(&whole), "step {n}: {step:?}");
        }
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn reading_the_touched_rows_equals_reading_the_table(steps in prop::collection::vec(prop::collection::vec(op(), 1..4), 1..12)) {
        run(steps);
    }
}
