//! The `bantin` command: argument parsing, logging set-up and the mapping
//! of errors to exit codes (sysexits.h). Everything else is in the library.

use anyhow::Context as _;
use bantin::config::{self, ConfigError};
use bantin::feeds::FeedSettings;
use args::{Cli, Command};
use clap::Parser;
use std::process::ExitCode;

mod args;
mod cli;

/// Exit codes of DESIGN.md (the sysexits.h values).
mod exit {
    pub const USAGE: u8 = 64;
    pub const UNAVAILABLE: u8 = 69;
    pub const DATAERR: u8 = 65;
    pub const IOERR: u8 = 74;
    pub const CONFIG: u8 = 78;
}

fn main() -> ExitCode {
    tune_malloc();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { exit::USAGE } else { 0 });
        }
    };
    init_logging();
    let file = config::locate(cli.config.as_deref());
    let settings = match config::load(&file) {
        Ok(s) => s,
        Err(e) => return config_failure(&e),
    };
    let result = match cli.command {
        Command::Serve => serve::run(file, settings),
        Command::Build { out } => build(&settings, &out),
        Command::Check { strict } => check(&settings, strict),
        Command::Subscribers { command } => cli::subscribers(settings, command),
        Command::Digest { command } => cli::digest(settings, command),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("bantin: error: {}", report(&e));
            ExitCode::from(exit::IOERR)
        }
    }
}

/// An error and its causes on one line, each cause once: library errors
/// already quote their source in their own message (so `{e}` alone is
/// complete where they are printed directly), and anyhow's `{:#}` would
/// repeat it ("disk is full: … disk is full: … disk is full").
fn report(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

fn config_failure(e: &ConfigError) -> ExitCode {
    eprintln!("bantin: configuration error: {e}");
    ExitCode::from(exit::CONFIG)
}

/// Logs go to stderr, one event a line (journald reads them as they are);
/// `BANTIN_LOG_FORMAT=json` writes JSON lines, `BANTIN_LOG` filters
/// (e.g. `debug`, `bantin=debug`).
fn init_logging() {
    use std::io::IsTerminal as _;
    let filter = tracing_subscriber::EnvFilter::try_from_env("BANTIN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false);
    let _ = if std::env::var("BANTIN_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.with_ansi(std::io::stderr().is_terminal()).try_init()
    };
}

/// glibc gives every thread that allocates its own arena (up to 8 per
/// core) and keeps what is freed there: the tokio blocking threads, rayon
/// workers and the brotli worker each held tens of MB of a 100k-article
/// catalog's transient garbage (issue 6: peak RSS of `serve`). Two arenas
/// are plenty for a service whose request path hardly allocates.
///
/// And glibc raises its mmap threshold to the size of each large block
/// freed (up to 32 MiB): after the brotli worker's first multi-MiB tables
/// every later feed buffer and encoder table came from the heap, where the
/// holes they left kept `serve` growing by ~10 MB over 50 article writes.
/// A fixed threshold keeps every block over 256 KiB in its own mapping,
/// given back when freed. An operator's own `MALLOC_ARENA_MAX` /
/// `MALLOC_MMAP_THRESHOLD_` win. Must run before any thread starts.
fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only sets an allocator parameter; called before
        // any other thread exists, so nothing allocates concurrently.
        if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
            unsafe {
                libc::mallopt(libc::M_ARENA_MAX, 2);
            }
        }
        if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
            }
        }
    }
}

/// `bantin serve`: wiring of the rooms and the process lifecycle (signals,
/// systemd states). Everything it starts stops on one shutdown channel.
mod serve {
    use super::exit;
    use anyhow::Context as _;
    use bantin::config;
    use bantin::config::StoreKind;
    use bantin::service::{self, Command, Core, Shared, Store};
    use bantin::store::sql;
    use bantin::{digest, http, subscription, systemd, table, watch};
    use std::path::PathBuf;
    use std::sync::Arc;
    use std::process::ExitCode;
    use std::time::Duration;
    use tokio::signal::unix::{signal, SignalKind};
    use tokio::sync::{mpsc, oneshot};

    /// How long background work may take to stop after SIGTERM.
    const STOP_BOUND: Duration = Duration::from_secs(10);

    pub fn run(file: PathBuf, settings: bantin::Settings) -> anyhow::Result<ExitCode> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("bantin")
            .build()
            .context("starting the async runtime")?;
        let code = rt.block_on(serve(file, settings));
        // Blocking work still running (a render) must not hold up the exit.
        rt.shutdown_timeout(Duration::from_secs(1));
        code
    }

    async fn serve(file: PathBuf, settings: bantin::Settings) -> anyhow::Result<ExitCode> {
        // Handlers first: a signal during the initial load is then handled
        // instead of killing the process halfway.
        let mut sigterm = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
        let mut sigint = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
        let mut sighup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;

        let listener = match listen(&settings).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("bantin: error: {}", crate::report(&e));
                return Ok(ExitCode::from(exit::UNAVAILABLE));
            }
        };
        let addr = listener.local_addr().context("reading the listening address")?;

        let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
        let (tx, rx) = mpsc::unbounded_channel();
        let watch_settings = watch::WatchSettings {
            root: settings.store.path.clone(),
            debounce: settings.store.debounce,
            rescan: settings.store.rescan,
        };
        // An SQL store's database must answer at start (its URL shown
        // without the password), like the state database below.
        let sql_store = match settings.store.kind {
            StoreKind::Dir => None,
            StoreKind::Postgres | StoreKind::Sqlite => match open_table(&settings).await {
                Ok(t) => Some(t),
                Err(e) => {
                    eprintln!("bantin: error: {e}");
                    return Ok(ExitCode::from(if e.is_unavailable() { exit::UNAVAILABLE } else { exit::CONFIG }));
                }
            },
        };
        // Changes are followed from before the first read, so none made
        // during the read is lost (at worst it is read twice).
        let watcher = match &sql_store {
            Some(_) => None,
            None => {
                let ws = watch_settings.clone();
                Some(tokio::task::spawn_blocking(move || watch::start(&ws)).await.context("starting the store watcher")?)
            }
        };
        let follower = match &sql_store {
            Some((pool, source)) => Some(table::start(pool, source).await),
            None => None,
        };

        // The subscription side: its state database must open, else the
        // service is unavailable (same as a port it cannot bind). Its
        // catalog is the one the feeds are rendered from.
        let shared = Shared::new(&settings);
        let digests = match digest::Digests::open(Arc::new(settings.clone()), shared.catalog_source()).await {
            Ok(d) => d,
            Err(e) => {
                eprintln!("bantin: error: cannot start the subscriptions and digests: {e}");
                return Ok(ExitCode::from(exit::UNAVAILABLE));
            }
        };
        // Set once, before anything reads it.
        let _ = shared.state.set(digests.state.clone());
        let _ = shared.websub.set(bantin::websub::Publisher::spawn(shutdown_rx.clone(), crate::websub_retry()));
        // DESIGN.md lists SMTP down at start under exit 69; `digest run`
        // does exit 69, but the service keeps serving feeds (readers should
        // not lose them to a mail outage): mail waits in the outbox and is
        // retried. The operator hears of it at once rather than at the first
        // failed send.
        {
            let digests = Arc::clone(&digests);
            tokio::spawn(async move {
                if let Err(e) = digests.mailer.check_connection().await {
                    tracing::warn!(error = %e, "the SMTP relay does not answer at start; mail waits in the outbox and is retried");
                }
            });
        }

        systemd::status("loading the store");
        let started = std::time::Instant::now();
        let load = {
            let (settings, shared, sql_store) = (settings.clone(), shared.clone(), sql_store.clone());
            let covered = follower.as_ref().map(table::Follower::covered).unwrap_or_default();
            async move {
                let store = match sql_store {
                    None => {
                        let s = settings.clone();
                        tokio::task::spawn_blocking(move || Store::read_dir(&s)).await.context("reading the store")?
                    }
                    Some((pool, source)) => {
                        let rows = sql::fetch(&pool, &source).await?;
                        let ctx = bantin::store::Context::from_settings(&settings.site);
                        tokio::task::spawn_blocking(move || {
                            let mut state = table::TableState::new(pool, source, ctx, covered);
                            state.apply(rows);
                            Store::Table(Box::new(state))
                        })
                        .await
                        .context("reading the article table")?
                    }
                };
                let core = tokio::task::spawn_blocking(move || Core::start(settings, shared, store)).await.context("rendering the feeds")?;
                Ok::<Core, anyhow::Error>(core)
            }
        };
        // A large store takes a while; a stop request meanwhile is honoured.
        let core = tokio::select! {
            core = load => match core {
                Ok(core) => core,
                Err(e) => {
                    eprintln!("bantin: error: {e:#}");
                    let unavailable = e.downcast_ref::<sql::SqlStoreError>().is_some_and(sql::SqlStoreError::is_unavailable);
                    return Ok(ExitCode::from(if unavailable { exit::UNAVAILABLE } else { exit::IOERR }));
                }
            },
            _ = sigterm.recv() => { tracing::info!("SIGTERM while loading: exiting"); return Ok(ExitCode::SUCCESS); }
            _ = sigint.recv() => { tracing::info!("SIGINT while loading: exiting"); return Ok(ExitCode::SUCCESS); }
        };
        tracing::info!(
            articles = core.catalog.len(),
            errors = core.catalog.errors().len(),
            ms = started.elapsed().as_millis() as u64,
            store = %settings.store.shown(),
            "catalog loaded"
        );

        let limits = http::Limits::default();
        let router = http::routes(shared.clone()).merge(subscription::routes(Arc::clone(&digests)));
        let app = http::Hot::new(shared.clone(), http::finish(router, shared.clone(), &limits));

        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(service::run(core, rx, shutdown_rx.clone()));
        if let Some(watcher) = watcher {
            tasks.spawn(watch::run(watch_settings, watcher, tx.clone(), shutdown_rx.clone()));
        }
        if let (Some(follower), Some((pool, source))) = (follower, sql_store) {
            let follow = table::FollowSettings { poll: settings.store.poll, rescan: settings.store.rescan };
            tasks.spawn(table::run(pool, source, follow, follower, tx.clone(), shutdown_rx.clone()));
        }
        tasks.spawn(systemd::watchdog(shutdown_rx.clone()));
        tasks.spawn(digest::run_scheduler_with(Arc::clone(&digests), shutdown_rx.clone(), crate::scheduler_options()));
        let server = tokio::spawn(http::serve(listener, app, limits, shutdown_rx.clone()));

        tracing::info!("listening on {addr}");
        systemd::ready();

        let mut current = settings;
        loop {
            tokio::select! {
                _ = sigterm.recv() => { tracing::info!("SIGTERM: shutting down"); break; }
                _ = sigint.recv() => { tracing::info!("SIGINT: shutting down"); break; }
                _ = sighup.recv() => {
                    systemd::reloading();
                    match config::load(&file) {
                        Err(e) => tracing::error!("configuration reload refused, still running with the previous one: {e}"),
                        Ok(new) => {
                            if new.http.listen != current.http.listen {
                                tracing::warn!(old = %current.http.listen, new = %new.http.listen, "http.listen changed; restart bantin to listen on the new address");
                            }
                            // The digest side (state database, SMTP pool, composer,
                            // token key) is built once at start from these sections.
                            let digest_side = |s: &bantin::Settings| format!("{:?}{:?}{:?}", s.state, s.mail, s.digest);
                            if digest_side(&new) != digest_side(&current) {
                                tracing::warn!("[state]/[mail]/[digest] changed; restart bantin to apply them to subscriptions and digests");
                            }
                            if new.store.debounce != current.store.debounce
                                || new.store.rescan != current.store.rescan
                                || new.store.poll != current.store.poll
                            {
                                tracing::warn!("store.debounce_ms/store.rescan/store.poll changed; restart bantin to apply them");
                            }
                            let (done_tx, done_rx) = oneshot::channel();
                            if tx.send(Command::Reload(Box::new(new.clone()), done_tx)).is_ok() {
                                let _ = done_rx.await;
                            }
                            tracing::info!(file = %file.display(), "configuration reloaded");
                            current = new;
                        }
                    }
                    systemd::ready();
                }
            }
        }

        systemd::stopping();
        let _ = shutdown_tx.send(true);
        let stopped = tokio::time::timeout(STOP_BOUND, async {
            let _ = server.await;
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if stopped.is_err() {
            tracing::warn!("background work did not stop within {} s; exiting anyway", STOP_BOUND.as_secs());
        }
        tracing::info!("stopped");
        Ok(ExitCode::SUCCESS)
    }

    /// Connects to an SQL store and checks its table against the column
    /// mapping.
    async fn open_table(settings: &bantin::Settings) -> Result<(sql::Pool, sql::Source), sql::SqlStoreError> {
        let source = sql::Source::from_settings(&settings.store);
        let pool = sql::connect(&source.url).await?;
        let source = sql::resolve(&pool, &source).await?;
        Ok((pool, source))
    }

    async fn listen(settings: &bantin::Settings) -> anyhow::Result<tokio::net::TcpListener> {
        if let Some(std_listener) = systemd::activated_listener()? {
            return tokio::net::TcpListener::from_std(std_listener).context("using the socket passed by systemd");
        }
        tokio::net::TcpListener::bind(settings.http.listen).await.with_context(|| {
            format!(
                "cannot listen on {} (http.listen): another process may use the port; pick another address or stop it",
                settings.http.listen
            )
        })
    }
}

fn now_in(settings: &bantin::Settings) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::Utc::now().with_timezone(&settings.site.timezone).fixed_offset()
}

fn build(settings: &bantin::Settings, out: &std::path::Path) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let feed_settings = FeedSettings::from_settings(settings);
    let now = now_in(settings);
    // A dir store is planned: only the articles the feeds show are read
    // whole (bantin::export::plan). An SQL store is read into a catalog.
    let (summary, errors) = if settings.store.kind == config::StoreKind::Dir {
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

fn check(settings: &bantin::Settings, strict: bool) -> anyhow::Result<ExitCode> {
    println!("{}: configuration is valid", settings.file.display());
    let catalog = match read_store(settings) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let now = now_in(settings);
    let articles = catalog.articles();
    let drafts = articles.iter().filter(|a| a.draft).count();
    let future = articles.iter().filter(|a| !a.draft && a.published > now).count();
    // Paths as the user can open them (store folder + file), so an editor
    // can jump to `path:line`; rows as `table#key`.
    let dir = settings.store.kind == config::StoreKind::Dir;
    for e in catalog.errors() {
        let origin = if dir { settings.store.path.join(&e.origin).display().to_string() } else { e.origin.clone() };
        let shown = bantin::ArticleError { origin, ..e.clone() };
        println!("error: {shown}");
    }
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

/// The whole store as a catalog, or the exit code when an SQL store's
/// database is out of reach (69) or its table does not match the mapping (78).
fn read_store(settings: &bantin::Settings) -> Result<bantin::Catalog, ExitCode> {
    bantin::load_catalog(settings, 1).map_err(|e| {
        eprintln!("bantin: error: {e}");
        ExitCode::from(if e.is_unavailable() { exit::UNAVAILABLE } else { exit::CONFIG })
    })
}

/// The first WebSub retry delay: 2 s, or `BANTIN_WEBSUB_RETRY_MS` (tests
/// use a short one to see retries happen).
fn websub_retry() -> std::time::Duration {
    let ms = std::env::var("BANTIN_WEBSUB_RETRY_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    std::time::Duration::from_millis(ms)
}

/// The digest scheduler's timing: the defaults, or for tests
/// `BANTIN_DIGEST_POLL_MS` (a shorter outbox poll) and `BANTIN_DIGEST_AT`
/// (RFC 3339: the scheduler's clock starts there, like `digest run --at`).
fn scheduler_options() -> bantin::digest::SchedulerOptions {
    let mut o = bantin::digest::SchedulerOptions::default();
    if let Some(ms) = std::env::var("BANTIN_DIGEST_POLL_MS").ok().and_then(|v| v.parse().ok()) {
        o.poll = std::time::Duration::from_millis(ms);
    }
    if let Ok(at) = std::env::var("BANTIN_DIGEST_AT") {
        match chrono::DateTime::parse_from_rfc3339(&at) {
            Ok(t) => o.start_at = Some(t.with_timezone(&chrono::Utc)),
            Err(e) => tracing::warn!("BANTIN_DIGEST_AT {at:?} is not an RFC 3339 time ({e}); using the clock"),
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::report;

    #[derive(Debug, thiserror::Error)]
    #[error("state database: marking sent: {source}")]
    struct Quoting {
        source: std::io::Error,
    }

    #[test]
    fn disk_full_error_names_its_cause_once_not_three_times() {
        let inner = std::io::Error::other("database or disk is full");
        let e = anyhow::Error::new(Quoting { source: inner }).context("sending digests");
        let line = report(&e);
        assert_eq!(line, "sending digests: state database: marking sent: database or disk is full");
        assert_eq!(line.matches("disk is full").count(), 1);
    }
}
