//! `bantin build`: every feed written once as static files, at the same
//! paths as the HTTP routes, so any web server can serve the result, with
//! the list of them (`feeds.opml`) and, with `feeds.news_sitemap`, the news
//! sitemap. Each
//! file is written to a temporary name and renamed into place, so a web
//! server reading the folder never sees half a feed.

mod plan;

pub use plan::{plan_dir, Plan};

use crate::catalog::Catalog;
use crate::feeds::{self, opml, sitemap, FeedId, FeedSettings};
use chrono::{DateTime, FixedOffset};
use rayon::prelude::*;
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
    let all = feeds::all_feeds(catalog, settings, now);
    summary.categories = catalog.categories(now).len();
    summary.items = catalog.newest(&crate::Scope::Site, now, usize::MAX).len();
    // Feeds render independently (an article body shared by several feeds
    // is rendered once, by whichever feed gets to it first).
    let written: Vec<Result<Option<u64>, ExportError>> = all
        .par_iter()
        .map(|feed| {
            let items = feeds::items(feed, catalog, settings, now);
            let Some(bytes) = feeds::render(feed, &items, catalog, settings) else { return Ok(None) };
            let path = out.join(feed.path());
            write_atomically(&path, &bytes).map_err(|source| ExportError { path: path.clone(), source })?;
            Ok(Some(bytes.len() as u64))
        })
        .collect();
    for w in written {
        if let Some(len) = w? {
            summary.feeds += 1;
            summary.bytes += len;
        }
    }
    let listed: Vec<(FeedId, Option<String>)> = all
        .iter()
        .map(|f| (f.clone(), (f.scope != crate::Scope::Site).then(|| catalog.scope_name(&f.scope)).flatten().map(String::from)))
        .collect();
    summary.bytes += write_opml(out, &listed, settings)?;
    if settings.news_sitemap {
        let bytes = sitemap::render(&sitemap::items(catalog, now), settings);
        summary.bytes += write_document(out, sitemap::PATH, &bytes)?;
    }
    Ok(summary)
}

/// `feeds.opml`: every feed written, for a reader to import (as `serve` has it).
fn write_opml(out: &Path, listed: &[(FeedId, Option<String>)], settings: &FeedSettings) -> Result<u64, ExportError> {
    let mut listed = listed.to_vec();
    listed.sort();
    write_document(out, opml::PATH, &opml::render(&listed, settings))
}

fn write_document(out: &Path, name: &str, bytes: &[u8]) -> Result<u64, ExportError> {
    let path = out.join(name);
    write_atomically(&path, bytes).map_err(|source| ExportError { path, source })?;
    Ok(bytes.len() as u64)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        // No fsync: the rename already keeps readers from seeing half a
        // file, and a build can simply be run again after a power loss.
        f.write_all(bytes)?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
