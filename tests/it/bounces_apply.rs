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

#[tokio::test]
async fn reports_of_nothing_of_ours_are_ignored_counted_and_applied_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/state.db", dir.path().display());
    let cfg = mailtest::write_config_for(dir.path(), &url, &mailtest::examples(), "smtp://127.0.0.1:9", "https://b.example.org/", "return_path = \"bounces@example.org\"");
    let settings = mailtest::load(&cfg);
    let state = StateStore::open(&url).await.unwrap();
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
