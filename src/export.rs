//! `bantin build`: every feed written once as static files, at the same
//! paths as the HTTP routes, so any web server can serve the result. Each
//! file is written to a temporary name and renamed into place, so a web
//! server reading the folder never sees half a feed.

use crate::catalog::Catalog;
use crate::feeds::{self, FeedSettings};
use chrono::{DateTime, FixedOffset};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub feeds: usize,
    pub bytes: u64,
    pub categories: usize,
    pub items: usize,
}

#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct ExportError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// Renders every feed of `catalog` at `now` into `out`.
pub fn write_all(out: &Path, catalog: &Catalog, settings: &FeedSettings, now: DateTime<FixedOffset>) -> Result<Summary, ExportError> {
    let mut summary = Summary::default();
    let all = feeds::all_feeds(catalog, now);
    summary.categories = all.len() / feeds::Format::ALL.len() - 1;
    summary.items = catalog.newest(&crate::Scope::Site, now, usize::MAX).len();
    for feed in all {
        let items = feeds::items(&feed, catalog, settings, now);
        let Some(bytes) = feeds::render(&feed, &items, catalog, settings) else { continue };
        let path = out.join(feed.path());
        write_atomically(&path, &bytes).map_err(|source| ExportError { path: path.clone(), source })?;
        summary.feeds += 1;
        summary.bytes += bytes.len() as u64;
    }
    Ok(summary)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
