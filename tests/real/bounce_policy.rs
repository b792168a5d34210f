//! Issue 20's bounce policy over time, through the real binary, on both
//! state backends: soft bounces count only in a row (a message delivered
//! in between restarts the count), a bouncing subscriber still gets the
//! next period's digest, a `delivered` DSN or (with `mail.return_path`)
//! `bounces.delivered_after` without a report makes them active again; in
//! bantin's own conversation a refused recipient (`550 5.1.1` to RCPT TO)
//! is suppressed while a refused message (`554` to DATA) is counted, and
//! without a return path the relay accepting a message clears the count;
//! `bantin subscribers lift`. Reports are the core's fixtures, fed to
//! `bantin bounces receive` as in `bounces.rs`.

use super::bounces::{bantin, fixture, receive, status, RETURN_PATH};
use crate::support::harness;
use crate::support::mailtest;

use bantin::state::{StateStore, Status};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use mailtest::smtp::{Behaviour, Received, SmtpServer};
use mailtest::{parse, wait_for_mail, Backend, StateDb};
use std::path::{Path, PathBuf};

const SOFT_FIXTURE: (&str, &str) = ("postfix-expired-4.4.1.eml", "2b3c4d5e6f708192a3b4.weekly.2026-W44@example.org");
const DELIVERED_FIXTURE: (&str, &str) = ("rfc3464-delivered.eml", "a3b4c5d6e7f8091a2b3c.daily.2026-12-02@example.org");

/// A state database, an SMTP server, a store of our own (one article more
/// before each digest run, so each run has something new) and the config.
struct Setup {
    smtp: SmtpServer,
    dir: tempfile::TempDir,
    cfg: PathBuf,
    state: StateStore,
    /// Dropped last: it drops a PostgreSQL database.
    _db: StateDb,
    /// Digest runs so far.
    runs: usize,
}

impl Setup {
    async fn new(backend: Backend, extra_mail: &str, subscribers: &[&str]) -> Setup {
        let smtp = SmtpServer::start().await;
        let dir = tempfile::tempdir().unwrap();
        let db = StateDb::new(backend, dir.path());
        let store = dir.path().join("articles");
        std::fs::create_dir_all(&store).unwrap();
        let cfg = mailtest::write_config_for(dir.path(), &db.url, &store, &smtp.url(), "https://bantin.example.org/", extra_mail);
        for who in subscribers {
            let (ok, out) = bantin(&cfg, &["subscribers", "add", who, "--confirmed"]).await;
            assert!(ok, "{out}");
        }
        let state = StateStore::open(&db.url).await.unwrap();
        Setup { smtp, dir, cfg, state, _db: db, runs: 0 }
    }

    /// Adds an article an hour before `at`, then `digest run --now --at`;
    /// waits for the `expect` messages it should send.
    async fn digest_run(&mut self, at: DateTime<Utc>, expect: usize) {
        self.runs += 1;
        let n = self.runs;
        let date = (at - Duration::hours(1)).to_rfc3339_opts(SecondsFormat::Secs, false);
        let text = format!("+++\ntitle = \"Tin số {n}\"\ndate = {date}\nslug = \"tin-so-{n}\"\n+++\n\nNội dung tin số {n}.\n");
        std::fs::write(self.dir.path().join("articles").join(format!("tin-{n}.md")), text).unwrap();
        let before = self.smtp.received().len();
        self.run_at(at).await;
        wait_for_mail(&self.smtp, before + expect).await;
    }

    /// `digest run --now --at`, nothing added.
    async fn run_at(&self, at: DateTime<Utc>) {
        let (ok, out) = bantin(&self.cfg, &["digest", "run", "--now", "--at", &at.to_rfc3339()]).await;
        assert!(ok, "{out}");
    }

    /// The `n`th message (from 1) received for `who`.
    fn message(&self, who: &str, n: usize) -> Received {
        let theirs: Vec<Received> = self.smtp.received().into_iter().filter(|m| m.to == [who]).collect();
        theirs.get(n - 1).cloned().unwrap_or_else(|| panic!("{who} has {} messages, not {n}", theirs.len()))
    }

    /// Feeds `bantin bounces receive` the fixture about `who`'s `n`th
    /// message (its VERP address and Message-ID put in).
    async fn report(&self, (name, fixture_id): (&str, &str), who: &str, n: usize) {
        let m = self.message(who, n);
        let id = parse(&m.data).message_id().unwrap().to_string();
        let (code, out) = receive(&self.cfg, &fixture(name, &m.from, fixture_id, &id, &format!("r{n}")), None).await;
        assert_eq!(code, 0, "{name} about {who} #{n}: {out}");
    }

    async fn count(&self, who: &str) -> (Status, i64) {
        let sub = self.state.subscriber_by_email(who).await.unwrap().unwrap();
        (sub.status, sub.bounce_count)
    }
}

const SOFT: &str = "soft.full@example.org";
const ROW: &str = "row.broken@example.org";
const DSN: &str = "dsn.delivered@example.org";
const LATE: &str = "late.reports@example.org";

async fn soft_bounces_count_only_in_a_row(backend: Backend) {
    let everyone = [SOFT, ROW, DSN, LATE];
    let extra = format!("return_path = \"{RETURN_PATH}\"");
    let mut s = Setup::new(backend, &extra, &everyone).await;
    // Five periods, days in the past: `digest run` returns subscribers
    // whose mail went unreported for `bounces.delivered_after` (5 days)
    // before `--at`, and these runs must not.
    let now = Utc::now();
    for day in 1..=4 {
        s.digest_run(now - Duration::days(6 - day), everyone.len()).await;
    }

    // Three soft reports in a row: bouncing at the third.
    for (n, want) in [(1, (Status::Active, 1)), (2, (Status::Active, 2)), (3, (Status::Bouncing, 3))] {
        s.report(SOFT_FIXTURE, SOFT, n).await;
        assert_eq!(s.count(SOFT).await, want, "{SOFT} after the report about message {n}");
    }
    // Message 2 went unreported: it was delivered, so the report about
    // message 3 starts a new row (a count of 3 would make them bouncing).
    for (n, want) in [(1, 1), (3, 1), (4, 2)] {
        s.report(SOFT_FIXTURE, ROW, n).await;
        assert_eq!(s.count(ROW).await, (Status::Active, want), "{ROW} after the report about message {n}");
    }
    // A delivered notice (RFC 3464 `Action: delivered`) ends the row.
    for n in 1..=3 {
        s.report(SOFT_FIXTURE, DSN, n).await;
    }
    assert_eq!(s.count(DSN).await, (Status::Bouncing, 3));
    s.report(DELIVERED_FIXTURE, DSN, 4).await;
    assert_eq!(s.count(DSN).await, (Status::Active, 0), "a delivered message resets the count");

    // Bouncing is retried at the next period: SOFT gets the fifth digest.
    s.digest_run(now - Duration::days(1), everyone.len()).await;
    s.message(SOFT, 5);
    // LATE's reports come after that digest went out: no message of theirs
    // is newer than their last bounce.
    for n in 1..=3 {
        s.report(SOFT_FIXTURE, LATE, n).await;
    }
    assert_eq!(s.count(LATE).await, (Status::Bouncing, 3));

    // SOFT's fifth message has no report; a day later that proves nothing.
    s.run_at(now + Duration::days(1)).await;
    assert_eq!(s.count(SOFT).await, (Status::Bouncing, 3), "returned before bounces.delivered_after");
    // After bounces.delivered_after (5 days) it was delivered.
    s.run_at(now + Duration::days(6)).await;
    assert_eq!(s.count(SOFT).await, (Status::Active, 0), "a message unreported for delivered_after");
    assert_eq!(s.count(ROW).await, (Status::Active, 0), "so for an active subscriber's count");
    assert_eq!(s.count(LATE).await, (Status::Bouncing, 3), "no message after the last bounce: still bouncing");

    let counts = s.state.bounce_report_counts().await.unwrap();
    assert!(counts.contains(&("delivered".to_string(), 1)) && counts.contains(&("soft".to_string(), 12)), "{counts:?}");
}

on_both_backends!(soft_bounces_count_only_in_a_row, soft_bounces_count_only_in_a_row);

const GONE: &str = "gone.user@example.org";
const REFUSED: &str = "refused.message@example.org";

async fn a_refused_recipient_is_suppressed_a_refused_message_counted(backend: Backend) {
    let mut s = Setup::new(backend, "", &[GONE, REFUSED]).await;
    let now = Utc::now();
    // 550 5.1.1 to RCPT TO: the mailbox does not exist.
    s.smtp.set(Behaviour::RefuseRecipient(GONE));
    s.digest_run(now - Duration::days(3), 1).await;
    assert_eq!(s.count(GONE).await, (Status::Suppressed, 0));
    assert_eq!(s.count(REFUSED).await, (Status::Active, 0));
    let (ok, list) = bantin(&s.cfg, &["subscribers", "list", "--status", "suppressed"]).await;
    assert!(ok && list.contains(GONE) && list.contains("5.1.1") && list.contains("User unknown"), "{list}");
    assert_eq!(s.state.bounce_report_counts().await.unwrap(), [("hard".to_string(), 1)], "recorded as a report is");

    // 554 at the end of DATA: about the message, counted toward
    // mail.bounce_limit (3), not suppressed. The suppressed one is not tried.
    s.smtp.set(Behaviour::RejectData(554));
    let attempts = s.smtp.attempts();
    s.digest_run(now - Duration::days(2), 0).await;
    assert_eq!(s.smtp.attempts() - attempts, 1, "only {REFUSED} is tried");
    assert_eq!(s.count(REFUSED).await, (Status::Active, 1));
    let sub = s.state.subscriber_by_email(REFUSED).await.unwrap().unwrap();
    assert!(sub.last_bounce_reason.as_deref().is_some_and(|r| r.contains("554")), "{sub:?}");

    // No return path: the relay accepting the next one is its delivery.
    s.smtp.set(Behaviour::Accept);
    s.digest_run(now - Duration::days(1), 1).await;
    assert_eq!(s.count(REFUSED).await, (Status::Active, 0), "acceptance clears the count");
    assert_eq!(s.count(GONE).await, (Status::Suppressed, 0));
}

on_both_backends!(a_refused_recipient_is_suppressed_a_refused_message_counted, a_refused_recipient_is_suppressed_a_refused_message_counted);

/// `bantin subscribers lift EMAIL [--complaint]`: its exit code and output.
async fn lift(cfg: &Path, args: &[&str]) -> (i32, String) {
    harness::cli(cfg, &[&["subscribers", "lift"], args].concat(), &[]).await
}

async fn an_admin_lifts_a_suppression(backend: Backend) {
    let s = Setup::new(backend, "", &[]).await;
    let now = Utc::now();
    let cases = [
        ("gone@example.org", Status::Suppressed),
        ("angry@example.org", Status::Complained),
        ("full@example.org", Status::Bouncing),
        ("reading@example.org", Status::Active),
        ("waiting@example.org", Status::Pending),
        ("left@example.org", Status::Unsubscribed),
    ];
    for (email, status) in cases {
        let sub = mailtest::add_subscriber(&s.state, email, status, now).await;
        s.state.record_bounce(sub.id, 1000, "550 5.1.1 user unknown", now).await.unwrap();
    }
    for who in ["gone@example.org", "full@example.org"] {
        let (code, out) = lift(&s.cfg, &[who]).await;
        assert!(code == 0 && out.contains("550 5.1.1 user unknown"), "{who}: {code} {out}");
        assert_eq!(s.count(who).await, (Status::Active, 0), "{who}");
    }
    assert!(lift(&s.cfg, &["gone@example.org"]).await.1.contains("is active: nothing to lift"));
    // A complaint is the person's own: only with --complaint.
    let (code, out) = lift(&s.cfg, &["angry@Example.ORG"]).await;
    assert!(code == 65 && out.contains("--complaint"), "{code} {out}");
    assert_eq!(status(&s.state, "angry@example.org").await, Status::Complained);
    let (code, out) = lift(&s.cfg, &["angry@example.org", "--complaint"]).await;
    assert!(code == 0 && out.contains("was complained"), "{code} {out}");
    assert_eq!(s.count("angry@example.org").await, (Status::Active, 0));
    // Nothing to lift: exit 65, unchanged.
    for (who, was) in [("reading@example.org", Status::Active), ("waiting@example.org", Status::Pending), ("left@example.org", Status::Unsubscribed)] {
        let (code, out) = lift(&s.cfg, &[who, "--complaint"]).await;
        assert!(code == 65 && out.contains(&format!("is {}: nothing to lift", was.as_str())), "{who}: {code} {out}");
        assert_eq!(status(&s.state, who).await, was);
    }
    let (code, out) = lift(&s.cfg, &["nobody@example.org"]).await;
    assert!(code == 65 && out.contains("not a subscriber"), "{code} {out}");
}

on_both_backends!(an_admin_lifts_a_suppression, an_admin_lifts_a_suppression);
