//! How much of the outbox its queries read (SQLite's query plan): the
//! outbox keeps a row for every message ever sent, and the statements
//! that look for the messages still to send must not walk them.

use super::{claim_statement, NEXT_DUE};
use crate::state::{plan, temp_sqlite, Backend};

/// Issue 24 (a cost that grows gently): the `outbox_due` index held an
/// entry for every message ever sent (80 MB of a year of 10,000 daily
/// digests' 873 MB state), each mark sent moving one among them; since
/// migration 13 it holds the queued, sending and failed only. A partial
/// index serves only the statements whose condition SQLite can tell it
/// covers: the claim and the sender's wake-up must still read it, and
/// read no table whole (the unsent counts: `tally`'s test of the counts).
#[tokio::test]
async fn the_unsent_are_found_through_the_due_index_that_holds_no_sent_message() {
    let (_dir, state) = temp_sqlite().await;
    let index: String = sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE name = 'outbox_due'")
        .fetch_one(&state.pool)
        .await
        .expect("the due index");
    assert!(index.ends_with("WHERE status = 'queued' OR status = 'sending' OR status = 'failed'"), "{index}");
    let claim = claim_statement(Backend::Sqlite);
    for (text, binds, uses) in [(claim.as_str(), 4, 2), (NEXT_DUE, 0, 1)] {
        let lines = plan(&state, text, binds).await;
        let searches = lines.iter().filter(|l| l.starts_with("SEARCH outbox USING") && l.contains("INDEX outbox_due (status=?")).count();
        assert_eq!(searches, uses, "{text}: {lines:?}");
        assert!(!lines.iter().any(|l| l.starts_with("SCAN outbox")), "{text}: {lines:?}");
    }
}
