//! Instant mail under the crash rules: the real binary killed with SIGKILL
//! in the middle of `bantin digest run` for 1,000 instant subscribers, then
//! run again: every subscriber ends with exactly one mail for the window,
//! except at most the messages that were in flight at the kill (accepted by
//! the server, not yet marked sent), counted in the figures as
//! `digest_kill` counts them for digests. On both state backends.

use crate::digest_kill::kill_and_rerun;
use crate::support::harness::figures;
use crate::support::mailtest;
use mailtest::Backend;

async fn sigkill_in_an_instant_run_of_1000_leaves_one_mail_each_except_in_flight(backend: Backend) {
    // Both runs plan at the same moment, an hour after the subscribers
    // joined: the window closed last then is due, the example articles
    // first seen in it.
    let at = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let k = kill_and_rerun(backend, "instant", &["digest", "run", "--at", at.as_str()]).await;
    let subjects: std::collections::HashSet<String> =
        k.smtp.received().iter().map(|m| mailtest::parse(&m.data).subject().unwrap_or_default().to_string()).collect();
    assert_eq!(subjects.len(), 1, "one window, one mail's subject: {subjects:?}");
    assert!(subjects.iter().all(|s| s.to_lowercase().contains("tin mới")), "an instant mail's subject: {subjects:?}");
    figures(&format!("instant_kill {backend:?}"), &k.summary("instant mails"));
    k.assert_crash_rules();
}

on_both_backends!(
    sigkill_in_an_instant_run_of_1000_leaves_one_mail_each_except_in_flight,
    sigkill_in_an_instant_run_of_1000_leaves_one_mail_each_except_in_flight
);
