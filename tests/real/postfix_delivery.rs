//! bantin's own mail through a real postfix that does not offer SMTPUTF8
//! (`support::postfix`, as many relays), read back from the mailbox
//! postfix delivered it to.
//!
//! Regression: a subscriber at an internationalised domain (`an@thư.test`)
//! failed for good ("needs SMTPUTF8, which the relay does not offer"),
//! though the domain's ASCII form reaches the same mailbox through any
//! relay. Expected: the address is one subscriber however it is written,
//! `digest run` delivers its digest, and the envelope and the `To:` header
//! carry the ASCII form (a header of a mail sent without SMTPUTF8 holds no
//! 8-bit bytes). Needs root and Debian's `postfix` (installed by
//! `.ci/run`); without them the test prints SKIPPED (and fails when
//! CI=true).

use crate::support::harness::{self, figures};
use crate::support::mailtest;
use crate::support::postfix::{self, Postfix, Setup, IDN_DOMAIN};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

fn bantin_ok(cfg: &Path, args: &[&str]) -> String {
    let out = harness::bantin(cfg).args(args).output().unwrap();
    assert!(out.status.success(), "bantin {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_digest_to_an_internationalised_domain_goes_through_a_relay_without_smtputf8() {
    let _exclusive = crate::support::exclusive();
    let (unicode, ascii) = IDN_DOMAIN;
    let setup = Setup {
        mailboxes: vec!["an".to_string()],
        return_path_domain: "bounces.example.org".to_string(),
        bounces_to: SocketAddr::from(([127, 0, 0, 1], postfix::free_port())),
        queue_lifetime: Duration::from_secs(10),
        delay_warning: Duration::ZERO,
    };
    let Some(relay) = Postfix::start(&setup) else { return };
    let dir = tempfile::tempdir().unwrap();
    let smtp_url = format!("smtp://{}", relay.smtp);
    let cfg = mailtest::write_config(dir.path(), &mailtest::examples(), &smtp_url, "https://bantin.example.org/", "");

    // Written in its ASCII form with capitals, kept in its Unicode form;
    // the Unicode form is then the same subscriber.
    let added = bantin_ok(&cfg, &["subscribers", "add", &format!("an@{}", ascii.to_uppercase()), "--confirmed"]);
    assert!(added.contains(&format!("added an@{unicode} ")), "{added}");
    let again = harness::bantin(&cfg).args(["subscribers", "add", &format!("an@{unicode}"), "--confirmed"]).output().unwrap();
    assert!(String::from_utf8_lossy(&again.stderr).contains("is already a subscriber"), "{again:?}");

    let started = Instant::now();
    let run = bantin_ok(&cfg, &["digest", "run", "--now"]);
    let delivered = loop {
        let mail = relay.mailbox_at(ascii, "an");
        if !mail.is_empty() || started.elapsed() > Duration::from_secs(30) {
            break mail;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(delivered.len(), 1, "digest run said {run}\npostfix's log:\n{}", relay.log());
    let took = started.elapsed();

    let mail = &delivered[0];
    let head_end = mail.windows(2).position(|w| w == b"\n\n").expect("a header block");
    let head = std::str::from_utf8(&mail[..head_end]).expect("headers in UTF-8");
    assert!(head.is_ascii(), "8-bit bytes in the headers:\n{head}");
    assert!(head.lines().any(|l| l.starts_with("To: ") && l.contains(&format!("an@{ascii}"))), "{head}");
    assert!(relay.log().contains(&format!("to=<an@{ascii}>")), "{}", relay.log());
    let listed = bantin_ok(&cfg, &["subscribers", "list", "--format", "csv"]);
    assert!(listed.lines().any(|l| l.starts_with(&format!("an@{unicode},")) && l.contains("active")), "{listed}");
    figures("postfix_delivery idn", &format!("a digest to an@{unicode} delivered by postfix (no SMTPUTF8) after {took:.1?}"));
}
