//! An instant mail of the example store at a fixed `now`: its own subject
//! forms (one article: `Tin mới: <title>`; several: the heading, the count
//! and the first title), its window as the period label in
//! `site.timezone`, its frequency label, and the built message read back
//! by an independent parser (`mail-parser`), through the shared shapes.

use crate::support::mailtest;

use bantin::digest::plan::{self, Mode, PlanSettings};
use bantin::mail::Composer;
use bantin::state::{Frequency, Status, Subscriber};
use bantin::tokens::TokenKey;
use mailtest::fixed_now as now;
use std::collections::HashMap;

fn instant_subscriber() -> Subscriber {
    Subscriber {
        id: 42,
        email: "doc.gia@example.vn".into(),
        topics: vec![],
        frequency: Frequency::Instant,
        status: Status::Active,
        created_at: "2026-01-01T00:00:00Z".parse().unwrap(),
        confirmed_at: Some("2026-01-01T00:00:00Z".parse().unwrap()),
        bounce_count: 0,
        last_period: None,
        last_digest_at: None,
        last_bounce_reason: None,
        last_bounce_at: None,
    }
}

/// The composer and catalog of the example store, and its instant mail
/// due at the fixed `now` (every article seen for the first time).
fn fixture() -> (tempfile::TempDir, bantin::Catalog, Composer, plan::PlannedDigest) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = mailtest::write_config(dir.path(), &mailtest::examples(), "smtp://127.0.0.1:2525", "https://bantin.yenbai.gov.vn/", "");
    let settings = mailtest::load(&cfg);
    let catalog = bantin::store::load_catalog(&settings, 1).unwrap();
    let composer = Composer::new(&settings, TokenKey::from_bytes(&[1; 32])).unwrap();
    let settings = PlanSettings::from_settings(&settings);
    let mut plans = plan::plan(&[instant_subscriber()], catalog.articles(), &HashMap::new(), &settings, now(), Mode::Scheduled);
    assert_eq!(plans.len(), 1);
    (dir, catalog, composer, plans.remove(0))
}

#[test]
fn several_articles_heading_count_and_first_title_and_the_window_as_label() {
    let (_dir, catalog, composer, p) = fixture();
    // 00:00 UTC is 07:00 in Hồ Chí Minh City: the ten minutes before it.
    assert_eq!(p.period.key, "instant:2026-08-30T23:50:00Z");
    let n = p.articles.len() + p.more;
    assert!(n > 1, "the example store has several articles");
    let r = composer.render_digest(&p, &catalog).unwrap();
    assert_eq!(r.subject, format!("Bản tin Yên Bái: {n} tin mới – {}", p.articles[0].title()));
    assert!(r.text.starts_with("Bản tin Yên Bái – 06:50–07:00 31/08/2026\n"), "{}", r.text);
    assert!(r.text.contains("đăng ký bản tin tức thời của"), "{}", r.text);
    assert!(r.html.contains("06:50–07:00 31/08/2026"), "{}", r.html);
}

#[test]
fn one_article_is_tin_moi_and_its_title_through_the_built_message() {
    let (_dir, catalog, composer, mut p) = fixture();
    p.articles.truncate(1);
    p.more = 0;
    let title = p.articles[0].title().to_string();
    let shapes = bantin::mail::shape::Shapes::default();
    let msg = composer.digest_in(&shapes, &p, &catalog, now()).unwrap();
    assert_eq!(msg.message_id, composer.message_id(42, "instant:2026-08-30T23:50:00Z"), "a function of (subscriber, window)");
    let body = msg.body().unwrap();
    let parsed = mail_parser::MessageParser::default().parse(&body).expect("mail-parser reads it");
    assert_eq!(parsed.subject(), Some(format!("Tin mới: {title}").as_str()));
    let raw = String::from_utf8_lossy(&body);
    let subject_line = raw.lines().find(|l| l.starts_with("Subject:")).unwrap();
    assert!(subject_line.is_ascii() && subject_line.contains("=?utf-8?"), "RFC 2047 subject: {subject_line}");
    assert!(parsed.body_text(0).unwrap().contains(&title));
}
