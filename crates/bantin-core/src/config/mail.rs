//! `[mail]`: the SMTP relay, the sender, DKIM, the sending rate, retries,
//! the link-signing key and the templates' folder.

use super::{ConfigError, Origin, looks_like_mailbox, non_empty, parse_duration, redact};
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

#[derive(Debug, Clone)]
pub struct Mail {
    pub smtp_url: Url,
    pub from: String,
    pub dkim_selector: Option<String>,
    pub dkim_domain: Option<String>,
    pub dkim_key_file: Option<PathBuf>,
    pub max_per_second: u32,
    pub token_secret_file: Option<PathBuf>,
    /// A folder whose `digest.html`, `confirm.txt`… replace the built-in
    /// templates (each file separately); that it exists is checked by the
    /// daemon's `config::load`.
    pub templates_dir: Option<PathBuf>,
    /// Permanent (5xx) failures after which a subscriber is marked bouncing.
    pub bounce_limit: u32,
    /// The first retry delay after a temporary failure; doubled each time.
    pub retry_base: Duration,
    /// The longest delay between retries.
    pub retry_max: Duration,
    /// Attempts after which a message that keeps failing temporarily is
    /// given up (marked failed).
    pub max_attempts: u32,
    /// SMTP connections kept open in the pool.
    pub connections: u32,
    /// The envelope sender reports come back to (an addr-spec such as
    /// `bounces@example.org`); each message's is this address with a VERP
    /// token (`bounces+<token>@example.org`). None: `mail.from`'s address.
    pub return_path: Option<String>,
}

/// How an `smtp://` session is protected: the `tls` parameter of
/// `mail.smtp_url` (`smtps://` is TLS from the first byte whatever it says).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// No `tls=` (or `tls=opportunistic`): STARTTLS when the relay offers
    /// it, plain otherwise.
    Opportunistic,
    /// `tls=required`: a relay that offers no STARTTLS gets no mail.
    Required,
    /// `tls=none`: never STARTTLS (a relay on this host whose certificate
    /// cannot be checked).
    Plain,
}

impl SmtpTls {
    /// The `tls` parameter of an SMTP URL, or what is wrong with it.
    pub fn of(url: &Url) -> Result<SmtpTls, String> {
        let mut tls = SmtpTls::Opportunistic;
        for (key, value) in url.query_pairs().filter(|(k, _)| k == "tls") {
            tls = match (value.as_ref(), url.scheme()) {
                ("opportunistic", _) => SmtpTls::Opportunistic,
                ("required", _) => SmtpTls::Required,
                ("none", "smtp") => SmtpTls::Plain,
                ("none", _) => return Err("tls=none contradicts smtps:// (TLS from the first byte); use smtp://".into()),
                (other, _) => {
                    return Err(format!("{key}={other:?} is not a TLS mode; write tls=required (STARTTLS or no mail), tls=opportunistic (the default) or tls=none"));
                }
            };
        }
        Ok(tls)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[cfg_attr(test, derive(serde::Serialize, schemars::JsonSchema))]
pub(super) struct RawMail {
    /// The relay: `smtp://` (STARTTLS when offered) or `smtps://`, `user:pass@` if needed; `?tls=required` or `?tls=none`.
    smtp_url: String,
    /// The From of every mail: `Name <address>`.
    from: String,
    /// DKIM selector; with `dkim_domain` and `dkim_key_file`, mail is signed.
    dkim_selector: Option<String>,
    /// DKIM signing domain (`d=`).
    dkim_domain: Option<String>,
    /// DKIM private key: Ed25519, or RSA as PKCS#1 PEM.
    dkim_key_file: Option<String>,
    /// Most messages handed to the relay a second.
    max_per_second: i64,
    /// HMAC key for links in mails. Default: beside the SQLite state database, or kept in PostgreSQL state.
    token_secret_file: Option<String>,
    /// A folder whose templates (`digest.html`, `page.html`, …) replace the built-in ones, each file separately.
    templates_dir: Option<String>,
    /// Permanent SMTP failures in a row before a subscriber is marked bouncing.
    bounce_limit: i64,
    /// First retry after a temporary failure (4xx, no connection); doubles each time.
    retry_base: String,
    /// Longest wait between retries.
    retry_max: String,
    /// A message still failing after this many attempts is given up.
    max_attempts: i64,
    /// SMTP connections in the pool.
    connections: i64,
    /// Envelope sender for reports: each message's is a VERP address `bounces+<token>@domain`. Default: `mail.from`'s address.
    return_path: Option<String>,
}
impl Default for RawMail {
    fn default() -> Self {
        RawMail {
            smtp_url: "smtp://127.0.0.1:25".into(),
            from: "bantin <bantin@localhost>".into(),
            dkim_selector: None,
            dkim_domain: None,
            dkim_key_file: None,
            max_per_second: 50,
            token_secret_file: None,
            templates_dir: None,
            bounce_limit: 3,
            retry_base: "1m".into(),
            retry_max: "6h".into(),
            max_attempts: 12,
            connections: 4,
            return_path: None,
        }
    }
}

impl RawMail {
    pub(super) fn validate(self, origin: &Origin) -> Result<Mail, ConfigError> {
        let smtp_url = Url::parse(&self.smtp_url)
            .ok()
            .filter(|u| matches!(u.scheme(), "smtp" | "smtps") && u.host_str().is_some())
            .ok_or_else(|| {
                origin.bad("mail.smtp_url", format!("{:?} must look like smtp://host:25 or smtps://user:pass@host:465", redact(&self.smtp_url)))
            })?;
        SmtpTls::of(&smtp_url).map_err(|m| origin.bad("mail.smtp_url", format!("{:?}: {m}", redact(&self.smtp_url))))?;
        let from = crate::text::clean_line(&self.from);
        if !looks_like_mailbox(&from) {
            return Err(origin.bad("mail.from", format!("{from:?} is not an address such as \"Bản tin <bantin@example.org>\"")));
        }
        if !(1..=100_000).contains(&self.max_per_second) {
            return Err(origin.bad("mail.max_per_second", format!("{} is out of range; use 1 to 100000", self.max_per_second)));
        }
        let dkim = [&self.dkim_selector, &self.dkim_domain, &self.dkim_key_file];
        let set = dkim.iter().filter(|v| v.as_deref().is_some_and(|s| !s.is_empty())).count();
        if set != 0 && set != 3 {
            return Err(origin.bad(
                "mail.dkim_selector",
                "DKIM needs all three of mail.dkim_selector, mail.dkim_domain and mail.dkim_key_file".into(),
            ));
        }
        for (key, value, most) in [
            ("mail.bounce_limit", self.bounce_limit, 1000),
            ("mail.max_attempts", self.max_attempts, 1000),
            ("mail.connections", self.connections, 64),
        ] {
            if !(1..=most).contains(&value) {
                return Err(origin.bad(key, format!("{value} is out of range; use 1 to {most}")));
            }
        }
        let retry_base = parse_duration(&self.retry_base).map_err(|m| origin.bad("mail.retry_base", m))?;
        let retry_max = parse_duration(&self.retry_max).map_err(|m| origin.bad("mail.retry_max", m))?;
        if retry_base.is_zero() || retry_max < retry_base {
            return Err(origin.bad(
                "mail.retry_max",
                "mail.retry_base must be at least 1s and mail.retry_max at least mail.retry_base".into(),
            ));
        }
        let return_path = non_empty(self.return_path).map(|r| r.trim().to_string());
        if let Some(r) = &return_path {
            let bare = !r.contains('<') && !r.contains('+') && r.matches('@').count() == 1;
            if !bare || !looks_like_mailbox(r) {
                return Err(origin.bad(
                    "mail.return_path",
                    format!("{r:?} is not a bare address without a +tag, such as \"bounces@example.org\""),
                ));
            }
        }
        Ok(Mail {
            return_path,
            smtp_url,
            from,
            dkim_selector: non_empty(self.dkim_selector),
            dkim_domain: non_empty(self.dkim_domain),
            dkim_key_file: non_empty(self.dkim_key_file).map(PathBuf::from),
            max_per_second: self.max_per_second as u32,
            token_secret_file: non_empty(self.token_secret_file).map(PathBuf::from),
            templates_dir: non_empty(self.templates_dir).map(PathBuf::from),
            bounce_limit: self.bounce_limit as u32,
            retry_base,
            retry_max,
            max_attempts: self.max_attempts as u32,
            connections: self.connections as u32,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::SmtpTls;
    use std::path::Path;

    fn smtp_url(url: &str) -> Result<crate::config::Settings, crate::config::ConfigError> {
        let text = format!("[site]\ntitle = \"T\"\nbase_url = \"https://x.org\"\n[mail]\nsmtp_url = {url:?}\n");
        crate::config::Settings::from_sources(Path::new("bantin.toml"), &text, [])
    }

    #[test]
    fn the_tls_parameter_of_smtp_url_is_read_and_checked() {
        let tls = |url: &str| SmtpTls::of(&smtp_url(url).unwrap().mail.smtp_url).unwrap();
        assert_eq!(tls("smtp://relay.example.org:25"), SmtpTls::Opportunistic);
        assert_eq!(tls("smtp://relay.example.org:587?tls=required"), SmtpTls::Required);
        assert_eq!(tls("smtp://127.0.0.1:25?tls=none"), SmtpTls::Plain);
        assert_eq!(tls("smtps://relay.example.org?tls=required"), SmtpTls::Required);
        for bad in ["smtp://u:S3cret@relay.example.org?tls=yes", "smtp://relay.example.org?tls=", "smtps://relay.example.org?tls=none"] {
            let e = smtp_url(bad).unwrap_err().to_string();
            assert!(e.contains("mail.smtp_url") && e.contains("tls=") && !e.contains("S3cret"), "{bad}: {e}");
        }
    }
}
