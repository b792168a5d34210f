//! The mail provider a sign-up most likely meant: `an@gmial.com` is
//! almost surely `an@gmail.com`, and its owner would wait for a
//! confirmation that went nowhere. Only a hint for the page: the sign-up
//! goes to the address as typed.

/// The providers most readers sign up with, in Vietnam and elsewhere.
const PROVIDERS: [&str; 11] = [
    "gmail.com",
    "yahoo.com",
    "yahoo.com.vn",
    "hotmail.com",
    "outlook.com",
    "outlook.com.vn",
    "live.com",
    "icloud.com",
    "msn.com",
    "proton.me",
    "protonmail.com",
];

/// Real domains one letter from a provider: never "corrected".
const NEAR_BUT_REAL: [&str; 5] = ["mail.com", "ymail.com", "cloud.com", "gmx.com", "me.com"];

/// The address `address` (as [`super::normalize_address`] gives it) most
/// likely meant, when its domain is one edit (a letter wrong, missing,
/// extra or two swapped) from exactly one provider's; `None` otherwise.
pub fn likely_meant(address: &str) -> Option<String> {
    let (local, domain) = address.rsplit_once('@')?;
    if PROVIDERS.contains(&domain) || NEAR_BUT_REAL.contains(&domain) || domain.len() < 5 {
        return None;
    }
    let mut near = PROVIDERS.iter().filter(|p| strsim::osa_distance(p, domain) == 1);
    match (near.next(), near.next()) {
        (Some(provider), None) => Some(format!("{local}@{provider}")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::likely_meant;

    #[test]
    fn a_provider_mistyped_by_one_letter_is_named() {
        for (typed, meant) in [
            ("an@gmial.com", "an@gmail.com"),
            ("an@gmai.com", "an@gmail.com"),
            ("an@gmail.con", "an@gmail.com"),
            ("an@gnail.com", "an@gmail.com"),
            ("an@yahoo.com.vm", "an@yahoo.com.vn"),
            ("an@yaho.com", "an@yahoo.com"),
            ("an@hotmial.com", "an@hotmail.com"),
            ("an@outlok.com", "an@outlook.com"),
            ("an@icloud.co", "an@icloud.com"),
        ] {
            assert_eq!(likely_meant(typed).as_deref(), Some(meant), "{typed}");
        }
    }

    #[test]
    fn real_domains_are_left_alone() {
        for real in ["an@gmail.com", "an@yahoo.com.vn", "an@mail.com", "an@ymail.com", "an@cloud.com", "an@yenbai.gov.vn", "an@vị.vn", "an@example.org", "an@gmx.de", "an@x.vn"] {
            assert_eq!(likely_meant(real), None, "{real}");
        }
        // More than one letter away: no guess.
        assert_eq!(likely_meant("an@gmail.com.vn"), None);
        assert_eq!(likely_meant("an@gamil.co"), None);
    }
}
