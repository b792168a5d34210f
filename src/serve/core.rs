//! The service core: owns the live store, turns store changes into catalog
//! generations and catalog generations into feed caches, and publishes each
//! cache to the HTTP side with one atomic swap ([`run`] is its loop).
//!
//! Invariants:
//! - one new generation per batch of changes (a debounce batch, a rescan,
//!   or several of them that queued while the previous one was rendering);
//!   a batch that changes no article makes no generation at all;
//! - an article that did not change stays the same `Arc` across
//!   generations, so the cache can skip its feeds without comparing bytes;
//! - a future-dated article appears on time: a refresh is scheduled at the
//!   catalog's next publication instant (or when an article leaves the news
//!   sitemap's two days, if that is sooner);
//! - the request path never waits on any of this; it reads whichever cache
//!   was published last.
//!
//! (What a file or row that fails to parse, or a missing store folder,
//! becomes is the live store's: `crate::live`.)

use super::idle::{self, IndexJob};
use crate::cache;
use crate::catalog::Catalog;
use crate::config::Settings;
use crate::feeds::{sitemap, FeedSettings};
use crate::live::dir::StoreState;
use crate::templates::Templates;
use crate::live::{sleep_until_or_never, Command, Rows, Store};
use crate::now_in;
use crate::shared::Shared;
use crate::store::Context;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// Everything the loop carries from one generation to the next.
pub struct Core {
    pub settings: Settings,
    pub store: Store,
    pub catalog: Arc<Catalog>,
    pub shared: Arc<Shared>,
    /// The templates the index page is rendered with (`mail.templates_dir`).
    templates: Arc<Templates>,
    /// The idle worker: final forms, index pages and old generations'
    /// drops after a change; held off while a batch is rendered.
    idle: idle::Worker,
}

impl Core {
    /// Takes the store as first read, renders every feed and publishes the
    /// first cache (its brotli forms follow from the worker). Blocking: run
    /// it on a blocking thread.
    pub fn start(settings: Settings, shared: Arc<Shared>, mut store: Store, templates: Arc<Templates>) -> Core {
        let catalog = Arc::new(store.catalog(1));
        // Each bad file once in the log, as later ones are when they appear.
        for e in catalog.errors() {
            tracing::warn!("skipped {e}");
        }
        let idle = idle::spawn_worker(Arc::clone(&shared));
        let mut core = Core { settings, store, catalog, shared, templates, idle };
        core.publish(true);
        core
    }

    /// Renders the cache for the current catalog (only what changed unless
    /// `all`) and swaps it in.
    ///
    /// After a change, the feeds it touches are swapped in as soon as they
    /// are rendered, and the index pages (vi and en, 1-7 ms at 100k
    /// articles) in a second swap, made by the idle worker: a feed reader
    /// polls feeds, not `/`, so the index page lags its feeds by its own
    /// render. With `all` (start, reload) there is no previous page to show
    /// meanwhile: one swap. The generation replaced is dropped by the idle
    /// worker too.
    fn publish(&mut self, all: bool) {
        let feed_settings = FeedSettings::from_settings(&self.settings).with_templates(Arc::clone(&self.templates));
        let now = now_in(&self.settings);
        let served = self.shared.cache.load_full();
        let prev = if all || !served.is_loaded() { None } else { Some(served.as_ref()) };
        let (next, stats) = match prev {
            Some(_) => cache::refresh_feeds(prev, &self.catalog, &feed_settings, now),
            // A reload: every feed rendered again, its Last-Modified past
            // the one served (the settings may have changed its bytes).
            None if served.is_loaded() => cache::refresh_all(&served, &self.catalog, &feed_settings, now),
            None => cache::refresh(None, &self.catalog, &feed_settings, now),
        };
        let m = &self.shared.metrics;
        m.render_seconds.observe(stats.elapsed.as_secs_f64());
        m.feeds_rendered.inc_by(stats.rendered as u64);
        m.generation.set(self.catalog.generation as i64);
        m.articles.set(self.catalog.len() as i64);
        m.article_errors.set(self.catalog.errors().len() as i64);
        let next = Arc::new(next);
        let changed = match (&self.settings.feeds.websub_hub, self.shared.websub.get()) {
            (Some(_), Some(_)) => next.changed_paths(prev),
            _ => Vec::new(),
        };
        self.shared.catalog.store(Arc::clone(&self.catalog));
        self.shared.cache.store(Arc::clone(&next));
        if let (Some(hub), Some(publisher)) = (&self.settings.feeds.websub_hub, self.shared.websub.get()) {
            let public = &self.settings.http.public_url;
            publisher.notify(hub, changed.iter().filter_map(|p| public.join(p).ok()).map(String::from).collect());
        }
        if prev.is_some() {
            // The index pages follow on the idle worker: nothing polls them.
            self.idle.index(IndexJob { catalog: Arc::clone(&self.catalog), settings: feed_settings, now });
        } else if next.needs_finishing() {
            self.idle.wake();
        }
        self.idle.retire(served);
        tracing::info!(
            generation = self.catalog.generation,
            articles = self.catalog.len(),
            errors = self.catalog.errors().len(),
            rendered = stats.rendered,
            deferred = stats.deferred,
            warmed = stats.warmed,
            kept = stats.kept,
            dropped = stats.dropped,
            ms = stats.elapsed.as_millis() as u64,
            "feeds published"
        );
    }

    /// Applies a batch of commands that are all store changes.
    fn apply(&mut self, paths: &[PathBuf], rows: &Rows, rescan: bool) {
        let started = std::time::Instant::now();
        let applied = self.store.apply(paths, rows, rescan);
        let read = started.elapsed();
        if !applied.changed {
            tracing::debug!("store batch changed no article");
            return;
        }
        let before: BTreeSet<String> = self
            .catalog
            .errors()
            .iter()
            .map(|e| e.to_string())
            .collect();
        self.catalog = Arc::new(self.store.next_catalog(&self.catalog));
        let cataloged = started.elapsed();
        for e in self.catalog.errors() {
            let text = e.to_string();
            if !before.contains(&text) {
                tracing::warn!("skipped {text}");
            }
        }
        self.publish(false);
        tracing::debug!(
            paths = paths.len(),
            rescan,
            read_us = read.as_micros() as u64,
            catalog_us = (cataloged - read).as_micros() as u64,
            publish_us = (started.elapsed() - cataloged).as_micros() as u64,
            "store batch applied"
        );
    }

    /// Takes new settings, whose restart-only values [`super::restart`]
    /// already set back to the running ones. Changes that need a new parse
    /// context re-read the whole store.
    fn reload(&mut self, settings: Settings) {
        let old_ctx = Context::from_settings(&self.settings.site);
        let ctx = Context::from_settings(&settings.site);
        let reparse = old_ctx.timezone != ctx.timezone
            || old_ctx.base_url != ctx.base_url
            || old_ctx.article_url != ctx.article_url;
        self.settings = settings;
        if reparse {
            match &mut self.store {
                Store::Dir(_) => self.store = Store::Dir(StoreState::load(&self.settings.store.path, &ctx)),
                Store::Table(t) => {
                    t.set_context(ctx);
                    t.refresh();
                }
            }
        }
        self.catalog = Arc::new(self.store.catalog(self.catalog.generation + 1));
        self.publish(true);
    }
}

/// The service loop: waits for store changes, reloads and publication
/// instants, and runs each piece of work on a blocking thread. Returns when
/// `shutdown` turns true (after the piece of work in progress, if any).
pub async fn run(mut core: Core, mut rx: mpsc::UnboundedReceiver<Command>, mut shutdown: watch::Receiver<bool>) {
    loop {
        // A future article's publication, or an article aging out of the
        // news sitemap: the feeds change with no change to the store.
        let next = sitemap::next_change(&core.catalog, core.settings.feeds.news_sitemap, now_in(&core.settings));
        let wait = next.map(|at| {
            let d = (at - now_in(&core.settings)).to_std().unwrap_or_default();
            // A second late rather than early: a publication instant must be
            // in the past when the refresh looks at the clock.
            tokio::time::Instant::now() + d + std::time::Duration::from_millis(50)
        });
        let timer = sleep_until_or_never(wait);
        let first = tokio::select! {
            _ = shutdown.changed() => break,
            cmd = rx.recv() => match cmd {
                Some(cmd) => Some(cmd),
                None => break,
            },
            _ = timer => None,
        };
        let mut batch = Vec::new();
        if let Some(cmd) = first {
            batch.push(cmd);
            // Everything that queued meanwhile goes into the same generation.
            while let Ok(cmd) = rx.try_recv() {
                batch.push(cmd);
            }
        }
        let mut paths = Vec::new();
        let mut rescan = false;
        let mut rows = Rows::default();
        let mut reloads = Vec::new();
        for cmd in batch.drain(..) {
            match cmd {
                Command::Changed(p) => {
                    core.shared.metrics.watcher_events.inc_by(p.len() as u64);
                    paths.extend(p);
                }
                Command::Rescan(reason) => {
                    tracing::debug!(reason, "rescanning the store");
                    core.shared.metrics.rescans.inc();
                    rescan = true;
                }
                Command::Rows(k) => rows.keys.extend(k),
                Command::Poll => rows.poll = true,
                Command::Reload(settings, done) => reloads.push((settings, done)),
            }
        }
        let some_rows = !rows.keys.is_empty() || rows.poll;
        let timed = paths.is_empty() && !some_rows && !rescan && reloads.is_empty();
        let store_changed = !paths.is_empty() || some_rows || rescan;
        let result = tokio::task::spawn_blocking(move || {
            // The idle worker starts no step until this batch is out.
            let hold = core.idle.hold();
            if timed {
                // A scheduled article's time has come: same catalog, new `now`.
                core.publish(false);
            }
            if store_changed {
                core.apply(&paths, &rows, rescan);
            }
            let mut acks = Vec::new();
            for (settings, done) in reloads {
                core.reload(*settings);
                acks.push(done);
            }
            drop(hold);
            (core, acks)
        })
        .await;
        match result {
            Ok((c, acks)) => {
                core = c;
                if store_changed {
                    core.shared.metrics.change_applied.set(crate::metrics::Metrics::unix_now());
                }
                for done in acks {
                    let _ = done.send(());
                }
            }
            Err(e) => {
                // A panic in a renderer is a bug; the process cannot go on
                // without its state, so let systemd restart it.
                tracing::error!("the service loop failed: {e}; exiting so the service manager restarts bantin");
                std::process::exit(70);
            }
        }
    }
}

