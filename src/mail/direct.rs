//! One message sent at once, outside the outbox: a test send (`bantin
//! digest send-test`). No row, no lease, no mark, no audit, no retry: a
//! test is nobody's digest and leaves no trace in the bookkeeping; the
//! one who asked sees the outcome. It goes to the mailer's relay like all
//! mail (`mail.smtp_url`, its TLS and credentials).

use super::sender::Mailer;
use super::smtp::Outcome;

impl Mailer {
    /// Sends `body` to `to` now. The envelope sender is `mail.return_path`
    /// as it is, without a VERP token (there is no outbox row for a bounce
    /// to name), else `mail.from`'s address.
    pub async fn send_now(&self, to: &str, body: &[u8]) -> Outcome {
        let from = match &self.verp {
            Some((return_path, _)) => return_path.as_str(),
            None => self.envelope_from.as_ref(),
        };
        self.relay.send(from, to, body, || None).await
    }

    /// `mail.smtp_url` without its password, for messages.
    pub fn relay_url(&self) -> &str {
        &self.url
    }
}
