//! The `bantin` command: argument parsing, logging set-up and the mapping
//! of errors to exit codes (sysexits.h). Everything else is in the library.

use anyhow::Context as _;
use bantin::config::{self, ConfigError};
use bantin::feeds::FeedSettings;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

mod cli;

/// Exit codes of DESIGN.md (the sysexits.h values).
mod exit {
    pub const USAGE: u8 = 64;
    pub const UNAVAILABLE: u8 = 69;
    pub const DATAERR: u8 = 65;
    pub const IOERR: u8 = 74;
    pub const CONFIG: u8 = 78;
}

#[derive(Parser)]
#[command(name = "bantin", version, about = "News feeds and e-mail digests for a news portal")]
struct Cli {
    /// The configuration file [default: $BANTIN_CONFIG, else /etc/bantin/bantin.toml if it exists, else config/bantin.toml]
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service: watch the store, serve the feeds over HTTP
    Serve,
    /// Write every feed once as static files, then exit
    Build {
        /// The folder to write into (created if missing)
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Validate the configuration and every article; report per file
    Check {
        /// Exit with 65 when any article has an error
        #[arg(long)]
        strict: bool,
    },
    /// Manage digest subscribers
    Subscribers {
        #[command(subcommand)]
        command: cli::SubscribersCommand,
    },
    /// Preview or send the e-mail digests
    Digest {
        #[command(subcommand)]
        command: cli::DigestCommand,
    },
}

fn main() -> ExitCode {
    limit_malloc_arenas();
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
            eprintln!("bantin: error: {e:#}");
            ExitCode::from(exit::IOERR)
        }
    }
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
/// are plenty for a service whose request path hardly allocates. An
/// operator's own `MALLOC_ARENA_MAX` wins. Must run before any thread starts.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; called before
        // any other thread exists, so nothing allocates concurrently.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

/// `bantin serve`: wiring of the rooms and the process lifecycle (signals,
/// systemd states). Everything it starts stops on one shutdown channel.
mod serve {
    use super::exit;
    use anyhow::Context as _;
    use bantin::config;
    use bantin::service::{self, Command, Core, Shared};
    use bantin::{digest, http, subscription, systemd, watch};
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
                eprintln!("bantin: error: {e:#}");
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
        let watcher = {
            let (ws, tx) = (watch_settings.clone(), tx.clone());
            tokio::task::spawn_blocking(move || watch::start(&ws, &tx)).await.context("starting the store watcher")?
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

        systemd::status("loading the store");
        let started = std::time::Instant::now();
        let load = {
            let (settings, shared) = (settings.clone(), shared.clone());
            tokio::task::spawn_blocking(move || Core::start(settings, shared))
        };
        // A large store takes a while; a stop request meanwhile is honoured.
        let core = tokio::select! {
            core = load => core.context("loading the store")?,
            _ = sigterm.recv() => { tracing::info!("SIGTERM while loading: exiting"); return Ok(ExitCode::SUCCESS); }
            _ = sigint.recv() => { tracing::info!("SIGINT while loading: exiting"); return Ok(ExitCode::SUCCESS); }
        };
        tracing::info!(
            articles = core.catalog.articles().len(),
            errors = core.catalog.errors().len(),
            ms = started.elapsed().as_millis() as u64,
            store = %settings.store.path.display(),
            "catalog loaded"
        );

        let limits = http::Limits::default();
        let router = http::routes(shared.clone()).merge(subscription::routes(Arc::clone(&digests)));
        let app = http::Hot::new(shared.clone(), http::finish(router, shared.clone(), &limits));

        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(service::run(core, rx, shutdown_rx.clone()));
        tasks.spawn(watch::run(watch_settings, watcher, tx.clone(), shutdown_rx.clone()));
        tasks.spawn(systemd::watchdog(shutdown_rx.clone()));
        tasks.spawn(digest::run_scheduler(Arc::clone(&digests), shutdown_rx.clone()));
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
                            if new.store.debounce != current.store.debounce || new.store.rescan != current.store.rescan {
                                tracing::warn!("store.debounce_ms/store.rescan changed; restart bantin to apply them");
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
    let catalog = bantin::load_catalog(settings, 1);
    for e in catalog.errors() {
        eprintln!("skipped {e}");
    }
    let feed_settings = FeedSettings::from_settings(settings);
    let summary = bantin::export::write_all(out, &catalog, &feed_settings, now_in(settings))
        .with_context(|| format!("writing the feeds into {}", out.display()))?;
    println!(
        "wrote {} feeds ({} bytes) for {} articles in {} categories to {} in {} ms; {} files skipped{}",
        summary.feeds,
        summary.bytes,
        summary.items,
        summary.categories,
        out.display(),
        started.elapsed().as_millis(),
        catalog.errors().len(),
        if catalog.errors().is_empty() { "" } else { " (listed above; `bantin check` explains each)" },
    );
    Ok(ExitCode::SUCCESS)
}

fn check(settings: &bantin::Settings, strict: bool) -> anyhow::Result<ExitCode> {
    println!("{}: configuration is valid", settings.file.display());
    let catalog = bantin::load_catalog(settings, 1);
    let now = now_in(settings);
    let articles = catalog.articles();
    let drafts = articles.iter().filter(|a| a.draft).count();
    let future = articles.iter().filter(|a| !a.draft && a.published > now).count();
    // Paths as the user can open them (store folder + file), so an editor
    // can jump to `path:line`.
    for e in catalog.errors() {
        let shown = bantin::ArticleError { origin: settings.store.path.join(&e.origin).display().to_string(), ..e.clone() };
        println!("error: {shown}");
    }
    println!(
        "{} articles read from {} ({} drafts, {} scheduled for later); {} files with errors",
        articles.len(),
        settings.store.path.display(),
        drafts,
        future,
        catalog.errors().len()
    );
    if strict && !catalog.errors().is_empty() {
        return Ok(ExitCode::from(exit::DATAERR));
    }
    Ok(ExitCode::SUCCESS)
}

/// The first WebSub retry delay: 2 s, or `BANTIN_WEBSUB_RETRY_MS` (tests
/// use a short one to see retries happen).
fn websub_retry() -> std::time::Duration {
    let ms = std::env::var("BANTIN_WEBSUB_RETRY_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    std::time::Duration::from_millis(ms)
}
