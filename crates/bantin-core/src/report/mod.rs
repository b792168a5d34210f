//! What a message received at the bounce address says: a delivery status
//! notification (RFC 3464, `dsn`), an abuse feedback report (RFC 5965,
//! `arf`), or nothing to act on (an auto-reply, a message with no report,
//! a report too damaged to read), and what bantin does about each
//! recipient in it ([`kind`]). Pure: bytes in, a [`Report`] out; the daemon
//! finds the subscriber (VERP token first, then the original Message-ID)
//! and applies the verdict. [`verp`] makes and reads the envelope senders.
//!
//! MIME is `mail-parser`'s; the report parts themselves are read here by
//! their RFCs. Nothing from the message is trusted: every value is cleaned
//! to one line and bounded ([`MAX_FIELD`], [`MAX_DIAGNOSTIC`],
//! [`MAX_RECIPIENTS`]), and a malformed report is [`Report::Ignored`] with
//! its reason, never an error or a panic.

mod arf;
mod dsn;
mod fields;
mod message;
pub mod verp;

use std::fmt;

/// Longest message read; anything larger is ignored unread (a listener
/// refuses it before this).
pub const MAX_INPUT: usize = 16 << 20;
/// Most recipients a bounce reports; the rest are dropped.
pub const MAX_RECIPIENTS: usize = 100;
/// Most characters of a diagnostic.
pub const MAX_DIAGNOSTIC: usize = 300;
/// Most characters of an address, a Message-ID or a feedback type.
pub const MAX_FIELD: usize = 254;

/// A reason as bantin keeps it, from a report's diagnostic or a relay's
/// answer: one line, at most [`MAX_DIAGNOSTIC`] characters.
pub fn reason_line(text: &str) -> String {
    fields::bounded(&crate::text::clean_line(text), MAX_DIAGNOSTIC)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    Bounce(Bounce),
    Complaint(Complaint),
    Ignored { reason: Reason },
}

/// A delivery status notification with at least one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounce {
    pub recipients: Vec<Recipient>,
    /// The returned message's Message-ID (without `<>`), from its
    /// `message/rfc822` or `text/rfc822-headers` part, else Gmail's
    /// `X-Original-Message-ID` field.
    pub original_message_id: Option<String>,
    /// An address of the report that can carry a VERP token (a local part
    /// with `+`): the report's `X-Original-To`, `Delivered-To`, `To`,
    /// postfix's `X-Postfix-Sender`, the returned `Return-Path`. The SMTP
    /// recipient, when the daemon has it, is the better source.
    pub verp_to: Option<String>,
}

/// One per-recipient block of a DSN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// `Final-Recipient`.
    pub address: String,
    /// `Original-Recipient`: the address as bantin sent it, when the
    /// receiving side rewrote it.
    pub original: Option<String>,
    pub action: Action,
    pub status: Status,
    /// `Diagnostic-Code` text: one line, at most [`MAX_DIAGNOSTIC`] characters.
    pub diagnostic: Option<String>,
}

/// RFC 3464's `Action` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Failed,
    Delayed,
    Delivered,
    Relayed,
    Expanded,
}

impl Action {
    pub(crate) fn parse(value: &str) -> Option<Action> {
        let word = value.split(|c: char| c.is_whitespace() || c == '(').next()?;
        Some(match word.to_ascii_lowercase().as_str() {
            "failed" => Action::Failed,
            "delayed" => Action::Delayed,
            "delivered" => Action::Delivered,
            "relayed" => Action::Relayed,
            "expanded" => Action::Expanded,
            _ => return None,
        })
    }
}

/// An enhanced status code (RFC 3463): class 2 (success), 4 (transient)
/// or 5 (permanent), then subject and detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    pub class: u8,
    pub subject: u16,
    pub detail: u16,
}

impl Status {
    /// The enhanced status code at the start of `value` (a DSN's `Status`
    /// field, the text of an SMTP reply after its code), if there is one.
    pub fn parse(value: &str) -> Option<Status> {
        fields::status(value)
    }

    /// A permanent failure about the recipient's address (X.1.X) or
    /// mailbox (X.2.X), not about the sender, the message, the route or a
    /// policy (X.3.X to X.7.X): what lets the daemon take a refused RCPT TO
    /// in its own SMTP conversation for a hard bounce.
    pub fn is_about_recipient(self) -> bool {
        self.class == 5 && matches!(self.subject, 1 | 2)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// An abuse feedback report (RFC 5965).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Complaint {
    pub feedback_type: FeedbackType,
    /// `Original-Rcpt-To`, else the returned message's `To`. Often
    /// redacted (Yahoo): then the VERP address is what names the subscriber.
    pub recipient: Option<String>,
    /// `Original-Mail-From`: the envelope sender bantin used.
    pub original_mail_from: Option<String>,
    pub original_message_id: Option<String>,
    /// As in [`Bounce::verp_to`], `Original-Mail-From` and the returned
    /// `Return-Path` first.
    pub verp_to: Option<String>,
    /// `User-Agent`: who generated the report, for the log.
    pub user_agent: Option<String>,
}

/// RFC 5965's `Feedback-Type` (with RFC 6430's `not-spam` and RFC 6591's
/// `auth-failure`); anything else is `Other`, bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedbackType {
    Abuse,
    Fraud,
    Virus,
    NotSpam,
    AuthFailure,
    Other(String),
}

/// Why a message is not acted on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Larger than [`MAX_INPUT`].
    TooLarge,
    /// No header could be read.
    NotAMessage,
    /// RFC 3834 `Auto-Submitted` (not `no`), `X-Autoreply`,
    /// `X-Autorespond` or `Precedence: auto_reply`, and no report.
    AutoReply,
    /// No delivery-status or feedback-report part.
    NoReport,
    /// A report part that cannot be used, and why.
    Malformed(&'static str),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::TooLarge => write!(f, "message larger than {MAX_INPUT} bytes"),
            Reason::NotAMessage => f.write_str("not a mail message"),
            Reason::AutoReply => f.write_str("an auto-reply (out of office, vacation)"),
            Reason::NoReport => f.write_str("no delivery-status or feedback report"),
            Reason::Malformed(why) => write!(f, "malformed report: {why}"),
        }
    }
}

/// Reads one message received at the bounce address. Never fails: what
/// cannot be used is [`Report::Ignored`] with its reason.
pub fn parse(raw: &[u8]) -> Report {
    read(raw).report
}

/// A message received at a return-path address, read once: what it
/// reports, and the addresses it was sent to that can carry a token (its
/// `X-Original-To`, `Delivered-To` and `To`, in order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub report: Report,
    tagged_to: Vec<String>,
}

impl Received {
    /// A message a person wrote (a mail client's List-Unsubscribe
    /// `mailto:`): its tagged addresses, for when the MTA did not give the
    /// envelope recipient. `None` for what a person did not write: a report
    /// (DSN, ARF), an auto-reply (RFC 3834), a message larger than
    /// [`MAX_INPUT`] or unreadable.
    pub fn request(&self) -> Option<&[String]> {
        matches!(self.report, Report::Ignored { reason: Reason::NoReport }).then_some(&self.tagged_to[..])
    }
}

/// [`parse`], with the addresses [`Received::request`] needs.
pub fn read(raw: &[u8]) -> Received {
    let ignored = |reason| Received { report: Report::Ignored { reason }, tagged_to: Vec::new() };
    if raw.len() > MAX_INPUT {
        return ignored(Reason::TooLarge);
    }
    let Some(msg) = mail_parser::MessageParser::new().parse(raw) else {
        return ignored(Reason::NotAMessage);
    };
    let found = message::Found::of(&msg);
    let tagged_to = found.delivered_to.iter().filter(|a| verp::is_tagged(a)).cloned().collect();
    let outcome = if let Some(status) = &found.status {
        dsn::bounce(status, &found).map(Report::Bounce)
    } else if let Some(feedback) = &found.feedback {
        arf::complaint(feedback, &found).map(Report::Complaint)
    } else if let Some(what) = found.empty_report {
        Err(what)
    } else if message::is_auto_reply(&msg) {
        Ok(Report::Ignored { reason: Reason::AutoReply })
    } else {
        Ok(Report::Ignored { reason: Reason::NoReport })
    };
    let report = outcome.unwrap_or_else(|why| Report::Ignored { reason: Reason::Malformed(why) });
    Received { report, tagged_to }
}

/// What bantin does about one recipient of a report (issue 20, "Policy").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A permanent failure (`Action: failed`, `Status: 5.x.x`): suppress now.
    Hard,
    /// A transient failure that ended the attempt (`Action: failed`,
    /// `Status: 4.x.x`, as postfix reports expired deferrals): count it.
    Soft,
    /// `Action: delayed`: still being retried; record only.
    Delayed,
    /// `Action: delivered` with a success status (RFC 3464 2.3.3, a notice
    /// the sender asked for with `NOTIFY=SUCCESS`): the message reached the
    /// mailbox, so the soft bounces before it were not in a row.
    Delivered,
    /// Feedback type `abuse` or `fraud`: the person reported the mail.
    Complaint,
    /// Nothing to apply, and why.
    Ignored(&'static str),
}

/// The verdict for one recipient; `None` when the report does not name
/// one (a redacted complaint, an ignored message): the VERP token does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict<'a> {
    pub recipient: Option<&'a str>,
    pub kind: Kind,
}

/// The verdict for every recipient of `report`: one per recipient of a
/// bounce, one for a complaint or an ignored message.
pub fn kind(report: &Report) -> Vec<Verdict<'_>> {
    match report {
        Report::Bounce(b) => {
            b.recipients.iter().map(|r| Verdict { recipient: Some(&r.address), kind: r.kind() }).collect()
        }
        Report::Complaint(c) => vec![Verdict { recipient: c.recipient.as_deref(), kind: c.feedback_type.kind() }],
        Report::Ignored { .. } => vec![Verdict { recipient: None, kind: Kind::Ignored("not a report") }],
    }
}

impl Recipient {
    /// The status class decides for a failure and a delivery; other
    /// actions are neither.
    pub fn kind(&self) -> Kind {
        match (self.action, self.status.class) {
            (Action::Failed, 5) => Kind::Hard,
            (Action::Failed, 4) => Kind::Soft,
            (Action::Failed, _) => Kind::Ignored("failed with a success status"),
            (Action::Delayed, _) => Kind::Delayed,
            (Action::Delivered, 2) => Kind::Delivered,
            (Action::Delivered, _) => Kind::Ignored("delivered with a failure status"),
            (Action::Relayed, _) => Kind::Ignored("relayed to a system that sends no reports"),
            (Action::Expanded, _) => Kind::Ignored("expanded to other recipients"),
        }
    }
}

impl FeedbackType {
    /// `abuse` and `fraud` are the person's own report about the mail:
    /// never mail them again. `virus` comes from a filter, `not-spam` is the
    /// opposite of a complaint, `auth-failure` is about the domain's
    /// SPF/DKIM/DMARC, and `other` says nothing usable: recorded, not applied.
    pub fn kind(&self) -> Kind {
        match self {
            FeedbackType::Abuse | FeedbackType::Fraud => Kind::Complaint,
            FeedbackType::Virus => Kind::Ignored("virus report from a filter"),
            FeedbackType::NotSpam => Kind::Ignored("marked as not spam"),
            FeedbackType::AuthFailure => Kind::Ignored("authentication failure report"),
            FeedbackType::Other(_) => Kind::Ignored("feedback of another type"),
        }
    }
}

#[cfg(test)]
mod tests;
