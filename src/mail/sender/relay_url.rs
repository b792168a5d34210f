//! `mail.smtp_url` read as the relay the sessions connect to: host and
//! port, how TLS is used (the scheme and `?tls=`), and the login, whose
//! user and password are percent-decoded from the URL.

use crate::mail::smtp::{Relay, Security};
use lettre::transport::smtp::extension::ClientId;

/// The relay `smtp_url` names; the error says what is wrong with it.
pub(super) fn relay_of(smtp_url: &url::Url) -> Result<Relay, String> {
    let host = smtp_url.host_str().ok_or_else(|| "has no host".to_string())?.to_string();
    let tls = crate::tls::client_config()?;
    let credentials = (!smtp_url.username().is_empty())
        .then(|| (percent_decode(smtp_url.username()), percent_decode(smtp_url.password().unwrap_or(""))));
    let mode = crate::config::SmtpTls::of(smtp_url)?;
    let (security, default_port) = match (smtp_url.scheme(), mode) {
        ("smtps", _) => (Security::Implicit, 465),
        (_, crate::config::SmtpTls::Required) => (Security::Required, 25),
        (_, crate::config::SmtpTls::Plain) => (Security::Plain, 25),
        (_, crate::config::SmtpTls::Opportunistic) => (Security::Opportunistic, 25),
    };
    Ok(Relay {
        host,
        port: smtp_url.port().unwrap_or(default_port),
        security,
        credentials,
        hello: ClientId::default().to_string(),
        tls,
    })
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}
