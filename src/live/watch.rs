//! The store watcher: turns file-system events under the store folder into
//! [`Command`]s for the service loop, and adds a periodic `Rescan` so that
//! a missed event (inotify queue overflow, a network file system, a watch
//! lost with a removed folder) delays an article but never loses it.
//!
//! The events come from [`super::inotify`], read by this task; only what
//! can change a file is asked for (not the opens of our own reads).
//!
//! Debouncing is [`Settle`]: a path is handed on once it has been quiet for
//! the debounce window, and the task sleeps until the earliest such moment.
//! (notify-debouncer-full, used before, polled its map every tick: 0-10 ms
//! added to every change and a hundred wake-ups a second on an idle store.)
//!
//! Invariants:
//! - the watcher never reads articles itself; it only names paths;
//! - a path is handed on only after `debounce` without an event for it
//!   (less the timer's 1 ms resolution, [`TIMER_SLACK`]), so a
//!   file still being written is not read half-way (an editor's or rsync's
//!   temp-file-and-rename is one quiet path once renamed);
//! - every folder the store reads is watched, one non-recursive watch
//!   each ([`watch_tree`]); a folder created or moved in is watched when
//!   its event arrives, and the event itself reads it whole once settled,
//!   so files written into it before its watch are not missed;
//! - a removed and recreated store folder is noticed (its inode changes)
//!   and watched again, followed by a full rescan;
//! - it stops when the shutdown channel turns true.

use super::inotify::{Folders, Seen};
use super::{sleep_until_or_never, Command};
use std::collections::{HashMap, VecDeque};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::io::unix::AsyncFd;
use tokio::sync::{mpsc, watch};

/// How often the watcher checks that the store folder is still the one it
/// watches.
const ROOT_CHECK: Duration = Duration::from_secs(1);

/// tokio's timer has a resolution of 1 ms and rounds a sleep up to its
/// next tick, and waking takes a little more: a sleep until a path's
/// deadline handed it on 0.4-1.6 ms late (median 1.4 ms, 100k store),
/// all of it on the path from a write to its feeds. So the watcher sleeps
/// until one tick before the earliest deadline and hands on what is due
/// within that tick: a path has been quiet for at least the debounce
/// window less this.
const TIMER_SLACK: Duration = Duration::from_millis(1);

/// A running watch on the store folder (or none, when it could not be set
/// up: the periodic rescan still runs). Events that come before [`run`]
/// wait in the kernel's queue; more than it holds are a rescan.
pub struct Watcher {
    inner: Option<Folders>,
    root_id: Option<(u64, u64)>,
}

/// Starts watching before the store is read, so that no change made while
/// (or right after) the store loads is missed: such a change shows up as an
/// event, at worst a file read twice.
pub fn start(settings: &WatchSettings) -> Watcher {
    Watcher { inner: start_inner(settings), root_id: identity(&settings.root) }
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

fn start_inner(settings: &WatchSettings) -> Option<Folders> {
    let mut folders = match Folders::new() {
        Ok(f) => f,
        Err(e) => {
            tracing::error!("cannot start the store watcher ({e}); relying on the periodic rescan (raise fs.inotify.max_user_instances if it is the limit)");
            return None;
        }
    };
    if let Err(e) = watch_tree(&mut folders, &settings.root) {
        tracing::warn!(
            store = %settings.root.display(),
            "cannot watch the store folder ({e}); relying on the periodic rescan (raise fs.inotify.max_user_watches if the store is large)"
        );
        return None;
    }
    tracing::info!(store = %settings.root.display(), folders = folders.len(), debounce_ms = settings.debounce.as_millis() as u64, "watching the store");
    Some(folders)
}

/// The watch, ready for the task to wait on; `None` (with a warning) when
/// the runtime cannot poll it.
fn polled(folders: Option<Folders>) -> Option<AsyncFd<Folders>> {
    let folders = folders?;
    // SAFETY: `Folders` owns its inotify descriptor, open until it drops,
    // and its `as_raw_fd` always gives that one.
    unsafe { AsyncFd::register(folders) }
        .map_err(|e| tracing::warn!("cannot wait for the store watcher's events ({e}); relying on the periodic rescan"))
        .ok()
}

/// Watches `dir` and every folder under it that the store reads (hidden
/// ones left out and links followed, as `store::dir::list` walks), one
/// non-recursive watch each. notify's recursive mode found the folders by
/// a `stat` of every file in the tree: 2.5 s of a 1M-file store's start,
/// before the first read (bench/HISTORY.md); the walk's own file types
/// cost no call. A folder gone before its watch is skipped: its removal is
/// an event of its parent's.
fn watch_tree(folders: &mut Folders, dir: &Path) -> io::Result<()> {
    folders.watch(dir)?;
    let subfolders = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .min_depth(1)
        .into_iter()
        .filter_entry(|e| e.file_type().is_dir() && !crate::store::is_hidden_name(e.file_name()));
    for folder in subfolders.filter_map(Result::ok) {
        if let Err(e) = folders.watch(folder.path())
            && folder.path().is_dir()
        {
            return Err(e);
        }
    }
    Ok(())
}

/// Whether a path that arrived is a folder the store reads, which needs
/// watches of its own.
fn is_new_folder(path: &Path) -> bool {
    path.file_name().is_some_and(|n| !crate::store::is_hidden_name(n)) && path.is_dir()
}

/// Paths waiting for their debounce window to pass without an event.
///
/// Events arrive in time order, so the deadlines pushed on `queue` are in
/// order too: the front is the earliest. A path noted again leaves its
/// older entries in the queue; they are stale (its `last` is later) and
/// dropped once they reach the front, so the front is always a live
/// deadline (no wake-up for nothing) and every step is O(1) amortised.
#[derive(Debug)]
pub struct Settle {
    window: Duration,
    last: HashMap<PathBuf, Instant>,
    queue: VecDeque<(Instant, PathBuf)>,
}

impl Settle {
    pub fn new(window: Duration) -> Self {
        Settle { window, last: HashMap::new(), queue: VecDeque::new() }
    }

    /// An event for `path` at `at` (not before any earlier call's `at`).
    pub fn note(&mut self, path: PathBuf, at: Instant) {
        let at = self.queue.back().map_or(at, |(d, _)| at.max(*d - self.window));
        self.last.insert(path.clone(), at);
        self.queue.push_back((at + self.window, path));
        self.drop_stale();
    }

    fn is_live(&self, deadline: Instant, path: &Path) -> bool {
        self.last.get(path).is_some_and(|at| *at + self.window == deadline)
    }

    fn drop_stale(&mut self) {
        while let Some((deadline, path)) = self.queue.front() {
            if self.is_live(*deadline, path) {
                break;
            }
            self.queue.pop_front();
        }
    }

    /// When the earliest waiting path will have been quiet for the window.
    pub fn deadline(&self) -> Option<Instant> {
        self.queue.front().map(|(d, _)| *d)
    }

    /// The paths quiet for the window at `now`, in the order they settled.
    pub fn due(&mut self, now: Instant) -> Vec<PathBuf> {
        let mut out = Vec::new();
        while let Some((deadline, _)) = self.queue.front() {
            if *deadline > now {
                break;
            }
            let Some((deadline, path)) = self.queue.pop_front() else { break };
            if self.is_live(deadline, &path) {
                self.last.remove(&path);
                out.push(path);
            }
        }
        self.drop_stale();
        out
    }

    pub fn is_empty(&self) -> bool {
        self.last.is_empty()
    }
}

/// Takes one event, seen at `at`, into `settle`, watching the folders it
/// brings in; says why, when it asks for a rescan.
fn take(seen: Seen, at: Instant, settle: &mut Settle, watcher: &mut Option<AsyncFd<Folders>>) -> Option<&'static str> {
    match seen {
        Seen::Lost => Some("the watcher lost events"),
        Seen::Moved(wd) => {
            if let Some(folders) = watcher.as_mut() {
                folders.get_mut().forget_moved_out(&wd);
            }
            None
        }
        Seen::Path { path, arrived } => {
            let mut rescan = None;
            if let Some(folders) = watcher.as_mut().map(AsyncFd::get_mut)
                && arrived
                && is_new_folder(&path)
                && let Err(e) = watch_tree(folders, &path)
            {
                tracing::warn!(folder = %path.display(), "cannot watch a new folder of the store ({e}); relying on rescans");
                rescan = Some("a new folder could not be watched");
            }
            settle.note(path, at);
            rescan
        }
    }
}

/// Waits for the watch's next events and reads them into `out`; never
/// returns without a watch.
async fn next_events(watcher: &mut Option<AsyncFd<Folders>>, out: &mut Vec<Seen>) -> io::Result<()> {
    let Some(fd) = watcher.as_mut() else { return std::future::pending().await };
    loop {
        let mut ready = fd.readable_mut().await?;
        if let Ok(read) = ready.try_io(|inner| inner.get_mut().read(out)) {
            return read;
        }
    }
}

/// Runs the watcher until shutdown.
pub async fn run(settings: WatchSettings, started: Watcher, tx: mpsc::UnboundedSender<Command>, mut shutdown: watch::Receiver<bool>) {
    let Watcher { inner, mut root_id } = started;
    let mut watcher = polled(inner);
    let mut seen = Vec::new();
    let mut settle = Settle::new(settings.debounce);
    let mut rescan = tokio::time::interval(settings.rescan);
    rescan.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    rescan.tick().await; // the first tick is immediate; the store was just read
    let mut check = tokio::time::interval(ROOT_CHECK);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let wake = settle.deadline().map(|d| d.checked_sub(TIMER_SLACK).unwrap_or(d));
        let settled = sleep_until_or_never(wake.map(tokio::time::Instant::from_std));
        tokio::select! {
            _ = shutdown.changed() => break,
            read = next_events(&mut watcher, &mut seen) => {
                let at = Instant::now();
                let mut lost = None;
                if let Err(e) = read {
                    // Started again by the next periodic rescan.
                    tracing::warn!("cannot read the store watcher's events ({e}); rescanning");
                    watcher = None;
                    lost = Some("the watcher failed");
                }
                for one in seen.drain(..) {
                    lost = take(one, at, &mut settle, &mut watcher).or(lost);
                }
                if let Some(reason) = lost {
                    let _ = tx.send(Command::Rescan(reason));
                }
            }
            _ = settled => {
                let now = Instant::now();
                // How late (negative: early) the wake-up was for the deadline.
                let late_us = settle.deadline().map_or(0, |d| match now.checked_duration_since(d) {
                    Some(late) => late.as_micros() as i64,
                    None => -((d - now).as_micros() as i64),
                });
                let paths = settle.due(now + TIMER_SLACK);
                if !paths.is_empty() {
                    tracing::debug!(paths = paths.len(), late_us, "paths settled");
                    let _ = tx.send(Command::Changed(paths));
                }
            }
            _ = rescan.tick() => {
                if watcher.is_none() && root_id.is_some() {
                    // Starting failed before (e.g. too many watches): try again.
                    watcher = polled(start_inner(&settings));
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
                            watcher = polled(start_inner(&settings));
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
    // Closing an inotify instance waits for the kernel to drop its
    // watches: off the runtime.
    if let Some(w) = watcher {
        let _ = tokio::task::spawn_blocking(move || drop(w)).await;
    }
}

#[cfg(test)]
#[path = "watch_tests.rs"]
mod tests;
