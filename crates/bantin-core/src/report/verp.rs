//! VERP envelope senders: with `mail.return_path = "bounces@example.org"`
//! a message's envelope sender is `bounces+<token>@example.org`, so a
//! report sent back to it names the message by its address alone. The
//! token is [`crate::tokens::bounce`]'s: lower-case base32,
//! because some MTAs lower-case local parts on the way back; matching here
//! is case-insensitive for the same reason.

/// `return_path` with `+token` added to its local part; a return path
/// without `@` is taken as a bare local part.
pub fn address(return_path: &str, token: &str) -> String {
    match return_path.rsplit_once('@') {
        Some((local, domain)) => format!("{local}+{token}@{domain}"),
        None => format!("{return_path}+{token}"),
    }
}

/// The token of `address` if it is `return_path` tagged with one (local
/// part and domain compared case-insensitively, `<>` around it allowed),
/// as written: verification lower-cases it.
pub fn token_of<'a>(address: &'a str, return_path: &str) -> Option<&'a str> {
    let address = address.trim().trim_start_matches('<').trim_end_matches('>');
    let (local, domain) = address.rsplit_once('@')?;
    let (base_local, base_domain) = return_path.trim().rsplit_once('@')?;
    if !domain.eq_ignore_ascii_case(base_domain) {
        return None;
    }
    let token = strip_prefix_ignore_case(local, base_local)?.strip_prefix('+')?;
    let ok = !token.is_empty() && token.len() <= 64 && token.bytes().all(|b| b.is_ascii_alphanumeric());
    ok.then_some(token)
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &s[prefix.len()..])
}

/// Whether `address`'s local part carries a `+` tag, the only form a VERP
/// address of bantin's has.
pub(super) fn is_tagged(address: &str) -> bool {
    address.rsplit_once('@').is_some_and(|(local, _)| local.contains('+'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gives_back_its_token_whatever_the_case() {
        let a = address("bounces@example.org", "ab2cd7");
        assert_eq!(a, "bounces+ab2cd7@example.org");
        assert_eq!(token_of(&a, "bounces@example.org"), Some("ab2cd7"));
        assert_eq!(token_of("<BOUNCES+AB2CD7@Example.ORG>", "bounces@example.org"), Some("AB2CD7"));
        assert_eq!(token_of("bounces+ab2cd7@other.example", "bounces@example.org"), None);
        assert_eq!(token_of("bouncesx+ab2cd7@example.org", "bounces@example.org"), None);
        assert_eq!(token_of("bounces@example.org", "bounces@example.org"), None);
        assert_eq!(token_of("bounces+@example.org", "bounces@example.org"), None);
        assert_eq!(token_of("bounces+a.b@example.org", "bounces@example.org"), None);
        assert_eq!(token_of("bou@example.org", "bounces@example.org"), None);
        assert_eq!(token_of("bΩunces+x@example.org", "bounces@example.org"), None);
        assert_eq!(address("bounces", "t"), "bounces+t");
    }
}
