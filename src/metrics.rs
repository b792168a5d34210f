//! The service's counters, in the Prometheus text format for `/metrics`.
//! One registry per process; every room that counts something gets the
//! shared [`Metrics`] handle. Label values come from a small fixed set
//! (route patterns, status codes), never from request paths, so a crawler
//! cannot blow up the number of series.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    pub status: String,
}

/// The kinds of one counted event (the ways people leave, what became of
/// a sign-up), each with its label.
pub trait Kind: Copy + 'static {
    type Label: Clone + std::fmt::Debug + std::hash::Hash + Eq + EncodeLabelSet + Send + Sync + 'static;
    /// Every kind: each has its series from the start.
    const ALL: &'static [Self];
    fn label(self) -> Self::Label;
}

/// A counter per kind of one event. A clone counts into the same series;
/// the default counts into no registry (a CLI run has none).
#[derive(Debug)]
pub struct Tally<K: Kind>(Family<K::Label, Counter>);

impl<K: Kind> Clone for Tally<K> {
    fn clone(&self) -> Self {
        Tally(self.0.clone())
    }
}

impl<K: Kind> Default for Tally<K> {
    fn default() -> Self {
        Tally(Family::default())
    }
}

impl<K: Kind> Tally<K> {
    pub fn count(&self, kind: K) {
        self.0.get_or_create(&kind.label()).inc();
    }

    /// A tally registered as `name`, every kind at 0, so its series exists
    /// (and `rate()` works) before the first.
    fn registered(registry: &mut Registry, name: &str, help: &str) -> Tally<K> {
        let tally = Tally::default();
        registry.register(name, help, tally.0.clone());
        for kind in K::ALL {
            drop(tally.0.get_or_create(&kind.label()));
        }
        tally
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ViaLabel {
    pub via: String,
}

/// The way a subscriber left, as `bantin_unsubscribes_total` labels it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// A mail's unsubscribe link: the mail client's one-click button or
    /// the page's.
    Link,
    /// A mail to the List-Unsubscribe address.
    Mail,
    /// The admin API or console.
    Admin,
}

impl Kind for Via {
    type Label = ViaLabel;
    const ALL: &'static [Via] = &[Via::Link, Via::Mail, Via::Admin];

    fn label(self) -> ViaLabel {
        let via = match self {
            Via::Link => "link",
            Via::Mail => "mail",
            Via::Admin => "admin",
        };
        ViaLabel { via: via.to_string() }
    }
}

/// Unsubscribes, by the way they came.
pub type Unsubscribes = Tally<Via>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: String,
}

/// What became of a sign-up form posted with a good address, as
/// `bantin_signups_total` labels it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignUpOutcome {
    /// Handed to the sign-up worker (which mails a confirmation, or the
    /// preferences link of a subscriber already there).
    Taken,
    /// Its mailbox had `subscription.per_address_per_day` already.
    Limited,
    /// The hidden field was filled in: a program's.
    Trapped,
}

impl Kind for SignUpOutcome {
    type Label = OutcomeLabel;
    const ALL: &'static [SignUpOutcome] = &[SignUpOutcome::Taken, SignUpOutcome::Limited, SignUpOutcome::Trapped];

    fn label(self) -> OutcomeLabel {
        let outcome = match self {
            SignUpOutcome::Taken => "taken",
            SignUpOutcome::Limited => "limited",
            SignUpOutcome::Trapped => "trapped",
        };
        OutcomeLabel { outcome: outcome.to_string() }
    }
}

/// Sign-ups, by what became of them.
pub type SignUps = Tally<SignUpOutcome>;

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub not_modified: Counter,
    /// Connections closed at accept: their client already held
    /// `http.max_connections_per_ip`.
    pub refused_per_ip: Counter,
    /// Connections dropped because a response made no progress for
    /// `http.write_timeout` (a client that does not read).
    pub write_timeouts: Counter,
    pub generation: Gauge,
    pub articles: Gauge,
    pub article_errors: Gauge,
    pub watcher_events: Counter,
    pub rescans: Counter,
    pub feeds_rendered: Counter,
    /// When the service last heard of a store change (an event or a
    /// rescan), and when it last finished applying one: the gap between
    /// them is how long a change has waited to reach the feeds (an alert
    /// rule watches it; a stuck render loop shows as a growing gap).
    pub change_seen: Gauge<f64, AtomicU64>,
    pub change_applied: Gauge<f64, AtomicU64>,
    pub render_seconds: Histogram,
    /// Outbox rows by status, refreshed from the state database on scrape.
    pub outbox: Family<StatusLabel, Gauge>,
    /// Subscribers by status, refreshed from the state database on scrape.
    pub subscribers: Family<StatusLabel, Gauge>,
    /// Reports received at the return path and applied (`bantin_bounces_total`),
    /// by kind: hard, soft, delivered, complaint, ignored.
    pub bounces: Family<KindLabel, Counter>,
    /// Subscribers who unsubscribed (`bantin_unsubscribes_total`), by way:
    /// a spike after a digest is the readers' verdict on it.
    pub unsubscribes: Unsubscribes,
    /// Sign-up forms posted (`bantin_signups_total`), by outcome: many
    /// `trapped` is a form bot at work, many `limited` someone subscribing
    /// one victim again and again.
    pub sign_ups: SignUps,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("bantin");
        let requests = Family::<RequestLabels, Counter>::default();
        let not_modified = Counter::default();
        let (refused_per_ip, write_timeouts) = (Counter::default(), Counter::default());
        let generation = Gauge::default();
        let articles = Gauge::default();
        let article_errors = Gauge::default();
        let watcher_events = Counter::default();
        let rescans = Counter::default();
        let feeds_rendered = Counter::default();
        let (change_seen, change_applied) = (Gauge::<f64, AtomicU64>::default(), Gauge::<f64, AtomicU64>::default());
        let render_seconds = Histogram::new([0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]);
        registry.register("http_requests", "HTTP requests answered, by route pattern and status", requests.clone());
        registry.register("http_not_modified", "Requests answered 304 Not Modified", not_modified.clone());
        registry.register(
            "http_connections_refused_per_ip",
            "Connections closed at once because their client held http.max_connections_per_ip",
            refused_per_ip.clone(),
        );
        registry.register(
            "http_write_timeouts",
            "Connections dropped because a response made no progress for http.write_timeout",
            write_timeouts.clone(),
        );
        registry.register("catalog_generation", "Generation of the catalog being served", generation.clone());
        registry.register("catalog_articles", "Articles in the catalog being served", articles.clone());
        registry.register("catalog_article_errors", "Store files that could not be read as articles", article_errors.clone());
        registry.register("watcher_events", "File-system events received from the store watcher", watcher_events.clone());
        registry.register("store_rescans", "Full rescans of the store", rescans.clone());
        registry.register("feeds_rendered", "Feeds rendered (unchanged feeds are not rendered again)", feeds_rendered.clone());
        registry.register(
            "store_change_seen_timestamp_seconds",
            "Unix time the service last heard of a store change (watcher event or rescan)",
            change_seen.clone(),
        );
        registry.register(
            "store_change_applied_timestamp_seconds",
            "Unix time the service last finished applying store changes to the catalog and feeds",
            change_applied.clone(),
        );
        registry.register(
            "cache_refresh_seconds",
            "Time to render and compress the feeds of one catalog generation",
            render_seconds.clone(),
        );
        let outbox = Family::<StatusLabel, Gauge>::default();
        let subscribers = Family::<StatusLabel, Gauge>::default();
        registry.register("outbox_messages", "Messages in the outbox by status; sent: every message ever sent", outbox.clone());
        registry.register("subscribers", "Digest subscribers, by status", subscribers.clone());
        let bounces = Family::<KindLabel, Counter>::default();
        registry.register("bounces", "Bounce and complaint reports received, by kind", bounces.clone());
        let unsubscribes = Unsubscribes::registered(
            &mut registry,
            "unsubscribes",
            "Subscribers who unsubscribed, by way: link (a mail's one-click or page button), mail (the List-Unsubscribe address), admin",
        );
        let sign_ups = SignUps::registered(
            &mut registry,
            "signups",
            "Sign-up forms posted with a good address, by outcome: taken (handed on to be mailed), limited (its mailbox's daily limit reached), trapped (the hidden field filled in: a program)",
        );
        Metrics {
            unsubscribes,
            sign_ups,
            bounces,
            registry,
            outbox,
            subscribers,
            requests,
            not_modified,
            refused_per_ip,
            write_timeouts,
            generation,
            articles,
            article_errors,
            watcher_events,
            rescans,
            feeds_rendered,
            change_seen,
            change_applied,
            render_seconds,
        }
    }

    /// Now, as a Unix time in seconds, for the `_timestamp_seconds` gauges.
    pub fn unix_now() -> f64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
    }

    /// Sets one `{status="…"}` gauge of a family.
    pub fn set_status(family: &Family<StatusLabel, Gauge>, status: &str, n: i64) {
        family.get_or_create(&StatusLabel { status: status.to_string() }).set(n);
    }

    pub fn count_request(&self, route: &str, status: u16) {
        self.requests.get_or_create(&RequestLabels { route: route.to_string(), status }).inc();
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Encoding into a String only fails if a metric's own encoder does,
        // which the built-in types never do.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
