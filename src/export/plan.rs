//! A static build of a dir store that holds only what its feeds show.
//!
//! `bantin build` writes every feed once and exits, and feeds show the
//! newest `feeds.items` articles of the site and of each category, so a
//! [`Catalog`](crate::Catalog) of the whole store (every article's metadata,
//! summary and body loader) is mostly memory that nothing reads. A plan
//! reads every file's [`Head`] first (identity, slug, date, categories:
//! everything that can make it an error or change another article), keeps
//! of it a few fields, applies the catalog's rules to those, and reads in
//! full only the articles some feed shows.
//!
//! Invariant: the feeds written are byte for byte the ones of
//! `export::write_all` over `Catalog::new` of the same store: the plan
//! applies the catalog's own rules (`bantin_core::identity`: ids unique
//! with the first origin keeping it, a repeated slug renamed `-2`, `-3`…
//! in order of publication, newest first with ties by id, and a category
//! named by its newest article) to its keys. `tests/build_plan.rs`
//! compares the two on awkward stores.

use super::{write_atomically, ExportError, Summary};
use crate::article::{Article, ArticleError, Category, Shared};
use crate::feeds::{self, FeedId, FeedSettings, Format};
use crate::store::raw::Head;
use bantin_core::identity::{self, Claim, Fast};
use crate::store::readers::Readers;
use crate::store::{dir, Context};
use crate::Scope;
use chrono::{DateTime, FixedOffset};
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What the catalog's rules need of one article. Ten thousand of these are
/// held while the shown articles are read whole, so a key is kept small:
/// its origin is its file's (`origin_in`), its strings are exact-sized, a
/// slug that is also the id (a front-matter slug) is not kept twice, and
/// its category list is the catalog's shared one (`Category::set`).
struct Key {
    file: u32,
    draft: bool,
    id: Box<str>,
    /// `None`: the same as `id`.
    own_slug: Option<Box<str>>,
    published: DateTime<FixedOffset>,
    categories: Shared<[Category]>,
}

/// One category's feeds: its name and the articles they show.
struct Group {
    name: String,
    shown: Vec<usize>,
    visible: bool,
}

/// The feeds of a store at one instant, ready to be written.
pub struct Plan {
    /// Why files were left out, sorted by origin (as `Catalog::errors`).
    pub errors: Vec<ArticleError>,
    /// Articles visible at `now` (`Summary::items`).
    pub visible: usize,
    /// Every feed with its category's name and its items.
    feeds: Vec<(FeedId, Option<String>, Vec<Arc<Article>>)>,
}

/// Reads the dir store at `root` for the feeds visible at `now`. Errs only
/// when a file that a feed shows changed or vanished between the two reads
/// (the build can simply be run again).
pub fn plan_dir(
    root: &Path,
    ctx: &Context,
    settings: &FeedSettings,
    now: DateTime<FixedOffset>,
) -> Result<Plan, ExportError> {
    let (files, mut errors) = dir::list(root);
    let origin_in = |k: &Key| dir::origin_ref(root, &files[k.file as usize]);
    let heads: Vec<Result<Key, ArticleError>> = Readers::for_files(&files).read(|| {
        files
            .par_iter()
            .enumerate()
            .map(|(n, path)| {
                let head = dir::read_head(root, path, ctx)?;
                Ok(key(n, head))
            })
            .collect()
    });
    let mut keys = Vec::with_capacity(heads.len());
    for h in heads {
        match h {
            Ok(k) => keys.push(k),
            Err(e) => errors.push(e),
        }
    }

    // The rules of `bantin_core::identity`, in its order. Unique ids: the
    // first origin keeps the id. Files are listed in origin order, so keys
    // already are (a name that is not UTF-8, whose origin is not its bytes,
    // is an error of `read_head`); the check is for paths given some other way.
    if !keys.is_sorted_by(|a, b| origin_in(a) <= origin_in(b)) {
        keys.sort_by_cached_key(|k| origin_in(k).into_owned());
    }
    identity::keep_first_ids(&mut keys, |k, first| {
        errors.push(identity::same_identity(&origin_in(k), &k.id, &origin_in(first)));
    });
    identity::sort_oldest_first(&mut keys);
    let renames = identity::renames(&keys);

    let (site, visible, groups) = shown(&keys, settings.items, now);

    // Only now the shown articles are read whole (body rendered), in
    // parallel; what the first read saw must still hold.
    let wanted: Vec<usize> = {
        let mut set: HashSet<usize, Fast> = HashSet::with_hasher(Fast::default());
        set.extend(site.iter().copied());
        for g in groups.values() {
            set.extend(g.shown.iter().copied());
        }
        set.into_iter().collect()
    };
    let articles = read_whole(root, &files, ctx, &keys, &renames, &wanted)?;
    let items =
        |shown: &[usize]| -> Vec<Arc<Article>> { shown.iter().filter_map(|i| articles.get(i).cloned()).collect() };

    let mut feeds = Vec::new();
    let site_items = items(&site);
    for format in Format::ALL {
        feeds.push((FeedId::new(Scope::Site, format), None, site_items.clone()));
    }
    for (slug, g) in groups.iter().filter(|(_, g)| g.visible) {
        let shown = items(&g.shown);
        for format in Format::ALL {
            feeds.push((FeedId::new(Scope::Category(slug.to_string()), format), Some(g.name.clone()), shown.clone()));
        }
    }
    errors.sort_by(|a, b| a.origin.cmp(&b.origin));
    Ok(Plan { errors, visible, feeds })
}

/// Newest first (so a category is named by its newest article): the
/// positions the site's feeds show, how many articles are visible at
/// `now`, and each category's group.
fn shown(keys: &[Key], items: usize, now: DateTime<FixedOffset>) -> (Vec<usize>, usize, BTreeMap<&str, Group>) {
    let visible_at = |k: &Key| !k.draft && k.published <= now;
    let mut site = Vec::new();
    let mut visible = 0;
    let mut groups: BTreeMap<&str, Group> = BTreeMap::new();
    for (i, k) in keys.iter().enumerate().rev() {
        let shown = visible_at(k);
        if shown {
            visible += 1;
            if site.len() < items {
                site.push(i);
            }
        }
        for Category { slug, name } in k.categories.iter() {
            let g =
                groups.entry(slug).or_insert_with(|| Group { name: name.clone(), shown: Vec::new(), visible: false });
            if shown {
                g.visible = true;
                if g.shown.len() < items {
                    g.shown.push(i);
                }
            }
        }
    }
    (site, visible, groups)
}

/// The articles at positions `wanted` of `keys`, read whole (body
/// rendered) in parallel and renamed as `renames` says, by position; errs
/// when what the first read saw no longer holds.
fn read_whole(
    root: &Path,
    files: &[PathBuf],
    ctx: &Context,
    keys: &[Key],
    renames: &[(usize, String)],
    wanted: &[usize],
) -> Result<HashMap<usize, Arc<Article>, Fast>, ExportError> {
    let read: Vec<Result<(usize, Arc<Article>), ExportError>> = wanted
        .par_iter()
        .map(|&i| {
            let k = &keys[i];
            let path: &PathBuf = &files[k.file as usize];
            let changed = |why: String| ExportError {
                path: path.clone(),
                source: std::io::Error::other(format!("{why} while the build read the store; run the build again")),
            };
            let mut a =
                dir::read_now(root, path, ctx).map_err(|e| changed(format!("became unreadable ({})", e.reason)))?;
            if a.id() != &*k.id
                || a.slug() != k.slug()
                || a.published != k.published
                || a.draft != k.draft
                || a.categories != k.categories
            {
                return Err(changed("changed".into()));
            }
            if let Some(slug) = identity::renamed(renames, i) {
                identity::rename(&mut a, slug, ctx);
            }
            Ok((i, Arc::new(a)))
        })
        .collect();
    let mut articles: HashMap<usize, Arc<Article>, Fast> =
        HashMap::with_capacity_and_hasher(read.len(), Fast::default());
    for r in read {
        let (i, a) = r?;
        articles.insert(i, a);
    }
    Ok(articles)
}

impl Plan {
    /// Renders and writes every feed into `out`, in parallel.
    pub fn write(&self, out: &Path, settings: &FeedSettings) -> Result<Summary, ExportError> {
        let written: Vec<Result<u64, ExportError>> = self
            .feeds
            .par_iter()
            .map(|(feed, name, items)| {
                let bytes = feeds::render_named(feed, items, name.as_deref(), settings);
                let path = out.join(feed.path());
                write_atomically(&path, &bytes).map_err(|source| ExportError { path: path.clone(), source })?;
                Ok(bytes.len() as u64)
            })
            .collect();
        let mut summary =
            Summary { categories: self.feeds.len() / Format::ALL.len() - 1, items: self.visible, ..Summary::default() };
        for w in written {
            summary.bytes += w?;
            summary.feeds += 1;
        }
        let listed: Vec<_> = self.feeds.iter().map(|(feed, name, _)| (feed.clone(), name.clone())).collect();
        summary.bytes += super::write_opml(out, &listed, settings)?;
        Ok(summary)
    }
}

impl Claim for Key {
    fn id(&self) -> &str {
        &self.id
    }
    fn slug(&self) -> &str {
        self.own_slug.as_deref().unwrap_or(&self.id)
    }
    fn published(&self) -> DateTime<FixedOffset> {
        self.published
    }
}

fn key(file: usize, head: Head) -> Key {
    let own_slug = (head.slug != head.id).then(|| head.slug.into_boxed_str());
    Key {
        file: file as u32,
        draft: head.draft,
        id: head.id.into_boxed_str(),
        own_slug,
        published: head.published,
        categories: Category::set(head.categories),
    }
}
