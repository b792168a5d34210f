//! `bantin serve` as a library call: [`run`] takes validated settings, a
//! bound listener and a [`Control`] (when to stop, settings to reload), so
//! the binary only parses arguments, loads config, binds and maps errors to
//! exit codes, and tests start the whole service in-process the same way.
//!
//! Start-up: follow the store (watcher or SQL follower, before the first
//! read) → open the state database and the digest side → start the WebSub
//! publisher → read the store and render everything → service loop, store
//! follower, watchdog, digest scheduler, HTTP server → `listening on ADDR`
//! → `READY=1`. Everything it starts stops on one shutdown channel.

mod admin;
mod control;
mod idle;
pub mod core;
pub mod restart;

pub use control::Control;

use crate::config::Settings;
use crate::live::{Following, ReadError, StartError};
use crate::newsletter::{Digests, SchedulerOptions};
use crate::shared::Shared;
use crate::{http, subscription, systemd};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};

/// How long background work may take to stop after a stop request.
const STOP_BOUND: Duration = Duration::from_secs(10);

/// Why the service could not start. The binary maps each to its exit code
/// ([`ServeError::is_unavailable`]: 69; a store that does not match its
/// mapping: 78; anything else: 74).
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Store(#[from] StartError),
    #[error("cannot start the subscriptions and digests: {0}")]
    Digests(#[from] crate::newsletter::DigestError),
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("{0}")]
    Runtime(String),
    #[error(transparent)]
    Admin(crate::admin::auth::TokenError),
}

impl ServeError {
    /// A database (the SQL store's or the state's) out of reach: exit 69.
    pub fn is_unavailable(&self) -> bool {
        match self {
            ServeError::Store(StartError::Sql(e)) => e.is_unavailable(),
            ServeError::Digests(_) => true,
            ServeError::Read(e) => e.is_unavailable(),
            _ => false,
        }
    }

    /// The SQL store's table does not match the mapping: exit 78.
    pub fn is_config(&self) -> bool {
        matches!(self, ServeError::Store(StartError::Sql(e)) if !e.is_unavailable()) || matches!(self, ServeError::Admin(_))
    }
}

/// Timing knobs of the background work: the defaults in production; tests
/// shorten them ([`Options::from_env`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    pub scheduler: SchedulerOptions,
    /// The first WebSub retry delay (2 s unless set).
    pub websub_retry: Option<Duration>,
}

impl Options {
    /// The defaults, or for tests `BANTIN_WEBSUB_RETRY_MS` (a short first
    /// WebSub retry), `BANTIN_DIGEST_POLL_MS` (a shorter outbox poll) and
    /// `BANTIN_DIGEST_AT` (RFC 3339: the scheduler's clock starts there,
    /// like `digest run --at`).
    pub fn from_env() -> Options {
        let millis = |name: &str| std::env::var(name).ok().and_then(|v| v.parse().ok()).map(Duration::from_millis);
        let mut o = Options { websub_retry: millis("BANTIN_WEBSUB_RETRY_MS"), ..Options::default() };
        if let Some(poll) = millis("BANTIN_DIGEST_POLL_MS") {
            o.scheduler.poll = poll;
        }
        if let Ok(at) = std::env::var("BANTIN_DIGEST_AT") {
            match chrono::DateTime::parse_from_rfc3339(&at) {
                Ok(t) => o.scheduler.start_at = Some(t.with_timezone(&chrono::Utc)),
                Err(e) => tracing::warn!("BANTIN_DIGEST_AT {at:?} is not an RFC 3339 time ({e}); using the clock"),
            }
        }
        o
    }
}

/// Runs the service on `listener` until `control` says stop. A stop
/// request while the store is still loading ends it at once, with `Ok`.
pub async fn run(settings: Settings, listener: TcpListener, mut control: Control, options: Options) -> Result<(), ServeError> {
    let addr = listener.local_addr().map_err(|e| ServeError::Runtime(format!("reading the listening address: {e}")))?;
    let admin_tokens = admin::tokens(&settings)?;
    let (shutdown_tx, shutdown) = watch::channel(false);
    let following = Following::start(&settings).await?;
    let shared = Shared::new(&settings);
    let digests = start_digests(&settings, &shared, &shutdown, &options).await?;

    systemd::status("loading the store");
    let started = std::time::Instant::now();
    let load = load(&settings, &shared, &following, digests.composer.shared_templates());
    let core = tokio::select! {
        core = load => core?,
        _ = &mut control.shutdown => { tracing::info!("stop requested while loading: exiting"); return Ok(()); }
    };
    tracing::info!(
        articles = core.catalog.len(),
        errors = core.catalog.errors().len(),
        ms = started.elapsed().as_millis() as u64,
        store = %settings.store.shown(),
        "catalog loaded"
    );
    crate::malloc::settle_after_load();

    let limits = http::Limits::new(&settings.http);
    let router = http::routes(shared.clone())
        .merge(http::not_for_search_engines(subscription::routes(Arc::clone(&digests))))
        .merge(crate::archive::routes(Arc::clone(&digests)));
    let (router, admin_server) = admin::mount(&settings, admin_tokens, &digests, router, &limits, &shared, shutdown.clone()).await?;
    let proxies = http::Proxies::new(&settings.http);
    let app = http::Hot::new(shared.clone(), http::finish(router, shared.clone(), &limits), proxies);
    let (tx, rx) = mpsc::unbounded_channel();
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(core::run(core, rx, shutdown.clone()));
    let (seen_tx, seen_rx) = mpsc::unbounded_channel();
    tasks.spawn(following.run(seen_tx, shutdown.clone()));
    tasks.spawn(stamp_changes(seen_rx, tx.clone(), Arc::clone(&shared)));
    tasks.spawn(systemd::watchdog(shutdown.clone()));
    tasks.spawn(crate::newsletter::run_scheduler_with(Arc::clone(&digests), shutdown.clone(), options.scheduler));
    if let Some(receiving) = receive_bounces(&settings, &digests, &shared, &shutdown).await? {
        tasks.spawn(receiving);
    }
    let server = tokio::spawn(http::serve(listener, app, limits, shutdown.clone()));

    tracing::info!("listening on {addr}");
    systemd::ready();
    follow_control(settings, &mut control, &tx).await;

    systemd::stopping();
    let _ = shutdown_tx.send(true);
    let stopped = tokio::time::timeout(STOP_BOUND, async {
        let _ = server.await;
        if let Some(admin) = admin_server {
            let _ = admin.await;
        }
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if stopped.is_err() {
        tracing::warn!("background work did not stop within {} s; exiting anyway", STOP_BOUND.as_secs());
    }
    tracing::info!("stopped");
    Ok(())
}

/// The inbound SMTP listener of `bounces.listen`, if set.
async fn receive_bounces(
    settings: &Settings,
    digests: &Digests,
    shared: &Shared,
    shutdown: &watch::Receiver<bool>,
) -> Result<Option<impl std::future::Future<Output = ()> + Send + 'static>, ServeError> {
    let bounces = crate::bounces::Bounces::new(digests.state.clone(), digests.composer.key().clone(), settings).with_metrics(&shared.metrics);
    crate::bounces::listen_for(settings, bounces, shutdown.clone())
        .await
        .map_err(|e| ServeError::Runtime(format!("bounces.listen: cannot listen: {e}")))
}

/// The subscription side: its state database must open, else the service
/// is unavailable (as a port it cannot bind). Its catalog is the one the
/// feeds are rendered from.
async fn start_digests(
    settings: &Settings,
    shared: &Arc<Shared>,
    shutdown: &watch::Receiver<bool>,
    options: &Options,
) -> Result<Arc<Digests>, ServeError> {
    let digests = Digests::open(Arc::new(settings.clone()), shared.catalog_source()).await?;
    digests.count_in(&shared.metrics);
    // Set once, before anything reads them.
    let _ = shared.state.set(digests.state.clone());
    let retry = options.websub_retry.unwrap_or(Duration::from_secs(2));
    let _ = shared.websub.set(crate::websub::Publisher::spawn(shutdown.clone(), retry));
    // What the configuration lacks for bulk mail, said once where the
    // operator reads (`bantin check` prints the same).
    for advice in settings.advice() {
        tracing::warn!("{advice}");
    }
    // DESIGN.md lists SMTP down at start under exit 69; `digest run` does
    // exit 69, but the service keeps serving feeds (readers should not lose
    // them to a mail outage): mail waits in the outbox and is retried. The
    // operator hears of it at once rather than at the first failed send.
    let check = Arc::clone(&digests);
    tokio::spawn(async move {
        if let Err(e) = check.mailer.check_connection().await {
            tracing::warn!(error = %e, "the SMTP relay does not answer at start; mail waits in the outbox and is retried");
        }
    });
    Ok(digests)
}

/// Reads the whole store and renders every feed (blocking work).
async fn load(
    settings: &Settings,
    shared: &Arc<Shared>,
    following: &Following,
    templates: Arc<crate::templates::Templates>,
) -> Result<core::Core, ServeError> {
    let store = following.read(settings).await?;
    let (settings, shared) = (settings.clone(), shared.clone());
    tokio::task::spawn_blocking(move || core::Core::start(settings, shared, store, templates))
        .await
        .map_err(|e| ServeError::Runtime(format!("rendering the feeds: {e}")))
}

/// Applies reloads until a stop request: each one's restart-only changes
/// are logged and left out ([`restart::applicable`]), the rest goes to the
/// service loop, and `READY=1` follows once the feeds are rendered.
/// Passes the store follower's commands on to the service loop, stamping
/// `bantin_store_change_seen_timestamp_seconds` as each arrives, before the
/// loop takes it: a loop that is stuck shows as a growing gap between it and
/// `…_applied_…`, which an alert rule watches. Ends with the follower.
async fn stamp_changes(
    mut from: mpsc::UnboundedReceiver<crate::live::Command>,
    to: mpsc::UnboundedSender<crate::live::Command>,
    shared: Arc<Shared>,
) {
    while let Some(command) = from.recv().await {
        shared.metrics.change_seen.set(crate::metrics::Metrics::unix_now());
        if to.send(command).is_err() {
            break;
        }
    }
}

async fn follow_control(mut running: Settings, control: &mut Control, tx: &mpsc::UnboundedSender<crate::live::Command>) {
    loop {
        tokio::select! {
            _ = &mut control.shutdown => break,
            new = control.reload.recv() => {
                let Some(new) = new else {
                    // Nobody can ask for a reload any more: wait for the stop.
                    (&mut control.shutdown).await;
                    break;
                };
                let new = restart::applicable(&running, new);
                let (done_tx, done_rx) = oneshot::channel();
                if tx.send(crate::live::Command::Reload(Box::new(new.clone()), done_tx)).is_ok() {
                    let _ = done_rx.await;
                }
                tracing::info!(file = %new.file.display(), "configuration reloaded");
                running = new;
                systemd::ready();
            }
        }
    }
}
