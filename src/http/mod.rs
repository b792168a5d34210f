//! HTTP: the routes that serve the feed cache, and the server that runs
//! any axum [`Router`] on hyper with the limits a public service needs.
//!
//! Invariants:
//! - the request path never renders or touches the file system: feed
//!   routes look up the published [`FeedCache`](crate::cache::FeedCache)
//!   and clone reference-counted bytes; a path that is not in the cache is
//!   a 404;
//! - GET/HEAD of a cached document (feeds, index) takes the hot path: the
//!   connection's front (`front`) answers it before hyper is involved, and
//!   after a hand-over to hyper [`Hot`] answers it before the router, both
//!   with pre-registered counters, since that is nearly all the traffic;
//!   every other request goes through hyper, the axum router and its
//!   layers. All paths give the same answer (the same `negotiate`
//!   decisions; the router's feed handlers call [`answer`] as `Hot` does);
//! - every connection has a header read timeout, a header size limit and a
//!   request timeout, and there are at most `max_connections` at once
//!   (further clients wait in the kernel's accept queue);
//! - shutdown stops accepting, lets requests in flight finish (up to a
//!   bound) and closes idle keep-alive connections.
//!
//! Other rooms add routes by merging their own `Router` into
//! [`routes`]' before handing it to [`serve`] (one `.merge(...)` in main),
//! and get the request metrics and limits for free. Routed requests carry
//! the client's address as axum's `ConnectInfo<SocketAddr>` extension (set
//! per connection by [`serve`]).

mod front;
pub use bantin_core::negotiate;

use crate::cache::Entry;
use crate::shared::Shared;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
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

/// Limits of the server; the defaults suit a feed server on the Internet.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Time a client has to send the request head, on every request.
    pub header_read_timeout: Duration,
    /// Largest request head accepted (hyper answers 431 beyond it).
    pub max_header_bytes: usize,
    /// Time a handler may take before the client gets 503.
    pub request_timeout: Duration,
    pub max_connections: usize,
    /// How long shutdown waits for requests in flight.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            request_timeout: Duration::from_secs(30),
            max_connections: 4096,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

const CACHE_CONTROL: &str = "public, max-age=300";

/// The routes of the feed side: index, feeds, health, metrics.
pub fn routes(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/feed.xml", get(feed))
        .route("/atom.xml", get(feed))
        .route("/feed.json", get(feed))
        .route("/categories/{slug}/{file}", get(feed))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .with_state(shared)
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
        .layer(middleware::from_fn_with_state(shared, count))
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
    let cache = shared.cache.load();
    match cache.feed(req.uri().path()) {
        Some(entry) => answer(entry, &method, &headers),
        None => not_found().await.into_response(),
    }
}

async fn index(State(shared): State<Arc<Shared>>, method: Method, headers: HeaderMap) -> Response {
    let cache = shared.cache.load();
    match cache.index() {
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
fn answer(entry: &Entry, method: &Method, headers: &HeaderMap) -> Response {
    let text = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    let mut out = HeaderMap::with_capacity(8);
    let (not_modified, rep) = document(
        entry,
        text(header::ACCEPT_ENCODING),
        text(header::IF_NONE_MATCH),
        text(header::IF_MODIFIED_SINCE),
        |name, value| {
            out.insert(name, value.clone());
        },
    );
    let (status, body) = if not_modified {
        (StatusCode::NOT_MODIFIED, Body::empty())
    } else {
        let body = if method == Method::HEAD { Body::empty() } else { Body::from(rep.bytes.clone()) };
        (StatusCode::OK, body)
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    *resp.headers_mut() = out;
    resp
}

/// The answer to a GET or HEAD of a cached document, whoever writes it
/// (hyper through [`answer`], or the connection front): whether it is a
/// 304, the representation to send, and every header but Date and
/// Connection, handed to `header` one by one.
pub(crate) fn document<'e>(
    entry: &'e Entry,
    accept_encoding: Option<&str>,
    if_none_match: Option<&str>,
    if_modified_since: Option<&str>,
    mut header: impl FnMut(header::HeaderName, &HeaderValue),
) -> (bool, &'e crate::cache::Representation) {
    let (encoding, rep) = entry.get(negotiate::encoding(accept_encoding));
    let not_modified = negotiate::not_modified(entry, if_none_match, if_modified_since);
    header(header::ETAG, &rep.etag);
    header(header::LAST_MODIFIED, &entry.last_modified);
    header(header::CACHE_CONTROL, &HeaderValue::from_static(CACHE_CONTROL));
    header(header::VARY, &HeaderValue::from_static("Accept-Encoding"));
    if !not_modified {
        header(header::CONTENT_TYPE, &entry.content_type);
        header(header::CONTENT_LENGTH, &rep.length);
        if let Some(coding) = encoding.header() {
            header(header::CONTENT_ENCODING, &HeaderValue::from_static(coding));
        }
    }
    (not_modified, rep)
}

/// How long `/healthz` and `/metrics` wait for the state database: a
/// stuck database must not hang the probes that would report it.
const STATE_PROBE: Duration = Duration::from_secs(2);

async fn healthz(State(shared): State<Arc<Shared>>) -> Response {
    let cache = shared.cache.load();
    // Without a state database (no subscription side) there is nothing to
    // check; with one, unreachable means the service is not healthy.
    let state = match shared.state.get() {
        None => None,
        Some(db) => Some(match tokio::time::timeout(STATE_PROBE, db.ping()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {} s", STATE_PROBE.as_secs())),
        }),
    };
    let state_ok = !matches!(state, Some(Err(_)));
    let mut body = serde_json::json!({
        "status": if !cache.is_loaded() { "loading" } else if !state_ok { "degraded" } else { "ok" },
        "generation": cache.generation,
        "articles": cache.articles,
        "errors": cache.errors,
        "feeds": cache.feed_paths().count(),
    });
    if let Some(state) = &state {
        body["state"] = match state {
            Ok(()) => serde_json::json!("ok"),
            Err(e) => {
                tracing::warn!("healthz: the state database is unreachable: {e}");
                serde_json::json!(format!("unreachable: {e}"))
            }
        };
    }
    let status = if cache.is_loaded() && state_ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (
        status,
        [(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store")],
        format!("{body}\n"),
    )
        .into_response()
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    if let Some(db) = shared.state.get() {
        refresh_state_gauges(&shared, db).await;
    }
    (
        [
            (header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        shared.metrics.encode(),
    )
        .into_response()
}

/// Reads the outbox and subscriber counts into their gauges (two small
/// GROUP BY queries); on error or timeout the gauges keep their last values
/// and the failure is logged, so a scrape still answers.
async fn refresh_state_gauges(shared: &Shared, db: &crate::state::StateStore) {
    use crate::metrics::Metrics;
    let counts = tokio::time::timeout(STATE_PROBE, async { (db.outbox_counts().await, db.subscriber_counts().await) }).await;
    let Ok((outbox, subscribers)) = counts else {
        tracing::warn!("metrics: the state database did not answer within {} s", STATE_PROBE.as_secs());
        return;
    };
    let m = &shared.metrics;
    match outbox {
        Ok(c) => {
            for (status, n) in [("queued", c.queued), ("sending", c.sending), ("sent", c.sent), ("failed", c.failed)] {
                Metrics::set_status(&m.outbox, status, n);
            }
        }
        Err(e) => tracing::warn!("metrics: counting the outbox: {e}"),
    }
    match subscribers {
        Ok(rows) => {
            use crate::state::Status;
            // Every status gets a series, 0 when none has it, so a status
            // emptying shows as 0 rather than as its last value.
            for status in [Status::Pending, Status::Active, Status::Unsubscribed, Status::Bouncing] {
                let n = rows.iter().find(|(s, _)| *s == status).map_or(0, |(_, n)| *n);
                Metrics::set_status(&m.subscribers, status.as_str(), n);
            }
        }
        Err(e) => tracing::warn!("metrics: counting subscribers: {e}"),
    }
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

/// The per-connection service: cached documents straight from the cache,
/// the rest through the router.
#[derive(Clone)]
pub struct Hot {
    shared: Arc<Shared>,
    router: Router,
    /// The runtime routed requests run on (the service's main runtime:
    /// their handlers use its database pools and tasks), when the
    /// connection is served by one of [`serve`]'s per-core runtimes.
    routed_on: Option<tokio::runtime::Handle>,
    counters: Arc<HotCounters>,
    /// The client of this connection, handed to routed requests as axum's
    /// `ConnectInfo<SocketAddr>` (the subscription routes limit per IP).
    peer: Option<SocketAddr>,
}

/// Counters of the hot path, registered once (same series as the router's
/// metrics layer writes, so `/metrics` shows one set).
struct HotCounters {
    /// (route pattern, [200, 304])
    routes: Vec<(&'static str, [Counter; 2])>,
}

const HOT_ROUTES: [&str; 5] = ["/", "/feed.xml", "/atom.xml", "/feed.json", "/categories/{slug}/{file}"];

impl Hot {
    pub fn new(shared: Arc<Shared>, router: Router) -> Hot {
        let counter = |route: &str, status: u16| {
            shared
                .metrics
                .requests
                .get_or_create(&crate::metrics::RequestLabels { route: route.to_string(), status })
                .clone()
        };
        let routes = HOT_ROUTES.iter().map(|r| (*r, [counter(r, 200), counter(r, 304)])).collect();
        Hot { shared, router, routed_on: None, counters: Arc::new(HotCounters { routes }), peer: None }
    }

    /// This service for one connection from `peer`.
    pub fn for_peer(&self, peer: SocketAddr) -> Hot {
        Hot { peer: Some(peer), ..self.clone() }
    }

    fn count(&self, path: &str, status: StatusCode) {
        let route = match path {
            "/" | "/feed.xml" | "/atom.xml" | "/feed.json" => path,
            _ => "/categories/{slug}/{file}",
        };
        let Some((_, [ok, not_modified])) = self.counters.routes.iter().find(|(r, _)| *r == route) else { return };
        if status == StatusCode::NOT_MODIFIED {
            not_modified.inc();
            self.shared.metrics.not_modified.inc();
        } else {
            ok.inc();
        }
    }
}

/// The answer of [`Hot`]: ready at once, or the router's future.
pub enum HotFuture {
    Ready(Option<Response>),
    Routed(Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>),
}

impl Future for HotFuture {
    type Output = Result<Response, Infallible>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            HotFuture::Ready(r) => Poll::Ready(Ok(r.take().unwrap_or_default())),
            HotFuture::Routed(f) => f.as_mut().poll(cx),
        }
    }
}

impl hyper::service::Service<hyper::Request<hyper::body::Incoming>> for Hot {
    type Response = Response;
    type Error = Infallible;
    type Future = HotFuture;

    fn call(&self, req: hyper::Request<hyper::body::Incoming>) -> HotFuture {
        if req.method() == Method::GET || req.method() == Method::HEAD {
            let cache = self.shared.cache.load();
            let path = req.uri().path();
            let entry = if path == "/" { cache.index() } else { cache.feed(path) };
            if let Some(entry) = entry {
                let resp = answer(entry, req.method(), req.headers());
                self.count(path, resp.status());
                return HotFuture::Ready(Some(resp));
            }
        }
        let router = self.router.clone();
        let mut req = req.map(Body::new);
        if let Some(peer) = self.peer {
            req.extensions_mut().insert(ConnectInfo(peer));
        }
        let routed = tower::ServiceExt::oneshot(router, req);
        match &self.routed_on {
            None => HotFuture::Routed(Box::pin(routed)),
            Some(main) => {
                let task = main.spawn(routed);
                HotFuture::Routed(Box::pin(async move {
                    // A panicking handler: 500, as axum's own catch would.
                    Ok(task.await.map_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response(), |r| r.unwrap_or_else(|e| match e {})))
                }))
            }
        }
    }
}

/// Serves `app` on `listener` until `shutdown` turns true, then drains.
///
/// One accept loop per core, each on its own single-threaded runtime, as
/// nginx runs one worker per core: on the shared multi-threaded runtime
/// one worker waited in epoll for all connections and woke the other
/// through a futex to share the work, so under load the server used about
/// half a core while nginx used both (issue 6 profile). Requests that go
/// through the router still run on the calling (main) runtime. The
/// listening socket is shared; a loop holding more connections than the
/// others lets them take the next ones.
pub async fn serve(listener: TcpListener, app: Hot, limits: Limits, shutdown: watch::Receiver<bool>) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let app = Hot { routed_on: Some(tokio::runtime::Handle::current()), ..app };
    let live: Arc<[AtomicUsize]> = (0..cores).map(|_| AtomicUsize::new(0)).collect();
    let std_listener = match listener.into_std() {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("the HTTP listener cannot be shared between threads ({e}); serving on one");
            return;
        }
    };
    let mut done = Vec::new();
    for i in 0..cores {
        let started = (|| -> std::io::Result<tokio::sync::oneshot::Receiver<()>> {
            let listener = std_listener.try_clone()?;
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let (tx, rx) = tokio::sync::oneshot::channel();
            let (app, limits, shutdown, slots, live) = (app.clone(), limits.clone(), shutdown.clone(), slots.clone(), live.clone());
            std::thread::Builder::new().name(format!("bantin-http-{i}")).spawn(move || {
                rt.block_on(async move {
                    match TcpListener::from_std(listener) {
                        Ok(l) => accept_loop(l, app, limits, slots, shutdown, Balance { live, me: i }).await,
                        Err(e) => tracing::error!("HTTP thread {i}: cannot use the listener: {e}"),
                    }
                });
                drop(tx);
            })?;
            Ok(rx)
        })();
        match started {
            Ok(rx) => done.push(rx),
            Err(e) => tracing::error!("cannot start HTTP thread {i}: {e}"),
        }
    }
    if done.is_empty() {
        // No thread could start: serve from this runtime rather than not at all.
        match TcpListener::from_std(std_listener) {
            Ok(l) => accept_loop(l, app, limits, slots, shutdown, Balance { live, me: 0 }).await,
            Err(e) => tracing::error!("cannot serve HTTP: {e}"),
        }
        return;
    }
    drop(std_listener);
    for rx in done {
        let _ = rx.await;
    }
}

/// Connections held by each accept loop of [`serve`].
struct Balance {
    live: Arc<[AtomicUsize]>,
    me: usize,
}

impl Balance {
    /// Whether this loop holds more than its share, so it should let the
    /// others accept first (the kernel wakes every loop for a new client).
    fn ahead(&self) -> bool {
        let min = self.live.iter().map(|n| n.load(Ordering::Relaxed)).min().unwrap_or(0);
        self.live[self.me].load(Ordering::Relaxed) > min + 1
    }
}

async fn accept_loop(listener: TcpListener, app: Hot, limits: Limits, slots: Arc<Semaphore>, mut shutdown: watch::Receiver<bool>, balance: Balance) {
    let graceful = GracefulShutdown::new();
    let balance = Arc::new(balance);
    loop {
        if balance.ahead() {
            // Give the other loops a moment to take the next client; then
            // accept anyway rather than leave one waiting.
            tokio::select! {
                _ = shutdown.changed() => break,
                _ = tokio::time::sleep(Duration::from_millis(1)) => {}
            }
        }
        let permit = tokio::select! {
            _ = shutdown.changed() => break,
            p = Arc::clone(&slots).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = shutdown.changed() => break,
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = app.for_peer(peer);
        let watcher = graceful.watcher();
        let (limits, mut shutdown) = (limits.clone(), shutdown.clone());
        let balance = Arc::clone(&balance);
        balance.live[balance.me].fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            // Cached documents are answered by the front; the first other
            // request takes the connection to hyper. Client resets and
            // timeouts end here; they are not our errors.
            let front = front::serve(stream, &service, limits.header_read_timeout, limits.max_header_bytes, &mut shutdown).await;
            if let front::Front::Handover { stream, buffered } = front {
                let mut builder = hyper::server::conn::http1::Builder::new();
                builder
                    .timer(TokioTimer::new())
                    .header_read_timeout(limits.header_read_timeout)
                    .max_buf_size(limits.max_header_bytes.max(8192))
                    .keep_alive(true);
                let conn = builder.serve_connection(TokioIo::new(front::Rewind::new(buffered, stream)), service);
                let _ = watcher.watch(conn).await;
            }
            balance.live[balance.me].fetch_sub(1, Ordering::Relaxed);
            drop(permit);
        });
    }
    drop(listener);
    tracing::info!("stopped accepting connections; waiting for requests in flight");
    // hyper's connections are told to finish and close; the front's see
    // the shutdown signal themselves. Every connection holds a slot until
    // it ends, so all slots back means every connection of every loop is
    // done.
    let drained = async {
        graceful.shutdown().await;
        let _ = slots.acquire_many(u32::try_from(limits.max_connections).unwrap_or(u32::MAX)).await;
    };
    if tokio::time::timeout(limits.shutdown_grace, drained).await.is_err() {
        tracing::warn!(
            "requests still in flight after {} s; closing them",
            limits.shutdown_grace.as_secs()
        );
    }
}
