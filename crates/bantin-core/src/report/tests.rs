//! The report room on small hand-made messages; the corpus of full
//! formats is `tests/reports.rs` with `tests/fixtures/reports/`.

use super::*;

fn dsn(status_type: &str, fields: &str) -> Vec<u8> {
    format!(
        "From: MAILER-DAEMON@mx.example\r\nTo: bounces+abc@example.org\r\nSubject: failure\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nIt failed.\r\n\
--b\r\nContent-Type: {status_type}\r\n\r\n{fields}\r\n--b--\r\n"
    )
    .into_bytes()
}

const RCPT: &str = "Final-Recipient: rfc822; a@b.example\r\nAction: failed\r\nStatus: 5.1.1\r\n";
const ONE: &str =
    "Reporting-MTA: dns; mx.example\r\n\r\nFinal-Recipient: rfc822; a@b.example\r\nAction: failed\r\nStatus: 5.1.1\r\n";

#[test]
fn a_status_part_labelled_text_plain_still_counts_in_a_delivery_status_report() {
    let Report::Bounce(b) = parse(&dsn("text/plain", ONE)) else { panic!() };
    assert_eq!(b.recipients[0].address, "a@b.example");
    assert_eq!(b.verp_to.as_deref(), Some("bounces+abc@example.org"));
    assert_eq!(kind(&Report::Bounce(b))[0].kind, Kind::Hard);
}

#[test]
fn malformed_reports_are_ignored_with_their_reason() {
    let cases = [
        (
            "message/delivery-status",
            "Reporting-MTA: dns; mx.example\r\n",
            "no per-recipient block with a Final-Recipient",
        ),
        (
            "message/delivery-status",
            "Final-Recipient: rfc822; a@b.example\r\nAction: exploded\r\nStatus: 5.1.1\r\n",
            "no recipient block with a valid Final-Recipient, Action and Status",
        ),
        (
            "message/delivery-status",
            "Final-Recipient: rfc822; a@b.example\r\nAction: failed\r\nStatus: 9.9.9\r\n",
            "no recipient block with a valid Final-Recipient, Action and Status",
        ),
        ("text/plain", "nothing here", "a delivery-status report without a status part"),
    ];
    for (ct, fields, why) in cases {
        assert_eq!(parse(&dsn(ct, fields)), Report::Ignored { reason: Reason::Malformed(why) }, "{fields}");
    }
    assert_eq!(parse(b""), Report::Ignored { reason: Reason::NotAMessage });
    assert_eq!(parse(&vec![b'a'; MAX_INPUT + 1]), Report::Ignored { reason: Reason::TooLarge });
}

#[test]
fn the_policy_follows_action_and_status_class() {
    let r = |action, class| Recipient {
        address: "a@b".into(),
        original: None,
        action,
        status: Status { class, subject: 4, detail: 1 },
        diagnostic: None,
    };
    assert_eq!(r(Action::Failed, 5).kind(), Kind::Hard);
    assert_eq!(r(Action::Failed, 4).kind(), Kind::Soft);
    assert!(matches!(r(Action::Failed, 2).kind(), Kind::Ignored(_)));
    assert_eq!(r(Action::Delayed, 4).kind(), Kind::Delayed);
    for a in [Action::Relayed, Action::Expanded] {
        assert!(matches!(r(a, 2).kind(), Kind::Ignored(_)));
    }
    assert_eq!(FeedbackType::Abuse.kind(), Kind::Complaint);
    assert_eq!(FeedbackType::Fraud.kind(), Kind::Complaint);
    for t in [FeedbackType::Virus, FeedbackType::NotSpam, FeedbackType::AuthFailure, FeedbackType::Other("x".into())] {
        assert!(matches!(t.kind(), Kind::Ignored(_)), "{t:?}");
    }
}

#[test]
fn a_delivered_notice_is_a_verdict_of_its_own() {
    let fields = "Reporting-MTA: dns; mx.example\r\n\r\nFinal-Recipient: rfc822; a@b.example\r\nAction: delivered\r\nStatus: 2.0.0\r\n";
    let report = parse(&dsn("message/delivery-status", fields));
    assert_eq!(kind(&report), [Verdict { recipient: Some("a@b.example"), kind: Kind::Delivered }]);
    // A "delivered" that carries a failure status says two things at once:
    // neither is acted on.
    let r = |class| Recipient {
        address: "a@b".into(),
        original: None,
        action: Action::Delivered,
        status: Status { class, subject: 0, detail: 0 },
        diagnostic: None,
    };
    assert_eq!(r(2).kind(), Kind::Delivered);
    assert_eq!(r(5).kind(), Kind::Ignored("delivered with a failure status"));
    assert_eq!(r(4).kind(), Kind::Ignored("delivered with a failure status"));
}

#[test]
fn recipients_and_diagnostics_stay_bounded() {
    let mut fields = String::from("Reporting-MTA: dns; mx.example\r\n");
    for i in 0..MAX_RECIPIENTS + 50 {
        let long = "x".repeat(5000);
        fields.push_str(&format!(
            "\r\nFinal-Recipient: rfc822; u{i}@b.example\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 {long}\r\n"
        ));
    }
    let Report::Bounce(b) = parse(&dsn("message/delivery-status", &fields)) else { panic!() };
    assert_eq!(b.recipients.len(), MAX_RECIPIENTS);
    for r in &b.recipients {
        let d = r.diagnostic.as_deref().unwrap();
        assert_eq!(d.chars().count(), MAX_DIAGNOSTIC);
        assert!(d.ends_with('…'));
    }
}

#[test]
fn without_a_returned_message_gmails_original_message_id_field_names_it() {
    let fields =
        format!("Reporting-MTA: dns; googlemail.com\r\nX-Original-Message-ID: <m.1@example.org>\r\n\r\n{RCPT}");
    let Report::Bounce(b) = parse(&dsn("message/delivery-status", &fields)) else { panic!("{fields}") };
    assert_eq!(b.original_message_id.as_deref(), Some("m.1@example.org"));
}

#[test]
fn a_base64_status_part_and_a_bounce_inside_the_returned_message_are_read_right() {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(ONE);
    let raw = dsn("message/delivery-status\r\nContent-Transfer-Encoding: base64", &encoded);
    assert!(matches!(parse(&raw), Report::Bounce(b) if b.recipients[0].address == "a@b.example"));
    // A returned message that is itself a bounce is not read as one.
    let mut inner = String::from_utf8(dsn("message/delivery-status", ONE)).unwrap();
    inner = inner.replace("boundary=\"b\"", "boundary=\"inner\"").replace("--b", "--inner");
    let outer = format!(
        "From: a@b.example\r\nTo: bounces@example.org\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"o\"\r\n\r\n\
--o\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--o\r\nContent-Type: message/rfc822\r\n\r\n{inner}\r\n--o--\r\n"
    );
    assert_eq!(parse(outer.as_bytes()), Report::Ignored { reason: Reason::NoReport });
}

#[test]
fn an_smtp_replys_enhanced_status_says_whether_the_recipient_is_the_trouble() {
    let about = |text: &str| Status::parse(text).is_some_and(Status::is_about_recipient);
    assert!(about("5.1.1 <a@b.example>: Recipient address rejected: User unknown"));
    assert!(about("5.1.10 RESOLVER.ADR.RecipientNotFound"));
    assert!(about("5.2.1 The email account that you tried to reach is disabled"));
    for other in ["5.7.1 <a@b.example>: Relay access denied", "4.1.1 try later", "5.3.4 message too big", "relay not permitted", ""] {
        assert!(!about(other), "{other}");
    }
}

/// A mail client's unsubscribe mail (Apple Mail writes one to the
/// List-Unsubscribe `mailto:`) is a request; a report or an auto-reply
/// sent to the same address is none, so an out-of-office answer cannot end
/// a subscription.
#[test]
fn a_person_s_mail_to_a_tagged_address_is_a_request_and_a_machine_s_is_none() {
    let request = |raw: &[u8]| read(raw).request().map(<[String]>::to_vec);
    let written = "From: An <an@example.vn>\r\nTo: <bounces+abc234@example.org>\r\nSubject: unsubscribe\r\n\r\nunsubscribe\r\n";
    assert_eq!(request(written.as_bytes()), Some(vec!["bounces+abc234@example.org".to_string()]));
    let delivered = format!("Delivered-To: bounces+xyz@example.org\r\n{written}");
    assert_eq!(request(delivered.as_bytes()), Some(vec!["bounces+xyz@example.org".into(), "bounces+abc234@example.org".into()]));
    let untagged = "From: an@example.vn\r\nTo: bantin@example.org\r\nSubject: unsubscribe\r\n\r\nx\r\n";
    assert_eq!(request(untagged.as_bytes()), Some(vec![]));
    let away = format!("Auto-Submitted: auto-replied\r\n{written}");
    assert_eq!(request(away.as_bytes()), None, "an auto-reply");
    assert_eq!(request(&dsn("message/delivery-status", ONE)), None, "a DSN");
    assert_eq!(request(&vec![b'a'; MAX_INPUT + 1]), None, "too large to read");
}
