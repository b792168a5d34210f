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

/// A user or password of the URL as typed before it was percent-encoded
/// (`%40` an `@`; `+` stays a plus, as in any URL's user part).
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    /// A password with `@`, `:`, `/` and `+` in it must be written
    /// `%40`, `%3A`, `%2F`; `+` may be written as it is, and is a plus.
    #[test]
    fn the_login_of_the_url_is_percent_decoded_and_a_plus_stays() {
        let url = url::Url::parse("smtp://mailer%40yenbai.gov.vn:p%40ss%3Aw%2Frd+1%2B2@relay.example:587").unwrap();
        assert_eq!(percent_decode(url.username()), "mailer@yenbai.gov.vn");
        assert_eq!(percent_decode(url.password().unwrap()), "p@ss:w/rd+1+2");
        assert_eq!(percent_decode("m%E1%BA%ADt-kh%E1%BA%A9u"), "mật-khẩu");
    }
}
