//! The state database as several instances see it: two `StateStore`s
//! (two pools, as two processes would have) on one fresh database, on both
//! backends where the rule is shared, PostgreSQL alone where it is about
//! PostgreSQL (the planner's advisory lock, lease owners seen through their
//! sessions). Also the upgrade to schema version 3 (bodies in
//! `outbox_bodies`) of a database holding a queued message, and the
//! audit rows the database writes for a group of sent marks, and which
//! sign-ups never confirmed are forgotten.

use crate::support::mailtest;

use bantin::state::{Backend as StoreBackend, DigestCommit, MessageBytes, MessageKind, OutboxMessage, StateStore};
use mailtest::fixed_now as at;
use mailtest::{Backend, StateDb};
use std::collections::HashSet;
use std::time::Duration;

async fn two_stores(db: &StateDb) -> (StateStore, StateStore) {
    let a = StateStore::open(&db.url).await.unwrap();
    let b = StateStore::open(&db.url).await.unwrap();
    (a, b)
}

async fn subscribers(state: &StateStore, n: usize) -> Vec<i64> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        ids.push(mailtest::active_subscriber(state, &format!("reader{i:04}@example.org"), at()).await.id);
    }
    ids
}

fn message(subscriber: i64, period: &str) -> OutboxMessage {
    OutboxMessage {
        message_id: format!("<{period}.{subscriber}@example.org>"),
        kind: MessageKind::Digest,
        subscriber_id: Some(subscriber),
        period_key: period.into(),
        recipient: format!("reader{subscriber}@example.org"),
        bytes: MessageBytes::Whole(format!("Subject: {period}\r\n\r\nbody \u{0} bytes \u{1}\r\n").into_bytes()),
    }
}

async fn claim_all(state: &StateStore, owner: &str) -> Vec<i64> {
    let mut got = Vec::new();
    loop {
        let rows = state.claim_due(owner, at(), Duration::from_secs(300), 16).await.unwrap();
        if rows.is_empty() {
            return got;
        }
        got.extend(rows.iter().map(|r| r.id));
        tokio::task::yield_now().await;
    }
}

async fn two_instances_claiming_at_once_never_get_the_same_row(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::new(backend, dir.path());
    let (a, b) = two_stores(&db).await;
    let ids = subscribers(&a, 400).await;
    for id in &ids {
        assert!(a.enqueue(&message(*id, "daily:2026-08-31"), at()).await.unwrap());
    }
    let (got_a, got_b) = tokio::join!(claim_all(&a, "host-a:1:aaaaaaaa"), claim_all(&b, "host-b:2:bbbbbbbb"));
    let set_a: HashSet<i64> = got_a.iter().copied().collect();
    let set_b: HashSet<i64> = got_b.iter().copied().collect();
    println!("{backend:?}: instance a claimed {}, instance b {}", got_a.len(), got_b.len());
    assert_eq!(set_a.len(), got_a.len(), "a claimed a row twice");
    assert!(set_a.is_disjoint(&set_b), "a row was claimed by both: {:?}", set_a.intersection(&set_b).collect::<Vec<_>>());
    assert_eq!(set_a.len() + set_b.len(), ids.len(), "every row is claimed once");
    assert_eq!(a.outbox_counts().await.unwrap().sending, ids.len() as i64);
    // The stored bytes come back unchanged (BYTEA / BLOB, NUL included).
    let (status, body) = b.outbox_message("<daily:2026-08-31.1@example.org>").await.unwrap().unwrap();
    assert_eq!((status.as_str(), body), ("sending", message(1, "daily:2026-08-31").body().unwrap().into_owned()));
}

async fn one_plan_committed_by_two_instances_at_once_gives_one_row_per_subscriber(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::new(backend, dir.path());
    let (a, b) = two_stores(&db).await;
    let ids = subscribers(&a, 300).await;
    let batch: Vec<DigestCommit> = ids
        .iter()
        .map(|id| DigestCommit {
            subscriber_id: *id,
            period_key: "daily:2026-08-31".into(),
            planned_at: at(),
            watermark: None,
            next_watermark: at(),
            message: Some(message(*id, "daily:2026-08-31")),
        })
        .collect();
    // Both instances planned the same period and commit it at the same
    // time, batch by batch as the outbox does.
    let commit = |s: StateStore, batch: Vec<DigestCommit>| async move {
        let mut n = 0;
        for chunk in batch.chunks(50) {
            n += s.commit_digests(chunk).await.unwrap();
        }
        n
    };
    let (n_a, n_b) = tokio::join!(tokio::spawn(commit(a.clone(), batch.clone())), tokio::spawn(commit(b.clone(), batch)));
    let (n_a, n_b) = (n_a.unwrap(), n_b.unwrap());
    println!("{backend:?}: instance a queued {n_a}, instance b {n_b}");
    assert_eq!(n_a + n_b, ids.len(), "one outbox row per subscriber and period in all");
    assert_eq!(a.outbox_counts().await.unwrap().queued, ids.len() as i64);
    for sub in a.digest_recipients().await.unwrap() {
        assert_eq!((sub.last_period.as_deref(), sub.last_digest_at), (Some("daily:2026-08-31"), Some(at())));
    }
}

/// CI failure of stop 28 (`archive_pages::serve_answers_the_archive_with_its_headers`):
/// `digest run --now` planned while the service's scheduler did, on
/// SQLite, where nothing stops two processes planning at once. The two
/// plans name different periods (the latest ended one, the running one)
/// and hold the same new article: the commit made from the stale view is
/// dropped, whichever comes second, so the article is mailed once.
async fn two_plans_of_different_periods_from_one_view_mail_an_article_once(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::new(backend, dir.path());
    let (a, b) = two_stores(&db).await;
    let ids = subscribers(&a, 40).await;
    let plan = |period: &str| -> Vec<DigestCommit> {
        ids.iter()
            .map(|id| DigestCommit {
                subscriber_id: *id,
                period_key: period.into(),
                planned_at: at(),
                watermark: None,
                next_watermark: at(),
                message: Some(message(*id, period)),
            })
            .collect()
    };
    let (scheduled, now) = (plan("daily:2026-08-31"), plan("daily:2026-09-01"));
    let (n_a, n_b) = tokio::join!(a.commit_digests(&scheduled), b.commit_digests(&now));
    let (n_a, n_b) = (n_a.unwrap(), n_b.unwrap());
    println!("{backend:?}: the scheduled plan queued {n_a}, the send-now plan {n_b}");
    assert_eq!(n_a + n_b, ids.len(), "one digest per subscriber: {n_a} + {n_b}");
    assert_eq!(a.outbox_counts().await.unwrap().queued, ids.len() as i64);
    // A plan made after the first commit reads the new watermark and goes through.
    let sub = a.digest_recipients().await.unwrap().into_iter().next().unwrap();
    let mut later = plan("daily:2026-09-02");
    later.truncate(1);
    later[0].subscriber_id = sub.id;
    later[0].watermark = sub.last_digest_at;
    later[0].message = Some(message(sub.id, "daily:2026-09-02"));
    assert_eq!(b.commit_digests(&later).await.unwrap(), 1);
}

on_both_backends!(
    two_plans_of_different_periods_from_one_view_mail_an_article_once,
    two_plans_of_different_periods_from_one_view_mail_an_article_once
);
on_both_backends!(two_instances_claiming_at_once_never_get_the_same_row, two_instances_claiming_at_once_never_get_the_same_row);
on_both_backends!(
    one_plan_committed_by_two_instances_at_once_gives_one_row_per_subscriber,
    one_plan_committed_by_two_instances_at_once_gives_one_row_per_subscriber
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_planner_at_a_time_on_postgresql_and_a_dead_holder_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::new(Backend::Postgres, dir.path());
    let (a, b) = two_stores(&db).await;
    assert_eq!(a.backend(), StoreBackend::Postgres);
    let lock = a.try_planner_lock().await.unwrap().expect("nobody plans yet");
    assert!(b.try_planner_lock().await.unwrap().is_none(), "a second planner while the first holds the lock");
    lock.release().await;
    let lock = b.try_planner_lock().await.unwrap().expect("released, so b may plan");
    // The holder dies without releasing: its session ends, and with it the
    // lock (a planner killed halfway is replaced).
    drop(lock);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(l) = a.try_planner_lock().await.unwrap() {
            l.release().await;
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the dead holder's lock was never released");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_of_instances_without_a_session_are_released_on_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::new(Backend::Postgres, dir.path());
    let state = StateStore::open(&db.url).await.unwrap();
    let ids = subscribers(&state, 4).await;
    for id in &ids {
        state.enqueue(&message(*id, "daily:2026-08-31"), at()).await.unwrap();
    }
    let me = bantin::state::instance_id();
    // Another host's instance that is gone (no session on the database),
    // and this one, which is connected.
    let ghost = "elsewhere:4242:0badf00d";
    assert_eq!(state.claim_due(ghost, at(), Duration::from_secs(300), 2).await.unwrap().len(), 2);
    assert_eq!(state.claim_due(me, at(), Duration::from_secs(300), 2).await.unwrap().len(), 2);
    let connected = state.connected_instances().await.unwrap().expect("PostgreSQL sees sessions");
    assert!(connected.contains(me) && !connected.contains(ghost), "{connected:?}");
    let released = state.release_dead_leases(|o| connected.contains(o)).await.unwrap();
    assert_eq!(released, 2, "the ghost's rows, not this instance's");
    let counts = state.outbox_counts().await.unwrap();
    assert_eq!((counts.queued, counts.sending), (2, 2));
}

/// Runs only the migrations before `outbox_bodies` (version 3), as a
/// database made by the previous release is.
async fn database_at_version_2(db: &StateDb) -> sqlx::AnyPool {
    use sqlx::migrate::{Migration, MigrationType, Migrator};
    sqlx::any::install_default_drivers();
    let (url, files) = match db.backend {
        Backend::Sqlite => {
            std::fs::create_dir_all(bantin::state::sqlite_path(&db.url).unwrap().parent().unwrap()).unwrap();
            (
                format!("{}?mode=rwc", db.url),
                [
                    include_str!("../../migrations/sqlite/0001_subscribers_outbox.sql"),
                    include_str!("../../migrations/sqlite/0002_token_key.sql"),
                ],
            )
        }
        Backend::Postgres => (
            db.url.clone(),
            [
                include_str!("../../migrations/postgres/0001_subscribers_outbox.sql"),
                include_str!("../../migrations/postgres/0002_token_key.sql"),
            ],
        ),
    };
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let migrations = files
        .iter()
        .enumerate()
        .map(|(i, sql)| {
            Migration::new(i as i64 + 1, "".into(), MigrationType::Simple, sqlx::SqlStr::from_static(sql), false)
        })
        .collect();
    Migrator::with_migrations(migrations).run(&pool).await.unwrap();
    pool
}

async fn count(pool: &sqlx::AnyPool, sql: &'static str) -> i64 {
    use sqlx::Row;
    sqlx::query(sql).fetch_one(pool).await.unwrap().get::<i64, _>(0)
}

async fn bodies_move_to_their_own_table_and_marks_are_audited_by_the_database(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::new(backend, dir.path());
    // A message queued by the previous schema, body in the outbox row.
    let old = database_at_version_2(&db).await;
    sqlx::query(
        "INSERT INTO subscribers (email, topics, frequency, status, created_at) VALUES ('reader1@example.org', '', 'daily', 'active', 0)",
    )
    .execute(&old)
    .await
    .unwrap();
    let kept = message(1, "daily:2026-08-30");
    sqlx::query(
        "INSERT INTO outbox (message_id, kind, subscriber_id, period_key, recipient, body, status, next_attempt_at, created_at)
         VALUES ($1, 'digest', 1, 'daily:2026-08-30', 'reader1@example.org', $2, 'queued', 0, 0)",
    )
    .bind(&kept.message_id)
    .bind(kept.body().unwrap().into_owned())
    .execute(&old)
    .await
    .unwrap();
    old.close().await;

    let state = StateStore::open(&db.url).await.unwrap();
    assert_eq!(state.outbox_message(&kept.message_id).await.unwrap().unwrap(), ("queued".to_string(), kept.body().unwrap().into_owned()));
    let ids = subscribers(&state, 40).await;
    for id in &ids {
        assert!(state.enqueue(&message(*id, "daily:2026-08-31"), at()).await.unwrap());
    }
    let owner = "host-a:1:aaaaaaaa";
    let rows = state.claim_due(owner, at(), Duration::from_secs(300), 100).await.unwrap();
    assert_eq!(rows.len(), 41);
    for r in &rows {
        let expected = if r.message_id == kept.message_id { kept.body().unwrap().into_owned() } else { message(r.subscriber_id.unwrap(), "daily:2026-08-31").body().unwrap().into_owned() };
        assert_eq!(r.body, expected, "{}", r.message_id);
    }
    // One group of marks; rows leased to someone else are neither marked
    // nor audited.
    let (mine, theirs) = rows.split_at(30);
    state.mark_sent_many(&mine.iter().map(|r| r.id).collect::<Vec<_>>(), owner, at()).await.unwrap();
    state.mark_sent_many(&theirs.iter().map(|r| r.id).collect::<Vec<_>>(), "host-b:2:bbbbbbbb", at()).await.unwrap();
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM send_audit WHERE outcome = 'sent'").await, 30);
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM outbox WHERE status = 'sent'").await, 30);
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM outbox_bodies").await, 41);
    pool.close().await;
}

on_both_backends!(
    bodies_move_to_their_own_table_and_marks_are_audited_by_the_database,
    bodies_move_to_their_own_table_and_marks_are_audited_by_the_database
);

/// Regression: a sign-up of `An@example.org` beside `an@example.org` made
/// a second subscriber, confirmed from the same inbox, and every digest
/// came twice. Now an address is one subscriber in any case, and rows an
/// older release let in twice are merged into the one to keep (a
/// complaint over everything, then an active subscription).
async fn an_address_in_other_capitals_is_one_subscriber_and_old_twins_are_merged(backend: Backend) {
    use bantin::state::{Frequency, NewSubscriber, Status};
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::new(backend, dir.path());
    let old = StateStore::open_at_version(&db.url, 11).await.unwrap();
    for (email, status) in [
        ("an@example.org", "unsubscribed"),
        ("An@example.org", "active"),
        ("AN@example.org", "pending"),
        ("binh@example.org", "pending"),
        ("Binh@example.org", "complained"),
        ("chi@example.org", "active"),
    ] {
        sqlx::query("INSERT INTO subscribers (email, topics, frequency, status, created_at) VALUES ($1, '', 'daily', $2, 0)")
            .bind(email)
            .bind(status)
            .execute(&old)
            .await
            .unwrap();
    }
    old.close().await;

    let state = StateStore::open(&db.url).await.unwrap();
    let kept: Vec<(String, Status)> = state.subscribers().await.unwrap().into_iter().map(|s| (s.email, s.status)).collect();
    assert_eq!(
        kept,
        [
            ("An@example.org".to_string(), Status::Active),
            ("Binh@example.org".to_string(), Status::Complained),
            ("chi@example.org".to_string(), Status::Active)
        ]
    );

    let again = NewSubscriber { email: "aN@example.org".into(), topics: vec![], frequency: Frequency::Weekly, status: Status::Pending, now: at() };
    let (sub, created) = state.insert_subscriber(&again).await.unwrap();
    assert!(!created, "a second subscriber for one inbox");
    assert_eq!((sub.email.as_str(), sub.status), ("An@example.org", Status::Active));
    assert_eq!(state.subscriber_by_email("an@example.org").await.unwrap().map(|s| s.id), Some(sub.id));
    assert!(state.never_mailed("BINH@example.org").await.unwrap().is_some());
    assert!(state.remove_subscriber("CHI@example.org").await.unwrap());
    assert_eq!(state.subscribers().await.unwrap().len(), 2);
}

on_both_backends!(
    an_address_in_other_capitals_is_one_subscriber_and_old_twins_are_merged,
    an_address_in_other_capitals_is_one_subscriber_and_old_twins_are_merged
);

/// An address typed into the sign-up form and never confirmed is not
/// kept past its links: once the newest confirmation mail to it is
/// older than the links' life (`CONFIRM_VALID_DAYS`), `Digests::prune`
/// erases it with its mails (two such at once: one erasure binds them
/// all). A sign-up made again keeps it for a new life; pending subscribers
/// an operator added (no confirmation mail) and confirmed ones are not
/// touched.
async fn a_sign_up_is_forgotten_once_its_newest_confirmation_link_expired(backend: Backend) {
    use bantin::state::Status;
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::new(backend, dir.path());
    let cfg = mailtest::write_config_for(dir.path(), &db.url, &mailtest::examples(), "smtp://127.0.0.1:9", "https://bantin.example.org/", "");
    let d = mailtest::digests(&cfg).await;
    let life = chrono::Duration::days(bantin::mail::CONFIRM_VALID_DAYS);
    let day = chrono::Duration::days(1);
    let signed_up = |email: &'static str, status: Status| {
        let d = std::sync::Arc::clone(&d);
        async move {
            let sub = mailtest::add_subscriber(&d.state, email, status, at()).await;
            assert!(d.state.enqueue(&d.composer.confirmation(&sub, at()).unwrap(), at()).await.unwrap());
            sub
        }
    };
    signed_up("stranger@example.org", Status::Pending).await;
    signed_up("passerby@example.org", Status::Pending).await;
    let again = signed_up("again@example.org", Status::Pending).await;
    assert!(d.state.enqueue(&d.composer.confirmation(&again, at() + day * 3).unwrap(), at() + day * 3).await.unwrap());
    signed_up("confirmed@example.org", Status::Active).await;
    mailtest::add_subscriber(&d.state, "added@example.org", Status::Pending, at()).await;
    assert_eq!(d.state.outbox_counts().await.unwrap().queued, 5);
    let addresses = |d: std::sync::Arc<bantin::newsletter::Digests>| async move {
        d.state.subscribers().await.unwrap().into_iter().map(|s| s.email).collect::<Vec<_>>()
    };

    assert_eq!(d.prune(at() + life - chrono::Duration::minutes(1)).await.unwrap().sign_ups, 0, "a link still valid");
    assert_eq!(d.prune(at() + life + chrono::Duration::minutes(1)).await.unwrap().sign_ups, 2);
    assert_eq!(addresses(std::sync::Arc::clone(&d)).await, ["added@example.org", "again@example.org", "confirmed@example.org"]);
    assert!(d.state.subscriber_by_email("stranger@example.org").await.unwrap().is_none());
    assert_eq!(d.state.outbox_counts().await.unwrap().queued, 3, "their confirmation mails go too");
    assert_eq!(d.prune(at() + day * 3 + life + chrono::Duration::minutes(1)).await.unwrap().sign_ups, 1, "the second sign-up's life");
    assert_eq!(addresses(std::sync::Arc::clone(&d)).await, ["added@example.org", "confirmed@example.org"]);
}

on_both_backends!(
    a_sign_up_is_forgotten_once_its_newest_confirmation_link_expired,
    a_sign_up_is_forgotten_once_its_newest_confirmation_link_expired
);
