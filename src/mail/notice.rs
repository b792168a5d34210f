//! The mails that are not digests: the double opt-in confirmation. Each is
//! its own message (its period key is the request time), with no list
//! headers.

use super::{Composer, MailError, Rendered, CONFIRM_VALID_DAYS};
use crate::state::{MessageKind, OutboxMessage, Subscriber};
use chrono::{DateTime, Utc};

impl Composer {
    pub fn confirmation(&self, sub: &Subscriber, now: DateTime<Utc>) -> Result<OutboxMessage, MailError> {
        let subject = crate::text::clean_line(&format!("{}: xác nhận đăng ký nhận bản tin", self.heading));
        let ctx = minijinja::context! {
            subject => &subject,
            heading => &self.heading,
            site_title => &self.site_title,
            site_url => self.site_url.as_str(),
            email => &sub.email,
            frequency_label => Self::frequency_label(sub.frequency),
            confirm_url => self.confirm_url(sub.id, now),
            valid_days => CONFIRM_VALID_DAYS,
        };
        let r = Rendered {
            text: self.templates.render("confirm.txt", &ctx)?,
            html: self.templates.render("confirm.html", &ctx)?,
            subject,
        };
        // Each request is its own message: the period is the request time.
        let period_key = format!("confirm:{}", now.timestamp_millis());
        let message_id = self.message_id(sub.id, &period_key);
        let body = self.build(&sub.email, &r, &message_id, now, Vec::new())?;
        Ok(OutboxMessage {
            message_id,
            kind: MessageKind::Confirm,
            subscriber_id: Some(sub.id),
            period_key,
            recipient: sub.email.clone(),
            body,
        })
    }
}
