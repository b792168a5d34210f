//! The store's folders under inotify: one watch per folder, asking the
//! kernel only for what can change an article (an entry created, written,
//! closed after writing, its attributes changed, removed, renamed in or
//! out; the folder itself removed or moved), and naming the path each
//! event is about.
//!
//! notify, used before, also asked for every open of a file (`IN_OPEN` is
//! in its mask, with no way to leave it out), and loading a store opens
//! each of its files: at 1M files, a million events its thread read and
//! dropped, 3.3 s of CPU on a 2-core start (bench/HISTORY.md). The watch
//! here is read by the watcher task itself (`AsyncFd`), with no thread of
//! its own.
//!
//! Invariants:
//! - a watch descriptor maps to the folder's latest path: a folder renamed
//!   inside the store and watched again under its new name keeps its
//!   descriptor (inotify watches an inode once), now with the new path;
//! - a folder moved out of the store is let go, with its subfolders
//!   ([`Folders::forget_moved_out`]): no leaked watch, no event named by a
//!   path the folder no longer has;
//! - a lost queue (`IN_Q_OVERFLOW`) is said, never passed over: the caller
//!   rescans.

use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask};
use std::collections::HashMap;
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};

/// What one event said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// Something happened to this path; `arrived` when it was created or
    /// moved in (a folder that arrives needs a watch of its own).
    Path { path: PathBuf, arrived: bool },
    /// A watched folder itself was moved (after its `Path`): see
    /// [`Folders::forget_moved_out`].
    Moved(WatchDescriptor),
    /// The kernel's event queue overflowed: some events are gone.
    Lost,
}

/// An inotify instance and the folders it watches.
pub struct Folders {
    inotify: Inotify,
    paths: HashMap<WatchDescriptor, PathBuf>,
    buffer: Box<[u8]>,
}

/// Room for a few hundred events a read.
const BUFFER_BYTES: usize = 64 * 1024;

/// The events bantin asks for: not `OPEN`, `ACCESS` or `CLOSE_NOWRITE`,
/// which reading (ours included) makes. `EXCL_UNLINK`: nothing of a file
/// already removed. `ONLYDIR`: a path that turned into a file is refused.
fn mask() -> WatchMask {
    WatchMask::CREATE
        | WatchMask::MODIFY
        | WatchMask::CLOSE_WRITE
        | WatchMask::ATTRIB
        | WatchMask::DELETE
        | WatchMask::MOVED_FROM
        | WatchMask::MOVED_TO
        | WatchMask::DELETE_SELF
        | WatchMask::MOVE_SELF
        | WatchMask::EXCL_UNLINK
        | WatchMask::ONLYDIR
}

impl Folders {
    /// A new inotify instance watching nothing yet.
    pub fn new() -> io::Result<Folders> {
        Ok(Folders { inotify: Inotify::init()?, paths: HashMap::new(), buffer: vec![0; BUFFER_BYTES].into_boxed_slice() })
    }

    /// Watches one folder (not its subfolders); watching it again under a
    /// new path updates the path its events are named by.
    pub fn watch(&mut self, folder: &Path) -> io::Result<()> {
        let wd = self.inotify.watches().add(folder, mask())?;
        self.paths.insert(wd, folder.to_path_buf());
        Ok(())
    }

    /// How many folders are watched.
    pub fn len(&self) -> usize {
        self.paths.len()
    }

    /// Reads what the kernel has queued into `out`, without waiting: an
    /// `io::ErrorKind::WouldBlock` error when nothing is queued.
    pub fn read(&mut self, out: &mut Vec<Seen>) -> io::Result<()> {
        let events = self.inotify.read_events(&mut self.buffer)?;
        for event in events {
            if let Some(seen) = seen(&mut self.paths, &event.wd, event.mask, event.name) {
                out.push(seen);
                if event.mask.contains(EventMask::MOVE_SELF) {
                    out.push(Seen::Moved(event.wd));
                }
            }
        }
        Ok(())
    }

    /// Stops watching a moved folder, and the folders under it, when its
    /// path is no longer a folder: it left the store. A folder renamed
    /// inside the store is not let go, since its parent's `MOVED_TO` came
    /// first and the caller watched it again under its new name (the same
    /// descriptor, now with the new path). Call it in event order.
    pub fn forget_moved_out(&mut self, wd: &WatchDescriptor) {
        let Some(old) = self.paths.get(wd).filter(|p| !p.is_dir()).cloned() else { return };
        let gone: Vec<WatchDescriptor> =
            self.paths.iter().filter(|(_, p)| p.starts_with(&old) && !p.is_dir()).map(|(w, _)| w.clone()).collect();
        for w in gone {
            self.paths.remove(&w);
            // An error means the kernel dropped it already.
            let _ = self.inotify.watches().remove(w);
        }
    }
}

/// What one raw event says, given the folders' paths; `None` for what
/// names nothing (a watch gone, an event of a folder no longer known).
fn seen(paths: &mut HashMap<WatchDescriptor, PathBuf>, wd: &WatchDescriptor, mask: EventMask, name: Option<&OsStr>) -> Option<Seen> {
    if mask.contains(EventMask::Q_OVERFLOW) {
        return Some(Seen::Lost);
    }
    if mask.contains(EventMask::IGNORED) {
        // The folder is gone (or unmounted): its removal was its parent's event.
        paths.remove(wd);
        return None;
    }
    let folder = paths.get(wd)?;
    let path = match name {
        Some(name) => folder.join(name),
        None => folder.clone(),
    };
    let arrived = name.is_some() && mask.intersects(EventMask::CREATE | EventMask::MOVED_TO);
    Some(Seen::Path { path, arrived })
}

impl AsRawFd for Folders {
    fn as_raw_fd(&self) -> RawFd {
        self.inotify.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// Reads until `want` is seen (or 5 s pass); everything seen on the way.
    fn read_until(folders: &mut Folders, want: &Seen) -> Vec<Seen> {
        let start = Instant::now();
        let mut seen = Vec::new();
        while !seen.contains(want) {
            match folders.read(&mut seen) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(5)),
                other => other.unwrap(),
            }
            assert!(start.elapsed() < Duration::from_secs(5), "never saw {want:?}; saw {seen:?}");
        }
        seen
    }

    fn path(p: PathBuf, arrived: bool) -> Seen {
        Seen::Path { path: p, arrived }
    }

    /// Regression (issue 24, the 1M start): reading a watched folder's
    /// files makes no event, where notify's mask made one per open.
    #[test]
    fn reading_makes_no_event_and_writing_does() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old.md");
        std::fs::write(&old, "x").unwrap();
        let mut folders = Folders::new().unwrap();
        folders.watch(dir.path()).unwrap();
        for _ in 0..100 {
            std::fs::read(&old).unwrap();
        }
        let new = dir.path().join("new.md");
        std::fs::write(&new, "y").unwrap();
        // The create, then the write and its close; nothing of the reads.
        let seen = read_until(&mut folders, &path(new.clone(), false));
        assert_eq!(seen[0], path(new.clone(), true));
        assert!(seen[1..].iter().all(|s| *s == path(new.clone(), false)), "{seen:?}");
    }

    #[test]
    fn renames_name_both_paths_and_a_renamed_folder_its_new_one() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        let mut folders = Folders::new().unwrap();
        folders.watch(dir.path()).unwrap();
        folders.watch(&dir.path().join("a")).unwrap();
        std::fs::rename(dir.path().join("a"), dir.path().join("b")).unwrap();
        let seen = read_until(&mut folders, &path(dir.path().join("b"), true));
        assert!(seen.contains(&path(dir.path().join("a"), false)), "{seen:?}");
        // Watched again under its new name, as the watcher does with a folder that arrives.
        folders.watch(&dir.path().join("b")).unwrap();
        assert_eq!(folders.len(), 2, "one inode, one watch");
        std::fs::write(dir.path().join("b/x.md"), "x").unwrap();
        read_until(&mut folders, &path(dir.path().join("b/x.md"), true));
    }

    #[test]
    fn a_removed_folder_is_no_longer_watched() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let mut folders = Folders::new().unwrap();
        folders.watch(&sub).unwrap();
        std::fs::remove_dir(&sub).unwrap();
        read_until(&mut folders, &path(sub.clone(), false));
        let start = Instant::now();
        while folders.len() > 0 {
            let _ = folders.read(&mut Vec::new());
            assert!(start.elapsed() < Duration::from_secs(5), "the watch was never dropped");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// A folder moved out of the store, with a folder inside it, is let
    /// go; a folder renamed inside it and watched again is kept.
    #[test]
    fn a_folder_moved_out_is_let_go_and_a_renamed_one_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (store, outside) = (dir.path().join("store"), dir.path().join("outside"));
        std::fs::create_dir_all(store.join("a/sub")).unwrap();
        std::fs::create_dir_all(store.join("b")).unwrap();
        std::fs::create_dir(&outside).unwrap();
        let mut folders = Folders::new().unwrap();
        for f in [&store, &store.join("a"), &store.join("a/sub"), &store.join("b")] {
            folders.watch(f).unwrap();
        }
        // Reads and acts on events as the watcher does, until `done`.
        let pump = |folders: &mut Folders, done: &dyn Fn(&Folders) -> bool| {
            let start = Instant::now();
            while !done(folders) {
                let mut seen = Vec::new();
                let _ = folders.read(&mut seen);
                for one in seen {
                    match one {
                        Seen::Path { path, arrived: true } if path.is_dir() => folders.watch(&path).unwrap(),
                        Seen::Moved(wd) => folders.forget_moved_out(&wd),
                        _ => {}
                    }
                }
                assert!(start.elapsed() < Duration::from_secs(5), "{:?}", folders.paths.values().collect::<Vec<_>>());
                std::thread::sleep(Duration::from_millis(5));
            }
        };
        std::fs::rename(store.join("b"), store.join("c")).unwrap();
        pump(&mut folders, &|f| f.paths.values().any(|p| p.ends_with("c")));
        std::fs::rename(store.join("a"), outside.join("a")).unwrap();
        pump(&mut folders, &|f| f.len() == 2);
        let mut kept: Vec<&PathBuf> = folders.paths.values().collect();
        kept.sort();
        assert_eq!(kept, vec![&store, &store.join("c")]);
    }

    #[test]
    fn an_overflow_is_said_and_an_unknown_watch_names_nothing() {
        let folders = Folders::new().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let wd = folders.inotify.watches().add(dir.path(), mask()).unwrap();
        assert_eq!(seen(&mut HashMap::new(), &wd, EventMask::Q_OVERFLOW, None), Some(Seen::Lost));
        assert_eq!(seen(&mut HashMap::new(), &wd, EventMask::CREATE, Some(OsStr::new("x.md"))), None);
    }
}
