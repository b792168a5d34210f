//! The archive's documents: a period's page (`archive.html`), the list of
//! periods (`archive_index.html`), the RSS feed, and the 404 and 503
//! pages; each page made into a cache `Entry` (bytes, gzip, validators)
//! so that it is answered as the feeds are.

use super::{PAGE_SIZE, framed};
use crate::cache::Entry;
use crate::digest::archive::ArchivePeriod;
use crate::mail::ArticleView;
use crate::newsletter::Digests;
use crate::state::{ArchiveEntry, ArchivePage, Frequency};
use crate::subscription::strings::Lang;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Datelike, Utc};
use std::fmt::Write as _;
use std::sync::Arc;

const HTML: &str = "text/html; charset=utf-8";
const RSS: &str = "application/rss+xml; charset=utf-8";

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Template(#[from] crate::templates::TemplateError),
}

/// How a period is named on the pages and in the feed.
fn label(period: ArchivePeriod, lang: Lang) -> String {
    let (w, date) = (period.date.iso_week(), period.date.format("%d/%m/%Y"));
    match (period.frequency == Frequency::Weekly, lang) {
        (true, Lang::Vi) => format!("Bản tin tuần {}/{}", w.week(), w.year()),
        (true, Lang::En) => format!("Weekly digest, week {} of {}", w.week(), w.year()),
        (false, Lang::Vi) => format!("Bản tin ngày {date}"),
        (false, Lang::En) => format!("Daily digest, {date}"),
    }
}

/// A root-relative link of the archive, keeping `?lang=en` for English
/// readers who chose it by the query.
fn link(path: &str, query: &[(&str, &str)], lang: Lang) -> String {
    let mut pairs = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in query {
        pairs.append_pair(k, v);
    }
    if lang == Lang::En {
        pairs.append_pair("lang", "en");
    }
    let q = pairs.finish();
    if q.is_empty() { path.to_string() } else { format!("{path}?{q}") }
}

fn local_date(d: &Digests, t: DateTime<Utc>) -> String {
    t.with_timezone(&d.settings.site.timezone).format("%d/%m/%Y").to_string()
}

fn page_entry(html: String, modified: DateTime<Utc>) -> Entry {
    Entry::new(html.into_bytes(), HTML, modified.fixed_offset())
        .with_headers(HeaderValue::from_static("Accept-Encoding, Accept-Language"), Arc::new([]))
}

/// One period's page: its articles still published, of `topics` (the
/// ones the site has; none known: all).
pub(super) fn period(d: &Digests, lang: Lang, period: ArchivePeriod, entry: &ArchiveEntry, topics: &[String]) -> Result<Entry, RenderError> {
    let catalog = (d.catalog)();
    let now = Utc::now().with_timezone(&d.settings.site.timezone).fixed_offset();
    let known: Vec<&String> = topics.iter().filter(|t| catalog.category_name(t).is_some()).collect();
    let shown: Vec<_> = entry
        .article_ids
        .iter()
        .filter_map(|id| catalog.get(id))
        .filter(|a| a.is_visible_at(now))
        .filter(|a| known.is_empty() || known.iter().any(|t| a.in_category(t)))
        .collect();
    let modified = shown.iter().map(|a| a.modified().to_utc()).fold(entry.sent_at, DateTime::max);
    let articles: Vec<ArticleView> = shown.iter().map(|a| d.composer.article_view(a)).collect();
    let names: Vec<&str> = known.iter().filter_map(|t| catalog.category_name(t)).collect();
    let html = d.composer.templates().render(
        "archive.html",
        minijinja::context! {
            lang => lang.code(),
            site_title => d.composer.site_title(),
            site_url => d.composer.site_url().as_str(),
            site_icon => d.composer.site_icon().map(url::Url::as_str),
            label => label(period, lang),
            sent => local_date(d, entry.sent_at),
            articles => articles,
            topics => names,
            all_url => link(&period.path(), &[], lang),
            index_url => link("/archive/", &[], lang),
            feed_url => "/archive/feed.xml",
        },
    )?;
    Ok(page_entry(html, modified))
}

/// Page `page` of the list of sent periods.
pub(super) fn index(d: &Digests, lang: Lang, listing: &ArchivePage, page: u64) -> Result<Entry, RenderError> {
    let pages = listing.total.div_ceil(PAGE_SIZE).max(1);
    let entries: Vec<minijinja::Value> = listing
        .entries
        .iter()
        .filter_map(|e| {
            let p = ArchivePeriod::from_key(&e.period_key)?;
            Some(minijinja::context! {
                label => label(p, lang),
                url => link(&p.path(), &[], lang),
                sent => local_date(d, e.sent_at),
                count => e.article_ids.len(),
            })
        })
        .collect();
    let page_link = |n: u64| if n == 1 { link("/archive/", &[], lang) } else { link("/archive/", &[("page", &n.to_string())], lang) };
    let html = d.composer.templates().render(
        "archive_index.html",
        minijinja::context! {
            lang => lang.code(),
            site_title => d.composer.site_title(),
            site_url => d.composer.site_url().as_str(),
            site_icon => d.composer.site_icon().map(url::Url::as_str),
            entries => entries,
            page => page,
            pages => pages,
            prev_url => (page > 1).then(|| page_link(page - 1)),
            next_url => (page < pages).then(|| page_link(page + 1)),
            feed_url => "/archive/feed.xml",
        },
    )?;
    Ok(page_entry(html, listing.newest.unwrap_or(DateTime::UNIX_EPOCH)))
}

/// `/archive/feed.xml`: RSS 2.0, an item per sent period (the newest
/// `FEED_ITEMS`), linking its page; in the site's language, Vietnamese.
pub(super) fn feed(d: &Digests, newest: &ArchivePage) -> Result<Entry, RenderError> {
    let catalog = (d.catalog)();
    let base = &d.settings.http.public_url;
    let absolute = |path: &str| base.join(path.trim_start_matches('/')).map(String::from).unwrap_or_else(|_| format!("{base}{path}"));
    let esc = crate::text::escape_html;
    let rfc2822 = |t: DateTime<Utc>| t.to_rfc2822();
    let updated = newest.newest.unwrap_or(DateTime::UNIX_EPOCH);
    let mut x = String::with_capacity(4096);
    x.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\" xmlns:atom=\"http://www.w3.org/2005/Atom\">\n<channel>\n");
    let title = format!("{} – Lưu trữ bản tin", d.composer.site_title());
    let _ = writeln!(x, "<title>{}</title>\n<link>{}</link>", esc(&title), esc(&absolute("/archive/")));
    let _ = writeln!(x, "<description>{}</description>\n<language>vi</language>", esc("Các bản tin đã gửi, mới nhất trước"));
    let _ = writeln!(x, "<atom:link href=\"{}\" rel=\"self\" type=\"application/rss+xml\"/>", esc(&absolute("/archive/feed.xml")));
    let _ = writeln!(x, "<lastBuildDate>{}</lastBuildDate>", rfc2822(updated));
    for e in &newest.entries {
        let Some(p) = ArchivePeriod::from_key(&e.period_key) else { continue };
        let url = absolute(&p.path());
        let titles: String =
            e.article_ids.iter().filter_map(|id| catalog.get(id)).map(|a| format!("<li>{}</li>", esc(&crate::text::clean_line(a.title())))).collect();
        let _ = writeln!(
            x,
            "<item>\n<title>{}</title>\n<link>{url}</link>\n<guid isPermaLink=\"true\">{url}</guid>\n<pubDate>{}</pubDate>\n<description>{}</description>\n</item>",
            esc(&format!("{} ({} bài)", label(p, Lang::Vi), e.article_ids.len())),
            rfc2822(e.sent_at),
            esc(&format!("<ul>{titles}</ul>")),
            url = esc(&url),
        );
    }
    x.push_str("</channel>\n</rss>\n");
    Ok(Entry::new(x.into_bytes(), RSS, updated.fixed_offset()))
}

/// The 404 page: a period never sent, a malformed path, the archive off.
pub(super) fn missing(d: &Digests, lang: Lang) -> Response {
    let (title, message) = match lang {
        Lang::Vi => ("Không tìm thấy bản tin", "Không có bản tin nào đã gửi cho kỳ này. Xem các bản tin đã gửi tại /archive/."),
        Lang::En => ("Digest not found", "No digest was sent for this period. The digests sent are listed at /archive/."),
    };
    framed(d, lang, StatusCode::NOT_FOUND, title, message)
}

/// The state database or a render failed: logged, answered 503.
pub(super) fn unavailable(d: &Digests, lang: Lang, e: impl std::fmt::Display) -> Response {
    tracing::error!("archive: {e}");
    let s = crate::subscription::strings::get(lang);
    framed(d, lang, StatusCode::SERVICE_UNAVAILABLE, s.error_title, s.error_message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn period(frequency: Frequency, y: i32, m: u32, d: u32) -> ArchivePeriod {
        ArchivePeriod { frequency, date: NaiveDate::from_ymd_opt(y, m, d).unwrap() }
    }

    #[test]
    fn periods_are_named_in_the_readers_language() {
        let day = period(Frequency::Daily, 2026, 11, 30);
        assert_eq!(label(day, Lang::Vi), "Bản tin ngày 30/11/2026");
        assert_eq!(label(day, Lang::En), "Daily digest, 30/11/2026");
        // The ISO week of the date, and its ISO year: 2027-01-01 is in 2026-W53.
        let week = period(Frequency::Weekly, 2027, 1, 1);
        assert_eq!(label(week, Lang::Vi), "Bản tin tuần 53/2026");
        assert_eq!(label(week, Lang::En), "Weekly digest, week 53 of 2026");
    }

    #[test]
    fn links_keep_an_english_readers_choice() {
        assert_eq!(link("/archive/", &[], Lang::Vi), "/archive/");
        assert_eq!(link("/archive/", &[("page", "2")], Lang::Vi), "/archive/?page=2");
        assert_eq!(link("/archive/", &[("page", "2")], Lang::En), "/archive/?page=2&lang=en");
    }
}
