//! Mail: from a planned digest (or a new subscriber) to the exact RFC 5322
//! bytes that go into the outbox. [`Composer`] renders the templates and
//! builds the message with lettre; [`outbox`] writes planned digests into
//! the state database; [`sender`] delivers what the outbox holds;
//! `copies` shapes the digests sent to someone else than their subscriber
//! (test sends, seed copies) and `direct` sends a test at once.
//!
//! Invariants:
//! - the Message-ID is a function of (subscriber, period) and the sender's
//!   domain only (a seed copy's: of the seed address and period), so a
//!   resend after a crash is recognisably the same mail; a test send, never
//!   resent and never in the outbox, gets a fresh one;
//! - every header value that comes from data (titles, names, addresses)
//!   went through `text::clean_line` or address validation and then
//!   lettre's RFC 2047 encoder: no line break can reach a header;
//! - links are absolute, built on `http.public_url` (bantin's own routes)
//!   or the article's URL;
//! - rendering takes `now` as an argument and reads no clock.

mod copies;
mod direct;
mod dkim;
mod ids;
mod marks;
mod pace;
pub mod sender;
pub mod smtp;

pub use bantin_core::mail::{qp, shape};
pub use copies::{TestMessage, TEST_PREFIX};

use crate::catalog::Catalog;
use crate::digest::plan::PlannedDigest;
use crate::state::{Frequency, MessageKind, OutboxMessage, Subscriber};
use crate::tokens::{Purpose, TokenKey};
use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;
use lettre::message::dkim::DkimConfig;
use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use shape::{Personal, Shape, Shapes};
use lettre::{Address, Message};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use crate::templates::{TemplateError, Templates};
use url::Url;

/// How long a confirmation link stays valid.
pub const CONFIRM_VALID_DAYS: i64 = 7;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("mail.from: {0:?} is not an address lettre accepts; write it as \"Name <user@example.org>\"")]
    From(String),
    #[error("subscriber address {0:?} cannot be used in a mail header: {1}")]
    Recipient(String, String),
    #[error("{path}: cannot read the DKIM key (mail.dkim_key_file): {source}")]
    DkimRead { path: PathBuf, source: std::io::Error },
    #[error("{path}: not a usable DKIM key: {detail}; use an Ed25519 key (`openssl genpkey -algorithm ed25519`), its base64 seed, or an RSA key in PKCS#1 PEM (`openssl genrsa -traditional`)")]
    DkimKey { path: PathBuf, detail: String },
    #[error("building the message for {0}: {1}")]
    Build(String, String),
}

/// What the templates and the subject were given, kept for previews and
/// snapshot tests.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Renders and builds messages. One per process; cheap to share.
pub struct Composer {
    templates: Arc<Templates>,
    key: TokenKey,
    from: Mailbox,
    /// Display name of `mail.from` (or the site title): the digest's name.
    heading: String,
    domain: String,
    site_title: String,
    site_url: Url,
    /// `site.icon`, for the pages' `<link rel="icon">`.
    site_icon: Option<Url>,
    public_url: Url,
    timezone: Tz,
    dkim: Option<DkimConfig>,
}

impl std::fmt::Debug for Composer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Composer").field("from", &self.from).finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct ArticleView {
    title: String,
    url: String,
    summary: String,
    date: String,
    categories: String,
}

/// Every template, from `dir` where it holds a file of the template's name
/// (`mail.templates_dir`), else built in.
pub fn load_templates(dir: Option<&std::path::Path>) -> Result<Templates, TemplateError> {
    Templates::build(|name| match dir.map(|d| d.join(name)).filter(|p| p.is_file()) {
        Some(path) => std::fs::read_to_string(&path).map(Some).map_err(|source| TemplateError::Read { path, source }),
        None => Ok(None),
    })
}

impl Composer {
    pub fn new(settings: &crate::Settings, key: TokenKey) -> Result<Composer, MailError> {
        let templates = Arc::new(load_templates(settings.mail.templates_dir.as_deref())?);
        let from = parse_mailbox(&settings.mail.from)?;
        let heading = from.name.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| settings.site.title.clone());
        let domain = from.email.domain().to_string();
        let dkim = match (&settings.mail.dkim_selector, &settings.mail.dkim_domain, &settings.mail.dkim_key_file) {
            (Some(sel), Some(dom), Some(path)) => Some(dkim::load(sel, dom, path)?),
            _ => None,
        };
        Ok(Composer {
            templates,
            key,
            from,
            heading,
            domain,
            site_title: settings.site.title.clone(),
            site_url: settings.site.base_url.clone(),
            site_icon: settings.site.icon.clone(),
            public_url: settings.http.public_url.clone(),
            timezone: settings.site.timezone,
            dkim,
        })
    }

    /// The templates, shared (the service renders the index page with them).
    pub fn shared_templates(&self) -> Arc<Templates> {
        Arc::clone(&self.templates)
    }

    pub fn templates(&self) -> &Templates {
        &self.templates
    }

    pub fn key(&self) -> &TokenKey {
        &self.key
    }

    pub fn site_title(&self) -> &str {
        &self.site_title
    }

    pub fn site_url(&self) -> &Url {
        &self.site_url
    }

    /// `site.icon`, if set.
    pub fn site_icon(&self) -> Option<&Url> {
        self.site_icon.as_ref()
    }

    /// The envelope sender: the address of `mail.from`.
    pub fn from_address(&self) -> &Address {
        &self.from.email
    }

    fn link(&self, route: &str, token: &str) -> String {
        // The public URL ends with `/` (config guarantees it) and tokens are
        // base64url, so the join cannot fail; fall back to string
        // concatenation all the same rather than panic.
        self.public_url
            .join(&format!("{route}/{token}"))
            .map(String::from)
            .unwrap_or_else(|_| format!("{}{route}/{token}", self.public_url))
    }

    pub fn unsubscribe_url(&self, subscriber: i64) -> String {
        self.link("unsubscribe", &self.key.sign(Purpose::Unsubscribe, subscriber, None))
    }

    pub fn preferences_url(&self, subscriber: i64) -> String {
        self.link("preferences", &self.key.sign(Purpose::Preferences, subscriber, None))
    }

    pub fn confirm_url(&self, subscriber: i64, now: DateTime<Utc>) -> String {
        let expires = now + chrono::Duration::days(CONFIRM_VALID_DAYS);
        self.link("confirm", &self.key.sign(Purpose::Confirm, subscriber, Some(expires)))
    }

    /// The List-Id of every digest.
    fn list_id(&self) -> String {
        format!("{} <bantin.{}>", self.heading, self.domain)
    }

    fn frequency_label(f: Frequency) -> &'static str {
        match f {
            Frequency::Daily => "hằng ngày",
            Frequency::Weekly => "hằng tuần",
        }
    }

    /// The values of a subscriber's own in a digest: address and links.
    fn personal(&self, sub: &Subscriber) -> Personal {
        Personal { email: sub.email.clone(), unsubscribe_url: self.unsubscribe_url(sub.id), preferences_url: self.preferences_url(sub.id) }
    }

    /// Renders a digest's subject, text and HTML.
    pub fn render_digest(&self, plan: &PlannedDigest, catalog: &Catalog) -> Result<Rendered, MailError> {
        self.render_digest_with(plan, catalog, &self.personal(&plan.subscriber))
    }

    /// The same with the subscriber's own values given (`shape` renders
    /// with stand-ins).
    fn render_digest_with(&self, plan: &PlannedDigest, catalog: &Catalog, personal: &Personal) -> Result<Rendered, MailError> {
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
    fn digest_rendered(&self, plan: &PlannedDigest, catalog: &Catalog, personal: &Personal, now: DateTime<Utc>) -> Result<OutboxMessage, MailError> {
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
    fn shape(&self, plan: &PlannedDigest, catalog: &Catalog, personal: &Personal) -> Result<Option<Shape>, MailError> {
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
    fn digest_message(
        &self,
        plan: &PlannedDigest,
        personal: &Personal,
        body: impl FnOnce(&str, &str, Vec<(&'static str, String)>) -> Result<Vec<u8>, MailError>,
    ) -> Result<OutboxMessage, MailError> {
        let sub = &plan.subscriber;
        let message_id = self.message_id(sub.id, &plan.period.key);
        let unsubscribe = format!("<{}>, <mailto:{}?subject=unsubscribe>", personal.unsubscribe_url, self.from.email);
        let list_headers = vec![
            ("List-Unsubscribe", unsubscribe),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click".to_string()),
            ("List-Id", self.list_id()),
        ];
        let body = body(&sub.email, &message_id, list_headers)?;
        Ok(OutboxMessage {
            message_id,
            kind: MessageKind::Digest,
            subscriber_id: Some(sub.id),
            period_key: plan.period.key.clone(),
            recipient: sub.email.clone(),
            body,
        })
    }

    /// The double opt-in mail for a pending subscriber.
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

    fn build(
        &self,
        to: &str,
        r: &Rendered,
        message_id: &str,
        now: DateTime<Utc>,
        extra: Vec<(&'static str, String)>,
    ) -> Result<Vec<u8>, MailError> {
        self.assemble(to, &r.subject, MultiPart::alternative_plain_html(r.text.clone(), r.html.clone()), message_id, now, extra)
    }

    fn assemble(
        &self,
        to: &str,
        subject: &str,
        parts: MultiPart,
        message_id: &str,
        now: DateTime<Utc>,
        extra: Vec<(&'static str, String)>,
    ) -> Result<Vec<u8>, MailError> {
        let to_addr: Address = to.parse().map_err(|e: lettre::address::AddressError| MailError::Recipient(to.into(), e.to_string()))?;
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to_addr))
            .subject(crate::text::clean_line(subject))
            .message_id(Some(message_id.to_string()))
            .date(now.into());
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

/// The multipart/alternative of a text and an HTML part encoded already
/// (`mail::shape`), as `MultiPart::alternative_plain_html` makes it of
/// parts it encodes itself.
fn quoted_printable_parts(text: Vec<u8>, html: Vec<u8>) -> MultiPart {
    let qp = ContentTransferEncoding::QuotedPrintable;
    MultiPart::alternative()
        .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(Body::dangerous_pre_encoded(text, qp)))
        .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(Body::dangerous_pre_encoded(html, qp)))
}

/// Reads `Name <user@host>` or `user@host`.
pub fn parse_mailbox(s: &str) -> Result<Mailbox, MailError> {
    let s = crate::text::clean_line(s);
    let (name, addr) = match (s.rfind('<'), s.strip_suffix('>')) {
        (Some(l), Some(_)) => (Some(s[..l].trim().trim_matches('"').to_string()), &s[l + 1..s.len() - 1]),
        _ => (None, s.as_str()),
    };
    let email: Address = addr.trim().parse().map_err(|_| MailError::From(s.clone()))?;
    Ok(Mailbox::new(name.filter(|n| !n.is_empty()), email))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_override_folder_replaces_one_template() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("confirm.txt"), "Xác nhận: {{ confirm_url }}\n").unwrap();
        let t = load_templates(Some(dir.path())).unwrap();
        let out = t.render("confirm.txt", minijinja::context! { confirm_url => "https://x.vn/c/1" }).unwrap();
        assert_eq!(out, "Xác nhận: https://x.vn/c/1\n");
        // The others stay built in.
        assert!(t.source("digest.html").unwrap().contains("<table"));
    }

    #[test]
    fn a_broken_override_is_reported_at_load() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("digest.txt"), "{% for %}\n").unwrap();
        let err = load_templates(Some(dir.path())).unwrap_err().to_string();
        assert!(err.contains("digest.txt"), "{err}");
    }
}
