//! Text hygiene shared by every room: Unicode NFC, removal of characters that
//! XML 1.0 forbids, whitespace folding for one-line fields, slugs, and the
//! byte-order marks of files people save from Windows tools.
//!
//! Everything that ends up in a feed, a page or a mail passes through here
//! first, so the renderers can trust that their strings are clean.

use unicode_normalization::UnicodeNormalization;

/// True for characters that must never reach a feed or a mail: the ones
/// XML 1.0 forbids (C0 controls other than tab/LF/CR, U+FFFE, U+FFFF) and
/// the C1 controls, which XML allows but no reader shows sensibly.
pub fn is_forbidden(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}'
        | '\u{7F}'..='\u{9F}' | '\u{FFFE}' | '\u{FFFF}')
}

/// Drops forbidden characters and NFC-normalises `s`. Line breaks are kept
/// (CRLF and lone CR become LF).
pub fn clean(s: &str) -> String {
    // Nearly all text is already clean NFC, and this runs over every byte
    // of the store at start-up: one cheap pass decides whether anything
    // needs doing at all.
    let (mut dirty, mut unsure) = (false, false);
    for c in s.chars() {
        if c < ' ' {
            dirty |= c != '\t' && c != '\n';
        } else if c >= '\u{7F}' && !surely_nfc(c) {
            dirty |= is_forbidden(c);
            unsure = true;
        }
    }
    if !dirty && !unsure {
        return s.to_owned();
    }
    // Forbidden characters go first: removed from already-normalised text,
    // one could leave a letter and a combining mark side by side, uncomposed.
    let kept: std::borrow::Cow<str> = if dirty {
        s.chars().filter(|c| !is_forbidden(*c)).collect::<String>().into()
    } else {
        s.into()
    };
    let mut out = if unicode_normalization::is_nfc_quick(kept.chars()) == unicode_normalization::IsNormalized::Yes {
        kept.into_owned()
    } else {
        kept.nfc().collect()
    };
    // CRLF and lone CR become LF so every consumer sees one line-break style.
    if out.contains('\r') {
        out = out.replace("\r\n", "\n").replace('\r', "\n");
    }
    out
}

/// Characters that are NFC whatever surrounds them and allowed in XML:
/// Latin-1 letters and Latin Extended A/B (past the C1 controls, before the
/// combining marks at U+0300), Latin Extended Additional (Vietnamese: ạ ế ữ)
/// and general punctuation (dashes, curly quotes, ellipsis).
fn surely_nfc(c: char) -> bool {
    matches!(c, '\u{A0}'..='\u{2FF}' | '\u{1E00}'..='\u{1EFF}' | '\u{2010}'..='\u{2027}')
}

/// Like [`clean`], then folds every run of white space (including line
/// breaks) into one space and trims: for titles, names and other one-line
/// fields, which must never carry a line break into a mail header.
pub fn clean_line(s: &str) -> String {
    let cleaned = clean(s);
    let mut out = String::with_capacity(cleaned.len());
    for word in cleaned.split(|c: char| c.is_whitespace()) {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// An ASCII slug: diacritics dropped (Vietnamese `đ` → `d`), lower case,
/// runs of anything else folded to one `-`, at most `max` bytes, cut at a
/// word boundary. May be empty when the input has no letters or digits.
pub fn slugify(s: &str) -> String {
    const MAX: usize = 80;
    // A front matter's `slug` is nearly always one already.
    if s.len() <= MAX && is_plain_slug(s) {
        return s.to_owned();
    }
    let ascii = deunicode::deunicode_with_tofu(&clean(s), "-");
    let mut slug = String::with_capacity(ascii.len());
    for c in ascii.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    while slug.ends_with('-') {
        slug.pop();
    }
    if slug.len() > MAX {
        let cut = slug[..MAX].rfind('-').unwrap_or(MAX);
        slug.truncate(cut);
    }
    slug
}

/// Whether `s` is what [`slugify`] makes of itself, length aside: `a-z`
/// and `0-9` words joined by single `-`.
pub fn is_plain_slug(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
        && !s.contains("--")
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

/// The first `max_chars` characters of `s`, cut at a word boundary, with an
/// ellipsis when something was cut.
pub fn excerpt(s: &str, max_chars: usize) -> String {
    let folded = clean_line(s);
    if folded.chars().count() <= max_chars {
        return folded;
    }
    let cut: String = folded.chars().take(max_chars).collect();
    let end = cut.rfind(' ').unwrap_or(cut.len());
    format!("{}…", cut[..end].trim_end_matches([',', ';', ':', ' ']))
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// True when `bytes` start with a UTF-16 byte-order mark (either order):
/// what Windows tools save as "Unicode" or "Unicode Text".
pub fn starts_utf16(bytes: &[u8]) -> bool {
    utf16_order(bytes).is_some()
}

/// How the code units of `bytes` are read, by their UTF-16 byte-order
/// mark; `None` without one.
fn utf16_order(bytes: &[u8]) -> Option<fn([u8; 2]) -> u16> {
    match bytes {
        [0xFF, 0xFE, ..] => Some(u16::from_le_bytes),
        [0xFE, 0xFF, ..] => Some(u16::from_be_bytes),
        _ => None,
    }
}

/// Why a file that says it is UTF-16 cannot be read as such.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Utf16Error {
    #[error("UTF-16 text (it starts with a UTF-16 byte-order mark) that ends in half a character")]
    OddLength,
    #[error("UTF-16 text (it starts with a UTF-16 byte-order mark) with a broken character (unpaired surrogate {0:#06x})")]
    Surrogate(u16),
}

/// A text file's bytes as UTF-8, without a byte-order mark: UTF-16 (read
/// by its mark, either order) decoded, a UTF-8 mark dropped, anything else
/// as it is (for the caller's UTF-8 check). For files people export from
/// spreadsheets: Excel's "Unicode Text" is UTF-16, its "CSV UTF-8" has the
/// UTF-8 mark.
pub fn unmarked_utf8(bytes: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, Utf16Error> {
    use std::borrow::Cow;
    let Some(unit) = utf16_order(bytes) else {
        return Ok(Cow::Borrowed(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)));
    };
    if !bytes.len().is_multiple_of(2) {
        return Err(Utf16Error::OddLength);
    }
    let units = bytes[2..].chunks_exact(2).map(|pair| unit([pair[0], pair[1]]));
    let mut text = String::with_capacity(bytes.len());
    for c in char::decode_utf16(units) {
        text.push(c.map_err(|e| Utf16Error::Surrogate(e.unpaired_surrogate()))?);
    }
    Ok(Cow::Owned(text.into_bytes()))
}

/// The text of a file in Windows-1258, the code page of a Vietnamese
/// Windows, as NFC: what Excel saves as plain "CSV" there (not UTF-8).
/// Its tone marks are combining characters after the letter, so the
/// decoded text is composed, as any text bantin keeps. Every byte means
/// a character: never an error, so the caller says it guessed.
pub fn from_windows_1258(bytes: &[u8]) -> String {
    encoding_rs::WINDOWS_1258.decode_without_bom_handling(bytes).0.nfc().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vietnamese as Excel saves it on a Vietnamese Windows: base letters
    /// with their own code (ê 0xEA, đ 0xF0, ư 0xFD), tone marks combining
    /// (acute 0xEC, hook 0xD2, dot below 0xF2).
    #[test]
    fn windows_1258_reads_as_composed_vietnamese() {
        let bytes = b"\xD0i\xF2a chi\xD2 email;Kinh t\xEA\xEC;Ch\xFD\xF2c";
        assert_eq!(from_windows_1258(bytes), "Địa chỉ email;Kinh tế;Chực");
    }

    proptest::proptest! {
        /// Any text saved as UTF-16 of either order reads back as itself,
        /// and any bytes at all give text or an error, never a panic.
        #[test]
        fn any_utf16_text_reads_back_and_any_bytes_are_safe(text in "\\PC*", junk in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let marked: String = std::iter::once('\u{FEFF}').chain(text.chars()).collect();
            for unit in [u16::to_le_bytes, u16::to_be_bytes] {
                let bytes: Vec<u8> = marked.encode_utf16().flat_map(unit).collect();
                let read = unmarked_utf8(&bytes).unwrap();
                proptest::prop_assert_eq!(read.as_ref(), text.as_bytes());
            }
            for mark in [&[0xFF_u8, 0xFE][..], &[0xFE, 0xFF], &[0xEF, 0xBB, 0xBF], &[]] {
                let bytes = [mark, &junk[..]].concat();
                let _ = unmarked_utf8(&bytes);
            }
        }
    }

    #[test]
    fn utf16_of_either_order_is_decoded_and_marks_are_dropped() {
        let text = "email\tchủ đề\r\nan@bưuđiện.vn\t😀\r\n";
        let le: Vec<u8> = "\u{FEFF}".chars().chain(text.chars()).collect::<String>().encode_utf16().flat_map(u16::to_le_bytes).collect();
        let be: Vec<u8> = "\u{FEFF}".chars().chain(text.chars()).collect::<String>().encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert!(starts_utf16(&le) && starts_utf16(&be));
        assert_eq!(unmarked_utf8(&le).unwrap().as_ref(), text.as_bytes());
        assert_eq!(unmarked_utf8(&be).unwrap().as_ref(), text.as_bytes());
        assert_eq!(unmarked_utf8(b"\xEF\xBB\xBFemail").unwrap().as_ref(), b"email");
        assert_eq!(unmarked_utf8(b"email\xFF").unwrap().as_ref(), b"email\xFF", "not UTF-8: left to the caller");
        assert_eq!(unmarked_utf8(&le[..le.len() - 1]), Err(Utf16Error::OddLength));
        let lone: Vec<u8> = [0xFEFF_u16, 0x61, 0xD83D, 0x61].into_iter().flat_map(u16::to_le_bytes).collect();
        assert_eq!(unmarked_utf8(&lone), Err(Utf16Error::Surrogate(0xD83D)));
    }

    #[test]
    fn vietnamese_title_slug_drops_diacritics() {
        assert_eq!(
            slugify("Nghĩa Lộ: Hiệu quả từ những quyết sách lớn"),
            "nghia-lo-hieu-qua-tu-nhung-quyet-sach-lon"
        );
        assert_eq!(slugify("Đường đến Đà Lạt"), "duong-den-da-lat");
        assert_eq!(slugify("Tin tức - Sự kiện"), "tin-tuc-su-kien");
    }

    /// `slugify` without its shortcut for text that is a slug already.
    fn slugify_the_long_way(s: &str) -> String {
        slugify(&format!("{s} ."))
    }

    proptest::proptest! {
        #[test]
        fn a_plain_slug_is_its_own_slug(s in "[a-z0-9-]{0,90}|[a-zA-Z0-9 đ-]{0,12}") {
            proptest::prop_assert_eq!(slugify(&s), slugify_the_long_way(&s));
            if is_plain_slug(&s) && s.len() <= 80 {
                proptest::prop_assert_eq!(slugify(&s), s);
            }
        }
    }

    #[test]
    fn nfd_and_nfc_give_the_same_slug() {
        let nfc = "Văn hóa - Xã hội";
        let nfd: String = nfc.nfd().collect();
        assert_ne!(nfc, nfd);
        assert_eq!(slugify(&nfd), slugify(nfc));
        assert_eq!(clean(&nfd), nfc);
    }

    #[test]
    fn slug_is_cut_at_a_word_boundary() {
        let long = "một hai ba bốn năm sáu bảy tám chín mười ".repeat(5);
        let slug = slugify(&long);
        assert!(slug.len() <= 80, "{slug}");
        assert!(!slug.ends_with('-'));
        assert!(long.starts_with("một") && slug.starts_with("mot-hai-ba"));
    }

    #[test]
    fn forbidden_characters_are_removed() {
        assert_eq!(clean("a\u{8}b\u{B}c\u{C}d\u{1B}[0m\u{FFFE}e\u{0}"), "abcd[0me");
        assert_eq!(clean("tab\tand\nline"), "tab\tand\nline");
        assert_eq!(clean("crlf\r\nline\rend"), "crlf\nline\nend");
    }

    #[test]
    fn text_is_nfc_after_forbidden_characters_are_removed() {
        // e + U+0008 + combining acute: the control kept the two apart.
        assert_eq!(clean("e\u{8}\u{301}"), "\u{e9}");
        // Two combining marks in canonical order only once the control is gone.
        assert_eq!(clean("a\u{316}\u{8}\u{334}"), "a\u{334}\u{316}");
    }

    #[test]
    fn one_line_fields_fold_white_space() {
        assert_eq!(clean_line("  Tiêu đề\r\n  hai\tdòng \u{8} "), "Tiêu đề hai dòng");
    }

    #[test]
    fn excerpt_cuts_on_words() {
        assert_eq!(excerpt("một hai ba bốn", 9), "một hai…");
        assert_eq!(excerpt("ngắn", 9), "ngắn");
    }
}
