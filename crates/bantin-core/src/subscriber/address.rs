//! What a subscriber's address may be (one plain addr-spec, normalised),
//! the mailbox it reaches for counting, and the fields of the posted
//! subscription forms. Everything here reads outside input.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("is empty")]
    Empty,
    #[error("contains a line break or control character")]
    Control,
    #[error("contains white space")]
    Space,
    #[error("is not a single address of the form name@domain")]
    Shape,
    #[error("has an invalid domain {0:?}")]
    Domain(String),
    #[error("is longer than 254 characters")]
    TooLong,
}

/// Normalises a subscriber's address: trims, NFC, lower-cases the domain
/// (the local part is left as written: some servers tell case apart), and
/// accepts only one plain addr-spec: no display name, no comments, no
/// line breaks or controls (which could smuggle headers into a mail).
pub fn normalize_address(input: &str) -> Result<String, AddressError> {
    if input.chars().any(|c| c.is_control()) {
        // Before trimming: a trailing "\r\nBcc: …" must not be trimmed away
        // into acceptance.
        let trimmed = input.trim_matches([' ', '\t']);
        if trimmed.chars().any(|c| c.is_control()) {
            return Err(AddressError::Control);
        }
    }
    let s: String = crate::text::clean(input.trim());
    if s.is_empty() {
        return Err(AddressError::Empty);
    }
    if s.len() > 254 {
        return Err(AddressError::TooLong);
    }
    if s.chars().any(char::is_whitespace) {
        return Err(AddressError::Space);
    }
    let (local, domain) = s.rsplit_once('@').ok_or(AddressError::Shape)?;
    if local.is_empty() || local.len() > 64 || local.contains('@') {
        return Err(AddressError::Shape);
    }
    // A dot-atom local part: the characters RFC 5322 atext allows, plus
    // non-ASCII (RFC 6531); no quoted strings, which nobody subscribes with.
    let atext = |c: char| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii();
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") || !local.chars().all(|c| atext(c) || c == '.') {
        return Err(AddressError::Shape);
    }
    let domain = domain.to_lowercase();
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    if !domain.contains('.') || !domain.split('.').all(label_ok) {
        return Err(AddressError::Domain(domain));
    }
    Ok(format!("{local}@{domain}"))
}

/// The mailbox an address (as [`normalize_address`] gives it) reaches, for
/// counting what is sent to it: the whole address lower-cased and a
/// `+tag` cut from the local part. Most providers deliver `Victim@x`,
/// `victim@x` and `victim+1@x` to one inbox, so a limit per address as
/// written would be no limit. Only a key: the address as given is what is
/// stored and mailed. Dots are left alone (only some providers ignore them).
pub fn canonical_mailbox(address: &str) -> String {
    let (local, domain) = address.rsplit_once('@').unwrap_or((address, ""));
    let local = local.split_once('+').map_or(local, |(base, _)| base);
    format!("{local}@{domain}").to_lowercase()
}

/// The fields of an `application/x-www-form-urlencoded` body; `topics` may
/// repeat (checkboxes) or hold a comma-separated list. What `POST /subscribe`
/// and the preferences form send; fuzzed by
/// `fuzz/fuzz_targets/subscription_form.rs`.
#[derive(Debug)]
pub struct Form {
    pub email: String,
    pub topics: Vec<String>,
    pub frequency: Option<String>,
}

/// Reads a form body; any bytes give a `Form` (unknown fields are ignored).
pub fn parse_form(body: &[u8]) -> Form {
    let mut f = Form { email: String::new(), topics: Vec::new(), frequency: None };
    for (k, v) in url::form_urlencoded::parse(body) {
        match k.as_ref() {
            "email" => f.email = v.into_owned(),
            "topics" => f.topics.extend(v.split(',').map(|t| t.trim().to_string()).filter(|t| !t.is_empty())),
            "frequency" => f.frequency = Some(v.into_owned()),
            _ => {}
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_normalised() {
        assert_eq!(normalize_address("  An.Nguyen@Example.ORG "), Ok("An.Nguyen@example.org".into()));
        // NFD input becomes NFC.
        let nfd = "nguye\u{0302}\u{0303}n@vi\u{0323}.vn";
        assert_eq!(normalize_address(nfd), Ok("nguyễn@vị.vn".into()));
    }

    /// Regression (issue 19, finding 3): the per-address limit counted
    /// `Victim@…` and `victim+1@…` apart, so 12 posts put 11 mails in one
    /// inbox.
    #[test]
    fn case_and_plus_tags_reach_one_mailbox() {
        let canonical = |a: &str| canonical_mailbox(&normalize_address(a).unwrap());
        for variant in ["victim@example.org", "Victim@Example.ORG", "VICTIM+1@example.org", "victim+news+x@EXAMPLE.org"] {
            assert_eq!(canonical(variant), "victim@example.org", "{variant}");
        }
        assert_eq!(canonical("Nguyễn.Văn+A@VÍ.vn"), "nguyễn.văn@ví.vn");
        assert_eq!(canonical("v.ictim@example.org"), "v.ictim@example.org", "dots are kept");
        assert_ne!(canonical("victim@example.org"), canonical("victim@example.com"));
        assert_eq!(canonical("+x@example.org"), "@example.org", "an empty base is still one key");
        // What is stored keeps the local part as written.
        assert_eq!(normalize_address("Victim+1@Example.org").unwrap(), "Victim+1@example.org");
    }

    #[test]
    fn header_injection_in_an_address_is_refused() {
        for bad in ["a@b.vn\r\nBcc: x@y.vn", "a@b.vn\nX: y", "a\u{0}@b.vn", "a@b.vn\r"] {
            assert_eq!(normalize_address(bad), Err(AddressError::Control), "{bad:?}");
        }
    }

    #[test]
    fn only_single_addr_specs_pass() {
        for bad in [
            "",
            "plain",
            "a@b",
            "a b@c.vn",
            "Name <a@b.vn>",
            "a@b.vn, c@d.vn",
            "a@@b.vn",
            ".a@b.vn",
            "a..b@c.vn",
            "a@-b.vn",
            "\"q\"@b.vn",
            "a@b..vn",
        ] {
            assert!(normalize_address(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
