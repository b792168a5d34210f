//! What `bantin serve` publishes to its readers: the feed cache and the
//! catalog it was rendered from (one atomic swap each), the counters, and
//! handles set once at start (state database, WebSub publisher). The HTTP
//! side and the digest runtime read it; only the service loop writes it.

use crate::cache::FeedCache;
use crate::catalog::Catalog;
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::store::Context;
use arc_swap::ArcSwap;
use std::sync::Arc;

/// What the HTTP side and the digest scheduler read: the published cache
/// and catalog (one swap each, the catalog first, so a reader never sees a
/// cache newer than the catalog), the counters, and the state database
/// when the subscription side runs (set once at start, before serving).
pub struct Shared {
    pub cache: ArcSwap<FeedCache>,
    pub catalog: ArcSwap<Catalog>,
    pub metrics: Metrics,
    pub state: std::sync::OnceLock<crate::state::StateStore>,
    /// Set once at start when `serve` runs the WebSub publisher.
    pub websub: std::sync::OnceLock<crate::websub::Publisher>,
    /// The state database's last answers to the probes (`/healthz`,
    /// `/metrics`), reused for a few seconds; held while one is asked, so
    /// that a flood of probes waits for one query instead of making many.
    pub state_probe: tokio::sync::Mutex<StateProbe>,
}

/// When the state database was last pinged (and its answer) and counted.
#[derive(Debug, Default)]
pub struct StateProbe {
    pub pinged: Option<(std::time::Instant, Result<(), String>)>,
    pub counted: Option<std::time::Instant>,
}

impl Shared {
    /// Empty until the first catalog is published (generation 0).
    pub fn new(settings: &Settings) -> Arc<Shared> {
        let empty = Catalog::from_shared(Vec::new(), Vec::new(), &Context::from_settings(&settings.site), 0);
        Arc::new(Shared {
            cache: ArcSwap::from_pointee(FeedCache::default()),
            catalog: ArcSwap::from_pointee(empty),
            metrics: Metrics::new(),
            state: std::sync::OnceLock::new(),
            websub: std::sync::OnceLock::new(),
            state_probe: tokio::sync::Mutex::default(),
        })
    }

    /// The catalog being served, for the digests: the same generation the
    /// feeds were rendered from, without a second store scan.
    pub fn catalog_source(self: &Arc<Self>) -> crate::newsletter::CatalogSource {
        let shared = Arc::clone(self);
        Arc::new(move || shared.catalog.load_full())
    }
}

