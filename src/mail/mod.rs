//! Mail: from a planned digest (or a new subscriber) to the exact RFC 5322
//! bytes that go into the outbox. [`Composer`] (this file: its settings and
//! the links it signs) renders the templates: `digest_mail` a digest,
//! `notice` the mails that are not digests, `assemble` the message bytes
//! (lettre, DKIM); [`sender`] delivers what the outbox holds;
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

mod assemble;
mod copies;
mod digest_mail;
mod direct;
mod dkim;
mod ids;
mod marks;
mod notice;
mod pace;
pub mod sender;
pub mod smtp;

pub use bantin_core::mail::{clip, qp, shape};
pub use copies::{TestMessage, TEST_PREFIX};

use crate::tokens::{Purpose, TokenKey};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use lettre::message::dkim::DkimConfig;
use lettre::message::Mailbox;
use lettre::Address;
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
    /// `digest.archive`: mails link their period's archive page.
    archive: bool,
    /// `site.language` is English: digests in English (else Vietnamese).
    english: bool,
    /// `mail.return_path`: where a mail client's unsubscribe mail goes.
    return_path: Option<String>,
}

impl std::fmt::Debug for Composer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Composer").field("from", &self.from).finish_non_exhaustive()
    }
}

/// An article as the digests and the archive pages show it.
#[derive(Debug, Clone, Serialize)]
pub struct ArticleView {
    pub title: String,
    pub url: String,
    pub summary: String,
    pub date: String,
    pub categories: String,
    /// Its thumbnail, when it has an image (`feeds::media::image_of`).
    pub image: Option<Thumbnail>,
}

/// An article's image shown in a fixed box: the box (`width`, `height`)
/// holds its place when a mail client blocks images, and `alt` says what
/// is missing.
#[derive(Debug, Clone, Serialize)]
pub struct Thumbnail {
    /// Absolute http(s).
    pub url: String,
    pub alt: String,
    pub width: u32,
    pub height: u32,
}

/// The thumbnail box, 3:2.
const THUMBNAIL: (u32, u32) = (120, 80);

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
        let mut templates = load_templates(settings.mail.templates_dir.as_deref())?;
        // The frame of every page links the archive only where it exists.
        templates.set_global("archive_on", settings.digest.archive);
        let templates = Arc::new(templates);
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
            archive: settings.digest.archive,
            english: settings.site.language.to_ascii_lowercase().starts_with("en"),
            return_path: settings.mail.return_path.clone(),
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

    /// How digests and archive pages show `a`.
    pub fn article_view(&self, a: &crate::Article) -> ArticleView {
        let title = crate::text::clean_line(a.title());
        let image = crate::feeds::media::image_of(a).map(|img| Thumbnail {
            url: img.url.into_owned(),
            alt: img.caption.map(|c| crate::text::excerpt(&c, 120)).unwrap_or_else(|| title.clone()),
            width: THUMBNAIL.0,
            height: THUMBNAIL.1,
        });
        ArticleView {
            url: a.url().into_owned(),
            summary: crate::text::excerpt(a.summary(), 300),
            date: a.published.with_timezone(&self.timezone).format("%d/%m/%Y %H:%M").to_string(),
            categories: a.categories.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", "),
            title,
            image,
        }
    }

    /// The archive page of the period `period_key` filtered by `topics`
    /// (none: every topic), when `digest.archive` is on: a mail's "view in
    /// browser" link. Not personal: the same for a shape's subscribers.
    pub fn archive_url(&self, period_key: &str, topics: &[String]) -> Option<String> {
        let period = crate::digest::archive::ArchivePeriod::from_key(period_key).filter(|_| self.archive)?;
        let mut url = self.public_url.join(period.path().trim_start_matches('/')).ok()?;
        if !topics.is_empty() {
            let list: Vec<String> = topics.iter().map(|t| url::form_urlencoded::byte_serialize(t.as_bytes()).collect()).collect();
            url.set_query(Some(&format!("topics={}", list.join(","))));
        }
        Some(url.into())
    }

    /// `path` on bantin's own public URL (`http.public_url`).
    pub(super) fn public_link(&self, path: &str) -> String {
        self.public_url.join(path).map(String::from).unwrap_or_else(|_| format!("{}{path}", self.public_url))
    }

    /// The list headers of a mail of `subscriber`'s subscription (digests,
    /// the welcome): one-click unsubscribe (RFC 8058) and by mail, and the
    /// List-Id.
    pub(super) fn list_headers(&self, subscriber: i64, unsubscribe_url: &str) -> Vec<(&'static str, String)> {
        let unsubscribe = format!("<{unsubscribe_url}>, <mailto:{}?subject=unsubscribe>", self.unsubscribe_mailbox(subscriber));
        vec![
            ("List-Unsubscribe", unsubscribe),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click".to_string()),
            ("List-Id", self.list_id()),
        ]
    }

    /// Where a mail client sends `subscriber`'s unsubscribe mail (the
    /// `mailto:` of List-Unsubscribe; Apple Mail and Outlook use it): with
    /// `mail.return_path`, an address there tagged for this subscriber
    /// (`bounces+<token>@…`), which reaches bantin with the reports and
    /// unsubscribes (`bounces`); without, `mail.from`, read by a person.
    pub fn unsubscribe_mailbox(&self, subscriber: i64) -> String {
        match &self.return_path {
            Some(return_path) => {
                let tagged = bantin_core::report::verp::address(return_path, &crate::tokens::bounce::make_unsubscribe(&self.key, subscriber));
                bantin_core::subscriber::smtp_address(&tagged).into_owned()
            }
            None => self.from.email.to_string(),
        }
    }

    /// The List-Id of every digest.
    pub(super) fn list_id(&self) -> String {
        format!("{} <bantin.{}>", self.heading, self.domain)
    }
}

/// Reads `Name <user@host>` or `user@host`; the address in the relay's
/// form (`smtp_address`: an internationalised domain in ASCII).
pub fn parse_mailbox(s: &str) -> Result<Mailbox, MailError> {
    let s = crate::text::clean_line(s);
    let (name, addr) = match (s.rfind('<'), s.strip_suffix('>')) {
        (Some(l), Some(_)) => (Some(s[..l].trim().trim_matches('"').to_string()), &s[l + 1..s.len() - 1]),
        _ => (None, s.as_str()),
    };
    let email: Address = bantin_core::subscriber::smtp_address(addr.trim()).parse().map_err(|_| MailError::From(s.clone()))?;
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
