//! RFC 5965 abuse feedback reports: the `message/feedback-report` part's
//! fields (section 3.1: `Feedback-Type`, `User-Agent`, `Version` required;
//! `Original-Mail-From`, `Original-Rcpt-To` optional). Only `Feedback-Type`
//! is required here: `User-Agent` and `Version` say nothing about the
//! recipient, and a report lacking them still names the mail.

use super::fields::{self, Block};
use super::message::{self, Found};
use super::{Complaint, FeedbackType, MAX_FIELD};

/// The complaint `blocks` describe, or why there is none.
pub(super) fn complaint(blocks: &[Block], found: &Found) -> Result<Complaint, &'static str> {
    // One block by the RFC; a stray blank line must not hide fields.
    let all: Block = blocks.iter().flatten().cloned().collect();
    let feedback_type = fields::get(&all, "Feedback-Type").ok_or("no Feedback-Type")?;
    let feedback_type = feedback_type_of(feedback_type).ok_or("an empty Feedback-Type")?;
    let original_mail_from = fields::get(&all, "Original-Mail-From").and_then(fields::address);
    let recipient =
        fields::get(&all, "Original-Rcpt-To").and_then(fields::address).or_else(|| found.returned_to.clone());
    let verp_to = message::verp_candidate(
        [original_mail_from.as_deref(), found.returned_return_path.as_deref()]
            .into_iter()
            .chain(found.delivered_to.iter().map(|a| Some(a.as_str()))),
    );
    let user_agent = fields::get(&all, "User-Agent")
        .map(|u| fields::bounded(&crate::text::clean_line(u), MAX_FIELD))
        .filter(|u| !u.is_empty());
    Ok(Complaint {
        feedback_type,
        recipient,
        original_mail_from,
        original_message_id: found.returned_id.clone(),
        verp_to,
        user_agent,
    })
}

fn feedback_type_of(value: &str) -> Option<FeedbackType> {
    let word = value.split(|c: char| c.is_whitespace() || c == '(' || c == ';').next()?.to_ascii_lowercase();
    Some(match word.as_str() {
        "" => return None,
        "abuse" => FeedbackType::Abuse,
        "fraud" => FeedbackType::Fraud,
        "virus" => FeedbackType::Virus,
        "not-spam" => FeedbackType::NotSpam,
        "auth-failure" => FeedbackType::AuthFailure,
        other => FeedbackType::Other(fields::bounded(&crate::text::clean_line(other), MAX_FIELD)),
    })
}
