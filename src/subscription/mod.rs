//! The subscription routes, as an axum router for the server to merge:
//! `POST /subscribe` (a `GET` is sent to the index page's form),
//! `GET|POST /confirm/{token}` (the GET shows a button
//! that posts), `GET|POST /unsubscribe/{token}` (the POST is RFC 8058
//! one-click), `GET|POST /preferences/{token}`, `GET|POST /manage` (`manage`:
//! a reader asks for their preferences link by mail).
//!
//! Invariants:
//! - `POST /subscribe` answers the same (202, same page) whether the address
//!   is new, pending, active or unsubscribed, and whether or not a mail was
//!   sent, and does the same work for each: it checks the form and the
//!   limits and hands the rest to the sign-up worker (`signup`), so neither
//!   the answer nor its timing tells who subscribes;
//! - a form posted from another site's page is refused (`origin`); one
//!   whose hidden field (`TRAP_FIELD`) a program filled in gets the same
//!   answer and nothing else;
//! - sign-ups are limited per mailbox and per client IP, confirmation mails
//!   per hour in all (`limit`; the IP is read from axum's
//!   `ConnectInfo<SocketAddr>` extension, which `http::serve` sets per
//!   request for `bantin serve`: the TCP peer, or behind a trusted proxy
//!   the client it names; with plain axum, serve with
//!   `into_make_service_with_connect_info` for the per-IP limit to apply);
//! - `GET` and `HEAD` change nothing: mail scanners fetch every link of a
//!   message, so a confirmation, like an unsubscription or a change of
//!   preferences, takes a POST (the page's button);
//! - a token only works for the page it was made for (see `tokens`), and
//!   a confirmation link only for the sign-up it was sent for;
//! - `POST /manage` answers like `POST /subscribe`: the same page whether
//!   or not the address is subscribed, the work handed to the same worker
//!   under the same limits;
//! - pages are rendered from `page.html` (escaped), Vietnamese by default,
//!   English with `?lang=en` or an `Accept-Language` that prefers English.

mod extract;
mod limit;
mod manage;
mod origin;
pub(crate) mod pages;
mod signup;
pub(crate) mod strings;

pub use bantin_core::subscriber::{parse_form, Form};
pub use limit::Limits;

use crate::metrics::SignUpOutcome;
use crate::newsletter::Digests;
use crate::state::{Frequency, Subscriber, TRAP_FIELD, likely_meant, normalize_address};
use axum::Router;
use axum::body::Bytes;
use axum::Extension;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse as _, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use extract::{ConfirmLink, PreferencesLink, UnsubscribeLink, Verified, VerifiedForm};
use limit::Limiter;
use origin::Origins;
use pages::{Page, invalid_link, render, server_error};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use strings::Lang;

struct Ctx {
    digests: Arc<Digests>,
    limiter: Mutex<Limiter>,
    origins: Origins,
    sign_ups: signup::Queue,
}

/// The routes with the limits of `[subscription]`. Starts the sign-up
/// worker, so call it on a tokio runtime.
pub fn routes(digests: Arc<Digests>) -> Router {
    let limits = Limits::from_settings(&digests.settings.subscription);
    routes_with_limits(digests, limits)
}

pub fn routes_with_limits(digests: Arc<Digests>, limits: Limits) -> Router {
    let ctx = Arc::new(Ctx {
        limiter: Mutex::new(Limiter::new(limits)),
        origins: Origins::from_settings(&digests.settings),
        sign_ups: signup::start(Arc::clone(&digests), limits),
        digests,
    });
    Router::new()
        .route("/subscribe", get(subscribe_form).post(subscribe))
        .route("/confirm/{token}", get(confirm_page).post(confirm))
        .route("/unsubscribe/{token}", get(unsubscribe_page).post(unsubscribe))
        .route("/preferences/{token}", get(preferences_page).post(save_preferences))
        .route("/manage", get(manage::page).post(manage::ask))
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

/// What every posted form (sign-up, /manage) passes first: a page of a
/// site allowed to post it (else 403), and the client's per-IP limit
/// (else 429). The answer to send instead, if the form is refused.
fn refusal(ctx: &Ctx, conn: Option<Extension<ConnectInfo<SocketAddr>>>, lang: Lang, headers: &HeaderMap) -> Option<Response> {
    let s = strings::get(lang);
    if !ctx.origins.allow(headers) {
        return Some(render(ctx, lang, Page::plain(StatusCode::FORBIDDEN, s.forbidden_title, s.forbidden_message)));
    }
    if let Some(ip) = client_ip(conn)
        && !ctx.limiter.lock().map(|mut l| l.allow_ip(ip)).unwrap_or(false)
    {
        return Some(render(ctx, lang, Page::plain(StatusCode::TOO_MANY_REQUESTS, s.rate_title, s.rate_message)));
    }
    None
}

/// The id of the sign-up form's heading on the built-in index page
/// (`templates/index.html`).
const FORM_ANCHOR: &str = "dang-ky";

/// `GET /subscribe`: the form is on the index page. A browser comes here
/// when the page a sign-up answered with is reloaded, bookmarked or
/// shared; it is sent (303) to the form, in its language, instead of an
/// empty 405. Not stored by caches, as the pages are not: where it sends
/// depends on the reader's language.
async fn subscribe_form(State(ctx): State<Arc<Ctx>>, lang: Lang) -> Response {
    let mut form = ctx.digests.settings.http.public_url.clone();
    if lang == Lang::En {
        form.set_query(Some("lang=en"));
    }
    form.set_fragment(Some(FORM_ANCHOR));
    let no_store = [(axum::http::header::CACHE_CONTROL, "no-store")];
    (no_store, axum::response::Redirect::to(form.as_str())).into_response()
}

async fn subscribe(
    State(ctx): State<Arc<Ctx>>,
    conn: Option<Extension<ConnectInfo<SocketAddr>>>,
    lang: Lang,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let s = strings::get(lang);
    if let Some(refused) = refusal(&ctx, conn, lang, &headers) {
        return refused;
    }
    let form = parse_form(&body);
    let email = match normalize_address(&form.email) {
        Ok(e) => e,
        Err(_) => return render(&ctx, lang, Page::plain(StatusCode::BAD_REQUEST, s.bad_address_title, s.bad_address_message)),
    };
    let (topics, frequency) = choices(&ctx, &form);
    let message = naming_the_address(s.check_mail_message, s.typo_hint, &email);
    let job = if form.trapped {
        // The answer a person gets: a program that learns it was caught
        // learns to leave the field empty.
        tracing::info!("sign-up with the hidden field `{TRAP_FIELD}` filled in (a program, not a person): not recorded");
        ctx.digests.count_sign_up(SignUpOutcome::Trapped);
        None
    } else if ctx.limiter.lock().map(|mut l| l.allow_address(&email)).unwrap_or(false) {
        ctx.digests.count_sign_up(SignUpOutcome::Taken);
        Some(signup::Job::SignUp(signup::SignUp { email, topics, frequency, lang: lang.code() }))
    } else {
        // Same answer as a success: the limit must not reveal anything.
        tracing::info!("sign-up for a rate-limited mailbox not recorded");
        ctx.digests.count_sign_up(SignUpOutcome::Limited);
        None
    };
    signup::after_answer(&ctx.sign_ups, job, render(&ctx, lang, Page::plain(StatusCode::ACCEPTED, s.check_mail_title, message)))
}

/// What the answer to a posted address (a sign-up, /manage) says: the same
/// for any address's state, `message` with the address as typed (a typo
/// shows), and `hint` with the address the reader most likely meant if
/// its provider looks mistyped (`gmial.com`).
pub(super) fn naming_the_address(message: &str, hint: &str, email: &str) -> String {
    let message = message.replace("{email}", email);
    match likely_meant(email) {
        Some(meant) => format!("{message} {}", hint.replace("{email}", &meant)),
        None => message,
    }
}

/// When a confirmation link was made, from its expiry (to the second).
fn link_made(link: &Verified<ConfirmLink>) -> DateTime<Utc> {
    link.expires.map_or(DateTime::<Utc>::MIN_UTC, |e| e - chrono::Duration::days(crate::mail::CONFIRM_VALID_DAYS))
}

/// The confirmation page: a button that posts to the same link. Changes
/// nothing, so a scanner that fetches the link confirms no one.
async fn confirm_page(State(ctx): State<Arc<Ctx>>, lang: Lang, link: Verified<ConfirmLink>, uri: Uri) -> Response {
    let s = strings::get(lang);
    match ctx.digests.state.subscriber_by_id(link.id).await {
        Ok(Some(sub)) if sub.status.gets_digests() => confirmed(&ctx, lang, &sub, Utc::now()),
        Ok(Some(sub)) if sub.confirmable_by(link_made(&link)) => {
            let mut page = Page::plain(StatusCode::OK, s.confirm_title, s.confirm_message.replace("{email}", &sub.email));
            page.form = "confirm";
            page.action = pages::action(uri.path(), lang);
            render(&ctx, lang, page)
        }
        Ok(_) => invalid_link(&ctx, lang),
        Err(e) => server_error(&ctx, lang, "subscription page", e),
    }
}

/// The button's POST: a pending subscriber becomes active (and is sent
/// the welcome mail); one already active sees the same page again.
async fn confirm(State(ctx): State<Arc<Ctx>>, lang: Lang, link: Verified<ConfirmLink>) -> Response {
    let now = Utc::now();
    match ctx.digests.state.confirm(link.id, link_made(&link), now).await {
        Ok(Some(sub)) if sub.status.gets_digests() => {
            manage::welcome(&ctx, &sub, lang, now).await;
            confirmed(&ctx, lang, &sub, now)
        }
        Ok(_) => invalid_link(&ctx, lang),
        Err(e) => server_error(&ctx, lang, "subscription page", e),
    }
}

/// The page of a confirmed subscription, saying when `sub`'s next mail
/// comes as of `now`.
fn confirmed(ctx: &Ctx, lang: Lang, sub: &Subscriber, now: DateTime<Utc>) -> Response {
    let s = strings::get(lang);
    render(ctx, lang, Page::plain(StatusCode::OK, s.confirmed_title, with_next_issue(ctx, lang, sub, now, s.confirmed_message)))
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
            page.action = pages::action(uri.path(), lang);
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
    match ctx.digests.unsubscribe(id, crate::metrics::Via::Link).await {
        // An already-removed subscriber gets the same page: the outcome
        // they asked for holds. A click by mistake (a mail client's
        // one-click button is easily pressed) has its way back, unless a
        // complaint or a hard bounce left them (false) where none leads.
        Ok(done) => {
            let mut page = Page::plain(StatusCode::OK, s.unsubscribed_title, s.unsubscribed_message);
            if done.left() {
                page.again = pages::action(&manage::preferences_path(&ctx, id), lang);
            }
            render(&ctx, lang, page)
        }
        Err(e) => server_error(&ctx, lang, "subscription page", e),
    }
}

async fn preferences_page(
    State(ctx): State<Arc<Ctx>>,
    lang: Lang,
    Verified { id, .. }: Verified<PreferencesLink>,
    uri: Uri,
) -> Response {
    let catalog = (ctx.digests.catalog)();
    form_page(&ctx, lang, id, &uri, "preferences", |sub| manage::preferences(&ctx, lang, &catalog, sub)).await
}

async fn save_preferences(
    State(ctx): State<Arc<Ctx>>,
    lang: Lang,
    VerifiedForm { id, form, .. }: VerifiedForm<PreferencesLink>,
) -> Response {
    let s = strings::get(lang);
    let (topics, frequency) = choices(&ctx, &form);
    let state = &ctx.digests.state;
    // Saving choices from a mailed link is asking for the newsletter: one
    // who unsubscribed comes back (`StateStore::rejoin`).
    let saved = async {
        let rejoined = state.rejoin(id, Utc::now()).await?;
        Ok::<_, crate::state::StateError>((state.set_preferences(id, &topics, frequency).await?, rejoined))
    };
    let (title, message) = match saved.await {
        Ok((true, false)) => (s.saved_title, s.saved_message),
        Ok((true, true)) => (s.rejoined_title, s.rejoined_message),
        Ok((false, _)) => return invalid_link(&ctx, lang),
        Err(e) => return server_error(&ctx, lang, "subscription page", e),
    };
    // With the new frequency, when the next mail comes.
    let message = match state.subscriber_by_id(id).await {
        Ok(Some(sub)) => with_next_issue(&ctx, lang, &sub, Utc::now(), message),
        _ => message.to_string(),
    };
    render(&ctx, lang, Page::plain(StatusCode::OK, title, message))
}

/// When `sub`'s next mail comes as of `now`, in the page's language.
fn next_issue(ctx: &Ctx, lang: Lang, sub: &Subscriber, now: DateTime<Utc>) -> String {
    crate::digest::next::next_issue(sub.frequency, &ctx.digests.plan, now, lang == Lang::En)
}

/// `message`, then when `sub`'s next mail comes, if `sub` gets digests
/// (a suppressed address, say, is promised nothing).
fn with_next_issue(ctx: &Ctx, lang: Lang, sub: &Subscriber, now: DateTime<Utc>, message: &str) -> String {
    if sub.status.gets_digests() { format!("{message} {}", next_issue(ctx, lang, sub, now)) } else { message.to_string() }
}

#[cfg(test)]
mod tests;
