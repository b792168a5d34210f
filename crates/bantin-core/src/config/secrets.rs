//! Keeping the configuration's secrets out of messages and logs: the
//! password of a URL ([`redact`]) and the value of a secret key quoted by a
//! TOML parse error ([`scrub_quoted_source`]).
//!
//! Neither trusts a URL parser: `postgres://u:p@ss/w#rd@host/db` parses
//! (user `u`, password `p`, host `ss`, fragment `rd@host/db`), and a
//! redaction of what the parser saw as the password printed the rest of
//! it. So the user information is taken by position (everything between
//! the scheme and the last `@`), whatever the URL's shape or validity.

/// What stands for a hidden value.
const HIDDEN: &str = "***";

/// The URL (or anything given as one) with its password hidden, for
/// messages and logs: everything between the scheme and the last `@` but
/// a plain user name, and the value of every query parameter whose name
/// says it is secret (`password=`, `sslpassword=`, `secret`, `token`), up
/// to the next `&` (a `#` or `@` inside it included). The two are found
/// apart on the text as written and hidden together, so neither can show
/// a piece of the other. Works on text that is not a URL at all; it only
/// ever removes.
pub fn redact(url: &str) -> String {
    let mut hidden: Vec<(usize, usize)> = Vec::new();
    let start = scheme_end(url);
    if let Some(at) = url[start..].rfind('@').map(|i| start + i) {
        let userinfo = &url[start..at];
        match userinfo.split_once(':') {
            Some((user, _)) if plain_user(user) => hidden.push((start + user.len() + 1, at)),
            None if plain_user(userinfo) => {}
            _ => hidden.push((start, at)),
        }
    }
    for (i, _) in url.match_indices(['?', '&']) {
        let rest = &url[i + 1..];
        let Some(eq) = rest.find(['=', '&', '?']).filter(|&e| rest[e..].starts_with('=')) else { continue };
        if secret_name(&rest[..eq]) {
            let value = i + 1 + eq + 1;
            hidden.push((value, url[value..].find('&').map_or(url.len(), |e| value + e)));
        }
    }
    hidden.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(hidden.len());
    for (from, to) in hidden {
        match merged.last_mut() {
            Some(last) if from <= last.1 => last.1 = last.1.max(to),
            _ => merged.push((from, to)),
        }
    }
    let mut out = String::with_capacity(url.len());
    let mut shown = 0;
    for (from, to) in merged {
        out.push_str(&url[shown..from]);
        out.push_str(HIDDEN);
        shown = to;
    }
    out.push_str(&url[shown..]);
    out
}

/// Where what follows `scheme://` starts (0 without one: `sqlite:x.db`
/// and `user:password@host` look alike, and the second must be hidden).
fn scheme_end(url: &str) -> usize {
    let name = url.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))).unwrap_or(url.len());
    if name > 0 && url.starts_with(|c: char| c.is_ascii_alphabetic()) && url[name..].starts_with("://") {
        name + 3
    } else {
        0
    }
}

/// A user name as URLs carry it: nothing that delimits another part.
fn plain_user(user: &str) -> bool {
    !user.chars().any(|c| matches!(c, '/' | '?' | '#' | '@' | ':' | '"' | '\\') || c.is_whitespace() || c.is_control())
}

/// Whether a key (of a query, or of the config file) names a secret.
fn secret_name(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["password", "passwd", "secret", "token"].iter().any(|w| key.contains(w)) || matches!(key.as_str(), "pass" | "pwd")
}

/// Whether a config key's value may hold a secret: a URL (`url`, `*_url`,
/// `websub_hub`, which may carry a password) or a key named for a secret.
fn secret_key(key: &str) -> bool {
    let key = key.trim().trim_matches(['"', '\'']).rsplit('.').next().unwrap_or_default().trim().trim_matches(['"', '\'']);
    let key = key.to_ascii_lowercase();
    key == "url" || key.ends_with("_url") || key.ends_with("_hub") || secret_name(&key)
}

/// A TOML parse error's text with the value of every quoted source line
/// (`12 | key = value`) that may hold a secret replaced: a line whose key
/// may hold one ([`secret_key`]), whose value looks like a URL with a user
/// or names a secret, or which is not a `key = value` line at all (a line
/// inside a multi-line string). Section headers are kept.
pub fn scrub_quoted_source(text: &str) -> String {
    let lines: Vec<String> = text.lines().map(scrub_line).collect();
    let mut out = lines.join("\n");
    if text.ends_with('\n') {
        out.push('\n');
    }
    out
}

fn scrub_line(line: &str) -> String {
    // The quoted source: optional spaces, a line number, " | ", the text.
    let Some((number, source)) = line.split_once(" | ") else { return line.to_string() };
    if number.trim().is_empty() || !number.trim().chars().all(|c| c.is_ascii_digit()) {
        return line.to_string();
    }
    let trimmed = source.trim_start();
    if trimmed.is_empty() || trimmed.starts_with('[') && !trimmed.contains('=') {
        return line.to_string();
    }
    match source.split_once('=') {
        Some((key, value)) if !secret_key(key) && !value.contains('@') && !secret_name(value) && !key.contains('{') => {
            line.to_string()
        }
        Some((key, _)) => format!("{number} | {key}= (value hidden: it may hold a password)"),
        None => format!("{number} | (line hidden: it may hold a password)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("smtp://u:secret@host:25"), "smtp://u:***@host:25");
        assert_eq!(redact("postgres://bantin:secret@db/bantin?sslmode=require"), "postgres://bantin:***@db/bantin?sslmode=require");
        assert_eq!(
            redact("postgres://bantin@db/bantin?password=secret&sslmode=require"),
            "postgres://bantin@db/bantin?password=***&sslmode=require"
        );
        assert_eq!(redact("sqlite://var/bantin.db"), "sqlite://var/bantin.db");
        assert_eq!(redact("smtp://127.0.0.1:25"), "smtp://127.0.0.1:25");
        assert_eq!(redact("smtp://relay@example.org@host"), "smtp://***@host");
    }

    /// The URLs of issue 19: the parser sees a password that ends early,
    /// and the rest of it was printed as the path or the fragment.
    #[test]
    fn unparsable_and_misparsed_urls_show_no_password() {
        for (url, shown) in [
            ("postgres://u:p@ss/w#rd@host/db", "postgres://u:***@host/db"),
            ("postgres://u:p/ss@host/db", "postgres://u:***@host/db"),
            ("postgres://u:p?ss@host/db", "postgres://u:***@host/db"),
            ("postgres://u:p\"ss@host/db", "postgres://u:***@host/db"),
            ("mysql://u:pw#1@host/db", "mysql://u:***@host/db"),
            ("smtp//u:pw@host", "***@host"),
            ("u:pw@host", "u:***@host"),
            ("postgres:bantin:pw@host", "postgres:***@host"),
            ("postgres://host/db?password=p@w&x=1", "postgres://***&x=1"),
            ("postgres://host/db?PassWord=p&sslpassword=q", "postgres://host/db?PassWord=***&sslpassword=***"),
            ("smtps://u:p w@[::1:465", "smtps://u:***@[::1:465"),
            ("postgres://host/db?password=p#w&x=1", "postgres://host/db?password=***&x=1"),
        ] {
            assert_eq!(redact(url), shown, "{url}");
        }
    }

    fn password() -> impl Strategy<Value = String> {
        // A marker no template holds, then any of the characters that
        // delimit parts of a URL (and some that do not).
        proptest::collection::vec(prop::sample::select(vec!['/', '#', '?', '"', '@', ':', '%', ' ', '=', 'a', 'Z', '9', 'ệ', '\\']), 0..12)
            .prop_map(|tail| format!("Pw{}", tail.into_iter().collect::<String>()))
    }

    proptest! {
        #[test]
        fn no_password_in_the_user_information_survives(p in password(), scheme in prop::sample::select(vec!["postgres", "postgresql", "smtp", "smtps", "sqlite", "mysql", "http"])) {
            for url in [
                format!("{scheme}://bantin:{p}@db.example.org/bantin"),
                format!("{scheme}://bantin:{p}@db.example.org:5432/bantin?sslmode=require"),
                format!("{scheme}://bantin:{p}@[::1]:25"),
                format!("{scheme}:bantin:{p}@host"),
                format!("bantin:{p}@host"),
            ] {
                let shown = redact(&url);
                for piece in p.split(|c: char| !c.is_alphanumeric()).filter(|piece| piece.len() > 1) {
                    prop_assert!(!shown.contains(piece), "{url} -> {shown}");
                }
                prop_assert!(shown.contains("***"), "{url} -> {shown}");
            }
        }

        /// In a query a raw `&` ends the value, for every URL reader; the
        /// other characters stay inside it.
        #[test]
        fn no_password_in_the_query_survives(p in password().prop_filter("no &", |p| !p.contains('&'))) {
            let url = format!("postgres://bantin@db/bantin?sslmode=require&password={p}&application_name=x");
            let shown = redact(&url);
            for piece in p.split(|c: char| !c.is_alphanumeric()).filter(|piece| piece.len() > 1) {
                prop_assert!(!shown.contains(piece), "{url} -> {shown}");
            }
            // An `@` in it makes everything before it user information.
            prop_assert!(p.contains('@') || shown.contains("sslmode=require"), "{shown}");
        }

        #[test]
        fn redaction_never_panics_and_only_removes(s in ".{0,40}") {
            let shown = redact(&s);
            prop_assert!(!s.contains('@') || shown.contains('@'));
        }
    }

    #[test]
    fn quoted_source_lines_of_secret_keys_are_hidden() {
        let error = "TOML parse error at line 3, column 22\n  |\n3 | url = \"postgres://u:p\"ss@host/db\"\n  |                      ^\ninvalid table\n";
        let scrubbed = scrub_quoted_source(error);
        assert!(!scrubbed.contains("p\"ss") && scrubbed.contains("3 | url = (value hidden"), "{scrubbed}");
        assert!(scrubbed.starts_with("TOML parse error at line 3") && scrubbed.ends_with("invalid table\n"), "{scrubbed}");
        for line in [
            "7 | smtp_url = \"smtp://u:x#y@h\"",
            "7 | password = \"x\"",
            "7 | state.url = \"x\"",
            "7 | \"websub_hub\" = 'x'",
            "7 | state = { url = \"postgres://u:x@h\" }",
            "7 | title = \"postgres://u:pw@h\"",
            "7 | pw continued inside a multi-line string",
        ] {
            let scrubbed = scrub_quoted_source(line);
            assert!(scrubbed.contains("hidden") && !scrubbed.contains("x\"") && !scrubbed.contains("pw"), "{line} -> {scrubbed}");
        }
        for kept in ["7 | title = \"Bản tin\"", "7 | [state", "  |", "TOML parse error at line 7, column 1"] {
            assert_eq!(scrub_quoted_source(kept), kept);
        }
    }
}
