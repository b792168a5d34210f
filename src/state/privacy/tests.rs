//! The privacy room's statements on a real SQLite state: what they do, and
//! how much of the state they read to do it (SQLite's query plan), since
//! the outbox and its audit keep every message ever sent.

use super::{erasure, Whom, OLD_BODIES};
use crate::state::{plan, temp_sqlite, to_ms, StateStore};
use chrono::{Duration, Utc};

/// An outbox row `id` in `status`, queued and (unless queued) sent
/// `days_ago`, with a body if `body`.
async fn message(state: &StateStore, id: i64, status: &str, days_ago: i64, body: bool) {
    let at = to_ms(Utc::now() - Duration::days(days_ago));
    sqlx::query(
        "INSERT INTO outbox (id, message_id, kind, period_key, recipient, status, next_attempt_at, created_at, sent_at)
         VALUES ($1, $2, 'digest', 'daily:2026-08-31', 'a@example.org', $3, $4, $4, $5)",
    )
    .bind(id)
    .bind(format!("<m{id}@example.org>"))
    .bind(status)
    .bind(at)
    .bind((status != "queued").then_some(at))
    .execute(&state.pool)
    .await
    .expect("an outbox row");
    if body {
        sqlx::query("INSERT INTO outbox_bodies (outbox_id, body) VALUES ($1, $2)")
            .bind(id)
            .bind(b"Subject: x\r\n\r\nx\r\n".to_vec())
            .execute(&state.pool)
            .await
            .expect("a body");
    }
}

/// Issue 24 (a cost that grows gently): the hourly prune found the bodies
/// to drop through the status index, over every message ever sent (2.0-2.7
/// s with a year of 10,000 daily digests, the writer held). It walks the
/// rows from the oldest body kept, and drops what it dropped before.
#[tokio::test]
async fn the_prune_of_old_bodies_reads_from_the_oldest_body_kept() {
    let (_dir, state) = temp_sqlite().await;
    let lines = plan(&state, OLD_BODIES, 2).await;
    assert!(lines.iter().any(|l| l == "SEARCH outbox USING INTEGER PRIMARY KEY (rowid>?)"), "{lines:?}");
    assert!(!lines.iter().any(|l| l.contains("outbox_due")), "{lines:?}");

    message(&state, 1, "sent", 90, false).await; // pruned before
    message(&state, 2, "sent", 40, true).await;
    message(&state, 3, "queued", 40, true).await; // a retry: not sent yet
    message(&state, 4, "failed", 40, true).await;
    message(&state, 5, "sent", 2, true).await;
    let dropped = state.drop_mail_bodies(Utc::now() - Duration::days(30)).await.unwrap();
    assert_eq!(dropped, 2);
    let kept: Vec<i64> = sqlx::query_scalar("SELECT outbox_id FROM outbox_bodies ORDER BY outbox_id")
        .fetch_all(&state.pool)
        .await
        .unwrap();
    assert_eq!(kept, [3, 5]);
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox").fetch_one(&state.pool).await.unwrap();
    assert_eq!(rows, 5, "the rows stay");
}

/// The tables `whom`'s erasure reads whole (SQLite's plan of each statement).
async fn tables_read_whole(whom: Whom<'_>, binds: usize) -> Vec<String> {
    let (_dir, state) = temp_sqlite().await;
    let mut scans = Vec::new();
    for text in erasure(whom) {
        let lines = plan(&state, &text, binds).await;
        scans.extend(lines.into_iter().filter(|l| l.starts_with("SCAN")));
    }
    scans
}

/// Issue 24: an erasure makes the audit rows of the erased people's
/// messages anonymous, which reads the whole audit table (a row per
/// attempt ever made: 0.6 s with a year of 10,000 daily digests); the
/// hourly prune did that once for each expired sign-up. Its erasure takes
/// them together (up to `ERASED_AT_ONCE` a statement), and that read is the only
/// whole table in it.
#[tokio::test]
async fn an_erasure_of_sign_ups_reads_no_table_whole_but_the_audit() {
    let ids = [4, 7, 9];
    assert_eq!(tables_read_whole(Whom::Subscribers(&ids), ids.len()).await, ["SCAN send_audit"]);
}

/// Issue 24: `subscribers forget` (and the admin API's) found the messages
/// to an address by their recipient, which no index holds: the outbox,
/// every message ever sent, was read whole by four of the erasure's
/// statements (2.5-3.5 s with a year of 10,000 daily digests, the writer
/// held). They are found by subscriber id, the rows without one included.
#[tokio::test]
async fn an_erasure_of_an_address_reads_no_table_whole_but_the_audit() {
    for ids in [&[4][..], &[4, 7], &[]] {
        let whom = Whom::Address { email: "a@example.org", ids };
        assert_eq!(tables_read_whole(whom, 1 + ids.len()).await, ["SCAN send_audit"], "ids {ids:?}");
    }
}
