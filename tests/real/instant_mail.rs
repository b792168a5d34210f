//! Frequency `instant` (issue 22) through the real binary: `bantin
//! subscribers add/import/export` keep it; `bantin serve`'s scheduler mails
//! a burst of 40 articles that arrive in one `digest.instant_window` as one
//! mail to each instant subscriber (through a real SMTP server on
//! loopback), and the next article alone, in the next window, with its own
//! subject; on both state backends. The crash rules: `instant_kill.rs`.

use crate::support::mailtest;

use crate::support::serve::{free_port, Serve};
use chrono::{DateTime, DurationRound, Utc};
use mailtest::smtp::SmtpServer;
use mailtest::{parse, Backend, StateDb};
use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

fn bantin(cfg: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bantin")).arg("--config").arg(cfg).args(args).env("BANTIN_LOG", "error").output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn instant_through_add_import_and_export(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::new(backend, dir.path());
    let cfg = mailtest::write_config_for(dir.path(), &db.url, &mailtest::examples(), "smtp://127.0.0.1:9", "https://bantin.example.org/", "");
    let out = bantin(&cfg, &["subscribers", "add", "an@example.org", "--frequency", "instant", "--confirmed"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("(active, instant)"), "{}", text(&out.stdout));
    let bad = bantin(&cfg, &["subscribers", "add", "binh@example.org", "--frequency", "hourly"]);
    assert!(!bad.status.success() && text(&bad.stderr).contains("instant"), "the choices are listed: {}", text(&bad.stderr));

    let csv = dir.path().join("in.csv");
    std::fs::write(&csv, "email,topics,frequency,status\nchi@example.org,kinh-te,Instant,\ndung@example.org,,hourly,\n").unwrap();
    let out = bantin(&cfg, &["subscribers", "import", csv.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(65), "the bad row makes the exit code 65");
    assert!(text(&out.stderr).contains("\"hourly\" is not daily, weekly or instant"), "{}", text(&out.stderr));

    let export = text(&bantin(&cfg, &["subscribers", "export"]).stdout);
    assert!(export.contains("an@example.org,,instant,active"), "{export}");
    assert!(export.contains("chi@example.org,kinh-te,instant,active"), "{export}");
    let json: serde_json::Value = serde_json::from_slice(&bantin(&cfg, &["subscribers", "list", "--format", "json"]).stdout).unwrap();
    assert_eq!(json[0]["frequency"], "instant", "{json}");

    // The export imported into a fresh database gives the same rows back.
    let again = tempfile::tempdir().unwrap();
    let db2 = StateDb::new(backend, again.path());
    let cfg2 = mailtest::write_config_for(again.path(), &db2.url, &mailtest::examples(), "smtp://127.0.0.1:9", "https://bantin.example.org/", "");
    let exported = again.path().join("export.csv");
    std::fs::write(&exported, &export).unwrap();
    let out = bantin(&cfg2, &["subscribers", "import", exported.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let columns = |csv: &str| csv.lines().map(|l| l.split(',').take(4).collect::<Vec<_>>().join(",")).collect::<Vec<_>>();
    assert_eq!(columns(&text(&bantin(&cfg2, &["subscribers", "export"]).stdout)), columns(&export));
}

on_both_backends!(sync instant_through_add_import_and_export, instant_through_add_import_and_export);

/// A Markdown article for the store, first seen whenever it is written.
fn article(store: &Path, n: usize, published: DateTime<Utc>) {
    let text = format!(
        "+++\ntitle = \"Tin nhanh số {n}\"\ndate = {}\ncategories = [\"Kinh tế\"]\nslug = \"tin-nhanh-{n}\"\n+++\n\nNội dung {n}.\n",
        published.to_rfc3339()
    );
    let path = store.join(format!("tin-nhanh-{n}.md"));
    let tmp = store.join(format!(".tin-nhanh-{n}.tmp"));
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(tmp, path).unwrap();
}

/// Every message received so far, by recipient.
fn by_recipient(smtp: &SmtpServer) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for m in smtp.received() {
        let subject = parse(&m.data).subject().unwrap_or_default().to_string();
        for to in m.to {
            out.entry(to).or_default().push(subject.clone());
        }
    }
    out
}

/// Waits until `done` holds for what was received, at most `limit`.
async fn received_when(smtp: &SmtpServer, limit: Duration, done: impl Fn(&HashMap<String, Vec<String>>) -> bool) -> HashMap<String, Vec<String>> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let got = by_recipient(smtp);
        if done(&got) || tokio::time::Instant::now() >= deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const INSTANT: [&str; 3] = ["an@example.org", "binh@example.org", "chi@example.org"];

async fn a_burst_of_40_articles_in_one_window_is_one_mail_per_instant_subscriber(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::new(backend, dir.path());
    let store = dir.path().join("articles");
    std::fs::create_dir_all(&store).unwrap();
    let cfg = mailtest::write_config_for(dir.path(), &db.url, &store, &smtp.url(), "https://bantin.example.org/", "");
    let text_cfg = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("[digest]\n", "[digest]\ninstant_window = \"1m\"\n")
        .replace("[http]\n", &format!("[http]\nlisten = \"127.0.0.1:{}\"\n", free_port()));
    std::fs::write(&cfg, text_cfg).unwrap();
    for email in INSTANT {
        let out = bantin(&cfg, &["subscribers", "add", email, "--frequency", "instant", "--confirmed"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let out = bantin(&cfg, &["subscribers", "add", "daily@example.org", "--confirmed"]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    // The scheduler's clock starts 20 s before a minute (a window) closes,
    // a little later than the real one so that the subscribers joined
    // before that window opened.
    let close = (Utc::now() + chrono::Duration::minutes(2)).duration_trunc(chrono::Duration::minutes(1)).unwrap();
    let start = close - chrono::Duration::seconds(20);
    let serve = Serve::start_with(&cfg, &[("BANTIN_DIGEST_AT", &start.to_rfc3339()), ("BANTIN_DIGEST_POLL_MS", "200")]);
    assert!(serve.wait_log("listening on", Duration::from_secs(30)), "{}", serve.log());

    // 40 articles at once, well inside the window.
    let published = Utc::now() - chrono::Duration::hours(1);
    for n in 1..=40 {
        article(&store, n, published + chrono::Duration::seconds(n as i64));
    }
    let first = received_when(&smtp, Duration::from_secs(90), |got| INSTANT.iter().all(|e| got.contains_key(*e))).await;
    for email in INSTANT {
        let subjects = first.get(email).unwrap_or_else(|| panic!("{email} got nothing; log:\n{}", serve.log()));
        assert_eq!(subjects.len(), 1, "{email}: {subjects:?}");
        assert_eq!(subjects[0], "Bản tin Yên Bái: 40 tin mới – Tin nhanh số 40", "newest first");
    }
    // (Unless the scheduler's clock passes 07:00 in Hồ Chí Minh City, 00:00 UTC.)
    if start.date_naive() == (close + chrono::Duration::minutes(2)).date_naive() {
        assert!(!first.contains_key("daily@example.org"), "the daily subscriber waits for 07:00: {first:?}");
    }
    let mail = parse(&smtp.received()[0].data).body_text(0).unwrap().into_owned();
    let listed = mail.lines().filter(|l| l.split_once(". ").is_some_and(|(n, t)| n.parse::<u32>().is_ok() && t.starts_with("Tin nhanh"))).count();
    assert_eq!(listed, 30, "digest.max_items listed: {mail}");
    assert!(mail.contains("... và 10 bài khác"), "the rest counted: {mail}");

    // One article in the next window: at its close, one mail more each with
    // that article alone (the 40 are not sent again), its title the subject.
    article(&store, 41, Utc::now() - chrono::Duration::minutes(1));
    let second = received_when(&smtp, Duration::from_secs(75), |got| INSTANT.iter().all(|e| got.get(*e).is_some_and(|s| s.len() >= 2))).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let settled = by_recipient(&smtp);
    for email in INSTANT {
        assert_eq!(second.get(email).map(Vec::len), Some(2), "{email}: {second:?}\n{}", serve.log());
        assert_eq!(settled[email][1], "Tin mới: Tin nhanh số 41");
    }
    let instant_mails: usize = INSTANT.iter().map(|e| settled[*e].len()).sum();
    assert_eq!(instant_mails, 2 * INSTANT.len(), "{settled:?}");
}

on_both_backends!(
    a_burst_of_40_articles_in_one_window_is_one_mail_per_instant_subscriber,
    a_burst_of_40_articles_in_one_window_is_one_mail_per_instant_subscriber
);
