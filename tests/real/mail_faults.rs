//! Mail faults against a real SMTP server on loopback (tests/support/mailtest, the
//! `mailin` engine) with the real mailer and state database: a relay down
//! for minutes, 421 in the middle of a session, 451, 552 at the end of
//! DATA, 550, a server that takes the message and drops the connection
//! before the final reply, a slow server, and a broken STARTTLS.
//!
//! Expected: nothing lost (every digest sent once the relay is back),
//! temporary failures retried with a growing backoff, permanent ones marked
//! failed (and the subscriber's bounce counted), and no duplicate except a
//! message the server took and then dropped the connection on (counted).
//! Time is stepped through `deliver_due(now)`, so minutes of downtime take
//! no wall-clock minutes.

use crate::support::harness;
use crate::support::mailtest;

use bantin::digest::plan::Mode;
use bantin::newsletter::Digests;
use bantin::state::Status;
use chrono::{Duration, Utc};
use mailtest::fixed_now;
use mailtest::smtp::{Behaviour, SmtpServer};
use std::collections::HashMap;
use std::sync::Arc;

const SUBSCRIBERS: usize = 5;

/// A digest context mailing to `smtp_url`, with `SUBSCRIBERS` active
/// subscribers whose digests are queued.
async fn queued(dir: &std::path::Path, smtp_url: &str) -> Arc<Digests> {
    let cfg = mailtest::write_config(dir, &mailtest::examples(), smtp_url, "https://bantin.example.org/", "bounce_limit = 1\nmax_attempts = 20");
    let digests = mailtest::digests(&cfg).await;
    for i in 0..SUBSCRIBERS {
        mailtest::active_subscriber(&digests.state, &format!("reader{i}@example.org"), Utc::now()).await;
    }
    assert_eq!(digests.queue(fixed_now(), Mode::Now).await.unwrap().queued, SUBSCRIBERS);
    digests
}

/// Copies of each Message-ID the server holds.
fn copies(smtp: &SmtpServer) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for m in smtp.received() {
        let parsed = mail_parser::MessageParser::default().parse(&m.data).expect("a mail");
        *out.entry(parsed.message_id().unwrap_or_default().to_string()).or_default() += 1;
    }
    out
}

struct Tally {
    faults: usize,
    retried: usize,
    failed: usize,
}

/// Runs the fault for `rounds` delivery passes, stepping the clock past
/// each backoff, then lets the relay accept and delivers the rest.
async fn through_fault(digests: &Digests, smtp: &SmtpServer, fault: Behaviour, rounds: usize) -> Tally {
    let mut t = Utc::now();
    let mut tally = Tally { faults: 0, retried: 0, failed: 0 };
    smtp.set(fault);
    for _ in 0..rounds {
        let r = digests.mailer.deliver_due(|| t).await.unwrap();
        tally.faults += r.retried + r.failed;
        tally.retried += r.retried;
        tally.failed += r.failed;
        t += Duration::minutes(10);
    }
    smtp.set(Behaviour::Accept);
    let r = digests.mailer.deliver_due(|| t + Duration::hours(1)).await.unwrap();
    assert_eq!(r.retried, 0, "the relay accepts now");
    tally
}

/// The common end: every digest is in the server's inbox, and copies
/// beyond one are at most the `dropped` ones.
async fn assert_delivered_once(name: &str, digests: &Digests, smtp: &SmtpServer, tally: &Tally) {
    let per_id = copies(smtp);
    let delivered = per_id.len();
    let duplicated: usize = per_id.values().map(|n| n - 1).sum();
    let counts = digests.state.outbox_counts().await.unwrap();
    harness::figures(
        name,
        &format!(
            "faults injected {}, messages expected {SUBSCRIBERS}, delivered {delivered}, duplicated {duplicated} \
             (taken then dropped {}), retried {}, failed {}, panics 0",
            tally.faults,
            smtp.dropped(),
            tally.retried,
            tally.failed
        ),
    );
    assert_eq!(delivered, SUBSCRIBERS, "{name}: every digest arrives");
    assert_eq!(duplicated, smtp.dropped(), "{name}: duplicates only for messages the server took and dropped");
    assert_eq!((counts.sent, counts.queued, counts.sending, counts.failed), (SUBSCRIBERS as i64, 0, 0, 0), "{name}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_down_for_minutes_retries_with_growing_backoff_and_loses_nothing() {
    let (held, port) = mailtest::refusing_port();
    let dir = tempfile::tempdir().unwrap();
    let digests = queued(dir.path(), &format!("smtp://{port}")).await;
    // Down: every pass the relay refuses; the clock steps a minute a pass,
    // so a row is only due again after its backoff (1 s, 2 s, 4 s, 4 s…).
    let t0 = Utc::now();
    let mut faults = 0;
    let mut tries_per_pass = Vec::new();
    let mut gaps_ms = Vec::new();
    for minute in 0..5 {
        let r = digests.mailer.deliver_due(|| t0 + Duration::minutes(minute)).await.unwrap();
        assert_eq!((r.sent, r.failed), (0, 0), "refused connections are temporary");
        faults += r.retried;
        tries_per_pass.push(r.retried);
        // The backoff grows: retry_base 1 s doubled per attempt, at most
        // retry_max 4 s, with equal jitter (at least half of it).
        let now = t0 + Duration::minutes(minute);
        let next = digests.state.next_due().await.unwrap().expect("the rows wait for a retry");
        let floor_ms = (1000i64 << minute.min(2)) / 2;
        assert!((next - now).num_milliseconds() >= floor_ms, "pass {minute}: retry after {:?}, expected ≥ {floor_ms} ms", next - now);
        gaps_ms.push((next - now).num_milliseconds());
    }
    // Nothing is due again right after a failed pass: the backoff holds.
    let r = digests.mailer.deliver_due(|| t0 + Duration::minutes(4)).await.unwrap();
    assert_eq!(r.retried, 0, "retried before the backoff passed");
    drop(held);
    let smtp = SmtpServer::start_on(port).await;
    let r = digests.mailer.deliver_due(|| t0 + Duration::minutes(10)).await.unwrap();
    assert_eq!(r.sent, SUBSCRIBERS);
    let tally = Tally { faults, retried: faults, failed: 0 };
    assert_eq!(tries_per_pass, vec![SUBSCRIBERS; 5], "each pass tries each due message once");
    assert_delivered_once(&format!("mail: relay down 5 min (next try {gaps_ms:?} ms)"), &digests, &smtp, &tally).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_421_at_mail_from_mid_session_is_retried() {
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let digests = queued(dir.path(), &smtp.url()).await;
    let tally = through_fault(&digests, &smtp, Behaviour::ShutdownAtMail, 2).await;
    assert_eq!((tally.retried, tally.failed), (2 * SUBSCRIBERS, 0));
    assert_delivered_once("mail: 421 mid-session", &digests, &smtp, &tally).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_451_at_rcpt_is_retried() {
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let digests = queued(dir.path(), &smtp.url()).await;
    let tally = through_fault(&digests, &smtp, Behaviour::Reply(451), 2).await;
    assert_eq!((tally.retried, tally.failed), (2 * SUBSCRIBERS, 0));
    assert_delivered_once("mail: 451 at RCPT", &digests, &smtp, &tally).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_takes_the_message_and_drops_before_the_reply_gives_counted_duplicates_only() {
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let digests = queued(dir.path(), &smtp.url()).await;
    let tally = through_fault(&digests, &smtp, Behaviour::DropBeforeFinalReply, 1).await;
    assert_eq!(tally.failed, 0, "a dropped connection is not a refusal");
    assert!(smtp.dropped() >= SUBSCRIBERS, "every message was taken once before the drop");
    assert_delivered_once("mail: dropped before final reply", &digests, &smtp, &tally).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_server_still_gets_every_message_once() {
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let digests = queued(dir.path(), &smtp.url()).await;
    smtp.set(Behaviour::Slow(400));
    let started = std::time::Instant::now();
    let r = digests.mailer.deliver_due(Utc::now).await.unwrap();
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!((r.sent, r.retried, r.failed), (SUBSCRIBERS, 0, 0));
    let tally = Tally { faults: SUBSCRIBERS, retried: 0, failed: 0 };
    assert_delivered_once(&format!("mail: slow server ({seconds:.1} s)"), &digests, &smtp, &tally).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_starttls_is_retried_not_failed() {
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let digests = queued(dir.path(), &smtp.url()).await;
    let tally = through_fault(&digests, &smtp, Behaviour::BrokenTls, 2).await;
    assert_eq!((tally.retried, tally.failed), (2 * SUBSCRIBERS, 0), "a TLS failure is temporary");
    assert_delivered_once("mail: TLS failure", &digests, &smtp, &tally).await;
}

/// 552 at the end of DATA and 550 at RCPT: failed at once, not retried,
/// the subscriber's bounce counted; nothing arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_552_and_550_are_marked_failed_and_counted_as_bounces() {
    for code in [552u16, 550] {
        let smtp = SmtpServer::start().await;
        let dir = tempfile::tempdir().unwrap();
        let digests = queued(dir.path(), &smtp.url()).await;
        let fault = if code == 552 { Behaviour::RejectData(552) } else { Behaviour::Reply(550) };
        smtp.set(fault);
        let r = digests.mailer.deliver_due(Utc::now).await.unwrap();
        assert_eq!((r.sent, r.retried, r.failed), (0, 0, SUBSCRIBERS), "{code}");
        smtp.set(Behaviour::Accept);
        let r = digests.mailer.deliver_due(|| Utc::now() + Duration::days(1)).await.unwrap();
        assert_eq!((r.sent, r.retried, r.failed), (0, 0, 0), "{code}: a failed message is not retried");
        let counts = digests.state.outbox_counts().await.unwrap();
        assert_eq!((counts.failed, counts.sent), (SUBSCRIBERS as i64, 0));
        assert_eq!(digests.state.subscriber_counts().await.unwrap(), [(Status::Bouncing, SUBSCRIBERS as i64)], "{code}");
        assert!(smtp.received().is_empty());
        harness::figures(
            &format!("mail: permanent {code}"),
            &format!(
                "faults injected {SUBSCRIBERS}, messages expected 0 (refused), delivered 0, duplicated 0, marked failed {}, bounces {SUBSCRIBERS}, panics 0",
                counts.failed
            ),
        );
    }
}
