//! The admin API's handlers: JSON in and out (the preview is HTML), each a
//! thin wrapper of an operation of `ops.rs`. Subscribers are named by
//! address in paths (`/subscribers/{email}`, normalised as sign-ups are).

use super::auth::Actor;
use super::ops::{self, Change, Problem, SubscriberView};
use super::Ctx;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

type Answer = Result<Response, Problem>;

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
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
    let status = ops::status_filter(query.status.as_deref())?;
    let per_page = query.per_page.unwrap_or(50).clamp(1, 500);
    let page = query.page.unwrap_or(1).max(1);
    let (subs, total) = ctx.digests.state.search_subscribers(status, query.q.as_deref().unwrap_or(""), per_page, (page - 1) * per_page).await?;
    let items: Vec<SubscriberView> = subs.into_iter().map(Into::into).collect();
    Ok(Json(json!({ "total": total, "page": page, "per_page": per_page, "items": items })).into_response())
}

pub async fn show_subscriber(State(ctx): State<Arc<Ctx>>, Path(email): Path<String>) -> Answer {
    Ok(Json(SubscriberView::from(ops::find(&ctx, &email).await?)).into_response())
}

pub async fn change_subscriber(State(ctx): State<Arc<Ctx>>, Extension(Actor(actor)): Extension<Actor>, Path(email): Path<String>, Json(change): Json<Change>) -> Answer {
    Ok(Json(SubscriberView::from(ops::change(&ctx, &actor, &email, &change).await?)).into_response())
}

pub async fn forget_subscriber(State(ctx): State<Arc<Ctx>>, Extension(Actor(actor)): Extension<Actor>, Path(email): Path<String>) -> Answer {
    ops::forget(&ctx, &actor, &email).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn stats(State(ctx): State<Arc<Ctx>>) -> Answer {
    Ok(Json(ops::stats(&ctx, 30).await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxQuery {
    view: Option<String>,
    limit: Option<i64>,
}

pub async fn outbox(State(ctx): State<Arc<Ctx>>, Query(query): Query<OutboxQuery>) -> Answer {
    let view = ops::outbox_view(query.view.as_deref())?;
    Ok(Json(json!({ "items": ops::outbox(&ctx, view, query.limit.unwrap_or(100)).await? })).into_response())
}

pub async fn audit(State(ctx): State<Arc<Ctx>>) -> Answer {
    Ok(Json(json!({ "items": ctx.digests.state.audit_entries(200).await? })).into_response())
}

pub async fn preview(State(ctx): State<Arc<Ctx>>, Path(email): Path<String>) -> Answer {
    let html = ops::preview(&ctx, &email).await?;
    Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], html).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestSendRequest {
    email: String,
    to: String,
}

pub async fn test_send(State(ctx): State<Arc<Ctx>>, Extension(Actor(actor)): Extension<Actor>, Json(req): Json<TestSendRequest>) -> Answer {
    let (to, subject) = ops::test_send(&ctx, &actor, &req.email, &req.to).await?;
    Ok(Json(json!({ "sent": true, "to": to, "subject": subject })).into_response())
}

pub async fn digest_run(State(ctx): State<Arc<Ctx>>, Extension(Actor(actor)): Extension<Actor>) -> Answer {
    Ok(Json(ops::digest_run(&ctx, &actor).await?).into_response())
}
