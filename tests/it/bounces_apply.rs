//! Issue 20, the apply step at library level: what `Bounces::receive`
//! answers and counts in `bantin_bounces_total` (the listener of `serve`
//! passes serve's registry; the CLI counts nothing).

use crate::support::mailtest;

use bantin::bounces::{Applied, Bounces};
use bantin::metrics::Metrics;
use bantin::state::StateStore;
use bantin::tokens::TokenKey;

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/bantin-core/tests/fixtures/reports").join(name);
    std::fs::read(path).unwrap()
}

/// The settings (`mail.return_path = "bounces@example.org"`) and a fresh
/// SQLite state database in `dir`.
async fn with_return_path(dir: &std::path::Path) -> (bantin::Settings, StateStore) {
    let url = format!("sqlite://{}/state.db", dir.display());
    let cfg = mailtest::write_config_for(dir, &url, &mailtest::examples(), "smtp://127.0.0.1:9", "https://b.example.org/", "return_path = \"bounces@example.org\"");
    (mailtest::load(&cfg), StateStore::open(&url).await.unwrap())
}

#[tokio::test]
async fn reports_of_nothing_of_ours_are_ignored_counted_and_applied_once() {
    let dir = tempfile::tempdir().unwrap();
    let (settings, state) = with_return_path(dir.path()).await;
    let metrics = Metrics::new();
    let bounces = Bounces::new(state, TokenKey::from_bytes(&[7u8; 32]), &settings).with_metrics(&metrics);

    let away = fixture("out-of-office.eml");
    let first = bounces.receive(&away, &[]).await.unwrap();
    assert!(matches!(&first, Applied::Ignored { reason } if reason.contains("auto-reply")), "{first:?}");
    assert_eq!(bounces.receive(&away, &[]).await.unwrap(), Applied::Duplicate);
    // A hard bounce whose token this key did not make, about no outbox row.
    let hard = fixture("postfix-hard-5.1.1.eml");
    let rcpt = ["bounces+ae3kq7nbq2mwxyzq@example.org".to_string()];
    let answer = bounces.receive(&hard, &rcpt).await.unwrap();
    assert!(matches!(&answer, Applied::Ignored { reason } if reason.contains("names no message of ours")), "{answer:?}");

    let text = metrics.encode();
    assert!(text.contains("bantin_bounces_total{kind=\"ignored\"} 2"), "{text}");
    // Every kind's series exists from the start, at 0 until counted.
    assert!(text.contains("bantin_bounces_total{kind=\"hard\"} 0"), "{text}");
}

/// A mail client's unsubscribe mail (Apple Mail and Outlook write to the
/// List-Unsubscribe `mailto:`) reaches the return path: the subscriber its
/// address names is unsubscribed, whether the MTA gave the envelope
/// recipient (the listener, `$ORIGINAL_RECIPIENT`) or only the headers say
/// it. An auto-reply sent there, a token this key did not make, and a VERP
/// token (an outbox row) whose number is a subscriber's end nothing.
#[tokio::test]
async fn a_mail_to_the_list_unsubscribe_address_unsubscribes_and_nothing_else_does() {
    use bantin::state::{Frequency, NewSubscriber, Status};
    let dir = tempfile::tempdir().unwrap();
    let (settings, state) = with_return_path(dir.path()).await;
    let key = TokenKey::from_bytes(&[7u8; 32]);
    let metrics = Metrics::new();
    let bounces = Bounces::new(state.clone(), key.clone(), &settings).with_metrics(&metrics);
    let add = |email: &str| NewSubscriber { email: email.into(), topics: vec![], frequency: Frequency::Daily, status: Status::Active, now: chrono::Utc::now() };
    let (a, _) = state.insert_subscriber(&add("an@example.vn")).await.unwrap();
    let (b, _) = state.insert_subscriber(&add("binh@example.vn")).await.unwrap();
    let status = |id: i64| {
        let state = state.clone();
        async move { state.subscriber_by_id(id).await.unwrap().unwrap().status }
    };
    // The address the digests name (their List-Unsubscribe `mailto:`).
    let composer = bantin::mail::Composer::new(&settings, key.clone()).unwrap();
    let address_of = |id: i64| composer.unsubscribe_mailbox(id);
    let (to_a, to_b) = (address_of(a.id), address_of(b.id));
    assert!(to_a.starts_with("bounces+") && to_a.ends_with("@example.org") && to_a != to_b, "{to_a} {to_b}");
    let mail = |to: &str, extra: &str| format!("From: someone@example.vn\r\nTo: <{to}>\r\n{extra}Subject: unsubscribe\r\n\r\nunsubscribe\r\n").into_bytes();

    // Not requests: an auto-reply, a forged token, an outbox row's token.
    let away = bounces.receive(&mail(&to_a, "Auto-Submitted: auto-replied\r\n"), std::slice::from_ref(&to_a)).await.unwrap();
    assert!(matches!(&away, Applied::Ignored { .. }), "{away:?}");
    let forged = bantin_core::report::verp::address("bounces@example.org", &bantin::tokens::bounce::make_unsubscribe(&TokenKey::from_bytes(&[8u8; 32]), a.id));
    assert!(matches!(bounces.receive(&mail(&forged, ""), std::slice::from_ref(&forged)).await.unwrap(), Applied::Ignored { .. }));
    let row = bantin_core::report::verp::address("bounces@example.org", &bantin::tokens::bounce::make(&key, a.id));
    assert!(matches!(bounces.receive(&mail(&row, ""), std::slice::from_ref(&row)).await.unwrap(), Applied::Ignored { .. }));
    assert_eq!(status(a.id).await, Status::Active, "nothing above unsubscribes");

    // The listener's case: the envelope recipient, in capitals as some MTAs write it.
    let asked = bounces.receive(&mail(&to_a, ""), &[to_a.to_uppercase()]).await.unwrap();
    assert_eq!(asked, Applied::Unsubscribed { subscriber: a.id, changed: true });
    assert_eq!((status(a.id).await, status(b.id).await), (Status::Unsubscribed, Status::Active));
    // A pipe without the envelope recipient: the headers name it.
    assert_eq!(bounces.receive(&mail(&to_b, ""), &[]).await.unwrap(), Applied::Unsubscribed { subscriber: b.id, changed: true });
    assert_eq!(status(b.id).await, Status::Unsubscribed);
    // Counted for the operator once each; a second mail changes nothing.
    assert_eq!(bounces.receive(&mail(&to_b, "X-Again: 1\r\n"), &[]).await.unwrap(), Applied::Unsubscribed { subscriber: b.id, changed: false });
    let text = metrics.encode();
    assert!(text.contains("bantin_unsubscribes_total{via=\"mail\"} 2"), "{text}");
    assert!(text.contains("bantin_unsubscribes_total{via=\"link\"} 0"), "{text}");
}
