//! Issue 20, deliverability: `bantin digest send-test EMAIL --to ADDR` and
//! the seed addresses of `digest.seed`, through the real binary and a real
//! SMTP server, on both state backends. A test send is EMAIL's next digest
//! with `[TEST]`, to ADDR, with no link or header that acts on EMAIL's
//! subscription, and it records nothing (EMAIL's real digest afterwards has
//! the same articles); ADDR suppressed or complained is refused (65), a
//! relay out of reach is 69. A seed address gets one copy per period of a
//! run, never a second one for the same period, and none when suppressed.

use crate::support::mailtest;

use bantin::state::{ReportKind, ReportRow, StateStore, Status, Target};
use mailtest::smtp::{Received, SmtpServer};
use mailtest::{parse, wait_for_mail, Backend, StateDb};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// An hour after the digests' 07:00 on Monday 2026-08-31: the daily and
/// the weekly period both began an hour before.
const AT: &str = "2026-08-31T08:00:00+07:00";
const READER: &str = "reader@example.org";
const EDITOR: &str = "editor@example.org";
const GONE: &str = "gone@example.org";
const ANGRY: &str = "angry@example.org";

/// `bantin --config cfg ARGS` with `env`: exit code and stdout + stderr.
async fn bantin(cfg: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    crate::support::harness::cli(cfg, args, env).await
}

/// The config of a test on `db`, with `mail` added to [mail] and `digest`
/// to [digest] (the last section of the file).
fn config(dir: &Path, db: &StateDb, smtp: &SmtpServer, mail: &str, digest: &str) -> PathBuf {
    let cfg = mailtest::write_config_for(dir, &db.url, &mailtest::examples(), &smtp.url(), "https://bantin.example.org/", mail);
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, format!("{text}{digest}\n")).unwrap();
    cfg
}

async fn add(cfg: &Path, email: &str, frequency: &str) {
    let (code, out) = bantin(cfg, &["subscribers", "add", email, "--confirmed", "--frequency", frequency], &[]).await;
    assert_eq!(code, 0, "{out}");
}

/// Marks `email` (a subscriber) suppressed or complained as a received
/// report does, with a reason and the time.
async fn report(state: &StateStore, email: &str, kind: ReportKind, reason: &str) {
    let sub = state.subscriber_by_email(email).await.unwrap().unwrap();
    let row = ReportRow { kind, target: Some(Target { outbox_id: 0, subscriber_id: Some(sub.id) }), reason: reason.into() };
    assert!(state.apply_reports(&format!("test-{email}"), &[row], 3, mailtest::fixed_now()).await.unwrap());
}

/// The article links of a digest's text part, in order.
fn articles(m: &Received) -> Vec<String> {
    let text = parse(&m.data).body_text(0).unwrap().into_owned();
    text.lines().filter_map(|l| l.trim().strip_prefix("Đọc tiếp: ")).map(str::to_string).collect()
}

/// A copy (test send or seed copy): no header or link that acts on a
/// subscription, the site's home page instead, List-Id kept.
fn assert_neutral(m: &Received) {
    let msg = parse(&m.data);
    assert!(msg.header_raw("List-Unsubscribe").is_none() && msg.header_raw("List-Unsubscribe-Post").is_none(), "{}", String::from_utf8_lossy(&m.data));
    assert!(msg.header_raw("List-Id").is_some());
    let (text, html) = (msg.body_text(0).unwrap(), msg.body_html(0).unwrap());
    for part in [&text, &html] {
        // The archive link ("view in browser", `digest.archive`) names a
        // period and topics, no one: a copy keeps it.
        let part = part.replace("https://bantin.example.org/archive/", "");
        assert!(!part.contains("/unsubscribe/") && !part.contains("/preferences/") && !part.contains("bantin.example.org"), "{part}");
    }
    assert!(text.contains("Hủy đăng ký: https://yenbai.gov.vn/"), "{text}");
}

async fn a_test_send_is_the_next_digest_marked_and_records_nothing(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::new(backend, dir.path());
    let cfg = config(dir.path(), &db, &smtp, "return_path = \"bounces@example.org\"", "");
    add(&cfg, READER, "daily").await;

    let (code, out) = bantin(&cfg, &["digest", "send-test", READER, "--to", EDITOR, "--at", AT], &[]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("sent to {EDITOR}: [TEST] Bản tin Yên Bái – 31/08/2026: ")), "{out}");
    let test = wait_for_mail(&smtp, 1).await.remove(0);
    assert_eq!(test.to, [EDITOR]);
    assert_eq!(test.from, "bounces@example.org", "the return path as it is: no outbox row for a VERP token to name");
    let msg = parse(&test.data);
    let subject = msg.subject().unwrap();
    assert!(subject.starts_with("[TEST] Bản tin Yên Bái – 31/08/2026: ") && subject.ends_with(" bài mới"), "{subject}");
    let raw = String::from_utf8_lossy(&test.data);
    let line = raw.lines().find(|l| l.starts_with("Subject: ")).unwrap();
    assert!(line.is_ascii() && line.contains("=?utf-8?"), "an RFC 2047 subject: {line}");
    assert_eq!(msg.to().and_then(|t| t.first()).and_then(|a| a.address()), Some(EDITOR));
    assert!(msg.message_id().unwrap().starts_with("test."), "{:?}", msg.message_id());
    assert!(msg.body_text(0).unwrap().contains(&format!("với địa chỉ {READER}")), "the reader's digest, as they would get it");
    assert_neutral(&test);
    let tested = articles(&test);
    assert!(!tested.is_empty());

    // Nothing recorded: no outbox row, no watermark.
    let state = StateStore::open(&db.url).await.unwrap();
    let counts = state.outbox_counts().await.unwrap();
    assert_eq!((counts.queued, counts.sending, counts.sent, counts.failed), (0, 0, 0, 0));
    let reader = state.subscriber_by_email(READER).await.unwrap().unwrap();
    assert_eq!((reader.last_period, reader.last_digest_at), (None, None));

    // A second test is another message.
    let (code, out) = bantin(&cfg, &["digest", "send-test", READER, "--to", EDITOR, "--at", AT], &[]).await;
    assert_eq!(code, 0, "{out}");
    let again = wait_for_mail(&smtp, 2).await.remove(1);
    assert_ne!(parse(&again.data).message_id(), msg.message_id());

    // The reader's real digest still has every article of the test.
    let (code, out) = bantin(&cfg, &["digest", "run", "--now", "--at", AT], &[]).await;
    assert_eq!(code, 0, "{out}");
    let real = wait_for_mail(&smtp, 3).await.remove(2);
    assert_eq!(real.to, [READER]);
    assert_eq!(articles(&real), tested);
    assert!(parse(&real.data).header_raw("List-Unsubscribe").is_some());
    // Now that they have had them, a test has nothing to send.
    let (code, out) = bantin(&cfg, &["digest", "send-test", READER, "--to", EDITOR, "--at", AT], &[]).await;
    assert!(code == 0 && out.contains(&format!("nothing new for {READER}")), "{code} {out}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(smtp.received().len(), 3);
}

on_both_backends!(a_test_send_is_the_next_digest_marked_and_records_nothing, a_test_send_is_the_next_digest_marked_and_records_nothing);

async fn a_test_send_to_a_suppressed_address_is_refused(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::new(backend, dir.path());
    let cfg = config(dir.path(), &db, &smtp, "", "");
    for who in [READER, GONE, ANGRY] {
        add(&cfg, who, "daily").await;
    }
    let state = StateStore::open(&db.url).await.unwrap();
    report(&state, GONE, ReportKind::Hard, "5.1.1 <gone@example.org>: Recipient address rejected: User unknown").await;
    report(&state, ANGRY, ReportKind::Complaint, "abuse").await;

    let (code, out) = bantin(&cfg, &["digest", "send-test", READER, "--to", "Gone@Example.ORG", "--at", AT], &[]).await;
    assert_eq!(code, 65, "{out}");
    assert!(
        out.contains("gone@example.org is suppressed after a hard bounce on 2026-08-31 (5.1.1 <gone@example.org>: Recipient address rejected: User unknown); test sends to it are refused"),
        "{out}"
    );
    assert!(out.contains("bantin subscribers lift gone@example.org"), "how to lift it: {out}");
    let (code, out) = bantin(&cfg, &["digest", "send-test", READER, "--to", ANGRY, "--at", AT], &[]).await;
    assert!(code == 65 && out.contains("angry@example.org is complained") && out.contains("refused"), "{code} {out}");
    // An unknown EMAIL, and an ADDR that is not an address.
    let (code, out) = bantin(&cfg, &["digest", "send-test", "nobody@example.org", "--to", EDITOR, "--at", AT], &[]).await;
    assert!(code == 65 && out.contains("nobody@example.org is not a subscriber"), "{code} {out}");
    let (code, out) = bantin(&cfg, &["digest", "send-test", READER, "--to", "editor@example.org\r\nBcc: x@example.org", "--at", AT], &[]).await;
    assert!(code == 65 && out.contains("--to"), "{code} {out}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(smtp.received().is_empty(), "nothing sent");

    // A relay out of reach: 69, with its error, and nothing recorded.
    let (held, port) = mailtest::refusing_port();
    let url = format!("smtp://{port}");
    let (code, out) = bantin(&cfg, &["digest", "send-test", READER, "--to", EDITOR, "--at", AT], &[("BANTIN__MAIL__SMTP_URL", &url)]).await;
    drop(held);
    assert!(code == 69 && out.contains(&format!("the SMTP relay (smtp://{port}) did not take the test")) && out.contains("refused"), "{code} {out}");
    assert_eq!(state.outbox_counts().await.unwrap().queued, 0);
}

on_both_backends!(a_test_send_to_a_suppressed_address_is_refused, a_test_send_to_a_suppressed_address_is_refused);

async fn a_seed_address_gets_one_copy_per_period(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::new(backend, dir.path());
    // The suppressed seed written in another case: the same mailbox.
    let cfg = config(dir.path(), &db, &smtp, "", &format!("seed = [\"{EDITOR}\", \"Gone@example.org\"]"));
    add(&cfg, "daily@example.org", "daily").await;
    add(&cfg, "weekly@example.org", "weekly").await;
    add(&cfg, GONE, "daily").await;
    let state = StateStore::open(&db.url).await.unwrap();
    report(&state, GONE, ReportKind::Hard, "5.1.1 User unknown").await;

    let (code, out) = bantin(&cfg, &["digest", "run", "--now", "--at", AT], &[]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("2 queued and 2 seed copies"), "{out}");
    let mails = wait_for_mail(&smtp, 4).await;
    let copies: Vec<&Received> = mails.iter().filter(|m| m.to == [EDITOR]).collect();
    assert_eq!(copies.len(), 2, "{mails:?}");
    let mut subjects: Vec<String> = copies.iter().map(|m| parse(&m.data).subject().unwrap().to_string()).collect();
    subjects.sort();
    assert!(subjects[0].starts_with("Bản tin Yên Bái – 31/08/2026: ") && subjects[1].starts_with("Bản tin Yên Bái – tuần 36/2026: "), "{subjects:?}");
    for m in &copies {
        assert_neutral(m);
        assert!(!articles(m).is_empty());
    }
    assert_ne!(parse(&copies[0].data).message_id(), parse(&copies[1].data).message_id());

    // A reader more, and the same run again: the daily period queues news
    // again, and the copy of that period is not sent a second time.
    add(&cfg, "late@example.org", "daily").await;
    let (code, out) = bantin(&cfg, &["digest", "run", "--now", "--at", AT], &[]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("1 queued in") && !out.contains("seed cop"), "{out}");
    wait_for_mail(&smtp, 5).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mails = smtp.received();
    assert_eq!(mails.len(), 5, "{mails:?}");
    assert_eq!(mails[4].to, ["late@example.org"]);
    assert_eq!(mails.iter().filter(|m| m.to == [EDITOR]).count(), 2);
    assert!(mails.iter().all(|m| !m.to[0].eq_ignore_ascii_case(GONE)), "a suppressed seed address gets nothing");
    assert_eq!(state.subscriber_by_email(GONE).await.unwrap().unwrap().status, Status::Suppressed);
}

on_both_backends!(a_seed_address_gets_one_copy_per_period, a_seed_address_gets_one_copy_per_period);
