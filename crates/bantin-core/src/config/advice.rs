//! What a valid configuration still lacks for its mail to reach inboxes
//! and be left the way mail providers expect: advice, not errors (a trial
//! on one machine runs without any of it). `bantin check` prints each as a
//! `warning:` line and `serve` logs each once at start.

use super::Settings;
use url::Host;

impl Settings {
    /// Each piece of advice, with what to do; empty when there is none.
    pub fn advice(&self) -> Vec<String> {
        let mut out = Vec::new();
        let public = &self.http.public_url;
        if public.scheme() == "http" && !is_loopback(public.host()) {
            out.push(format!(
                "http.public_url is {public}: the unsubscribe, confirm and preferences links in mails are plain http, \
                 and Gmail and Yahoo expect one-click unsubscribe over https; serve bantin behind TLS \
                 (docs/operations.md, \"Behind a reverse proxy or CDN\") and set http.public_url to its https address"
            ));
        }
        let from = domain_of(&self.mail.from);
        match &self.mail.dkim_domain {
            None => out.push(format!(
                "mail is not DKIM-signed (mail.dkim_selector, mail.dkim_domain and mail.dkim_key_file are unset): \
                 Gmail and Yahoo ask bulk senders for a DKIM signature of the From domain ({from}) and junk or \
                 refuse mail without one; see docs/operations.md, \"DKIM keys and DNS records\""
            )),
            Some(signer) if !aligned(signer, from) => out.push(format!(
                "mail.dkim_domain {signer:?} is neither mail.from's domain ({from}) nor a parent of it: the \
                 signature does not align with From for DMARC, and receivers treat the mail as unsigned; sign \
                 with the From domain"
            )),
            Some(_) => {}
        }
        if self.mail.return_path.is_none() {
            out.push(
                "mail.return_path is unset: the bounces and complaints a relay mails back later reach mail.from's \
                 mailbox, where bantin does not read them, and a mail client's unsubscribe by mail goes there too; set it \
                 and route its domain to bounces.listen or `bantin bounces receive` (docs/operations.md, \"Bounces \
                 and complaints\")"
                    .to_string(),
            );
        }
        out
    }
}

fn is_loopback(host: Option<Host<&str>>) -> bool {
    match host {
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The domain of `mail.from` (`Name <user@domain>` or `user@domain`).
fn domain_of(mailbox: &str) -> &str {
    super::mailbox_address(mailbox).and_then(|a| a.rsplit_once('@')).map_or("", |(_, d)| d)
}

/// DMARC's relaxed alignment, near enough: the signing domain is the From
/// domain or one of its parents (`example.org` signs `tin.example.org`).
fn aligned(signer: &str, from: &str) -> bool {
    let (signer, from) = (signer.trim().trim_end_matches('.').to_ascii_lowercase(), from.to_ascii_lowercase());
    from == signer || from.ends_with(&format!(".{signer}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(extra: &str) -> Settings {
        let text = format!("[site]\ntitle = \"T\"\nbase_url = \"https://tin.example.org/\"\n{extra}");
        Settings::from_sources(std::path::Path::new("bantin.toml"), &text, []).expect("a valid configuration")
    }

    #[test]
    fn a_bare_configuration_is_told_what_mail_providers_expect() {
        let advice = settings("[http]\npublic_url = \"http://bantin.example.org/\"\n").advice();
        assert_eq!(advice.len(), 3, "{advice:#?}");
        assert!(advice[0].starts_with("http.public_url is http://bantin.example.org/") && advice[0].contains("https"));
        assert!(advice[1].contains("not DKIM-signed") && advice[1].contains("docs/operations.md"));
        assert!(advice[2].starts_with("mail.return_path is unset"));
    }

    #[test]
    fn a_configuration_ready_for_bulk_mail_gets_no_advice() {
        let mail = "[mail]\nfrom = \"Tin <tin@tin.example.org>\"\nreturn_path = \"bounces@b.example.org\"\n\
                    dkim_selector = \"s\"\ndkim_domain = \"example.org\"\ndkim_key_file = \"/k.pem\"\n";
        for public in ["https://bantin.example.org/", "http://127.0.0.1:8080/", "http://localhost/", "http://[::1]/"] {
            let advice = settings(&format!("[http]\npublic_url = \"{public}\"\n{mail}")).advice();
            assert!(advice.is_empty(), "{public}: {advice:#?}");
        }
        let misaligned = settings(&mail.replace("dkim_domain = \"example.org\"", "dkim_domain = \"other.example\"")).advice();
        assert_eq!(misaligned.len(), 1, "{misaligned:#?}");
        assert!(misaligned[0].contains("does not align"), "{misaligned:#?}");
    }
}
