//! The commands of the binary besides `serve`: what they do, their output
//! formats and exit codes (their arguments are in `args.rs`). Part of
//! `main.rs`'s crate (anyhow lives here too); everything they do is a call
//! into the library. `build` and `check` are here; [`subscribers`] (its
//! list import in `import.rs`), [`digest`] and [`bounces`] have rooms of their own.

pub mod bounces;
pub mod digest;
mod import;
pub mod subscribers;

use crate::exit;
use anyhow::Context as _;
use bantin::config;
use bantin::feeds::FeedSettings;
use bantin::state::StateStore;
use bantin::Settings;
use std::process::ExitCode;

/// A runtime for a command's async work.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")
}

/// Opens the state database; an unreachable one is exit 69.
pub(crate) async fn open_state(settings: &Settings) -> Result<StateStore, ExitCode> {
    StateStore::open(&settings.state.url).await.map_err(|e| {
        eprintln!("bantin: {e}");
        ExitCode::from(exit::UNAVAILABLE)
    })
}

pub fn build(settings: &bantin::Settings, out: &std::path::Path) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let feed_settings = FeedSettings::from_settings(settings);
    let now = bantin::now_in(settings);
    // A dir store is planned: only the articles the feeds show are read
    // whole (bantin::export::plan, which knows the site's and categories'
    // feeds). An SQL store, or a site with tag, author or sitemap feeds, is
    // read into a catalog.
    let extras = settings.feeds.tags || settings.feeds.authors || settings.feeds.news_sitemap;
    let (summary, errors) = if settings.store.kind == config::StoreKind::Dir && !extras {
        let ctx = bantin::store::Context::from_settings(&settings.site);
        let plan = bantin::export::plan_dir(&settings.store.path, &ctx, &feed_settings, now)
            .with_context(|| format!("reading the store {}", settings.store.path.display()))?;
        for e in &plan.errors {
            eprintln!("skipped {e}");
        }
        let summary = plan.write(out, &feed_settings).with_context(|| format!("writing the feeds into {}", out.display()))?;
        (summary, plan.errors.len())
    } else {
        let catalog = match read_store(settings) {
            Ok(c) => c,
            Err(code) => return Ok(code),
        };
        for e in catalog.errors() {
            eprintln!("skipped {e}");
        }
        let summary = bantin::export::write_all(out, &catalog, &feed_settings, now)
            .with_context(|| format!("writing the feeds into {}", out.display()))?;
        (summary, catalog.errors().len())
    };
    println!(
        "wrote {} feeds ({} bytes) for {} articles in {} categories to {} in {} ms; {} files skipped{}",
        summary.feeds,
        summary.bytes,
        summary.items,
        summary.categories,
        out.display(),
        started.elapsed().as_millis(),
        errors,
        if errors == 0 { "" } else { " (listed above; `bantin check` explains each)" },
    );
    Ok(ExitCode::SUCCESS)
}

pub fn check(settings: &bantin::Settings, strict: bool) -> anyhow::Result<ExitCode> {
    println!("{}: configuration is valid", settings.file.display());
    for advice in settings.advice() {
        println!("warning: {advice}");
    }
    let catalog = match read_store(settings) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let now = bantin::now_in(settings);
    let articles = catalog.articles();
    let drafts = articles.iter().filter(|a| a.draft).count();
    // Paths as the user can open them (store folder + file), so an editor
    // can jump to `path:line`; rows as `table#key`.
    let dir = settings.store.kind == config::StoreKind::Dir;
    let shown = |origin: &str| if dir { settings.store.path.join(origin).display().to_string() } else { origin.to_string() };
    for e in catalog.errors() {
        let shown = bantin::ArticleError { origin: shown(&e.origin), ..e.clone() };
        println!("error: {shown}");
    }
    let mut scheduled: Vec<_> = catalog.scheduled(now).collect();
    scheduled.reverse();
    for a in &scheduled {
        println!("{}", scheduled_line(&shown(a.origin()), a.published, now));
    }
    let future = scheduled.len();
    println!(
        "{} articles read from {} ({} drafts, {} scheduled for later); {} {} with errors",
        articles.len(),
        settings.store.shown(),
        drafts,
        future,
        catalog.errors().len(),
        if dir { "files" } else { "rows" }
    );
    if strict && !catalog.errors().is_empty() {
        return Ok(ExitCode::from(exit::DATAERR));
    }
    Ok(ExitCode::SUCCESS)
}

/// An article held back until its date: when it appears, and a warning
/// when that is more than a year ahead, which is more often a mistyped
/// year (2206 for 2026) than a plan: the article would stay unseen.
fn scheduled_line(origin: &str, at: chrono::DateTime<chrono::FixedOffset>, now: chrono::DateTime<chrono::FixedOffset>) -> String {
    let days = (at - now).num_days();
    let when = at.format("%Y-%m-%d %H:%M %:z");
    if days > 366 {
        format!("warning: {origin}: dated {when}, {days} days from now: it will not be published until then; check the year")
    } else if days == 0 {
        format!("scheduled: {origin}: published at {when} (later today)")
    } else {
        format!("scheduled: {origin}: published at {when} (in {days} days)")
    }
}

/// The whole store as a catalog, or the exit code when an SQL store's
/// database is out of reach (69) or its table does not match the mapping (78).
pub(crate) fn read_store(settings: &bantin::Settings) -> Result<bantin::Catalog, ExitCode> {
    bantin::store::load_catalog(settings, 1).map_err(|e| {
        eprintln!("bantin: error: {e}");
        ExitCode::from(if e.is_unavailable() { exit::UNAVAILABLE } else { exit::CONFIG })
    })
}
