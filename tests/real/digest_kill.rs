//! The real binary killed with SIGKILL in the middle of `bantin digest run`
//! for 1,000 subscribers, then run again: every subscriber ends with exactly
//! one digest for the period, except at most the messages that were in
//! flight at the kill (accepted by the server, not yet marked sent). On both
//! state backends.

use crate::support::harness::bantin;
use crate::support::mailtest;

use mailtest::smtp::SmtpServer;
use mailtest::{Backend, StateDb};
use std::collections::HashMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

pub(crate) const SUBSCRIBERS: usize = 1000;
const CONNECTIONS: usize = 4;

/// What a killed and rerun `digest run` left behind.
pub(crate) struct Killed {
    /// Messages the server had accepted when the run was killed.
    pub at_kill: usize,
    /// Messages each recipient got in all.
    pub per_recipient: HashMap<String, usize>,
    pub missing: usize,
    pub duplicates: usize,
    pub smtp: SmtpServer,
}

impl Killed {
    /// The crash rules: nothing lost, duplicates only of messages in
    /// flight (at most one per connection), none twice.
    pub fn assert_crash_rules(&self) {
        assert_eq!(self.missing, 0, "every subscriber gets the period's digest");
        assert!(self.duplicates <= CONNECTIONS, "{} duplicates; at most {CONNECTIONS} can be in flight", self.duplicates);
        assert!(self.per_recipient.values().all(|n| *n <= 2));
    }

    /// The figures of the run, for the test's output: `what` names the mails.
    pub fn summary(&self, what: &str) -> String {
        format!(
            "killed after {} of {SUBSCRIBERS} {what}; after the restart: {} recipients, {} missing, \
             {} duplicates (messages in flight at the kill)",
            self.at_kill,
            self.per_recipient.len(),
            self.missing,
            self.duplicates
        )
    }
}

/// 1,000 subscribers of `frequency` imported; `bantin digest run
/// <run_args>` killed with SIGKILL once a third of them had their mail,
/// then run again to its end.
pub(crate) async fn kill_and_rerun(backend: Backend, frequency: &str, run_args: &[&str]) -> Killed {
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
        rows.push_str(&format!("reader{i:04}@example.org,{frequency},active\n"));
    }
    std::fs::write(&csv, rows).unwrap();
    let out = bantin(&cfg).args(["subscribers", "import"]).arg(&csv).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

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
    Killed { at_kill, per_recipient, missing, duplicates, smtp }
}

async fn sigkill_in_the_middle_of_a_run_of_1000_leaves_one_digest_each_except_in_flight(backend: Backend) {
    let k = kill_and_rerun(backend, "daily", &["digest", "run", "--now", "--at", "2026-08-31T07:00:00+07:00"]).await;
    println!("{}", k.summary("digests"));
    k.assert_crash_rules();
}

on_both_backends!(
    sigkill_in_the_middle_of_a_run_of_1000_leaves_one_digest_each_except_in_flight,
    sigkill_in_the_middle_of_a_run_of_1000_leaves_one_digest_each_except_in_flight
);
