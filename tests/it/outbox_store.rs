//! How the outbox stores and hands out messages, on both backends: bodies
//! stored as deltas against bytes many messages share (`delta`,
//! migration 11) come back byte for byte and the shared bytes are kept
//! once and dropped with their last body; a claim takes expired leases
//! and due rows in their turn; what was sent is counted once, by day too;
//! on SQLite, the log is copied back beside the writer gate.

use crate::support::mailtest;

use bantin::delta::{Common, Shared};
use bantin::state::{DayCounts, DigestCommit, MessageBytes, MessageKind, OutboxMessage, StateStore};
use mailtest::fixed_now as at;
use mailtest::{Backend, StateDb};
use std::sync::Arc;
use std::time::Duration;

async fn count(url: &str, sql: &'static str) -> i64 {
    use sqlx::Row;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let n = sqlx::query(sql).fetch_one(&pool).await.unwrap().get::<i64, _>(0);
    pool.close().await;
    n
}

/// Two long pieces with every byte value in them (NUL, CR, LF, 0xff).
fn pieces() -> [Vec<u8>; 2] {
    [(0..=255u8).cycle().take(3000).collect(), (0..=255u8).rev().cycle().take(2000).collect()]
}

fn message(subscriber: i64, email: &str, common: &Arc<Common>) -> OutboxMessage {
    message_of(subscriber, email, common, pieces())
}

/// A message whose shared bytes are `a` and `b`, in that order, around its
/// own.
fn message_of(subscriber: i64, email: &str, common: &Arc<Common>, [a, b]: [Vec<u8>; 2]) -> OutboxMessage {
    let own = format!("To: {email}\r\n\r\n");
    let body = [own.as_bytes(), &a, format!("/unsubscribe/{subscriber}").as_bytes(), &b, b"\r\n"].concat();
    let shared = Shared::of(common, &body).expect("most of the message is shared");
    OutboxMessage {
        message_id: format!("<daily:2026-08-31.{subscriber}@example.org>"),
        kind: MessageKind::Digest,
        subscriber_id: Some(subscriber),
        period_key: "daily:2026-08-31".into(),
        recipient: email.to_string(),
        bytes: MessageBytes::Shared(shared),
    }
}

/// The digest commits of `messages`, each its subscriber's first.
fn commits(messages: &[OutboxMessage]) -> Vec<DigestCommit> {
    messages
        .iter()
        .map(|m| DigestCommit {
            subscriber_id: m.subscriber_id.unwrap(),
            period_key: m.period_key.clone(),
            planned_at: at(),
            watermark: None,
            next_watermark: at(),
            message: Some(m.clone()),
        })
        .collect()
}

async fn shared_bytes_are_stored_once_and_go_with_their_last_body(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::new(backend, dir.path());
    let state = StateStore::open(&db.url).await.unwrap();
    let [a, b] = pieces();
    let common = Arc::new(Common::new([a.as_slice(), b.as_slice()]));
    let mut expected = Vec::new();
    for i in 0..6 {
        let sub = mailtest::active_subscriber(&state, &format!("reader{i}@example.org"), at()).await;
        expected.push(message(sub.id, &sub.email, &common));
    }
    // Two batches, as a digest run commits them: the second finds the
    // shared bytes stored already.
    for batch in expected.chunks(3) {
        assert_eq!(state.commit_digests(&commits(batch)).await.unwrap(), 3);
    }
    assert_eq!(count(&db.url, "SELECT COUNT(*) FROM outbox_common").await, 1);
    let own: i64 = count(&db.url, "SELECT CAST(SUM(LENGTH(body)) AS BIGINT) FROM outbox_bodies").await;
    assert!(own < 6 * 200, "each body holds only its own bytes: {own} B in all");

    let rows = state.claim_due("host-a:1:aaaaaaaa", at(), Duration::from_secs(300), 100).await.unwrap();
    assert_eq!(rows.len(), 6);
    for (row, m) in rows.iter().zip(&expected) {
        assert_eq!(row.body, *m.body().unwrap(), "{}", row.message_id);
    }
    let (_, body) = state.outbox_message(&expected[2].message_id).await.unwrap().unwrap();
    assert_eq!(body, *expected[2].body().unwrap());

    // Erasing people drops their bodies; the shared bytes go with the last.
    for m in &expected[..5] {
        state.forget(&m.recipient).await.unwrap();
    }
    assert_eq!(count(&db.url, "SELECT COUNT(*) FROM outbox_common").await, 1);
    state.forget(&expected[5].recipient).await.unwrap();
    assert_eq!(count(&db.url, "SELECT COUNT(*) FROM outbox_common").await, 0);
}

on_both_backends!(shared_bytes_are_stored_once_and_go_with_their_last_body, shared_bytes_are_stored_once_and_go_with_their_last_body);

/// A batch's shared bytes are written once, after all its rows and before
/// their bodies (issue 24: they were written with each statement's rows).
/// A batch of more digests than one statement takes, of two shapes, the
/// second first named in the batch's second statement and the last rows
/// all of it: each shared part is stored once, and every body reads back
/// byte for byte.
async fn a_batch_of_two_shapes_over_several_statements_reads_back_whole(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::new(backend, dir.path());
    let state = StateStore::open(&db.url).await.unwrap();
    let [a, b] = pieces();
    let commons = [Arc::new(Common::new([a.as_slice(), b.as_slice()])), Arc::new(Common::new([b.as_slice(), a.as_slice()]))];
    let mut expected = Vec::new();
    for i in 0..70 {
        let sub = mailtest::active_subscriber(&state, &format!("reader{i}@example.org"), at()).await;
        let (common, order) = if i < 40 { (&commons[0], [a.clone(), b.clone()]) } else { (&commons[1], [b.clone(), a.clone()]) };
        expected.push(message_of(sub.id, &sub.email, common, order));
    }
    assert_eq!(state.commit_digests(&commits(&expected)).await.unwrap(), 70);
    assert_eq!(count(&db.url, "SELECT COUNT(*) FROM outbox_common").await, 2);
    assert_eq!(count(&db.url, "SELECT COUNT(*) FROM outbox_bodies WHERE common_key IS NOT NULL").await, 70);
    let rows = state.claim_due("host-a:1:aaaaaaaa", at(), Duration::from_secs(300), 100).await.unwrap();
    assert_eq!(rows.len(), 70);
    for (row, m) in rows.iter().zip(&expected) {
        assert_eq!(row.body, *m.body().unwrap(), "{}", row.message_id);
    }
}

on_both_backends!(
    a_batch_of_two_shapes_over_several_statements_reads_back_whole,
    a_batch_of_two_shapes_over_several_statements_reads_back_whole
);

/// Found while measuring issue 24's mail run: the claim collected and
/// sorted every due row each time (4 ms a claim with 10,000 queued). Now
/// due rows and expired leases are looked up apart: an expired lease must
/// still be claimed again in its turn, before rows queued after it, and
/// never more than the limit in all.
async fn a_claim_takes_expired_leases_and_due_rows_in_their_turn(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::new(backend, dir.path());
    let state = StateStore::open(&db.url).await.unwrap();
    let second = |n: i64| at() + chrono::Duration::seconds(n);
    let mut ids = Vec::new();
    for i in 0..4 {
        let sub = mailtest::active_subscriber(&state, &format!("reader{i}@example.org"), at()).await;
        let m = OutboxMessage {
            message_id: format!("<m{i}@example.org>"),
            kind: MessageKind::Digest,
            subscriber_id: Some(sub.id),
            period_key: format!("p{i}"),
            recipient: sub.email.clone(),
            bytes: MessageBytes::Whole(format!("Subject: {i}\r\n\r\nx\r\n").into_bytes()),
        };
        assert!(state.enqueue(&m, second(i)).await.unwrap());
        ids.push(m.message_id);
    }
    // The first message is leased for a second by a sender that dies.
    let leased = state.claim_due("host-a:1:aaaaaaaa", second(1), Duration::from_secs(1), 1).await.unwrap();
    assert_eq!(leased.iter().map(|r| &r.message_id).collect::<Vec<_>>(), [&ids[0]]);
    let still = state.claim_due("host-b:2:bbbbbbbb", second(1), Duration::from_secs(300), 1).await.unwrap();
    assert_eq!(still.iter().map(|r| &r.message_id).collect::<Vec<_>>(), [&ids[1]], "a live lease is not taken");
    // Later its lease has run out: it comes first again, then the rest in
    // order, three in all.
    let rows = state.claim_due("host-b:2:bbbbbbbb", second(10), Duration::from_secs(300), 2).await.unwrap();
    assert_eq!(rows.iter().map(|r| &r.message_id).collect::<Vec<_>>(), [&ids[0], &ids[2]]);
    assert_eq!(rows[0].attempts, 2);
    let rest = state.claim_due("host-b:2:bbbbbbbb", second(10), Duration::from_secs(300), 5).await.unwrap();
    assert_eq!(rest.iter().map(|r| &r.message_id).collect::<Vec<_>>(), [&ids[3]]);
}

on_both_backends!(a_claim_takes_expired_leases_and_due_rows_in_their_turn, a_claim_takes_expired_leases_and_due_rows_in_their_turn);

/// Issue 24, the mail row on a quick kernel: a commit that took SQLite's
/// log past `wal_autocheckpoint` copied it back into the database file
/// inside the commit (~30 ms, six times a 10,000-digest run) with this
/// process's writer gate held, every mark and claim waiting behind it.
/// Now digest batches and groups of sent marks count the log pages they
/// add, and once ~4 MiB are owed a checkpoint runs beside the gate
/// (`state::checkpoint`): their pages reach the database file with
/// nothing else written and the log far from full. A lone group of marks
/// (a paced delivery's) does not sync the files each time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_batches_and_sent_marks_reach_the_database_file_beside_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::new(Backend::Sqlite, dir.path());
    let file = bantin::state::sqlite_path(&db.url).unwrap();
    let state = StateStore::open(&db.url).await.unwrap();
    let [a, b] = pieces();
    let common = Arc::new(Common::new([a.as_slice(), b.as_slice()]));
    // Enough digests to owe a checkpoint (~3 pages each).
    let mut messages = Vec::new();
    for i in 0..400 {
        let sub = mailtest::active_subscriber(&state, &format!("reader{i}@example.org"), at()).await;
        messages.push(message(sub.id, &sub.email, &common));
    }
    let before = std::fs::read(&file).unwrap();
    assert_eq!(state.commit_digests(&commits(&messages)).await.unwrap(), 400);
    let copied = changed_within(&file, &before, Duration::from_secs(10)).await;
    assert!(copied.len() > before.len(), "the batch's pages are in the database file: {} B, {} B before", copied.len(), before.len());

    let owner = "host-a:1:aaaaaaaa";
    let rows = state.claim_due(owner, at(), Duration::from_secs(300), 400).await.unwrap();
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    // The claim's pages may be copied by the batch's checkpoint still
    // running: wait until the file settles before the marks.
    let before = settled(&file, std::fs::read(&file).unwrap()).await;
    let mut marking = state.marking().await.unwrap();
    let mut groups = ids.chunks(2);
    marking.mark_sent_many(groups.next().unwrap(), owner, at()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(std::fs::read(&file).unwrap() == before, "one group of marks owes no checkpoint");
    // Enough groups to owe one (~6 pages each).
    for group in groups {
        marking.mark_sent_many(group, owner, at()).await.unwrap();
    }
    changed_within(&file, &before, Duration::from_secs(10)).await;
    assert_eq!(count(&db.url, "SELECT COUNT(*) FROM outbox WHERE status = 'sent'").await, 400);
}

/// The database file once it differs from `before`; fails after `limit`.
async fn changed_within(file: &std::path::Path, before: &[u8], limit: Duration) -> Vec<u8> {
    let start = std::time::Instant::now();
    loop {
        let now = std::fs::read(file).unwrap();
        if now != before {
            return now;
        }
        assert!(start.elapsed() < limit, "{} unchanged after {limit:?}: nothing copied the log back", file.display());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The database file once it has stayed the same for 200 ms.
async fn settled(file: &std::path::Path, mut last: Vec<u8>) -> Vec<u8> {
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = std::fs::read(file).unwrap();
        if now == last {
            return now;
        }
        last = now;
    }
}

/// Issue 24: the sent count `/metrics` shows is kept from the audit
/// (`state::tally`), and the console's counts by day by the database
/// (migration 14), where both read every outbox row. A message marked sent
/// counts once, a refusal recorded twice once, and both still do once
/// their person is erased (their audit row stays, anonymous): the count
/// only grows, as the alerts on its `delta` expect.
async fn a_message_sent_counts_once_and_still_after_an_erasure(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::new(backend, dir.path());
    let state = StateStore::open(&db.url).await.unwrap();
    let owner = "host-a:1:aaaaaaaa";
    let sub = mailtest::active_subscriber(&state, "reader@example.org", at()).await;
    let m = OutboxMessage {
        message_id: "<m@example.org>".into(),
        kind: MessageKind::Digest,
        subscriber_id: Some(sub.id),
        period_key: "daily:2026-08-31".into(),
        recipient: sub.email.clone(),
        bytes: MessageBytes::Whole(b"Subject: x\r\n\r\nx\r\n".to_vec()),
    };
    assert!(state.enqueue(&m, at()).await.unwrap());
    let counts = |state: StateStore| async move {
        let c = state.outbox_counts().await.unwrap();
        (c.queued, c.sending, c.sent, c.failed)
    };
    assert_eq!(counts(state.clone()).await, (1, 0, 0, 0));
    let rows = state.claim_due(owner, at(), Duration::from_secs(300), 1).await.unwrap();
    assert_eq!(counts(state.clone()).await, (0, 1, 0, 0));
    state.mark_sent(rows[0].id, owner, at()).await.unwrap();
    assert_eq!(counts(state.clone()).await, (0, 0, 1, 0));
    assert_eq!(counts(state.clone()).await, (0, 0, 1, 0), "not twice");
    for _ in 0..2 {
        state.apply_refusal(rows[0].id, "550 5.1.1 no such user", at()).await.unwrap();
    }
    let today = [day("2026-08-31", &[("digest", 1)], &[("hard", 1)])];
    assert_eq!(state.day_counts(at()).await.unwrap(), today);
    state.forget(&sub.email).await.unwrap();
    assert_eq!(counts(state.clone()).await, (0, 0, 1, 0), "an erased person's mail was sent all the same");
    assert_eq!(state.day_counts(at()).await.unwrap(), today, "and counted the same");
}

on_both_backends!(a_message_sent_counts_once_and_still_after_an_erasure, a_message_sent_counts_once_and_still_after_an_erasure);

/// One day's counts as `StateStore::day_counts` gives them.
fn day(label: &str, sent: &[(&str, i64)], reports: &[(&str, i64)]) -> DayCounts {
    let map = |counts: &[(&str, i64)]| counts.iter().map(|(kind, n)| (kind.to_string(), *n)).collect();
    DayCounts { day: label.into(), sent: map(sent), reports: map(reports) }
}

/// Issue 24: the upgrade to migration 14 counts by day what the outbox and
/// the reports held (sent messages only, by kind), and the counts from the
/// day of `since` on are whole days.
async fn the_upgrade_counts_by_day_what_was_sent_before(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::new(backend, dir.path());
    let old = StateStore::open_at_version(&db.url, 13).await.unwrap();
    let (day_ms, morning) = (86_400_000, at().timestamp_millis() - 2 * 86_400_000 + 5);
    let messages = [("digest", Some(morning)), ("digest", Some(morning + 1)), ("confirm", Some(morning + 2)), ("digest", Some(morning + day_ms)), ("digest", None)];
    for (i, (kind, sent_at)) in messages.into_iter().enumerate() {
        sqlx::query(
            "INSERT INTO outbox (message_id, kind, period_key, recipient, status, next_attempt_at, created_at, sent_at)
             VALUES ($1, $2, 'p', 'a@example.org', $3, 0, 0, $4)",
        )
        .bind(format!("<{i}@example.org>"))
        .bind(kind)
        .bind(if sent_at.is_some() { "sent" } else { "queued" })
        .bind(sent_at)
        .execute(&old)
        .await
        .unwrap();
    }
    for (i, (kind, received_at)) in [("hard", morning), ("complaint", morning + day_ms)].into_iter().enumerate() {
        sqlx::query("INSERT INTO bounce_reports (received_at, kind, fingerprint) VALUES ($1, $2, $3)")
            .bind(received_at)
            .bind(kind)
            .bind(format!("f{i}"))
            .execute(&old)
            .await
            .unwrap();
    }
    old.close().await;

    let state = StateStore::open(&db.url).await.unwrap();
    let evening = chrono::DateTime::from_timestamp_millis(morning + day_ms / 2).unwrap();
    assert_eq!(
        state.day_counts(evening).await.unwrap(),
        [day("2026-08-29", &[("confirm", 1), ("digest", 2)], &[("hard", 1)]), day("2026-08-30", &[("digest", 1)], &[("complaint", 1)])]
    );
    assert_eq!(state.day_counts(at()).await.unwrap(), Vec::<DayCounts>::new(), "nothing on the day of `at`");
}

on_both_backends!(the_upgrade_counts_by_day_what_was_sent_before, the_upgrade_counts_by_day_what_was_sent_before);
