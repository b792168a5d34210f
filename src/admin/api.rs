//! The admin API's handlers: JSON in and out (the preview is HTML), each
//! change written to the audit table with the token's name. Subscribers
//! are named by address in paths (`/subscribers/{email}`, normalised as
//! sign-ups are); the audit keeps their id only.

use super::auth::Actor;
use super::Ctx;
use crate::digest::plan::Mode;
use crate::newsletter::preview::{Next, TestSend};
use crate::state::{normalize_address, DayCounts, Frequency, Lift, OutboxCounts, OutboxEntry, OutboxView, Status, Subscriber};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;

type Answer = Result<Response, Problem>;

/// An error answer: `{"error": "..."}` with its status.
pub struct Problem(StatusCode, String);

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

/// A failure of ours (state database, templates): logged, and answered
/// 503 without its details.
fn failed(e: impl std::fmt::Display) -> Problem {
    tracing::error!("admin API: {e}");
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

fn problem(status: StatusCode, message: impl Into<String>) -> Problem {
    Problem(status, message.into())
}

#[derive(Serialize)]
pub struct SubscriberView {
    id: i64,
    email: String,
    status: &'static str,
    frequency: &'static str,
    topics: Vec<String>,
    created_at: DateTime<Utc>,
    confirmed_at: Option<DateTime<Utc>>,
    last_digest_at: Option<DateTime<Utc>>,
    bounce_count: i64,
    last_bounce_reason: Option<String>,
    last_bounce_at: Option<DateTime<Utc>>,
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
            bounce_count: s.bounce_count.into(),
            last_bounce_reason: s.last_bounce_reason,
            last_bounce_at: s.last_bounce_at,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    status: Option<String>,
    q: Option<String>,
    page: Option<i64>,
    per_page: Option<i64>,
}

pub async fn list_subscribers(State(ctx): State<Arc<Ctx>>, Query(query): Query<ListQuery>) -> Answer {
    let status = match query.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(Status::parse(s).ok_or_else(|| problem(StatusCode::BAD_REQUEST, format!("status {s:?} is not one of pending, active, bouncing, suppressed, complained, unsubscribed")))?),
    };
    let per_page = query.per_page.unwrap_or(50).clamp(1, 500);
    let page = query.page.unwrap_or(1).max(1);
    let (subs, total) = ctx.digests.state.search_subscribers(status, query.q.as_deref().unwrap_or(""), per_page, (page - 1) * per_page).await?;
    let items: Vec<SubscriberView> = subs.into_iter().map(Into::into).collect();
    Ok(Json(json!({ "total": total, "page": page, "per_page": per_page, "items": items })).into_response())
}

async fn find(ctx: &Ctx, email: &str) -> Result<Subscriber, Problem> {
    let normalized = normalize_address(email).map_err(|why| problem(StatusCode::BAD_REQUEST, format!("{email:?} {why}")))?;
    ctx.digests.state.subscriber_by_email(&normalized).await?.ok_or_else(|| problem(StatusCode::NOT_FOUND, format!("{normalized} is not a subscriber")))
}

pub async fn show_subscriber(State(ctx): State<Arc<Ctx>>, Path(email): Path<String>) -> Answer {
    Ok(Json(SubscriberView::from(find(&ctx, &email).await?)).into_response())
}

/// A change: any of topics, frequency, and status `active` (lifts a
/// suppression or bounce; a complaint only with `lift_complaint`) or
/// `unsubscribed`.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    topics: Option<Vec<String>>,
    frequency: Option<String>,
    status: Option<String>,
    #[serde(default)]
    lift_complaint: bool,
}

pub async fn change_subscriber(State(ctx): State<Arc<Ctx>>, Extension(Actor(actor)): Extension<Actor>, Path(email): Path<String>, Json(change): Json<Change>) -> Answer {
    let sub = find(&ctx, &email).await?;
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
        Some(f) => Frequency::parse(f).ok_or_else(|| problem(StatusCode::UNPROCESSABLE_ENTITY, format!("frequency {f:?} is not daily or weekly")))?,
    };
    let state = &ctx.digests.state;
    if change.topics.is_some() || change.frequency.is_some() {
        state.set_preferences(sub.id, &topics, frequency).await?;
    }
    match change.status.as_deref() {
        None => {}
        Some("active") => match state.lift(&sub.email, change.lift_complaint).await? {
            Lift::Lifted { .. } | Lift::NotLifted(Status::Active) => {}
            Lift::Complaint { .. } => return Err(problem(StatusCode::CONFLICT, "this subscriber complained (marked a mail as spam); lift it only if they asked to be mailed again, with \"lift_complaint\": true")),
            Lift::NotLifted(s) => return Err(problem(StatusCode::CONFLICT, format!("a subscriber who is {} cannot be made active here: they confirm or sign up again themselves", s.as_str()))),
            Lift::Unknown => return Err(problem(StatusCode::NOT_FOUND, format!("{} is not a subscriber", sub.email))),
        },
        Some("unsubscribed") => {
            state.unsubscribe(sub.id).await?;
        }
        Some(other) => return Err(problem(StatusCode::UNPROCESSABLE_ENTITY, format!("status {other:?} cannot be set; use \"active\" or \"unsubscribed\""))),
    }
    let detail = serde_json::to_string(&change).unwrap_or_default();
    state.audit(&actor, "change", Some(sub.id), &detail, Utc::now()).await?;
    show_subscriber(State(ctx), Path(sub.email)).await
}

pub async fn forget_subscriber(State(ctx): State<Arc<Ctx>>, Extension(Actor(actor)): Extension<Actor>, Path(email): Path<String>) -> Answer {
    let sub = find(&ctx, &email).await?;
    let gone = ctx.digests.state.forget(&sub.email).await?;
    ctx.digests.state.audit(&actor, "forget", Some(sub.id), &format!("{} messages", gone.messages), Utc::now()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Serialize)]
struct Stats {
    subscribers: std::collections::BTreeMap<&'static str, i64>,
    outbox: OutboxCounts,
    days: Vec<DayCounts>,
}

pub async fn stats(State(ctx): State<Arc<Ctx>>) -> Answer {
    let state = &ctx.digests.state;
    let subscribers = state.subscriber_counts().await?.into_iter().map(|(s, n)| (s.as_str(), n)).collect();
    let days = state.day_counts(Utc::now() - chrono::Duration::days(30)).await?;
    Ok(Json(Stats { subscribers, outbox: state.outbox_counts().await?, days }).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxQuery {
    view: Option<String>,
    limit: Option<i64>,
}

pub async fn outbox(State(ctx): State<Arc<Ctx>>, Query(query): Query<OutboxQuery>) -> Answer {
    let view = match query.view.as_deref().unwrap_or("due") {
        "due" => OutboxView::Due,
        "failed" => OutboxView::Failed,
        other => return Err(problem(StatusCode::BAD_REQUEST, format!("view {other:?} is not due or failed"))),
    };
    let items: Vec<OutboxEntry> = ctx.digests.state.outbox_entries(view, Utc::now(), query.limit.unwrap_or(100).clamp(1, 1000)).await?;
    Ok(Json(json!({ "items": items })).into_response())
}

pub async fn audit(State(ctx): State<Arc<Ctx>>) -> Answer {
    Ok(Json(json!({ "items": ctx.digests.state.audit_entries(200).await? })).into_response())
}

pub async fn preview(State(ctx): State<Arc<Ctx>>, Path(email): Path<String>) -> Answer {
    let catalog = (ctx.digests.catalog)();
    let now = Utc::now();
    match ctx.digests.next_digest(&catalog, &email, None, now).await? {
        Next::Digest(plan) => {
            let html = ctx.digests.composer.render_digest(&plan, &catalog)?.html;
            Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], html).into_response())
        }
        Next::Unknown(e) => Err(problem(StatusCode::NOT_FOUND, format!("{e} is not a subscriber"))),
        Next::Nothing(e) => Err(problem(StatusCode::NOT_FOUND, format!("nothing new for {e}: no digest would be sent now"))),
    }
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TestSendRequest {
    email: String,
    to: String,
}

pub async fn test_send(State(ctx): State<Arc<Ctx>>, Extension(Actor(actor)): Extension<Actor>, Json(req): Json<TestSendRequest>) -> Answer {
    let catalog = (ctx.digests.catalog)();
    let answer = match ctx.digests.send_test(&catalog, &req.email, &req.to, None, Utc::now()).await? {
        TestSend::Sent { of, to, subject } => {
            let id = ctx.digests.state.subscriber_by_email(&of).await?.map(|s| s.id);
            ctx.digests.state.audit(&actor, "test-send", id, &format!("to {to}"), Utc::now()).await?;
            return Ok(Json(json!({ "sent": true, "to": to, "subject": subject })).into_response());
        }
        TestSend::BadAddress(why) => problem(StatusCode::UNPROCESSABLE_ENTITY, format!("to: {why}")),
        TestSend::Refused(sub) => problem(StatusCode::CONFLICT, format!("{} is {}: never mailed, tests included", sub.email, sub.status.as_str())),
        TestSend::NotSent(Next::Unknown(e)) => problem(StatusCode::NOT_FOUND, format!("{e} is not a subscriber")),
        TestSend::NotSent(_) => problem(StatusCode::NOT_FOUND, "nothing new for this subscriber: no digest would be sent now"),
        TestSend::Failed { permanent, reason } => {
            problem(if permanent { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::BAD_GATEWAY }, format!("the SMTP relay did not take it: {reason}"))
        }
    };
    Err(answer)
}

/// `digest run`: plans and queues what is due now (as the scheduler
/// would), then delivers in the background.
pub async fn digest_run(State(ctx): State<Arc<Ctx>>, Extension(Actor(actor)): Extension<Actor>) -> Answer {
    let report = ctx.digests.queue(Utc::now(), Mode::Scheduled).await?;
    ctx.digests.deliver_soon();
    let detail = format!("due {} queued {} busy {}", report.due, report.queued, report.busy);
    ctx.digests.state.audit(&actor, "digest-run", None, &detail, Utc::now()).await?;
    Ok(Json(json!({ "due": report.due, "empty": report.empty, "queued": report.queued, "copies": report.copies, "busy": report.busy })).into_response())
}
