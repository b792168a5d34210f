//! The digest archive (`digest.archive`): the site-wide digest of every
//! sent period, readable on the web. Routes: `GET /archive/` (the periods,
//! newest first, `?page=N`), `/archive/daily/YYYY-MM-DD` and
//! `/archive/weekly/YYYY-Www` (one period; `?topics=a,b` keeps those
//! categories, a mail's "view in browser" link), `/archive/feed.xml`
//! (RSS 2.0, an item per period). Vietnamese, English by `?lang=en` or
//! `Accept-Language` (`subscription::strings::Lang`).
//!
//! What a period holds was recorded when its digests were committed
//! (`state::archive`, the ids of `digest::seed::site_wide`); a page shows
//! those of its articles the live catalog still publishes, so an article
//! deleted or made a draft since is left out. No page holds anything of a
//! subscriber: no address, no token (the integration test greps them).
//!
//! Unlike the feeds, these pages are rendered on request (a look-up in
//! the state database, a template, a gzip: a few ms, on a blocking
//! thread since a summary may read its file), and answered through the
//! feeds' negotiation (`http::answer`): ETag of the bytes, Last-Modified
//! (the period's sending or its newest article's change), 304. A period
//! never sent, a malformed path or page, and every route while
//! `digest.archive` is off answer 404 with the site's page frame.

mod render;

use crate::digest::archive::ArchivePeriod;
use crate::newsletter::Digests;
use crate::subscription::strings::Lang;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{Redirect, Response};
use axum::routing::get;
use std::sync::Arc;

/// Periods listed on a page of `/archive/`.
pub const PAGE_SIZE: u64 = 20;
/// Periods in `/archive/feed.xml`.
pub const FEED_ITEMS: u64 = 20;

/// The archive's routes (every one a 404 page while `digest.archive` is
/// off).
pub fn routes(digests: Arc<Digests>) -> Router {
    Router::new()
        .route("/archive", get(|| async { Redirect::permanent("/archive/") }))
        .route("/archive/", get(index))
        .route("/archive/{*rest}", get(under))
        .with_state(digests)
}

/// The query's value of `name`, if any.
fn query_value(uri: &Uri, name: &str) -> Option<String> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

async fn index(State(d): State<Arc<Digests>>, lang: Lang, method: Method, headers: HeaderMap, uri: Uri) -> Response {
    if !d.settings.digest.archive {
        return render::missing(&d, lang);
    }
    let page = match query_value(&uri, "page").map(|p| p.parse::<u64>()) {
        None => 1,
        Some(Ok(n)) if n >= 1 => n,
        Some(_) => return render::missing(&d, lang),
    };
    let skip = (page - 1).saturating_mul(PAGE_SIZE);
    let listing = match d.state.archive_entries(skip, PAGE_SIZE).await {
        Ok(found) => found,
        Err(e) => return render::unavailable(&d, lang, e),
    };
    if listing.entries.is_empty() && page > 1 {
        return render::missing(&d, lang);
    }
    answer_with(&d, lang, method, headers, move |d| render::index(d, lang, &listing, page)).await
}

/// Everything under `/archive/`: the feed, a period, or a 404.
async fn under(State(d): State<Arc<Digests>>, lang: Lang, Path(rest): Path<String>, method: Method, headers: HeaderMap, uri: Uri) -> Response {
    if !d.settings.digest.archive {
        return render::missing(&d, lang);
    }
    if rest == "feed.xml" {
        return feed(d, method, headers).await;
    }
    let period = rest.split_once('/').and_then(|(kind, stamp)| ArchivePeriod::from_path(kind, stamp));
    let Some(period) = period else {
        return render::missing(&d, lang);
    };
    let entry = match d.state.archive_entry(&period.key()).await {
        Ok(Some(entry)) => entry,
        Ok(None) => return render::missing(&d, lang),
        Err(e) => return render::unavailable(&d, lang, e),
    };
    let topics: Vec<String> = query_value(&uri, "topics")
        .map(|t| t.split(',').map(crate::text::slugify).filter(|t| !t.is_empty()).collect())
        .unwrap_or_default();
    answer_with(&d, lang, method, headers, move |d| render::period(d, lang, period, &entry, &topics)).await
}

async fn feed(d: Arc<Digests>, method: Method, headers: HeaderMap) -> Response {
    let newest = match d.state.archive_entries(0, FEED_ITEMS).await {
        Ok(newest) => newest,
        Err(e) => return render::unavailable(&d, Lang::Vi, e),
    };
    answer_with(&d, Lang::Vi, method, headers, move |d| render::feed(d, &newest)).await
}

/// Renders on a blocking thread (an article's summary may read its file)
/// and answers as the feeds are: 304 when the client's copy is current.
async fn answer_with(
    d: &Arc<Digests>,
    lang: Lang,
    method: Method,
    headers: HeaderMap,
    make: impl FnOnce(&Digests) -> Result<crate::cache::Entry, render::RenderError> + Send + 'static,
) -> Response {
    let digests = Arc::clone(d);
    match tokio::task::spawn_blocking(move || make(&digests)).await {
        Ok(Ok(entry)) => crate::http::answer(&entry, &method, &headers),
        Ok(Err(e)) => render::unavailable(d, lang, e),
        Err(e) => render::unavailable(d, lang, e),
    }
}

/// A page of the site's frame (`page.html`) with `status`, as the
/// subscription pages fill it.
fn framed(d: &Digests, lang: Lang, status: StatusCode, title: &'static str, message: &'static str) -> Response {
    crate::subscription::pages::render_in(&d.composer, lang, crate::subscription::pages::Page::plain(status, title, message))
}
