//! The mails that are not digests: the double opt-in confirmation, the
//! welcome after it (`digest.welcome`) and the preferences link a reader
//! asks for at `/manage`. Each is its own message (its period key is the
//! moment it is about: the request, or the confirmation), so a retry of the
//! same moment is the same Message-ID and the outbox keeps it once.
//!
//! Each speaks the language of the page that caused it (`lang`, "vi" or
//! "en": the sign-up form's, the confirm button's, /manage's). All are
//! stored with the
//! outbox kind `confirm` (a notice, not a digest; the kind only labels the
//! row, and a new one would rebuild the table on SQLite).

use super::{Composer, MailError, Rendered, CONFIRM_VALID_DAYS};
use crate::state::{MessageKind, OutboxMessage, Subscriber};
use chrono::{DateTime, Utc};
use minijinja::Value;

impl Composer {
    /// The confirmation mail in Vietnamese.
    pub fn confirmation(&self, sub: &Subscriber, now: DateTime<Utc>) -> Result<OutboxMessage, MailError> {
        self.confirmation_in(sub, "vi", now)
    }

    /// The confirmation mail of a sign-up asked for at `now`, in `lang`.
    pub fn confirmation_in(&self, sub: &Subscriber, lang: &str, now: DateTime<Utc>) -> Result<OutboxMessage, MailError> {
        let en = lang == "en";
        let subject = if en { "confirm your subscription" } else { "xác nhận đăng ký nhận bản tin" };
        let subject = crate::text::clean_line(&format!("{}: {subject}", self.heading));
        let ctx = minijinja::context! {
            lang => lang,
            subject => &subject,
            heading => &self.heading,
            site_title => &self.site_title,
            site_url => self.site_url.as_str(),
            email => &sub.email,
            frequency_label => self.frequency_in(sub, en),
            confirm_url => self.confirm_url(sub.id, now),
            valid_days => CONFIRM_VALID_DAYS,
        };
        self.notice(sub, "confirm", &format!("confirm:{}", now.timestamp_millis()), subject, ctx, now, Vec::new())
    }

    /// The welcome mail to a subscriber confirmed at `confirmed` (its
    /// Message-ID is made from that moment: a second call for the same
    /// confirmation is the same message, which the outbox keeps once).
    pub fn welcome(&self, sub: &Subscriber, lang: &str, confirmed: DateTime<Utc>) -> Result<OutboxMessage, MailError> {
        let en = lang == "en";
        let subject = if en { "welcome to the newsletter" } else { "chào mừng bạn đến với bản tin" };
        let subject = crate::text::clean_line(&format!("{}: {subject}", self.heading));
        let unsubscribe_url = self.unsubscribe_url(sub.id);
        let ctx = minijinja::context! {
            lang => lang,
            subject => &subject,
            heading => &self.heading,
            site_title => &self.site_title,
            site_url => self.site_url.as_str(),
            email => &sub.email,
            frequency_label => self.frequency_in(sub, en),
            // No archive link when `digest.archive` is off (the route is a 404).
            archive_url => self.archive.then(|| self.public_link("archive/")),
            preferences_url => self.preferences_url(sub.id),
            unsubscribe_url => &unsubscribe_url,
        };
        let key = format!("welcome:{}", confirmed.timestamp_millis());
        self.notice(sub, "welcome", &key, subject, ctx, confirmed, self.list_headers(&unsubscribe_url))
    }

    /// The mail a reader asked for at `/manage` at `now`: their
    /// preferences link.
    pub fn manage(&self, sub: &Subscriber, lang: &str, now: DateTime<Utc>) -> Result<OutboxMessage, MailError> {
        let en = lang == "en";
        let subject = if en { "your subscription link" } else { "liên kết quản lý đăng ký của bạn" };
        let subject = crate::text::clean_line(&format!("{}: {subject}", self.heading));
        let ctx = minijinja::context! {
            lang => lang,
            subject => &subject,
            heading => &self.heading,
            site_title => &self.site_title,
            site_url => self.site_url.as_str(),
            email => &sub.email,
            frequency_label => self.frequency_in(sub, en),
            preferences_url => self.preferences_url(sub.id),
            manage_url => self.public_link("manage"),
        };
        self.notice(sub, "manage", &format!("manage:{}", now.timestamp_millis()), subject, ctx, now, Vec::new())
    }

    /// How often `sub` gets digests, in words of the mail's language (the
    /// frequencies' own names are English words).
    fn frequency_in(&self, sub: &Subscriber, en: bool) -> &'static str {
        if en { sub.frequency.as_str() } else { Self::frequency_label(sub.frequency) }
    }

    /// `template`.txt and .html rendered with `ctx`, as the message of
    /// (`sub`, `period_key`).
    #[allow(clippy::too_many_arguments)]
    fn notice(
        &self,
        sub: &Subscriber,
        template: &str,
        period_key: &str,
        subject: String,
        ctx: Value,
        now: DateTime<Utc>,
        headers: Vec<(&'static str, String)>,
    ) -> Result<OutboxMessage, MailError> {
        let r = Rendered {
            text: self.templates.render(&format!("{template}.txt"), &ctx)?,
            html: self.templates.render(&format!("{template}.html"), &ctx)?,
            subject,
        };
        let message_id = self.message_id(sub.id, period_key);
        let body = self.build(&sub.email, &r, &message_id, now, headers)?;
        Ok(OutboxMessage {
            message_id,
            kind: MessageKind::Confirm,
            subscriber_id: Some(sub.id),
            period_key: period_key.to_string(),
            recipient: sub.email.clone(),
            body,
        })
    }

}
