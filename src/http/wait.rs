//! What a front connection waits on besides its client's bytes: the
//! deadline of the request head it reads, and the service's shutdown, at a
//! cost that does not grow with its requests.
//!
//! Why not a `select!` on the shutdown watch and a `timeout_at` around each
//! read, as before: each read then put a waiter in the one watch every HTTP
//! thread shares (a lock both cores take) and a timer in the wheel, and took
//! both out again after the read, ~6 % of a 304's CPU (perf under `wrk`,
//! issue 24). Here a connection takes a seat in its accept loop's [`Stop`]
//! once, and its one timer moves only when it fires before the head's
//! deadline, as nginx's timers do.

use slab::Slab;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// The shutdown as one accept loop's connections see it: a flag, and the
/// wakers of the connections that may be waiting for a request.
#[derive(Default)]
pub(super) struct Stop {
    stopped: AtomicBool,
    seats: Mutex<Slab<Waker>>,
}

impl Stop {
    /// Shutdown: every seated connection is woken to see it.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        for (_, waker) in self.seats().iter() {
            waker.wake_by_ref();
        }
    }

    pub fn stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    // A panic while the lock was held cannot leave the slab half-changed
    // (its methods do not unwind midway), so a poisoned lock is still usable.
    fn seats(&self) -> MutexGuard<'_, Slab<Waker>> {
        self.seats.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One connection's waits: its seat in [`Stop`] and its head timer.
pub(super) struct Waits<'s> {
    stop: &'s Stop,
    /// How long a client has to send a request head, idle time before it
    /// included.
    head_timeout: Duration,
    /// The seat's key and the waker it holds (a task's waker stays the
    /// same, so the lock is taken once a connection, not once a request).
    seat: Option<(usize, Waker)>,
    timer: Pin<Box<Sleep>>,
    /// When the head being read is due; the timer may be set earlier.
    deadline: Instant,
}

impl<'s> Waits<'s> {
    /// The waits of a new connection, whose first head is due
    /// `head_timeout` from now.
    pub fn new(stop: &'s Stop, head_timeout: Duration) -> Waits<'s> {
        let deadline = Instant::now() + head_timeout;
        Waits { stop, head_timeout, seat: None, timer: Box::pin(tokio::time::sleep_until(deadline)), deadline }
    }

    /// A request answered: the next head is due `head_timeout` from now
    /// (the timer is left where it is and moved when it fires early).
    pub fn next_head(&mut self) {
        self.deadline = Instant::now() + self.head_timeout;
    }

    /// Whether the service is shutting down.
    pub fn stopping(&self) -> bool {
        self.stop.stopped()
    }

    /// Resolves once the head's deadline has passed, or once the service
    /// shuts down if the connection is `stoppable` (no request begun).
    pub async fn ended(&mut self, stoppable: bool) {
        poll_fn(|cx| {
            if stoppable {
                self.sit(cx);
                // After sitting: a stop that came before is seen here, one
                // that comes after wakes this task.
                if self.stop.stopped() {
                    return Poll::Ready(());
                }
            }
            self.poll_late(cx)
        })
        .await
    }

    fn poll_late(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if self.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            if Instant::now() >= self.deadline {
                return Poll::Ready(());
            }
            let deadline = self.deadline;
            self.timer.as_mut().reset(deadline);
        }
    }

    fn sit(&mut self, cx: &Context<'_>) {
        match &self.seat {
            Some((_, waker)) if waker.will_wake(cx.waker()) => {}
            Some((key, _)) => {
                let key = *key;
                if let Some(held) = self.stop.seats().get_mut(key) {
                    held.clone_from(cx.waker());
                }
                self.seat = Some((key, cx.waker().clone()));
            }
            None => {
                let key = self.stop.seats().insert(cx.waker().clone());
                self.seat = Some((key, cx.waker().clone()));
            }
        }
    }
}

impl Drop for Waits<'_> {
    fn drop(&mut self) {
        if let Some((key, _)) = self.seat.take() {
            self.stop.seats().try_remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_head_deadline_moved_later_is_kept_though_the_timer_fired_first() {
        let stop = Stop::default();
        let mut waits = Waits::new(&stop, Duration::from_millis(60));
        // A request answered 40 ms in: the timer, set for 60 ms, fires
        // before the next head's deadline (100 ms) and is moved to it.
        tokio::time::sleep(Duration::from_millis(40)).await;
        let answered = Instant::now();
        waits.next_head();
        waits.ended(false).await;
        assert!(answered.elapsed() >= Duration::from_millis(60), "late {:?} after the answer", answered.elapsed());
    }

    #[tokio::test]
    async fn a_seated_connection_is_woken_by_the_stop_and_leaves_its_seat() {
        let stop = std::sync::Arc::new(Stop::default());
        let (sat_tx, sat_rx) = tokio::sync::oneshot::channel();
        let waiting = {
            let stop = std::sync::Arc::clone(&stop);
            tokio::spawn(async move {
                let mut waits = Waits::new(&stop, Duration::from_secs(3600));
                let stopped = waits.ended(true);
                tokio::pin!(stopped);
                // Sit, then tell the test, then wait for the stop.
                assert!(poll_fn(|cx| Poll::Ready(stopped.as_mut().poll(cx))).await.is_pending());
                let _ = sat_tx.send(());
                stopped.await;
            })
        };
        sat_rx.await.expect("the connection sat");
        assert_eq!(stop.seats().len(), 1);
        stop.stop();
        tokio::time::timeout(Duration::from_secs(5), waiting).await.expect("woken by the stop").expect("no panic");
        assert_eq!(stop.seats().len(), 0, "the seat is given back");
        // A connection that comes after the stop sees it at once.
        let mut late = Waits::new(&stop, Duration::from_secs(3600));
        tokio::time::timeout(Duration::from_secs(5), late.ended(true)).await.expect("already stopped");
    }
}
