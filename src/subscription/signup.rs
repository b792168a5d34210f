//! The sign-up worker: what `POST /subscribe` asked for, decided and mailed
//! after the answer has gone. The request only checks the form and the
//! limits, and its answer hands a [`SignUp`] over a bounded channel once
//! written ([`after_answer`]), so the answer and its timing are the same
//! whether the address is new, pending, active or unsubscribed (issue 19:
//! the database look-up, the templates, MIME, DKIM signing and the outbox
//! write took ~1.5 ms more for an address that gets a mail). One task per
//! router takes them one at a time: the database sees sign-ups in a
//! queue, not in parallel bursts.
//!
//! What it does with each: a new address is added as pending and sent a
//! confirmation; a pending one is sent it again with the choices it was
//! first given (anyone may type an address, so a second form must not
//! rewrite what the first asked for; the reader changes them from the
//! preferences page once confirmed); an unsubscribed one goes back to
//! pending with the new choices and is sent one; an active or bouncing
//! one gets nothing. Each mail first passes the hourly cap on them all.
//!
//! The same worker answers `POST /manage` ([`Job::Manage`]), for the same
//! reason: an active or bouncing address is mailed its preferences link,
//! any other nothing (a pending one has its confirmation to use or to ask
//! for again by signing up; a suppressed or complained one is never
//! mailed), and the request cannot tell which.

use super::limit::{Limits, MailCap};
use crate::newsletter::{DigestError, Digests};
use crate::state::{Frequency, NewSubscriber, Status};
use axum::body::{Body, Bytes, HttpBody};
use axum::response::Response;
use chrono::{DateTime, Utc};
use hyper::body::{Frame, SizeHint};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Sign-ups waiting for the worker; past it a request is answered as any
/// other and dropped (logged). The per-IP limit keeps a lone client far
/// from it; only a flood from many addresses fills it.
const QUEUE: usize = 1024;

/// How long after its answer was written a job waits before the worker
/// takes it: long enough for the connection to have sent the answer on a
/// busy machine (woken at once, the worker preempted the thread about to
/// write it), short enough that a mail goes out while the reader looks.
const SETTLE: Duration = Duration::from_millis(10);

/// A job as queued: when its answer was written.
pub(super) type Queue = mpsc::Sender<(Instant, Job)>;

/// One sign-up as the form asked for it: the address as normalised, the
/// topics the site has, the frequency.
#[derive(Debug)]
pub(super) struct SignUp {
    pub(super) email: String,
    pub(super) topics: Vec<String>,
    pub(super) frequency: Frequency,
    /// The language of the form's page: the confirmation mail's.
    pub(super) lang: &'static str,
}

/// What the worker is handed.
#[derive(Debug)]
pub(super) enum Job {
    SignUp(SignUp),
    /// Mail the preferences link to this address (normalised) if it is
    /// subscribed, in the language of the page it was asked on.
    Manage { email: String, lang: &'static str },
}

/// Starts the worker (on the current tokio runtime); it stops once every
/// sender is dropped (the router with them).
pub(super) fn start(digests: Arc<Digests>, limits: Limits) -> Queue {
    let (tx, rx) = mpsc::channel(QUEUE);
    tokio::spawn(work(digests, MailCap::new(limits), rx));
    tx
}

/// `answer`, with `job` handed to the worker once the answer's last byte
/// has been handed to the connection (hyper drops a body when it has
/// written it, or when the client went away first), and taken [`SETTLE`]
/// later.
///
/// Handed over before the answer was made, the worker's look-up,
/// templates and signing ran while it was made and written, on the same
/// cores: with another process busy, a subscriber's `POST /manage` was
/// answered 10-50 % later than a stranger's (`signup_abuse`'s timing
/// test, failing in CI after the other suites).
pub(super) fn after_answer(queue: &Queue, job: Option<Job>, answer: Response) -> Response {
    let Some(job) = job else { return answer };
    let (parts, body) = answer.into_parts();
    Response::from_parts(parts, Body::new(ThenSubmit { body, job: Some((queue.clone(), job)) }))
}

/// A body that hands its job to the worker when dropped.
struct ThenSubmit {
    body: Body,
    job: Option<(Queue, Job)>,
}

impl HttpBody for ThenSubmit {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for ThenSubmit {
    fn drop(&mut self) {
        if let Some((queue, job)) = self.job.take() {
            submit(&queue, job);
        }
    }
}

/// Hands `job` to the worker without waiting; a full queue drops it.
fn submit(queue: &Queue, job: Job) {
    if let Err(e) = queue.try_send((Instant::now(), job)) {
        tracing::warn!("sign-up not recorded ({}); the reader may try again", match e {
            mpsc::error::TrySendError::Full(_) => "the queue of sign-ups is full",
            mpsc::error::TrySendError::Closed(_) => "the sign-up worker has stopped",
        });
    }
}

async fn work(digests: Arc<Digests>, mut cap: MailCap, mut queue: mpsc::Receiver<(Instant, Job)>) {
    let mut queued = false;
    let mut clock = Clock::default();
    while let Some((written, job)) = queue.recv().await {
        tokio::time::sleep_until(written + SETTLE).await;
        let done = match job {
            Job::SignUp(sign_up) => handle(&digests, &mut cap, sign_up, clock.next()).await,
            Job::Manage { email, lang } => manage(&digests, &mut cap, &email, lang, clock.next()).await,
        };
        match done {
            Ok(mailed) => queued |= mailed,
            Err(e) => tracing::error!("sign-up worker: {e}"),
        }
        // One delivery for a burst, not one per sign-up.
        if queued && queue.is_empty() {
            digests.deliver_soon();
            queued = false;
        }
    }
}

/// The time of each sign-up, a millisecond apart at least: a confirmation's
/// Message-ID is made from its subscriber and its time to the millisecond,
/// so two sign-ups of one address handled in the same millisecond (the
/// worker takes well under one for some) would be one message to the
/// outbox, and the reader would get fewer mails than they asked for.
#[derive(Default)]
struct Clock {
    last: Option<DateTime<Utc>>,
}

impl Clock {
    fn next(&mut self) -> DateTime<Utc> {
        let now = Utc::now();
        let now = match self.last {
            Some(last) if now.timestamp_millis() <= last.timestamp_millis() => last + chrono::Duration::milliseconds(1),
            _ => now,
        };
        self.last = Some(now);
        now
    }
}

/// Records one sign-up at `now`; whether a mail (a confirmation, or the
/// preferences link of one subscribed already) went to the outbox.
async fn handle(d: &Digests, cap: &mut MailCap, s: SignUp, now: DateTime<Utc>) -> Result<bool, DigestError> {
    let new = NewSubscriber { email: s.email, topics: s.topics, frequency: s.frequency, status: Status::Pending, now };
    let (mut sub, _) = d.state.insert_subscriber(&new).await?;
    let subscribed_already = match sub.status {
        Status::Pending => false,
        Status::Unsubscribed => {
            d.state.resubscribe(sub.id, &new.topics, new.frequency).await?;
            sub.status = Status::Pending;
            false
        }
        // Already receiving (bouncing ones too: retried each period):
        // nothing to confirm, and the choices posted are not taken (the
        // form proves nothing of the mailbox). Its owner is mailed their
        // preferences link instead, where they can change them; before,
        // they waited for a confirmation that never came.
        Status::Active | Status::Bouncing => true,
        // Suppressed (a hard bounce) or complained: never mailed again,
        // not even a confirmation; the page is the same as everyone's
        // (the caller answered before this runs). An admin lifts it.
        Status::Suppressed | Status::Complained => return Ok(false),
    };
    if !cap.allow() {
        tracing::warn!("sign-up mail not sent: subscription.max_confirmations_per_hour reached");
        return Ok(false);
    }
    let message = if subscribed_already {
        d.composer.already_subscribed(&sub, s.lang, now)?
    } else {
        d.composer.confirmation_in(&sub, s.lang, now)?
    };
    d.state.enqueue(&message, now).await?;
    Ok(true)
}

/// Mails `email` its preferences link at `now` if it is subscribed;
/// whether a mail went to the outbox.
async fn manage(d: &Digests, cap: &mut MailCap, email: &str, lang: &str, now: DateTime<Utc>) -> Result<bool, DigestError> {
    let Some(sub) = d.state.subscriber_by_email(email).await? else { return Ok(false) };
    if !matches!(sub.status, Status::Active | Status::Bouncing) {
        return Ok(false);
    }
    if !cap.allow() {
        tracing::warn!("preferences link not sent: subscription.max_confirmations_per_hour reached");
        return Ok(false);
    }
    d.state.enqueue(&d.composer.manage(&sub, lang, now)?, now).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::{Clock, Job, after_answer};
    use axum::response::IntoResponse;
    use http_body_util::BodyExt;

    /// Regression: the job reached the worker before its answer was made,
    /// and a subscriber's `POST /manage` was answered later than a
    /// stranger's on a busy machine. The job must wait for the body to be
    /// written (and dropped).
    #[tokio::test]
    async fn a_job_is_handed_over_only_once_its_answer_is_written() {
        let (queue, mut taken) = tokio::sync::mpsc::channel(4);
        let job = Job::Manage { email: "reader@example.org".into(), lang: "vi" };
        let answer = after_answer(&queue, Some(job), "the page".into_response());
        assert!(taken.try_recv().is_err(), "handed over before the answer was written");
        let body = answer.into_body().collect().await.map(|b| b.to_bytes());
        assert_eq!(body.ok().as_deref(), Some(&b"the page"[..]));
        assert!(matches!(taken.try_recv(), Ok((_, Job::Manage { email, .. })) if email == "reader@example.org"));
    }

    /// Regression: two sign-ups of one address in the same millisecond
    /// made one Message-ID, and the outbox kept one of the two mails.
    #[test]
    fn sign_ups_in_one_millisecond_get_times_a_millisecond_apart() {
        let mut clock = Clock::default();
        let times: Vec<i64> = (0..50).map(|_| clock.next().timestamp_millis()).collect();
        assert!(times.windows(2).all(|w| w[1] > w[0]), "{times:?}");
    }
}
