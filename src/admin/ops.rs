//! What the admin can do, said once for the API (`api.rs`, JSON) and the
//! console (`console.rs`, pages): find, change, lift and forget a
//! subscriber, read the stats and the outbox, preview and test-send a
//! digest, start a digest run. Each change is audited here with the
//! actor's name. Errors are [`Problem`]s: a status and a message that
//! says what to do; our own failures are logged and not detailed.

use super::Ctx;
use crate::digest::plan::Mode;
use crate::newsletter::preview::{Next, TestSend};
use crate::state::{normalize_address, DayCounts, Frequency, Lift, OutboxCounts, OutboxEntry, OutboxView, Status, Subscriber};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An answer other than success: its status and what to say.
#[derive(Debug)]
pub struct Problem(pub StatusCode, pub String);

pub fn problem(status: StatusCode, message: impl Into<String>) -> Problem {
    Problem(status, message.into())
}

/// A failure of ours (state database, templates): logged, and answered
/// 503 without its details.
fn failed(e: impl std::fmt::Display) -> Problem {
    tracing::error!("admin: {e}");
    Problem(StatusCode::SERVICE_UNAVAILABLE, "the state database failed; see the log".into())
}

impl From<crate::state::StateError> for Problem {
    fn from(e: crate::state::StateError) -> Problem {
        failed(e)
    }
}

impl From<crate::newsletter::DigestError> for Problem {
    fn from(e: crate::newsletter::DigestError) -> Problem {
        failed(e)
    }
}

impl From<crate::mail::MailError> for Problem {
    fn from(e: crate::mail::MailError) -> Problem {
        failed(e)
    }
}

/// A subscriber as the admin sees them.
#[derive(Serialize)]
pub struct SubscriberView {
    pub id: i64,
    pub email: String,
    pub status: &'static str,
    pub frequency: &'static str,
    pub topics: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub last_digest_at: Option<DateTime<Utc>>,
    pub bounce_count: i64,
    pub last_bounce_reason: Option<String>,
    pub last_bounce_at: Option<DateTime<Utc>>,
}

impl From<Subscriber> for SubscriberView {
    fn from(s: Subscriber) -> SubscriberView {
        SubscriberView {
            id: s.id,
            email: s.email,
            status: s.status.as_str(),
            frequency: s.frequency.as_str(),
            topics: s.topics,
            created_at: s.created_at,
            confirmed_at: s.confirmed_at,
            last_digest_at: s.last_digest_at,
            bounce_count: s.bounce_count,
            last_bounce_reason: s.last_bounce_reason,
            last_bounce_at: s.last_bounce_at,
        }
    }
}

/// A change: any of topics, frequency, and status `active` (lifts a
/// suppression or bounce; a complaint only with `lift_complaint`) or
/// `unsubscribed`.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    pub topics: Option<Vec<String>>,
    pub frequency: Option<String>,
    pub status: Option<String>,
    #[serde(default)]
    pub lift_complaint: bool,
}

/// A status filter as given (`""`: any).
pub fn status_filter(s: Option<&str>) -> Result<Option<Status>, Problem> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => Status::parse(s).map(Some).ok_or_else(|| {
            problem(StatusCode::BAD_REQUEST, format!("status {s:?} is not one of pending, active, bouncing, suppressed, complained, unsubscribed"))
        }),
    }
}

pub async fn find(ctx: &Ctx, email: &str) -> Result<Subscriber, Problem> {
    let normalized = normalize_address(email).map_err(|why| problem(StatusCode::BAD_REQUEST, format!("{email:?} {why}")))?;
    ctx.digests.state.subscriber_by_email(&normalized).await?.ok_or_else(|| problem(StatusCode::NOT_FOUND, format!("{normalized} is not a subscriber")))
}

/// Applies `change` to `email` for `actor`; the subscriber as changed.
pub async fn change(ctx: &Ctx, actor: &str, email: &str, change: &Change) -> Result<Subscriber, Problem> {
    let sub = find(ctx, email).await?;
    let catalog = (ctx.digests.catalog)();
    let topics = match &change.topics {
        None => sub.topics.clone(),
        Some(ts) => {
            let unknown: Vec<&String> = ts.iter().filter(|t| catalog.category_name(t).is_none()).collect();
            if !unknown.is_empty() {
                return Err(problem(StatusCode::UNPROCESSABLE_ENTITY, format!("topics {unknown:?} name no category of the site")));
            }
            ts.clone()
        }
    };
    let frequency = match change.frequency.as_deref() {
        None => sub.frequency,
        Some(f) => Frequency::parse(f).ok_or_else(|| problem(StatusCode::UNPROCESSABLE_ENTITY, format!("frequency {f:?} is not daily, weekly or instant")))?,
    };
    let state = &ctx.digests.state;
    if change.topics.is_some() || change.frequency.is_some() {
        state.set_preferences(sub.id, &topics, frequency).await?;
    }
    match change.status.as_deref() {
        None | Some("") => {}
        Some("active") => match state.lift(&sub.email, change.lift_complaint).await? {
            Lift::Lifted { .. } | Lift::NotLifted(Status::Active) => {}
            Lift::Complaint { .. } => return Err(problem(StatusCode::CONFLICT, "this subscriber complained (marked a mail as spam); lift it only if they asked to be mailed again, with \"lift_complaint\": true")),
            Lift::NotLifted(s) => return Err(problem(StatusCode::CONFLICT, format!("a subscriber who is {} cannot be made active here: they confirm or sign up again themselves", s.as_str()))),
            Lift::Unknown => return Err(problem(StatusCode::NOT_FOUND, format!("{} is not a subscriber", sub.email))),
        },
        Some("unsubscribed") => {
            if !ctx.digests.unsubscribe(sub.id, crate::metrics::Via::Admin).await?.left() {
                return Err(problem(StatusCode::CONFLICT, format!("this subscriber is {}: never mailed, and kept so (an unsubscribed address could be signed up again)", sub.status.as_str())));
            }
        }
        Some(other) => return Err(problem(StatusCode::UNPROCESSABLE_ENTITY, format!("status {other:?} cannot be set; use \"active\" or \"unsubscribed\""))),
    }
    let detail = serde_json::to_string(change).unwrap_or_default();
    state.audit(actor, "change", Some(sub.id), &detail, Utc::now()).await?;
    find(ctx, &sub.email).await
}

pub async fn forget(ctx: &Ctx, actor: &str, email: &str) -> Result<(), Problem> {
    let sub = find(ctx, email).await?;
    let gone = ctx.digests.state.forget(&sub.email).await?;
    ctx.digests.state.audit(actor, "forget", Some(sub.id), &format!("{} messages", gone.messages), Utc::now()).await?;
    Ok(())
}

#[derive(Serialize)]
pub struct Stats {
    pub subscribers: std::collections::BTreeMap<&'static str, i64>,
    pub outbox: OutboxCounts,
    pub days: Vec<DayCounts>,
}

/// The stats of the last `days` days.
pub async fn stats(ctx: &Ctx, days: i64) -> Result<Stats, Problem> {
    let state = &ctx.digests.state;
    let subscribers = state.subscriber_counts().await?.into_iter().map(|(s, n)| (s.as_str(), n)).collect();
    let days = state.day_counts(Utc::now() - chrono::Duration::days(days)).await?;
    Ok(Stats { subscribers, outbox: state.outbox_counts().await?, days })
}

pub fn outbox_view(view: Option<&str>) -> Result<OutboxView, Problem> {
    match view.unwrap_or("due") {
        "due" => Ok(OutboxView::Due),
        "failed" => Ok(OutboxView::Failed),
        other => Err(problem(StatusCode::BAD_REQUEST, format!("view {other:?} is not due or failed"))),
    }
}

pub async fn outbox(ctx: &Ctx, view: OutboxView, limit: i64) -> Result<Vec<OutboxEntry>, Problem> {
    Ok(ctx.digests.state.outbox_entries(view, Utc::now(), limit.clamp(1, 1000)).await?)
}

/// The HTML of `email`'s next digest.
pub async fn preview(ctx: &Ctx, email: &str) -> Result<String, Problem> {
    let catalog = (ctx.digests.catalog)();
    match ctx.digests.next_digest(&catalog, email, None, Utc::now()).await? {
        Next::Digest(plan) => Ok(ctx.digests.composer.render_digest(&plan, &catalog)?.html),
        Next::Unknown(e) => Err(problem(StatusCode::NOT_FOUND, format!("{e} is not a subscriber"))),
        Next::Nothing(e) => Err(problem(StatusCode::NOT_FOUND, format!("nothing new for {e}: no digest would be sent now"))),
    }
}

/// Sends `email`'s next digest to `to`; the subject sent.
pub async fn test_send(ctx: &Ctx, actor: &str, email: &str, to: &str) -> Result<(String, String), Problem> {
    let catalog = (ctx.digests.catalog)();
    let refusal = match ctx.digests.send_test(&catalog, email, to, None, Utc::now()).await? {
        TestSend::Sent { of, to, subject } => {
            let id = ctx.digests.state.subscriber_by_email(&of).await?.map(|s| s.id);
            ctx.digests.state.audit(actor, "test-send", id, &format!("to {to}"), Utc::now()).await?;
            return Ok((to, subject));
        }
        TestSend::BadAddress(why) => problem(StatusCode::UNPROCESSABLE_ENTITY, format!("to: {why}")),
        TestSend::Refused(sub) => problem(StatusCode::CONFLICT, format!("{} is {}: never mailed, tests included", sub.email, sub.status.as_str())),
        TestSend::NotSent(Next::Unknown(e)) => problem(StatusCode::NOT_FOUND, format!("{e} is not a subscriber")),
        TestSend::NotSent(_) => problem(StatusCode::NOT_FOUND, "nothing new for this subscriber: no digest would be sent now"),
        TestSend::Failed { permanent, reason } => {
            problem(if permanent { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::BAD_GATEWAY }, format!("the SMTP relay did not take it: {reason}"))
        }
    };
    Err(refusal)
}

/// What a digest run did.
#[derive(Serialize)]
pub struct RunReport {
    pub due: usize,
    pub empty: usize,
    pub queued: usize,
    pub copies: usize,
    pub busy: bool,
}

/// Plans and queues what is due now (as the scheduler would), then
/// delivers in the background.
pub async fn digest_run(ctx: &Ctx, actor: &str) -> Result<RunReport, Problem> {
    let r = ctx.digests.queue(Utc::now(), Mode::Scheduled).await?;
    ctx.digests.deliver_soon();
    ctx.digests.state.audit(actor, "digest-run", None, &format!("due {} queued {} busy {}", r.due, r.queued, r.busy), Utc::now()).await?;
    Ok(RunReport { due: r.due, empty: r.empty, queued: r.queued, copies: r.copies, busy: r.busy })
}
