//! The store watcher: turns file-system events under the store folder into
//! [`Command`]s for the service loop, one `Changed` per debounce batch, and
//! adds a periodic `Rescan` so that a missed event (inotify queue overflow,
//! a network file system, a watch lost with a removed folder) delays an
//! article but never loses it.
//!
//! Invariants:
//! - the watcher never reads articles itself; it only names paths;
//! - a removed and recreated store folder is noticed (its inode changes)
//!   and watched again, followed by a full rescan;
//! - it stops when the shutdown channel turns true.

use crate::service::Command;
use notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, Debouncer, NoCache, new_debouncer_opt};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// How often the watcher checks that the store folder is still the one it
/// watches.
const ROOT_CHECK: Duration = Duration::from_secs(1);

/// Without a file-id cache: the default one (`FileIdMap`) walks the whole
/// store when the watch starts and keeps a path and id for every file
/// (~150 bytes each, 15 MB of a 100k-article store, and a second walk of
/// it at start-up), only to pair rename events, which the service does not
/// need: it looks at each path it is given.
type Inner = Debouncer<notify::RecommendedWatcher, NoCache>;

/// A running watch on the store folder (or none, when it could not be set
/// up: the periodic rescan still runs).
pub struct Watcher {
    inner: Option<Inner>,
    root_id: Option<(u64, u64)>,
}

/// Starts watching before the store is read, so that no change made while
/// (or right after) the store loads is missed: such a change shows up as an
/// event, at worst a file read twice.
pub fn start(settings: &WatchSettings, tx: &mpsc::UnboundedSender<Command>) -> Watcher {
    let root_id = identity(&settings.root);
    Watcher { inner: start_inner(settings, tx), root_id }
}

#[derive(Debug, Clone)]
pub struct WatchSettings {
    pub root: PathBuf,
    pub debounce: Duration,
    pub rescan: Duration,
}

/// Identity of a folder: (device, inode), or `None` while it is missing.
fn identity(path: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().filter(|m| m.is_dir()).map(|m| (m.dev(), m.ino()))
}

fn start_inner(settings: &WatchSettings, tx: &mpsc::UnboundedSender<Command>) -> Option<Inner> {
    let events = tx.clone();
    let handler = move |result: DebounceEventResult| match result {
        Ok(batch) => {
            let mut paths = Vec::new();
            let mut rescan = false;
            for event in batch {
                rescan |= event.need_rescan();
                // Opening and reading (ours included) changes nothing; counting
                // them would make every read of a changed file an event again.
                if matches!(event.event.kind, notify::EventKind::Access(_)) {
                    continue;
                }
                paths.extend(event.event.paths);
            }
            if rescan {
                let _ = events.send(Command::Rescan("the watcher lost events"));
            }
            if !paths.is_empty() {
                let _ = events.send(Command::Changed(paths));
            }
        }
        Err(errors) => {
            for e in errors {
                tracing::warn!("store watcher: {e}");
            }
            let _ = events.send(Command::Rescan("the watcher reported an error"));
        }
    };
    // The debouncer checks for settled events every tick; its default (a
    // quarter of the timeout) would add up to 50 ms to every change.
    // A twentieth (10 ms for the default 200 ms) keeps that under the 50 ms
    // budget from the end of the debounce window to the feed being served;
    // the tick only wakes a thread that checks a small map.
    let tick = (settings.debounce / 20).max(Duration::from_millis(5));
    let made = new_debouncer_opt::<_, notify::RecommendedWatcher, NoCache>(
        settings.debounce,
        Some(tick),
        handler,
        NoCache,
        notify::Config::default(),
    );
    let mut debouncer = match made {
        Ok(d) => d,
        Err(e) => {
            tracing::error!("cannot start the store watcher ({e}); relying on the periodic rescan");
            return None;
        }
    };
    if let Err(e) = debouncer.watch(&settings.root, RecursiveMode::Recursive) {
        tracing::warn!(
            store = %settings.root.display(),
            "cannot watch the store folder ({e}); relying on the periodic rescan (raise fs.inotify.max_user_watches if the store is large)"
        );
        return None;
    }
    tracing::info!(store = %settings.root.display(), debounce_ms = settings.debounce.as_millis() as u64, "watching the store");
    Some(debouncer)
}

/// Runs the watcher until shutdown.
pub async fn run(settings: WatchSettings, started: Watcher, tx: mpsc::UnboundedSender<Command>, mut shutdown: watch::Receiver<bool>) {
    let Watcher { inner: mut watcher, mut root_id } = started;
    let mut rescan = tokio::time::interval(settings.rescan);
    rescan.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    rescan.tick().await; // the first tick is immediate; the store was just read
    let mut check = tokio::time::interval(ROOT_CHECK);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            _ = rescan.tick() => {
                if watcher.is_none() && root_id.is_some() {
                    // Starting failed before (e.g. too many watches): try again.
                    watcher = start_inner(&settings, &tx);
                }
                let _ = tx.send(Command::Rescan("periodic rescan"));
            }
            _ = check.tick() => {
                let now = identity(&settings.root);
                if now != root_id {
                    match now {
                        Some(_) => {
                            tracing::info!(store = %settings.root.display(), "the store folder is back; watching it again");
                            // Drop the old watch first: it points at a folder that is gone.
                            drop(watcher.take());
                            watcher = start_inner(&settings, &tx);
                            let _ = tx.send(Command::Rescan("the store folder was recreated"));
                        }
                        None => {
                            tracing::warn!(store = %settings.root.display(), "the store folder disappeared; waiting for it to come back");
                            drop(watcher.take());
                        }
                    }
                    root_id = now;
                }
            }
        }
    }
    // Stopping the debouncer joins its thread; do it off the runtime.
    if let Some(w) = watcher {
        let _ = tokio::task::spawn_blocking(move || w.stop()).await;
    }
}
