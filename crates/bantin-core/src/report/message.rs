//! The MIME side: which parts of a received message are the report, the
//! returned original and the addresses that may carry a VERP token. Only the
//! message's own part tree is walked, never into the returned message: a
//! bounce of a bounce is about the outer one.

use mail_parser::{Message, MessageParser, MessagePart, MimeHeaders};

use super::fields::{self, Block};
use super::{MAX_RECIPIENTS, verp};

/// The pieces of a message that a report is made of.
#[derive(Default)]
pub(super) struct Found {
    /// The field blocks of the delivery-status part.
    pub status: Option<Vec<Block>>,
    /// The field blocks of the feedback-report part.
    pub feedback: Option<Vec<Block>>,
    /// A `multipart/report` whose report part is missing: why.
    pub empty_report: Option<&'static str>,
    /// The returned message's Message-ID, `Return-Path` and `To`.
    pub returned_id: Option<String>,
    pub returned_return_path: Option<String>,
    pub returned_to: Option<String>,
    /// The report's own envelope-recipient headers, in order.
    pub delivered_to: Vec<String>,
}

impl Found {
    pub fn of(msg: &Message<'_>) -> Found {
        let mut found = Found::default();
        let report_type = report_type(msg);
        let mut plain_texts = Vec::new();
        for (i, part) in msg.parts.iter().enumerate() {
            let Some(ct) = part.content_type() else { continue };
            let sub = ct.subtype().unwrap_or("").to_ascii_lowercase();
            match (ct.ctype(), sub.as_str()) {
                ("message", "delivery-status" | "global-delivery-status") if found.status.is_none() => {
                    found.status = Some(field_blocks(part));
                }
                ("message", "feedback-report") if found.feedback.is_none() => {
                    found.feedback = Some(field_blocks(part));
                }
                ("message", "rfc822" | "global") => {
                    if let Some(inner) = part.message() {
                        found.returned(inner);
                    }
                }
                ("text", "rfc822-headers") | ("message", "global-headers") => {
                    if let Some(inner) = MessageParser::new().parse_headers(part.contents()) {
                        found.returned(&inner);
                    }
                }
                ("text", "plain") if i > 0 => plain_texts.push(part),
                _ => {}
            }
        }
        match report_type.as_deref() {
            Some("delivery-status") if found.status.is_none() => {
                // Some MTAs label the status part text/plain: take the
                // first one that has a recipient block.
                found.status = plain_texts.iter().map(|p| field_blocks(p)).find(|b| has_recipient(b));
                if found.status.is_none() {
                    found.empty_report = Some("a delivery-status report without a status part");
                }
            }
            Some("feedback-report") if found.feedback.is_none() => {
                found.empty_report = Some("a feedback report without its feedback-report part");
            }
            _ => {}
        }
        for name in ["X-Original-To", "Delivered-To", "To"] {
            found.delivered_to.extend(header(msg, name).and_then(fields::address));
        }
        found
    }

    /// The first returned message counts.
    fn returned(&mut self, inner: &Message<'_>) {
        if self.returned_id.is_some() || self.returned_return_path.is_some() || self.returned_to.is_some() {
            return;
        }
        self.returned_id = inner.message_id().and_then(fields::message_id);
        self.returned_return_path = header(inner, "Return-Path").and_then(fields::address);
        self.returned_to = header(inner, "To").and_then(fields::address);
    }
}

/// The first of `candidates` that can carry a VERP token.
pub(super) fn verp_candidate<'a>(candidates: impl IntoIterator<Item = Option<&'a str>>) -> Option<String> {
    candidates.into_iter().flatten().find(|a| verp::is_tagged(a)).map(str::to_owned)
}

/// `report-type` of a `multipart/report` root, lower-cased.
fn report_type(msg: &Message<'_>) -> Option<String> {
    let ct = msg.root_part().content_type()?;
    let is_report = ct.ctype() == "multipart" && ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case("report"));
    is_report.then(|| ct.attribute("report-type").map(|t| t.trim().to_ascii_lowercase())).flatten()
}

fn field_blocks(part: &MessagePart<'_>) -> Vec<Block> {
    // One per-message block, then the recipients.
    fields::blocks(&String::from_utf8_lossy(part.contents()), MAX_RECIPIENTS + 1)
}

pub(super) fn has_recipient(blocks: &[Block]) -> bool {
    blocks.iter().any(|b| fields::get(b, "Final-Recipient").is_some())
}

/// The raw text of the first header `name` of `msg`'s top part, unfolded
/// later by the callers' cleaning.
fn header<'m>(msg: &'m Message<'_>, name: &str) -> Option<&'m str> {
    let raw = msg.raw_message();
    let h = msg.root_part().headers.iter().find(|h| h.name.as_str().eq_ignore_ascii_case(name))?;
    let bytes = raw.get(h.offset_start as usize..h.offset_end as usize)?;
    std::str::from_utf8(bytes).ok()
}

/// RFC 3834's `Auto-Submitted` (any value but `no`) and the older
/// vacation-program markers.
pub(super) fn is_auto_reply(msg: &Message<'_>) -> bool {
    let auto_submitted = header(msg, "Auto-Submitted")
        .map(|v| v.trim().split(|c: char| c.is_whitespace() || c == ';' || c == '(').next().unwrap_or(""))
        .is_some_and(|v| !v.is_empty() && !v.eq_ignore_ascii_case("no"));
    let precedence = header(msg, "Precedence").is_some_and(|v| v.trim().eq_ignore_ascii_case("auto_reply"));
    auto_submitted || precedence || header(msg, "X-Autoreply").is_some() || header(msg, "X-Autorespond").is_some()
}
