//! Any bytes as a message at the bounce address: `report::parse` never
//! panics, every value it returns is one bounded line, and `kind` gives one
//! verdict per recipient (one for a complaint or an ignored message);
//! `report::read` gives the same report, and its `request` is none for a
//! report.
#![no_main]
use bantin_core::report::{self, MAX_DIAGNOSTIC, MAX_FIELD, MAX_RECIPIENTS, Report};

fn one_line(s: &str, max: usize) {
    assert!(s.chars().count() <= max, "{s:?}");
    assert!(!s.chars().any(char::is_control), "{s:?}");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let report = report::parse(data);
    let verdicts = report::kind(&report);
    match &report {
        Report::Bounce(b) => {
            assert!(!b.recipients.is_empty() && b.recipients.len() <= MAX_RECIPIENTS);
            assert_eq!(verdicts.len(), b.recipients.len());
            for r in &b.recipients {
                one_line(&r.address, MAX_FIELD);
                if let Some(d) = &r.diagnostic {
                    one_line(d, MAX_DIAGNOSTIC);
                }
            }
            for s in [&b.original_message_id, &b.verp_to].into_iter().flatten() {
                one_line(s, MAX_FIELD);
            }
        }
        Report::Complaint(c) => {
            assert_eq!(verdicts.len(), 1);
            for s in [&c.recipient, &c.original_mail_from, &c.original_message_id, &c.verp_to, &c.user_agent]
                .into_iter()
                .flatten()
            {
                one_line(s, MAX_FIELD);
            }
        }
        Report::Ignored { reason } => {
            assert_eq!(verdicts.len(), 1);
            assert!(!reason.to_string().is_empty());
        }
    }
    let received = report::read(data);
    assert_eq!(received.report, report);
    let request = received.request();
    if matches!(report, Report::Bounce(_) | Report::Complaint(_)) {
        assert!(request.is_none(), "a report is no person's request");
    }
    for address in request.into_iter().flatten() {
        one_line(address, MAX_FIELD);
    }
});
