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
/// (the local part is left as written, as its owner gave it; the state
/// holds one subscriber per address in any case), and
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
    let domain = normalize_domain(domain)?;
    Ok(format!("{local}@{domain}"))
}

/// A domain as UTS 46 reads it (what browsers and mail clients do): case,
/// width and compatibility forms folded, `xn--` labels decoded, letters
/// and digits of any script, hyphens inside labels, labels of at most 63
/// bytes once in ASCII, and at least one dot. Given in its Unicode form,
/// so `an@xn--v-gxm.vn` and `an@vị.vn` are one subscriber; [`smtp_address`]
/// gives the ASCII form back for the relay.
fn normalize_domain(domain: &str) -> Result<String, AddressError> {
    let bad = || AddressError::Domain(domain.to_lowercase());
    let ascii = idna::uts46::Uts46::new()
        .to_ascii(domain.as_bytes(), idna::uts46::AsciiDenyList::STD3, idna::uts46::Hyphens::CheckFirstLast, idna::uts46::DnsLength::Verify)
        .map_err(|_| bad())?;
    if !ascii.contains('.') {
        return Err(bad());
    }
    let (unicode, decoded) = idna::domain_to_unicode(&ascii);
    decoded.map_err(|_| bad())?;
    Ok(unicode)
}

/// An address as it goes to the relay (envelope and `To:`): with an ASCII
/// local part, the domain in its ASCII (`xn--`) form, which every relay
/// takes; only a non-ASCII local part needs the relay's SMTPUTF8 (RFC 6531).
/// Anything else is given back as it is, for the relay to judge.
pub fn smtp_address(address: &str) -> std::borrow::Cow<'_, str> {
    match address.rsplit_once('@') {
        Some((local, domain)) if local.is_ascii() && !domain.is_ascii() => match idna::domain_to_ascii_cow(domain.as_bytes(), idna::AsciiDenyList::STD3) {
            Ok(ascii) => format!("{local}@{ascii}").into(),
            Err(_) => address.into(),
        },
        _ => address.into(),
    }
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
    /// The [`TRAP_FIELD`] had a value: a program filled in the form.
    pub trapped: bool,
}

/// The sign-up form's field that people never see (`templates/index.html`
/// hides it off-screen, out of the tab order and from screen readers) and
/// programs that fill in every field do. Not autofilled: no browser or
/// password manager has a kind of value for a "homepage". A form without
/// it (a site's own) is a person's.
pub const TRAP_FIELD: &str = "homepage";

/// Reads a form body; any bytes give a `Form` (unknown fields are ignored).
pub fn parse_form(body: &[u8]) -> Form {
    let mut f = Form { email: String::new(), topics: Vec::new(), frequency: None, trapped: false };
    for (k, v) in url::form_urlencoded::parse(body) {
        match k.as_ref() {
            "email" => f.email = v.into_owned(),
            "topics" => f.topics.extend(v.split(',').map(|t| t.trim().to_string()).filter(|t| !t.is_empty())),
            "frequency" => f.frequency = Some(v.into_owned()),
            TRAP_FIELD => f.trapped |= !v.trim().is_empty(),
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

    #[test]
    fn the_hidden_field_with_a_value_marks_the_form_as_a_programs() {
        for (body, trapped) in [
            ("email=a%40b.vn", false),
            ("email=a%40b.vn&homepage=", false),
            ("email=a%40b.vn&homepage=+%0A", false),
            ("email=a%40b.vn&homepage=x", true),
            ("homepage=http%3A%2F%2Fx.example&email=a%40b.vn&homepage=", true),
        ] {
            let form = parse_form(body.as_bytes());
            assert_eq!((form.trapped, form.email.as_str()), (trapped, "a@b.vn"), "{body}");
        }
    }

    /// An internationalised domain is one subscriber whichever way it is
    /// written: its `xn--` form, capitals, full-width letters or an
    /// ideographic full stop all give the Unicode form.
    #[test]
    fn an_idn_domain_is_kept_in_one_unicode_form() {
        for written in ["an@vị.vn", "an@xn--v-gxm.vn", "an@XN--V-GXM.VN", "an@VỊ.VN", "an@ｖị。vn"] {
            assert_eq!(normalize_address(written), Ok("an@vị.vn".into()), "{written}");
        }
        assert_eq!(normalize_address("an@bưuđiện.vn"), Ok("an@bưuđiện.vn".into()));
        for bad in ["an@xn--zz.vn", "an@v_ị.vn", "an@ị-.vn", "an@vị", &format!("an@{}ị.vn", "a".repeat(60))] {
            assert!(matches!(normalize_address(bad), Err(AddressError::Domain(_))), "{bad:?} was accepted");
        }
    }

    /// Regression: `an@bưuđiện.vn` failed for good on a relay without
    /// SMTPUTF8 ("needs SMTPUTF8"), though its `xn--` form reaches the same
    /// mailbox through any relay.
    #[test]
    fn an_idn_domain_goes_to_the_relay_in_ascii_unless_the_local_part_needs_utf8() {
        assert_eq!(smtp_address("an@bưuđiện.vn"), "an@xn--buin-1ua66gr30m.vn");
        assert_eq!(smtp_address("an@example.org"), "an@example.org");
        assert_eq!(smtp_address("nguyễn@vị.vn"), "nguyễn@vị.vn", "SMTPUTF8 or nothing");
        assert_eq!(smtp_address("not an address"), "not an address");
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
