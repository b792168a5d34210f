//! Tag and author feeds, rendered on demand. A 100k store with tags and
//! authors on has ~6,000 such feeds, nearly all of which nobody fetches
//! between two changes; rendering them all at refresh took 27 s and
//! ~850 MB (bench/HISTORY.md). So a refresh keeps for each of them only
//! its [`Source`](super::Source) (what decides freshness) and an empty
//! cell; the first request renders and gzips it, and the cell is carried
//! over to later generations as long as the scope's items do not change
//! (a touched scope gets a fresh, empty cell).
//!
//! A feed a reader asked for since its items last changed ([`Asked`]) is
//! the exception: the next change that touches it renders it at refresh,
//! beside the eager feeds, since its reader polls it and will be back (a
//! first request after a change waited 5-13 ms for the render at 100k,
//! bench/HISTORY.md, stop 42). At most [`WARM_LIMIT`] a refresh, so a
//! change of every tag costs no more than a few articles' change.
//!
//! The ETag stays a hash of the bytes, so it is the same whichever
//! generation or process renders them. Lazy feeds get no brotli form (the
//! idle worker compresses only what a refresh rendered): `br` clients
//! get gzip, as they do for any feed until the worker is done.

use super::headers::feed_headers;
use super::{Entry, Source};
use crate::catalog::Scope;
use crate::feeds::{self, FeedId, FeedSettings, Pieces, Used};
use http::HeaderValue;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use chrono::{DateTime, FixedOffset};
use std::time::SystemTime;

/// Whether feeds of `scope` are rendered on first request rather than at
/// refresh: tags and authors (many, rarely fetched); the site and its
/// categories (few, fetched by every reader) stay eager.
pub(super) fn on_demand(scope: &Scope) -> bool {
    matches!(scope, Scope::Tag(_) | Scope::Author(_))
}

/// How many on-demand feeds a refresh renders because a reader asked for
/// them ([`Asked`]): a change of a few articles touches a dozen tag and
/// author feeds at most (3 formats of each scope), a change of the whole
/// store thousands, of which the rest wait for their readers as before.
pub const WARM_LIMIT: usize = 48;

/// Whether a reader asked for a feed since its items last changed: shared
/// by the generations that carry the feed over, new with each render.
#[derive(Debug, Clone, Default)]
pub(super) struct Asked(Arc<AtomicBool>);

impl Asked {
    /// Notes a request (a load alone once noted: the request path of a
    /// polled feed writes no shared memory).
    pub(super) fn mark(&self) {
        if !self.0.load(Ordering::Relaxed) {
            self.0.store(true, Ordering::Relaxed);
        }
    }

    pub(super) fn was(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// A feed's bytes: rendered at refresh, or a cell the first request fills.
#[derive(Debug, Clone)]
pub(super) enum Body {
    Ready(Arc<Entry>),
    /// The cell, and the feed's Last-Modified (known without rendering).
    OnDemand(Arc<OnceLock<Arc<Entry>>>, DateTime<FixedOffset>),
}

impl Body {
    /// An empty cell for a feed whose Last-Modified is `modified`.
    pub(super) fn empty(modified: DateTime<FixedOffset>) -> Body {
        Body::OnDemand(Arc::default(), modified)
    }

    /// The entry if it is rendered (always, for an eager feed).
    pub(super) fn rendered(&self) -> Option<&Arc<Entry>> {
        match self {
            Body::Ready(e) => Some(e),
            Body::OnDemand(cell, _) => cell.get(),
        }
    }

    pub(super) fn modified_at(&self) -> SystemTime {
        match self {
            Body::Ready(e) => e.modified_at,
            Body::OnDemand(_, at) => super::to_system_time(*at),
        }
    }

    /// Whether `self` may differ from `old`: for on-demand feeds, whether
    /// the cell is a new one (what a WebSub hub is told; no render needed).
    pub(super) fn changed_from(&self, old: &Body) -> bool {
        match (self, old) {
            (Body::Ready(a), Body::Ready(b)) => a.hash != b.hash,
            (Body::OnDemand(a, _), Body::OnDemand(b, _)) => !Arc::ptr_eq(a, b),
            _ => true,
        }
    }
}

/// What an on-demand render needs beyond the feed's source.
#[derive(Debug)]
pub(super) struct Renderer {
    pub(super) settings: FeedSettings,
    pub(super) hub: Option<HeaderValue>,
    /// The items' pieces of the last refresh after a change, for the next
    /// one and for on-demand renders to take.
    pub(super) pieces: Arc<Shelf>,
}

/// Where the items' pieces of the last refresh after a change wait for
/// the next: one shelf for the generations of one set of feed settings (a
/// start or a reload puts up a new one). The generations share it, rather
/// than each holding its own, so that a refresh's pieces replace the last
/// ones at its end and not when the old generation is dropped (by the idle
/// worker, later): one set of a site's and a category's items in memory
/// beside the few a change renders, not two or three.
#[derive(Debug, Default)]
pub(super) struct Shelf(Mutex<Pieces>);

impl Shelf {
    pub(super) fn get(&self) -> Pieces {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub(super) fn put(&self, pieces: Pieces) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = pieces;
    }
}

impl Renderer {
    /// The entry of `feed`, rendered into its cell by the first caller.
    pub(super) fn get<'a>(&self, feed: &FeedId, source: &Source, body: &'a Body) -> &'a Arc<Entry> {
        match body {
            Body::Ready(e) => e,
            Body::OnDemand(cell, modified) => {
                cell.get_or_init(|| Arc::new(self.render(feed, source, *modified, Entry::new, Some(&self.pieces.get())).0))
            }
        }
    }

    /// The feed's entry, with the Last-Modified its refresh gave it, its
    /// bytes compressed by `make` ([`Entry::new`], or [`Entry::quick`] for
    /// a refresh after a change, whose final form the idle worker makes);
    /// with `known`, from pieces (taking those it has) and with its items'
    /// pieces, else whole ([`feeds::render_named`]).
    pub(super) fn render(
        &self,
        feed: &FeedId,
        source: &Source,
        modified: DateTime<FixedOffset>,
        make: fn(Vec<u8>, &'static str, DateTime<FixedOffset>) -> Entry,
        known: Option<&Pieces>,
    ) -> (Entry, Vec<Used>) {
        let (items, title) = (&source.items, source.title.as_deref());
        let (bytes, used) = match known {
            Some(known) => feeds::render_known(feed, items, title, &self.settings, known),
            None => (feeds::render_named(feed, items, title, &self.settings), Vec::new()),
        };
        let (vary, links) = feed_headers(feed, &self.settings, self.hub.as_ref());
        (make(bytes, feed.format.content_type(), modified).with_headers(vary, links), used)
    }
}
