//! RFC 3464 delivery status notifications: the per-message block (section
//! 2.2), then one block per recipient (section 2.3) with `Final-Recipient`,
//! `Action` and `Status` required and `Original-Recipient` and
//! `Diagnostic-Code` used when present. Postfix, exim, Exchange and Gmail
//! all write this form; their differences are in optional fields
//! (`X-Postfix-Sender`, Gmail's `X-Original-Message-ID`) and in status
//! details (Exchange's `5.1.10`), which the general reading covers.

use super::fields::{self, Block};
use super::message::{self, Found};
use super::{Action, Bounce, MAX_RECIPIENTS, Recipient};

/// The bounce `blocks` describe, or why there is none.
pub(super) fn bounce(blocks: &[Block], found: &Found) -> Result<Bounce, &'static str> {
    if !message::has_recipient(blocks) {
        return Err("no per-recipient block with a Final-Recipient");
    }
    // The per-message block is the one before the first recipient, if any.
    let per_message = blocks.first().filter(|b| fields::get(b, "Final-Recipient").is_none());
    let recipients: Vec<Recipient> = blocks.iter().filter_map(recipient).take(MAX_RECIPIENTS).collect();
    if recipients.is_empty() {
        return Err("no recipient block with a valid Final-Recipient, Action and Status");
    }
    let field = |name| per_message.and_then(|b| fields::get(b, name));
    let original_message_id =
        found.returned_id.clone().or_else(|| field("X-Original-Message-ID").and_then(fields::message_id));
    let postfix_sender = field("X-Postfix-Sender").and_then(fields::typed_address);
    let verp_to = message::verp_candidate(
        found
            .delivered_to
            .iter()
            .map(|a| Some(a.as_str()))
            .chain([postfix_sender.as_deref(), found.returned_return_path.as_deref()]),
    );
    Ok(Bounce { recipients, original_message_id, verp_to })
}

/// One recipient block, if it has the three required fields in a form
/// that can be read.
fn recipient(block: &Block) -> Option<Recipient> {
    let address = fields::typed_address(fields::get(block, "Final-Recipient")?)?;
    Some(Recipient {
        address,
        original: fields::get(block, "Original-Recipient").and_then(fields::typed_address),
        action: Action::parse(fields::get(block, "Action")?)?,
        status: fields::status(fields::get(block, "Status")?)?,
        diagnostic: fields::get(block, "Diagnostic-Code").and_then(fields::diagnostic),
    })
}
