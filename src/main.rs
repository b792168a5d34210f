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
    pub const DATAERR: u8 = 65;
    pub const UNAVAILABLE: u8 = 69;
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

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("BANTIN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).try_init();
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
