//! Three real `bantin serve` processes on one PostgreSQL state database and
//! one real SMTP server (tests/support/mailtest): 1,000 subscribers get exactly one
//! digest each for a period, whichever instance plans and however the
//! sending is shared; then, in the next period, one instance is killed with
//! SIGKILL in the middle of sending, and every subscriber still gets that
//! period's digest, with at most as many duplicates as the killed instance
//! had messages in flight (its SMTP connections).
//!
//! The scheduler's clock is moved with `BANTIN_DIGEST_AT` (the scheduler's
//! twin of `digest run --at`) to just after a period's end, and its poll
//! shortened with `BANTIN_DIGEST_POLL_MS`, so two periods pass in seconds.

use crate::support::mailtest;

use chrono::{DateTime, Duration as Days, NaiveTime, Utc};
use crate::support::serve::{free_port, Serve};
use mailtest::smtp::{Received, SmtpServer};
use mailtest::{Backend, StateDb};
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const SUBSCRIBERS: usize = 1000;
const INSTANCES: usize = 3;
/// Per instance: at most this many messages are in flight at once.
const CONNECTIONS: usize = 4;

/// Writes one Markdown article into the store, published an hour ago (so
/// it is visible at the scheduler's clock, a day or two ahead).
fn write_article(store: &Path, slug: &str, title: &str) {
    let published = (Utc::now() - Days::hours(1)).to_rfc3339();
    std::fs::create_dir_all(store).unwrap();
    std::fs::write(
        store.join(format!("{slug}.md")),
        format!("+++\ntitle = \"{title}\"\ndate = {published}\ncategories = [\"Kinh tế\"]\n+++\nNội dung của bài {slug}.\n"),
    )
    .unwrap();
}

/// Just after the end of a daily period (07:00 in Asia/Ho_Chi_Minh,
/// `digest.daily_at` of the test config) `days_ahead` days from now:
/// after the subscribers joined, so the period is due for all of them.
fn just_after_period_end(days_ahead: i64) -> DateTime<Utc> {
    let tz = chrono_tz::Asia::Ho_Chi_Minh;
    let date = Utc::now().with_timezone(&tz).date_naive() + Days::days(days_ahead);
    let local = date.and_time(NaiveTime::from_hms_opt(7, 0, 30).unwrap());
    local.and_local_timezone(tz).single().unwrap().with_timezone(&Utc)
}

/// The period part of a digest's Message-ID (`daily.2026-11-26.…`).
fn period_of(m: &Received) -> String {
    let parsed = mail_parser::MessageParser::default().parse(&m.data).expect("mail-parser reads the message");
    let id = parsed.message_id().expect("every digest has a Message-ID");
    id.split('.').take(2).collect::<Vec<_>>().join(".")
}

/// Deliveries so far, per period and recipient; each message is read once.
#[derive(Default)]
struct Tally {
    seen: usize,
    per_period: HashMap<String, HashMap<String, usize>>,
}

impl Tally {
    fn update(&mut self, smtp: &SmtpServer) {
        let new = smtp.received_since(self.seen);
        self.seen += new.len();
        for m in &new {
            let period = self.per_period.entry(period_of(m)).or_default();
            for to in &m.to {
                *period.entry(to.clone()).or_default() += 1;
            }
        }
    }

    /// Messages per recipient of `period`.
    fn of(&mut self, smtp: &SmtpServer, period: &str) -> HashMap<String, usize> {
        self.update(smtp);
        self.per_period.get(period).cloned().unwrap_or_default()
    }

    fn recipients(&mut self, smtp: &SmtpServer, period: &str) -> usize {
        self.update(smtp);
        self.per_period.get(period).map_or(0, HashMap::len)
    }
}

async fn wait_for_recipients(tally: &mut Tally, smtp: &SmtpServer, period: &str, n: usize, instances: &[Serve]) {
    let started = Instant::now();
    while tally.recipients(smtp, period) < n {
        if started.elapsed() > Duration::from_secs(90) {
            let logs: Vec<String> = instances.iter().map(Serve::log).collect();
            panic!("{} of {n} recipients got {period}; logs:\n{}", tally.recipients(smtp, period), logs.join("\n----\n"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One config per instance: the same database, store and relay, its own
/// HTTP port.
fn configs(dir: &Path, db: &StateDb, store: &Path, smtp: &SmtpServer) -> Vec<std::path::PathBuf> {
    (0..INSTANCES)
        .map(|i| {
            let folder = dir.join(format!("instance{i}"));
            std::fs::create_dir_all(&folder).unwrap();
            let extra = format!("max_per_second = 100\nconnections = {CONNECTIONS}");
            let cfg = mailtest::write_config_for(&folder, &db.url, store, &smtp.url(), "https://bantin.example.org/", &extra);
            let port = free_port();
            let text = std::fs::read_to_string(&cfg).unwrap().replace("[http]\n", &format!("[http]\nlisten = \"127.0.0.1:{port}\"\n"));
            std::fs::write(&cfg, text).unwrap();
            cfg
        })
        .collect()
}

fn start_all(configs: &[std::path::PathBuf], clock: DateTime<Utc>) -> Vec<Serve> {
    let at = clock.to_rfc3339();
    configs.iter().map(|c| Serve::start_with(c, &[("BANTIN_DIGEST_AT", at.as_str()), ("BANTIN_DIGEST_POLL_MS", "300")])).collect()
}

fn stop_all(instances: &mut [Serve]) {
    for s in instances.iter() {
        s.signal(libc::SIGTERM);
    }
    for s in instances.iter_mut() {
        let status = s.wait_exit(Duration::from_secs(15));
        assert!(status.is_some_and(|s| s.success()), "exit {status:?}; log:\n{}", s.log());
    }
}

/// The messages each instance logged as sent ("outbox delivered sent=N").
fn sent_by(instance: &Serve) -> usize {
    instance
        .log()
        .lines()
        .filter(|l| l.contains("outbox delivered"))
        .filter_map(|l| l.split_whitespace().find_map(|w| w.strip_prefix("sent=")).and_then(|n| n.parse::<usize>().ok()))
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_on_one_postgresql_send_each_digest_once_and_survive_a_sigkill() {
    let _exclusive = crate::support::exclusive();
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::new(Backend::Postgres, dir.path());
    // A store of one article, so a digest is one article (rendering 2,000
    // digests of the whole example store would dominate the run).
    let store = dir.path().join("articles");
    write_article(&store, "tin-ky-dau", "Tin cho kỳ đầu");
    let configs = configs(dir.path(), &db, &store, &smtp);

    let csv = dir.path().join("subscribers.csv");
    let mut rows = String::from("email,frequency,status\n");
    for i in 0..SUBSCRIBERS {
        rows.push_str(&format!("reader{i:04}@example.org,daily,active\n"));
    }
    std::fs::write(&csv, rows).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_bantin"))
        .arg("--config")
        .arg(&configs[0])
        .args(["subscribers", "import"])
        .arg(&csv)
        .env("BANTIN_LOG", "error")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // Period 1: three instances start together; one plans, all send.
    let t1 = just_after_period_end(1);
    let p1 = format!("daily.{}", t1.with_timezone(&chrono_tz::Asia::Ho_Chi_Minh).format("%Y-%m-%d"));
    let began = Instant::now();
    let mut tally = Tally::default();
    let mut instances = start_all(&configs, t1);
    wait_for_recipients(&mut tally, &smtp, &p1, SUBSCRIBERS, &instances).await;
    let took = began.elapsed();
    // Several polls more: a second copy would come now if any were queued.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got = tally.of(&smtp, &p1);
    let duplicates: usize = got.values().map(|n| n - 1).sum();
    let planners = instances.iter().filter(|s| s.log().contains("digests planned")).count();
    let shares: Vec<usize> = instances.iter().map(sent_by).collect();
    println!(
        "period {p1}: expected {SUBSCRIBERS}, delivered {}, duplicates {duplicates} in {:.1} s from start; \
         planned by {planners} instance(s); sent per instance {shares:?}",
        got.len(),
        took.as_secs_f64()
    );
    assert_eq!(got.len(), SUBSCRIBERS, "every subscriber gets the period's digest");
    assert_eq!(duplicates, 0, "nobody gets it twice");
    assert_eq!(planners, 1, "one instance plans the period");
    assert_eq!(shares.iter().sum::<usize>(), SUBSCRIBERS, "the logs account for every message");
    assert!(shares.iter().filter(|n| **n > 0).count() >= 2, "the sending is shared: {shares:?}");
    let stopping = Instant::now();
    stop_all(&mut instances);
    println!("stopped in {:.1} s", stopping.elapsed().as_secs_f64());

    // Period 2, with an article that is new since period 1: the three start
    // again a day later, and one is killed in the middle of sending.
    write_article(&store, "tin-ky-sau", "Tin mới cho kỳ sau");
    let t2 = just_after_period_end(2);
    let p2 = format!("daily.{}", t2.with_timezone(&chrono_tz::Asia::Ho_Chi_Minh).format("%Y-%m-%d"));
    let began = Instant::now();
    let mut instances = start_all(&configs, t2);
    while tally.recipients(&smtp, &p2) < SUBSCRIBERS / 3 {
        assert!(began.elapsed() < Duration::from_secs(90), "period 2 did not get going");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let victim = &mut instances[0];
    victim.child.kill().unwrap(); // SIGKILL
    victim.child.wait().unwrap();
    let at_kill = tally.recipients(&smtp, &p2);
    wait_for_recipients(&mut tally, &smtp, &p2, SUBSCRIBERS, &instances[1..]).await;
    let took = began.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got = tally.of(&smtp, &p2);
    let duplicates: usize = got.values().map(|n| n - 1).sum();
    println!(
        "period {p2}: instance 0 SIGKILLed after {at_kill} recipients; expected {SUBSCRIBERS}, delivered {}, \
         duplicates {duplicates} (at most {CONNECTIONS} in flight in the killed instance) in {:.1} s from start",
        got.len(),
        took.as_secs_f64()
    );
    assert_eq!(got.len(), SUBSCRIBERS, "every subscriber still gets the period's digest");
    assert!(duplicates <= CONNECTIONS, "{duplicates} duplicates; the killed instance had at most {CONNECTIONS} in flight");
    assert!(got.values().all(|n| *n <= 2), "no message more than twice");
    stop_all(&mut instances[1..]);
}
