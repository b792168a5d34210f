//! Pure HTTP decisions on request headers: which stored encoding to send
//! (`Accept-Encoding`), whether the client's copy is current
//! (`If-None-Match`, `If-Modified-Since`), and whether a reader gets the
//! pages in English (`?lang=`, `Accept-Language`). No I/O; unit-tested here.

use crate::cache::{Encoding, Entry};
use std::time::SystemTime;

/// Picks the encoding from an `Accept-Encoding` value (RFC 9110 §12.5.3):
/// the highest q wins, ties go to br, then gzip, then identity; `q=0`
/// refuses a coding; `*` stands for codings not named. No header at all
/// means identity. When everything is refused, identity is sent anyway
/// (the RFC allows it and a feed reader is better served than with a 406).
pub fn encoding(accept: Option<&str>) -> Encoding {
    let Some(accept) = accept else { return Encoding::Identity };
    let (mut br, mut gzip, mut identity, mut star) = (None, None, None, None);
    for part in accept.split(',') {
        let mut fields = part.split(';');
        // Compared case-insensitively in place: this runs on every request,
        // and a lowercased copy was the hot path's only string allocation.
        let coding = fields.next().unwrap_or("").trim();
        let mut q = 1.0f32;
        for param in fields {
            if let Some((k, v)) = param.split_once('=')
                && k.trim().eq_ignore_ascii_case("q")
            {
                q = v.trim().parse().unwrap_or(0.0);
            }
        }
        let is = |name: &str| coding.eq_ignore_ascii_case(name);
        if is("br") {
            br = Some(q);
        } else if is("gzip") || is("x-gzip") {
            gzip = Some(q);
        } else if is("identity") {
            identity = Some(q);
        } else if coding == "*" {
            star = Some(q);
        }
    }
    let br = br.or(star).unwrap_or(0.0);
    let gzip = gzip.or(star).unwrap_or(0.0);
    // Identity is acceptable unless refused by name or by `*;q=0`.
    let identity = identity.or(star.filter(|q| *q == 0.0)).unwrap_or(0.001);
    let best = [(Encoding::Brotli, br), (Encoding::Gzip, gzip), (Encoding::Identity, identity)]
        .into_iter()
        .filter(|(_, q)| *q > 0.0)
        .fold(None::<(Encoding, f32)>, |best, (e, q)| match best {
            Some((_, bq)) if bq >= q => best,
            _ => Some((e, q)),
        });
    best.map_or(Encoding::Identity, |(e, _)| e)
}

/// Whether the client's copy is current, so the answer is 304.
/// `If-None-Match` wins over `If-Modified-Since` (RFC 9110 §13.2.2); tags
/// are compared weakly (a `W/` prefix is ignored) and any of the entry's
/// representations matches, since they all carry the same content.
pub fn not_modified(entry: &Entry, if_none_match: Option<&str>, if_modified_since: Option<&str>) -> bool {
    if let Some(inm) = if_none_match {
        return inm.split(',').map(str::trim).any(|tag| {
            tag == "*" || {
                let tag = tag.strip_prefix("W/").unwrap_or(tag);
                entry.has_tag(tag)
            }
        });
    }
    if let Some(ims) = if_modified_since
        && let Ok(since) = httpdate::parse_http_date(ims.trim())
    {
        return entry.modified_at <= since && since <= SystemTime::now();
    }
    false
}

/// Whether a reader gets the pages in English rather than Vietnamese:
/// `lang=en…` in the query says so (`lang=` anything else: Vietnamese);
/// without a `lang` parameter, the first language of `Accept-Language`
/// decides: English if it is English, else Vietnamese (the portal's
/// readers are Vietnamese first).
pub fn english(query: Option<&str>, accept_language: Option<&str>) -> bool {
    let query = query.unwrap_or("");
    if let Some((_, v)) = url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "lang") {
        return v.starts_with("en");
    }
    accept_language
        .and_then(|a| a.split(',').next())
        .is_some_and(|first| first.trim().to_ascii_lowercase().starts_with("en"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    #[test]
    fn picks_encodings() {
        assert_eq!(encoding(None), Encoding::Identity);
        assert_eq!(encoding(Some("gzip, deflate, br")), Encoding::Brotli);
        assert_eq!(encoding(Some("gzip")), Encoding::Gzip);
        assert_eq!(encoding(Some("br;q=0, gzip")), Encoding::Gzip);
        assert_eq!(encoding(Some("br;q=0.5, gzip;q=0.8")), Encoding::Gzip);
        assert_eq!(encoding(Some("*")), Encoding::Brotli);
        assert_eq!(encoding(Some("identity")), Encoding::Identity);
        assert_eq!(encoding(Some("deflate")), Encoding::Identity);
        assert_eq!(encoding(Some("gzip;q=0, br;q=0")), Encoding::Identity);
        assert_eq!(encoding(Some("*;q=0, gzip")), Encoding::Gzip);
        assert_eq!(encoding(Some("")), Encoding::Identity);
        assert_eq!(encoding(Some("GZIP")), Encoding::Gzip);
        assert_eq!(encoding(Some(" Br ;Q=1, x-gzip")), Encoding::Brotli);
    }

    #[test]
    fn conditional_requests() {
        let modified = DateTime::parse_from_rfc3339("2024-05-01T10:00:00+07:00").unwrap();
        let e = Entry::new(b"<rss/>".to_vec(), "application/rss+xml", modified);
        let strong = format!("\"{}\"", e.hash);
        assert!(not_modified(&e, Some(&strong), None));
        assert!(not_modified(&e, Some(&format!("W/{strong}")), None));
        assert!(not_modified(&e, Some(&format!("\"other\", \"{}-gz\"", e.hash)), None));
        assert!(not_modified(&e, Some("*"), None));
        assert!(!not_modified(&e, Some("\"other\""), None));
        // If-None-Match wins even when the date would match.
        assert!(!not_modified(&e, Some("\"other\""), Some("Wed, 01 May 2024 03:00:00 GMT")));
        assert!(not_modified(&e, None, Some("Wed, 01 May 2024 03:00:00 GMT")));
        assert!(!not_modified(&e, None, Some("Wed, 01 May 2024 02:59:59 GMT")));
        assert!(!not_modified(&e, None, Some("yesterday")));
    }

    #[test]
    fn english_by_the_query_then_the_first_accepted_language() {
        assert!(!english(None, None));
        assert!(english(Some("lang=en"), Some("vi")));
        assert!(!english(Some("x=1&lang=vi"), Some("en-GB")));
        assert!(english(None, Some("en-US,en;q=0.9,vi;q=0.5")));
        assert!(!english(None, Some("vi-VN,vi;q=0.9,en;q=0.8")));
        assert!(!english(Some("x=1"), Some("fr")));
    }
}
