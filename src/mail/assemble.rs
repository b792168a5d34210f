//! The RFC 5322 bytes of a mail: From/To/Subject/Message-ID/Date, the
//! extra headers (cleaned, RFC 2047-encoded by lettre), the
//! multipart/alternative body and the DKIM signature.

use super::{qp, Composer, MailError, Rendered};
use bantin_core::subscriber::smtp_address;
use chrono::{DateTime, Utc};
use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use lettre::{Address, Message};

/// Headers every mail bantin sends carries: it is made by a program, not
/// written by a person, so no out-of-office or vacation reply should answer
/// it (RFC 3834's `Auto-Submitted`, which Sieve's vacation and most
/// responders honour; Exchange and Outlook read their own header). Without
/// them a confirmation mail got a vacation reply at `mail.from`.
const AUTOMATIC: [(&str, &str); 2] = [("Auto-Submitted", "auto-generated"), ("X-Auto-Response-Suppress", "OOF, AutoReply")];

impl Composer {
    pub(super) fn build(
        &self,
        to: &str,
        r: &Rendered,
        message_id: &str,
        now: DateTime<Utc>,
        extra: Vec<(&'static str, String)>,
    ) -> Result<Vec<u8>, MailError> {
        self.assemble(to, &r.subject, quoted_printable_parts(qp::encode(&r.text), qp::encode(&r.html)), message_id, now, extra)
    }

    pub(super) fn assemble(
        &self,
        to: &str,
        subject: &str,
        parts: MultiPart,
        message_id: &str,
        now: DateTime<Utc>,
        extra: Vec<(&'static str, String)>,
    ) -> Result<Vec<u8>, MailError> {
        // The relay's form (`smtp_address`), as in the envelope: a U-label
        // domain in a header of a mail sent without SMTPUTF8 is 8-bit data
        // where RFC 5322 allows none.
        let to_addr: Address = smtp_address(to).parse().map_err(|e: lettre::address::AddressError| MailError::Recipient(to.into(), e.to_string()))?;
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to_addr))
            .subject(crate::text::clean_line(subject))
            .message_id(Some(message_id.to_string()))
            .date(now.into());
        for (name, value) in AUTOMATIC {
            builder = builder.raw_header(HeaderValue::new(HeaderName::new_from_ascii_str(name), value.to_string()));
        }
        for (name, value) in extra {
            // Values are built above from validated addresses, tokens and
            // clean_line'd names; HeaderValue::new still RFC 2047-encodes
            // and folds them.
            builder = builder.raw_header(HeaderValue::new(HeaderName::new_from_ascii_str(name), crate::text::clean_line(&value)));
        }
        let mut message = builder.multipart(parts).map_err(|e| MailError::Build(to.to_string(), e.to_string()))?;
        if let Some(dkim) = &self.dkim {
            message.sign(dkim);
        }
        Ok(message.formatted())
    }
}

/// The multipart/alternative of a text and an HTML part, both encoded
/// already by `mail::qp`: whole (`build`) or from a shape's pieces
/// (`mail::shape`). Every mail's parts are quoted-printable, whatever
/// lettre would choose: for text that is a third Vietnamese letters, as a
/// news digest's plain part is, lettre chooses base64 (shorter by a
/// fifth), and base64 cannot be shared (a personal link shifts every byte
/// after it), so such a digest could not have a shape and was rendered
/// three times over, then stored whole (~74 KB where a shared one stores
/// ~2 KB).
pub(super) fn quoted_printable_parts(text: Vec<u8>, html: Vec<u8>) -> MultiPart {
    let qp = ContentTransferEncoding::QuotedPrintable;
    MultiPart::alternative()
        .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(Body::dangerous_pre_encoded(text, qp)))
        .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(Body::dangerous_pre_encoded(html, qp)))
}

