//! Self-service: `GET /manage`, a form where a reader types their address,
//! and `POST /manage`, which has their preferences link mailed to them if
//! the address is subscribed. Also the two mails and links the other
//! routes hand out around it: the welcome after a confirmation and the
//! preferences page's "unsubscribe from everything" button.
//!
//! `POST /manage` is `POST /subscribe`'s twin: the same origin check and
//! limits (per client IP, per mailbox; the mails under the hourly cap on
//! confirmations), and its answer only hands the address to the sign-up
//! worker once written, so the answer and its timing are the same for an
//! address that is subscribed and one that is not.

use super::pages::{CategoryChoice, Page, render};
use super::strings::{self, Lang};
use super::{Ctx, parse_form, signup};
use crate::catalog::Catalog;
use crate::state::{Status, Subscriber, normalize_address};
use crate::tokens::Purpose;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use std::net::SocketAddr;
use std::sync::Arc;

/// The form.
pub(super) async fn page(State(ctx): State<Arc<Ctx>>, lang: Lang) -> Response {
    let s = strings::get(lang);
    let mut page = Page::plain(StatusCode::OK, s.manage_title, s.manage_message);
    page.form = "manage";
    page.action = super::pages::action("/manage", lang);
    render(&ctx, lang, page)
}

/// The form posted: checked, limited, handed to the worker; the same
/// answer whoever the address is.
pub(super) async fn ask(
    State(ctx): State<Arc<Ctx>>,
    conn: Option<Extension<ConnectInfo<SocketAddr>>>,
    lang: Lang,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let s = strings::get(lang);
    if let Some(refused) = super::refusal(&ctx, conn, lang, &headers) {
        return refused;
    }
    let Ok(email) = normalize_address(&parse_form(&body).email) else {
        return render(&ctx, lang, Page::plain(StatusCode::BAD_REQUEST, s.bad_address_title, s.bad_address_message));
    };
    let message = super::naming_the_address(s.manage_sent_message, s.manage_typo_hint, &email);
    let job = if ctx.limiter.lock().map(|mut l| l.allow_address(&email)).unwrap_or(false) {
        Some(signup::Job::Manage { email, lang: lang.code() })
    } else {
        // Same answer as a success: the limit must not reveal anything.
        tracing::info!("preferences link for a rate-limited mailbox not sent");
        None
    };
    signup::after_answer(&ctx.sign_ups, job, render(&ctx, lang, Page::plain(StatusCode::ACCEPTED, s.manage_sent_title, message)))
}

/// After `sub` was confirmed at `now` by this request: the welcome mail,
/// unless `digest.welcome` is off. Only the request that made the change
/// sends it (the subscriber's `confirmed_at` is its `now`), and its
/// Message-ID is made from that moment, so it goes out once. A failure is
/// logged: the subscription holds without it.
pub(super) async fn welcome(ctx: &Ctx, sub: &Subscriber, lang: Lang, now: DateTime<Utc>) {
    let d = &ctx.digests;
    let this_request = sub.confirmed_at.map(|t| t.timestamp_millis()) == Some(now.timestamp_millis());
    if !d.settings.digest.welcome || !this_request {
        return;
    }
    let queued = match d.composer.welcome(sub, lang.code(), now, &super::next_issue(ctx, lang, sub, now)) {
        Ok(message) => d.state.enqueue(&message, now).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match queued {
        Ok(_) => d.deliver_soon(),
        Err(e) => tracing::error!("welcome mail not queued: {e}"),
    }
}

/// What the preferences page of `sub` shows: what it receives now (or
/// that it receives nothing), the categories and frequency to change, and
/// for a subscriber who receives digests the "unsubscribe from everything"
/// form.
pub(super) fn preferences(ctx: &Ctx, lang: Lang, catalog: &Catalog, sub: Subscriber) -> Page {
    let s = strings::get(lang);
    let categories: Vec<CategoryChoice> = catalog
        .categories(Utc::now().fixed_offset())
        .into_iter()
        .map(|c| CategoryChoice { checked: sub.topics.contains(&c.slug), slug: c.slug, name: c.name })
        .collect();
    let chosen: Vec<&str> = categories.iter().filter(|c| c.checked).map(|c| c.name.as_str()).collect();
    let receives = sub.status.gets_digests();
    let now = match sub.status {
        _ if receives => s.preferences_now,
        Status::Unsubscribed => s.preferences_left,
        _ => s.preferences_none,
    }
        .replace("{email}", &sub.email)
        .replace("{frequency}", &strings::frequency(s, sub.frequency.as_str()).to_lowercase())
        .replace("{topics}", &if chosen.is_empty() { s.all_topics.to_string() } else { chosen.join(", ") });
    let mut page = Page::plain(StatusCode::OK, s.preferences_title, format!("{now} {}", s.preferences_message));
    page.frequency = sub.frequency.as_str();
    page.categories = categories;
    if receives {
        page.unsubscribe_action = super::pages::action(&unsubscribe_path(ctx, sub.id), lang);
    }
    page
}

/// The path of the unsubscribe page of `subscriber`, for the preferences
/// page's button (the preferences token is not an unsubscribe token: each
/// link works for its own page only).
pub(super) fn unsubscribe_path(ctx: &Ctx, subscriber: i64) -> String {
    format!("/unsubscribe/{}", ctx.digests.composer.key().sign(Purpose::Unsubscribe, subscriber, None))
}

/// The path of the preferences page of `subscriber`, for the unsubscribed
/// page's way back.
pub(super) fn preferences_path(ctx: &Ctx, subscriber: i64) -> String {
    format!("/preferences/{}", ctx.digests.composer.key().sign(Purpose::Preferences, subscriber, None))
}
