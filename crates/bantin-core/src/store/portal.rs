//! The portal's plain-text export (see `shared/seed/`): site chrome at the
//! top, the title, a `dd/mm/yyyy HH:MM[:SS]` line (widget text after it is
//! dropped), the lead, body paragraphs, and a closing `Theo <source>` line.

use super::raw::{Body, RawArticle};

/// Splits a portal export into its fields. Fails only when the layout is
/// not recognisable; missing title or date are left for the normaliser.
pub fn parse(text: &str) -> Result<RawArticle, (Option<usize>, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    // Chrome: blank lines, the "Welcome to …" banner, "•" menu bullets.
    while i < lines.len() && is_chrome(lines[i]) {
        i += 1;
    }
    let mut raw = RawArticle::default();
    let Some(date_at) = (i..lines.len()).find(|&j| date_prefix(lines[j]).is_some()) else {
        return Err((None, "no publication line: a portal export has a line starting `dd/mm/yyyy HH:MM` after its title".into()));
    };
    // Everything between the chrome and the date line: the title first,
    // then any sub-heading lines, which belong to the body.
    let head: Vec<&str> = lines[i..date_at].iter().map(|l| l.trim()).filter(|l| !l.is_empty()).collect();
    let mut paras: Vec<String> = Vec::new();
    if let Some((title, rest)) = head.split_first() {
        raw.title = Some(title.to_string());
        paras.extend(rest.iter().map(|s| s.to_string()));
    }
    raw.date = date_prefix(lines[date_at]);
    raw.date_line = Some(date_at + 1);

    let mut current = String::new();
    for line in &lines[date_at + 1..] {
        let line = line.trim();
        if line.is_empty() {
            if !current.is_empty() {
                paras.push(std::mem::take(&mut current));
            }
        } else {
            if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(line);
        }
    }
    if !current.is_empty() {
        paras.push(current);
    }
    // The lead is the first paragraph after the date line (ahead of any
    // sub-heading lines that stood above it).
    let head_len = head.len().saturating_sub(1);
    if let Some(lead) = paras.get(head_len) {
        raw.summary = Some(lead.clone());
    }
    if let Some(last) = paras.last() {
        raw.author = super::html::source_line(last);
    }
    raw.body = Body::Paragraphs(paras);
    Ok(raw)
}

fn is_chrome(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('•') || t.starts_with("Welcome to ")
}

/// `dd/mm/yyyy HH:MM[:SS]` at the start of `line`, as written, without the
/// widget text that follows it.
pub fn date_prefix(line: &str) -> Option<String> {
    let t = line.trim_start();
    let b = t.as_bytes();
    let digits = |r: std::ops::Range<usize>| b.get(r.clone()).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    // dd/mm/yyyy HH:MM
    let shape = b.len() >= 16
        && digits(0..2)
        && b[2] == b'/'
        && digits(3..5)
        && b[5] == b'/'
        && digits(6..10)
        && b[10] == b' '
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16);
    if !shape {
        return None;
    }
    let end = if b.len() >= 19 && b[16] == b':' && digits(17..19) { 19 } else { 16 };
    if b.get(end).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    Some(t[..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_lines() {
        assert_eq!(date_prefix("21/02/2020 08:56:00 Xem cỡ chữ").as_deref(), Some("21/02/2020 08:56:00"));
        assert_eq!(date_prefix("21/02/2020 08:56").as_deref(), Some("21/02/2020 08:56"));
        assert_eq!(date_prefix("Năm 2019, 21/02/2020 08:56"), None);
        assert_eq!(date_prefix("21/02/2020"), None);
    }

    #[test]
    fn layout_without_chrome() {
        let raw = parse("Tiêu đề\n21/02/2020 08:56\nMở đầu.\n\nThân bài\ndòng hai.\n\nTheo TTXVN").unwrap();
        assert_eq!(raw.title.as_deref(), Some("Tiêu đề"));
        assert_eq!(raw.summary.as_deref(), Some("Mở đầu."));
        assert_eq!(raw.author.as_deref(), Some("TTXVN"));
        assert_eq!(
            raw.body,
            Body::Paragraphs(vec!["Mở đầu.".into(), "Thân bài dòng hai.".into(), "Theo TTXVN".into()])
        );
    }

    #[test]
    fn no_date_line_is_reported() {
        let (_, reason) = parse("Welcome to Yen Bai Portal\nTiêu đề\n\nThân bài").unwrap_err();
        assert!(reason.contains("dd/mm/yyyy"), "{reason}");
    }
}
