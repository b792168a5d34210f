//! The group commit of sent marks for `mail::sender`: a send task hands
//! in the id of a message the relay accepted ([`Marks::mark`]) and goes on;
//! one [`Marker`] task commits the marks of several connections in one
//! transaction, overlapping the next message's transfer.

use super::smtp::Gate;
use crate::state::{Marking, StateError};
use chrono::{DateTime, Utc};
use futures_util::FutureExt as _;
use std::sync::Arc;
use std::time::Duration;

/// One accepted message to mark sent, and who to tell once it is.
type Mark = (i64, DateTime<Utc>, tokio::sync::oneshot::Sender<()>);

/// The group commit of sent marks. A send task hands in the id of a
/// message the relay accepted and goes on; the mark's [`Gate`] travels with
/// the SMTP session, whose next message waits for it before its final `.`
/// (`mail::smtp`). The marker commits a group when a gate is waited for
/// (`flush`), when it holds a mark of every connection, or `HOLD` after
/// its first mark: marks of several connections share one transaction,
/// and the commit overlaps the next message's transfer instead of
/// holding the connection.
#[derive(Clone)]
pub(super) struct Marks {
    queue: tokio::sync::mpsc::UnboundedSender<Mark>,
    flush: Arc<tokio::sync::Notify>,
}

pub(super) struct Marker;

impl Marker {
    /// The longest a mark waits for others to share its commit.
    const HOLD: Duration = Duration::from_millis(5);

    /// Starts the marking task on `marking`; it ends when every `Marks` is
    /// dropped, giving the marking back for the next pass, or at the first
    /// database error (returned).
    pub(super) fn start(mut marking: Marking, owner: String, group_size: usize) -> (Marks, tokio::task::JoinHandle<Result<Marking, StateError>>) {
        let (queue, mut rx) = tokio::sync::mpsc::unbounded_channel::<Mark>();
        let flush = Arc::new(tokio::sync::Notify::new());
        let wanted = Arc::clone(&flush);
        let task = tokio::spawn(async move {
            let mut group = Vec::new();
            while rx.recv_many(&mut group, usize::MAX).await > 0 {
                let deadline = tokio::time::Instant::now() + Self::HOLD;
                while group.len() < group_size {
                    tokio::select! {
                        biased;
                        () = wanted.notified() => break,
                        n = rx.recv_many(&mut group, usize::MAX) => if n == 0 { break },
                        () = tokio::time::sleep_until(deadline) => break,
                    }
                }
                let ids: Vec<i64> = group.iter().map(|(id, _, _)| *id).collect();
                let at = group.iter().map(|(_, at, _)| *at).max().unwrap_or_else(Utc::now);
                marking.mark_sent_many(&ids, &owner, at).await?;
                tracing::trace!(marks = ids.len(), "marked sent");
                for (_, _, done) in group.drain(..) {
                    let _ = done.send(());
                }
            }
            Ok(marking)
        });
        (Marks { queue, flush }, task)
    }
}

impl Marks {
    /// Hands in the mark of an accepted message; the gate opens once it is
    /// committed (false if the marker stopped first).
    pub(super) fn mark(&self, id: i64, at: DateTime<Utc>) -> Option<Gate> {
        let (done, marked) = tokio::sync::oneshot::channel();
        self.queue.send((id, at, done)).ok()?;
        let flush = Arc::clone(&self.flush);
        Some(Box::pin(async move {
            let mut marked = marked;
            match (&mut marked).now_or_never() {
                Some(r) => r.is_ok(),
                None => {
                    // Someone waits for this commit: it should not wait
                    // for more marks to join it.
                    flush.notify_one();
                    marked.await.is_ok()
                }
            }
        }))
    }
}
