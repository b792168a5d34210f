//! A digest's mail: the subscriber's own values, the rendered subject,
//! text and HTML (`digest.txt`, `digest.html`), and the outbox message with
//! its list headers (List-Unsubscribe, One-Click, List-Id). The shared
//! shape (`mail::shape`) lets one rendering serve every subscriber of the
//! same plan.

use super::shape::{self, Personal, Shape, Shapes};
use super::{ArticleView, Composer, MailError, Rendered};
use super::assemble::quoted_printable_parts;
use crate::catalog::Catalog;
use crate::digest::plan::PlannedDigest;
use crate::state::{Frequency, MessageKind, OutboxMessage, Subscriber};
use chrono::{DateTime, Datelike, Utc};
use lettre::message::Body;
use lettre::message::header::ContentTransferEncoding;

impl Composer {
    pub(super) fn frequency_label(f: Frequency) -> &'static str {
        match f {
            Frequency::Daily => "hằng ngày",
            Frequency::Weekly => "hằng tuần",
        }
    }

    /// The values of a subscriber's own in a digest: address and links.
    pub(super) fn personal(&self, sub: &Subscriber) -> Personal {
        Personal { email: sub.email.clone(), unsubscribe_url: self.unsubscribe_url(sub.id), preferences_url: self.preferences_url(sub.id) }
    }

    /// Renders a digest's subject, text and HTML.
    pub fn render_digest(&self, plan: &PlannedDigest, catalog: &Catalog) -> Result<Rendered, MailError> {
        self.render_digest_with(plan, catalog, &self.personal(&plan.subscriber))
    }

    /// The same with the subscriber's own values given (`shape` renders
    /// with stand-ins).
    pub(super) fn render_digest_with(&self, plan: &PlannedDigest, catalog: &Catalog, personal: &Personal) -> Result<Rendered, MailError> {
        let sub = &plan.subscriber;
        let count = plan.articles.len() + plan.more;
        let period_label = match plan.period.frequency {
            Frequency::Daily => plan.period.label.format("%d/%m/%Y").to_string(),
            Frequency::Weekly => {
                let w = plan.period.label.iso_week();
                format!("tuần {}/{}", w.week(), w.year())
            }
        };
        let subject = crate::text::clean_line(&format!("{} – {period_label}: {count} bài mới", self.heading));
        let articles: Vec<ArticleView> = plan
            .articles
            .iter()
            .map(|a| ArticleView {
                title: crate::text::clean_line(&a.title),
                url: a.url().into_owned(),
                summary: crate::text::excerpt(a.summary(), 300),
                date: a
                    .published
                    .with_timezone(&self.timezone)
                    .format("%d/%m/%Y %H:%M")
                    .to_string(),
                categories: a
                    .categories
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
            .collect();
        let topics = sub
            .topics
            .iter()
            .map(|t| catalog.category_name(t).unwrap_or(t).to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let ctx = minijinja::context! {
            subject => &subject,
            heading => &self.heading,
            period_label => &period_label,
            site_title => &self.site_title,
            site_url => self.site_url.as_str(),
            count => count,
            articles => articles,
            more => plan.more,
            more_url => self.site_url.as_str(),
            topics => topics,
            email => &personal.email,
            frequency_label => Self::frequency_label(sub.frequency),
            unsubscribe_url => &personal.unsubscribe_url,
            preferences_url => &personal.preferences_url,
        };
        Ok(Rendered {
            text: self.templates.render("digest.txt", &ctx)?,
            html: self.templates.render("digest.html", &ctx)?,
            subject,
        })
    }

    /// The outbox message for a planned, non-empty digest.
    pub fn digest(&self, plan: &PlannedDigest, catalog: &Catalog, now: DateTime<Utc>) -> Result<OutboxMessage, MailError> {
        self.digest_rendered(plan, catalog, &self.personal(&plan.subscriber), now)
    }

    /// [`Composer::digest`] with the subscriber's values made already.
    pub(super) fn digest_rendered(&self, plan: &PlannedDigest, catalog: &Catalog, personal: &Personal, now: DateTime<Utc>) -> Result<OutboxMessage, MailError> {
        let r = self.render_digest_with(plan, catalog, personal)?;
        self.digest_message(plan, personal, |to, message_id, headers| self.build(to, &r, message_id, now, headers))
    }

    /// The same, from the shape of `plan` in `shapes` when it has one (see
    /// `mail::shape`): the bytes differ only in where quoted-printable
    /// breaks its lines.
    pub fn digest_in(&self, shapes: &Shapes, plan: &PlannedDigest, catalog: &Catalog, now: DateTime<Utc>) -> Result<OutboxMessage, MailError> {
        if !self.templates.digests_shareable() {
            return self.digest(plan, catalog, now);
        }
        let personal = self.personal(&plan.subscriber);
        match shapes.get_or_make(plan, || self.shape(plan, catalog, &personal))? {
            Some(shape) => self.digest_message(plan, &personal, |to, message_id, headers| {
                let (text, html) = shape.parts(&personal);
                self.assemble(to, &shape.subject, quoted_printable_parts(text, html), message_id, now, headers)
            }),
            None => self.digest_rendered(plan, catalog, &personal, now),
        }
    }

    /// Renders `plan` with two sets of stand-ins and with `personal`, and
    /// makes the shape if they agree (`Shape::make`) and lettre would use
    /// quoted-printable for both parts.
    pub(super) fn shape(&self, plan: &PlannedDigest, catalog: &Catalog, personal: &Personal) -> Result<Option<Shape>, MailError> {
        let a = self.render_digest_with(plan, catalog, &shape::stand_ins(0))?;
        let b = self.render_digest_with(plan, catalog, &shape::stand_ins(1))?;
        let real = self.render_digest_with(plan, catalog, personal)?;
        let quoted_printable = |s: &str| Body::new(s.to_string()).encoding() == ContentTransferEncoding::QuotedPrintable;
        if !(quoted_printable(&real.text) && quoted_printable(&real.html)) {
            return Ok(None);
        }
        Ok(Shape::make(
            [(&a.subject, &a.text, &a.html), (&b.subject, &b.text, &b.html)],
            (&real.subject, &real.text, &real.html),
            personal,
        ))
    }

    /// The message around a digest's body, which `body` builds from the
    /// recipient, the Message-ID and the list headers.
    pub(super) fn digest_message(
        &self,
        plan: &PlannedDigest,
        personal: &Personal,
        body: impl FnOnce(&str, &str, Vec<(&'static str, String)>) -> Result<Vec<u8>, MailError>,
    ) -> Result<OutboxMessage, MailError> {
        let sub = &plan.subscriber;
        let message_id = self.message_id(sub.id, &plan.period.key);
        let body = body(&sub.email, &message_id, self.list_headers(&personal.unsubscribe_url))?;
        Ok(OutboxMessage {
            message_id,
            kind: MessageKind::Digest,
            subscriber_id: Some(sub.id),
            period_key: plan.period.key.clone(),
            recipient: sub.email.clone(),
            body,
        })
    }

}
