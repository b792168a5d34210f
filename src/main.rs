//! The `bantin` command: argument parsing, logging set-up and the mapping
//! of errors to exit codes (sysexits.h). Everything else is in the library.

use anyhow::Context as _;
use bantin::config::{self, ConfigError};
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
    // Before any thread starts.
    bantin::malloc::tune_at_start();
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
        Command::Serve => serve(file, settings),
        Command::Build { out } => cli::build(&settings, &out),
        Command::Check { strict } => cli::check(&settings, strict),
        Command::Subscribers { command } => cli::subscribers::run(settings, command),
        Command::Digest { command } => cli::digest::run(settings, command),
        Command::Bounces { command } => cli::bounces::run(settings, command),
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

/// Logs go to stderr, one event a line; `BANTIN_LOG_FORMAT=json` writes
/// JSON lines, `BANTIN_LOG` filters (e.g. `debug`, `bantin=debug`). When
/// stderr is the journal (a systemd service), events go to journald
/// natively instead: the right PRIORITY per level, and every field of an
/// event as a `BANTIN_…` field (`BANTIN_SUBSCRIBER_ID`, `BANTIN_MESSAGE_ID`,
/// `BANTIN_FEED` …), so `journalctl -u bantin BANTIN_SUBSCRIBER_ID=42` works.
fn init_logging() {
    use std::io::IsTerminal as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_env("BANTIN_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
    };
    let json = std::env::var("BANTIN_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    if !json && stderr_is_journal() {
        match tracing_journald::layer() {
            Ok(journal) => {
                let journal = journal.with_field_prefix(Some("BANTIN".into())).with_syslog_identifier("bantin".into());
                if tracing_subscriber::registry().with(filter()).with(journal).try_init().is_ok() {
                    return;
                }
            }
            Err(e) => eprintln!("bantin: cannot reach journald's socket ({e}); logging to stderr as text"),
        }
    }
    let builder = tracing_subscriber::fmt().with_env_filter(filter()).with_writer(std::io::stderr).with_target(false);
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.with_ansi(std::io::stderr().is_terminal()).try_init()
    };
}

/// systemd sets `JOURNAL_STREAM=DEVICE:INODE` for a service whose stderr
/// is connected to the journal; stderr is still the journal if it is that
/// same stream (a redirect in `ExecStart` or a child's pipe changes it).
fn stderr_is_journal() -> bool {
    use std::os::fd::AsFd as _;
    use std::os::unix::fs::MetadataExt as _;
    let Some((device, inode)) = std::env::var("JOURNAL_STREAM").ok().and_then(|s| {
        let (d, i) = s.split_once(':')?;
        Some((d.parse::<u64>().ok()?, i.parse::<u64>().ok()?))
    }) else {
        return false;
    };
    let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() else { return false };
    std::fs::File::from(fd).metadata().is_ok_and(|m| m.dev() == device && m.ino() == inode)
}

/// `bantin serve`: binds (or takes the socket systemd passed), then runs
/// `bantin::serve::run` on a multi-threaded runtime until SIGTERM/SIGINT.
fn serve(file: std::path::PathBuf, settings: bantin::Settings) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("bantin")
        .build()
        .context("starting the async runtime")?;
    let code = rt.block_on(async {
        // Handlers first: a signal during the start-up is then handled
        // instead of killing the process halfway.
        let control = bantin::serve::Control::from_signals(file).context("installing the signal handlers")?;
        let listener = match listen(&settings).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("bantin: error: {}", report(&e));
                return Ok(ExitCode::from(exit::UNAVAILABLE));
            }
        };
        Ok::<_, anyhow::Error>(match bantin::serve::run(settings, listener, control, bantin::serve::Options::from_env()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("bantin: error: {e}");
                ExitCode::from(if e.is_unavailable() {
                    exit::UNAVAILABLE
                } else if e.is_config() {
                    exit::CONFIG
                } else {
                    exit::IOERR
                })
            }
        })
    });
    // Blocking work still running (a render) must not hold up the exit.
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    code
}

async fn listen(settings: &bantin::Settings) -> anyhow::Result<tokio::net::TcpListener> {
    if let Some(std_listener) = bantin::systemd::activated_listener()? {
        return tokio::net::TcpListener::from_std(std_listener).context("using the socket passed by systemd");
    }
    tokio::net::TcpListener::bind(settings.http.listen).await.with_context(|| {
        format!(
            "cannot listen on {} (http.listen): another process may use the port; pick another address or stop it",
            settings.http.listen
        )
    })
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
