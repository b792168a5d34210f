//! `/robots.txt`: what crawlers may fetch. The feeds, the index page and
//! the archive are public; the admin console is not for them. The pages a
//! mail's links lead to (confirm, unsubscribe, preferences) are not listed:
//! a `Disallow` would keep a crawler from reading their `noindex` while a
//! search engine could still list their URLs, tokens and all, as found on
//! a public list archive a digest was forwarded to. They say `noindex`
//! themselves (the daemon's `http::not_for_search_engines`). With
//! `feeds.news_sitemap`, the news sitemap is named, as Google News finds it.

use super::FeedSettings;

pub const PATH: &str = "robots.txt";
pub const CONTENT_TYPE: &str = "text/plain; charset=utf-8";

/// The file for `settings`: under `http.public_url`'s path, which is the
/// site's root unless bantin is mounted below one (then a crawler never
/// asks for it there, and it does no harm).
pub fn render(settings: &FeedSettings) -> Vec<u8> {
    let root = settings.public_url.path().trim_end_matches('/');
    let mut out = format!(
        "# bantin: feeds, the index page and the archive are public; the pages a\n\
         # mail's links lead to say noindex themselves.\n\
         User-agent: *\n\
         Disallow: {root}/admin/\n"
    );
    if settings.news_sitemap
        && let Ok(sitemap) = settings.public_url.join(super::sitemap::PATH)
    {
        out.push_str(&format!("\nSitemap: {sitemap}\n"));
    }
    out.into_bytes()
}
