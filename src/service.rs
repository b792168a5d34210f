//! The service core: owns what the store holds (every article file's, or
//! every table row's, parsed result), turns store changes into catalog generations and
//! catalog generations into feed caches, and publishes each cache to the
//! HTTP side with one atomic swap.
//!
//! Invariants:
//! - one new generation per batch of changes (a debounce batch, a rescan,
//!   or several of them that queued while the previous one was rendering);
//!   a batch that changes no article makes no generation at all;
//! - a file that fails to parse is kept as an error (visible in `/healthz`,
//!   `/metrics`, logs) and read again when it changes or a rescan sees a new
//!   mtime or size;
//! - an article that did not change stays the same `Arc` across
//!   generations, so the cache can skip its feeds without comparing bytes;
//! - a missing store folder is treated as unavailable, not as empty: the
//!   last catalog keeps being served until the folder is back (a deploy
//!   that swaps the folder must not blank every feed for a moment);
//! - a future-dated article appears on time: a refresh is scheduled at the
//!   catalog's next publication instant;
//! - the request path never waits on any of this; it reads whichever cache
//!   was published last.

use crate::article::{Article, ArticleError};
use crate::cache::{self, Entry, FeedCache};
use crate::catalog::{Catalog, Pending};
use crate::config::Settings;
use crate::feeds::FeedSettings;
use crate::metrics::Metrics;
use crate::store::{self, dir, Context};
use arc_swap::ArcSwap;
use chrono::{DateTime, FixedOffset};
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;
use tokio::sync::{mpsc, oneshot, watch};

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
        })
    }

    /// The catalog being served, for the digests: the same generation the
    /// feeds were rendered from, without a second store scan.
    pub fn catalog_source(self: &Arc<Self>) -> crate::digest::CatalogSource {
        let shared = Arc::clone(self);
        Arc::new(move || shared.catalog.load_full())
    }
}

/// Work for the service loop.
#[derive(Debug)]
pub enum Command {
    /// Paths the watcher saw change (files or folders, absolute).
    Changed(Vec<PathBuf>),
    /// Compare the whole store with what is held (periodic, or the watcher
    /// lost track: queue overflow, store folder recreated). For an SQL
    /// store: read the table again (notified, signature changed, periodic).
    Rescan(&'static str),
    /// New, already validated settings; the sender learns when the feeds
    /// have been rendered with them.
    Reload(Box<Settings>, oneshot::Sender<()>),
}

/// Files read in parallel before their results are stored.
const READ_SLICE: usize = 2048;

/// What a file looked like when it was read, to skip unchanged files on a
/// rescan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Stamp {
        Stamp { modified: meta.modified().ok(), len: meta.len(), inode: meta.ino() }
    }
}

#[derive(Debug, Clone)]
struct FileState {
    stamp: Option<Stamp>,
    /// The error boxed: held inline it made every entry of a store's map
    /// 48 bytes larger, for the rare file that fails.
    result: Result<Arc<Article>, Box<ArticleError>>,
}

impl FileState {
    fn result(&self) -> Result<&Arc<Article>, &ArticleError> {
        self.result.as_ref().map_err(|e| &**e)
    }

    /// The result as the catalog's change records hold it.
    fn to_read(&self) -> Result<Arc<Article>, ArticleError> {
        self.result.clone().map_err(|e| *e)
    }
}

/// Every article file of a dir store, read and parsed.
#[derive(Debug, Clone)]
pub struct StoreState {
    /// The store folder.
    root: Arc<Path>,
    ctx: Context,
    /// Store-relative origin → what reading it gave; an article's origin
    /// is the same allocation as its key.
    files: BTreeMap<Arc<str>, FileState>,
    /// What changed since the last catalog, by origin (the first old, the
    /// last new result), for [`Catalog::apply`].
    pending: Pending,
}

/// How [`StoreState::read_files`] treats what it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadMode {
    /// The first read of the store, into an empty state: no change records
    /// (the first catalog is built whole).
    Load,
    /// A file that is gone by the time it is read stays as it was (a rescan
    /// drops gone files itself).
    Keep,
    /// A file that is gone is dropped (watcher events).
    DropMissing,
}

/// What applying a batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Applied {
    pub changed: bool,
    /// The store folder itself is missing: nothing was changed.
    pub root_missing: bool,
}

impl StoreState {
    /// Reads the whole store.
    pub fn load(root: &Path, ctx: &Context) -> StoreState {
        let mut state = StoreState {
            root: Arc::from(root),
            ctx: ctx.clone(),
            files: BTreeMap::new(),
            pending: Pending::default(),
        };
        let (paths, list_errors) = dir::list(root);
        if !list_errors.is_empty() {
            // Rare: take the general path, which places these errors.
            state.rescan();
            return state;
        }
        let paths: Vec<PathBuf> = paths
            .into_iter()
            .filter(|p| !is_hidden(Path::new(&dir::origin_of(root, p))))
            .collect();
        state.read_files(paths, ReadMode::Load);
        state
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Brings the whole store up to date, reading only files whose mtime,
    /// size or inode changed.
    pub fn rescan(&mut self) -> Applied {
        let root = self.root.clone();
        self.sync_tree(&root, false)
    }

    /// Applies the changes behind a batch of watcher paths.
    pub fn apply(&mut self, paths: &[PathBuf]) -> Applied {
        if !self.root.is_dir() {
            // The folder is going away (rm -rf, a deploy swapping it): its
            // files' delete events must not empty the catalog.
            return Applied { changed: false, root_missing: true };
        }
        let mut out = Applied::default();
        let unique: BTreeSet<&PathBuf> = paths.iter().collect();
        let mut files = Vec::new();
        for path in unique {
            let Ok(rel) = path.strip_prefix(&self.root) else { continue };
            if rel.as_os_str().is_empty() {
                // The root itself: it was removed, recreated or moved.
                let r = self.rescan();
                out.changed |= r.changed;
                out.root_missing |= r.root_missing;
                continue;
            }
            if is_hidden(rel) {
                continue;
            }
            match std::fs::metadata(path) {
                Ok(meta) if meta.is_dir() => {
                    let r = self.sync_tree(path, false);
                    out.changed |= r.changed;
                    out.root_missing |= r.root_missing;
                }
                Ok(_) => files.push(path.clone()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    let origin = dir::origin_of(&self.root, path);
                    out.changed |= self.remove_under(&origin);
                }
                // Unreadable metadata: reading the file reports why.
                Err(_) => files.push(path.clone()),
            }
        }
        let files: Vec<PathBuf> = files
            .into_iter()
            .filter(|p| p.file_name().is_some_and(|n| store::is_article_name(&n.to_string_lossy())))
            .collect();
        out.changed |= self.read_files(files, ReadMode::DropMissing);
        out
    }

    /// The catalog of what is held now, built whole; the changes held
    /// for [`next_catalog`](Self::next_catalog) are in it.
    pub fn catalog(&mut self, generation: u64) -> Catalog {
        self.pending.clear();
        Catalog::from_results(
            self.files.values().map(FileState::result),
            &self.ctx,
            generation,
        )
    }

    /// The generation after `prev` (the catalog of this state before the
    /// changes applied since): `prev` with just those changes when they stay
    /// local, else the whole catalog again.
    pub fn next_catalog(&mut self, prev: &Catalog) -> Catalog {
        let (files, ctx) = (&self.files, &self.ctx);
        self.pending.next(prev, |generation| Catalog::from_results(files.values().map(FileState::result), ctx, generation))
    }

    /// Syncs the subtree at `dir` (the root or a folder inside it) with the
    /// disk: new files read, gone files dropped, changed ones read again.
    fn sync_tree(&mut self, dir: &Path, reread_all: bool) -> Applied {
        if !self.root.is_dir() {
            return Applied { changed: false, root_missing: true };
        }
        let (paths, list_errors) = dir::list(dir);
        let prefix = dir::origin_of(&self.root, dir);
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut changed = false;
        let mut to_read = Vec::new();
        for p in paths {
            let origin = dir::origin_of(&self.root, &p);
            if is_hidden(Path::new(&origin)) {
                continue;
            }
            let stamp = std::fs::metadata(&p).ok().map(|m| Stamp::of(&m));
            let current = self.files.get(origin.as_str()).and_then(|f| f.stamp);
            if reread_all || stamp.is_none() || current != stamp {
                to_read.push(p);
            }
            seen.insert(origin);
        }
        for mut e in list_errors {
            // `list` names problems relative to the folder it walked.
            if !prefix.is_empty() {
                e.origin = format!("{prefix}/{}", e.origin);
            }
            seen.insert(e.origin.clone());
            changed |= self.put(e.origin.clone(), FileState { stamp: None, result: Err(Box::new(e)) });
        }
        let gone: Vec<Arc<str>> = self
            .files
            .keys()
            .filter(|k| under(k, &prefix) && !seen.contains(&***k))
            .cloned()
            .collect();
        for k in gone {
            if let Some(state) = self.files.remove(&k) {
                self.pending.record(&k, Some(state.to_read()), None);
                changed = true;
            }
        }
        changed |= self.read_files(to_read, ReadMode::Keep);
        Applied { changed, root_missing: false }
    }

    /// Reads `paths` (in parallel) and stores the results; whether any
    /// article or error differs from what was held.
    fn read_files(&mut self, paths: Vec<PathBuf>, mode: ReadMode) -> bool {
        let drop_missing = mode == ReadMode::DropMissing;
        let root = self.root.clone();
        let reader = dir::Reader::new(&root, &self.ctx);
        let mut changed = false;
        // The first read of the store: its results go straight into a map
        // built in one go (full nodes; inserted one by one in key order,
        // std's B-tree nodes stay about half full) and none is recorded as
        // a pending change, since the first catalog is built whole anyway
        // (the 100k records were ~35 MB of `serve`'s start-up peak).
        let first = mode == ReadMode::Load && self.files.is_empty();
        let mut loaded: Vec<(Arc<str>, FileState)> = Vec::new();
        // In slices, each stored before the next is read: the results of a
        // whole 100k-file start-up held at once were ~15 MB of the peak.
        for slice in paths.chunks(READ_SLICE) {
            let results: Vec<(String, Option<FileState>)> = slice
                .par_iter()
                .map(|p| {
                    let origin = dir::origin_of(&root, p);
                    let meta = std::fs::metadata(p);
                    if drop_missing
                        && matches!(&meta, Err(e) if e.kind() == std::io::ErrorKind::NotFound)
                    {
                        return (origin, None);
                    }
                    let stamp = meta.ok().map(|m| Stamp::of(&m));
                    let result = reader.read(p).map(Arc::new).map_err(Box::new);
                    (origin, Some(FileState { stamp, result }))
                })
                .collect();
            for (origin, state) in results {
                match state {
                    Some(s) if first => loaded.push((key_of(origin, &s), s)),
                    Some(s) => changed |= self.put(origin, s),
                    None => {
                        if let Some(gone) = self.files.remove(origin.as_str()) {
                            self.pending.record(&origin, Some(gone.to_read()), None);
                            changed = true;
                        }
                    }
                }
            }
        }
        if first && !loaded.is_empty() {
            self.pending.clear();
            self.files = loaded.into_iter().collect();
            changed = true;
        }
        changed
    }

    /// Stores one file's state, keeping the old `Arc` when the article is
    /// equal, so unchanged articles stay shared.
    fn put(&mut self, origin: String, mut new: FileState) -> bool {
        let key = key_of(origin.clone(), &new);
        match self.files.get(origin.as_str()) {
            Some(old) => {
                let same = match (old.result(), new.result()) {
                    (Ok(a), Ok(b)) => a == b,
                    (Err(a), Err(b)) => a == b,
                    _ => false,
                };
                if same {
                    new.result = old.result.clone();
                } else {
                    let old = Some(old.to_read());
                    self.pending.record(&origin, old, Some(new.to_read()));
                }
                self.files.insert(key, new);
                !same
            }
            None => {
                self.pending.record(&origin, None, Some(new.to_read()));
                self.files.insert(key, new);
                true
            }
        }
    }

    fn remove_under(&mut self, origin: &str) -> bool {
        let gone: Vec<Arc<str>> = self
            .files
            .keys()
            .filter(|k| under(k, origin))
            .cloned()
            .collect();
        for k in &gone {
            if let Some(state) = self.files.remove(k) {
                self.pending.record(k, Some(state.to_read()), None);
            }
        }
        !gone.is_empty()
    }
}

/// The map key for `origin`: the article's own origin when it has one, so
/// the key and the article share one allocation.
fn key_of(origin: String, state: &FileState) -> Arc<str> {
    match &state.result {
        Ok(article) if *article.origin == *origin => Arc::clone(&article.origin),
        _ => Arc::from(origin),
    }
}

/// Whether `key` is `prefix` or inside the folder `prefix` ("" is the root).
fn under(key: &str, prefix: &str) -> bool {
    prefix.is_empty() || key == prefix || key.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/'))
}

/// Hidden files and folders (`.git`, editors' `.name.swp`, rsync's
/// `.name.XXXXXX`) are not part of the store.
fn is_hidden(rel: &Path) -> bool {
    rel.components().any(|c| c.as_os_str().to_string_lossy().starts_with('.'))
}

/// What the service holds of the article store, by kind.
pub enum Store {
    Dir(StoreState),
    /// Boxed: a table state (pool, mapping) is much larger than a dir's.
    Table(Box<crate::table::TableState>),
}

impl Store {
    /// Reads the dir store the settings name (blocking).
    pub fn read_dir(settings: &Settings) -> Store {
        Store::Dir(StoreState::load(&settings.store.path, &Context::from_settings(&settings.site)))
    }

    /// The whole catalog of what is held, built from scratch.
    pub fn catalog(&mut self, generation: u64) -> Catalog {
        match self {
            Store::Dir(s) => s.catalog(generation),
            Store::Table(t) => t.catalog(generation),
        }
    }

    /// The generation after `prev`: `prev` with the changes applied since
    /// (see [`Catalog::apply`]), or the whole catalog built again.
    pub fn next_catalog(&mut self, prev: &Catalog) -> Catalog {
        match self {
            Store::Dir(s) => s.next_catalog(prev),
            Store::Table(t) => t.next_catalog(prev),
        }
    }

    /// Applies a batch of changes: watcher paths and/or a full rescan.
    fn apply(&mut self, paths: &[PathBuf], rescan: bool) -> Applied {
        match self {
            Store::Dir(store) => {
                let mut applied = if paths.is_empty() { Applied::default() } else { store.apply(paths) };
                if rescan {
                    let r = store.rescan();
                    applied.changed |= r.changed;
                    applied.root_missing |= r.root_missing;
                }
                if applied.root_missing {
                    tracing::warn!(
                        store = %store.root().display(),
                        "the store folder is missing; still serving the last catalog until it is back"
                    );
                }
                applied
            }
            Store::Table(table) => Applied { changed: rescan && table.refresh(), root_missing: false },
        }
    }
}

/// The service's view of "now", in the site's zone.
pub fn now_in(settings: &Settings) -> DateTime<FixedOffset> {
    chrono::Utc::now().with_timezone(&settings.site.timezone).fixed_offset()
}

/// Everything the loop carries from one generation to the next.
pub struct Core {
    pub settings: Settings,
    pub store: Store,
    pub catalog: Arc<Catalog>,
    pub shared: Arc<Shared>,
    /// To the brotli worker: caches whose new entries lack brotli.
    brotli: std::sync::mpsc::Sender<Arc<FeedCache>>,
}

impl Core {
    /// Takes the store as first read, renders every feed and publishes the
    /// first cache (its brotli forms follow from the worker). Blocking: run
    /// it on a blocking thread.
    pub fn start(settings: Settings, shared: Arc<Shared>, mut store: Store) -> Core {
        let catalog = Arc::new(store.catalog(1));
        // Each bad file once in the log, as later ones are when they appear.
        for e in catalog.errors() {
            tracing::warn!("skipped {e}");
        }
        let brotli = spawn_brotli_worker(Arc::clone(&shared));
        let mut core = Core { settings, store, catalog, shared, brotli };
        core.publish(true);
        core
    }

    /// Renders the cache for the current catalog (only what changed unless
    /// `all`) and swaps it in.
    fn publish(&mut self, all: bool) {
        let feed_settings = FeedSettings::from_settings(&self.settings);
        let prev = self.shared.cache.load_full();
        let prev = if all || !prev.is_loaded() { None } else { Some(prev.as_ref()) };
        let (next, stats) = cache::refresh(prev, &self.catalog, &feed_settings, now_in(&self.settings));
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
        if next.needs_brotli() {
            let _ = self.brotli.send(next);
        }
        tracing::info!(
            generation = self.catalog.generation,
            articles = self.catalog.len(),
            errors = self.catalog.errors().len(),
            rendered = stats.rendered,
            kept = stats.kept,
            dropped = stats.dropped,
            ms = stats.elapsed.as_millis() as u64,
            "feeds published"
        );
    }

    /// Applies a batch of commands that are all store changes.
    fn apply(&mut self, paths: &[PathBuf], rescan: bool) {
        let applied = self.store.apply(paths, rescan);
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
        for e in self.catalog.errors() {
            let text = e.to_string();
            if !before.contains(&text) {
                tracing::warn!("skipped {text}");
            }
        }
        self.publish(false);
    }

    /// Takes new settings. Changes that need a new parse context re-read
    /// the whole store; the store itself (folder, database, table, columns)
    /// only changes on restart.
    fn reload(&mut self, mut settings: Settings) {
        let which = |s: &Settings| {
            let st = &s.store;
            format!("{:?}{:?}{}{:?}{:?}", st.kind, st.url, st.table, st.columns, st.body_format)
        };
        if which(&settings) != which(&self.settings) {
            tracing::warn!("store.kind/url/table/columns/body_format changed; restart bantin to read the new store (keeping the old one)");
            let keep = &self.settings.store;
            settings.store.kind = keep.kind.clone();
            settings.store.url = keep.url.clone();
            settings.store.table = keep.table.clone();
            settings.store.columns = keep.columns.clone();
            settings.store.body_format = keep.body_format;
        }
        if settings.store.path != self.settings.store.path && self.settings.store.kind == crate::config::StoreKind::Dir {
            tracing::warn!(
                old = %self.settings.store.path.display(),
                new = %settings.store.path.display(),
                "store.path changed; restart bantin to watch the new folder (keeping the old one)"
            );
            settings.store.path = self.settings.store.path.clone();
        }
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

/// Compresses brotli forms on one thread of its own, off the path from a
/// change to its feed (one thread, so a render of the next change keeps
/// the other core). Always works on the newest cache it was sent, and
/// merges by content hash into whatever cache is published when it is done,
/// so it never overwrites a newer generation. Ends when `Core` is dropped.
fn spawn_brotli_worker(shared: Arc<Shared>) -> std::sync::mpsc::Sender<Arc<FeedCache>> {
    let (tx, rx) = std::sync::mpsc::channel::<Arc<FeedCache>>();
    let spawned = std::thread::Builder::new().name("bantin-brotli".into()).spawn(move || {
        lower_priority();
        while let Ok(mut cache) = rx.recv() {
            while let Ok(newer) = rx.try_recv() {
                cache = newer;
            }
            let mut done: std::collections::HashMap<String, Arc<Entry>> = std::collections::HashMap::new();
            for entry in cache.missing_brotli() {
                done.insert(entry.hash.clone(), Arc::new(entry.add_brotli()));
            }
            shared.cache.rcu(|current| current.merge_brotli(&done).map(Arc::new).unwrap_or_else(|| Arc::clone(current)));
        }
    });
    if let Err(e) = spawned {
        // Without the worker, br clients get gzip: degraded, not broken.
        tracing::error!("cannot start the brotli thread ({e}); serving gzip to brotli clients");
    }
    tx
}

/// Puts the calling thread at nice 10: brotli is background work and must
/// not take a core from the render of the next change (on Linux the nice
/// value is per thread). Failure only costs latency, so it is just logged.
fn lower_priority() {
    // SAFETY: gettid and setpriority take no pointers; setpriority on our
    // own thread id only changes this thread's scheduling weight.
    let rc = unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10)
    };
    if rc != 0 {
        tracing::debug!("cannot lower the brotli thread's priority: {}", std::io::Error::last_os_error());
    }
}

/// The service loop: waits for store changes, reloads and publication
/// instants, and runs each piece of work on a blocking thread. Returns when
/// `shutdown` turns true (after the piece of work in progress, if any).
pub async fn run(mut core: Core, mut rx: mpsc::UnboundedReceiver<Command>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let next = core.catalog.next_publication(now_in(&core.settings));
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
                Command::Reload(settings, done) => reloads.push((settings, done)),
            }
        }
        let timed = paths.is_empty() && !rescan && reloads.is_empty();
        let result = tokio::task::spawn_blocking(move || {
            if timed {
                // A scheduled article's time has come: same catalog, new `now`.
                core.publish(false);
            }
            if !paths.is_empty() || rescan {
                core.apply(&paths, rescan);
            }
            let mut acks = Vec::new();
            for (settings, done) in reloads {
                core.reload(*settings);
                acks.push(done);
            }
            (core, acks)
        })
        .await;
        match result {
            Ok((c, acks)) => {
                core = c;
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

/// Sleeps until `at`, or forever when there is nothing to wait for: the
/// timer branch of a `select!` that has no deadline armed.
pub(crate) async fn sleep_until_or_never(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert!(under("a/b.md", "a"));
        assert!(under("a", "a"));
        assert!(!under("ab/c.md", "a"));
        assert!(under("x.md", ""));
        assert!(is_hidden(Path::new(".git/x.md")));
        assert!(is_hidden(Path::new("a/.x.md.swp")));
        assert!(!is_hidden(Path::new("a/x.md")));
    }
}
