//! Schema version 6 (frequency `instant`) on a database the previous
//! release made: every subscriber row, id and the id counter kept (SQLite
//! rebuilds the table for the new CHECK), the tables that refer to
//! subscribers still cascading, the indexes still there; `instant` is
//! accepted and anything else still refused. On both backends.

use crate::support::mailtest;

use bantin::state::{Frequency, StateStore};
use mailtest::{Backend, StateDb};
use sqlx::Row;

/// Runs the migrations up to version 5, as the previous release left a
/// database.
async fn database_at_version_5(db: &StateDb) -> sqlx::AnyPool {
    use sqlx::migrate::{Migration, MigrationType, Migrator};
    sqlx::any::install_default_drivers();
    let (url, files): (String, [&'static str; 5]) = match db.backend {
        Backend::Sqlite => {
            std::fs::create_dir_all(bantin::state::sqlite_path(&db.url).unwrap().parent().unwrap()).unwrap();
            (
                format!("{}?mode=rwc", db.url),
                [
                    include_str!("../../migrations/sqlite/0001_subscribers_outbox.sql"),
                    include_str!("../../migrations/sqlite/0002_token_key.sql"),
                    include_str!("../../migrations/sqlite/0003_outbox_bodies.sql"),
                    include_str!("../../migrations/sqlite/0004_bounces.sql"),
                    include_str!("../../migrations/sqlite/0005_delivered.sql"),
                ],
            )
        }
        Backend::Postgres => (
            db.url.clone(),
            [
                include_str!("../../migrations/postgres/0001_subscribers_outbox.sql"),
                include_str!("../../migrations/postgres/0002_token_key.sql"),
                include_str!("../../migrations/postgres/0003_outbox_bodies.sql"),
                include_str!("../../migrations/postgres/0004_bounces.sql"),
                include_str!("../../migrations/postgres/0005_delivered.sql"),
            ],
        ),
    };
    let pool = sqlx::any::AnyPoolOptions::new().max_connections(1).connect(&url).await.unwrap();
    let migrations = files
        .iter()
        .enumerate()
        .map(|(i, sql)| {
            let no_tx = sql.starts_with("-- no-transaction");
            Migration::new(i as i64 + 1, "".into(), MigrationType::Simple, sqlx::SqlStr::from_static(sql), no_tx)
        })
        .collect();
    Migrator::with_migrations(migrations).run(&pool).await.unwrap();
    pool
}

async fn count(pool: &sqlx::AnyPool, sql: &'static str) -> i64 {
    sqlx::query(sql).fetch_one(pool).await.unwrap().get::<i64, _>(0)
}

async fn version_6_allows_instant_and_keeps_every_row_id_and_index(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::new(backend, dir.path());
    let old = database_at_version_5(&db).await;
    for (email, frequency, status) in
        [("a@example.org", "daily", "active"), ("b@example.org", "weekly", "bouncing"), ("gone@example.org", "daily", "active")]
    {
        sqlx::query(
            "INSERT INTO subscribers (email, topics, frequency, status, created_at, confirmed_at, bounce_count, last_period, \
             last_digest_at, last_bounce_reason, last_bounce_at) VALUES ($1, 'kinh-te', $2, $3, 1, 2, 3, 'daily:2026-08-30', 4, '4.2.2 full', 5)",
        )
        .bind(email)
        .bind(frequency)
        .bind(status)
        .execute(&old)
        .await
        .unwrap();
    }
    // The highest id is erased: it must never be given again.
    sqlx::query("DELETE FROM subscribers WHERE email = 'gone@example.org'").execute(&old).await.unwrap();
    sqlx::query("INSERT INTO sent_articles (subscriber_id, article_id, period_key) VALUES (1, 'x', 'daily:2026-08-30')")
        .execute(&old)
        .await
        .unwrap();
    let refused = sqlx::query("UPDATE subscribers SET frequency = 'instant' WHERE id = 1").execute(&old).await;
    assert!(refused.is_err(), "version 5 refuses instant");
    old.close().await;

    let state = StateStore::open(&db.url).await.unwrap();
    let a = state.subscriber_by_email("a@example.org").await.unwrap().unwrap();
    let b = state.subscriber_by_email("b@example.org").await.unwrap().unwrap();
    assert_eq!((a.id, b.id), (1, 2));
    assert_eq!((a.topics.as_slice(), a.frequency, a.bounce_count, a.last_period.as_deref()), (&["kinh-te".to_string()][..], Frequency::Daily, 3, Some("daily:2026-08-30")));
    assert_eq!((b.frequency, b.status.as_str(), b.last_bounce_reason.as_deref()), (Frequency::Weekly, "bouncing", Some("4.2.2 full")));
    assert!(state.set_preferences(1, &[], Frequency::Instant).await.unwrap());
    assert_eq!(state.subscriber_by_email("a@example.org").await.unwrap().unwrap().frequency, Frequency::Instant);

    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    let bad = sqlx::query("UPDATE subscribers SET frequency = 'hourly' WHERE id = 2").execute(&pool).await;
    assert!(bad.is_err(), "the CHECK still refuses other frequencies");
    let new = mailtest::active_subscriber(&state, "c@example.org", mailtest::fixed_now()).await;
    assert_eq!(new.id, 4, "the id counter is kept: the erased id 3 is not given again");
    // sent_articles still refers to subscribers and cascades.
    sqlx::query("DELETE FROM subscribers WHERE id = 1").execute(&pool).await.unwrap();
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM sent_articles").await, 0, "the delete cascaded");
    if backend == Backend::Sqlite {
        let indexes = count(
            &pool,
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name IN \
             ('outbox_due', 'outbox_subscriber', 'bounce_reports_subscriber', 'bounce_reports_outbox', 'articles_seen_at')",
        )
        .await;
        assert_eq!(indexes, 5, "every index is there");
        assert_eq!(count(&pool, "SELECT COUNT(*) FROM pragma_foreign_key_check").await, 0);
        assert_eq!(count(&pool, "SELECT COUNT(*) FROM sqlite_master WHERE name LIKE '%_new'").await, 0);
    }
    pool.close().await;
}

on_both_backends!(version_6_allows_instant_and_keeps_every_row_id_and_index, version_6_allows_instant_and_keeps_every_row_id_and_index);
