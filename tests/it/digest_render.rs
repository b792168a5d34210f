//! The rendered digest of the example store at a fixed `now`: snapshots of
//! the text and HTML parts, and the built message read back by an
//! independent parser (`mail-parser`).

use crate::support::mailtest;

use bantin::digest::plan::{self, Mode, PlanSettings};
use bantin::mail::Composer;
use bantin::state::{Frequency, Status, Subscriber};
use bantin::tokens::TokenKey;
use mailtest::fixed_now as now;
use std::collections::HashMap;

fn subscriber(frequency: Frequency, topics: &[&str]) -> Subscriber {
    Subscriber {
        id: 42,
        email: "doc.gia@example.vn".into(),
        topics: topics.iter().map(|t| t.to_string()).collect(),
        frequency,
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

struct Fixture {
    _dir: tempfile::TempDir,
    catalog: bantin::Catalog,
    composer: Composer,
    plan: PlanSettings,
}

fn fixture(max_items: usize) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let cfg = mailtest::write_config(dir.path(), &mailtest::examples(), "smtp://127.0.0.1:2525", "https://bantin.yenbai.gov.vn/", "");
    let settings = mailtest::load(&cfg);
    let catalog = bantin::store::load_catalog(&settings, 1).unwrap();
    let composer = Composer::new(&settings, TokenKey::from_bytes(&[1; 32])).unwrap();
    let mut plan = PlanSettings::from_settings(&settings);
    plan.max_items = max_items;
    Fixture { _dir: dir, catalog, composer, plan }
}

fn planned(f: &Fixture, frequency: Frequency, topics: &[&str]) -> plan::PlannedDigest {
    let recipients = vec![subscriber(frequency, topics)];
    let mut plans = plan::plan(&recipients, f.catalog.articles(), &HashMap::new(), &f.plan, now(), Mode::Scheduled);
    assert_eq!(plans.len(), 1);
    plans.remove(0)
}

#[test]
fn daily_digest_of_the_example_store_text_and_html() {
    let f = fixture(30);
    let p = planned(&f, Frequency::Daily, &[]);
    assert_eq!(p.period.key, "daily:2026-08-31");
    let r = f.composer.render_digest(&p, &f.catalog).unwrap();
    assert_eq!(r.subject, format!("Bản tin Yên Bái – 31/08/2026: {} bài mới", p.articles.len()));
    insta::assert_snapshot!("daily_digest_subject", r.subject);
    insta::assert_snapshot!("daily_digest_text", r.text);
    insta::assert_snapshot!("daily_digest_html", r.html);
}

#[test]
fn weekly_digest_with_topics_and_more() {
    let f = fixture(1);
    let p = planned(&f, Frequency::Weekly, &["kinh-te", "nong-nghiep-nong-thon"]);
    assert_eq!(p.period.key, "weekly:2026-W36");
    assert!(p.more >= 1, "max_items 1 leaves the rest to 'more'");
    let r = f.composer.render_digest(&p, &f.catalog).unwrap();
    insta::assert_snapshot!("weekly_digest_text", r.text);
    assert!(r.html.contains(&format!("… và {} bài khác", p.more)), "{}", r.html);
}

#[test]
fn the_built_message_parses_with_an_independent_parser() {
    let f = fixture(30);
    let p = planned(&f, Frequency::Daily, &[]);
    let msg = f.composer.digest(&p, &f.catalog, now()).unwrap();
    // Deterministic Message-ID: a function of (subscriber, period).
    assert_eq!(msg.message_id, f.composer.message_id(42, "daily:2026-08-31"));
    assert_ne!(msg.message_id, f.composer.message_id(42, "daily:2026-09-01"));
    assert_ne!(msg.message_id, f.composer.message_id(43, "daily:2026-08-31"));
    let body = msg.body().unwrap();
    let parsed = mail_parser::MessageParser::default().parse(&body).expect("mail-parser reads it");
    assert_eq!(parsed.subject(), Some(format!("Bản tin Yên Bái – 31/08/2026: {} bài mới", p.articles.len()).as_str()));
    let raw = String::from_utf8_lossy(&body);
    let subject_line = raw.lines().find(|l| l.starts_with("Subject:")).unwrap();
    assert!(subject_line.is_ascii() && subject_line.contains("=?utf-8?"), "RFC 2047 subject: {subject_line}");
    assert_eq!(parsed.message_id(), Some(msg.message_id.trim_matches(['<', '>'])));
    let text = parsed.body_text(0).expect("a text part");
    let html = parsed.body_html(0).expect("an HTML part");
    assert!(text.contains("Nghĩa Lộ") || text.contains("Mù Cang Chải"), "{text}");
    assert!(html.contains("<table"), "{html}");
    let unsub = parsed.header_raw("List-Unsubscribe").expect("List-Unsubscribe");
    let unsub: String = unsub.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(unsub.starts_with("<https://bantin.yenbai.gov.vn/unsubscribe/"), "{unsub}");
    assert!(unsub.contains("<mailto:bantin@example.org?subject=unsubscribe>"), "{unsub}");
    assert_eq!(parsed.header_raw("List-Unsubscribe-Post").map(str::trim), Some("List-Unsubscribe=One-Click"));
    assert!(parsed.header_raw("List-Id").is_some());
    // Every link is absolute.
    for href in html.split("href=\"").skip(1) {
        assert!(href.starts_with("https://"), "relative link in {href:.60}");
    }
}

#[test]
fn header_injection_through_a_recipient_address_is_refused() {
    let f = fixture(30);
    let mut p = planned(&f, Frequency::Daily, &[]);
    p.subscriber.email = "doc.gia@example.vn\r\nBcc: victim@example.com".into();
    assert!(f.composer.digest(&p, &f.catalog, now()).is_err());
    // Article data reaches only the body: a title with a line break does not
    // make a header line.
    let mut p = planned(&f, Frequency::Daily, &[]);
    let mut evil = (*p.articles[0]).clone();
    evil.names = evil.names.with_title("Tin\r\nBcc: victim@example.com");
    p.articles[0] = std::sync::Arc::new(evil);
    let msg = f.composer.digest(&p, &f.catalog, now()).unwrap();
    let body = msg.body().unwrap();
    let raw = String::from_utf8_lossy(&body);
    assert!(!raw.lines().any(|l| l.starts_with("Bcc:")), "{raw}");
}

#[test]
fn dkim_signs_with_an_ed25519_key_covering_the_list_headers() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("dkim.key");
    std::fs::write(&key, base64::engine::general_purpose::STANDARD.encode([7u8; 32])).unwrap();
    let extra = format!("dkim_selector = \"bantin\"\ndkim_domain = \"example.org\"\ndkim_key_file = \"{}\"", key.display());
    let cfg = mailtest::write_config(dir.path(), &mailtest::examples(), "smtp://127.0.0.1:2525", "https://bantin.yenbai.gov.vn/", &extra);
    let settings = mailtest::load(&cfg);
    let catalog = bantin::store::load_catalog(&settings, 1).unwrap();
    let composer = Composer::new(&settings, TokenKey::from_bytes(&[1; 32])).unwrap();
    let plan = PlanSettings::from_settings(&settings);
    let recipients = vec![subscriber(Frequency::Daily, &[])];
    let p = plan::plan(&recipients, catalog.articles(), &HashMap::new(), &plan, now(), Mode::Scheduled).remove(0);
    let msg = composer.digest(&p, &catalog, now()).unwrap();
    let body = msg.body().unwrap();
    let parsed = mail_parser::MessageParser::default().parse(&body).unwrap();
    let sig: String = parsed.header_raw("DKIM-Signature").expect("signed").split_whitespace().collect();
    assert!(sig.contains("a=ed25519-sha256") && sig.contains("d=example.org") && sig.contains("s=bantin"), "{sig}");
    let h = sig.split(';').find_map(|t| t.trim().strip_prefix("h=")).unwrap().to_ascii_lowercase();
    for name in ["from", "subject", "message-id", "list-unsubscribe", "list-unsubscribe-post"] {
        assert!(h.split(':').any(|x| x == name), "{name} not signed: {h}");
    }
    // A test send is signed as every mail is.
    let test = composer.test_digest(&p, &catalog, "editor@example.org", now()).unwrap();
    let parsed = mail_parser::MessageParser::default().parse(&test.body).unwrap();
    let sig: String = parsed.header_raw("DKIM-Signature").expect("a test send is signed").split_whitespace().collect();
    assert!(sig.contains("d=example.org") && sig.contains("s=bantin"), "{sig}");
}

#[test]
fn a_test_send_is_the_digest_with_links_that_act_on_no_subscription() {
    let f = fixture(30);
    let p = planned(&f, Frequency::Daily, &[]);
    let test = f.composer.test_digest(&p, &f.catalog, "editor@example.org", now()).unwrap();
    let parsed = mail_parser::MessageParser::default().parse(&test.body).expect("mail-parser reads it");
    assert_eq!(test.subject, format!("[TEST] Bản tin Yên Bái – 31/08/2026: {} bài mới", p.articles.len()));
    assert_eq!(parsed.subject(), Some(test.subject.as_str()));
    assert_eq!(parsed.to().and_then(|t| t.first()).and_then(|a| a.address()), Some("editor@example.org"));
    assert_eq!(parsed.message_id(), Some(test.message_id.trim_matches(['<', '>'])));
    assert!(parsed.header_raw("List-Unsubscribe").is_none() && parsed.header_raw("List-Unsubscribe-Post").is_none());
    let html = parsed.body_html(0).unwrap();
    assert!(!html.contains("/unsubscribe/") && !html.contains("/preferences/"), "{html}");
    insta::assert_snapshot!("test_send_text", parsed.body_text(0).unwrap());
    // Another test of the same digest is another message.
    let again = f.composer.test_digest(&p, &f.catalog, "editor@example.org", now()).unwrap();
    assert_ne!(again.message_id, test.message_id);
    // A seed copy's Message-ID: one per address and period, none a
    // subscriber's digest has.
    let seed = |address: &str, period: &str| f.composer.seed_message_id(address, period);
    assert_eq!(seed("editor@example.org", "daily:2026-08-31"), seed("editor@example.org", "daily:2026-08-31"));
    assert_ne!(seed("editor@example.org", "daily:2026-08-31"), seed("qa@example.org", "daily:2026-08-31"));
    assert_ne!(seed("editor@example.org", "daily:2026-08-31"), seed("editor@example.org", "weekly:2026-W36"));
    assert_ne!(seed("editor@example.org", "daily:2026-08-31"), f.composer.message_id(0, "daily:2026-08-31"));
}

/// A digest signed with the DKIM key at `key`: the message's bytes.
fn signed_digest(key: &std::path::Path) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let extra = format!("dkim_selector = \"bantin\"\ndkim_domain = \"example.org\"\ndkim_key_file = \"{}\"", key.display());
    let cfg = mailtest::write_config(dir.path(), &mailtest::examples(), "smtp://127.0.0.1:2525", "https://bantin.yenbai.gov.vn/", &extra);
    let settings = mailtest::load(&cfg);
    let catalog = bantin::store::load_catalog(&settings, 1).unwrap();
    let composer = Composer::new(&settings, TokenKey::from_bytes(&[1; 32])).unwrap();
    let plan = PlanSettings::from_settings(&settings);
    let recipients = vec![subscriber(Frequency::Daily, &[])];
    let p = plan::plan(&recipients, catalog.articles(), &HashMap::new(), &plan, now(), Mode::Scheduled).remove(0);
    composer.digest(&p, &catalog, now()).unwrap().body().unwrap().into_owned()
}

/// What an ed25519-sha256 DKIM signature signs (RFC 6376 3.7, relaxed
/// header canonicalization; RFC 8463: the SHA-256 of it) and the signature.
fn dkim_signed_hash(message: &[u8]) -> (Vec<u8>, Vec<u8>) {
    use base64::Engine as _;
    use sha2::Digest as _;
    let text = String::from_utf8_lossy(message);
    let head = text.split("\r\n\r\n").next().unwrap().replace("\r\n ", " ").replace("\r\n\t", " ");
    let headers: Vec<(&str, &str)> = head.lines().filter_map(|l| l.split_once(':')).collect();
    let relaxed = |name: &str, value: &str| format!("{}:{}", name.trim().to_ascii_lowercase(), value.split_whitespace().collect::<Vec<_>>().join(" "));
    let (_, sig) = headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("DKIM-Signature")).expect("signed");
    let tags: Vec<(&str, &str)> = sig.split(';').filter_map(|t| t.split_once('=')).collect();
    let tag = |name: &str| tags.iter().find(|(n, _)| n.trim() == name).map(|(_, v)| v.split_whitespace().collect::<String>()).unwrap();
    let mut data = String::new();
    for name in tag("h").split(':') {
        let (n, v) = headers.iter().rev().find(|(n, _)| n.eq_ignore_ascii_case(name)).unwrap();
        data.push_str(&relaxed(n, v));
        data.push_str("\r\n");
    }
    let unsigned: Vec<String> =
        sig.split(';').map(|t| if t.trim_start().starts_with("b=") { t[..t.find('=').unwrap() + 1].to_string() } else { t.to_string() }).collect();
    data.push_str(&relaxed("DKIM-Signature", &unsigned.join(";")));
    let signature = base64::engine::general_purpose::STANDARD.decode(tag("b")).unwrap();
    (sha2::Sha256::digest(data.as_bytes()).to_vec(), signature)
}

/// Issue 19: RSA signing (the `rsa` crate) carries RUSTSEC-2023-0071, so the
/// documented key is Ed25519, made by `openssl genpkey -algorithm ed25519`,
/// whose PKCS#8 PEM was refused. It is read as that very key: openssl
/// verifies the signature with the public key it derives from it (the one
/// the DNS record publishes).
#[test]
fn dkim_signs_with_the_ed25519_pem_that_openssl_makes() {
    let dir = tempfile::tempdir().unwrap();
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl").args(args).current_dir(dir.path()).output().expect("openssl is installed");
        assert!(out.status.success() || args[0] == "pkeyutl", "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out.status.success()
    };
    openssl(&["genpkey", "-algorithm", "ed25519", "-out", "dkim.pem"]);
    openssl(&["pkey", "-in", "dkim.pem", "-pubout", "-out", "dkim.pub"]);
    let message = signed_digest(&dir.path().join("dkim.pem"));
    let (hash, signature) = dkim_signed_hash(&message);
    std::fs::write(dir.path().join("hash"), &hash).unwrap();
    std::fs::write(dir.path().join("sig"), &signature).unwrap();
    let verify = ["pkeyutl", "-verify", "-pubin", "-inkey", "dkim.pub", "-rawin", "-in", "hash", "-sigfile", "sig"];
    assert!(openssl(&verify), "openssl verifies the DKIM signature with the key's public half");
    // The check can fail: a hash of other data does not verify.
    std::fs::write(dir.path().join("hash"), [0u8; 32]).unwrap();
    assert!(!openssl(&verify));
}

#[test]
fn a_pkcs8_dkim_key_is_refused_with_the_conversion_to_run() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("dkim.pem");
    // An RSA key in PKCS#8 (its first bytes: lettre reads PKCS#1 only).
    // Issue 19 made Ed25519 keys in PKCS#8, what openssl writes, welcome.
    std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\nMIICdgIBADANBgkqhkiG9w0BAQEFAA==\n-----END PRIVATE KEY-----\n").unwrap();
    let extra = format!("dkim_selector = \"bantin\"\ndkim_domain = \"example.org\"\ndkim_key_file = \"{}\"", key.display());
    let cfg = mailtest::write_config(dir.path(), &mailtest::examples(), "smtp://127.0.0.1:2525", "https://bantin.yenbai.gov.vn/", &extra);
    let err = Composer::new(&mailtest::load(&cfg), TokenKey::from_bytes(&[1; 32])).unwrap_err().to_string();
    assert!(err.contains("dkim.pem") && err.contains("-traditional"), "{err}");
}

/// Text and HTML of a built message, decoded by an independent parser,
/// and its headers but the boundary-bearing Content-Type.
fn decoded(bytes: &[u8]) -> (String, String, Vec<(String, String)>) {
    let parsed = mail_parser::MessageParser::default().parse(bytes).expect("mail-parser reads it");
    let headers = parsed
        .headers()
        .iter()
        .filter(|h| !h.name().eq_ignore_ascii_case("content-type"))
        .map(|h| (h.name().to_string(), format!("{:?}", h.value())))
        .collect();
    (parsed.body_text(0).unwrap().into_owned(), parsed.body_html(0).unwrap().into_owned(), headers)
}

/// Digests made from a shape (`mail::shape`: rendered and encoded once per
/// set of articles, completed per subscriber) read back exactly as the
/// same digests rendered one by one: text, HTML and every header. Several
/// subscribers per shape, several shapes, addresses of other lengths.
#[test]
fn digests_from_a_shape_read_back_as_rendered_one_by_one() {
    let f = fixture(30);
    let shapes = bantin::mail::shape::Shapes::default();
    let topics: [&[&str]; 3] = [&[], &["kinh-te"], &["du-lich", "van-hoa-xa-hoi"]];
    let mut seen = 0;
    for i in 0..12 {
        let mut plan = planned(&f, if i % 4 == 3 { Frequency::Weekly } else { Frequency::Daily }, topics[i % 3]);
        plan.subscriber.id = 100 + i as i64;
        plan.subscriber.email = format!("{}{i}@example.vn", "doc.gia".repeat(i % 3 + 1));
        if plan.is_empty() {
            continue;
        }
        let direct = f.composer.digest(&plan, &f.catalog, now()).unwrap();
        let shaped = f.composer.digest_in(&shapes, &plan, &f.catalog, now()).unwrap();
        assert_eq!(shaped.message_id, direct.message_id);
        assert_eq!(decoded(&shaped.body().unwrap()), decoded(&direct.body().unwrap()), "subscriber {i}");
        let raw = String::from_utf8(shaped.body().unwrap().into_owned()).unwrap();
        assert!(raw.lines().all(|l| l.len() <= 998), "no line over RFC 5322's limit");
        seen += 1;
    }
    assert!(seen >= 8, "most of these subscribers have a digest ({seen})");
}

/// A template that tests a subscriber's own value cannot be shared: each
/// such digest is rendered for its subscriber, and says what it should.
#[test]
fn a_template_that_tests_the_address_is_rendered_per_subscriber() {
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("templates");
    std::fs::create_dir_all(&templates).unwrap();
    std::fs::write(
        templates.join("digest.txt"),
        "{% if email[:3] == 'vip' %}Kính gửi quý khách{% else %}Xin chào{% endif %} {{ email }}\n{{ unsubscribe_url }}\n",
    )
    .unwrap();
    let extra = format!("templates_dir = {:?}", templates.display().to_string());
    let cfg = mailtest::write_config(dir.path(), &mailtest::examples(), "smtp://127.0.0.1:2525", "https://bantin.yenbai.gov.vn/", &extra);
    let settings = mailtest::load(&cfg);
    let catalog = bantin::store::load_catalog(&settings, 1).unwrap();
    let composer = Composer::new(&settings, TokenKey::from_bytes(&[1; 32])).unwrap();
    let plan_settings = PlanSettings::from_settings(&settings);
    let shapes = bantin::mail::shape::Shapes::default();
    for email in ["an@example.vn", "vip.binh@example.vn", "chi@example.vn"] {
        let mut sub = subscriber(Frequency::Daily, &[]);
        sub.email = email.into();
        let mut plans = plan::plan(&[sub], catalog.articles(), &HashMap::new(), &plan_settings, now(), Mode::Scheduled);
        let plan = plans.remove(0);
        let shaped = composer.digest_in(&shapes, &plan, &catalog, now()).unwrap();
        let (text, _, _) = decoded(&shaped.body().unwrap());
        let greeting = if email.starts_with("vip") { "Kính gửi quý khách" } else { "Xin chào" };
        assert!(text.starts_with(&format!("{greeting} {email}")), "{email}: {text}");
        assert_eq!(decoded(&shaped.body().unwrap()), decoded(&composer.digest(&plan, &catalog, now()).unwrap().body().unwrap()));
    }
}

/// Regression: a digest whose plain part is mostly Vietnamese letters (a
/// third of its bytes outside ASCII, as real news is) had no shape. lettre
/// chose base64 for that part, which cannot be shared (a personal link
/// shifts every byte after it), so such a digest was rendered three times
/// over and stored whole: ~74 KB a digest where a shared one stores ~2 KB
/// (a day of the 100k-article bench store: 2,000 of 10,000). Every digest's
/// parts are quoted-printable now, and this one is stored as a delta.
#[test]
fn a_digest_in_vietnamese_is_shared_not_stored_whole() {
    use bantin::state::MessageBytes;
    use lettre::message::header::ContentTransferEncoding;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("articles");
    std::fs::create_dir(&store).unwrap();
    let sentence = "Những người dân ở đây đều rất mến khách, hiếu học và chịu khó; mùa lúa chín vàng rực rỡ trên ruộng bậc thang. ";
    for i in 0..20 {
        std::fs::write(
            store.join(format!("ruong-bac-thang-{i}.md")),
            format!("+++\ntitle = \"Mùa vàng trên ruộng bậc thang số {i}\"\ndate = 2026-08-30T{:02}:00:00+07:00\ncategories = [\"Du lịch\"]\n+++\n\n{}\n", i + 1, sentence.repeat(6)),
        )
        .unwrap();
    }
    let cfg = mailtest::write_config(dir.path(), &store, "smtp://127.0.0.1:2525", "https://bantin.yenbai.gov.vn/", "");
    let settings = mailtest::load(&cfg);
    let catalog = bantin::store::load_catalog(&settings, 1).unwrap();
    let composer = Composer::new(&settings, TokenKey::from_bytes(&[1; 32])).unwrap();
    let plan_settings = PlanSettings::from_settings(&settings);
    let p = plan::plan(&[subscriber(Frequency::Daily, &[])], catalog.articles(), &HashMap::new(), &plan_settings, now(), Mode::Scheduled).remove(0);
    assert_eq!(p.articles.len(), 20, "the articles are new in this period");

    let rendered = composer.render_digest(&p, &catalog).unwrap();
    let lettres_choice = lettre::message::Body::new(rendered.text.clone()).encoding();
    assert_eq!(lettres_choice, ContentTransferEncoding::Base64, "the bug's case: lettre would not choose quoted-printable");

    let shaped = composer.digest_in(&bantin::mail::shape::Shapes::default(), &p, &catalog, now()).unwrap();
    let MessageBytes::Shared(shared) = &shaped.bytes else { panic!("stored whole") };
    let whole = shaped.body().unwrap();
    assert!(shared.delta.len() * 10 < whole.len(), "a delta of {} bytes for {}", shared.delta.len(), whole.len());
    let direct = composer.digest(&p, &catalog, now()).unwrap();
    assert_eq!(decoded(&whole), decoded(&direct.body().unwrap()));
    for message in [&*whole, &*direct.body().unwrap()] {
        let raw = String::from_utf8_lossy(message);
        let encodings: Vec<&str> = raw.lines().filter(|l| l.starts_with("Content-Transfer-Encoding:")).collect();
        assert_eq!(encodings, ["Content-Transfer-Encoding: quoted-printable"; 2], "both parts");
    }
}
