//! A dir article store as `bantin serve` holds it ([`StoreState`]): every
//! article file's parsed result with an mtime/size/inode stamp, so a
//! rescan reads only files whose stamp changed; watcher paths are applied
//! as files (read and parsed again, or dropped when gone) or folders (their
//! subtree synced by stamps). Each change is recorded (first old, last new
//! result) for [`Catalog::apply`].
//!
//! Invariants: a file that fails to parse is kept as an error and read
//! again when it changes; a missing store folder is unavailable, not empty
//! (nothing is dropped until it is back); an unchanged file keeps its `Arc`.

use crate::article::{Article, ArticleError, OriginKey};
use crate::catalog::{Catalog, Pending};
use crate::store::readers::Readers;
use crate::store::{self, dir, is_hidden, Context};
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Files read in parallel before their results are stored.
const READ_SLICE: usize = 2048;

/// What a file looked like when it was read, to skip unchanged files on a
/// rescan: a hash of its mtime, size and inode. Held per file of the store,
/// so 8 bytes instead of the 32 of the three fields (3 MB less of `serve`'s
/// map at 100k files, and of the start-up's transient copies of it); two
/// different stamps hash alike with odds of 2^-64, and then only a rescan
/// misses that edit (a watcher event reads the file whatever its stamp).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp(std::num::NonZeroU64);

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Stamp {
        use std::hash::{BuildHasher, Hash, Hasher};
        let mut h = foldhash::fast::FixedState::default().build_hasher();
        meta.modified().ok().hash(&mut h);
        meta.len().hash(&mut h);
        meta.ino().hash(&mut h);
        // Never zero, so that `Option<Stamp>` is 8 bytes too.
        Stamp(std::num::NonZeroU64::new(h.finish() | 1).unwrap_or(std::num::NonZeroU64::MIN))
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
    files: BTreeMap<OriginKey, FileState>,
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
        let gone: Vec<OriginKey> = self
            .files
            .keys()
            .filter(|k| under(k.as_str(), &prefix) && !seen.contains(k.as_str()))
            .cloned()
            .collect();
        for k in gone {
            if let Some(state) = self.files.remove(k.as_str()) {
                self.pending.record(k.as_str(), Some(state.to_read()), None);
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
        let mut loaded: Vec<(OriginKey, FileState)> = if first { Vec::with_capacity(paths.len()) } else { Vec::new() };
        let readers = Readers::for_files(&paths);
        // In slices, each stored before the next is read: the results of a
        // whole 100k-file start-up held at once were ~15 MB of the peak.
        for slice in paths.chunks(READ_SLICE) {
            let results: Vec<(String, Option<FileState>)> = readers.read(|| {
                slice
                    .par_iter()
                    .map(|p| {
                        let origin = dir::origin_of(&root, p);
                        let read = reader.read_stamped(p);
                        if drop_missing && read.missing {
                            return (origin, None);
                        }
                        let stamp = read.meta.as_ref().map(Stamp::of);
                        let result = read.article.map(Arc::new).map_err(Box::new);
                        (origin, Some(FileState { stamp, result }))
                    })
                    .collect()
            });
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
        // The paths (~70 bytes each) go before the map is built from
        // `loaded`, the moment of the load's peak.
        drop(paths);
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
        let gone: Vec<OriginKey> = self
            .files
            .keys()
            .filter(|k| under(k.as_str(), origin))
            .cloned()
            .collect();
        for k in &gone {
            if let Some(state) = self.files.remove(k.as_str()) {
                self.pending.record(k.as_str(), Some(state.to_read()), None);
            }
        }
        !gone.is_empty()
    }
}

/// The map key for `origin`: the article's own origin when it has one, so
/// the key and the article share one allocation.
fn key_of(origin: String, state: &FileState) -> OriginKey {
    match &state.result {
        Ok(article) if article.origin() == origin => article.names.origin_key(),
        _ => OriginKey::from(origin),
    }
}

/// Whether `key` is `prefix` or inside the folder `prefix` ("" is the root).
fn under(key: &str, prefix: &str) -> bool {
    prefix.is_empty() || key == prefix || key.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/'))
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
    }
}
