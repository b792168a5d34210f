//! HTTP: the routes that serve the feed cache, and the server that runs
//! any axum [`Router`] on hyper with the limits a public service needs.
//!
//! Invariants:
//! - the request path never renders a feed or touches the file system:
//!   feed routes look up the published [`FeedCache`](crate::cache::FeedCache)
//!   ([`FeedCache::document`](crate::cache::FeedCache::document); a browser's
//!   navigation gets the feed's preview page, made once on first ask)
//!   and clone reference-counted bytes; a path that is not in the cache is
//!   a 404;
//! - GET/HEAD of a cached document (feeds, index) takes the hot path: the
//!   connection's front (`front`) answers it before hyper is involved, and
//!   after a hand-over to hyper [`Hot`] answers it before the router, both
//!   with pre-registered counters, since that is nearly all the traffic;
//!   every other request goes through hyper, the axum router and its
//!   layers. All paths give the same answer (the same `negotiate`
//!   decisions; the router's feed handlers call [`answer`] as `Hot` does);
//! - every connection has a header read timeout, a header size limit, a
//!   request timeout and a write progress deadline (`io`); there are at
//!   most `max_connections` at once (further clients wait in the kernel's
//!   accept queue), and at most `max_connections_per_ip` from one client
//!   (more are closed at accept);
//! - shutdown stops accepting, lets requests in flight finish (up to a
//!   bound) and closes idle keep-alive connections.
//!
//! Other rooms add routes by merging their own `Router` into
//! [`routes`]' before handing it to [`serve`] (one `.merge(...)` in main),
//! and get the request metrics and limits for free. Routed requests carry
//! the client's address as axum's `ConnectInfo<SocketAddr>` extension (the
//! TCP peer's, or behind a trusted proxy the one it names: `client`).

mod client;
mod cors;
mod front;
mod health;
use health::{healthz, metrics};
mod hot;
mod io;
mod send;
mod server;
mod wait;

pub use client::Proxies;
pub use hot::{Hot, HotFuture};
pub use server::serve;
pub use bantin_core::negotiate;

use crate::cache::Entry;
use crate::shared::Shared;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use prometheus_client::metrics::counter::Counter;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

/// Limits of the server, from `[http]` (the defaults suit a feed server
/// on the Internet; see the config module for each key).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Time a client has to send the request head, on every request.
    pub header_read_timeout: Duration,
    /// Largest request head accepted (hyper answers 431 beyond it).
    pub max_header_bytes: usize,
    /// Time a handler may take before the client gets 503.
    pub request_timeout: Duration,
    /// Time a response may make no progress before the connection is dropped.
    pub write_timeout: Duration,
    pub max_connections: usize,
    /// Connections one client (`ratelimit::ip_key`) may hold at once.
    pub max_connections_per_ip: usize,
    /// How long shutdown waits for requests in flight.
    pub shutdown_grace: Duration,
}

impl Limits {
    pub fn new(http: &crate::config::Http) -> Limits {
        Limits {
            header_read_timeout: http.header_timeout,
            max_header_bytes: 16 * 1024,
            request_timeout: http.request_timeout,
            write_timeout: http.write_timeout,
            max_connections: http.max_connections,
            max_connections_per_ip: http.max_connections_per_ip,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

const CACHE_CONTROL: &str = "public, max-age=300";

/// What an HTML page may load and do. No script at all; styles from the
/// page itself too (`'unsafe-inline'`, style only): the subscription pages
/// carry a `<style>` block and an operator's own templates may change it,
/// so a hash would break them, and CSS without script cannot run code.
/// Forms post only to bantin itself; no page may be framed (clickjacking
/// the unsubscribe and confirm buttons); no `<base>` may move the links.
const PAGE_POLICY: &str = "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' https: data:; \
                           form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The headers of safety every answer carries: no content sniffing; and
/// on an HTML page (`content_type`), its policy and a referrer only to
/// bantin itself (`same-origin`: the subscription pages' URLs hold tokens,
/// which a Referer would hand to whatever the page links to). Not
/// `no-referrer`: under it Chromium sends `Origin: null` with the page's
/// own form posts, which the sign-up's origin check must refuse (found by
/// the e2e browser journey). Static values: the fast path copies them.
pub(crate) fn safety_headers(content_type: &[u8], mut header: impl FnMut(header::HeaderName, &HeaderValue)) {
    static NOSNIFF: HeaderValue = HeaderValue::from_static("nosniff");
    static POLICY: HeaderValue = HeaderValue::from_static(PAGE_POLICY);
    static SAME_ORIGIN: HeaderValue = HeaderValue::from_static("same-origin");
    header(header::X_CONTENT_TYPE_OPTIONS, &NOSNIFF);
    if is_page(content_type) {
        header(header::CONTENT_SECURITY_POLICY, &POLICY);
        header(header::REFERRER_POLICY, &SAME_ORIGIN);
    }
}

fn is_page(content_type: &[u8]) -> bool {
    content_type.starts_with(b"text/html")
}

/// Pages for one person's eyes: those a mail's links lead to (their URLs
/// hold tokens, some show the address), the sign-up's answers and the
/// admin console. Every answer of `router` tells search engines not to
/// index it or follow its links, whoever found the URL (a digest forwarded
/// to a list with a public archive). Not a `robots.txt` rule: a crawler
/// kept out of a page cannot read its `noindex`, and could still list the
/// bare URL.
pub fn not_for_search_engines(router: Router) -> Router {
    static NOINDEX: HeaderValue = HeaderValue::from_static("noindex, nofollow");
    router.layer(middleware::map_response(|mut response: Response| async move {
        response.headers_mut().insert(header::HeaderName::from_static("x-robots-tag"), NOINDEX.clone());
        response
    }))
}

/// The routes of the feed side: index, feeds, health, metrics.
pub fn routes(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/feed.xml", document())
        .route("/atom.xml", document())
        .route("/feed.json", document())
        .route("/categories/{slug}/{file}", document())
        .route("/tags/{slug}/{file}", document())
        .route("/authors/{slug}/{file}", document())
        .route("/feeds.opml", document())
        .route("/sitemap-news.xml", document())
        .route("/robots.txt", document())
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .with_state(shared)
}

/// A cached document's route: GET and HEAD answered from the cache, and a
/// browser's preflight for the shared ones.
fn document() -> MethodRouter<Arc<Shared>> {
    get(feed).options(cors::preflight)
}

/// Largest request body accepted: the subscription forms are well under
/// 1 KiB. A larger declared `Content-Length` is refused before any of the
/// body is read; a body without one is cut off at this size.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Adds what every route gets: request metrics, the body size limit and
/// the request timeout.
pub fn finish(router: Router, shared: Arc<Shared>, limits: &Limits) -> Router {
    let timeout = limits.request_timeout;
    router
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(move |req: Request, next: Next| async move {
            match tokio::time::timeout(timeout, next.run(req)).await {
                Ok(resp) => resp,
                Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "the request took too long\n").into_response(),
            }
        }))
        .layer(middleware::from_fn(refuse_large_bodies))
        .layer(middleware::from_fn(add_safety_headers))
        .layer(middleware::from_fn_with_state(shared, count))
}

/// [`safety_headers`] on every routed answer (the pages, and errors),
/// where the handler did not set them itself.
async fn add_safety_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let content_type = resp.headers().get(header::CONTENT_TYPE).map(|v| v.as_bytes().to_vec()).unwrap_or_default();
    let headers = resp.headers_mut();
    safety_headers(&content_type, |name, value| {
        if !headers.contains_key(&name) {
            headers.insert(name, value.clone());
        }
    });
    resp
}

/// 413 at once for a declared body over [`MAX_BODY_BYTES`]: without this a
/// client announcing 50 GB and sending nothing held the request until the
/// request timeout and then got a 503.
async fn refuse_large_bodies(req: Request, next: Next) -> Response {
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            [(header::CONNECTION, "close")],
            format!("the request body is larger than {} KiB\n", MAX_BODY_BYTES / 1024),
        )
            .into_response();
    }
    next.run(req).await
}

async fn count(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", |m| m.as_str()).to_string();
    let resp = next.run(req).await;
    let status = resp.status();
    if status == StatusCode::NOT_MODIFIED {
        shared.metrics.not_modified.inc();
    }
    shared.metrics.count_request(&route, status.as_u16());
    resp
}

async fn feed(State(shared): State<Arc<Shared>>, method: Method, headers: HeaderMap, req: Request) -> Response {
    let cache = shared.cache.load_full();
    let path = req.uri().path().to_string();
    let nav = navigation(headers.get("sec-fetch-dest").and_then(|v| v.to_str().ok()));
    // A tag or author feed's first request renders it (reading bodies):
    // off the async workers. Every other look-up is a map read.
    let entry = if cache.pending(&path) {
        tokio::task::spawn_blocking(move || cache.document(&path, nav).cloned()).await.ok().flatten()
    } else {
        cache.document(&path, nav).cloned()
    };
    match entry {
        Some(entry) => answer(&entry, &method, &headers),
        None => not_found().await.into_response(),
    }
}

async fn index(State(shared): State<Arc<Shared>>, method: Method, headers: HeaderMap, uri: axum::http::Uri) -> Response {
    let cache = shared.cache.load();
    let accept_language = headers.get("accept-language").and_then(|v| v.to_str().ok());
    match cache.index_in(negotiate::english(uri.query(), accept_language)) {
        Some(entry) => answer(entry, &method, &headers),
        None => unavailable(),
    }
}

/// A cached document: 304 when the client's copy is current, else the
/// stored bytes in the negotiated encoding. HEAD gets the same headers
/// (hyper sends no body for it).
///
/// The headers go straight into a map sized for all of them: the
/// `Response::builder()` chain moved the whole response head through every
/// `.header()` and grew the map past its first allocation (issue 6 profile).
pub(crate) fn answer(entry: &Entry, method: &Method, headers: &HeaderMap) -> Response {
    let text = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    let mut out = HeaderMap::with_capacity(8);
    let decided = decide(entry, text(header::ACCEPT_ENCODING), text(header::IF_NONE_MATCH), text(header::IF_MODIFIED_SINCE));
    // `append`: each Link is a header of its own.
    document_headers(entry, &decided, |name, value| {
        out.append(name, value.clone());
    });
    let (status, body) = if decided.not_modified {
        (StatusCode::NOT_MODIFIED, Body::empty())
    } else {
        let body = if method == Method::HEAD { Body::empty() } else { Body::from(decided.rep.bytes.clone()) };
        (StatusCode::OK, body)
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    *resp.headers_mut() = out;
    resp
}

/// What the answer to a GET or HEAD of a cached document is, whoever
/// writes it (hyper through [`answer`], or the connection front): a 304
/// or not, and the representation in the negotiated encoding. Decided
/// before any header is written, so the front can write its status line
/// first.
pub(crate) struct Decided<'e> {
    pub not_modified: bool,
    pub encoding: crate::cache::Encoding,
    pub rep: &'e crate::cache::Representation,
}

pub(crate) fn decide<'e>(entry: &'e Entry, accept_encoding: Option<&str>, if_none_match: Option<&str>, if_modified_since: Option<&str>) -> Decided<'e> {
    let (encoding, rep) = entry.get(negotiate::encoding(accept_encoding));
    let not_modified = negotiate::not_modified(entry, if_none_match, if_modified_since);
    Decided { not_modified, encoding, rep }
}

/// Every header of the answer `decided` but Date and Connection, handed
/// to `header` one by one.
pub(crate) fn document_headers(entry: &Entry, decided: &Decided<'_>, mut header: impl FnMut(header::HeaderName, &HeaderValue)) {
    let rep = decided.rep;
    header(header::ETAG, &rep.etag);
    header(header::LAST_MODIFIED, &entry.last_modified);
    header(header::CACHE_CONTROL, &HeaderValue::from_static(CACHE_CONTROL));
    header(header::VARY, &entry.vary);
    for link in entry.links.iter() {
        header(header::LINK, link);
    }
    safety_headers(entry.content_type.as_bytes(), &mut header);
    if cors::shared_with_any_origin(entry.content_type.as_bytes()) {
        cors::shared_headers(&mut header);
    }
    if !decided.not_modified {
        header(header::CONTENT_TYPE, &entry.content_type);
        header(header::CONTENT_LENGTH, &rep.length);
        if let Some(coding) = decided.encoding.header() {
            header(header::CONTENT_ENCODING, &HeaderValue::from_static(coding));
        }
    }
}

/// Whether a request is a browser's top-level navigation, by its
/// `Sec-Fetch-Dest` (Fetch Metadata): such a request for a feed gets the
/// feed's preview page (`feeds.browser_view`). Feed readers, curl and a web
/// reader's `fetch()` send another value or none.
pub(crate) fn navigation(sec_fetch_dest: Option<&str>) -> bool {
    sec_fetch_dest.is_some_and(|v| v.trim().eq_ignore_ascii_case("document"))
}

async fn not_found() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "not found: the feeds are listed at /\n",
    )
}

fn unavailable() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, "the catalog is still loading\n").into_response()
}
