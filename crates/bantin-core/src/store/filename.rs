//! Dates and slugs in file names, as Jekyll names its posts
//! (`_posts/2016-01-01-welcome-to-jekyll.md`) and Hugo reads them with
//! `:filename` (also a page bundle's folder, `2017-02-11-slug/index.md`).
//! A post without a `date` key takes its date from such a name (midnight
//! in `site.timezone`) and its slug from the rest; [`super::raw::head`]
//! applies it. Only names of the store's Markdown files count: a name is
//! outside input, so anything that is not exactly `YYYY-MM-DD-rest` with a
//! real calendar date and a non-empty rest is not a dated name.

use chrono::NaiveDate;

/// What a dated file name gives: the date and the rest of the name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dated<'a> {
    pub date: NaiveDate,
    /// The name after `YYYY-MM-DD-`, without the extension: the slug's
    /// source (`welcome-to-jekyll`).
    pub rest: &'a str,
}

/// The date and rest of the store-relative path `origin` (`/`- or
/// `\`-separated), if its file is a dated Markdown post: `2016-01-01-x.md`
/// or `.markdown`, or `2016-01-01-x/index.md` (a bundle).
pub fn dated(origin: &str) -> Option<Dated<'_>> {
    let mut parts = origin.rsplit(['/', '\\']);
    let file = parts.next()?;
    let (stem, ext) = file.rsplit_once('.')?;
    if !(ext.eq_ignore_ascii_case("md") || ext.eq_ignore_ascii_case("markdown")) {
        return None;
    }
    if stem == "index" {
        return parse_name(parts.next()?);
    }
    parse_name(stem)
}

/// `YYYY-MM-DD-rest` → its date and rest; `None` for anything else.
pub fn parse_name(name: &str) -> Option<Dated<'_>> {
    let bytes = name.as_bytes();
    // Exactly four, two and two digits, each followed by a dash.
    let shape = bytes.len() > 11
        && [4, 7, 10].iter().all(|&i| bytes[i] == b'-')
        && [0..4, 5..7, 8..10].into_iter().flatten().all(|i| bytes[i].is_ascii_digit());
    if !shape {
        return None;
    }
    let num = |r: std::ops::Range<usize>| name[r].parse::<u32>().ok();
    let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    let rest = &name[11..];
    (!rest.trim().is_empty()).then_some(Dated { date, rest })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn jekyll_and_hugo_names() {
        let d = dated("_posts/2016-01-01-welcome-to-jekyll.markdown").unwrap();
        assert_eq!((d.date, d.rest), (day(2016, 1, 1), "welcome-to-jekyll"));
        let d = dated("content\\posts\\2017-02-11-bundle\\index.md").unwrap();
        assert_eq!((d.date, d.rest), (day(2017, 2, 11), "bundle"));
        assert_eq!(dated("2024-02-29-leap.MD").map(|d| d.date), Some(day(2024, 2, 29)));
    }

    #[test]
    fn near_misses_are_not_dated() {
        for name in [
            "2016-01-01-.md",         // nothing after the date
            "2016-01-01.md",          // no rest at all
            "2016-1-01-x.md",         // not two digits
            "2016-02-30-x.md",        // no such day
            "2023-02-29-x.md",        // not a leap year
            "2016-13-01-x.md",        // no such month
            "2016_01_01-x.md",        // not dashes
            "2016-01-01-x.txt",       // not Markdown
            "2016-01-01-x.json",
            "index.md",               // a bundle needs a dated folder
            "posts/index.md",
            "bai-2016-01-01-x.md",    // the date must lead
            "+2016-01-01-x.md",
            "2016-01-01-x",           // no extension
            "2016-01-01- .md",        // a blank rest
        ] {
            assert_eq!(dated(name), None, "{name}");
        }
    }

    proptest! {
        /// Any real date with any non-blank rest reads back as written.
        #[test]
        fn a_written_name_reads_back(days in 0i64..3_000_000, rest in "[a-z0-9đ][-a-z0-9 đ.]{0,30}", md in any::<bool>()) {
            let date = day(1, 1, 1) + chrono::Duration::days(days);
            prop_assume!(date.format("%Y").to_string().len() == 4);
            let ext = if md { "md" } else { "markdown" };
            let name = format!("posts/{}-{rest}.{ext}", date.format("%Y-%m-%d"));
            let d = dated(&name).unwrap();
            prop_assert_eq!(d.date, date);
            prop_assert_eq!(d.rest, rest.as_str());
        }

        /// Whatever the name, reading it never panics, and a date it gives
        /// is the name's own first ten characters.
        #[test]
        fn any_name_is_safe(name in "\\PC{0,40}") {
            if let Some(d) = parse_name(&name) {
                prop_assert_eq!(d.date.format("%Y-%m-%d").to_string(), &name[..10]);
                prop_assert!(!d.rest.trim().is_empty());
            }
            let _ = dated(&name);
        }
    }
}
