//! A digest's mail: the subscriber's own values, the rendered subject,
//! text and HTML (`digest.txt`, `digest.html`), and the outbox message with
//! its list headers (List-Unsubscribe, One-Click, List-Id). The shared
//! shape (`mail::shape`) lets one rendering serve every subscriber of the
//! same plan.
//!
//! Besides the articles a digest carries a hidden preheader (the first
//! titles), each article's thumbnail when it has an image, a "view in
//! browser" link to its period's archive page filtered by the topics
//! (`digest.archive`), and no more HTML than Gmail shows unclipped
//! (`mail::clip`: fewer articles in full, the rest as title links). All
//! of these are functions of the plan, not of the subscriber, so a shape
//! still holds.

use crate::delta::Shared;
use super::shape::{self, Personal, Shape, Shapes};
use super::{ArticleView, Composer, MailError, Rendered};
use super::clip::{self, Split};
use super::assemble::quoted_printable_parts;
use crate::catalog::Catalog;
use crate::digest::plan::PlannedDigest;
use crate::state::{Frequency, MessageKind, MessageBytes, OutboxMessage, Subscriber};
use chrono::{DateTime, Datelike, Utc};

/// The parts of a digest's context that are the same for every
/// subscriber of its shape, made once however often it is rendered.
struct DigestView {
    subject: String,
    period_label: String,
    count: usize,
    /// The hidden preview text: the first titles.
    preheader: String,
    /// The period's archive page with the subscriber's topics, when
    /// `digest.archive` is on.
    archive_url: Option<String>,
    articles: Vec<ArticleView>,
    more: usize,
    topics: String,
    frequency_label: &'static str,
}

/// The hidden preview text a mail client shows after the subject: the
/// first titles, as many as fit in about 140 characters.
fn preheader(articles: &[ArticleView]) -> String {
    let titles: Vec<&str> = articles.iter().take(5).map(|a| a.title.as_str()).collect();
    crate::text::excerpt(&titles.join(" · "), 140)
}

impl Composer {
    pub(super) fn frequency_label(f: Frequency) -> &'static str {
        match f {
            Frequency::Daily => "hằng ngày",
            Frequency::Weekly => "hằng tuần",
            Frequency::Instant => "tức thời",
        }
    }

    /// An instant mail's window as its readers' clocks show it
    /// (`07:00–07:10 25/11/2026` in `site.timezone`).
    fn window_label(&self, period: &crate::digest::plan::Period) -> String {
        let (start, end) = (period.start.with_timezone(&self.timezone), period.end.with_timezone(&self.timezone));
        format!("{}–{}", start.format("%H:%M"), end.format("%H:%M %d/%m/%Y"))
    }

    /// The subject: a digest's heading, period and count; an instant
    /// mail's article title (`Tin mới: …`), or its count and first title.
    fn subject(&self, plan: &PlannedDigest, period_label: &str, count: usize) -> String {
        let first: &str = plan.articles.first().map(|a| a.title()).unwrap_or_default();
        let (one, news) = match (self.english, count) {
            (false, _) => ("Tin mới", "bài mới"),
            (true, 1) => ("New", "new article"),
            (true, _) => ("New", "new articles"),
        };
        let subject = match plan.period.frequency {
            Frequency::Instant if count == 1 => format!("{one}: {first}"),
            Frequency::Instant if self.english => format!("{}: {count} {news} – {first}", self.heading),
            Frequency::Instant => format!("{}: {count} tin mới – {first}", self.heading),
            Frequency::Daily | Frequency::Weekly => format!("{} – {period_label}: {count} {news}", self.heading),
        };
        crate::text::clean_line(&subject)
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
    /// with stand-ins), within Gmail's clipping limit (`mail::clip`).
    pub(super) fn render_digest_with(&self, plan: &PlannedDigest, catalog: &Catalog, personal: &Personal) -> Result<Rendered, MailError> {
        let digest = self.digest_view(plan, catalog);
        Ok(self.fitted(&digest, personal)?.1)
    }

    /// The most of `digest` shown in full that keeps its HTML within
    /// `clip::BUDGET`, measured with `personal`, and that render.
    fn fitted(&self, digest: &DigestView, personal: &Personal) -> Result<(Split, Rendered), MailError> {
        clip::fit(digest.articles.len(), clip::BUDGET, |split| self.render_split(digest, personal, split), |r| r.html.len())
    }

    /// What a digest shows that is not the subscriber's own: the same for
    /// every subscriber of one shape (period, topics, articles).
    fn digest_view(&self, plan: &PlannedDigest, catalog: &Catalog) -> DigestView {
        let sub = &plan.subscriber;
        let count = plan.articles.len() + plan.more;
        let period_label = match plan.period.frequency {
            Frequency::Daily => plan.period.label.format("%d/%m/%Y").to_string(),
            Frequency::Weekly => {
                let w = plan.period.label.iso_week();
                format!("{} {}/{}", if self.english { "week" } else { "tuần" }, w.week(), w.year())
            }
            Frequency::Instant => self.window_label(&plan.period),
        };
        let subject = self.subject(plan, &period_label, count);
        let articles: Vec<ArticleView> = plan.articles.iter().map(|a| self.article_view(a)).collect();
        let topics = sub
            .topics
            .iter()
            .map(|t| catalog.category_name(t).unwrap_or(t).to_string())
            .collect::<Vec<_>>()
            .join(", ");
        DigestView {
            preheader: preheader(&articles),
            archive_url: self.archive_url(&plan.period.key, &sub.topics),
            frequency_label: if self.english { sub.frequency.as_str() } else { Self::frequency_label(sub.frequency) },
            subject,
            period_label,
            count,
            articles,
            more: plan.more,
            topics,
        }
    }

    /// Renders `digest` with `split.full` articles in full, the next
    /// `split.links` as title links and the rest counted.
    fn render_split(&self, d: &DigestView, personal: &Personal, split: Split) -> Result<Rendered, MailError> {
        let ctx = minijinja::context! {
            lang => if self.english { "en" } else { "vi" },
            subject => &d.subject,
            heading => &self.heading,
            period_label => &d.period_label,
            site_title => &self.site_title,
            site_url => self.site_url.as_str(),
            count => d.count,
            preheader => &d.preheader,
            archive_url => &d.archive_url,
            articles => &d.articles[..split.full],
            links => &d.articles[split.full..split.full + split.links],
            more => d.more + split.hidden,
            more_url => d.archive_url.as_deref().unwrap_or(self.site_url.as_str()),
            topics => &d.topics,
            email => &personal.email,
            frequency_label => d.frequency_label,
            unsubscribe_url => &personal.unsubscribe_url,
            preferences_url => &personal.preferences_url,
        };
        Ok(Rendered {
            text: self.templates.render("digest.txt", &ctx)?,
            html: self.templates.render("digest.html", &ctx)?,
            subject: d.subject.clone(),
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
    /// breaks its lines, and the outbox stores them as a delta against the
    /// shape's pieces (`delta`).
    pub fn digest_in(&self, shapes: &Shapes, plan: &PlannedDigest, catalog: &Catalog, now: DateTime<Utc>) -> Result<OutboxMessage, MailError> {
        if !self.templates.digests_shareable() {
            return self.digest(plan, catalog, now);
        }
        let personal = self.personal(&plan.subscriber);
        match shapes.get_or_make(plan, || self.shape(plan, catalog, &personal))? {
            Some(shape) => {
                let mut message = self.digest_message(plan, &personal, |to, message_id, headers| {
                    let (text, html) = shape.parts(&personal);
                    self.assemble(to, &shape.subject, quoted_printable_parts(text, html), message_id, now, headers)
                })?;
                if let MessageBytes::Whole(body) = &message.bytes
                    && let Some(shared) = Shared::of(shape.common(), body)
                {
                    message.bytes = MessageBytes::Shared(shared);
                }
                Ok(message)
            }
            None => self.digest_rendered(plan, catalog, &personal, now),
        }
    }

    /// Renders `plan` with two sets of stand-ins and with `personal`, and
    /// makes the shape if they agree (`Shape::make`).
    /// How much is shown in full (`mail::clip`) is decided once, with
    /// the longer stand-ins, so that all three show the same.
    pub(super) fn shape(&self, plan: &PlannedDigest, catalog: &Catalog, personal: &Personal) -> Result<Option<Shape>, MailError> {
        let digest = self.digest_view(plan, catalog);
        let (split, b) = self.fitted(&digest, &shape::stand_ins(1))?;
        let a = self.render_split(&digest, &shape::stand_ins(0), split)?;
        let real = self.render_split(&digest, personal, split)?;
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
        let body = body(&sub.email, &message_id, self.list_headers(sub.id, &personal.unsubscribe_url))?;
        Ok(OutboxMessage {
            message_id,
            kind: MessageKind::Digest,
            subscriber_id: Some(sub.id),
            period_key: plan.period.key.clone(),
            recipient: sub.email.clone(),
            bytes: MessageBytes::Whole(body),
        })
    }

}
