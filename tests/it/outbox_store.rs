//! How the outbox hands out messages, on both backends: a claim takes
//! expired leases and due rows in their turn.

use crate::support::mailtest;

use bantin::state::{MessageKind, OutboxMessage, StateStore};
use mailtest::fixed_now as at;
use mailtest::{Backend, StateDb};
use std::time::Duration;

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
            body: format!("Subject: {i}\r\n\r\nx\r\n").into_bytes(),
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
