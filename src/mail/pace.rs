//! The mailer's two global bounds, shared by every delivery loop of one
//! [`Mailer`](super::sender::Mailer): the send rate (`mail.max_per_second`)
//! and the number of SMTP sessions in use at once (`mail.connections`).
//!
//! Why shared: `serve` runs the scheduler's delivery and one more loop
//! after a sign-up queues a confirmation; when each loop paced itself and
//! opened its own sessions, ten sign-ups at once meant ten times the rate
//! and the connections the operator configured (issue 19, finding 9).

use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Spaces the start of sends at `mail.max_per_second`. Each message takes
/// a slot (`1 / rate` after the last one's); only a sender more than a
/// timer tick ahead of its slot sleeps. (tokio's `interval` slept to the
/// next millisecond whenever its 10 µs tick at the bench's 100,000/s was
/// not yet due, which held the send loop back for nothing.)
pub struct Pace {
    period: Duration,
    next: Mutex<Instant>,
}

impl Pace {
    /// Ahead of schedule by less than this, a send starts at once.
    const SLACK: Duration = Duration::from_millis(2);

    pub fn new(rate: u32) -> Pace {
        Pace { period: Duration::from_secs(1) / rate.max(1), next: Mutex::new(Instant::now()) }
    }

    /// Takes the next slot and waits for it.
    pub async fn next(&self) {
        let now = Instant::now();
        let slot = {
            // The critical section only does arithmetic: a poisoned lock
            // still holds a valid instant.
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            // A sender that fell behind does not make up for it in a burst.
            let slot = (*next).max(now);
            *next = slot + self.period;
            slot
        };
        if slot > now + Self::SLACK {
            tokio::time::sleep_until(slot).await;
        }
    }
}

/// The SMTP sessions in use at once, across delivery loops.
pub struct Sessions(Arc<Semaphore>);

impl Sessions {
    pub fn new(connections: u32) -> Sessions {
        Sessions(Arc::new(Semaphore::new(connections.max(1) as usize)))
    }

    /// Waits for a session of the `mail.connections` to be free; it is
    /// given back when the permit is dropped (the send task ends). `None`
    /// only if the semaphore were closed, which nothing does.
    pub async fn acquire(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.0).acquire_owned().await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn two_loops_share_one_rate() {
        let pace = Arc::new(Pace::new(100));
        let start = Instant::now();
        let loops: Vec<_> = (0..2)
            .map(|_| {
                let pace = Arc::clone(&pace);
                tokio::spawn(async move {
                    for _ in 0..10 {
                        pace.next().await;
                    }
                })
            })
            .collect();
        for l in loops {
            l.await.unwrap();
        }
        // 20 slots at 100/s: the last starts 190 ms after the first (less
        // the slack a send may start early by).
        assert!(start.elapsed() >= Duration::from_millis(185), "{:?}", start.elapsed());
    }

    #[tokio::test]
    async fn sessions_are_bounded_across_holders() {
        let sessions = Sessions::new(2);
        let a = sessions.acquire().await;
        let _b = sessions.acquire().await;
        assert!(tokio::time::timeout(Duration::from_millis(50), sessions.acquire()).await.is_err(), "a third waits");
        drop(a);
        assert!(tokio::time::timeout(Duration::from_millis(50), sessions.acquire()).await.is_ok());
    }
}
