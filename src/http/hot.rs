//! [`Hot`], the per-connection hyper service after a hand-over from the
//! front: GET/HEAD of a cached document is answered straight from the
//! cache with pre-registered counters; everything else goes to the router.

use super::*;

/// The per-connection service: cached documents straight from the cache,
/// the rest through the router.
#[derive(Clone)]
pub struct Hot {
    pub(super) shared: Arc<Shared>,
    pub(super) router: Router,
    /// The runtime routed requests run on (the service's main runtime:
    /// their handlers use its database pools and tasks), when the
    /// connection is served by one of [`serve`]'s per-core runtimes.
    pub(super) routed_on: Option<tokio::runtime::Handle>,
    pub(super) counters: Arc<HotCounters>,
    /// The TCP peer of this connection; routed requests get their client
    /// (this peer, or whom a trusted proxy names) as axum's
    /// `ConnectInfo<SocketAddr>` (the subscription routes limit per IP).
    pub(super) peer: Option<SocketAddr>,
    pub(super) proxies: Arc<Proxies>,
}

/// Counters of the hot path, registered once (same series as the router's
/// metrics layer writes, so `/metrics` shows one set).
pub(super) struct HotCounters {
    /// (route pattern, [200, 304])
    routes: Vec<(&'static str, [Counter; 2])>,
}

const HOT_ROUTES: [&str; 10] = [
    "/",
    "/feed.xml",
    "/atom.xml",
    "/feed.json",
    "/categories/{slug}/{file}",
    "/tags/{slug}/{file}",
    "/authors/{slug}/{file}",
    "/feeds.opml",
    "/sitemap-news.xml",
    "/robots.txt",
];

impl Hot {
    pub fn new(shared: Arc<Shared>, router: Router, proxies: Proxies) -> Hot {
        let counter = |route: &str, status: u16| {
            shared
                .metrics
                .requests
                .get_or_create(&crate::metrics::RequestLabels { route: route.to_string(), status })
                .clone()
        };
        let routes = HOT_ROUTES.iter().map(|r| (*r, [counter(r, 200), counter(r, 304)])).collect();
        Hot { shared, router, routed_on: None, counters: Arc::new(HotCounters { routes }), peer: None, proxies: Arc::new(proxies) }
    }

    /// This service for one connection from `peer`.
    pub fn for_peer(&self, peer: SocketAddr) -> Hot {
        Hot { peer: Some(peer), ..self.clone() }
    }

    pub(super) fn count(&self, path: &str, status: StatusCode) {
        let route = match path {
            "/" | "/feed.xml" | "/atom.xml" | "/feed.json" | "/feeds.opml" | "/sitemap-news.xml" | "/robots.txt" => path,
            _ if path.starts_with("/tags/") => "/tags/{slug}/{file}",
            _ if path.starts_with("/authors/") => "/authors/{slug}/{file}",
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
        let cache = self.shared.cache.load();
        // A feed's first request renders it: the router's (blocking) task.
        if (req.method() == Method::GET || req.method() == Method::HEAD) && !cache.pending(req.uri().path()) {
            let path = req.uri().path();
            let dest = req.headers().get("sec-fetch-dest").and_then(|v| v.to_str().ok());
            let accept_language = req.headers().get("accept-language").and_then(|v| v.to_str().ok());
            let english = super::negotiate::english(req.uri().query(), accept_language);
            let entry = cache.document_in(path, navigation(dest), english);
            if let Some(entry) = entry {
                let resp = answer(entry, req.method(), req.headers());
                self.count(path, resp.status());
                return HotFuture::Ready(Some(resp));
            }
        }
        let router = self.router.clone();
        let mut req = req.map(Body::new);
        if let Some(peer) = self.peer {
            let client = self.proxies.client(peer, req.headers());
            req.extensions_mut().insert(ConnectInfo(client));
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

