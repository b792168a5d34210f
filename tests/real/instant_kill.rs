//! Instant mail under the crash rules: the real binary killed with SIGKILL
//! in the middle of `bantin digest run` for 1,000 instant subscribers, then
//! run again: every subscriber ends with exactly one mail for the window,
//! except at most the messages that were in flight at the kill (accepted by
//! the server, not yet marked sent), counted in the figures as
//! `digest_kill` counts them for digests. On both state backends.

use crate::support::harness::{bantin, figures};
use crate::support::mailtest;

use mailtest::smtp::SmtpServer;
use mailtest::{Backend, StateDb};
use std::collections::HashMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

const SUBSCRIBERS: usize = 1000;
const CONNECTIONS: usize = 4;

async fn sigkill_in_an_instant_run_of_1000_leaves_one_mail_each_except_in_flight(backend: Backend) {
    let _exclusive = crate::support::exclusive();
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::new(backend, dir.path());
    let cfg = mailtest::write_config_for(
        dir.path(),
        &db.url,
        &mailtest::examples(),
        &smtp.url(),
        "https://bantin.example.org/",
        &format!("max_per_second = 250\nconnections = {CONNECTIONS}"),
    );
    let csv = dir.path().join("subscribers.csv");
    let mut rows = String::from("email,frequency,status\n");
    for i in 0..SUBSCRIBERS {
        rows.push_str(&format!("reader{i:04}@example.org,instant,active\n"));
    }
    std::fs::write(&csv, rows).unwrap();
    let out = bantin(&cfg).args(["subscribers", "import"]).arg(&csv).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // Both runs plan at the same moment, an hour after the subscribers
    // joined: the window closed last then is due, the example articles
    // first seen in it.
    let at = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let run_args = ["digest", "run", "--at", at.as_str()];
    let mut child = bantin(&cfg).args(run_args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let started = Instant::now();
    while smtp.received().len() < SUBSCRIBERS / 3 {
        assert!(started.elapsed() < Duration::from_secs(120), "the run did not get going");
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it could be killed");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    db.wait_sessions_gone(child.id());
    let at_kill = smtp.received().len();

    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_bantin"))
        .arg("--config")
        .arg(&cfg)
        .args(run_args)
        .env("BANTIN_LOG", "error")
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let mut per_recipient: HashMap<String, usize> = HashMap::new();
    for m in smtp.received() {
        for to in m.to {
            *per_recipient.entry(to).or_default() += 1;
        }
    }
    let missing = (0..SUBSCRIBERS).filter(|i| !per_recipient.contains_key(&format!("reader{i:04}@example.org"))).count();
    let duplicates: usize = per_recipient.values().map(|n| n - 1).sum();
    let subjects: std::collections::HashSet<String> =
        smtp.received().iter().map(|m| mailtest::parse(&m.data).subject().unwrap_or_default().to_string()).collect();
    assert_eq!(subjects.len(), 1, "one window, one mail's subject: {subjects:?}");
    assert!(subjects.iter().all(|s| s.to_lowercase().contains("tin mới")), "an instant mail's subject: {subjects:?}");
    figures(
        &format!("instant_kill {backend:?}"),
        &format!(
            "killed after {at_kill} of {SUBSCRIBERS} instant mails; after the restart: {} recipients, {missing} missing, \
             {duplicates} duplicates (messages in flight at the kill)",
            per_recipient.len()
        ),
    );
    assert_eq!(missing, 0, "every subscriber gets the period's digest");
    assert!(duplicates <= CONNECTIONS, "{duplicates} duplicates; at most {CONNECTIONS} can be in flight");
    assert!(per_recipient.values().all(|n| *n <= 2));
}

on_both_backends!(
    sigkill_in_an_instant_run_of_1000_leaves_one_mail_each_except_in_flight,
    sigkill_in_an_instant_run_of_1000_leaves_one_mail_each_except_in_flight
);
