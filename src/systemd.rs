//! systemd integration: readiness and state notifications (`Type=notify`),
//! the watchdog, and socket activation. Every function is a no-op outside
//! systemd (no `NOTIFY_SOCKET`, `WATCHDOG_USEC` or `LISTEN_FDS`), so the same
//! binary runs by hand, in tests and under the service manager.
//!
//! Invariant: `READY=1` is sent only by the caller once the catalog is
//! loaded and the socket listens; this room never decides readiness.

use sd_notify::NotifyState;
use std::os::fd::{FromRawFd, RawFd};
use std::time::Duration;
use tokio::sync::watch;

fn send(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!("cannot notify the service manager: {e}");
    }
}

pub fn ready() {
    send(&[NotifyState::Ready, NotifyState::Status("serving feeds")]);
}

/// `RELOADING=1` with the monotonic timestamp systemd ≥ 253 asks for.
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(usec) => send(&[NotifyState::Reloading, usec]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

pub fn stopping() {
    send(&[NotifyState::Stopping]);
}

pub fn status(text: &str) {
    send(&[NotifyState::Status(text)]);
}

/// Pings the watchdog at half its period while the runtime is alive, until
/// shutdown. A hung runtime stops the pings and systemd restarts bantin.
pub async fn watchdog(mut shutdown: watch::Receiver<bool>) {
    let Some(period) = sd_notify::watchdog_enabled() else { return };
    let every = (period / 2).max(Duration::from_millis(100));
    tracing::info!(every_ms = every.as_millis() as u64, "systemd watchdog enabled");
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tick.tick() => send(&[NotifyState::Watchdog]),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ActivationError {
    #[error("socket activation: cannot read LISTEN_FDS: {0}")]
    Env(std::io::Error),
    #[error("socket activation: the passed socket cannot be used: {0}; check ListenStream= in bantin.socket")]
    Socket(std::io::Error),
}

/// The listening socket passed by systemd (`bantin.socket`), if any.
pub fn activated_listener() -> Result<Option<std::net::TcpListener>, ActivationError> {
    let fds: Vec<RawFd> = sd_notify::listen_fds().map_err(ActivationError::Env)?.collect();
    let Some(&fd) = fds.first() else { return Ok(None) };
    if fds.len() > 1 {
        tracing::warn!(count = fds.len(), "several sockets were passed; serving on the first");
    }
    // SAFETY: systemd passed this descriptor to us (LISTEN_PID matched our
    // pid in `listen_fds`) and nothing else in the process owns it; we take
    // it over exactly once.
    let listener = unsafe { std::net::TcpListener::from_raw_fd(fd) };
    listener.set_nonblocking(true).map_err(ActivationError::Socket)?;
    listener.local_addr().map_err(ActivationError::Socket)?;
    Ok(Some(listener))
}
