//! The subscription routes, as an axum router for the server to merge:
//! `POST /subscribe`, `GET /confirm/{token}`, `GET|POST /unsubscribe/{token}`
//! (the POST is RFC 8058 one-click), `GET|POST /preferences/{token}`.
//!
//! Invariants:
//! - `POST /subscribe` answers the same (202, same page) whether the address
//!   is new, pending, active or unsubscribed, and whether or not a mail was
//!   sent, so the form cannot be used to learn who subscribes;
//! - confirmation mails are limited per address and per client IP (the IP
//!   is read from axum's `ConnectInfo<SocketAddr>` extension, which
//!   `http::serve` sets per request for `bantin serve`: the TCP peer, or
//!   behind a trusted proxy the client it names; with plain axum,
//!   serve with `into_make_service_with_connect_info` for the per-IP limit
//!   to apply);
//! - a token only works for the page it was made for (see `tokens`);
//! - pages are rendered from `page.html` (escaped), Vietnamese by default,
//!   English with `?lang=en` or an `Accept-Language` that prefers English.

mod extract;
mod limit;
mod pages;
mod strings;

pub use bantin_core::subscriber::{parse_form, Form};
pub use limit::Limits;

use crate::newsletter::Digests;
use crate::state::{Frequency, NewSubscriber, Status, Subscriber, normalize_address};
use axum::Router;
use axum::body::Bytes;
use axum::Extension;
use axum::extract::{ConnectInfo, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use chrono::Utc;
use extract::{ConfirmLink, PreferencesLink, UnsubscribeLink, Verified, VerifiedForm};
use limit::Limiter;
use pages::{CategoryChoice, Page, invalid_link, render, server_error};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use strings::Lang;

struct Ctx {
    digests: Arc<Digests>,
    limiter: Mutex<Limiter>,
}

/// The routes with the default limits.
pub fn routes(digests: Arc<Digests>) -> Router {
    routes_with_limits(digests, Limits::default())
}

pub fn routes_with_limits(digests: Arc<Digests>, limits: Limits) -> Router {
    let ctx = Arc::new(Ctx { digests, limiter: Mutex::new(Limiter::new(limits)) });
    Router::new()
        .route("/subscribe", post(subscribe))
        .route("/confirm/{token}", get(confirm))
        .route("/unsubscribe/{token}", get(unsubscribe_page).post(unsubscribe))
        .route("/preferences/{token}", get(preferences_page).post(save_preferences))
        .with_state(ctx)
}

/// What a form (subscribe or preferences) asks for: the topics that name a
/// category the site has, in order, once; the frequency, daily unless the
/// form names another.
fn choices(ctx: &Ctx, form: &Form) -> (Vec<String>, Frequency) {
    let catalog = (ctx.digests.catalog)();
    let mut topics: Vec<String> = Vec::new();
    for t in &form.topics {
        let slug = crate::text::slugify(t);
        if catalog.category_name(&slug).is_some() && !topics.contains(&slug) {
            topics.push(slug);
        }
    }
    let frequency = form.frequency.as_deref().and_then(Frequency::parse).unwrap_or(Frequency::Daily);
    (topics, frequency)
}

fn client_ip(conn: Option<Extension<ConnectInfo<SocketAddr>>>) -> Option<IpAddr> {
    conn.map(|Extension(ConnectInfo(addr))| addr.ip())
}

async fn subscribe(
    State(ctx): State<Arc<Ctx>>,
    conn: Option<Extension<ConnectInfo<SocketAddr>>>,
    lang: Lang,
    body: Bytes,
) -> Response {
    let s = strings::get(lang);
    if let Some(ip) = client_ip(conn)
        && !ctx.limiter.lock().map(|mut l| l.allow_ip(ip)).unwrap_or(false)
    {
        return render(&ctx, lang, Page::plain(StatusCode::TOO_MANY_REQUESTS, s.rate_title, s.rate_message));
    }
    let form = parse_form(&body);
    let email = match normalize_address(&form.email) {
        Ok(e) => e,
        Err(_) => return render(&ctx, lang, Page::plain(StatusCode::BAD_REQUEST, s.bad_address_title, s.bad_address_message)),
    };
    let (topics, frequency) = choices(&ctx, &form);
    let accepted = Page::plain(StatusCode::ACCEPTED, s.check_mail_title, s.check_mail_message);
    if !ctx.limiter.lock().map(|mut l| l.allow_address(&email)).unwrap_or(false) {
        // Same answer as a success: the limit must not reveal anything.
        tracing::info!("confirmation mail to a rate-limited address not sent");
        return render(&ctx, lang, accepted);
    }
    match request_confirmation(&ctx, email, topics, frequency).await {
        Ok(()) => render(&ctx, lang, accepted),
        Err(e) => server_error(&ctx, lang, "subscribe", e),
    }
}

async fn request_confirmation(
    ctx: &Ctx,
    email: String,
    topics: Vec<String>,
    frequency: Frequency,
) -> Result<(), crate::newsletter::DigestError> {
    let d = &ctx.digests;
    let now = Utc::now();
    let new = NewSubscriber { email, topics: topics.clone(), frequency, status: Status::Pending, now };
    let (sub, created) = d.state.insert_subscriber(&new).await?;
    let sub = match sub.status {
        Status::Pending | Status::Unsubscribed => {
            if !created {
                d.state.resubscribe(sub.id, &topics, frequency).await?;
            }
            sub
        }
        // Already receiving (or blocked by bounces): nothing to confirm, and
        // the answer stays the same.
        Status::Active | Status::Bouncing => return Ok(()),
    };
    let message = d.composer.confirmation(&sub, now)?;
    d.state.enqueue(&message, now).await?;
    d.deliver_soon();
    Ok(())
}

async fn confirm(State(ctx): State<Arc<Ctx>>, lang: Lang, Verified { id, .. }: Verified<ConfirmLink>) -> Response {
    let s = strings::get(lang);
    match ctx.digests.state.confirm(id, Utc::now()).await {
        Ok(Some(sub)) if sub.status == Status::Active => {
            render(&ctx, lang, Page::plain(StatusCode::OK, s.confirmed_title, s.confirmed_message))
        }
        Ok(_) => invalid_link(&ctx, lang),
        Err(e) => server_error(&ctx, lang, "subscription page", e),
    }
}

/// The page with `form` of the subscriber `id`, posting back to the page's
/// own path; `page` makes what it shows from the subscriber.
async fn form_page(
    ctx: &Ctx,
    lang: Lang,
    id: i64,
    uri: &Uri,
    form: &'static str,
    page: impl FnOnce(Subscriber) -> Page,
) -> Response {
    match ctx.digests.state.subscriber_by_id(id).await {
        Ok(Some(sub)) => {
            let mut page = page(sub);
            page.form = form;
            page.action = uri.path().to_string();
            render(ctx, lang, page)
        }
        Ok(None) => invalid_link(ctx, lang),
        Err(e) => server_error(ctx, lang, "subscription page", e),
    }
}

async fn unsubscribe_page(
    State(ctx): State<Arc<Ctx>>,
    lang: Lang,
    Verified { id, .. }: Verified<UnsubscribeLink>,
    uri: Uri,
) -> Response {
    let s = strings::get(lang);
    form_page(&ctx, lang, id, &uri, "unsubscribe", |sub| {
        Page::plain(StatusCode::OK, s.unsubscribe_title, s.unsubscribe_message.replace("{email}", &sub.email))
    })
    .await
}

/// RFC 8058 one-click: the mail client POSTs `List-Unsubscribe=One-Click`;
/// the page's button posts the same. No further confirmation.
async fn unsubscribe(State(ctx): State<Arc<Ctx>>, lang: Lang, Verified { id, .. }: Verified<UnsubscribeLink>) -> Response {
    let s = strings::get(lang);
    match ctx.digests.state.unsubscribe(id).await {
        // An already-removed subscriber gets the same page: the outcome
        // they asked for holds.
        Ok(_) => render(&ctx, lang, Page::plain(StatusCode::OK, s.unsubscribed_title, s.unsubscribed_message)),
        Err(e) => server_error(&ctx, lang, "subscription page", e),
    }
}

async fn preferences_page(
    State(ctx): State<Arc<Ctx>>,
    lang: Lang,
    Verified { id, .. }: Verified<PreferencesLink>,
    uri: Uri,
) -> Response {
    let s = strings::get(lang);
    let catalog = (ctx.digests.catalog)();
    form_page(&ctx, lang, id, &uri, "preferences", |sub| {
        let mut page = Page::plain(StatusCode::OK, s.preferences_title, s.preferences_message);
        page.frequency = sub.frequency.as_str();
        page.categories = catalog
            .categories(Utc::now().fixed_offset())
            .into_iter()
            .map(|c| CategoryChoice { checked: sub.topics.contains(&c.slug), slug: c.slug, name: c.name })
            .collect();
        page
    })
    .await
}

async fn save_preferences(
    State(ctx): State<Arc<Ctx>>,
    lang: Lang,
    VerifiedForm { id, form, .. }: VerifiedForm<PreferencesLink>,
) -> Response {
    let s = strings::get(lang);
    let (topics, frequency) = choices(&ctx, &form);
    match ctx.digests.state.set_preferences(id, &topics, frequency).await {
        Ok(true) => render(&ctx, lang, Page::plain(StatusCode::OK, s.saved_title, s.saved_message)),
        Ok(false) => invalid_link(&ctx, lang),
        Err(e) => server_error(&ctx, lang, "subscription page", e),
    }
}

#[cfg(test)]
mod tests;
