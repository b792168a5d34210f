//! The corpus of report formats in `fixtures/reports/` (its README says
//! where each format comes from): each message classified as expected, and
//! `report::parse` total and bounded on arbitrary bytes and on mutated
//! fixtures.

use bantin_core::report::{self, Kind, MAX_DIAGNOSTIC, MAX_FIELD, MAX_RECIPIENTS, Report};
use proptest::prelude::*;

const FIXTURES: &[&str] = &[
    "postfix-hard-5.1.1",
    "postfix-expired-4.4.1",
    "postfix-delayed",
    "exim-hard",
    "exchange-ndr",
    "gmail-dsn",
    "rfc3464-headers-only",
    "rfc3464-delivered",
    "yahoo-arf-abuse",
    "out-of-office",
    "plain-no-report",
];

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/reports/{name}.eml", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// One line per verdict, then the ids: what the daemon will act on.
fn summary(report: &Report) -> Vec<String> {
    let mut out: Vec<String> = match report {
        Report::Bounce(b) => {
            b.recipients.iter().map(|r| format!("{:?} {} {:?} {}", r.kind(), r.address, r.action, r.status)).collect()
        }
        Report::Complaint(c) => {
            vec![format!("{:?} {:?} recipient={:?}", c.feedback_type.kind(), c.feedback_type, c.recipient)]
        }
        Report::Ignored { reason } => vec![format!("Ignored: {reason}")],
    };
    let (id, verp) = match report {
        Report::Bounce(b) => (b.original_message_id.as_deref(), b.verp_to.as_deref()),
        Report::Complaint(c) => (c.original_message_id.as_deref(), c.verp_to.as_deref()),
        Report::Ignored { .. } => (None, None),
    };
    out.push(format!("id={} verp={}", id.unwrap_or("-"), verp.unwrap_or("-")));
    out
}

#[test]
fn every_fixture_is_classified_as_its_format_says() {
    let expected: &[(&str, &[&str])] = &[
        (
            "postfix-hard-5.1.1",
            &[
                "Hard nobody@example.net Failed 5.1.1",
                "id=1a2b3c4d5e6f708192a3.daily.2026-12-02@example.org verp=bounces+ae3kq7nbq2mwxyzq@example.org",
            ],
        ),
        (
            "postfix-expired-4.4.1",
            &[
                "Soft late@slow.example.net Failed 4.4.1",
                "id=2b3c4d5e6f708192a3b4.weekly.2026-W44@example.org verp=bounces+bq7nmwxa2cdefghi@example.org",
            ],
        ),
        (
            "postfix-delayed",
            &[
                "Delayed late@slow.example.net Delayed 4.4.1",
                "id=3c4d5e6f708192a3b4c5.daily.2026-12-02@example.org verp=bounces+cdefghijk2345abc@example.org",
            ],
        ),
        (
            "exim-hard",
            &[
                "Hard ghost@example.com Failed 5.0.0",
                "id=4d5e6f708192a3b4c5d6.daily.2026-12-02@example.org verp=bounces+dmnopq7rstuvwxyz@example.org",
            ],
        ),
        (
            "exchange-ndr",
            &[
                "Hard alex@example.com Failed 5.1.10",
                "id=5e6f708192a3b4c5d6e7.daily.2026-12-02@example.org verp=bounces+efghij234567abcd@example.org",
            ],
        ),
        (
            "gmail-dsn",
            &[
                "Hard noone@example.net Failed 5.1.1",
                "id=6f708192a3b4c5d6e7f8.daily.2026-12-02@example.org verp=bounces+fghijk234567bcde@example.org",
            ],
        ),
        (
            "rfc3464-headers-only",
            &[
                "Hard an@gw.example.net Failed 5.1.1",
                "Delayed binh@slow.example.net Delayed 4.0.0",
                "Ignored(\"relayed to a system that sends no reports\") thu@relay.example.net Relayed 2.0.0",
                "id=708192a3b4c5d6e7f809.daily.2026-12-02@example.org verp=bounces+ghijkl234567cdef@example.org",
            ],
        ),
        (
            "rfc3464-delivered",
            &[
                "Delivered doc.gia@example.net Delivered 2.0.0",
                "id=a3b4c5d6e7f8091a2b3c.daily.2026-12-02@example.org verp=bounces+jklmno234567efgh@example.org",
            ],
        ),
        (
            "yahoo-arf-abuse",
            &[
                "Complaint Abuse recipient=None",
                "id=8192a3b4c5d6e7f8091a.daily.2026-12-02@example.org verp=bounces+hijklm234567defg@example.org",
            ],
        ),
        ("out-of-office", &["Ignored: an auto-reply (out of office, vacation)", "id=- verp=-"]),
        ("plain-no-report", &["Ignored: no delivery-status or feedback report", "id=- verp=-"]),
    ];
    assert_eq!(expected.len(), FIXTURES.len());
    for (name, lines) in expected {
        assert_eq!(summary(&report::parse(&fixture(name))), *lines, "{name}");
    }
}

#[test]
fn diagnostics_are_one_clean_line() {
    let diagnostic = |name| match report::parse(&fixture(name)) {
        Report::Bounce(b) => b.recipients[0].diagnostic.clone().unwrap_or_default(),
        other => panic!("{name}: {other:?}"),
    };
    assert_eq!(
        diagnostic("postfix-hard-5.1.1"),
        "550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown in virtual mailbox table"
    );
    assert_eq!(
        diagnostic("postfix-expired-4.4.1"),
        "connect to mx.slow.example.net[192.0.2.40]:25: Connection timed out"
    );
    assert!(
        diagnostic("gmail-dsn")
            .starts_with("550-5.1.1 The email account that you tried to reach does not exist. Please try 550-5.1.1")
    );
    assert!(diagnostic("exchange-ndr").starts_with("550 5.1.10 RESOLVER.ADR.RecipientNotFound;"));
}

#[test]
fn a_redacted_complaint_names_its_subscriber_by_verp_only() {
    let report = report::parse(&fixture("yahoo-arf-abuse"));
    let Report::Complaint(c) = &report else { panic!("{report:?}") };
    assert_eq!(c.original_mail_from.as_deref(), Some("bounces+hijklm234567defg@example.org"));
    assert_eq!(c.user_agent.as_deref(), Some("ExampleMail-Feedback/2.0"));
    let verp = c.verp_to.as_deref().unwrap();
    assert_eq!(report::verp::token_of(verp, "bounces@example.org"), Some("hijklm234567defg"));
    assert_eq!(report::kind(&report), vec![report::Verdict { recipient: None, kind: Kind::Complaint }]);
}

/// What must hold of any report: values bounded and on one line.
fn check_bounded(report: &Report) {
    let one_line = |s: &str, max: usize| {
        assert!(s.chars().count() <= max, "{s:?}");
        assert!(!s.chars().any(|c| c.is_control()), "{s:?}");
    };
    match report {
        Report::Bounce(b) => {
            assert!(!b.recipients.is_empty() && b.recipients.len() <= MAX_RECIPIENTS);
            for r in &b.recipients {
                one_line(&r.address, MAX_FIELD);
                for s in [&r.original, &b.original_message_id, &b.verp_to].into_iter().flatten() {
                    one_line(s, MAX_FIELD);
                }
                if let Some(d) = &r.diagnostic {
                    one_line(d, MAX_DIAGNOSTIC);
                }
            }
        }
        Report::Complaint(c) => {
            let all = [&c.recipient, &c.original_mail_from, &c.original_message_id, &c.verp_to, &c.user_agent];
            for s in all.into_iter().flatten() {
                one_line(s, MAX_FIELD);
            }
        }
        Report::Ignored { .. } => {}
    }
    let verdicts = report::kind(report);
    assert_eq!(verdicts.len(), if let Report::Bounce(b) = report { b.recipients.len() } else { 1 });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn parse_is_total_and_bounded_on_any_bytes(raw in proptest::collection::vec(any::<u8>(), 0..2048)) {
        check_bounded(&report::parse(&raw));
    }

    #[test]
    fn parse_is_total_and_bounded_on_mutated_fixtures(
        which in 0..FIXTURES.len(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 1..24),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut raw = fixture(FIXTURES[which]);
        for (at, byte, op) in edits {
            let i = at.index(raw.len().max(1)).min(raw.len());
            match op {
                0 if i < raw.len() => raw[i] = byte,
                1 => raw.insert(i, byte),
                2 if i < raw.len() => { raw.remove(i); }
                // The bytes that shape MIME and fields: line breaks, colons, boundaries.
                _ => raw.insert(i, [b'\n', b':', b'-', b';', b' ', b'<'][usize::from(byte) % 6]),
            }
        }
        let keep = cut.index(raw.len() + 1);
        check_bounded(&report::parse(&raw[..keep.max(raw.len() / 2)]));
    }
}
