//! The header-like field blocks of a report part (RFC 3464 section 2.1,
//! RFC 5965 section 3): `Name: value` lines, folded values continued on
//! lines that start with white space, blocks separated by blank lines. And
//! the value forms they share: `type; address`, enhanced status codes
//! (RFC 3463), message ids. Every value leaves here cleaned to one line and
//! bounded, whatever the sender wrote.

use super::{MAX_FIELD, Status};
use crate::text;

/// One block: its fields in order, names as written.
pub(super) type Block = Vec<(String, String)>;

/// Most fields a block keeps, and most bytes an unfolded value keeps: far
/// above any real report, low enough that a hostile one stays small.
const MAX_FIELDS: usize = 64;
const MAX_VALUE: usize = 4096;

/// The blocks of `text`, at most `max_blocks`. Lines that are neither a
/// field nor a continuation are skipped: some MTAs add free text.
pub(super) fn blocks(text: &str, max_blocks: usize) -> Vec<Block> {
    let mut out = Vec::new();
    let mut cur: Block = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
                if out.len() >= max_blocks {
                    return out;
                }
            }
        } else if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = cur.last_mut()
                && value.len() < MAX_VALUE
            {
                value.push(' ');
                push_bounded(value, line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':')
            && is_field_name(name)
            && cur.len() < MAX_FIELDS
        {
            let mut v = String::new();
            push_bounded(&mut v, value.trim());
            cur.push((name.to_owned(), v));
        }
    }
    if !cur.is_empty() && out.len() < max_blocks {
        out.push(cur);
    }
    out
}

fn push_bounded(into: &mut String, s: &str) {
    let room = MAX_VALUE.saturating_sub(into.len());
    let mut end = s.len().min(room);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    into.push_str(&s[..end]);
}

/// RFC 5322's field name: printable ASCII but the colon, no space.
fn is_field_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 76 && name.bytes().all(|b| (33..=126).contains(&b))
}

/// The first value of field `name` (case-insensitive) in `block`.
pub(super) fn get<'b>(block: &'b Block, name: &str) -> Option<&'b str> {
    block.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// `rfc822; user@host` (RFC 3464's address-type; value): the address, if
/// the type is one that names a mail address (`rfc822`, RFC 6533's
/// `utf-8`) or missing, as some MTAs write it.
pub(super) fn typed_address(value: &str) -> Option<String> {
    let addr = match value.split_once(';') {
        Some((kind, addr)) => {
            let kind = kind.trim();
            if !(kind.eq_ignore_ascii_case("rfc822") || kind.eq_ignore_ascii_case("utf-8")) {
                return None;
            }
            addr
        }
        None => value,
    };
    address(addr)
}

/// A bare mail address out of `a@b`, `<a@b>` or `Name <a@b>`: cleaned, one
/// word with an `@` and no more than [`MAX_FIELD`] characters, or nothing.
pub(super) fn address(value: &str) -> Option<String> {
    let inner = match (value.rfind('<'), value.rfind('>')) {
        (Some(open), Some(close)) if open < close => &value[open + 1..close],
        _ => value,
    };
    let a = text::clean_line(inner);
    let ok = !a.is_empty()
        && a.len() <= MAX_FIELD
        && !a.contains([' ', '<', '>', '"', ','])
        && a.rfind('@').is_some_and(|at| at > 0 && at + 1 < a.len());
    ok.then_some(a)
}

/// A Message-ID without its angle brackets, or nothing if it is not one.
pub(super) fn message_id(value: &str) -> Option<String> {
    let id = text::clean_line(value.trim().trim_start_matches('<').trim_end_matches('>'));
    let ok = !id.is_empty() && id.len() <= MAX_FIELD && !id.contains([' ', '<', '>']);
    ok.then_some(id)
}

/// An enhanced status code `class.subject.detail` (RFC 3463: class 2, 4
/// or 5, then one to three digits each), from the start of `value` (a
/// comment may follow).
pub(super) fn status(value: &str) -> Option<Status> {
    let code = value.trim().split(|c: char| c.is_whitespace() || c == '(').next()?;
    let mut parts = code.split('.');
    let (class, subject, detail) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let class: u8 = digits(class, 1)?.try_into().ok()?;
    if !matches!(class, 2 | 4 | 5) {
        return None;
    }
    Some(Status { class, subject: digits(subject, 3)?, detail: digits(detail, 3)? })
}

fn digits(s: &str, max: usize) -> Option<u16> {
    (!s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
}

/// `smtp; 550 5.1.1 …` (diagnostic-type; text): the text, on one line,
/// at most [`super::MAX_DIAGNOSTIC`] characters ([`super::reason_line`]).
pub(super) fn diagnostic(value: &str) -> Option<String> {
    let text = match value.split_once(';') {
        Some((kind, rest)) if is_type(kind.trim()) => rest,
        _ => value,
    };
    let line = super::reason_line(text);
    (!line.is_empty()).then_some(line)
}

/// A diagnostic or address type: `smtp`, `X-Postfix`, `rfc822`.
fn is_type(s: &str) -> bool {
    !s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// `s` cut to `max` characters, with an ellipsis when cut.
pub(super) fn bounded(s: &str, max: usize) -> String {
    if s.chars().nth(max).is_none() {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_unfold_and_split_on_blank_lines() {
        let text = "Reporting-MTA: dns; a.example\r\n\r\nFinal-Recipient: rfc822;\r\n  x@b.example\r\nAction: failed\r\n \r\nnot a field\r\nStatus: 5.1.1\r\n";
        let b = blocks(text, 10);
        assert_eq!(b.len(), 3);
        assert_eq!(get(&b[1], "final-recipient"), Some("rfc822; x@b.example"));
        assert_eq!(get(&b[2], "STATUS"), Some("5.1.1"));
        assert_eq!(blocks(text, 1).len(), 1);
    }

    #[test]
    fn values_are_read_by_their_rfcs() {
        assert_eq!(typed_address("rfc822; <User@B.example>").as_deref(), Some("User@B.example"));
        assert_eq!(typed_address("x400; c=us"), None);
        assert_eq!(typed_address("user@b.example").as_deref(), Some("user@b.example"));
        assert_eq!(typed_address("rfc822; not an address"), None);
        assert_eq!(status("5.1.10 (recipient not found)"), Some(Status { class: 5, subject: 1, detail: 10 }));
        assert_eq!(status("3.1.1"), None);
        assert_eq!(status("5.1"), None);
        assert_eq!(status("5.1.1.1"), None);
        assert_eq!(status("5.1.1234"), None);
        assert_eq!(diagnostic("smtp; 550 5.1.1  user\tunknown").as_deref(), Some("550 5.1.1 user unknown"));
        assert_eq!(diagnostic("550 no; such user").as_deref(), Some("550 no; such user"));
        assert_eq!(message_id(" <abc.1@x.example> ").as_deref(), Some("abc.1@x.example"));
        assert_eq!(bounded("abcdef", 3), "ab…");
        assert_eq!(bounded("abc", 3), "abc");
        assert_eq!(bounded("", 3), "");
    }
}
