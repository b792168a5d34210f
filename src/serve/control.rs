//! How a running service is told to stop or reload: a [`Control`]. The
//! binary makes one from the process's signals ([`Control::from_signals`]:
//! SIGTERM/SIGINT stop, SIGHUP reads and validates the config file again);
//! a test makes one from its own channels ([`Control::new`]).

use crate::config::{self, Settings};
use crate::systemd;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

pub struct Control {
    /// Resolves when the service must stop.
    pub shutdown: Pin<Box<dyn Future<Output = ()> + Send>>,
    /// New, validated settings to apply.
    pub reload: mpsc::UnboundedReceiver<Settings>,
}

impl Control {
    pub fn new(shutdown: impl Future<Output = ()> + Send + 'static, reload: mpsc::UnboundedReceiver<Settings>) -> Control {
        Control { shutdown: Box::pin(shutdown), reload }
    }

    /// Installs the signal handlers (call it before anything slow, so a
    /// signal during start-up is handled instead of killing the process
    /// halfway). On SIGHUP the config `file` is read again: a bad one is
    /// refused with one log line and the service runs on unchanged.
    pub fn from_signals(file: PathBuf) -> std::io::Result<Control> {
        let mut sigterm = signal(SignalKind::terminate())?;
        let mut sigint = signal(SignalKind::interrupt())?;
        let mut sighup = signal(SignalKind::hangup())?;
        let shutdown = async move {
            tokio::select! {
                _ = sigterm.recv() => tracing::info!("SIGTERM: shutting down"),
                _ = sigint.recv() => tracing::info!("SIGINT: shutting down"),
            }
        };
        let (tx, reload) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while sighup.recv().await.is_some() {
                systemd::reloading();
                match config::load(&file) {
                    Ok(new) => {
                        if tx.send(new).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::error!("configuration reload refused, still running with the previous one: {e}");
                        systemd::ready();
                    }
                }
            }
        });
        Ok(Control::new(shutdown, reload))
    }
}
