//! The mails that are not digests: the double opt-in confirmation, the
//! welcome after it (`digest.welcome`) and the preferences link a reader
//! asks for at `/manage`, or gets by signing up when subscribed already.
//! Each is its own message (its period key is the moment it is about: the
//! request, or the confirmation), so a retry of the same moment is the
//! same Message-ID and the outbox keeps it once.
//!
//! Each speaks the language of the page that caused it (`lang`, "vi" or
//! "en": the sign-up form's, the confirm button's, /manage's). All are
//! stored with the
//! outbox kind `confirm` (a notice, not a digest; the kind only labels the
//! row, and a new one would rebuild the table on SQLite).

use super::{Composer, MailError, Rendered, CONFIRM_VALID_DAYS};
use crate::state::{MessageKind, MessageBytes, OutboxMessage, Subscriber};
use chrono::{DateTime, Utc};
use minijinja::Value;

impl Composer {
    /// The confirmation mail in Vietnamese.
    pub fn confirmation(&self, sub: &Subscriber, now: DateTime<Utc>) -> Result<OutboxMessage, MailError> {
        self.confirmation_in(sub, "vi", now)
    }

    /// The confirmation mail of a sign-up asked for at `now`, in `lang`.
    pub fn confirmation_in(&self, sub: &Subscriber, lang: &str, now: DateTime<Utc>) -> Result<OutboxMessage, MailError> {
        let own = minijinja::context! {
            confirm_url => self.confirm_url(sub.id, now),
            valid_days => CONFIRM_VALID_DAYS,
        };
        let subject = ("xác nhận đăng ký nhận bản tin", "confirm your subscription");
        self.notice(sub, lang, "confirm", subject, now, own, Vec::new())
    }

    /// The welcome mail to a subscriber confirmed at `confirmed`, saying
    /// `next_issue` (when their next mail comes, in `lang`; the
    /// subscription pages say it in the same words). Its Message-ID is made
    /// from that moment: a second call for the same confirmation is the
    /// same message, which the outbox keeps once.
    pub fn welcome(&self, sub: &Subscriber, lang: &str, confirmed: DateTime<Utc>, next_issue: &str) -> Result<OutboxMessage, MailError> {
        let unsubscribe_url = self.unsubscribe_url(sub.id);
        let own = minijinja::context! {
            next_issue => next_issue,
            // No archive link when `digest.archive` is off (the route is a 404).
            archive_url => self.archive.then(|| self.public_link("archive/")),
            preferences_url => self.preferences_url(sub.id),
            unsubscribe_url => &unsubscribe_url,
        };
        let subject = ("chào mừng bạn đến với bản tin", "welcome to the newsletter");
        self.notice(sub, lang, "welcome", subject, confirmed, own, self.list_headers(sub.id, &unsubscribe_url))
    }

    /// The mail a reader asked for at `/manage` at `now`: their
    /// preferences link.
    pub fn manage(&self, sub: &Subscriber, lang: &str, now: DateTime<Utc>) -> Result<OutboxMessage, MailError> {
        let subject = ("liên kết quản lý đăng ký của bạn", "your subscription link");
        self.preferences_link(sub, lang, now, subject, false)
    }

    /// The mail of a sign-up at `now` of an address subscribed already:
    /// nothing to confirm, but one who signs up again most likely wants
    /// other choices (or thinks the digests stopped), so their preferences
    /// link, saying why it came.
    pub fn already_subscribed(&self, sub: &Subscriber, lang: &str, now: DateTime<Utc>) -> Result<OutboxMessage, MailError> {
        let subject = ("bạn đã đăng ký bản tin này", "you are already subscribed");
        self.preferences_link(sub, lang, now, subject, true)
    }

    fn preferences_link(&self, sub: &Subscriber, lang: &str, now: DateTime<Utc>, subject: (&str, &str), again: bool) -> Result<OutboxMessage, MailError> {
        let own = minijinja::context! {
            preferences_url => self.preferences_url(sub.id),
            manage_url => self.public_link("manage"),
            again => again,
        };
        self.notice(sub, lang, "manage", subject, now, own, Vec::new())
    }

    /// How often `sub` gets digests, in words of the mail's language (the
    /// frequencies' own names are English words).
    fn frequency_in(&self, sub: &Subscriber, en: bool) -> &'static str {
        if en { sub.frequency.as_str() } else { Self::frequency_label(sub.frequency) }
    }

    /// The notice `template` (.txt and .html) about the moment `at`, in
    /// `lang`: the subject "<heading>: <subject in lang>" (`subject` is the
    /// Vietnamese and English words), the values every notice has (site,
    /// address, frequency) with the template's `own`, and the message of
    /// (`sub`, `template:<at>`).
    #[allow(clippy::too_many_arguments)]
    fn notice(
        &self,
        sub: &Subscriber,
        lang: &str,
        template: &str,
        subject: (&str, &str),
        at: DateTime<Utc>,
        own: Value,
        headers: Vec<(&'static str, String)>,
    ) -> Result<OutboxMessage, MailError> {
        let en = lang == "en";
        let subject = crate::text::clean_line(&format!("{}: {}", self.heading, if en { subject.1 } else { subject.0 }));
        let ctx = minijinja::context! {
            lang => lang,
            subject => &subject,
            heading => &self.heading,
            site_title => &self.site_title,
            site_url => self.site_url.as_str(),
            email => &sub.email,
            frequency_label => self.frequency_in(sub, en),
            ..own
        };
        let r = Rendered {
            text: self.templates.render(&format!("{template}.txt"), &ctx)?,
            html: self.templates.render(&format!("{template}.html"), &ctx)?,
            subject,
        };
        let period_key = format!("{template}:{}", at.timestamp_millis());
        let message_id = self.message_id(sub.id, &period_key);
        let body = self.build(&sub.email, &r, &message_id, at, headers)?;
        Ok(OutboxMessage {
            message_id,
            kind: MessageKind::Confirm,
            subscriber_id: Some(sub.id),
            period_key,
            recipient: sub.email.clone(),
            bytes: MessageBytes::Whole(body),
        })
    }
}
